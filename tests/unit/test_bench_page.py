"""The committed results page: never rewritten without its corpus, never carrying local paths."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # benchmarks/ is not an installed package

from benchmarks import report  # noqa: E402
from benchmarks.__main__ import CORPUS_SCRIPT  # noqa: E402


def test_page_without_the_corpus_leaves_the_page_alone(tmp_path: Path) -> None:
    page = tmp_path / "RESULTS.md"
    page.write_text("## Corpus: corpus\n(the multi-language sections)\n")
    before = page.read_text()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "page",
            "--corpus-dir",
            str(tmp_path / "missing"),
            "--markdown",
            str(page),
            "--json",
            str(tmp_path / "out.json"),
            "--plot",
            str(tmp_path / "plot.png"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,  # it must stop before running any benchmark
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert CORPUS_SCRIPT in proc.stderr and "left as it is" in proc.stderr
    assert page.read_text() == before
    assert not (tmp_path / "out.json").exists()


def test_the_page_carries_no_local_path() -> None:
    stdlib = sysconfig.get_paths()["stdlib"]
    home = os.path.expanduser("~")
    section = {
        "name": "corpus",
        "root": str(REPO / ".cache" / "corpus"),
        "files": 1,
        "bytes": 10,
        "max_files": None,
        "largest": False,
        "languages": {"python": {"files": 1, "bytes": 10}},
        "peers": {},
    }
    results = {
        "command": f"python -m benchmarks page --corpus-dir {REPO}/.cache/corpus --json {home}/x",
        "budget_chars": 1500,
        "machine": report.machine_info(),
        "started_utc": "now",
        "elapsed_s": 1.0,
        "corpora": [dict(section, name="stdlib", root=stdlib), section],
    }
    page = report.render_markdown(results)
    for local in (str(REPO), stdlib, home):
        assert local not in page
    assert "`./.cache/corpus`" in page and "`<stdlib>`" in page and "~/x" in page


def test_both_readmes_name_the_same_corpus_script() -> None:
    named = {
        path: set(re.findall(r"[\w./-]*make_corpus\.sh", (REPO / path).read_text()))
        for path in ("README.md", "benchmarks/README.md")
    }
    assert named == {"README.md": {CORPUS_SCRIPT}, "benchmarks/README.md": {CORPUS_SCRIPT}}


def test_the_search_section_survives_a_page_rewrite(tmp_path: Path) -> None:
    from benchmarks.search_bench import END_MARK, START_MARK, keep_search_section, write_section

    page = tmp_path / "RESULTS.md"
    page.write_text("# chunkers\nold tables\n")
    write_section(f"{START_MARK}\n## Search quality\n| a | b |\n{END_MARK}\n", page)
    assert page.read_text().startswith("# chunkers\nold tables\n")
    rewritten = keep_search_section("# chunkers\nnew tables\n", page)
    assert rewritten.startswith("# chunkers\nnew tables\n")
    assert f"{START_MARK}\n## Search quality\n| a | b |\n{END_MARK}\n" in rewritten
    assert keep_search_section("# x\n", tmp_path / "missing.md") == "# x\n"


def test_the_committed_pages_carry_no_local_paths() -> None:
    # A page generated before its paths were made portable slipped through once.
    for rel in ("benchmarks/RESULTS.md", "README.md", "benchmarks/README.md"):
        text = (REPO / rel).read_text()
        assert report.portable(text) == text, rel
        assert "/work/" not in text and ".pyenv" not in text, rel
