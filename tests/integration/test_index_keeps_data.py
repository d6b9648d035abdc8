"""Nothing lost: a foreign database is never touched, a failed file keeps its last good chunks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from _procs import run_cli

from codeweaver.config import load_settings
from codeweaver.index import IndexStore, index_project
from codeweaver.search.keyword import keyword_search


def _repo(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    for i in range(6):
        (root / "src" / f"mod{i}.py").write_text(
            f"def func_{i}(x):\n    return x + {i}\n\n\nclass Thing{i}:\n    pass\n"
        )
    return root


def test_full_rebuild_never_touches_a_database_that_is_not_an_index(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE users(name TEXT)")
    conn.execute("INSERT INTO users VALUES ('ada'), ('grace')")
    conn.commit()
    conn.close()
    for extra in ((), ("--full",)):
        proc = run_cli("index", str(repo), "--db", str(db), *extra)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "not a codeweaver index" in proc.stderr and "Traceback" not in proc.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT name FROM users ORDER BY name").fetchall() == [
        ("ada",),
        ("grace",),
    ]
    conn.close()


def test_a_file_that_fails_keeps_its_last_good_chunks_marked_stale(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    serial = {"concurrency": {"executor": "serial"}}
    first = index_project(repo, load_settings(repo, chunker=serial))
    assert first.failed == 0
    with IndexStore.open(first.db_path, create=False) as store:
        before = [c.content for c in store.chunks_for("src/mod3.py")]
    assert before

    # An edit, then a run whose time limit nothing can meet: mod3.py fails...
    (repo / "src" / "mod3.py").write_text("def renamed(x):\n    return x\n")
    tiny = load_settings(repo, chunker={**serial, "file_timeout_seconds": 1e-9})
    failed = index_project(repo, tiny)
    assert (failed.failed, failed.stale) == (1, 1)
    with IndexStore.open(first.db_path, create=False) as store:
        # ...but the index still holds (and finds) its last good chunks, marked stale.
        assert [c.content for c in store.chunks_for("src/mod3.py")] == before
        assert [h.path for h in keyword_search(store, "func_3")][:1] == ["src/mod3.py"]
        stats = store.stats()
        assert (stats.failed, stats.stale_files, stats.chunks) == (1, 1, first.total_chunks)
        assert store.check_integrity() == []

    status = run_cli("status", str(repo), "--json")
    data = json.loads(status.stdout)
    assert data["index"]["stale_files"] == 1
    assert data["failed"][0]["stale_chunks"] == len(before)
    assert "marked stale" in run_cli("status", str(repo)).stdout

    again = index_project(repo, load_settings(repo, chunker=serial))  # a run that succeeds
    assert (again.failed, again.changed) == (0, 1)
    with IndexStore.open(first.db_path, create=False) as store:
        assert "renamed" in store.chunks_for("src/mod3.py")[0].content
        assert store.stats().stale_files == 0
