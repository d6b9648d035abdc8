"""Chunk many files on every core: :func:`chunk_files_parallel` and :func:`iter_file_results`.

Contract: for any iterable of :class:`~codeweaver.core.discovery.DiscoveredFile`,
``iter_file_results`` yields exactly one :class:`FileResult` per input file (chunked, skipped or
failed), whatever the executor, and every executor gives the same result for a file as the
serial one. ``ordered=True`` yields in input order; otherwise results come as they finish.

Executors (explicit argument > ``governor.concurrency.executor`` > ``"auto"``):

``serial``
    In the caller's thread. Per-file time limit: checked between steps only.
``thread``
    A ``ThreadPoolExecutor``. Only useful on a free-threaded interpreter: tree-sitter holds the
    GIL. Threads cannot be killed, so the time limit is the cooperative deadline that
    ``chunk_bytes`` checks between steps; a parse that never returns keeps its thread, and
    breaking out of the loop cancels queued batches but lets running ones finish.
``process``
    Persistent worker processes (see :mod:`codeweaver.engine.chunker._pool`), set up once with
    the governor as cloudpickle bytes, fed batches of plain ``DiscoveredFile`` and answering
    with compact rows. A crash fails only the file it happened on; a hung file is killed.
    Start method: ``concurrency.start_method``, else the host's, else the platform default
    (``forkserver`` instead of ``fork`` while other threads run in this process).
``auto``
    Serial for one worker (one usable CPU) or for little work: an input of at most
    ``AUTO_SERIAL_MAX_BYTES`` (6 MB; 1 MB where workers fork; the input is peeked at, not
    consumed), where starting worker processes costs more than they save; threads on a
    free-threaded interpreter, processes otherwise. More workers than usable CPUs is warned
    about.
``dask``
    The same worker functions on a Dask distributed cluster (the ``distributed`` extra): an
    existing ``client=``, a scheduler address (``client="tcp://..."`` or
    ``concurrency.scheduler_address``), else a LocalCluster on loopback; see
    :mod:`codeweaver.engine.chunker.distributed`. Never chosen by ``auto``.

Memory stays flat: input is consumed lazily and at most a few batches per worker are in flight
(or finished but not yet yielded), however many files there are.

Example:
    >>> from codeweaver.engine.chunker.governor import ChunkGovernor
    >>> governor = ChunkGovernor(max_chunk_chars=1500)
    >>> for path, chunks in chunk_files_parallel([], governor):  # doctest: +SKIP
    ...     store(path, chunks)
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import chain
from typing import Any, Literal, cast

import cloudpickle

from codeweaver.core.chunks import CodeChunk, FailureRecord, SkipRecord
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.errors import CodeWeaverError, ConfigError, ExecutorError
from codeweaver.core.languages import TEXT, language_for_path
from codeweaver.engine.chunker._pool import Batch, ProcessPool
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.guards import (
    REPEATED_FAILURES,
    FailureStreak,
    check_token_counter,
    main_script_importable,
)
from codeweaver.engine.chunker.results import FileResult, RunStats
from codeweaver.engine.chunker.worker import (
    Annotate,
    annotated,
    failed_result,
    process_file,
    watch_interrupts,
)

__all__ = [
    "AUTO_SERIAL_MAX_BYTES",
    "AUTO_SERIAL_MAX_BYTES_FORK",
    "REPEATED_FAILURES",
    "FileLike",
    "ResolvedExecutor",
    "check_token_counter",
    "chunk_files_parallel",
    "chunk_files_parallel_dict",
    "default_worker_count",
    "iter_file_results",
    "resolve_executor",
    "resolve_worker_count",
]

log = logging.getLogger("codeweaver")

ResolvedExecutor = Literal["serial", "thread", "process", "dask"]
FileLike = DiscoveredFile | str | os.PathLike[str]
"""What the entry points take: a discovered file, or a path (``DiscoveredFile.from_path``)."""
_KINDS = ("auto", "serial", "thread", "process", "dask")

MAX_DEFAULT_WORKERS = 32
"""The default worker count never exceeds this (more rarely pays for its memory)."""
AUTO_SERIAL_MAX_BYTES = 6_000_000
AUTO_SERIAL_MAX_BYTES_FORK = 1_000_000
"""``auto`` stays serial when the whole input is at most this many bytes of source: below it,
starting worker processes costs more than they save. Workers that import the chunker afresh
(``spawn``; ``forkserver`` the first time, when its server imports it: ~0.3 s on an idle 2-core
machine) need ~6 MB of work to pay off, forked ones (~0.03 s) ~1 MB
(``benchmarks/bench_auto.py`` prints the measurement). Later ``forkserver`` pools fork from a
server that holds the chunker already (~0.07 s)."""
AUTO_PEEK_MAX_FILES = 4096
"""``auto`` looks at most this far ahead in the input to size it (a bounded buffer)."""
AUTO_SERIAL_MAX_FILES = 8
"""Every executor peeks at this many files first: a smaller input gets no more workers than
files (and an empty one starts none)."""
BATCH_MAX_FILES = 64
BATCH_MAX_BYTES = 512 * 1024
"""Adaptive batches: up to this many files or bytes (the first batches are smaller)."""


# -- choosing the executor and the worker count ------------------------------------------------
def default_worker_count() -> int:
    """The CPUs this process may use: affinity mask, then cgroup CPU quota, capped.

    >>> 1 <= default_worker_count() <= MAX_DEFAULT_WORKERS
    True
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_limit()
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


def _cgroup_cpu_limit(root: str = "/sys/fs/cgroup") -> int | None:
    """The CPU quota of this process's cgroup, rounded up, or None when there is none."""
    try:  # cgroup v2: "max 100000" or "200000 100000"
        with open(os.path.join(root, "cpu.max"), encoding="ascii") as fh:
            quota_s, period_s = fh.read().split()[:2]
        if quota_s == "max":
            return None
        return max(1, math.ceil(int(quota_s) / int(period_s)))
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        with open(os.path.join(root, "cpu", "cpu.cfs_quota_us"), encoding="ascii") as fh:
            quota = int(fh.read())
        with open(os.path.join(root, "cpu", "cpu.cfs_period_us"), encoding="ascii") as fh:
            period = int(fh.read())
        if quota > 0 and period > 0:
            return max(1, math.ceil(quota / period))
    except (OSError, ValueError):
        pass
    return None


def _free_threaded() -> bool:
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return is_gil_enabled is not None and not is_gil_enabled()


def resolve_worker_count(max_workers: int | None, governor: ChunkGovernor | None = None) -> int:
    """Explicit ``max_workers`` > ``governor.concurrency.max_parallel_files`` > the CPU count."""
    if max_workers is not None:
        if max_workers < 1:
            raise ConfigError("max_workers", max_workers, "argument", "must be at least 1")
        return max_workers
    if governor is not None and governor.concurrency.max_parallel_files is not None:
        return governor.concurrency.max_parallel_files
    return default_worker_count()


def resolve_executor(
    executor_type: str | None,
    governor: ChunkGovernor | None = None,
    *,
    sample: Sequence[DiscoveredFile] | None = None,
    complete: bool = False,
    workers: int | None = None,
) -> ResolvedExecutor:
    """Turn a requested executor (``"auto"`` included) into the one to use.

    ``auto`` is serial for one worker (one usable CPU) or for little work: ``sample`` is the
    start of the input and ``complete`` says it is all of it, so an input of at most
    :data:`AUTO_SERIAL_MAX_BYTES` is chunked serially. Otherwise threads on a free-threaded
    interpreter, processes elsewhere.

    Raises:
        ConfigError: an unknown executor name.
    """
    kind = _requested_kind(executor_type, governor)
    if kind != "auto":
        return cast(ResolvedExecutor, kind)
    if workers is not None and workers <= 1:
        return "serial"
    if (
        sample is not None
        and complete
        and sum(f.size for f in sample) <= _auto_serial_bytes(governor)
    ):
        return "serial"
    return "thread" if _free_threaded() else "process"


def _auto_serial_bytes(governor: ChunkGovernor | None) -> int:
    """How much work ``auto`` leaves to one process: less where workers start cheaply."""
    if _free_threaded():
        return AUTO_SERIAL_MAX_BYTES_FORK  # threads start as cheaply as forks
    try:
        method = _start_method(governor) if governor is not None else None
    except ExecutorError:  # workers could not start at all: as costly as it gets
        method = None
    return AUTO_SERIAL_MAX_BYTES_FORK if method == "fork" else AUTO_SERIAL_MAX_BYTES


def _requested_kind(executor_type: str | None, governor: ChunkGovernor | None) -> str:
    """The executor asked for (``"auto"`` included): argument > settings > ``"auto"``."""
    source = "argument"
    kind = executor_type
    if kind is None and governor is not None:
        kind, source = governor.concurrency.executor, "settings (concurrency.executor)"
    kind = kind or "auto"
    if kind not in _KINDS:
        raise ConfigError("executor", kind, source, f"must be one of {', '.join(_KINDS)}")
    return kind


def _peek(
    files: Iterator[DiscoveredFile], *, max_files: int, max_bytes: float = math.inf
) -> tuple[list[DiscoveredFile], bool]:
    """The first files of ``files`` (up to ``max_files``, or past ``max_bytes``), and whether
    that is all of them."""
    sample: list[DiscoveredFile] = []
    nbytes = 0
    for f in files:
        sample.append(f)
        nbytes += f.size
        if len(sample) > max_files or nbytes > max_bytes:
            return sample, False
    return sample, True


def _warn_oversubscribed(kind: str, workers: int) -> None:
    cpus = default_worker_count()
    if kind in ("process", "thread") and workers > cpus:
        log.warning(
            "%d %s workers on %d usable CPU(s): workers beyond the CPU count only add "
            "overhead; leave the worker count unset to use %d",
            workers,
            kind,
            cpus,
            cpus,
        )


def _start_method(governor: ChunkGovernor) -> str:
    """The start method for worker processes; never changes the global one.

    The configured one, else the one the host set (if not the platform default), else the
    platform default -- except that a default of ``fork`` becomes ``forkserver`` while other
    threads run in this process (a
    writer thread, a progress bar): forking a multi-threaded process can copy a lock some other
    thread holds, and the child would wait on it forever.

    ``spawn`` and ``forkserver`` workers re-import the main script, which is impossible when it
    was read from standard input (``python - <<EOF``): then a default becomes ``fork`` where
    there is one, and a method someone chose is an :class:`ExecutorError` saying why.
    """
    available = multiprocessing.get_all_start_methods()
    host: str | None = multiprocessing.get_start_method(allow_none=True)
    if host == available[0]:
        # The platform default, which any spawn or forkserver process start fixes as the global
        # method (multiprocessing asks for it): not a choice the host made.
        host = None
    chosen = governor.concurrency.start_method or host
    method = chosen or available[0]
    if (
        chosen is None
        and method == "fork"
        and "forkserver" in available
        and threading.active_count() > 1
    ):
        method = "forkserver"
    if method == "fork" or main_script_importable():
        return method
    if chosen is None and "fork" in available:
        return "fork"
    raise ExecutorError(
        f"worker processes cannot start with the {method!r} start method: they re-import the "
        "main script, and this one was read from standard input; save it to a file, or use "
        "start_method='fork' or executor_type='thread'"
    )


# -- the public entry points -------------------------------------------------------------------
def iter_file_results(
    files: Iterable[FileLike],
    governor: ChunkGovernor,
    *,
    max_workers: int | None = None,
    executor_type: str | None = None,
    ordered: bool = False,
    batch_size: int | None = None,
    stats: RunStats | None = None,
    on_result: Callable[[FileResult], None] | None = None,
    client: Any = None,
    annotate: Annotate | None = None,
) -> Iterator[FileResult]:
    """Yield one :class:`FileResult` per input file; see the module docstring.

    ``annotate``: a module-level function of a chunked file's :class:`FileResult`, run where
    the file was chunked (in the worker process under ``process``), whose return value (plain
    data) comes back as the result's ``annotation``: work derived from the chunks then runs on
    every core, not in the caller. An exception there fails the file. Under ``process`` its
    time counts toward the file's ``file_timeout_seconds`` (the worker is stopped past it, the
    file failing with stage ``timeout``), as under no other executor: only worker processes can
    be stopped. Under ``dask`` it runs in this process, after the file comes back.

    Arguments are checked at call time; work (and consuming ``files``) starts at the first
    ``next()``. ``stats`` is filled as results are yielded. Breaking out of the loop (or
    ``close()``) stops and reaps every worker. Failures are returned, not logged (that is
    :func:`chunk_files_parallel`'s job, or the caller's). ``client`` (the ``dask`` executor
    only): a ``distributed.Client`` or a scheduler address; it beats the settings.

    A run whose first :data:`REPEATED_FAILURES` files all fail the same way (the same error
    in the same stage, and nothing chunked or skipped meanwhile) stops there with
    :class:`~codeweaver.core.errors.RepeatedFailureError`: the cause is not in the files (a
    token counter with a bug, workers that cannot start).

    Raises:
        ConfigError: an unknown executor, a worker count or batch size below 1; a token
            counter that fails on a short sample of code or returns something that is not a
            count (checked here, once, before any file).
        ExecutorError: workers that cannot start; for ``dask``: the extra is missing (raised
            here) or the scheduler cannot be reached (raised at the first ``next()``).
        RepeatedFailureError: see above (raised from ``next()``).
    """
    if resolve_executor(executor_type, governor) == "dask":
        from codeweaver.engine.chunker.distributed import require_distributed

        require_distributed()
    check_token_counter(governor)
    workers = resolve_worker_count(max_workers, governor)
    size = batch_size if batch_size is not None else governor.concurrency.batch_size
    if size is not None and size < 1:
        raise ConfigError("batch_size", size, "argument", "must be at least 1")
    run_stats = stats if stats is not None else RunStats()
    return _iter_results(
        iter(files),
        governor,
        executor_type,
        workers,
        ordered,
        size,
        run_stats,
        on_result,
        client,
        annotate,
    )


def chunk_files_parallel(
    files: Iterable[FileLike],
    governor: ChunkGovernor,
    *,
    max_workers: int | None = None,
    executor_type: str | None = None,
    ordered: bool = False,
    batch_size: int | None = None,
    stats: RunStats | None = None,
    on_failure: Callable[[FailureRecord], None] | None = None,
    on_skip: Callable[[SkipRecord], None] | None = None,
    client: Any = None,
) -> Iterator[tuple[str, list[CodeChunk]]]:
    """Yield ``(file.path, chunks)`` for every file that was chunked, as results land.

    Failed files are logged once (logger ``codeweaver``, WARNING), passed to ``on_failure`` and
    recorded in ``stats``; skipped files go to ``on_skip`` and ``stats``. The run's summary is
    logged at INFO when it ends.

    Example:
        >>> governor = ChunkGovernor(max_chunk_tokens=512, token_counter=lambda s: len(s) // 4)
        >>> files = discover_files("repo/")  # doctest: +SKIP
        >>> for path, chunks in chunk_files_parallel(files, governor):  # doctest: +SKIP
        ...     store(path, chunks)
    """
    run_stats = stats if stats is not None else RunStats()
    results = iter_file_results(
        files,
        governor,
        max_workers=max_workers,
        executor_type=executor_type,
        ordered=ordered,
        batch_size=batch_size,
        stats=run_stats,
        client=client,
    )
    return _iter_chunks(results, run_stats, on_failure, on_skip)


def chunk_files_parallel_dict(
    files: Iterable[FileLike],
    governor: ChunkGovernor,
    **kwargs: Any,
) -> dict[str, list[CodeChunk]]:
    """:func:`chunk_files_parallel` collected into ``{file.path: chunks}`` (input order)."""
    kwargs.setdefault("ordered", True)
    return dict(chunk_files_parallel(files, governor, **kwargs))


def _iter_chunks(
    results: Iterator[FileResult],
    stats: RunStats,
    on_failure: Callable[[FailureRecord], None] | None,
    on_skip: Callable[[SkipRecord], None] | None,
) -> Iterator[tuple[str, list[CodeChunk]]]:
    with _closing(results):
        for result in results:
            if result.status == "chunked":
                yield result.file.path, result.chunks
            elif result.status == "failed" and result.failure is not None:
                log.warning("chunking failed: %s", result.failure.describe())
                if on_failure is not None:
                    on_failure(result.failure)
            elif result.skip is not None:
                skip = result.skip
                log.debug("skipped %s: %s %s", result.file.path, skip.reason, skip.detail)
                if on_skip is not None:
                    on_skip(result.skip)
    log.info("%s", stats.summary())


class _closing:
    """Close a generator on the way out (so an early ``break`` reaps its workers now)."""

    def __init__(self, gen: Iterator[Any]) -> None:
        self._gen = gen

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()


# -- the run -----------------------------------------------------------------------------------
def _iter_results(
    files: Iterator[FileLike],
    governor: ChunkGovernor,
    executor_type: str | None,
    workers: int,
    ordered: bool,
    batch_size: int | None,
    stats: RunStats,
    on_result: Callable[[FileResult], None] | None,
    client: Any = None,
    annotate: Annotate | None = None,
) -> Iterator[FileResult]:
    found = (
        f if isinstance(f, DiscoveredFile) else _file_for_path(f, governor.max_file_bytes)
        for f in files
    )
    if _requested_kind(executor_type, governor) == "auto" and workers > 1:
        # Size the work: a little is chunked sooner in this thread than workers can start.
        sample, complete = _peek(
            found, max_files=AUTO_PEEK_MAX_FILES, max_bytes=_auto_serial_bytes(governor)
        )
    else:
        sample, complete = _peek(found, max_files=AUTO_SERIAL_MAX_FILES)
    kind = resolve_executor(
        executor_type, governor, sample=sample, complete=complete, workers=workers
    )
    stream = chain(sample, found)
    if kind == "serial":
        workers = 1
    elif complete:
        workers = max(1, min(workers, len(sample)))
    _warn_oversubscribed(kind, workers)
    stats.start(kind, workers)
    if complete and not sample:  # nothing to do: start no workers
        return
    if kind == "serial":
        source: Iterator[FileResult] = _iter_serial(stream, governor, annotate)
    elif kind == "dask":
        from codeweaver.engine.chunker.distributed import iter_dask

        source = iter_dask(
            _iter_batches(stream, batch_size),
            governor,
            client=client,
            workers=workers,
            ordered=ordered,
            stats=stats,
        )
        if annotate is not None:
            source = _annotated_here(source, annotate)
    elif kind == "thread":
        source = _iter_thread(
            _iter_batches(stream, batch_size), governor, workers, ordered, annotate
        )
    else:
        source = _iter_process(
            _iter_batches(stream, batch_size), governor, workers, ordered, stats, annotate
        )
    streak = FailureStreak()
    with _closing(source):
        for result in source:
            stats.record(result)
            if on_result is not None:
                on_result(result)
            yield result
            streak.add(result)
    stats.touch()


def _file_for_path(path: object, max_file_bytes: int) -> DiscoveredFile:
    """A :class:`DiscoveredFile` for a path given instead of one, sized against the governor's
    limit. A file discovery would skip (missing, binary, too large, ...) is still passed on, so
    its worker reports it like any other."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"expected a DiscoveredFile or a path, got {type(path).__name__}")
    try:
        return DiscoveredFile.from_path(path, max_file_bytes=max_file_bytes, hash_content=False)
    except (CodeWeaverError, OSError):
        abs_path = os.path.abspath(os.fspath(path))
        return DiscoveredFile(abs_path, abs_path, language_for_path(abs_path) or TEXT, 0, 0)


def _iter_serial(
    files: Iterator[DiscoveredFile], governor: ChunkGovernor, annotate: Annotate | None
) -> Iterator[FileResult]:
    with watch_interrupts():  # a counter's own KeyboardInterrupt fails its file, Ctrl-C stops
        for f in files:
            yield annotated(process_file(f, governor), annotate)


def _annotated_here(source: Iterator[FileResult], annotate: Annotate) -> Iterator[FileResult]:
    """Results annotated in this process (an executor whose workers do not take it)."""
    with _closing(source):
        for result in source:
            yield annotated(result, annotate)


def _iter_batches(files: Iterator[DiscoveredFile], batch_size: int | None) -> Iterator[Batch]:
    """Consecutive files in batches: ``batch_size`` each, or adaptive by size.

    Adaptive batches hold up to ``BATCH_MAX_FILES`` files or ``BATCH_MAX_BYTES`` bytes; the
    first ones are smaller so every worker gets work at once.
    """
    seq = bid = 0
    current: list[DiscoveredFile] = []
    nbytes = 0
    for f in files:
        current.append(f)
        nbytes += f.size
        if batch_size is not None:
            full = len(current) >= batch_size
        else:
            ramp = min(bid, 5)
            full = len(current) >= min(BATCH_MAX_FILES, 4 << ramp) or nbytes >= min(
                BATCH_MAX_BYTES, (32 * 1024) << ramp
            )
        if full:
            yield Batch(bid, seq, current)
            seq, bid = seq + len(current), bid + 1
            current, nbytes = [], 0
    if current:
        yield Batch(bid, seq, current)


def _iter_process(
    batches: Iterator[Batch],
    governor: ChunkGovernor,
    workers: int,
    ordered: bool,
    stats: RunStats,
    annotate: Annotate | None = None,
) -> Iterator[FileResult]:
    try:
        governor_bytes = cloudpickle.dumps(governor)
    except Exception as exc:
        raise ExecutorError(
            f"the governor cannot be shipped to worker processes ({type(exc).__name__}: {exc}); "
            "make its token counter picklable by cloudpickle, or use executor_type='thread'"
        ) from exc
    try:
        annotate_bytes = cloudpickle.dumps(annotate) if annotate is not None else None
    except Exception as exc:
        raise ExecutorError(
            f"the annotate function cannot be shipped to worker processes "
            f"({type(exc).__name__}: {exc}); define it at module level"
        ) from exc
    # Imported before the workers start so that forked workers inherit it instead of each
    # importing it on their first file.
    import codeweaver.engine.chunker.file_chunker  # noqa: F401

    method = _start_method(governor)
    if method == "forkserver":
        _preload_in_fork_server()
    ctx = multiprocessing.get_context(method)
    pool = ProcessPool(
        ctx,
        workers,
        governor_bytes,
        file_timeout=governor.file_timeout_seconds,
        stats=stats,
        annotate_bytes=annotate_bytes,
    )
    graceful = False
    try:
        pool.start()
        yield from pool.run(batches, ordered=ordered)
        graceful = True
    finally:
        pool.close(graceful=graceful)


_FORK_SERVER_PRELOAD = (
    "codeweaver.engine.chunker.worker",
    "codeweaver.engine.chunker.file_chunker",
)


def _preload_in_fork_server() -> None:
    """Have the fork server import the chunker once, so that every worker forked from it starts
    with it rather than importing it (~0.25 s of CPU a worker, paid again at each pool start).

    It counts only until the server starts (the first ``forkserver`` process of this
    interpreter). The host's own preload list is kept and extended; one this Python does not let
    us read is left alone.
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    current = getattr(server, "_preload_modules", None)
    if not isinstance(current, list):
        return
    missing = [m for m in _FORK_SERVER_PRELOAD if m not in current]
    if missing:
        forkserver.set_forkserver_preload([*current, *missing])


def _run_batch(
    files: list[DiscoveredFile], governor: ChunkGovernor, annotate: Annotate | None
) -> list[FileResult]:
    return [annotated(process_file(f, governor), annotate) for f in files]


def _iter_thread(
    batches: Iterator[Batch],
    governor: ChunkGovernor,
    workers: int,
    ordered: bool,
    annotate: Annotate | None = None,
) -> Iterator[FileResult]:
    window = workers * 2 * (2 if ordered else 1)
    pending: deque[tuple[Batch, Future[list[FileResult]]]] = deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codeweaver-chunk")
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                batch = next(batches, None)
                if batch is None:
                    exhausted = True
                else:
                    fut = pool.submit(_run_batch, batch.files, governor, annotate)
                    pending.append((batch, fut))
            if not pending:
                return
            if ordered:
                batch, fut = pending.popleft()
                yield from _thread_results(batch, fut)
                continue
            done, _ = wait([f for _, f in pending], return_when=FIRST_COMPLETED)
            for item in [p for p in pending if p[1] in done]:
                pending.remove(item)
                yield from _thread_results(*item)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _thread_results(batch: Batch, fut: Future[list[FileResult]]) -> list[FileResult]:
    try:
        return fut.result()
    except Exception as exc:  # process_file does not raise; a bug must not lose files
        return [
            failed_result(f, "worker", type(exc).__name__, f"thread worker failed: {exc}")
            for f in batch.files
        ]
