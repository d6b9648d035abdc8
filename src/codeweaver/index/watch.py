"""``watch_project``: keep the index of a directory current while its files change.

::

    watchfiles (notify's thread) ── raw (change, path) pairs, collected while we work ──┐
       one batch: the tree quiet for ``settle_ms`` (``BURST_QUIET_MS`` once it is big), │
       or ``max_delay_ms`` after the first change while events keep coming              ▼
    _Scope: the paths an update must look at ── changed files and folders; an ignore file
       widens to its folder; the index's own files, VCS and hidden folders drop out; a burst
       of ``rescan_above`` changes or more, or a replaced database, is the whole tree
                                                          │
    index_project(root, paths=...)  ◀─────────────────────┘  the pipeline ``codeweaver index``
       runs: discovery, diff, the parallel engine, one transaction per batch of files

The watcher starts before the initial index, so nothing that changes meanwhile is missed, and it
keeps collecting while an update runs: a file saved again while it is being chunked comes back in
the next batch, and the update compares a file it names by content (not only size and mtime), so
what is stored is never older than the last change. The writer lock is held for the whole watch:
a second ``codeweaver index`` or ``watch`` on the same index is refused with a clear message,
while readers (``codeweaver search``, ``status``) see each update as soon as it commits.

Why a burst becomes a rescan: Linux queues at most ``fs.inotify.max_queued_events`` events per
watcher and drops the rest; notify then reports a *rescan* event without paths, which watchfiles
1.x discards (samuelcolvin/watchfiles#348, reproduced here with a 64-event queue: 840 of 2,000
new files reported, no sign of the loss). The paths lost are unknown, so a batch big enough to
have overflowed the queue is handled as a rescan of the whole tree, diffed by size and mtime like
an unchanged ``codeweaver index`` run: only files that really changed are re-chunked.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codeweaver.config import CodeWeaverSettings, load_settings
from codeweaver.core.discovery import VCS_DIRS, never_walked
from codeweaver.core.errors import CodeWeaverError, DiscoveryError
from codeweaver.core.walk import RULE_FILES
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.index.embedding import prepare_embedding, record_fingerprint
from codeweaver.index.lock import writer_lock
from codeweaver.index.pipeline import (
    IndexReport,
    ProgressCallback,
    index_files_in,
    index_project,
    resolve_db_path,
)
from codeweaver.index.store import IndexStore

if TYPE_CHECKING:
    from watchfiles._rust_notify import RustNotify

    from codeweaver.embed.base import Embedder

__all__ = ["WatchEvent", "default_rescan_threshold", "watch_project"]

log = logging.getLogger(__name__)

SETTLE_MS = 100
"""A batch closes once no new change arrived for this long (an editor's save dance is one)."""
MAX_DELAY_MS = 2_000
"""While changes keep coming, a batch closes at most this long after its first change."""
BURST_FROM = 100
BURST_QUIET_MS = 500
"""A batch of ``BURST_FROM`` changes or more (a checkout, a generator) closes only once the tree
was quiet for ``BURST_QUIET_MS``, at most ``max_delay_ms`` later: a writer that a busy machine
pauses for a moment does not split it."""
TICK_MS = 1_000
"""How often the watch wakes without changes, to notice a vanished root or a stop request."""
PATHS_SHOWN = 100
"""Paths listed in :meth:`WatchEvent.to_dict` (the count is always there)."""

_QUEUE_LIMIT = "/proc/sys/fs/inotify/max_queued_events"

EventKind = Literal["ready", "changes", "update", "error"]


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One step of :func:`watch_project`.

    ``ready``: the initial index is done (``report``) and changes are being watched.
    ``changes``: a batch is about to be indexed: ``paths`` (relative, sorted) or, with
    ``rescan``, the whole tree (``note`` says why). ``update``: that batch is in the index
    (``report`` counts what it saw). ``error``: indexing the batch failed (``error``); its paths
    are tried again with the next batch.
    """

    kind: EventKind
    paths: tuple[str, ...] = ()
    rescan: bool = False
    report: IndexReport | None = None
    error: str | None = None
    note: str | None = None
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``event``, ``time`` and the fields that apply to the kind."""
        out: dict[str, Any] = {"event": self.kind, "time": round(self.at, 3)}
        if self.kind != "ready":
            out["path_count"] = len(self.paths)
            out["paths"] = list(self.paths[:PATHS_SHOWN])
            out["rescan"] = self.rescan
        if self.note:
            out["note"] = self.note
        if self.error:
            out["error"] = self.error
        if self.report is not None:
            out["report"] = self.report.to_dict()
        return out


def default_rescan_threshold() -> int:
    """Changes in one batch from which the batch is a rescan of the whole tree.

    An eighth of the kernel's event queue (2,048 with Linux's default of 16,384): writing a file
    costs about four events (open, create, modify, close), so a batch this big is the first sign
    the queue may have overflowed. 2,048 where the limit cannot be read.
    """
    try:
        with open(_QUEUE_LIMIT, encoding="ascii") as fh:
            return max(64, int(fh.read()) // 8)
    except (OSError, ValueError):
        return 2_048


def watch_project(
    root: str | Path,
    settings: CodeWeaverSettings | None = None,
    *,
    governor: ChunkGovernor | None = None,
    embedder: Embedder | None = None,
    settle_ms: int = SETTLE_MS,
    max_delay_ms: int = MAX_DELAY_MS,
    rescan_above: int | None = None,
    force_polling: bool = False,
    stop: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> Generator[WatchEvent, None, None]:
    """Index ``root``, then keep the index current as files change; yields what happens.

    The first event is ``ready`` (after an incremental index of the whole tree); then, for each
    batch of changes, ``changes`` and ``update`` (or ``error``). It runs until ``stop`` is set,
    the generator is closed (``break`` out of the loop), or Ctrl-C (``KeyboardInterrupt``); each
    way leaves a consistent index and releases the writer lock. ``settings``, ``governor`` and
    ``embedder`` are as for :func:`~codeweaver.index.index_project` (the embedder is loaded
    once, and changed chunks are embedded as part of each update); ``progress`` is passed to
    every run.
    ``rescan_above`` defaults to :func:`default_rescan_threshold`; ``force_polling`` polls the
    tree instead of using OS events (network file systems).

    Example:
        >>> for event in watch_project("my-repo"):  # doctest: +SKIP
        ...     if event.kind == "update":
        ...         print(event.paths, event.report.chunks)

    Raises:
        DiscoveryError: ``root`` is missing or not a folder, at the start or later (it vanished).
        IndexStoreError: the index cannot be opened, or another process is writing it.
        ConfigError: a setting is invalid.
    """
    root_path = Path(root).expanduser()
    if not root_path.is_dir():
        what = "not a directory" if root_path.exists() else "no such directory"
        raise DiscoveryError(f"{what}: {root_path}")
    root_path = root_path.resolve()
    if settings is None:
        settings = load_settings(root_path)
    db_path = resolve_db_path(root_path, settings)
    # The embedder (and the governor sized for it) once for the whole watch, not per batch.
    owned = embedder is None
    embedder, governor, sized = prepare_embedding(settings, embedder, governor, db_path)
    if embedder is None and settings.embedding.provider != "none":
        # Keyword-only for the whole watch: no batch tries (and waits for) the model again.
        if sized.notice:
            log.warning("%s", sized.notice)
        settings = settings.model_copy(
            update={"embedding": settings.embedding.model_copy(update={"provider": "none"})}
        )
    try:
        yield from _watch(
            root_path,
            settings,
            governor,
            embedder,
            db_path,
            sized.basis,
            settle_ms=settle_ms,
            max_delay_ms=max_delay_ms,
            rescan_above=rescan_above,
            force_polling=force_polling,
            stop=stop,
            progress=progress,
        )
    finally:
        if owned and embedder is not None:
            embedder.close()


def _watch(
    root_path: Path,
    settings: CodeWeaverSettings,
    governor: ChunkGovernor,
    embedder: Embedder | None,
    db_path: Path,
    basis: str | None,
    *,
    settle_ms: int,
    max_delay_ms: int,
    rescan_above: int | None,
    force_polling: bool,
    stop: threading.Event | None,
    progress: ProgressCallback | None,
) -> Generator[WatchEvent, None, None]:
    limit = default_rescan_threshold() if rescan_above is None else max(1, rescan_above)
    scope = _Scope(root_path, settings, db_path)

    # Creates its folder, where the lock lives, and checks the version (the whole file is
    # checked by the first index_project below).
    with IndexStore.open(db_path, check=False):
        pass
    with writer_lock(db_path):
        # Watch first, index second: a change made while the initial index runs is caught.
        watcher = _start_watcher(root_path, force_polling)
        try:
            report = index_project(
                root_path, settings, governor=governor, embedder=embedder, progress=progress
            )
            if basis:  # so that `codeweaver status` meanwhile needs no model to compare settings
                with IndexStore.open(db_path, check=False) as store:
                    record_fingerprint(store, basis, governor.fingerprint())
            retry = _to_retry(report)
            db_id = _file_id(db_path)  # before the yield: the consumer may act on the event
            yield WatchEvent("ready", report=report)
            pending: set[str] = set()  # paths of a batch that failed: tried again with the next
            pending_rescan: str | None = None  # why a batch that failed was a rescan
            restarted: str | None = None  # why to rescan now, without waiting for a change
            while True:
                try:
                    raw = watcher.watch(max_delay_ms, settle_ms, TICK_MS, stop)
                    if isinstance(raw, set) and len(raw) >= BURST_FROM:
                        raw = _gather(watcher, raw, settle_ms, max_delay_ms, stop)
                except RuntimeError as exc:  # notify failed (a folder it could not watch, ...)
                    watcher.close()
                    _check_root(root_path)
                    yield WatchEvent("error", error=f"the file watcher failed: {exc}")
                    watcher = _start_watcher(root_path, force_polling)  # then catch up:
                    raw, restarted = set(), "the file watcher was restarted"
                if raw == "stop":
                    return
                if raw == "signal":
                    raise KeyboardInterrupt
                _check_root(root_path)
                if isinstance(raw, str):
                    raw = set()  # a timeout: nothing changed, unless the database went
                if _file_id(db_path) != db_id:
                    restarted = restarted or "the index database was replaced or deleted"
                if not raw and restarted is None:
                    continue
                paths, note = scope.paths(path for _, path in raw)
                if len(raw) >= limit:
                    note = f"{len(raw):,} changes in one batch: the event queue may have overflowed"
                note = note or restarted or pending_rescan
                restarted = None
                if note is None and not paths:
                    continue  # only the index's own files, VCS internals, hidden or ignored
                batch = tuple(sorted(paths | pending | retry))
                rescan = note is not None
                yield WatchEvent("changes", paths=batch, rescan=rescan, note=note)
                try:
                    report = index_project(
                        root_path,
                        settings,
                        governor=governor,
                        embedder=embedder,
                        progress=progress,
                        paths=None if rescan else batch,
                    )
                except DiscoveryError:
                    _check_root(root_path)  # the clearer message when the root vanished
                    raise
                except CodeWeaverError as exc:
                    pending.update(batch)
                    pending_rescan = note
                    yield WatchEvent("error", paths=batch, rescan=rescan, note=note, error=str(exc))
                    continue
                pending.clear()
                pending_rescan = None
                retry = _to_retry(report)
                db_id = _file_id(db_path)
                yield WatchEvent("update", paths=batch, rescan=rescan, note=note, report=report)
        finally:
            watcher.close()


class _Scope:
    """Turns the absolute paths watchfiles reports into the relative paths an update covers."""

    def __init__(self, root: Path, settings: CodeWeaverSettings, db_path: Path) -> None:
        self.prefix = str(root) + os.sep
        d = settings.discovery
        self.hidden = d.hidden
        self.rules = d.respect_ignore_files
        self.ours = index_files_in(root, db_path)

    def paths(self, changed: Iterable[str]) -> tuple[set[str], str | None]:
        """The paths to update for ``changed``; a note instead when the whole tree is to be."""
        out: set[str] = set()
        for path in changed:
            if not path.startswith(self.prefix):
                continue  # the root itself: whether it is still there is checked apart
            rel = path[len(self.prefix) :].replace(os.sep, "/")
            target = self._target(rel)
            if target == "":
                return out, f"{rel} changed"
            if target is not None:
                out.add(target)
        return out, None

    def _target(self, rel: str) -> str | None:
        """What a change at ``rel`` puts in the update: itself, a folder, "" (everything), None."""
        if self.ours(rel):
            return None
        parts = rel.split("/")
        folders, name = parts[:-1], parts[-1]
        for i, part in enumerate(folders):
            if part in VCS_DIRS:
                # a repository's info/exclude holds ignore rules for everything beside it
                if self.rules and parts[i + 1 :] == ["info", "exclude"]:
                    return "/".join(parts[:i])
                return None
            if never_walked(part, self.hidden):
                return None
        if self.rules and name in RULE_FILES:
            return "/".join(folders)  # the rules apply to the whole folder
        if never_walked(name, self.hidden):
            return None  # (a VCS folder; compiled Python: a test run in the tree is no update)
        return rel


def _gather(
    watcher: RustNotify,
    raw: set[tuple[int, str]],
    settle_ms: int,
    max_delay_ms: int,
    stop: threading.Event | None,
) -> set[tuple[int, str]] | Literal["signal", "stop", "timeout"]:
    """Grow a big batch with the changes that follow it closely (see :data:`BURST_QUIET_MS`)."""
    end = time.monotonic() + max_delay_ms / 1000
    while time.monotonic() < end:
        more = watcher.watch(max_delay_ms, settle_ms, max(settle_ms, BURST_QUIET_MS), stop)
        if more == "timeout":
            break
        if isinstance(more, str):
            return more  # stop, signal
        raw |= more
    return raw


def _start_watcher(root: Path, force_polling: bool) -> RustNotify:
    """A recursive watch of ``root`` (notify's thread starts collecting changes at once)."""
    from watchfiles._rust_notify import RustNotify

    try:
        return RustNotify([str(root)], False, force_polling, 300, True, True)
    except (OSError, RuntimeError) as exc:
        _check_root(root)
        hint = "" if force_polling else " (raise fs.inotify.max_user_watches, or pass --poll)"
        raise DiscoveryError(f"cannot watch {root}: {exc}{hint}") from None


def _to_retry(report: IndexReport) -> set[str]:
    """Files that could not be read (a permission error): retried with the next batch."""
    prefix = str(report.root) + os.sep
    out: set[str] = set()
    paths = [s.path for s in report.skips if s.reason == "unreadable"]
    paths += [f.path for f in report.failures if f.stage == "read"]
    for p in paths:
        rel = p[len(prefix) :] if p.startswith(prefix) else p
        if not os.path.isabs(rel):
            out.add(rel.replace(os.sep, "/"))
    return out


def _check_root(root: Path) -> None:
    if not root.is_dir():
        raise DiscoveryError(f"the watched directory is gone: {root}")


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino
