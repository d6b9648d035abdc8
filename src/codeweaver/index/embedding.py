"""The embedding stage of ``index_project``: chunks stream from the writer into an embedder and
their vectors into the index, while files are still being chunked.

::

    writer thread ──chunks it committed──▶ queue ──▶ embed thread ──(hashes, vectors)──▶ store
       ▲ (main thread waits while the queue       │ dedup by content hash; skip      thread: own
       │  is over HIGH_WATER: chunking never      │ hashes with a vector; last: the  connection,
       │  runs far ahead of a slow embedder)      │ chunks still without a vector    one commit
       └──────────────────────────────────────────┘ (a killed run's, failed ones)   per drain

With a static model (:attr:`~codeweaver.embed.base.Embedder.embeds_beside_chunker`) the chunk
workers embed each file's chunks as they chunk it (:class:`WorkerEmbedding`, the run's
``annotate``) and the vectors ride with the chunks: the embed thread only drops those it already
has and passes the rest to the store thread.

A vector is keyed by (model name, chunk content hash), so unchanged text is never embedded twice,
whichever file it sits in. A batch the embedder fails on is recorded in ``embedding_failures``
(a batch refused for its input is split to find the culprit chunk); its chunks stay pending and
are retried on the next run. After ``MAX_TRANSIENT_IN_A_ROW`` failed batches in a row (an
endpoint down after every retry) the stage stops embedding for this run; the chunks keep
waiting. Neither a file nor the run is ever lost to an embedder failure.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from codeweaver.core.chunks import CodeChunk, trusted_chunk
from codeweaver.core.errors import EmbeddingError, IndexStoreError
from codeweaver.index import vectors as vx
from codeweaver.index.store import IndexStore, search_fields

if TYPE_CHECKING:
    from codeweaver.config import CodeWeaverSettings
    from codeweaver.embed.base import Embedder
    from codeweaver.engine.chunker.governor import ChunkGovernor
    from codeweaver.engine.chunker.results import FileResult

__all__ = [
    "EmbeddedFile",
    "EmbeddingFailure",
    "EmbeddingReport",
    "EmbeddingStage",
    "WorkerEmbedding",
    "governor_basis",
    "known_fingerprint",
    "prepare_embedding",
    "record_fingerprint",
]

log = logging.getLogger(__name__)

HIGH_WATER_BATCHES = 4
"""Chunks queued for the embedder at most, in batches, before chunking waits."""
FILL_WAIT_SECONDS = 0.05
"""How long a part-full batch waits for more chunks before it is embedded anyway."""
MAX_TRANSIENT_IN_A_ROW = 3
MAX_FAILURES_LISTED = 50
FINGERPRINTS_KEY = "governor_fingerprints"
"""Index meta key: JSON ``{governor_basis: fingerprint}`` (:func:`record_fingerprint`)."""
MAX_FINGERPRINTS = 8


@dataclass(frozen=True, slots=True)
class EmbeddingFailure:
    """A chunk text that could not be embedded this run (it stays pending and is retried)."""

    path: str
    symbol: str
    content_hash: str
    error: str


@dataclass(slots=True)
class EmbeddingReport:
    """What the embedding stage of one run did.

    ``embedded`` counts distinct chunk texts embedded; ``reused`` chunks written this run whose
    text already had a vector (or appeared twice); ``failed`` texts that could not be embedded;
    ``pending`` the chunks of the whole index still without a vector afterwards.
    ``notice`` says why embedding is off or stopped early.
    """

    model: str | None = None
    notice: str | None = None
    embedded: int = 0
    reused: int = 0
    failed: int = 0
    pending: int = 0
    pruned: int = 0
    seconds: float = 0.0
    failures: list[EmbeddingFailure] = field(default_factory=list)
    basis: str | None = None
    """:func:`governor_basis` when the governor was sized here from the settings' model."""

    @property
    def rate(self) -> float:
        """Chunk texts embedded per second of embedder time."""
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "notice": self.notice,
            "embedded": self.embedded,
            "reused": self.reused,
            "failed": self.failed,
            "pending": self.pending,
            "pruned": self.pruned,
            "seconds": round(self.seconds, 3),
            "failures": [
                {"path": f.path, "symbol": f.symbol, "hash": f.content_hash, "error": f.error}
                for f in self.failures
            ],
        }


def prepare_embedding(
    settings: CodeWeaverSettings,
    embedder: Embedder | None,
    governor: ChunkGovernor | None,
    db_path: Path | None = None,
) -> tuple[Embedder | None, ChunkGovernor, EmbeddingReport]:
    """The embedder for a run (given, or loaded from ``settings.embedding``), the governor sized
    for it, and the report the stage will fill.

    ``provider = "auto"`` with no model set means the model the index at ``db_path`` was last
    embedded with, else the model2vec default; when that cannot load (no ``embed`` extra, no
    network and no cached model) the run is keyword-only with a one-line notice. An explicitly
    configured provider or model that cannot load raises.

    Raises:
        EmbeddingError: the configured embedder cannot be loaded.
    """
    from codeweaver.engine.chunker.governor import ChunkGovernor

    report = EmbeddingReport()
    if embedder is not None and governor is not None:  # (watch: each update) nothing to resolve
        report.model = embedder.name
        return embedder, governor, report
    conf = _resolved(settings, db_path)
    sized_here = embedder is None and governor is None
    if embedder is None and conf.provider != "none":
        try:
            embedder = _load(conf, settings.chunker.chars_per_token)
        except EmbeddingError as exc:
            if settings.embedding.provider != "auto" or settings.embedding.model is not None:
                raise
            report.notice = f"keyword-only index (no embeddings): {exc}"
            log.info("%s", report.notice)  # shown with the run's summary, not as a warning
    if embedder is None:
        return None, governor or ChunkGovernor(settings.chunker), report
    report.model = embedder.name
    if governor is None:
        from codeweaver.embed.budget import governor_for

        governor = governor_for(embedder, settings.chunker, header_tokens=conf.header_tokens)
    if sized_here:  # a run with the same basis gets the same governor
        if conf.provider == "auto" and conf.model is None:
            # what the next run resolves "auto" to, once this model's vectors are recorded
            from codeweaver.embed import embedder_spec

            conf = conf.model_copy(update=embedder_spec(embedder))
        report.basis = _basis(conf, settings)
    return embedder, governor, report


def _resolved(settings: CodeWeaverSettings, db_path: Path | None) -> Any:
    """The embedding settings a run uses: ``auto`` with no model means the index's recorded one."""
    conf = settings.embedding
    if conf.provider == "auto" and conf.model is None and db_path is not None:
        spec = vx.recorded_spec(db_path)
        if spec:
            conf = conf.model_copy(update=spec)
    return conf


def _basis(conf: Any, settings: CodeWeaverSettings) -> str:
    import hashlib
    import json

    from codeweaver.engine.chunker.governor import CHUNKER_VERSION

    text = json.dumps(
        {
            "embedding": conf.model_dump(mode="json"),
            "chunker": settings.chunker.model_dump(mode="json"),
            "version": CHUNKER_VERSION,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def governor_basis(settings: CodeWeaverSettings, db_path: Path | None) -> str:
    """A digest of everything the governor of a run with ``settings`` is built from (the resolved
    embedding settings and the chunker settings), without loading the model.

    Settings with the same basis give a governor with the same fingerprint (as long as the model
    they name is the same), so the index keeps which fingerprint each basis gave
    (:func:`record_fingerprint`) and ``codeweaver status`` need not load the model to tell whether
    the chunking settings changed. Only a digest is kept: the settings may name endpoints.
    """
    return _basis(_resolved(settings, db_path), settings)


def record_fingerprint(store: IndexStore, basis: str, fingerprint: str) -> None:
    """Remember that settings with ``basis`` give chunks with ``fingerprint`` (the last few)."""
    import json

    try:
        known = json.loads(store.get_meta(FINGERPRINTS_KEY) or "{}")
    except ValueError:
        known = {}
    if not isinstance(known, dict):
        known = {}
    known.pop(basis, None)
    known[basis] = fingerprint
    store.set_meta(FINGERPRINTS_KEY, json.dumps(dict(list(known.items())[-MAX_FINGERPRINTS:])))


def known_fingerprint(store: IndexStore, settings: CodeWeaverSettings) -> str | None:
    """The fingerprint a run with ``settings`` would chunk with, when the index has seen settings
    with the same basis before (None: only loading the model can tell)."""
    import json

    try:
        known = json.loads(store.get_meta(FINGERPRINTS_KEY) or "{}")
    except ValueError:
        return None
    value = known.get(governor_basis(settings, store.db_path)) if isinstance(known, dict) else None
    return value if isinstance(value, str) else None


def _load(conf: Any, chars_per_token: float) -> Embedder:
    try:
        from codeweaver.embed import load_embedder
    except ImportError:  # numpy missing: the light install
        raise EmbeddingError(
            "semantic search needs the embed extra: pip install 'codeweaver[embed]'"
        ) from None
    return load_embedder(conf, chars_per_token=chars_per_token)


@dataclass(frozen=True, slots=True)
class _Item:
    content_hash: str
    chunk: CodeChunk
    vector: Any = None  # its row, when a worker embedded it (WorkerEmbedding)


class EmbeddedFile(NamedTuple):
    """What :class:`WorkerEmbedding` gives back for a chunked file."""

    fields: list[tuple[str, str]]
    """:func:`~codeweaver.index.store.search_fields` of its chunks."""
    embedded: tuple[int, ...]
    """Which chunks (their indexes) ``vectors`` holds, in order: the others' texts had a vector
    when the embedder was shipped, or were not embedded there (the indexing process itself, or
    the embedder failed: the stage embeds them, where failures are recorded and retried)."""
    vectors: Any
    """One unit-length row per chunk of ``embedded`` (one array: one pickle, not one a row)."""
    seconds: float
    """Embedder time spent on them."""

    def rows(self, count: int) -> list[Any]:
        """A row or None for each of the file's ``count`` chunks."""
        out: list[Any] = [None] * count
        for i, row in zip(self.embedded, self.vectors if self.embedded else (), strict=True):
            out[i] = row
        return out


class WorkerEmbedding:
    """The ``annotate`` of a run whose embedder is cheap enough to run beside the chunker
    (:attr:`~codeweaver.embed.base.Embedder.embeds_beside_chunker`: a static model): the search
    fields of each chunked file and the vectors of its chunks, computed in the worker that
    chunked it. Embedding then runs on every core; in the indexing process it held the GIL for
    most of a run (a token-vector lookup and a mean per chunk is as cheap as chunking).

    The embedder travels to each worker once, pickled with this object, and only a copy that
    travelled embeds: run in the indexing process itself (the serial and thread executors, and
    Dask, which annotates in the caller) it gives the search fields alone, and the stage's own
    thread embeds in big batches beside the chunking, as it does for any other embedder
    (embedding file by file in the chunking thread was 15% slower there). Every chunk of a file
    is embedded but those whose text had a vector when it was shipped (``known``:
    :func:`~codeweaver.index.vectors.vector_keys` of ``db_path``, 8 bytes a vector), so
    re-chunking an embedded tree (``--full``, new chunking settings) embeds only what changed;
    the vectors are the ones the stage would compute (same text, same model).
    """

    def __init__(self, embedder: Embedder, header_tokens: int, db_path: Path | None) -> None:
        from codeweaver.embed.budget import HeaderFitter

        self.embedder = embedder
        self.db_path = db_path
        self.known: Any = None  # a shipped copy's vector keys
        self._fit = HeaderFitter(embedder, header_tokens)
        self._shipped = False

    def __getstate__(self) -> dict[str, Any]:
        # The keys are read when it is shipped, so a run that never starts worker processes (a
        # watch save, a small tree) never reads them (37 ms at 65,000 vectors).
        known = None
        if self.db_path is not None:
            try:
                with IndexStore.open(self.db_path, create=False) as store:
                    known = vx.vector_keys(store, self.embedder.name)
            except (IndexStoreError, sqlite3.Error, OSError, ValueError) as exc:
                log.debug("no vector keys for the chunk workers: they embed all (%s)", exc)
        header_tokens = self._fit.header_tokens
        return {"embedder": self.embedder, "header_tokens": header_tokens, "known": known}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["embedder"], state["header_tokens"], None)  # type: ignore[misc]
        self.known = state["known"]
        self._shipped = True
        _thread_lock_for_tqdm()

    def __call__(self, result: FileResult) -> EmbeddedFile:
        fields = search_fields(result)
        if not self._shipped:
            return EmbeddedFile(fields, (), None, 0.0)
        chunks = result.chunks
        todo = list(range(len(chunks)))
        known = self.known
        if known is not None and len(known) and chunks:
            import numpy as np

            keys = vx.hash_keys(c.content_hash for c in chunks)
            at = np.minimum(np.searchsorted(known, keys), len(known) - 1)
            todo = np.flatnonzero(known[at] != keys).tolist()
        if not todo:
            return EmbeddedFile(fields, (), None, 0.0)
        started = time.perf_counter()
        try:
            matrix = self.embedder.embed([self._fit(chunks[i]) for i in todo])
        except Exception as exc:  # the stage embeds them again: failures are recorded there
            log.debug("embedding beside the chunker failed (%s: %s)", type(exc).__name__, exc)
            return EmbeddedFile(fields, (), None, time.perf_counter() - started)
        return EmbeddedFile(fields, tuple(todo), matrix, time.perf_counter() - started)


def _then_set(target: Callable[[], None], ended: threading.Event) -> None:
    try:
        target()
    finally:
        ended.set()


def _thread_lock_for_tqdm() -> None:
    """In a chunk worker: give tqdm a thread lock before anything there makes a bar. model2vec
    makes one (hidden) on every encode, and tqdm's first bar makes a process lock, a semaphore
    that a worker stopped by Ctrl-C leaves behind for the resource tracker to report as leaked
    on the user's terminal. The worker draws no bar, so a thread lock is all it needs."""
    try:
        from tqdm import tqdm  # type: ignore[import-untyped]
    except ImportError:
        return
    tqdm.set_lock(threading.RLock())


class _Done:
    pass


_DONE = _Done()
_Stored = tuple[str, list[str], Any]  # ("ok", hashes, matrix) or ("fail", hashes, message)


class EmbeddingStage:
    """Embeds the chunks a run writes (and those earlier runs left), storing the vectors.

    The pipeline calls :meth:`start`, :meth:`submit` (from the writer thread, after each
    commit), :meth:`wait_for_room` (from the thread that feeds the writer), then :meth:`finish`
    or, when the run is interrupted, :meth:`abort`.
    """

    def __init__(
        self,
        embedder: Embedder,
        db_path: Path,
        report: EmbeddingReport,
        *,
        header_tokens: int = 32,
        on_progress: Callable[[int], None] | None = None,
        whole_index: bool = True,
    ) -> None:
        """``whole_index``: also embed the backlog earlier runs left and prune vectors no chunk
        needs, both scans of the whole index. A run limited to some paths (a watch update)
        leaves them to the next whole run: a save costs what it changed, not the index size."""
        from codeweaver.embed import embedder_spec
        from codeweaver.embed.budget import HeaderFitter

        self.embedder = embedder
        self.model = embedder.name
        self.db_path = db_path
        self.report = report
        self._fit = HeaderFitter(embedder, header_tokens)
        self._spec = embedder_spec(embedder)
        self._on_progress = on_progress
        self._whole_index = whole_index
        self._high_water = max(HIGH_WATER_BATCHES * embedder.batch_size, 256)
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._seen: set[str] = set()
        self._closed = False  # no more submits
        self._stop = False  # abort: leave now
        self._gave_up = False
        self._in_a_row = 0
        self._stored: queue.Queue[_Stored | _Done] = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._worker_seconds = 0.0
        self._model_recorded = False
        self._threads: list[threading.Thread] = []
        self._ended: list[threading.Event] = []
        self._reader: IndexStore | None = None
        self._writer: IndexStore | None = None

    # -- the pipeline's side ---------------------------------------------------------------------
    def start(self) -> None:
        """Open the stage's own connections and start its threads."""
        self._reader = IndexStore.open(self.db_path, create=False)
        self._writer = IndexStore.open(self.db_path, create=False)
        self._generation = vx.vectors_generation(self._writer)
        for target, name in ((self._embed_loop, "embed"), (self._store_loop, "embed-store")):
            ended = threading.Event()
            thread = threading.Thread(
                target=_then_set, args=(target, ended), name=f"codeweaver-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
            self._ended.append(ended)

    def worker_annotate(self) -> WorkerEmbedding | None:
        """The ``annotate`` that embeds beside the chunker, for an embedder cheap enough for
        it; None: the stage embeds everything itself."""
        if not self.embedder.embeds_beside_chunker:
            return None
        return WorkerEmbedding(self.embedder, self._fit.header_tokens, self.db_path)

    def submit(self, chunks: Iterable[CodeChunk], vectors: Iterable[Any] | None = None) -> None:
        """Queue committed chunks for embedding (never blocks; duplicates are counted once).

        ``vectors``: their rows, in order, where a worker embedded them (None for a chunk the
        stage must embed)."""
        with self._cond:
            if self._stop or self._gave_up:
                return  # the chunks stay pending for the next run
            rows = iter(vectors) if vectors is not None else None
            for chunk in chunks:
                row = next(rows) if rows is not None else None
                digest = chunk.content_hash
                if digest in self._seen:
                    self.report.reused += 1
                    continue
                self._seen.add(digest)
                self._queue.append(_Item(digest, chunk, row))
            self._cond.notify_all()

    def embedded_in_workers(self, seconds: float) -> None:
        """Count embedder time spent in the workers (:class:`WorkerEmbedding`; from the writer
        thread: the embed thread adds its own time to the report, this joins it at the end)."""
        self._worker_seconds += seconds

    def wait_for_room(self) -> None:
        """Block while the embedder is more than a few batches behind (backpressure)."""
        with self._cond:
            while (
                len(self._queue) >= self._high_water
                and not (self._stop or self._gave_up)
                and self._threads[0].is_alive()
            ):
                self._cond.wait(0.2)

    def finish(self) -> None:
        """Embed what is left, store it, prune vectors no chunk needs, and close.

        Raises:
            IndexStoreError: the vectors could not be written.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        try:
            for thread in self._threads:
                thread.join()
        except BaseException:  # Ctrl-C while the last batches embed
            self.abort()
            raise
        self.report.seconds += self._worker_seconds
        try:
            if self._error is not None:
                raise IndexStoreError(f"cannot store vectors: {self._error}") from self._error
            writer = self._writer
            assert writer is not None
            if self._whole_index and not self._gave_up:
                self.report.pruned = vx.prune_vectors(writer, self.model)
            self.report.pending = vx.count_pending(writer, self.model)
            if self._whole_index and vx.vectors_generation(writer) != self._generation:
                # The next search maps it, no table read. An update of some paths (a save under
                # watch) leaves it to the next search: rebuilding it costs ~0.2 s at 30,000
                # vectors, which a save that changed one function should not pay.
                vx.load_matrix(writer, self.model)
        finally:
            self._close()

    def abort(self) -> None:
        """Stop at once: what is stored stays stored; the rest is picked up by the next run."""
        with self._cond:
            self._stop = self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        for ended in self._ended:
            ended.wait(timeout=5)
        # A thread still in SQLite keeps its connection: closing it under the thread crashed
        # the process (SIGSEGV). Each thread says itself that it ended: after a join() that a
        # Ctrl-C interrupted, is_alive() can say False too early (CPython before 3.13).
        if all(ended.is_set() for ended in self._ended):
            self._close()

    def _close(self) -> None:
        for store in (self._reader, self._writer):
            if store is not None:
                store.close()
        self._reader = self._writer = None

    # -- the embed thread ------------------------------------------------------------------------
    def _embed_loop(self) -> None:
        try:
            for batch in self._batches():
                if self._stop:
                    break
                if not self._gave_up:
                    self._embed(batch)
        except BaseException as exc:  # a bug or a database error: stop the stage, keep the run
            self._error = exc
            self._stop = True
        finally:
            with self._cond:
                self._cond.notify_all()
            self._stored.put(_DONE)

    def _batches(self) -> Iterator[list[_Item]]:
        """The chunks this run writes, then those still without a vector, in embedder batches.

        The backlog (chunks an earlier run left: killed, failed, or a new model) comes last, once
        every file this run re-chunks has its new chunks: a chunk about to be replaced is never
        embedded.
        """
        yield from self._live()
        if not self._whole_index:
            return
        size = self.embedder.batch_size
        assert self._reader is not None
        backlog: list[_Item] = []
        for p in vx.iter_pending(self._reader, self.model):
            if self._stop or self._gave_up:
                return
            with self._cond:
                if p.content_hash in self._seen:
                    continue
                self._seen.add(p.content_hash)
            backlog.append(_Item(p.content_hash, _pending_chunk(p)))
            if len(backlog) >= size:
                yield backlog
                backlog = []
        if backlog:
            yield backlog

    def _live(self) -> Iterator[list[_Item]]:
        size = self.embedder.batch_size
        assert self._reader is not None
        while True:
            with self._cond:
                deadline = time.monotonic() + FILL_WAIT_SECONDS
                while not self._stop and not self._closed and len(self._queue) < size:
                    left = deadline - time.monotonic() if self._queue else 0.5
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self._stop or (self._closed and not self._queue):
                    return
                take = [self._queue.popleft() for _ in range(min(size, len(self._queue)))]
                self._cond.notify_all()  # room for the feeder
            if not take:
                continue
            have = vx.existing_hashes(self._reader, self.model, [i.content_hash for i in take])
            if have:
                with self._cond:
                    self.report.reused += len(have)
                take = [i for i in take if i.content_hash not in have]
            if take:
                yield take

    def _embed(self, items: list[_Item]) -> None:
        ready = [i for i in items if i.vector is not None]
        if ready:
            import numpy as np

            self._stored.put(
                ("ok", [i.content_hash for i in ready], np.stack([i.vector for i in ready]))
            )
            self.report.embedded += len(ready)
            if self._on_progress is not None:
                self._on_progress(self.report.embedded)
            items = [i for i in items if i.vector is None]
            if not items:
                return
        started = time.perf_counter()
        try:
            matrix = self.embedder.embed([self._fit(i.chunk) for i in items])
        except EmbeddingError as exc:
            self.report.seconds += time.perf_counter() - started
            self._failed(items, exc)
            return
        except Exception as exc:  # MemoryError, a provider bug: the chunks concerned fail
            self.report.seconds += time.perf_counter() - started
            self._failed(items, EmbeddingError(f"{type(exc).__name__}: {exc}", transient=True))
            return
        self.report.seconds += time.perf_counter() - started
        self._in_a_row = 0
        self._stored.put(("ok", [i.content_hash for i in items], matrix))
        self.report.embedded += len(items)
        if self._on_progress is not None:
            self._on_progress(self.report.embedded)

    def _failed(self, items: list[_Item], exc: EmbeddingError) -> None:
        if not exc.transient and len(items) > 1:  # refused for its input: find the culprit
            half = len(items) // 2
            self._embed(items[:half])
            self._embed(items[half:])
            return
        message = str(exc)
        self._stored.put(("fail", [i.content_hash for i in items], message))
        self.report.failed += len(items)
        room = MAX_FAILURES_LISTED - len(self.report.failures)
        self.report.failures.extend(
            EmbeddingFailure(i.chunk.path, i.chunk.symbol, i.content_hash, message)
            for i in items[: max(0, room)]
        )
        log.warning("could not embed %d chunk(s): %s", len(items), message)
        if exc.transient:
            self._in_a_row += 1
            if self._in_a_row >= MAX_TRANSIENT_IN_A_ROW:
                self._give_up(message)

    def _give_up(self, message: str) -> None:
        self.report.notice = (
            f"embedding stopped after {self._in_a_row} failed batches in a row ({message}); "
            "the chunks without a vector are embedded by the next run"
        )
        log.warning("%s", self.report.notice)
        with self._cond:
            self._gave_up = True
            self._queue.clear()
            self._cond.notify_all()

    # -- the store thread ------------------------------------------------------------------------
    def _store_loop(self) -> None:
        done = False
        while not done:
            items: list[_Stored] = []
            item = self._stored.get()
            while True:
                if isinstance(item, _Done):
                    done = True
                else:
                    items.append(item)
                try:
                    item = self._stored.get_nowait()
                except queue.Empty:
                    break
            if items and self._error is None:
                try:
                    self._write(items)
                except BaseException as exc:  # disk full, locked out: stop embedding
                    self._error = exc
                    with self._cond:
                        self._stop = True
                        self._cond.notify_all()

    def _write(self, items: list[_Stored]) -> None:
        writer = self._writer
        assert writer is not None
        with writer.transaction():
            for kind, hashes, payload in items:
                if kind == "fail":
                    vx.record_failures(writer, self.model, hashes, str(payload))
                    continue
                if not self._model_recorded:
                    vx.record_model(writer, self.model, int(payload.shape[1]), self._spec)
                    self._model_recorded = True
                vx.put_vectors(writer, self.model, hashes, payload)


def _pending_chunk(p: vx.PendingChunk) -> CodeChunk:
    """A chunk carrying what ``embedding_text()`` reads (path, symbols, content) and its hash."""
    chunk = trusted_chunk(
        p.path, "", p.content, 0, 0, 1, 1, (), p.symbol_path, 0, False, "semantic"
    )
    object.__setattr__(chunk, "_hash", p.content_hash)
    return chunk
