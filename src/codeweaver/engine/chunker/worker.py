"""Worker-side functions: module-level, plain data in and out, safe to run in any process.

These run wherever chunking runs: in the caller's thread (serial), in a thread pool, in the
process pool of :mod:`codeweaver.engine.chunker._pool`, or on a remote engine (Dask). Nothing here
holds a tree-sitter object past one call, and nothing that crosses a process boundary is more than
tuples of builtins.

The protocol for a process (or any remote) worker::

    init_worker(governor_bytes, annotate_bytes)  # once per process: cloudpickle bytes of the
                                                 # governor (and of the annotate function)
    chunk_batch(files) -> [CompactResult]        # any number of times, plain DiscoveredFiles in

and in the parent ``decode_result(compact, file) -> FileResult``. The contract, for every file::

    decode_result(encode_result(process_file(f, g)), f) == process_file(f, g)

so every executor returns exactly what the serial one does. The Dask backend
(:mod:`codeweaver.engine.chunker.distributed`) installs the governor through ``init_worker`` once
per worker and reuses ``process_file``/``encode_result``.

A worker never lets a file's exception escape: it becomes a ``failed`` result carrying the stage,
the error type, the message and the traceback formatted as text in the worker.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import hashlib
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any, cast

import cloudpickle

from codeweaver.core.chunks import (
    ChunkRow,
    FailureRecord,
    FailureStage,
    SkipRecord,
    chunks_from_rows,
    content_hash,
)
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.errors import ChunkingError, ChunkTimeoutError, FileSkippedError
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.results import FileResult, FileStatus

__all__ = [
    "Annotate",
    "CompactResult",
    "annotated",
    "chunk_batch",
    "current_governor",
    "decode_result",
    "encode_result",
    "failed_result",
    "failure_from_exception",
    "init_worker",
    "process_file",
    "process_file_compact",
    "watch_interrupts",
]

# The wire form of one FileResult, without the DiscoveredFile (the parent already has it):
# (status, rows, language, chunker, file_hash, skip (reason, detail) | None,
#  failure (stage, error_type, message, traceback, exit_code) | None, seconds, annotation).
# A chunk is its row (CodeChunk.to_row): its path is the file's rel_path, its ordinal its index,
# and language and chunker, the same for every chunk of a file, travel once; hashes are derived.
CompactResult = tuple[
    str,
    list[ChunkRow],
    str,
    str,
    str | None,
    tuple[str, str] | None,
    tuple[str, str, str, str, int | None] | None,
    float,
    Any,
]

Annotate = Callable[[FileResult], Any]
"""What a caller may have computed next to each chunked file, where it was chunked (see
:func:`annotated`): module-level, so it pickles by reference, and returning plain data."""

_STAGES: frozenset[str] = frozenset(
    {"discover", "read", "parse", "chunk", "worker", "timeout", "store"}
)

# Per-process state set by init_worker. A module global, because that is what a process
# initializer can set; threads in one process share it (the governor is read-only).
_governor: ChunkGovernor | None = None
_governor_digest: str | None = None
_annotate: Annotate | None = None


# -- per-process setup -------------------------------------------------------------------------
def init_worker(governor_bytes: bytes, annotate_bytes: bytes | None = None) -> None:
    """Set this process up to chunk: unpickle the governor once and turn on ``faulthandler``;
    ``annotate_bytes``: the cloudpickled :data:`Annotate` function :func:`chunk_batch` applies.

    Idempotent: calling it again with the same governor bytes does not unpickle them again.
    """
    global _governor, _governor_digest, _annotate  # noqa: PLW0603 - per-process state
    _annotate = cloudpickle.loads(annotate_bytes) if annotate_bytes is not None else None
    digest = hashlib.blake2b(governor_bytes, digest_size=16).hexdigest()
    if digest == _governor_digest and _governor is not None:
        return
    governor = cloudpickle.loads(governor_bytes)
    if not isinstance(governor, ChunkGovernor):
        raise TypeError(f"init_worker expected a pickled ChunkGovernor, got {type(governor)!r}")
    _governor, _governor_digest = governor, digest
    # Import the chunker now, not inside the first file's time limit.
    import codeweaver.engine.chunker.file_chunker  # noqa: F401

    if not faulthandler.is_enabled():
        # A segfault in a grammar then leaves a Python traceback on the worker's stderr.
        faulthandler.enable(file=sys.stderr, all_threads=True)


def current_governor() -> ChunkGovernor:
    """The governor :func:`init_worker` installed in this process."""
    if _governor is None:
        raise RuntimeError("this worker has no governor: call init_worker(governor_bytes) first")
    return _governor


# -- the work ----------------------------------------------------------------------------------
def process_file(
    file: DiscoveredFile,
    governor: ChunkGovernor,
    *,
    timeout: float | None = None,
    data: bytes | None = None,
) -> FileResult:
    """Read and chunk one file; never raises for a per-file problem.

    ``timeout`` (default ``governor.file_timeout_seconds``) becomes the deadline passed to
    ``chunk_bytes``; it is checked between steps, so it cannot stop a parse that never returns
    (the process pool kills such a worker instead). ``data``: the file's bytes, already read
    elsewhere (a Dask client shipping them); the file is then not opened here.
    """
    return decode_result(process_file_compact(file, governor, timeout=timeout, data=data), file)


def process_file_compact(
    file: DiscoveredFile,
    governor: ChunkGovernor,
    *,
    timeout: float | None = None,
    data: bytes | None = None,
) -> CompactResult:
    """:func:`process_file` in its wire form (``encode_result(process_file(...))``), without
    making the :class:`~codeweaver.core.chunks.CodeChunk` objects: what a worker process ships,
    the chunks being built once, by the process that receives them. ``seconds`` is the time to
    read and chunk."""
    # Imported here so importing this module (and pickling references to it) stays cheap.
    from codeweaver.engine.chunker.file_chunker import chunk_rows, read_source

    started = time.perf_counter()
    sigints_before = _watch.sigints
    limit = governor.file_timeout_seconds if timeout is None else timeout
    deadline = time.monotonic() + limit
    file_hash: str | None = None
    stage: FailureStage = "read"
    try:
        if data is None:
            data = read_source(file.path, governor.max_file_bytes)
        file_hash = content_hash(data)
        stage = "chunk"
        language, chunker, rows = chunk_rows(data, file.language, governor, deadline=deadline)
    except FileSkippedError as exc:
        skip = SkipRecord(path=file.path, reason=exc.reason, detail=exc.detail)
        seconds = time.perf_counter() - started
        return encode_result(FileResult(file, "skipped", [], file_hash, skip, seconds=seconds))
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        # sys.exit() or a KeyboardInterrupt raised by user code (a token counter) fails this
        # file, as it would under the process executor; a real Ctrl-C stops the run.
        if isinstance(exc, KeyboardInterrupt) and _is_ctrl_c(sigints_before):
            raise
        failure = failure_from_exception(file.path, exc, default_stage=stage)
        seconds = time.perf_counter() - started
        return encode_result(
            FileResult(file, "failed", [], file_hash, failure=failure, seconds=seconds)
        )
    seconds = time.perf_counter() - started
    return ("chunked", rows, language, chunker, file_hash, None, None, seconds, None)


# -- telling a Ctrl-C from a KeyboardInterrupt that user code raised ---------------------------
class _InterruptWatch:
    """SIGINTs counted while :func:`watch_interrupts` is active (``depth`` > 0)."""

    __slots__ = ("depth", "sigints")

    def __init__(self) -> None:
        self.sigints = 0
        self.depth = 0

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.sigints += 1
        signal.default_int_handler(signum, frame)


_watch = _InterruptWatch()


@contextmanager
def watch_interrupts() -> Iterator[None]:
    """While active, :func:`process_file` knows whether a KeyboardInterrupt came from a real
    SIGINT (the serial executor, in the main thread) or from user code raising it.

    It counts SIGINTs and otherwise behaves as Python's default handler; it is installed only in
    the main thread and only over that default handler (a caller's own handler stays).
    """
    current = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or (
        current is not signal.default_int_handler and current != _watch.handler
    ):
        yield
        return
    signal.signal(signal.SIGINT, _watch.handler)
    _watch.depth += 1
    try:
        yield
    finally:
        _watch.depth -= 1
        if not _watch.depth and signal.getsignal(signal.SIGINT) == _watch.handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _is_ctrl_c(sigints_before: int) -> bool:
    """True if the KeyboardInterrupt being handled may be a real Ctrl-C."""
    if _watch.depth:
        return _watch.sigints != sigints_before
    # Signals reach the main thread only, and not at all where SIGINT is ignored (pool workers).
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
    )


def failure_from_exception(
    path: str, exc: BaseException, *, default_stage: FailureStage = "chunk"
) -> FailureRecord:
    """A :class:`FailureRecord` for ``exc``, with its traceback formatted here, as text.

    Only builtins are kept, so the record pickles even when the exception itself does not.
    """
    stage: str = getattr(exc, "stage", default_stage) if isinstance(exc, ChunkingError) else ""
    if isinstance(exc, ChunkTimeoutError):
        stage = "timeout"
    if stage not in _STAGES:
        stage = default_stage
    try:
        message = str(exc)
    except Exception:  # a user exception whose __str__ itself fails
        message = f"<unprintable {type(exc).__name__}>"
    try:
        tb = "".join(traceback.format_exception(exc))
    except Exception:
        tb = ""
    return FailureRecord(
        path=path,
        stage=cast(FailureStage, stage),
        error_type=type(exc).__name__,
        message=message,
        traceback=tb,
    )


def chunk_batch(
    files: Sequence[DiscoveredFile],
    *,
    on_start: Callable[[int], None] | None = None,
) -> list[CompactResult]:
    """Chunk a batch with this process's governor; one compact result per file, in order.

    ``on_start(i)`` is called before file ``i`` of the batch is started (the process pool uses it
    to know which file a worker was on if the worker dies or hangs).
    """
    governor = current_governor()
    annotate = _annotate
    out: list[CompactResult] = []
    for i, file in enumerate(files):
        if on_start is not None:
            on_start(i)
        compact = process_file_compact(file, governor)
        if annotate is not None and compact[0] == "chunked":
            # The chunks are made for the annotation; its rows are shipped as they came.
            result = annotated(decode_result(compact, file), annotate)
            if result.status == "chunked":
                compact = (*compact[:-1], result.annotation)  # (the annotation comes last)
            else:
                compact = encode_result(result)
        out.append(compact)
    return out


def annotated(result: FileResult, annotate: Annotate | None) -> FileResult:
    """``result`` with ``annotate(result)`` as its ``annotation`` when the file was chunked.

    Every executor calls it where the file was chunked (a worker process, a thread, the
    caller's thread), so work derived from the chunks runs on every core. An exception there
    (``sys.exit()`` and a ``KeyboardInterrupt`` it raises too) fails the file (stage
    ``chunk``), as one from a token counter does; a real Ctrl-C stops the run.
    """
    if annotate is None or result.status != "chunked":
        return result
    sigints_before = _watch.sigints
    try:
        note = annotate(result)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        if isinstance(exc, KeyboardInterrupt) and _is_ctrl_c(sigints_before):
            raise
        return FileResult(
            file=result.file,
            status="failed",
            file_hash=result.file_hash,
            failure=failure_from_exception(result.file.path, exc),
            seconds=result.seconds,
        )
    return dataclasses.replace(result, annotation=note)


# -- the wire form -----------------------------------------------------------------------------
def encode_result(result: FileResult) -> CompactResult:
    """The compact, builtins-only form of ``result`` (the DiscoveredFile is left out).

    Raises:
        ValueError: chunks that are not one file's, in order (a path other than the file's
            ``rel_path``, an ordinal other than the position, languages or chunkers that differ).
    """
    chunks = result.chunks
    language = chunker = ""
    if chunks:
        language, chunker, path = chunks[0].language, chunks[0].chunker, result.file.rel_path
        for i, c in enumerate(chunks):
            if (c.ordinal, c.path, c.language, c.chunker) != (i, path, language, chunker):
                raise ValueError(f"chunk {i} of {path!r} is not in its file's wire form: {c!r}")
    skip = (result.skip.reason, result.skip.detail) if result.skip is not None else None
    f = result.failure
    failure = (f.stage, f.error_type, f.message, f.traceback, f.exit_code) if f else None
    rows = [c.to_row() for c in chunks]
    status, seconds, annotation = result.status, result.seconds, result.annotation
    return (status, rows, language, chunker, result.file_hash, skip, failure, seconds, annotation)


def decode_result(compact: CompactResult, file: DiscoveredFile) -> FileResult:
    """Rebuild the :class:`FileResult` that :func:`encode_result` was given."""
    status, rows, language, chunker, file_hash, skip, failure, seconds, annotation = compact
    return FileResult(
        file=file,
        status=cast(FileStatus, status),
        chunks=chunks_from_rows(rows, file.rel_path, language, chunker),
        file_hash=file_hash,
        skip=SkipRecord(file.path, skip[0], skip[1]) if skip is not None else None,
        failure=(
            FailureRecord(
                path=file.path,
                stage=cast(FailureStage, failure[0]),
                error_type=failure[1],
                message=failure[2],
                traceback=failure[3],
                exit_code=failure[4],
            )
            if failure is not None
            else None
        ),
        seconds=seconds,
        annotation=annotation,
    )


def failed_result(
    file: DiscoveredFile,
    stage: FailureStage,
    error_type: str,
    message: str,
    *,
    exit_code: int | None = None,
    seconds: float = 0.0,
) -> FileResult:
    """A ``failed`` result made in the parent (a worker died or was killed on this file)."""
    return FileResult(
        file=file,
        status="failed",
        failure=FailureRecord(
            path=file.path,
            stage=stage,
            error_type=error_type,
            message=message,
            exit_code=exit_code,
        ),
        seconds=seconds,
    )
