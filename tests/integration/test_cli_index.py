"""End-to-end: `python -m codeweaver` index, search and status as a subprocess on temp repos."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from _procs import run_cli

from codeweaver.index.store import IndexStore, default_db_path
from codeweaver.search.keyword import keyword_search

TIMEOUT = 180


def index_json(repo: Path, *extra: str, expect: int = 0) -> dict[str, Any]:
    proc = run_cli("index", str(repo), "--json", *extra)
    assert proc.returncode == expect, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def counts(report: dict[str, Any]) -> tuple[int, int, int, int]:
    return report["new"], report["changed"], report["unchanged"], report["deleted"]


FILES = {
    "pkg/__init__.py": '"""A package."""\n',
    "pkg/checksum.py": textwrap.dedent(
        '''\
        """Checksums."""

        import zlib


        def compute_checksum(data: bytes) -> int:
            """Fold the bytes into a rolling window accumulator."""
            accumulator = 0
            for byte in data:
                accumulator = (accumulator * 31 + byte) % 1_000_003  # rolling window
            return accumulator ^ zlib.crc32(data)


        class Verifier:
            def verify(self, data: bytes, expected: int) -> bool:
                return compute_checksum(data) == expected
        '''
    ),
    "pkg/strings.py": textwrap.dedent(
        """\
        def shout(text: str) -> str:
            return text.upper() + "!"


        def whisper(text: str) -> str:
            return text.lower() + "..."
        """
    ),
    "web/app.js": textwrap.dedent(
        """\
        function greetVisitor(name) {
          return `hello ${name}`;
        }

        class Router {
          route(path) { return path.split("/"); }
        }
        """
    ),
    "docs/guide.md": "# Guide\n\nIndex a repository, then search it.\n\n## Search\n\nUse words.\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for rel, text in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_index_then_reindex_unchanged(repo: Path) -> None:
    first = index_json(repo)
    assert counts(first) == (len(FILES), 0, 0, 0)
    assert first["failed"] == 0 and first["chunks"] > len(FILES)
    assert first["total_files"] == len(FILES) and first["total_chunks"] == first["chunks"]
    db = default_db_path(repo)
    assert db.is_file() and (db.parent / ".gitignore").read_text().strip().endswith("*")

    second = index_json(repo)
    assert counts(second) == (0, 0, len(FILES), 0)
    assert second["chunks"] == 0  # nothing re-chunked
    assert second["total_chunks"] == first["total_chunks"]


def test_edit_delete_add_change_exactly_those(repo: Path) -> None:
    index_json(repo)
    (repo / "pkg/strings.py").write_text(
        (repo / "pkg/strings.py").read_text() + "\n\ndef mumble(text):\n    return text[:3]\n"
    )
    (repo / "web/app.js").unlink()
    (repo / "pkg/extra.py").write_text("def brand_new_helper():\n    return 'zebra_marker'\n")

    report = index_json(repo)
    assert counts(report) == (1, 1, len(FILES) - 2, 1)

    with IndexStore.open(default_db_path(repo), create=False) as store:
        assert set(store.file_states()) == (set(FILES) - {"web/app.js"}) | {"pkg/extra.py"}
        assert store.check_integrity() == []
        assert [r.path for r in keyword_search(store, "zebra_marker")] == ["pkg/extra.py"]
        assert not any("greetVisitor" in r.content for r in keyword_search(store, "greetVisitor"))
        assert any("mumble" in c.content for c in store.chunks_for("pkg/strings.py"))


def test_touch_without_content_change_is_unchanged(repo: Path) -> None:
    index_json(repo)
    target = repo / "pkg/checksum.py"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    report = index_json(repo)
    assert counts(report) == (0, 0, len(FILES), 0)
    assert report["chunks"] == 0
    # The new mtime was recorded, so the next run does not even hash the file.
    with IndexStore.open(default_db_path(repo), create=False) as store:
        assert store.file_states()["pkg/checksum.py"].mtime_ns == target.stat().st_mtime_ns


def test_full_rechunks_everything(repo: Path) -> None:
    first = index_json(repo)
    report = index_json(repo, "--full")
    assert counts(report) == (0, len(FILES), 0, 0)
    assert report["rebuild"] == "--full"
    assert report["total_chunks"] == first["total_chunks"]


def test_settings_change_rechunks_everything(repo: Path) -> None:
    first = index_json(repo)
    smaller = index_json(repo, "--max-chars", "120")
    assert counts(smaller) == (0, len(FILES), 0, 0)
    assert "settings changed" in smaller["rebuild"]
    assert smaller["total_chunks"] > first["total_chunks"]
    again = index_json(repo, "--max-chars", "120")
    assert counts(again) == (0, 0, len(FILES), 0)
    # The same change through the environment counts as a settings change too.
    proc = run_cli("index", str(repo), "--json", env={"CODEWEAVER_CHUNKER__MAX_CHUNK_CHARS": "400"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["changed"] == len(FILES)


def test_search_finds_a_function_by_words_from_its_body(repo: Path) -> None:
    index_json(repo)
    proc = run_cli("search", "rolling window accumulator", str(repo), "--json")
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert hits, "no hits"
    top = hits[0]
    assert top["path"] == "pkg/checksum.py"
    assert "compute_checksum" in top["symbol"]
    assert top["start_line"] <= 6 <= top["end_line"]

    text = run_cli("search", "rolling window accumulator", str(repo))
    assert text.returncode == 0
    first_line = text.stdout.splitlines()[0]
    assert first_line.startswith(f"pkg/checksum.py:{top['start_line']}-{top['end_line']}")
    assert "compute_checksum" in first_line


def test_search_falls_back_to_any_word_when_no_chunk_has_all(repo: Path) -> None:
    run_cli("index", str(repo))
    proc = run_cli("search", "rolling window accumulator zzzunknownword", str(repo), "--json")
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert hits, "a query with one unknown word should still rank chunks with the other words"
    assert hits[0]["path"] == "pkg/checksum.py"
    assert "compute_checksum" in hits[0]["symbol"]


def test_search_survives_punctuation(repo: Path) -> None:
    index_json(repo)
    for query in ['"unbalanced', "foo(bar", "a AND OR", "NEAR(", "x*", "col:1", "shout()"]:
        proc = run_cli("search", query, str(repo), "--json")
        assert proc.returncode == 0, (query, proc.stderr)
        assert "Traceback" not in proc.stderr
    hits = json.loads(run_cli("search", "shout()", str(repo), "--json").stdout)
    assert hits and hits[0]["path"] == "pkg/strings.py"


def test_search_without_index_is_a_clear_error(repo: Path) -> None:
    proc = run_cli("search", "anything", str(repo))
    assert proc.returncode == 2
    assert "run `codeweaver index`" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_path_exits_2_without_traceback(tmp_path: Path) -> None:
    proc = run_cli("index", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "no such directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_path_that_is_a_file_exits_2(repo: Path) -> None:
    proc = run_cli("index", str(repo / "pkg/strings.py"))
    assert proc.returncode == 2 and "not a directory" in proc.stderr


def test_unwritable_index_location_exits_2(repo: Path) -> None:
    # /proc refuses new entries even to root, so this holds whoever runs the tests.
    proc = run_cli("index", str(repo), "--db", "/proc/codeweaver-test/index.db")
    assert proc.returncode == 2, proc.stderr
    assert "cannot create the index directory" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores modes")
def test_read_only_directory_exits_2(repo: Path) -> None:
    repo.chmod(0o555)
    try:
        proc = run_cli("index", str(repo))
    finally:
        repo.chmod(0o755)
    assert proc.returncode == 2 and "--db" in proc.stderr


def test_bad_setting_exits_2_naming_the_source(repo: Path) -> None:
    proc = run_cli("index", str(repo), env={"CODEWEAVER_CHUNKER__MAX_CHUNK_TOKENS": "-5"})
    assert proc.returncode == 2
    assert "CODEWEAVER_CHUNKER__MAX_CHUNK_TOKENS" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_conflicting_budget_flags_exit_2(repo: Path) -> None:
    proc = run_cli("index", str(repo), "--max-chars", "100", "--max-tokens", "100")
    assert proc.returncode == 2


def test_incompatible_index_version(repo: Path) -> None:
    index_json(repo)
    conn = sqlite3.connect(default_db_path(repo))
    conn.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    proc = run_cli("index", str(repo))
    assert proc.returncode == 2
    assert "schema version 0" in proc.stderr and "--full" in proc.stderr
    assert "Traceback" not in proc.stderr
    report = index_json(repo, "--full")
    assert report["new"] == len(FILES)


def test_status_reports_staleness(repo: Path) -> None:
    index_json(repo)
    proc = run_cli("status", str(repo), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["index"]["files"] == len(FILES) and data["stale"]["stale"] is False
    assert "up to date" in run_cli("status", str(repo)).stdout

    (repo / "pkg/strings.py").write_text("x = 1\n")
    (repo / "new.py").write_text("y = 2\n")
    (repo / "docs/guide.md").unlink()
    stale = json.loads(run_cli("status", str(repo), "--json").stdout)["stale"]
    assert (stale["new"], stale["modified"], stale["deleted"]) == (1, 1, 1)
    assert "stale" in run_cli("status", str(repo)).stdout


def test_summary_table_is_printed(repo: Path) -> None:
    proc = run_cli("index", str(repo))
    assert proc.returncode == 0, proc.stderr
    for word in ("new", "changed", "unchanged", "deleted", "skipped", "failed", "chunks"):
        assert word in proc.stdout
    assert proc.stderr.strip() == ""  # not a terminal: no progress bar


def test_quiet_prints_nothing_on_success(repo: Path) -> None:
    proc = run_cli("index", str(repo), "-q")
    assert proc.returncode == 0 and proc.stdout == ""


# -- a killed run, then a resumed one ------------------------------------------------------------
def _stdlib_repo(dest: Path, count: int) -> list[str]:
    """Copy ``count`` stdlib .py files (deterministically chosen) into ``dest``."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    picked: list[str] = []
    for src in sorted(stdlib.rglob("*.py")):
        rel = src.relative_to(stdlib)
        if rel.parts[0] in ("site-packages", "test", "idlelib", "lib2to3") or "test" in rel.parts:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        picked.append(rel.as_posix())
        if len(picked) >= count:
            break
    return picked


def _indexed_files(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute("SELECT count(*) FROM files").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _spawn_one_worker_index(repo: Path, *extra: str, **popen: Any) -> subprocess.Popen[Any]:
    """`codeweaver index repo` with one worker process, in the background (stderr piped)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWEAVER_")}
    args = ["index", str(repo), "--workers", "1", "--executor", "process", *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "codeweaver", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        **popen,
    )


@pytest.mark.slow
def test_killed_run_resumes_to_a_complete_consistent_index(tmp_path: Path) -> None:
    repo = tmp_path / "big"
    picked = _stdlib_repo(repo, 600)
    db = default_db_path(repo)
    proc = _spawn_one_worker_index(repo, "-q", start_new_session=True)  # the kill takes workers
    stored = 0
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            stored = _indexed_files(db)
            if stored > 0:
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert 0 < stored < len(picked)

    with IndexStore.open(db, create=False) as store:
        assert store.check_integrity() == []
        partial = store.file_count()
    assert partial < len(picked)

    resumed = index_json(repo)
    assert resumed["deleted"] == 0 and resumed["failed"] == 0
    # What the killed run stored is not redone.
    assert resumed["unchanged"] + resumed["skipped"] >= partial
    assert resumed["new"] + resumed["unchanged"] + resumed["skipped"] == len(picked)

    # The resumed index equals one built in one go.
    fresh_db = tmp_path / "fresh.db"
    index_json(repo, "--db", str(fresh_db))
    with IndexStore.open(db, create=False) as a, IndexStore.open(fresh_db, create=False) as b:
        assert a.check_integrity() == []
        assert set(a.file_states()) == set(b.file_states())
        for rel in picked:
            assert [c.chunk_id for c in a.chunks_for(rel)] == [
                c.chunk_id for c in b.chunks_for(rel)
            ]


@pytest.mark.slow
def test_ctrl_c_stops_promptly_with_exit_130_and_a_consistent_index(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    repo = tmp_path / "big"
    picked = _stdlib_repo(repo, 600)
    db = default_db_path(repo)
    proc = _spawn_one_worker_index(repo, text=True)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None and _indexed_files(db) == 0:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    workers = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "run the same command again" in err and "Traceback" not in err
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"orphaned workers: {alive}"
    with IndexStore.open(db, create=False) as store:
        assert store.check_integrity() == []
        assert 0 < store.file_count() < len(picked)


def test_failed_files_exit_1_are_listed_and_shown_by_status(repo: Path) -> None:
    # A per-file time limit nothing can meet: every file that takes any time fails.
    env = {"CODEWEAVER_CHUNKER__FILE_TIMEOUT_SECONDS": "0.000001"}
    proc = run_cli("index", str(repo), env=env)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "file(s) failed" in proc.stdout and "[timeout]" in proc.stdout
    assert "pkg/checksum.py" in proc.stdout

    status = json.loads(run_cli("status", str(repo), "--json", env=env).stdout)
    assert "pkg/checksum.py" in {f["path"] for f in status["failed"]}
    assert status["stale"]["modified"] >= 1  # failed files are due for another try

    fixed = index_json(repo)  # normal limit: the failed files are retried and succeed
    assert fixed["failed"] == 0 and fixed["changed"] >= 1


def test_status_counts_a_file_that_is_now_skipped_as_modified(repo: Path) -> None:
    index_json(repo)
    (repo / "new.py").write_bytes(b"\x00binary now\n")  # new, and skipped as binary
    index_json(repo)
    assert json.loads(run_cli("status", str(repo), "--json").stdout)["stale"]["stale"] is False
    (repo / "pkg/strings.py").write_bytes(b"\x00\x01 it became binary\n")
    stale = json.loads(run_cli("status", str(repo), "--json").stdout)["stale"]
    assert stale["modified"] == 1 and "modified: pkg/strings.py" in stale["examples"]
    index_json(repo)  # index drops its chunks; status agrees it is then up to date
    assert json.loads(run_cli("status", str(repo), "--json").stdout)["stale"]["stale"] is False
