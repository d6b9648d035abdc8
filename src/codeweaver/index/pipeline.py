"""``index_project``: discover → diff against the index → chunk what changed → store.

The phases overlap; nothing waits for all files::

    discovery ──▶ _Planner (a generator) ──files to chunk──▶ iter_file_results (workers)
                   │ unchanged: counted, never sent                     │ FileResult
                   │ touched but same hash: queued for an mtime update  ▼
                   └──────────────────────────────────────────▶ writer (this thread):
                                                                one transaction per batch
    after discovery ends: files the index holds but discovery did not see are deleted.

A file is *unchanged* when its size and mtime match the index and it was chunked under the same
governor fingerprint; when only the mtime differs its bytes are hashed here (cheap next to
parsing) and a matching hash counts as unchanged too. Failed files are retried on every run.

A run limited to ``paths`` (what ``codeweaver watch`` does for each batch of changes) discovers,
diffs and deletes only at or under those paths; a file it names is compared by content hash even
when its size and mtime match, so an edit within the file system's timestamp granularity is not
mistaken for no change.

Each batch of results is one transaction, and a file's row and its chunks always change together,
so a killed run leaves a consistent index: files written before the kill are up to date, the
rest still hold their previous state (or are absent) and the next run picks them up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codeweaver.config import ChunkerSettings, CodeWeaverSettings, load_settings
from codeweaver.core.chunks import CodeChunk, FailureRecord, SkipRecord, content_hash
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.errors import DiscoveryError, IndexStoreError
from codeweaver.core.fileio import open_regular
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.results import FileResult, RunStats
from codeweaver.index.embedding import (
    EmbeddedFile,
    EmbeddingReport,
    EmbeddingStage,
    prepare_embedding,
    record_fingerprint,
)
from codeweaver.index.lock import writer_lock
from codeweaver.index.store import FileState, IndexStore, default_db_path, search_fields

if TYPE_CHECKING:
    from codeweaver.embed.base import Embedder

__all__ = [
    "IndexProgress",
    "IndexReport",
    "index_project",
    "resolve_db_path",
]

log = logging.getLogger(__name__)

BATCH_FILES = 256
"""Results per transaction at most (a commit also happens every ``BATCH_SECONDS``)."""
BATCH_SECONDS = 1.0
WRITE_QUEUE = 512
"""Results waiting for the writer thread at most."""

Outcome = Literal["new", "changed", "unchanged", "skipped", "failed"]


@dataclass(slots=True)
class IndexProgress:
    """A snapshot for progress displays. ``total`` grows while discovery is still walking."""

    total: int = 0
    done: int = 0
    chunks: int = 0
    failed: int = 0
    embedded: int = 0
    discovery_done: bool = False
    elapsed: float = 0.0
    current: str = ""


@dataclass(slots=True)
class IndexReport:
    """What one :func:`index_project` run did.

    Every file discovery saw is counted once in ``new``, ``changed``, ``unchanged``, ``skipped``
    or ``failed``; ``deleted`` counts files the index held that are gone. ``chunks`` is the number
    of chunks written by this run, ``total_chunks`` what the index holds afterwards. ``stale``
    counts the failed files that keep the chunks of their last good version (marked stale in the
    index until a run chunks them again).
    """

    root: Path
    db_path: Path
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: int = 0
    stale: int = 0
    chunks: int = 0
    total_files: int = 0
    total_chunks: int = 0
    seconds: float = 0.0
    writer_cpu_seconds: float = 0.0
    """CPU time of the thread that writes the index (SQLite, one writer): the part of a run that
    more cores do not shorten."""
    rebuild: str | None = None
    executor: str = ""
    workers: int = 0
    failures: list[FailureRecord] = field(default_factory=list)
    skips: list[SkipRecord] = field(default_factory=list)
    embedding: EmbeddingReport = field(default_factory=EmbeddingReport)

    @property
    def files(self) -> int:
        """Files discovery saw this run."""
        return self.new + self.changed + self.unchanged + self.skipped + self.failed

    @property
    def rechunked(self) -> int:
        """Files sent to the chunker and stored (new + changed)."""
        return self.new + self.changed

    @property
    def ok(self) -> bool:
        """No file failed and no chunk failed to embed."""
        return self.failed == 0 and self.embedding.failed == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "db_path": str(self.db_path),
            "files": self.files,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "skipped": self.skipped,
            "failed": self.failed,
            "stale": self.stale,
            "chunks": self.chunks,
            "total_files": self.total_files,
            "total_chunks": self.total_chunks,
            "seconds": round(self.seconds, 3),
            "writer_cpu_seconds": round(self.writer_cpu_seconds, 3),
            "rebuild": self.rebuild,
            "executor": self.executor,
            "workers": self.workers,
            "failures": [
                {"path": f.path, "stage": f.stage, "error_type": f.error_type, "message": f.message}
                for f in self.failures
            ],
            "skips": [{"path": s.path, "reason": s.reason, "detail": s.detail} for s in self.skips],
            "embedding": self.embedding.to_dict(),
        }


ProgressCallback = Callable[[IndexProgress], None]


def resolve_db_path(root: Path, settings: CodeWeaverSettings) -> Path:
    """The index path: ``settings.index.db_path`` (relative to ``root``) or the default."""
    configured = settings.index.db_path
    if configured is None:
        return default_db_path(root)
    return configured if configured.is_absolute() else root / configured


def index_project(
    root: str | Path,
    settings: CodeWeaverSettings | ChunkerSettings | None = None,
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
    governor: ChunkGovernor | None = None,
    paths: Iterable[str | os.PathLike[str]] | None = None,
    embedder: Embedder | None = None,
) -> IndexReport:
    """Bring the index of ``root`` up to date and report what changed.

    ``settings`` default to :func:`~codeweaver.config.load_settings` for ``root``; a
    :class:`~codeweaver.config.ChunkerSettings` alone replaces the chunker settings found there
    (discovery and index settings still come from the project's files); ``governor``
    (for a custom token counter) defaults to one built from ``settings.chunker``, sized for the
    embedder when there is one. ``embedder`` defaults to the one ``settings.embedding`` names
    (none when its provider is ``none``, or ``auto`` finds no usable model: the index is then
    keyword-only and ``report.embedding.notice`` says why). ``full`` re-chunks
    every file (and recreates an index from an incompatible version). ``progress`` is called with
    an :class:`IndexProgress` snapshot as work proceeds (possibly from a helper thread).

    ``paths`` (files or folders, relative to ``root`` or absolute inside it; they need not exist)
    limits the run to them: only they are discovered and diffed, indexed files at or under them
    that discovery no longer yields (deleted, renamed, now ignored) are removed, and the rest of
    the index is left alone. Ignore rules, globs and the hidden rule apply as in a full run. The
    report counts only what the run saw.

    Example:
        >>> report = index_project("my-repo")  # doctest: +SKIP
        >>> report.new, report.changed, report.unchanged, report.deleted  # doctest: +SKIP
        (120, 0, 0, 0)

    Raises:
        DiscoveryError: ``root`` is missing or not a readable directory.
        IndexStoreError: the index cannot be created or written (``IndexVersionError`` when it
            comes from an incompatible version and ``full`` is not set).
        ConfigError: a setting is invalid.
        EmbeddingError: the configured embedder cannot be loaded (not raised for ``auto``).
    """
    started = time.perf_counter()
    root_path = Path(root).expanduser()
    if not root_path.exists():
        raise DiscoveryError(f"no such directory: {root_path}")
    if not root_path.is_dir():
        raise DiscoveryError(f"not a directory: {root_path}")
    root_path = root_path.resolve()
    if settings is None or isinstance(settings, ChunkerSettings):
        settings = load_settings(root_path, **({} if settings is None else {"chunker": settings}))
    elif not isinstance(settings, CodeWeaverSettings):
        raise TypeError(
            "settings must be a CodeWeaverSettings (load_settings()) or a ChunkerSettings, "
            f"got {type(settings).__name__}"
        )
    db_path = resolve_db_path(root_path, settings)
    owned = embedder is None
    embedder, governor, embedding = prepare_embedding(settings, embedder, governor, db_path)
    report = IndexReport(root=root_path, db_path=db_path, embedding=embedding)
    try:
        # The lock first: --full may recreate the database, which no other writer may be using.
        with (
            writer_lock(db_path),
            IndexStore.open(db_path, recreate_incompatible=full, check=paths is None) as store,
        ):
            _upgrade(store)
            run = _Run(
                root_path,
                settings,
                governor,
                store,
                report,
                full=full,
                progress=progress,
                paths=paths,
            )
            if embedder is not None:
                run.stage = EmbeddingStage(
                    embedder,
                    db_path,
                    embedding,
                    header_tokens=settings.embedding.header_tokens,
                    on_progress=run.embedded,
                    whole_index=run.scope is None,
                )
            run.run()
            stats = store.stats()
    except sqlite3.Error as exc:  # disk full, locked by a foreign writer, ...
        raise _write_error(db_path, exc) from exc
    finally:
        if owned and embedder is not None:
            embedder.close()
    report.total_files = stats.files
    report.total_chunks = stats.chunks
    report.seconds = time.perf_counter() - started
    return report


def _upgrade(store: IndexStore) -> None:
    """Bring an older index's layout up to date (once; it says so before, since it rewrites
    the file, and after, what it gave back)."""
    if not store.needs_upgrade():
        return
    before = _db_bytes(store.db_path)
    log.warning(
        "upgrading %s (%.0f MB) to the current layout, once: the chunks and vectors are kept, "
        "the full-text table is made again from them and the file is rewritten",
        store.db_path,
        before / 1e6,
    )
    store.upgrade_layout()
    log.warning(
        "upgraded %s: %.0f MB on disk, was %.0f MB",
        store.db_path,
        _db_bytes(store.db_path) / 1e6,
        before / 1e6,
    )


def _db_bytes(db_path: Path) -> int:
    """The database's size on disk, its write-ahead log included."""
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            total += db_path.with_name(db_path.name + suffix).stat().st_size
    return total


class _Run:
    """One indexing run: the planner generator, the writer loop and the shared counters."""

    def __init__(
        self,
        root: Path,
        settings: CodeWeaverSettings,
        governor: ChunkGovernor,
        store: IndexStore,
        report: IndexReport,
        *,
        full: bool,
        progress: ProgressCallback | None,
        paths: Iterable[str | os.PathLike[str]] | None = None,
    ) -> None:
        self.root = root
        # a limited run: the relative paths it covers (None: the whole tree), and the files it
        # names, which are compared by content
        self.scope = None if paths is None else _scope_of(root, paths)
        self.verify: frozenset[str] = frozenset(self.scope or ())
        self.settings = settings
        self.governor = governor
        self.fingerprint = governor.fingerprint()
        self.store = store
        self.report = report
        self.full = full
        self.progress_cb = progress
        self.progress = IndexProgress()
        self._started = time.perf_counter()
        self._lock = threading.Lock()
        self.states: dict[str, FileState] = {}
        self.seen: set[str] = set()
        # Folders the walk could not enter (unreadable, a name not UTF-8): what the index holds
        # below them is kept, not deleted as gone.
        self.unwalked: list[str] = []
        self.pending: dict[str, Outcome] = {}  # rel_path -> "new" | "changed", while in flight
        self.touches: deque[tuple[str, int, int]] = deque()
        self.discovery_skips: deque[tuple[SkipRecord, str]] = deque()
        self.stage: EmbeddingStage | None = None
        self.fresh: list[CodeChunk] = []  # chunks of the transaction in progress, for the stage
        self.fresh_vectors: list[Any] = []  # their vectors where the workers embedded them
        self._root_prefix = str(root).rstrip(os.sep) + os.sep
        self._is_ours = index_files_in(root, store.db_path)

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> None:
        store = self.store
        previous = store.fingerprint
        if self.full:
            self.report.rebuild = "--full"
        elif previous is not None and previous != self.fingerprint:
            self.report.rebuild = f"chunking settings changed ({previous} -> {self.fingerprint})"
        self.states = store.file_states(under=self.scope)
        store.set_meta("fingerprint", self.fingerprint)
        if self.report.embedding.basis:
            record_fingerprint(store, self.report.embedding.basis, self.fingerprint)
        store.set_meta("root", str(self.root))

        # A load that writes (nearly) every chunk (a first index, --full, new chunking settings):
        # the hash index is built once at the end.
        bulk = not store.holds_chunks() or (self.report.rebuild is not None and self.scope is None)
        if bulk:
            store.defer_hash_index()
        try:
            self._chunk_and_store()
        except BaseException:
            if bulk:  # what was stored stays usable; should this fail, the next writer builds it
                with contextlib.suppress(sqlite3.Error):
                    store.build_hash_index()
            raise
        if bulk:
            store.build_hash_index()
        if self.stage is not None:  # after the deletes: chunks of deleted files are not embedded
            self.stage.finish()
        store.set_meta("updated_at", str(time.time()))
        self.progress.discovery_done = True
        self._emit()

    def _chunk_and_store(self) -> None:
        """Chunk the planned files and write the results, then delete the files gone."""
        from codeweaver.engine.chunker.parallel import iter_file_results

        store = self.store
        stats = RunStats()
        conc = self.settings.chunker.concurrency
        stage = self.stage
        beside = stage.worker_annotate() if stage is not None else None
        results = iter_file_results(
            self._plan(),
            self.governor,
            max_workers=conc.max_parallel_files,
            executor_type=conc.executor,
            batch_size=conc.batch_size,
            stats=stats,
            annotate=search_fields if beside is None else beside,
        )
        if stage is not None:
            stage.start()  # first: should it fail, no writer thread is left waiting
        writer = _Writer(self)
        writer.start()
        try:
            for result in results:
                if stage is not None:
                    stage.wait_for_room()  # the embedder sets the pace
                if not writer.put(result):
                    break  # the writer failed; its error is raised below
            writer.finish()
        except BaseException:
            writer.abort()
            if stage is not None:
                stage.abort()
            raise
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()  # stops and reaps the workers when we leave early
            _join(writer)
            self.report.executor = stats.executor
            self.report.workers = stats.workers
        try:
            writer.raise_error()
            self._fail_missing_results()
            gone = gone_paths(self.states, self.seen, self.unwalked)
            if gone:
                self.report.deleted = store.delete_files(gone)
        except BaseException:
            if stage is not None:
                stage.abort()
            raise

    def write_loop(self, inbox: queue.Queue[FileResult | _Signal]) -> None:
        """The writer thread's loop: one transaction per batch of results, until told to stop.

        ``_ABORT`` rolls back the batch in progress (the files in it are redone next run).
        """
        started = time.thread_time()
        try:
            self._write_batches(inbox)
        finally:
            self.report.writer_cpu_seconds += time.thread_time() - started

    def _write_batches(self, inbox: queue.Queue[FileResult | _Signal]) -> None:
        store = self.store
        while True:
            item = inbox.get()
            if item is _ABORT:
                return
            if item is _STOP:
                break
            deadline = time.monotonic() + BATCH_SECONDS
            stop = False
            with store.transaction():
                self._drain_side_queues()
                n = 0
                while True:
                    assert not isinstance(item, _Signal)
                    self._store_result(item)
                    n += 1
                    remaining = deadline - time.monotonic()
                    if n >= BATCH_FILES or remaining <= 0:
                        break
                    try:
                        item = inbox.get(timeout=remaining)
                    except queue.Empty:
                        break
                    if item is _ABORT:
                        raise _Aborted
                    if item is _STOP:
                        stop = True
                        break
                self._drain_side_queues()
            self._hand_off()
            if stop:
                break
        with store.transaction():  # mtime updates and skips queued after the last result
            self._drain_side_queues()

    def _hand_off(self) -> None:
        """Give the chunks just committed to the embedding stage (with their vectors, where the
        workers embedded them)."""
        if self.stage is not None and self.fresh:
            self.stage.submit(self.fresh, self.fresh_vectors)
        self.fresh = []
        self.fresh_vectors = []

    def embedded(self, count: int) -> None:
        """Progress from the embedding stage (called from its thread)."""
        self.progress.embedded = count
        self._emit()

    def _store_result(self, result: FileResult) -> None:
        f = result.file
        rel = f.rel_path
        with self._lock:
            tag = self.pending.pop(rel, "changed")
        fields = result.annotation
        embedded = None
        if isinstance(fields, EmbeddedFile):
            embedded, fields = fields, fields.fields
            if self.stage is not None:
                self.stage.embedded_in_workers(embedded.seconds)
        if fields is not None and len(fields) != len(result.chunks):  # a bug upstream: this file
            result = _misfit(result, f"{len(fields)} search fields for {len(result.chunks)} chunks")
        if result.status != "failed":
            chunked = result.status == "chunked"
            skip = None if chunked else (result.skip or SkipRecord(rel, "skipped"))
            self.store.put_file(
                rel,
                status=result.status,
                language=f.language,
                size=f.size,
                mtime_ns=f.mtime_ns,
                content_hash=result.file_hash,
                reason=None if skip is None else _skip_reason(skip),
                fingerprint=self.fingerprint,
                chunks=result.chunks,
                fields=fields,
            )
            if skip is None:
                self._count(tag)
                if self.stage is not None:
                    self.fresh.extend(result.chunks)
                    # row for row with fresh; None: the stage embeds it (or has its vector)
                    n = len(result.chunks)
                    self.fresh_vectors.extend([None] * n if embedded is None else embedded.rows(n))
                self.report.chunks += len(result.chunks)
                self.progress.chunks += len(result.chunks)
            else:
                with self._lock:
                    self.report.skipped += 1
                    self.report.skips.append(skip)
        else:
            failure = result.failure or FailureRecord(rel, "worker", "Error", "unknown failure")
            # The chunks of its last good version stay (stale) until a run chunks it again.
            self._mark_failed(rel, failure, f.language)
            log.debug("failed: %s", failure.describe())
        with self._lock:
            self.progress.done += 1
            self.progress.current = rel
        self._emit()

    def _fail_missing_results(self) -> None:
        """Record as failed any file sent to the chunker that came back without a result.

        The engine promises one result per file; this keeps a broken promise from dropping a
        file from the report (it is retried next run, as every failed file is).
        """
        if not self.pending:
            return
        with self.store.transaction():
            for rel in list(self.pending):
                del self.pending[rel]
                failure = FailureRecord(
                    str(self.root / rel),
                    "worker",
                    "MissingResult",
                    "the chunker returned no result",
                )
                self._mark_failed(rel, failure, None)
                self.progress.done += 1
                log.warning("failed: %s", failure.describe())

    def _mark_failed(self, rel: str, failure: FailureRecord, language: str | None) -> None:
        self.store.mark_failed(
            rel, reason=failure.describe(), fingerprint=self.fingerprint, language=language
        )
        old = self.states.get(rel)
        if old is not None and old.chunk_count:
            self.report.stale += 1
        self.report.failed += 1
        self.report.failures.append(failure)
        self.progress.failed += 1

    def _drain_side_queues(self) -> None:
        while self.touches:
            rel, size, mtime_ns = self.touches.popleft()
            self.store.touch_file(rel, size=size, mtime_ns=mtime_ns)
        while self.discovery_skips:
            skip, rel = self.discovery_skips.popleft()
            self.store.put_file(rel, status="skipped", reason=_skip_reason(skip))

    def _count(self, tag: Outcome) -> None:
        if tag == "new":
            self.report.new += 1
        else:
            self.report.changed += 1

    # -- the planner (runs wherever the engine pulls its input) ----------------------------------
    def _plan(self) -> Iterator[DiscoveredFile]:
        """Yield the files that need chunking, counting and queueing the rest."""
        for item in self._discover():
            if isinstance(item, SkipRecord):
                rel = self._rel(item.path)
                if rel is None or rel in self.seen:
                    continue
                self.seen.add(rel)
                if item.reason in UNWALKED_REASONS:
                    self.unwalked.append(rel + "/")  # (a file's path is no folder: harmless)
                with self._lock:
                    self.report.skipped += 1
                    self.report.skips.append(item)
                old = self.states.get(rel)
                if old is None or skip_changed(old, item):
                    self.discovery_skips.append((item, rel))
                self._discovered(done=True)
                continue
            rel = item.rel_path
            if self._is_ours(rel) or rel in self.seen:
                continue
            self.seen.add(rel)
            verdict = self._classify(item)
            if verdict in ("unchanged", "skipped"):
                with self._lock:
                    if verdict == "unchanged":
                        self.report.unchanged += 1
                    else:  # skipped by a worker on an earlier run: list it with its stored reason
                        reason, _, detail = (self.states[rel].reason or "skipped").partition(": ")
                        self.report.skipped += 1
                        self.report.skips.append(SkipRecord(item.path, reason, detail))
                self._discovered(done=True)
            else:
                with self._lock:
                    self.pending[rel] = verdict
                self._discovered(done=False)
                yield item
        self.progress.discovery_done = True
        self._emit()

    def _classify(self, f: DiscoveredFile) -> Literal["new", "changed", "unchanged", "skipped"]:
        old = self.states.get(f.rel_path)
        if old is None:
            return "new"
        if self.full or old.fingerprint != self.fingerprint or old.status == "failed":
            return "changed"
        if not same_file(old, f, verify=f.rel_path in self.verify):
            return "changed"  # (a file that cannot be read: the worker reports what became of it)
        if old.mtime_ns != f.mtime_ns:
            self.touches.append((f.rel_path, f.size, f.mtime_ns))
        return "skipped" if old.status == "skipped" else "unchanged"

    def _discover(self) -> Iterator[DiscoveredFile | SkipRecord]:
        from codeweaver.core.discovery import iter_discovery

        d = self.settings.discovery
        yield from iter_discovery(
            self.root,
            include=d.include,
            exclude=d.exclude,
            hidden=d.hidden,
            respect_ignore_files=d.respect_ignore_files,
            follow_symlinks=d.follow_symlinks,
            max_file_bytes=self.settings.chunker.max_file_bytes,
            paths=self.scope,
        )

    def _rel(self, path: str) -> str | None:
        """The POSIX path relative to the root of a path discovery reported (absolute or not)."""
        if not os.path.isabs(path):
            rel = path.replace(os.sep, "/")
        elif path.startswith(self._root_prefix):
            rel = path[len(self._root_prefix) :].replace(os.sep, "/")
        else:
            return None
        return None if self._is_ours(rel) else rel

    # -- progress --------------------------------------------------------------------------------
    def _discovered(self, *, done: bool) -> None:
        with self._lock:
            self.progress.total += 1
            if done:
                self.progress.done += 1
        self._emit()

    def _emit(self) -> None:
        if self.progress_cb is None:
            return
        self.progress.elapsed = time.perf_counter() - self._started
        self.progress_cb(self.progress)


class _Signal:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


_STOP = _Signal("stop")
_ABORT = _Signal("abort")


class _Aborted(Exception):
    """Raised inside the writer's transaction to roll it back."""


class _Writer(threading.Thread):
    """Stores results in a thread of its own, so writing overlaps with receiving results.

    SQLite does its work with the GIL released; the engine's loop in the calling thread keeps
    feeding workers meanwhile. The inbox is bounded, so memory stays flat when the store is slower.
    """

    def __init__(self, run: _Run) -> None:
        super().__init__(name="codeweaver-index-writer", daemon=True)
        self._run = run
        self.inbox: queue.Queue[FileResult | _Signal] = queue.Queue(maxsize=WRITE_QUEUE)
        self.error: BaseException | None = None
        # Set by the thread itself as it ends: after a join() that a Ctrl-C interrupted,
        # is_alive() can say False while the thread still writes (CPython before 3.13).
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self._run.write_loop(self.inbox)
        except _Aborted:
            pass
        except BaseException as exc:  # handed to the calling thread, which raises it
            self.error = exc
            _drain(self.inbox)
        finally:
            self.done.set()

    def put(self, item: FileResult | _Signal) -> bool:
        """Queue ``item``; False when the writer has stopped (with an error)."""
        while True:
            if self.error is not None or not self.is_alive():
                return False
            try:
                self.inbox.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue

    def finish(self) -> None:
        self.put(_STOP)

    def abort(self) -> None:
        _drain(self.inbox)
        self.put(_ABORT)

    def raise_error(self) -> None:
        exc = self.error
        if exc is None:
            return
        if isinstance(exc, sqlite3.Error):
            raise _write_error(self._run.store.db_path, exc) from exc
        raise exc


def _join(writer: _Writer) -> None:
    """Wait for the writer, a Ctrl-C notwithstanding: its connection is closed once we return,
    and closing it under a write in progress crashed the process (SIGSEGV) when Ctrl-C came
    while the last batch was being written. A Ctrl-C here aborts the writer (its transaction
    rolls back or commits whole) and is raised once it has stopped."""
    interrupted: BaseException | None = None
    while not writer.done.is_set():
        try:
            writer.done.wait()
        except KeyboardInterrupt as exc:
            interrupted = exc
            writer.abort()
    if interrupted is not None:
        raise interrupted


def _write_error(db_path: Path, exc: sqlite3.Error) -> IndexStoreError:
    """What the user reads when a write fails; what was committed stays, consistent."""
    hint = ""
    if any(w in str(exc) for w in ("disk", "full", "I/O")):
        hint = " (is the disk full?)"
    return IndexStoreError(
        f"cannot write the index {db_path}: {exc}{hint}; what was stored is kept: "
        "run the same command again once it can be written"
    )


def _drain(q: queue.Queue[FileResult | _Signal]) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


def _scope_of(root: Path, paths: Iterable[str | os.PathLike[str]]) -> frozenset[str] | None:
    """``paths`` as POSIX paths relative to ``root`` (None when one is the root itself)."""
    out: set[str] = set()
    for p in paths:
        raw = os.fspath(p)
        rel = os.path.relpath(raw, root) if os.path.isabs(raw) else os.path.normpath(raw)
        if rel == os.curdir:
            return None
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise ValueError(f"{raw} is outside the indexed directory {root}")
        out.add(rel.replace(os.sep, "/"))
    return frozenset(out)


def _skip_reason(skip: SkipRecord) -> str:
    return f"{skip.reason}: {skip.detail}" if skip.detail else skip.reason


def index_files_in(root: Path, db_path: Path) -> Callable[[str], bool]:
    """A test for POSIX paths relative to ``root``: true for the index's own files when they sit
    inside the indexed tree (the database, its WAL, journal and lock, its ``.vectors/`` cache,
    and the default ``.codeweaver/`` folder as a whole), which are never indexed or watched."""
    db_rel = _relative_to(db_path, root)
    parent = db_path.parent
    dir_rel = _relative_to(parent, root) if parent.name == ".codeweaver" else None
    dir_prefix = None if dir_rel is None else dir_rel + "/"

    def ours(rel: str) -> bool:
        if dir_prefix is not None and rel.startswith(dir_prefix):
            return True
        if db_rel is None or not rel.startswith(db_rel):
            return False
        tail = rel[len(db_rel) :]
        return tail in ("", "-wal", "-shm", "-journal", ".lock") or tail.startswith(".vectors/")

    return ours


def _relative_to(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _misfit(result: FileResult, message: str) -> FileResult:
    """``result`` failed at the store (what the workers made of it does not fit its chunks):
    one file fails, not the writer's whole batch."""
    failure = FailureRecord(result.file.path, "store", "ValueError", message)
    return FileResult(result.file, "failed", file_hash=result.file_hash, failure=failure)


UNWALKED_REASONS = frozenset({"unreadable", "bad_filename"})
"""Skips of a folder the walk could not enter: what the index holds below it stays."""


def gone_paths(states: Iterable[str], seen: set[str], unwalked: list[str]) -> list[str]:
    """The indexed paths a run did not see, less those below a folder it could not enter
    (``unwalked``: such folders' paths, each ending in ``/``): the files to delete."""
    below = tuple(unwalked)  # (str.startswith takes them all at once; none: matches nothing)
    return [p for p in states if p not in seen and not p.startswith(below)]


def skip_changed(old: FileState, skip: SkipRecord) -> bool:
    """Whether a file discovery now skips is recorded otherwise (not skipped, or skipped for
    another reason)."""
    return old.status != "skipped" or old.reason != _skip_reason(skip)


def same_file(old: FileState, f: DiscoveredFile, *, verify: bool = False) -> bool:
    """Whether ``f`` still holds what the index recorded as ``old``: the same size and mtime
    (unless ``verify``: a path named to a run), else the same size and content hash (a file
    merely touched). What ``index_project`` and ``codeweaver status`` both decide by."""
    if old.size != f.size:
        return False
    if old.mtime_ns == f.mtime_ns and not verify:
        return True
    return old.content_hash is not None and _same_content(f.path, old.content_hash)


def _same_content(path: str, digest: str) -> bool:
    """True when the file at ``path`` still hashes to ``digest`` (False if it cannot be read;
    never blocks, should it have become a FIFO)."""
    try:
        fh, _ = open_regular(path)
        with fh:
            return content_hash(fh.read()) == digest
    except OSError:
        return False
