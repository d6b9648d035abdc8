"""``watch_project`` in-process: its events, stopping it three ways, and the lock it holds."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from codeweaver.config import load_settings
from codeweaver.core.errors import DiscoveryError, IndexStoreError
from codeweaver.index import IndexStore, index_project, watch_project

SERIAL = {"concurrency": {"executor": "serial"}}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_text("def alpha():\n    return 1\n")
    return root


def test_events_then_a_stop_event_ends_it_and_releases_the_lock(repo: Path) -> None:
    settings = load_settings(repo, chunker=SERIAL)
    stop = threading.Event()
    kinds = []
    for event in watch_project(repo, settings, stop=stop, settle_ms=20):
        kinds.append(event.kind)
        if event.kind == "ready":
            assert event.report is not None and event.report.new == 1
            (repo / "b.py").write_text("def beta():\n    return 2\n")
        elif event.kind == "changes":
            assert event.paths == ("b.py",) and not event.rescan
        elif event.kind == "update":
            assert event.report is not None and event.report.new == 1
            stop.set()
    assert kinds == ["ready", "changes", "update"]
    assert index_project(repo, settings).unchanged == 2  # the lock is free again
    with IndexStore.open(repo / ".codeweaver" / "index.db", create=False) as store:
        assert [c.symbol for c in store.chunks_for("b.py")] == ["def beta"]


def test_a_second_watch_is_refused_and_break_releases_the_lock(repo: Path) -> None:
    settings = load_settings(repo, chunker=SERIAL)
    first = watch_project(repo, settings)
    assert next(first).kind == "ready"
    errors: list[BaseException] = []

    def second() -> None:  # another thread is another writer (the lock is per thread)
        try:
            next(watch_project(repo, settings))
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=second)
    t.start()
    t.join(60)
    assert len(errors) == 1 and isinstance(errors[0], IndexStoreError)
    first.close()  # what leaving a for loop early does
    again = watch_project(repo, settings)
    assert next(again).kind == "ready"
    again.close()


def test_a_missing_root_is_a_discovery_error(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="no such directory"):
        next(watch_project(tmp_path / "missing"))
    (tmp_path / "file.py").write_text("x = 1\n")
    with pytest.raises(DiscoveryError, match="not a directory"):
        next(watch_project(tmp_path / "file.py"))


def test_polling_instead_of_events_sees_changes_too(repo: Path) -> None:
    settings = load_settings(repo, chunker=SERIAL)
    events = watch_project(repo, settings, force_polling=True)
    try:
        assert next(events).kind == "ready"
        (repo / "a.py").unlink()
        changes = next(events)
        assert changes.kind == "changes" and changes.paths == ("a.py",)
        update = next(events)
        assert update.report is not None and update.report.deleted == 1
    finally:
        events.close()


def test_changed_chunks_are_embedded_in_the_same_update(
    repo: Path, static_model_path: Path
) -> None:
    """One model for the whole watch: the initial index and each update embed what changed."""
    from codeweaver.index.vectors import embedding_status

    embedding = {"provider": "model2vec", "model": str(static_model_path)}
    settings = load_settings(repo, chunker=SERIAL, embedding=embedding)
    stop = threading.Event()
    reports = []
    for event in watch_project(repo, settings, stop=stop, settle_ms=20):
        if event.kind == "ready":
            reports.append(event.report)
            (repo / "b.py").write_text("def convert_celsius(c):\n    return c * 9 / 5 + 32\n")
        elif event.kind == "update":
            reports.append(event.report)
            stop.set()
    ready, update = (r.embedding for r in reports if r is not None)
    assert ready.model == update.model and ready.model.endswith(static_model_path.name)
    assert ready.embedded == 1 and update.embedded == 1  # a.py's chunk, then b.py's
    with IndexStore.open(repo / ".codeweaver" / "index.db", create=False) as store:
        status = embedding_status(store)
        assert status["pending"] == 0 and status["models"][0]["vectors"] == 2


def test_a_watch_without_a_model_tries_to_load_it_once(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # auto, and the default model is not available offline: keyword-only, said once at the start
    settings = load_settings(repo, chunker=SERIAL)
    stop = threading.Event()
    notices = []
    with caplog.at_level("WARNING", logger="codeweaver.index.watch"):
        for event in watch_project(repo, settings, stop=stop, settle_ms=20):
            if event.report is not None:
                notices.append(event.report.embedding.notice)
            if event.kind == "ready":
                (repo / "b.py").write_text("def beta():\n    return 2\n")
            elif event.kind == "update":
                stop.set()
    assert notices == [None, None]  # no run tried the model again
    assert [r.message for r in caplog.records if "keyword-only" in r.message]


def test_the_vector_cache_of_an_index_inside_the_tree_does_not_trigger_updates(
    repo: Path, static_model_path: Path
) -> None:
    from codeweaver.embed.static import StaticEmbedder

    db = repo / "idx" / "index.db"  # not the default folder: only the index's own files are its
    settings = load_settings(repo, chunker=SERIAL, index={"db_path": db})
    stop = threading.Event()
    kinds = []
    embedder = StaticEmbedder(str(static_model_path))
    for event in watch_project(repo, settings, embedder=embedder, stop=stop, settle_ms=20):
        kinds.append(event.kind)
        if event.kind == "ready":
            (repo / "b.py").write_text("def beta():\n    return 2\n")
        elif event.kind == "update":
            assert event.report is not None and event.report.embedding.embedded == 1
            threading.Timer(1.5, stop.set).start()  # long enough for a second batch to show
    assert (db.parent / "index.db.vectors").is_dir()  # the cache was written in the tree
    assert kinds == ["ready", "changes", "update"]
