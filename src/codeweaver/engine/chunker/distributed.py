"""The ``dask`` executor: the same worker functions, run on a Dask distributed cluster.

Which cluster (first that applies)::

    client=Client(...)                      an existing client, used as is and never closed here
    client="tcp://host:8786"                an address given as the argument
    concurrency.scheduler_address           the setting; in the environment:
                                            CODEWEAVER_CHUNKER__CONCURRENCY__SCHEDULER_ADDRESS
    distributed.default_client()            a client this process already made the default
    dask config "scheduler-address"         Dask's own setting (DASK_SCHEDULER_ADDRESS)
    none of these                           a LocalCluster on 127.0.0.1: ``workers`` processes of
                                            one thread each, closed when the run ends
                                            (:func:`start_local_cluster`)

A scheduler address or a client is never guessed from the network: without one, the run stays
on this machine. (On one machine the ``process`` executor is faster; the local cluster is the
way to try the dask path without a cluster.)

A client this module opens connects within :data:`CONNECT_TIMEOUT` seconds or the run fails with
:class:`~codeweaver.core.errors.ExecutorError` naming the address; without the extra installed
the error says ``pip install 'codeweaver[distributed]'``.

Data flow (all in the caller's thread; Dask's client runs its own event-loop thread)::

    governor ──cloudpickle──▶ scatter(broadcast=True): one copy per worker, fetched from a peer
                              by a worker that joins later; a worker unpickles it on its first
                              task and keeps it (keyed by the bytes' digest), so the governor is
                              set up once per worker process, not once per file or batch
    batches (lazy) ──submit(dask_chunk_batch | dask_chunk_shipped, retries=2)──▶ scheduler
        at most TASKS_PER_THREAD tasks per worker thread in flight, and at most twice that
        many batches submitted but not yet yielded when ``ordered``
    as_completed ──▶ finished: decode rows into FileResults (exactly the serial executor's)
                 ├─▶ KilledWorker (Dask gave up: the task was on workers that died): its files
                 │   go to the quarantine, a queue of one-file tasks run ONE AT A TIME (so
                 │   files held together cannot take each other down); a file whose own task
                 │   meets KilledWorker QUARANTINE_KILLS times fails (stage "worker")
                 ├─▶ lost (worker or scheduler connection gone, cancelled): resubmitted as is,
                 │   at most MAX_RESUBMITS times, then its files fail (stage "worker")
                 └─▶ any other task error (after Dask's retries): its files fail with it

Every input file ends chunked, skipped or failed; none is dropped.

Where files are read (``concurrency.ship_file_bytes``):

``False`` (default)
    Workers read ``DiscoveredFile.path`` themselves: the usual cluster shares the filesystem
    (NFS, a shared volume, a checkout at the same path on every node). Only paths travel.
``True``
    The client reads each file (lazily, only batches about to be submitted) and scatters the
    batch's bytes to a worker, where its task then runs; for clusters without a shared
    filesystem. Results are the same; files unreadable on the client are skipped or failed
    there, without a task.

Limits (Dask's, not ours): a running task cannot be interrupted, so the per-file time limit is
only the cooperative deadline ``chunk_bytes`` checks between steps. A worker killed mid-file
costs a silent retry of its tasks (Dask reschedules them) until Dask gives up on a task
(``distributed.scheduler.allowed-failures``, default 3); only then does the quarantine above
pin the death on one file. A file that crashes every worker it touches therefore costs
``(allowed_failures + 1) * (1 + QUARANTINE_KILLS)`` worker restarts; lower that setting on a
cluster that meets many such files.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import signal
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import cloudpickle

from codeweaver.core.chunks import SkipRecord
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.errors import ExecutorError, FileSkippedError
from codeweaver.engine.chunker._pool import Batch, pop_finished
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.results import FileResult, RunStats
from codeweaver.engine.chunker.worker import (
    CompactResult,
    current_governor,
    decode_result,
    failed_result,
    failure_from_exception,
    init_worker,
    process_file_compact,
)

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "CONNECT_TIMEOUT",
    "INSTALL_HINT",
    "MAX_RESUBMITS",
    "TASKS_PER_THREAD",
    "connect",
    "dask_chunk_batch",
    "dask_chunk_shipped",
    "dask_setup",
    "iter_dask",
    "require_distributed",
    "start_local_cluster",
    "worker_setups",
]

log = logging.getLogger("codeweaver")

INSTALL_HINT = "pip install 'codeweaver[distributed]'"
CONNECT_TIMEOUT = 10.0
"""Seconds to reach a scheduler before the run fails (Dask's own default is 30)."""
TASKS_PER_THREAD = 2
"""Tasks in flight per worker thread: one running, one queued, so no thread waits on us."""
TASK_RETRIES = 2
"""Dask's ``retries=``: a task that raised is run again this many times."""
MAX_RESUBMITS = 3
"""A batch lost this many times (connection, cancellation) fails its files."""
QUARANTINE_KILLS = 2
"""A file whose own one-file task Dask gave up on (KilledWorker) this many times fails."""
WORKER_WAIT_TIMEOUT = 60.0
"""Seconds to wait for a first worker on a cluster that has none (one that is scaling up)."""
_GOVERNORS_KEPT = 8
_WINDOW_REFRESH_SECONDS = 5.0


# -- the extra and the client ------------------------------------------------------------------
def require_distributed() -> ModuleType:
    """Import ``distributed`` or raise :class:`ExecutorError` saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise ExecutorError(
            f"the 'dask' executor needs Dask distributed ({exc}); install it with: {INSTALL_HINT}"
        ) from exc
    return distributed


@contextlib.contextmanager
def connect(
    client: Client | str | None = None,
    *,
    address: str | None = None,
    workers: int = 1,
    timeout: float | None = None,
) -> Iterator[Client]:
    """The client to run on (see the module docstring for the order); closes what it opened.

    Raises:
        ExecutorError: the extra is missing, the client given is closed, or the scheduler cannot
            be reached within ``timeout`` (default :data:`CONNECT_TIMEOUT`) seconds.
    """
    distributed = require_distributed()
    if client is not None and not isinstance(client, str):
        if client.status not in {"running", "newly-created", "connecting"}:
            raise ExecutorError(
                f"the Dask client passed in is not running (status {client.status})"
            )
        yield client
        return
    addr = client if isinstance(client, str) else address
    if addr is None:
        with contextlib.suppress(ValueError):
            ambient = distributed.default_client()
            if ambient.status == "running":
                yield ambient
                return
        import dask

        configured = dask.config.get("scheduler-address", None)
        addr = str(configured) if configured else None
    if addr is not None:
        limit = CONNECT_TIMEOUT if timeout is None else timeout
        try:
            opened = distributed.Client(addr, timeout=limit, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExecutorError(
                f"cannot reach the Dask scheduler at {addr} within {limit:g}s "
                f"({type(exc).__name__}: {exc}); check that it runs and the address is right, "
                "or leave scheduler_address unset to run a local cluster"
            ) from exc
        try:
            yield opened
        finally:
            _quietly_close(opened)
        return
    cluster = start_local_cluster(workers)
    try:
        local = distributed.Client(cluster, set_as_default=False)
    except BaseException:
        _quietly_close(cluster)
        raise
    try:
        yield local
    finally:
        _quietly_close(local)
        _quietly_close(cluster)


def start_local_cluster(workers: int) -> Any:
    """The local cluster the ``dask`` executor starts when it is given no cluster.

    ``workers`` processes of one thread each, on 127.0.0.1 (no fixed port, no dashboard),
    workers that leave Ctrl-C to the parent (:func:`dask_setup`) and without Dask's statistical
    profiler (it samples the chunking thread's stack every 10 ms: about 10% of the chunking time,
    for a dashboard nobody can open). The caller closes it.
    """
    distributed = require_distributed()
    return distributed.LocalCluster(
        n_workers=max(1, workers),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # The scheduler serves /health and /metrics even without a dashboard, by default on
        # 8787, Dask's dashboard port: a user's own cluster there made ours warn and move. Any
        # free loopback port serves.
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        preload=[__name__],  # dask_setup: also in workers a nanny restarts
        silence_logs=logging.ERROR,  # not a warning per task cancelled when the caller stops
    )


def dask_setup(worker: Any) -> None:
    """Preload hook for the workers of the local cluster: no SIGINT, no profiler.

    A Ctrl-C in a terminal reaches the whole process group; the parent stops the run and
    closes the cluster, so workers must not die first (tracebacks on the console, and a race
    between the parent's shutdown and the scheduler losing every worker). The profiler feeds
    a dashboard this cluster does not have.
    """
    with contextlib.suppress(ValueError, OSError):  # not the main thread: leave it
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    callbacks = getattr(worker, "periodic_callbacks", {})
    for name in ("profile", "profile-cycle"):
        callback = callbacks.pop(name, None)
        if callback is not None:
            callback.stop()


def _quietly_close(obj: Any) -> None:
    with contextlib.suppress(Exception):
        obj.close()


# -- worker side (module level: Dask ships references to these, not code) ----------------------
_governors: OrderedDict[str, ChunkGovernor] = OrderedDict()
_governors_lock = threading.Lock()
_setups = 0


class WorkerSetupError(RuntimeError):
    """A Dask worker could not unpickle the governor (its traceback text is the message)."""


def _worker_governor(key: str, governor_bytes: bytes) -> ChunkGovernor:
    """This process's governor for ``key``: unpickled on first use, then kept."""
    global _setups  # noqa: PLW0603 - per-process state, like worker.init_worker's
    with _governors_lock:
        governor = _governors.get(key)
        if governor is not None:
            _governors.move_to_end(key)
            return governor
        try:
            init_worker(governor_bytes)  # faulthandler, the chunker imported, the governor
        except Exception as exc:
            import traceback

            raise WorkerSetupError("".join(traceback.format_exception(exc))) from None
        governor = current_governor()
        _governors[key] = governor
        while len(_governors) > _GOVERNORS_KEPT:
            _governors.popitem(last=False)
        _setups += 1
        return governor


def worker_setups() -> int:
    """How many governors this process has unpickled (for ``client.run``: once per worker)."""
    return _setups


def dask_chunk_batch(
    key: str, governor_bytes: bytes, files: Sequence[DiscoveredFile]
) -> list[CompactResult]:
    """Chunk files the worker reads itself (a shared filesystem); one compact result per file."""
    governor = _worker_governor(key, governor_bytes)
    return [process_file_compact(f, governor) for f in files]


def dask_chunk_shipped(
    key: str, governor_bytes: bytes, files: Sequence[DiscoveredFile], data: Sequence[bytes]
) -> list[CompactResult]:
    """Chunk files whose bytes the client read and sent (no shared filesystem)."""
    governor = _worker_governor(key, governor_bytes)
    return [process_file_compact(f, governor, data=d) for f, d in zip(files, data, strict=True)]


def read_for_shipping(file: DiscoveredFile, governor: ChunkGovernor) -> bytes | FileResult:
    """The file's bytes, or the skipped/failed result ``process_file`` gives when it cannot read."""
    from codeweaver.engine.chunker.file_chunker import read_source

    try:
        return read_source(file.path, governor.max_file_bytes)
    except FileSkippedError as exc:
        return FileResult(
            file=file,
            status="skipped",
            skip=SkipRecord(path=file.path, reason=exc.reason, detail=exc.detail),
        )
    except Exception as exc:
        return FileResult(
            file=file,
            status="failed",
            failure=failure_from_exception(file.path, exc, default_stage="read"),
        )


# -- client side -------------------------------------------------------------------------------
def iter_dask(
    batches: Iterator[Batch],
    governor: ChunkGovernor,
    *,
    client: Client | str | None = None,
    workers: int = 1,
    ordered: bool = False,
    stats: RunStats | None = None,
) -> Iterator[FileResult]:
    """Yield a result for every file of every batch, run on a Dask cluster.

    ``client``: a ``distributed.Client``, a scheduler address, or None (the settings, then a
    local cluster of ``workers`` processes). ``governor.concurrency.ship_file_bytes`` says
    whether the payload carries the bytes.

    Raises:
        ExecutorError: the extra is missing, the scheduler cannot be reached, the governor does
            not pickle, or a worker cannot unpickle it.
    """
    try:
        governor_bytes = cloudpickle.dumps(governor)
    except Exception as exc:
        raise ExecutorError(
            f"the governor cannot be shipped to Dask workers ({type(exc).__name__}: {exc}); "
            "make its token counter picklable by cloudpickle"
        ) from exc
    run_stats = stats if stats is not None else RunStats()
    address = governor.concurrency.scheduler_address
    with connect(client, address=address, workers=workers) as dask_client:
        run = _DaskRun(dask_client, governor, governor_bytes, run_stats)
        try:
            yield from run.run(batches, ordered=ordered)
        finally:
            run.cancel()


@dataclass(eq=False, slots=True)
class _Task:
    batch: Batch
    seqs: list[int]
    resubmits: int = 0
    kills: int = 0  # KilledWorker answers for this one-file task
    quarantined: bool = False  # run alone: split out of a task Dask gave up on
    payload: Any = None  # ship_file_bytes: the future of the scattered bytes


class _DaskRun:
    """One run's bookkeeping: the scattered governor, the futures in flight, the window."""

    def __init__(
        self, client: Client, governor: ChunkGovernor, governor_bytes: bytes, stats: RunStats
    ) -> None:
        from distributed import as_completed

        self._client: Any = client  # distributed is untyped
        self._governor = governor
        self._governor_bytes = governor_bytes
        self._key = hashlib.blake2b(governor_bytes, digest_size=16).hexdigest()
        self._ship = governor.concurrency.ship_file_bytes
        self._stats = stats
        self._run_id = uuid.uuid4().hex[:8]
        self._counter = itertools.count()
        self._tasks: dict[Any, _Task] = {}  # distributed.Future -> its task
        self._quarantine: deque[_Task] = deque()
        self._quarantine_busy = False
        ac: Any = as_completed
        self._done: Any = ac(loop=client.loop)
        self._governor_future: Any = None
        self._window = 1
        self._window_checked = 0.0

    # -- the loop ----------------------------------------------------------------------------
    def run(self, batches: Iterator[Batch], *, ordered: bool) -> Iterator[FileResult]:
        self._wait_for_a_worker()
        self._refresh_window(force=True)
        outstanding: deque[Batch] = deque()  # submitted, not yet yielded (submission order)
        exhausted = False
        while True:
            self._refresh_window()
            limit = self._window * (2 if ordered else 1)
            while not exhausted and len(self._tasks) < self._window and len(outstanding) < limit:
                batch = next(batches, None)
                if batch is None:
                    exhausted = True
                    break
                outstanding.append(batch)
                seqs = [batch.first_seq + i for i in range(len(batch.files))]
                self._submit(_Task(batch, seqs))
            while self._quarantine and not self._quarantine_busy:
                self._submit(self._quarantine.popleft())
            yield from pop_finished(outstanding, ordered=ordered)
            if exhausted and not outstanding:
                return
            if not self._tasks:
                if exhausted or len(outstanding) >= limit:
                    raise ExecutorError("dask executor bookkeeping: files pending, no task")
                continue
            self._settle(next(self._done))

    def cancel(self) -> None:
        """Release every future of this run (running tasks finish; their results are dropped)."""
        futures: list[Any] = list(self._tasks)
        if self._governor_future is not None:
            futures.append(self._governor_future)
        self._tasks.clear()
        self._quarantine.clear()
        self._done.clear()
        if futures and self._client.status == "running":
            with contextlib.suppress(Exception):
                self._client.cancel(futures)
        self._governor_future = None

    def _wait_for_a_worker(self) -> None:
        if self._client.nthreads():
            return
        try:
            self._client.wait_for_workers(1, timeout=WORKER_WAIT_TIMEOUT)
        except (TimeoutError, OSError) as exc:
            raise ExecutorError(
                f"the Dask cluster at {self._client.scheduler.address} has no workers "
                f"(none joined within {WORKER_WAIT_TIMEOUT:g}s)"
            ) from exc

    def _refresh_window(self, *, force: bool = False) -> None:
        """A few tasks per worker thread; the cluster may grow or shrink while we run."""
        now = time.monotonic()
        if not force and now - self._window_checked < _WINDOW_REFRESH_SECONDS:
            return
        self._window_checked = now
        try:
            threads = sum(self._client.nthreads().values())
        except Exception:  # the scheduler is away for a moment: keep the last window
            return
        self._window = max(2, threads * TASKS_PER_THREAD)
        self._stats.workers = threads

    # -- submitting --------------------------------------------------------------------------
    def _governor_on_cluster(self) -> Any:
        """The scattered governor bytes; scattered again if every copy was lost."""
        fut = self._governor_future
        if fut is None or fut.status in {"lost", "cancelled", "error"}:
            fut = self._scatter(self._governor_bytes, broadcast=True)
            self._governor_future = fut
        return fut

    def _scatter(self, data: Any, *, broadcast: bool = False) -> Any:
        """``client.scatter``, waiting for a worker once if the cluster has none right now."""
        for attempt in (1, 2):
            try:
                return self._client.scatter(data, broadcast=broadcast, hash=False)
            except (TimeoutError, OSError) as exc:  # "No valid workers found"
                if attempt == 2:
                    raise ExecutorError(
                        f"cannot send data to the Dask workers ({type(exc).__name__}: {exc})"
                    ) from exc
                self._wait_for_a_worker()
        raise AssertionError("unreachable")

    def _submit(self, task: _Task) -> None:
        batch = task.batch
        seqs = task.seqs
        files = [batch.file(s) for s in seqs]
        name = f"codeweaver-chunk-{self._run_id}-{batch.bid}-{next(self._counter)}"
        if self._ship:
            kept: list[int] = []
            data: list[bytes] = []
            for s, f in zip(seqs, files, strict=True):
                read = read_for_shipping(f, self._governor)
                if isinstance(read, FileResult):
                    batch.set(s, read)  # unreadable here: no task needed
                else:
                    kept.append(s)
                    data.append(read)
            if not kept:
                return
            task.seqs = kept
            # Scattered, not put in the task: Dask keeps its last 1,000 small messages on every
            # stream for debugging, so bytes inside tasks would stay in memory (client and
            # scheduler) long after the run. Scattered data goes by RPC and is freed with the
            # task (the _Task holds the future until then).
            task.payload = self._scatter([data])[0]
            fut = self._client.submit(
                dask_chunk_shipped,
                self._key,
                self._governor_on_cluster(),
                [batch.file(s) for s in kept],
                task.payload,
                key=name,
                retries=TASK_RETRIES,
            )
        else:
            fut = self._client.submit(
                dask_chunk_batch,
                self._key,
                self._governor_on_cluster(),
                files,
                key=name,
                retries=TASK_RETRIES,
            )
        self._tasks[fut] = task
        self._done.add(fut)
        if task.quarantined:
            self._quarantine_busy = True

    # -- results -----------------------------------------------------------------------------
    def _settle(self, fut: Any) -> None:
        task = self._tasks.pop(fut, None)
        if task is None:  # cancelled by us
            return
        if task.quarantined:
            self._quarantine_busy = False
        batch = task.batch
        error: BaseException | None = None
        if fut.status == "finished":
            try:
                rows: list[CompactResult] = fut.result()
            except Exception as exc:  # the result did not come back (deserialization, network)
                error = exc
            else:
                for s, compact in zip(task.seqs, rows, strict=True):
                    batch.set(s, decode_result(compact, batch.file(s)))
                return
        elif fut.status == "cancelled":
            error = CancelledError(f"task {fut.key} was cancelled (scheduler restart or lost)")
        else:
            try:
                error = fut.exception()
            except Exception as exc:  # the exception itself did not arrive
                error = exc
        del fut
        self._handle_error(task, error)

    def _handle_error(self, task: _Task, error: BaseException | None) -> None:
        from distributed import KilledWorker

        batch = task.batch
        if isinstance(error, WorkerSetupError):
            raise ExecutorError(f"a Dask worker could not set up the governor:\n{error}")
        if isinstance(error, KilledWorker):
            if not task.quarantined:
                # One of these files may be killing workers: each goes alone, one at a time.
                log.info(
                    "dask: workers died holding a task of %d file(s); retrying them one by one",
                    len(task.seqs),
                )
                self._stats.retries += len(task.seqs)
                self._quarantine.extend(
                    _Task(batch, [s], task.resubmits, quarantined=True) for s in task.seqs
                )
                return
            if task.kills + 1 < QUARANTINE_KILLS:
                self._stats.retries += 1
                self._quarantine.append(
                    _Task(batch, task.seqs, task.resubmits, task.kills + 1, quarantined=True)
                )
                return
            for s in task.seqs:
                batch.set(
                    s,
                    failed_result(
                        batch.file(s),
                        "worker",
                        "WorkerDied",
                        f"Dask workers died while chunking this file, {QUARANTINE_KILLS} times "
                        f"when it was retried on its own ({error})",
                    ),
                )
            return
        lost = isinstance(error, (OSError, CancelledError)) or error is None
        if lost and task.resubmits < MAX_RESUBMITS:
            log.info("dask: task lost (%s); resubmitting %d file(s)", error, len(task.seqs))
            self._stats.retries += len(task.seqs)
            again = _Task(batch, task.seqs, task.resubmits + 1, task.kills, task.quarantined)
            if again.quarantined:
                self._quarantine.append(again)
            else:
                self._submit(again)
            return
        exc = error if error is not None else ExecutorError("task lost without an error")
        for s in task.seqs:
            failure = failure_from_exception(batch.file(s).path, exc, default_stage="worker")
            batch.set(
                s,
                FileResult(file=batch.file(s), status="failed", failure=failure),
            )
