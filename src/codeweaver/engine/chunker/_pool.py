"""A small process pool that knows which file each worker is on.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies, it marks the
whole pool broken and fails every pending future, without saying which file killed it; and it
cannot kill a worker stuck in a parse that never returns. Here each worker has its own pipe and a
small shared progress array, so a death or a hang is pinned on one file, only that worker is
replaced, and the other files it held are sent again.

Data flow (all in the caller's thread; the parent runs no helper threads)::

    batches (lazy; at most `window` outstanding)
        │
        ▼                      parent                                   worker i (persistent)
    ┌──────────────┐  send (bid, seqs, files)   ┌──────────┐  reader  ┌─────────────────────────┐
    │ dispatch to  │ ─────────────────────────▶ │ Pipe i   │ ───────▶ │ thread → SimpleQueue    │
    │ least-loaded │                            │ (duplex) │          │ main thread, per file:  │
    │ worker (≤2   │ ◀───────────────────────── │          │ ◀─────── │   progress[:] = t0, seq │
    │ batches each)│  recv ("done", bid, rows)  └──────────┘   send   │   chunk → compact rows  │
    └──────┬───────┘                                                  │ progress[0] = -1        │
           │ connection.wait(pipes + process sentinels, timeout)      └─────────────────────────┘
           │   pipe ready     → decode rows → FileResults              ▲ shared RawArray('d', 3)
           │   sentinel ready → drain pipe, read progress: the file it  │ [seq, its start, started?]
           │                    was on fails (stage "worker", exit     │ (read by the parent to
           │                    code), the rest of its batches are      │  attribute crashes and
           │                    re-queued, a new worker is started      │  enforce the time limit)
           │   timeout        → a file past file_timeout_seconds + grace:
           │                    SIGKILL the worker, fail the file (stage "timeout");
           │                    a worker not started after STARTUP_TIMEOUT: ExecutorError
           ▼
    results yielded per finished batch (in submission order when ``ordered``)

The parent only acts while the caller waits for the next result (it runs no threads), so a
file past its time limit is killed at the next ``next()``: a caller that takes a long time over
each result delays the kill, never the other workers, which keep their two batches busy.

In each worker a reader thread moves tasks from the pipe into a local queue, so a worker
blocked sending a big result never leaves the parent blocked sending it the next big batch (the
two-full-pipes deadlock); the main thread chunks.

Workers ignore SIGINT (and start with it blocked, so a Ctrl-C during their start-up prints
nothing): on Ctrl-C the parent gets ``KeyboardInterrupt`` and its ``finally`` (also run when the
caller breaks out of the loop) terminates, then kills, and joins every worker. A worker also exits
when its pipe reaches EOF; on Linux the kernel SIGKILLs it when its parent dies
(``PR_SET_PDEATHSIG``), elsewhere a watchdog thread exits when the parent process dies (once the
file in hand lets go of the GIL). So an abruptly killed parent leaves no busy worker behind, and
none keeps the parent's writer lock (see ``codeweaver.index.pipeline``).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.errors import ExecutorError
from codeweaver.engine.chunker.results import FileResult, RunStats
from codeweaver.engine.chunker.worker import (
    CompactResult,
    chunk_batch,
    decode_result,
    encode_result,
    failed_result,
)

__all__ = ["ProcessPool", "describe_exit"]

log = logging.getLogger("codeweaver")

MAX_ATTEMPTS = 3
"""A file held by this many workers that died between files fails with stage "worker".

A death during a file blames that file only (the progress array says which), so files queued
behind a crashing one are re-sent however often that happens."""

STARTUP_TIMEOUT = 120.0
"""A worker that has not finished ``init_worker`` this long after it was started is an error."""

_IDLE = -1.0


# -- the worker process ------------------------------------------------------------------------
def _worker_main(
    conn: Connection,
    progress: Any,
    governor_bytes: bytes,
    inherited_fds: Sequence[int],
    parent_pid: int | None = None,
    annotate_bytes: bytes | None = None,
) -> None:
    """Entry point of a pool worker (module level, so every start method can find it).

    ``parent_pid``: the pid our parent process must have (fork and spawn: the pool's process);
    None under forkserver, whose server is the parent.
    """
    # The parent owns Ctrl-C: it stops the run and reaps us. SIGINT arrives blocked (see
    # _sigint_blocked): a Ctrl-C while we started is dropped here, not a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _die_with_parent(parent_pid)
    for fd in inherited_fds:  # fork: other workers' parent-side pipe ends, so EOFs stay exact
        with contextlib.suppress(OSError):
            os.close(fd)
    _start_parent_watchdog()
    try:
        from codeweaver.engine.chunker.worker import init_worker

        init_worker(governor_bytes, annotate_bytes)
        progress[2] = 1.0  # started: the parent stops counting down its start-up limit
    except BaseException as exc:
        with contextlib.suppress(Exception):
            conn.send(("init_error", "".join(traceback.format_exception(exc))))
        return
    # Tasks are read by a thread, so the parent's send never waits on us while we wait on
    # the parent to read a large result (both ends blocked on a full pipe: a deadlock).
    tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
    threading.Thread(
        target=_read_tasks, args=(conn, tasks), name="codeweaver-task-reader", daemon=True
    ).start()
    while True:
        msg = tasks.get()
        if msg is None:
            return
        _, bid, seqs, files = msg

        def on_start(i: int, seqs: list[int] = seqs) -> None:
            progress[1] = time.monotonic()
            progress[0] = float(seqs[i])

        results = chunk_batch(files, on_start=on_start)
        progress[0] = _IDLE
        try:
            payload = pickle.dumps(("done", bid, results), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            payload = pickle.dumps(("done", bid, _picklable(results, files)))
        try:
            conn.send_bytes(payload)
        except (EOFError, OSError):
            return


def _read_tasks(conn: Connection, tasks: queue.SimpleQueue[Any]) -> None:
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            msg = None
        tasks.put(msg)
        if msg is None:
            return


def _picklable(
    results: list[CompactResult], files: Sequence[DiscoveredFile]
) -> list[CompactResult]:
    """Replace each result that does not pickle with a failure saying so."""
    out: list[CompactResult] = []
    for result, file in zip(results, files, strict=True):
        try:
            pickle.dumps(result)
        except Exception as exc:
            failure = failed_result(
                file, "worker", type(exc).__name__, f"result does not pickle: {exc}"
            )
            out.append(encode_result(failure))
        else:
            out.append(result)
    return out


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int | None) -> None:
    """Have the kernel SIGKILL this worker the moment its parent dies (Linux).

    The watchdog thread below cannot act while a parse holds the GIL, so without this a worker
    outlives a SIGKILLed parent for the rest of its file. Under forkserver the parent is the fork
    server, which exits when the pool's process dies, so the signal still comes.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(3)  # the parent died before we could ask to die with it


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread while a worker starts: the worker inherits the mask, so a
    Ctrl-C that lands before it ignores SIGINT leaves it pending (and then dropped) instead of
    printing a KeyboardInterrupt traceback. The parent still gets its Ctrl-C: the signal goes to
    another thread, or is delivered here as soon as the mask is restored."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _start_parent_watchdog() -> None:
    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    if sentinel is None:
        return

    def watch() -> None:
        with contextlib.suppress(Exception):
            multiprocessing.connection.wait([sentinel])
            os._exit(3)  # the parent is gone: nobody will read our results

    threading.Thread(target=watch, name="codeweaver-parent-watchdog", daemon=True).start()


# -- exit codes --------------------------------------------------------------------------------
def describe_exit(code: int | None) -> str:
    """A short explanation of a worker's exit code, with a hint at the usual cause."""
    if code is None:
        return "the worker vanished (exit code unknown)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGKILL:
            return f"killed by {name} (often the out-of-memory killer: check memory limits)"
        if -code in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT):
            return (
                f"crashed with {name} (a fault in native code such as a grammar; "
                "faulthandler printed a traceback on the worker's stderr)"
            )
        return f"terminated by {name}"
    return f"exited with code {code} (os._exit/sys.exit in user code, or a native abort)"


# -- the parent side ---------------------------------------------------------------------------
@dataclass(eq=False, slots=True)
class Batch:
    """Consecutive input files; ``files[i]`` has the run-wide sequence number ``first_seq + i``.

    ``results`` and ``pending`` (how many files still have no result) are filled by ``set``.
    """

    bid: int
    first_seq: int
    files: list[DiscoveredFile]
    results: list[FileResult | None] = field(init=False)
    pending: int = field(init=False)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.files)
        self.pending = len(self.files)

    def set(self, seq: int, result: FileResult) -> None:
        i = seq - self.first_seq
        if self.results[i] is None:
            self.pending -= 1
        self.results[i] = result

    def has(self, seq: int) -> bool:
        return self.results[seq - self.first_seq] is not None

    def file(self, seq: int) -> DiscoveredFile:
        return self.files[seq - self.first_seq]

    def done(self) -> list[FileResult]:
        return [r for r in self.results if r is not None]


def pop_finished(outstanding: deque[Batch], *, ordered: bool) -> Iterator[FileResult]:
    """Yield the results of every finished batch in ``outstanding`` and drop it from there.

    ``ordered``: only from the front, so results keep submission order (a finished batch
    behind an unfinished one waits). Shared by the process pool and the Dask executor.
    """
    if ordered:
        while outstanding and outstanding[0].pending == 0:
            yield from outstanding.popleft().done()
        return
    for b in [b for b in outstanding if b.pending == 0]:
        outstanding.remove(b)
        yield from b.done()


@dataclass(eq=False, slots=True)
class _Worker:
    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    # RawArray('d', 3): [seq of the file being chunked or -1, its start time, 1.0 once started]
    progress: Any
    spawned_at: float = 0.0
    inflight: deque[tuple[Batch, list[int]]] = field(default_factory=deque)
    killed_for_timeout: int | None = None


class ProcessPool:
    """Persistent workers, one pipe each; see the module docstring."""

    def __init__(
        self,
        ctx: BaseContext,
        workers: int,
        governor_bytes: bytes,
        *,
        file_timeout: float,
        stats: RunStats,
        per_worker: int = 2,
        annotate_bytes: bytes | None = None,
    ) -> None:
        self._ctx = ctx
        self._n = workers
        self._governor_bytes = governor_bytes
        self._annotate_bytes = annotate_bytes
        self._timeout = file_timeout
        # Past the limit the worker gets a moment to give up by itself (chunk_bytes checks
        # the deadline between steps) before it is killed.
        self._grace = min(max(0.5, 0.1 * file_timeout), 5.0)
        self._stats = stats
        self._per_worker = per_worker
        self._workers: list[_Worker] = []
        self._unexplained: dict[int, int] = {}  # seq -> deaths with no culprit while held
        self._deaths_without_progress = 0
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        for _ in range(self._n):
            self._workers.append(self._spawn())

    def _spawn(self) -> _Worker:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        progress = self._ctx.RawArray("d", 3)
        progress[0] = _IDLE
        inherited: list[int] = []
        if self._ctx.get_start_method() == "fork":
            inherited = [w.conn.fileno() for w in self._workers if not w.conn.closed]
            inherited.append(parent_end.fileno())
        method = self._ctx.get_start_method()
        parent_pid = os.getpid() if method in ("fork", "spawn") else None
        proc = self._ctx.Process(  # type: ignore[attr-defined]
            target=_worker_main,
            args=(
                child_end,
                progress,
                self._governor_bytes,
                inherited,
                parent_pid,
                self._annotate_bytes,
            ),
            name="codeweaver-chunk-worker",
            daemon=True,
        )
        if method != "fork":
            # Starting the resource tracker unblocks SIGINT; have it running before we block it.
            from multiprocessing import resource_tracker

            resource_tracker.ensure_running()
        with _sigint_blocked():
            proc.start()
        child_end.close()  # only the worker holds it now, so its death reads as EOF here
        return _Worker(
            process=proc, conn=parent_end, progress=progress, spawned_at=time.monotonic()
        )

    def close(self, *, graceful: bool) -> None:
        """Stop every worker and wait for it; idempotent. ``graceful`` lets idle ones exit."""
        if self._closed:
            return
        self._closed = True
        workers, self._workers = self._workers, []
        if graceful:
            for w in workers:
                with contextlib.suppress(OSError, ValueError):
                    w.conn.send(None)
            deadline = time.monotonic() + 2.0
            for w in workers:
                w.process.join(max(0.0, deadline - time.monotonic()))
        for w in workers:
            if w.process.is_alive():
                w.process.terminate()
        deadline = time.monotonic() + 1.0
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            with contextlib.suppress(OSError):
                w.conn.close()
            with contextlib.suppress(Exception):
                w.process.close()

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    # -- the run ---------------------------------------------------------------------------------
    def run(self, batches: Iterator[Batch], *, ordered: bool) -> Iterator[FileResult]:
        """Yield a result for every file of every batch, keeping the window bounded."""
        outstanding: deque[Batch] = deque()  # submitted, not yet yielded (submission order)
        retry: deque[tuple[Batch, list[int]]] = deque()
        limit = self._n * self._per_worker * (2 if ordered else 1)
        exhausted = False
        while True:
            # 1. fill every worker up to `per_worker` batches, retries first.
            for w in sorted(self._workers, key=lambda w: len(w.inflight)):
                while len(w.inflight) < self._per_worker:
                    if retry:
                        batch, seqs = retry.popleft()
                    elif not exhausted and len(outstanding) < limit:
                        nxt = next(batches, None)
                        if nxt is None:
                            exhausted = True
                            break
                        outstanding.append(nxt)
                        batch, seqs = nxt, [nxt.first_seq + i for i in range(len(nxt.files))]
                    else:
                        break
                    self._send(w, batch, seqs)
            # 2. yield what is finished.
            yield from pop_finished(outstanding, ordered=ordered)
            if exhausted and not outstanding and not retry:
                return
            # 3. wait for a result, a death or a deadline.
            self._wait(retry)

    def _send(self, w: _Worker, batch: Batch, seqs: list[int]) -> None:
        w.inflight.append((batch, seqs))
        files = [batch.file(s) for s in seqs]
        # A dead worker fails the send; its sentinel fires and the batch is re-queued.
        with contextlib.suppress(OSError, ValueError):
            w.conn.send(("batch", batch.bid, seqs, files))

    def _wait(self, retry: deque[tuple[Batch, list[int]]]) -> None:
        by_conn = {w.conn: w for w in self._workers}
        by_sentinel = {w.process.sentinel: w for w in self._workers}
        timeout = self._check_deadlines()
        ready = multiprocessing.connection.wait([*by_conn, *by_sentinel], timeout)
        dead: list[_Worker] = []
        for obj in ready:
            if obj in by_conn:
                w = by_conn[obj]
                if not self._receive(w):
                    dead.append(w)
            else:
                w = by_sentinel[obj]
                if w not in dead:
                    dead.append(w)
        for w in dead:
            self._replace(w, retry)

    def _receive(self, w: _Worker) -> bool:
        """Read one message from ``w``; False when the pipe is closed (the worker is gone)."""
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            return False
        if msg[0] == "init_error":
            raise ExecutorError(f"a chunking worker could not start:\n{msg[1]}")
        _, bid, results = msg
        batch, seqs = w.inflight.popleft()
        assert batch.bid == bid, "pool bookkeeping out of step with a worker"
        for s, compact in zip(seqs, results, strict=True):
            batch.set(s, decode_result(compact, batch.file(s)))
        self._deaths_without_progress = 0
        return True

    def _check_deadlines(self) -> float:
        """Kill workers past the per-file limit; return how long the next wait may last."""
        now = time.monotonic()
        poll = min(1.0, max(0.05, self._timeout / 4))
        for w in self._workers:
            if not w.inflight or w.killed_for_timeout is not None:
                continue
            if w.progress[2] == 0.0:
                if now - w.spawned_at > STARTUP_TIMEOUT:
                    raise ExecutorError(
                        f"a chunking worker did not start within {STARTUP_TIMEOUT:g}s "
                        "(unpickling the governor or importing the chunker hangs)"
                    )
                continue
            seq, started = self._current(w)
            if seq is None:
                continue
            hard = started + self._timeout + self._grace
            if now >= hard:
                w.killed_for_timeout = seq
                with contextlib.suppress(Exception):
                    w.process.kill()
            else:
                poll = min(poll, hard - now)
        return max(0.0, poll)

    @staticmethod
    def _current(w: _Worker) -> tuple[int | None, float]:
        """The file ``w`` is on and when it started (a torn read returns None)."""
        first = w.progress[0]
        started = w.progress[1]
        if first < 0 or w.progress[0] != first:
            return None, 0.0
        return int(first), started

    def _replace(self, w: _Worker, retry: deque[tuple[Batch, list[int]]]) -> None:
        """``w`` died or was killed: account for its files and start a new worker."""
        # Results sent before dying are still in the pipe.
        while w.inflight:
            try:
                if not w.conn.poll():
                    break
            except (OSError, EOFError):
                break
            if not self._receive(w):
                break
        w.process.join(5.0)
        code = w.process.exitcode
        seq, _ = self._current(w) if w.killed_for_timeout is None else (w.killed_for_timeout, 0.0)
        unfinished = [(b, [s for s in seqs if not b.has(s)]) for b, seqs in w.inflight]
        blamed = any(seq in seqs for _, seqs in unfinished)
        requeue: list[tuple[Batch, list[int]]] = []
        for batch, seqs in unfinished:
            left: list[int] = []
            for s in seqs:
                if s == seq:
                    batch.set(s, self._culprit_result(batch.file(s), code, w.killed_for_timeout))
                    continue
                if not blamed:
                    # Nobody to blame (it died between files): count it against every file it
                    # held, so a file that kills workers some other way cannot loop forever.
                    self._unexplained[s] = self._unexplained.get(s, 0) + 1
                if self._unexplained.get(s, 0) >= MAX_ATTEMPTS:
                    batch.set(
                        s,
                        failed_result(
                            batch.file(s),
                            "worker",
                            "WorkerDied",
                            f"{MAX_ATTEMPTS} workers died while holding this file "
                            f"(last: {describe_exit(code)})",
                            exit_code=code,
                        ),
                    )
                else:
                    left.append(s)
            if left:
                requeue.append((batch, left))
                self._stats.retries += len(left)
        retry.extendleft(reversed(requeue))
        w.inflight.clear()
        if not blamed:
            self._deaths_without_progress += 1
            if self._deaths_without_progress > 3 * self._n + 3:
                raise ExecutorError(
                    "chunking workers keep dying before doing any work "
                    f"(last: {describe_exit(code)})"
                )
        why = "killed (file timeout)" if w.killed_for_timeout is not None else describe_exit(code)
        log.info("chunking worker pid %s %s; starting a new one", w.process.pid, why)
        with contextlib.suppress(OSError):
            w.conn.close()
        with contextlib.suppress(Exception):
            w.process.close()
        self._workers[self._workers.index(w)] = self._spawn()
        self._stats.worker_restarts += 1

    def _culprit_result(
        self, file: DiscoveredFile, code: int | None, timed_out: int | None
    ) -> FileResult:
        if timed_out is not None:
            return failed_result(
                file,
                "timeout",
                "ChunkTimeoutError",
                f"ran past the per-file time limit of {self._timeout:g}s; "
                "the worker was killed and replaced",
                exit_code=code,
                seconds=self._timeout,
            )
        return failed_result(
            file,
            "worker",
            "WorkerDied",
            f"the worker process died while chunking this file: {describe_exit(code)}",
            exit_code=code,
        )
