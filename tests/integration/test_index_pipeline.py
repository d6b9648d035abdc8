"""``index_project`` as a library: progress, failures, skips, interruption, its own files."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codeweaver.config import load_settings
from codeweaver.config.settings import CodeWeaverSettings
from codeweaver.core.errors import DiscoveryError, IndexStoreError
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.index import IndexProgress, IndexStore, index_project
from codeweaver.index.staleness import check_staleness
from codeweaver.search.keyword import keyword_search

SERIAL = {"concurrency": {"executor": "serial"}}


def _settings(root: Path, **extra: object) -> CodeWeaverSettings:
    return load_settings(root, chunker=SERIAL, **extra)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    for i in range(12):
        (root / "src" / f"mod{i}.py").write_text(
            f'"""Module {i}."""\n\n\ndef func_{i}(x):\n    return x + {i}\n\n\n'
            f"class Thing{i}:\n    def method(self):\n        return {i}\n"
        )
    (root / "README.md").write_text("# Title\n\nSome words.\n")
    return root


def test_progress_snapshots_end_complete(repo: Path) -> None:
    seen: list[tuple[int, int, bool]] = []

    def progress(p: IndexProgress) -> None:
        assert p.done <= p.total
        seen.append((p.done, p.total, p.discovery_done))

    report = index_project(repo, _settings(repo), progress=progress)
    assert report.new == 13 and report.failed == 0
    assert seen[-1] == (13, 13, True)
    totals = [t for _, t, _ in seen]
    assert totals == sorted(totals)  # the total only grows


def test_failed_file_is_recorded_listed_and_retried(repo: Path) -> None:
    def picky_counter(text: str) -> int:
        if "EXPLODE" in text:
            raise RuntimeError("counter refuses this text")
        return len(text) // 3

    (repo / "src" / "bad.py").write_text("def boom():\n    return 'EXPLODE'\n")
    governor = ChunkGovernor(_settings(repo).chunker, token_counter=picky_counter)
    report = index_project(repo, _settings(repo), governor=governor)
    assert report.failed == 1 and not report.ok
    (failure,) = report.failures
    assert failure.path.endswith("bad.py") and "counter refuses" in failure.message
    with IndexStore.open(report.db_path, create=False) as store:
        state = store.file_states()["src/bad.py"]
        assert state.status == "failed" and store.chunks_for("src/bad.py") == []
        assert store.check_integrity() == []

    again = index_project(repo, _settings(repo), governor=governor)
    assert (again.failed, again.unchanged, again.new, again.changed) == (1, 13, 0, 0)

    (repo / "src" / "bad.py").write_text("def fine():\n    return 'ok'\n")
    fixed = index_project(repo, _settings(repo), governor=governor)
    assert (fixed.failed, fixed.changed, fixed.unchanged) == (0, 1, 13)


def test_binary_file_is_skipped_with_a_reason(repo: Path) -> None:
    (repo / "blob.dat").write_bytes(b"\x00\x01\x02" * 100)
    report = index_project(repo, _settings(repo))
    assert report.skipped == 1 and report.new == 13
    assert report.skips[0].reason == "binary"
    with IndexStore.open(report.db_path, create=False) as store:
        rows = {p: (status, reason) for p, status, reason, _ in store.iter_files()}
    assert rows["blob.dat"][0] == "skipped" and "binary" in (rows["blob.dat"][1] or "")

    again = index_project(repo, _settings(repo))
    assert (again.skipped, again.unchanged) == (1, 13)

    (repo / "blob.dat").write_text("now_it_is_text = True\n")
    text = index_project(repo, _settings(repo))
    assert (text.skipped, text.changed) == (0, 1)


def test_a_file_a_worker_skipped_is_listed_with_its_reason_on_every_run(repo: Path) -> None:
    # One chunk per file at most: every module here (several definitions) is skipped by a worker.
    tight = load_settings(repo, chunker={**SERIAL, "max_chunks_per_file": 1, "min_chunk_chars": 0})
    first = index_project(repo, tight)
    assert first.skipped == len(first.skips) > 0
    again = index_project(repo, tight)
    assert again.skipped == first.skipped and again.rechunked == 0
    assert len(again.skips) == again.skipped  # the count and the list agree
    assert {(s.reason, s.detail) for s in again.skips} == {
        (s.reason, s.detail) for s in first.skips
    }
    assert sorted(s.path for s in again.skips) == sorted(s.path for s in first.skips)


def test_a_file_the_engine_returns_no_result_for_is_recorded_as_failed(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeweaver.engine.chunker import parallel

    real = parallel.iter_file_results

    def drops_readme(files: Any, *args: Any, **kwargs: Any) -> Any:
        for result in real(files, *args, **kwargs):
            if result.file.rel_path != "README.md":
                yield result

    monkeypatch.setattr(parallel, "iter_file_results", drops_readme)
    report = index_project(repo, _settings(repo))
    assert (report.new, report.failed, report.files) == (12, 1, 13)
    assert [f.error_type for f in report.failures] == ["MissingResult"]
    with IndexStore.open(report.db_path, create=False) as store:
        assert store.file_states()["README.md"].status == "failed"

    monkeypatch.undo()
    again = index_project(repo, _settings(repo))
    assert (again.failed, again.changed, again.unchanged) == (0, 1, 12)


def test_search_fields_that_do_not_fit_the_chunks_fail_that_file_not_the_run(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeweaver.index import pipeline, store

    def short_for_mod3(result: Any) -> Any:
        fields = store.search_fields(result)
        return fields[:-1] if result.file.rel_path == "src/mod3.py" else fields

    monkeypatch.setattr(pipeline, "search_fields", short_for_mod3)
    report = index_project(repo, _settings(repo))
    assert (report.new, report.failed, report.files) == (12, 1, 13)
    [failure] = report.failures
    assert failure.stage == "store" and "search fields for" in failure.message
    with IndexStore.open(report.db_path, create=False) as db:
        assert db.file_states()["src/mod3.py"].status == "failed"
        assert db.check_integrity() == []


def test_a_file_deleted_between_discovery_and_chunking_is_a_vanished_skip(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeweaver.engine.chunker import parallel

    real = parallel.iter_file_results

    def deletes_mod5_first(files: Any, *args: Any, **kwargs: Any) -> Any:
        def stream() -> Any:
            for f in files:
                if f.rel_path == "src/mod5.py":
                    Path(f.path).unlink()  # gone after discovery listed it
                yield f

        return real(stream(), *args, **kwargs)

    monkeypatch.setattr(parallel, "iter_file_results", deletes_mod5_first)
    report = index_project(repo, _settings(repo))
    assert report.ok and (report.failed, report.skipped, report.new) == (0, 1, 12)
    assert [(s.reason, Path(s.path).name) for s in report.skips] == [("vanished", "mod5.py")]
    monkeypatch.undo()
    again = index_project(repo, _settings(repo))
    assert (again.deleted, again.skipped, again.failed) == (1, 0, 0)


def test_a_folder_that_cannot_be_read_keeps_what_the_index_holds_below_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeweaver.core import walk

    (repo / "src" / "deep").mkdir()
    (repo / "src" / "deep" / "kept.py").write_text("def kept():\n    return 1\n")
    first = index_project(repo, _settings(repo))
    assert first.new == 14
    real = walk.os.scandir
    blocked = str(repo / "src")

    def scandir(path: Any) -> Any:  # an EIO or a permission change, as root cannot get one
        if str(path) == blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(walk.os, "scandir", scandir)
    with IndexStore.open(repo / ".codeweaver" / "index.db", create=False) as store:
        stale = check_staleness(repo, _settings(repo), store)
    # status agrees with index: the folder turned into a skip, nothing below it is deleted
    assert (stale.new, stale.modified, stale.deleted) == (1, 0, 0) and stale.examples == [
        "new: src"
    ]
    report = index_project(repo, _settings(repo))
    assert [(s.reason, Path(s.path).name) for s in report.skips] == [("unreadable", "src")]
    assert report.deleted == 0  # the 13 files below it were deleted as gone
    with IndexStore.open(repo / ".codeweaver" / "index.db", create=False) as store:
        assert store.stats().files >= 13
    monkeypatch.undo()
    again = index_project(repo, _settings(repo))
    # (the one row deleted is the folder's own skip record)
    assert (again.deleted, again.failed, again.unchanged) == (1, 0, 14)


def test_the_index_never_indexes_itself(repo: Path) -> None:
    index_project(repo, _settings(repo))
    hidden = _settings(repo, discovery={"hidden": True})
    report = index_project(repo, hidden)
    with IndexStore.open(report.db_path, create=False) as store:
        assert not [p for p in store.file_states() if p.startswith(".codeweaver")]


def test_db_path_setting_is_relative_to_the_root(repo: Path) -> None:
    settings = _settings(repo, index={"db_path": "idx/my.db"})
    report = index_project(repo, settings)
    assert report.db_path == repo.resolve() / "idx" / "my.db" and report.db_path.is_file()
    again = index_project(repo, settings)
    assert again.new == 0 and again.unchanged == 13
    with IndexStore.open(report.db_path, create=False) as store:
        assert not [p for p in store.file_states() if p.startswith("idx/")]


def test_interrupt_leaves_a_consistent_index_that_resumes(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small transactions, so some batches are committed before the interrupt lands.
    monkeypatch.setattr("codeweaver.index.pipeline.BATCH_FILES", 2)

    def interrupt(p: IndexProgress) -> None:
        if p.done >= 5:
            raise KeyboardInterrupt  # what Ctrl-C does, from the writer's side

    with pytest.raises(KeyboardInterrupt):
        index_project(repo, _settings(repo), progress=interrupt)
    db = repo / ".codeweaver" / "index.db"
    with IndexStore.open(db, create=False) as store:
        assert store.check_integrity() == []
        assert 0 < store.file_count() < 13  # batches before the interrupt kept, its own dropped

    resumed = index_project(repo, _settings(repo))
    assert resumed.new + resumed.unchanged == 13 and resumed.failed == 0
    with IndexStore.open(db, create=False) as store:
        assert store.file_count() == 13 and store.check_integrity() == []


def test_token_counter_change_rechunks_everything(repo: Path) -> None:
    index_project(repo, _settings(repo))

    def words(text: str) -> int:
        return len(text.split())

    governor = ChunkGovernor(_settings(repo).chunker, token_counter=words)
    report = index_project(repo, _settings(repo), governor=governor)
    assert report.changed == 13 and report.rebuild and "counter=" in report.rebuild


def test_missing_root_raises_discovery_error(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="no such directory"):
        index_project(tmp_path / "absent")
    assert not (tmp_path / "absent").exists()  # nothing was created on the way


def test_empty_directory_indexes_to_an_empty_index(tmp_path: Path) -> None:
    report = index_project(tmp_path, _settings(tmp_path))
    assert report.files == 0 and report.total_chunks == 0 and report.ok


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX advisory locks")
def test_a_second_concurrent_writer_is_refused(repo: Path) -> None:
    import fcntl

    settings = _settings(repo)
    index_project(repo, settings)
    lock = repo / ".codeweaver" / "index.db.lock"
    with lock.open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # another run is writing
        with pytest.raises(IndexStoreError, match="another `codeweaver index` is writing"):
            index_project(repo, settings)
    assert index_project(repo, settings).unchanged == 13  # free again once released


def test_db_inside_the_root_is_not_indexed_with_its_side_files(repo: Path) -> None:
    settings = _settings(repo, index={"db_path": "cw.db"})
    index_project(repo, settings)
    report = index_project(repo, settings)
    assert (report.new, report.unchanged, report.skipped) == (0, 13, 0)


def test_status_and_index_agree_on_a_touched_file_and_a_same_size_edit(tmp_path: Path) -> None:
    import os

    from codeweaver.index.staleness import check_staleness

    root = tmp_path / "repo"
    root.mkdir()
    for name, text in (("a.py", "x = 1\n"), ("b.py", "y = 2\n"), ("c.py", "z = 3\n")):
        (root / name).write_text(text, encoding="utf-8")
    settings = load_settings(
        root, embedding={"provider": "none"}, chunker={"concurrency": {"executor": "serial"}}
    )
    index_project(root, settings)
    later = (root / "c.py").stat().st_mtime_ns + 5_000_000_000
    os.utime(root / "a.py", ns=(later, later))  # touched: same bytes
    (root / "b.py").write_text("y = 9\n", encoding="utf-8")  # same size, other bytes
    os.utime(root / "b.py", ns=(later, later))
    with IndexStore.open(root / ".codeweaver" / "index.db", create=False) as store:
        stale = check_staleness(root, settings, store)
    assert (stale.new, stale.modified, stale.deleted) == (0, 1, 0)
    assert stale.examples == ["modified: b.py"]
    report = index_project(root, settings)
    assert (report.new, report.changed, report.unchanged) == (0, 1, 2)
    with IndexStore.open(root / ".codeweaver" / "index.db", create=False) as store:
        assert check_staleness(root, settings, store).is_stale is False  # the touch was recorded


def test_ctrl_c_while_waiting_for_the_writer_waits_until_it_has_stopped() -> None:
    """The writer's connection is closed once the run returns; closing it under a write in
    progress crashed the process (SIGSEGV) when Ctrl-C came while the last batch was written."""
    import os
    import signal
    import threading
    import time

    from codeweaver.index import pipeline

    class SlowRun:
        def write_loop(self, inbox: Any) -> None:
            time.sleep(0.6)  # the last transaction, still being written

    writer = pipeline._Writer(SlowRun())  # type: ignore[arg-type]
    writer.start()
    threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()  # a real Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        pipeline._join(writer)
    assert writer.done.is_set()  # raised only once the writer had stopped


def test_a_first_index_builds_the_hash_index_once_at_the_end(
    repo: Path, chunk_indexes: Callable[[Path], set[str]]
) -> None:
    db = repo / ".codeweaver" / "index.db"
    during: list[set[str]] = []

    def watch_indexes(p: IndexProgress) -> None:
        if 0 < p.done < 13:  # files written, more to come
            during.append(chunk_indexes(db))

    report = index_project(repo, _settings(repo), progress=watch_indexes)
    assert report.new == 13 and during
    assert all("chunks_content_hash" not in names for names in during)  # a bulk load
    assert "chunks_content_hash" in chunk_indexes(db)

    # An update of an index that holds chunks keeps its index all along ...
    (repo / "src" / "mod0.py").write_text("def changed():\n    return 0\n")
    during.clear()
    (repo / "src" / "mod1.py").write_text("def changed():\n    return 1\n")
    report = index_project(repo, _settings(repo), progress=watch_indexes)
    assert report.changed == 2 and during
    assert all("chunks_content_hash" in names for names in during)
    # ... and --full rewrites every chunk, so it defers it too.
    during.clear()
    report = index_project(repo, _settings(repo), progress=watch_indexes, full=True)
    assert report.changed == 13 and during
    assert all("chunks_content_hash" not in names for names in during)
    # ... as new chunking settings do.
    during.clear()
    settings = load_settings(repo, chunker={**SERIAL, "max_chunk_chars": 900})
    report = index_project(repo, settings, progress=watch_indexes)
    assert report.changed == 13 and report.rebuild and during
    assert all("chunks_content_hash" not in names for names in during)
    with IndexStore.open(db, create=False) as store:
        assert store.check_integrity() == []
    assert "chunks_content_hash" in chunk_indexes(db)


def test_a_first_index_stopped_midway_builds_its_hash_index_before_it_stops(
    repo: Path, monkeypatch: pytest.MonkeyPatch, chunk_indexes: Callable[[Path], set[str]]
) -> None:
    monkeypatch.setattr("codeweaver.index.pipeline.BATCH_FILES", 2)

    def interrupt(p: IndexProgress) -> None:
        if p.done >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index_project(repo, _settings(repo), progress=interrupt)
    db = repo / ".codeweaver" / "index.db"
    assert "chunks_content_hash" in chunk_indexes(db)


def test_the_report_gives_the_writer_threads_cpu_time(repo: Path) -> None:
    import time

    before = time.process_time()
    report = index_project(repo, _settings(repo))
    spent = time.process_time() - before
    assert report.chunks > 0
    assert 0 < report.writer_cpu_seconds <= spent
    assert report.to_dict()["writer_cpu_seconds"] == round(report.writer_cpu_seconds, 3)


def test_an_index_of_version_3_is_upgraded_by_the_next_run(
    repo: Path, as_version_3: Callable[[Path], None], caplog: pytest.LogCaptureFixture
) -> None:
    index_project(repo, _settings(repo))
    db = repo / ".codeweaver" / "index.db"
    as_version_3(db)
    (repo / "src" / "mod3.py").write_text("def renamed():\n    return None\n")
    with caplog.at_level("WARNING", logger="codeweaver"):
        report = index_project(repo, _settings(repo))
    assert report.changed == 1 and report.failed == 0
    assert any("upgrading" in r.getMessage() for r in caplog.records)
    with IndexStore.open(db, create=False) as store:
        assert not store.needs_upgrade() and store.check_integrity() == []
        assert [r.path for r in keyword_search(store, "renamed")] == ["src/mod3.py"]
