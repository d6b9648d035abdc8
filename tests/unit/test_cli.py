"""The CLI in-process (``main(argv)``): exit codes, JSON output, chunk and languages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codeweaver import __version__
from codeweaver.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

SOURCE = (
    "import os\n\n\n"
    'def alpha(x):\n    """First: x plus one, for the tests of the command line."""\n'
    "    return x + 1\n\n\n"
    'class Beta:\n    def gamma(self):\n        """This system\'s path separator."""\n'
    "        return os.sep\n"
)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == __version__


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == EXIT_OK
    out = capsys.readouterr().out
    for command in ("index", "search", "status", "chunk", "languages"):
        assert command in out


def test_help_does_not_import_the_engine() -> None:
    code = (
        "import sys\n"
        "from codeweaver.cli import main\n"
        "main(['--help'])\n"
        "heavy = [m for m in sys.modules if m.startswith(('tree_sitter', 'codeweaver.engine',"
        " 'codeweaver.index', 'sqlite3'))]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        ["index", "--bogus"],
        ["index", "--executor", "warp-drive"],
        ["index", "--max-tokens", "10", "--max-chars", "100"],
        ["no-such-command"],
        ["search"],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    assert main(argv) == EXIT_USAGE


def test_search_limit_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "x", str(tmp_path), "--limit", "0"]) == EXIT_USAGE
    assert "--limit" in capsys.readouterr().err


def test_status_without_index_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", str(tmp_path)]) == EXIT_USAGE
    assert "no index" in capsys.readouterr().err


def test_chunk_json_is_lossless(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "mod.py"
    f.write_text(SOURCE)
    assert main(["chunk", str(f), "--json"]) == EXIT_OK
    chunks = json.loads(capsys.readouterr().out)
    assert "".join(c["content"] for c in chunks) == SOURCE
    data = SOURCE.encode()
    for c in chunks:
        assert data[c["start_byte"] : c["end_byte"]].decode() == c["content"]
    symbols = {" > ".join(c["symbol_path"]) for c in chunks}
    assert "def alpha" in symbols
    assert all(c["language"] == "python" for c in chunks)


def test_chunk_budget_flag_changes_chunks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "mod.py"
    f.write_text(SOURCE * 5)
    main(["chunk", str(f), "--json", "--max-chars", "2000"])
    big = json.loads(capsys.readouterr().out)
    main(["chunk", str(f), "--json", "--max-chars", "40"])
    small = json.loads(capsys.readouterr().out)
    assert len(small) > len(big)
    assert all(len(c["content"]) <= 40 or c["oversized"] for c in small)


def test_chunk_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "mod.py"
    f.write_text(SOURCE)
    assert main(["chunk", str(f)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "def alpha" in out and "chunk(s)" in out


def test_chunk_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chunk", str(tmp_path / "nope.py")]) == EXIT_USAGE
    assert "no such file" in capsys.readouterr().err


def test_chunk_binary_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "blob.py"
    f.write_bytes(b"\x00\xff" * 50)
    assert main(["chunk", str(f)]) == EXIT_FAILED
    assert "binary" in capsys.readouterr().err


def test_languages_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["languages", "--json"]) == EXIT_OK
    langs = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert ".py" in langs["python"]["extensions"]
    assert len(langs) > 50


def test_languages_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["languages"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "python" in out and "languages" in out.splitlines()[-1]


def test_index_json_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.py").write_text(SOURCE)
    assert main(["index", str(tmp_path), "--json", "--executor", "serial"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert (report["new"], report["ok"], report["executor"]) == (1, True, "serial")
    assert main(["search", "alpha", str(tmp_path), "--json"]) == EXIT_OK
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["path"] == "a.py" and "alpha" in hits[0]["symbol"]


def test_search_text_keeps_indentation_and_backslashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "win.py").write_text(
        "class Paths:\n"
        "    def temp_dir(self):\n"
        '        """Under C:\\\\temp on Windows."""\n'
        "        if self.windows:\n"
        "            return 'C:\\\\temp'\n"
    )
    (tmp_path / "nul.txt").write_text("a" * 9000 + "\nwindows\x00temp line\n")
    assert main(["index", str(tmp_path), "-q", "--executor", "serial"]) == EXIT_OK
    capsys.readouterr()
    assert main(["search", "windows temp", str(tmp_path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "C:\\\\temp" in out  # the backslash before a highlighted word is kept
    lines = out.splitlines()
    body = lines[lines.index(next(ln for ln in lines if ln.startswith("win.py"))) + 1 :]
    # relative indentation survives dedenting: the `return` sits 4 deeper than its `if`
    if_line = next(ln for ln in body if "if self.windows" in ln)
    ret_line = next(ln for ln in body if "return" in ln)
    assert len(ret_line) - len(ret_line.lstrip()) == len(if_line) - len(if_line.lstrip()) + 4
    assert "windows\u2400temp line" in out  # a NUL shows as a symbol, on a line of the file


def test_search_json_carries_the_whole_chunk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m.py").write_text(SOURCE)
    assert main(["index", str(tmp_path), "-q", "--executor", "serial"]) == EXIT_OK
    capsys.readouterr()
    assert main(["search", "gamma", str(tmp_path), "--json"]) == EXIT_OK
    hits = json.loads(capsys.readouterr().out)
    top = hits[0]
    assert top["content"] == SOURCE[SOURCE.index("class Beta") :]
    assert top["symbol_path"] == ["class Beta"] and top["kinds"]
    assert set(top["scores"]) == {"keyword"} and top["score"] > 0


def test_semantic_search_without_vectors_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m.py").write_text(SOURCE)
    assert main(["index", str(tmp_path), "-q", "--executor", "serial"]) == EXIT_OK
    capsys.readouterr()
    assert main(["search", "gamma", str(tmp_path), "--mode", "semantic"]) == EXIT_USAGE
    assert "embeddings" in capsys.readouterr().err


def test_index_include_and_exclude_globs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for rel in ("src/a.py", "src/b.py", "docs/guide.md", "vendor/lib.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("def f():\n    return 1\n")
    argv = ["index", str(tmp_path), "--json", "--executor", "serial"]
    assert main([*argv, "--exclude", "vendor", "--exclude", "**/*.md"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["total_files"] == 2
    # a narrower run drops what it no longer covers from the index
    assert main([*argv, "--include", "src/a.py"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert (report["total_files"], report["deleted"]) == (1, 1)


def test_chunk_language_flag_takes_aliases_and_refuses_unknown_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "mod.txt"
    f.write_text(SOURCE)
    assert main(["chunk", str(f), "--json", "--language", "Python"]) == EXIT_OK
    assert {c["language"] for c in json.loads(capsys.readouterr().out)} == {"python"}
    assert main(["chunk", str(f), "--language", "klingon"]) == EXIT_USAGE
    assert "unknown language 'klingon'" in capsys.readouterr().err


def test_watch_lists_the_first_failures_of_an_update_and_counts_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from codeweaver.cli.render import MAX_FAILURES_SHOWN, WatchLog
    from codeweaver.core.chunks import FailureRecord
    from codeweaver.index.pipeline import IndexReport
    from codeweaver.index.watch import WatchEvent

    report = IndexReport(root=tmp_path, db_path=tmp_path / "index.db")
    report.failures = [
        FailureRecord(str(tmp_path / f"bad{i}.py"), "chunk", "ValueError", "no")
        for i in range(MAX_FAILURES_SHOWN + 7)
    ]
    report.failed = len(report.failures)
    WatchLog(tmp_path, json=False, quiet=False).event(
        WatchEvent("update", paths=("bad0.py",), report=report)
    )
    err = capsys.readouterr().err
    assert err.count("failed:") == MAX_FAILURES_SHOWN
    assert "... and 7 more" in err  # (they were dropped from the output without a word)


def test_an_in_process_run_configures_the_package_logger(tmp_path: Path) -> None:
    import logging

    f = tmp_path / "m.py"
    f.write_text("x = 1\n", encoding="utf-8")
    assert main(["index", str(tmp_path), "-q", "--no-embed"]) == EXIT_OK
    logger = logging.getLogger("codeweaver")
    assert logger.propagate is False and logger.level == logging.ERROR  # the command's own


def test_the_next_test_gets_the_package_logger_back(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    # (tests/conftest.py restores it after each test; the test above changed it)
    assert logging.getLogger("codeweaver").propagate is True
    logging.getLogger("codeweaver.index").warning("seen by caplog")
    assert "seen by caplog" in caplog.text
