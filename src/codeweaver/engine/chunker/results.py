"""What a chunking run produces: one :class:`FileResult` per input file, and :class:`RunStats`.

Every input file ends up in exactly one of three states::

    chunked  -> FileResult.chunks holds its chunks (possibly empty for an empty file)
    skipped  -> FileResult.skip says why (binary, too large, ...)
    failed   -> FileResult.failure says where (read/parse/chunk/worker/timeout) and why

``RunStats`` is filled while a run goes on (the caller may read it at any time) and holds the
counts, the throughput and every :class:`~codeweaver.core.chunks.FailureRecord` and
:class:`~codeweaver.core.chunks.SkipRecord` of the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from codeweaver.core.chunks import CodeChunk, FailureRecord, SkipRecord
from codeweaver.core.discovery import DiscoveredFile

__all__ = ["FileResult", "FileStatus", "RunStats"]

FileStatus = Literal["chunked", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class FileResult:
    """The outcome for one input file.

    Exactly one of these holds: ``status == "chunked"`` (``chunks`` set, ``skip`` and ``failure``
    None), ``status == "skipped"`` (``skip`` set, ``chunks`` empty) or ``status == "failed"``
    (``failure`` set, ``chunks`` empty). ``file_hash`` is the content hash of the bytes read, when
    they were read; ``seconds`` is the time spent on the file in its worker. ``annotation``: what
    the run's ``annotate`` function returned for a chunked file (see ``iter_file_results``).
    """

    file: DiscoveredFile
    status: FileStatus
    chunks: list[CodeChunk] = field(default_factory=list)
    file_hash: str | None = None
    skip: SkipRecord | None = None
    failure: FailureRecord | None = None
    seconds: float = 0.0
    annotation: Any = None

    @property
    def path(self) -> str:
        """The file's absolute path (what ``chunk_files_parallel`` yields as the key)."""
        return self.file.path

    @property
    def ok(self) -> bool:
        return self.status == "chunked"


@dataclass(slots=True)
class RunStats:
    """Counts and throughput of one run, updated as results are yielded.

    ``bytes`` counts the on-disk size of the files that were chunked; ``cpu_seconds`` sums the
    per-file times measured in the workers (so ``cpu_seconds / wall_seconds`` approximates the
    parallelism achieved). ``worker_restarts`` counts process workers replaced after a crash or a
    timeout kill; ``retries`` counts files re-sent because the worker they were queued on died.
    """

    executor: str = ""
    workers: int = 0
    files_chunked: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    chunks: int = 0
    bytes: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    worker_restarts: int = 0
    retries: int = 0
    failures: list[FailureRecord] = field(default_factory=list)
    skips: list[SkipRecord] = field(default_factory=list)
    _started: float | None = field(default=None, repr=False, compare=False)

    # -- updating (called by the engine) ----------------------------------------------------------
    def start(self, executor: str, workers: int) -> None:
        """Mark the start of the run (the wall clock starts here)."""
        self.executor = executor
        self.workers = workers
        self._started = time.perf_counter()

    def record(self, result: FileResult) -> None:
        """Count one file's outcome."""
        self.cpu_seconds += result.seconds
        if result.status == "chunked":
            self.files_chunked += 1
            self.chunks += len(result.chunks)
            self.bytes += result.file.size
        elif result.status == "skipped":
            self.files_skipped += 1
            if result.skip is not None:
                self.skips.append(result.skip)
        else:
            self.files_failed += 1
            if result.failure is not None:
                self.failures.append(result.failure)
        self.touch()

    def touch(self) -> None:
        """Bring ``wall_seconds`` up to now (a no-op before :meth:`start`)."""
        if self._started is not None:
            self.wall_seconds = time.perf_counter() - self._started

    # -- reading -------------------------------------------------------------------------------
    @property
    def files(self) -> int:
        """Files accounted for so far (chunked + skipped + failed)."""
        return self.files_chunked + self.files_skipped + self.files_failed

    @property
    def files_per_second(self) -> float:
        return self.files / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def megabytes_per_second(self) -> float:
        return self.bytes / 1e6 / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def summary(self) -> str:
        """One paragraph for a person: counts, throughput, executor, and the first few failures."""
        text = (
            f"{self.files} files in {self.wall_seconds:.2f}s "
            f"({self.files_per_second:.1f} files/s, {self.megabytes_per_second:.2f} MB/s) "
            f"with the {self.executor or '?'} executor, {self.workers} worker(s): "
            f"{self.files_chunked} chunked into {self.chunks} chunks "
            f"({self.bytes / 1e6:.2f} MB), {self.files_skipped} skipped, "
            f"{self.files_failed} failed."
        )
        if self.worker_restarts:
            text += f" {self.worker_restarts} worker restart(s), {self.retries} file(s) retried."
        if self.failures:
            shown = "; ".join(f.describe() for f in self.failures[:3])
            more = f" (and {len(self.failures) - 3} more)" if len(self.failures) > 3 else ""
            text += f" Failures: {shown}{more}."
        return text

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the counts, throughput and records."""
        return {
            "executor": self.executor,
            "workers": self.workers,
            "files": self.files,
            "files_chunked": self.files_chunked,
            "files_skipped": self.files_skipped,
            "files_failed": self.files_failed,
            "chunks": self.chunks,
            "bytes": self.bytes,
            "wall_seconds": self.wall_seconds,
            "cpu_seconds": self.cpu_seconds,
            "files_per_second": self.files_per_second,
            "megabytes_per_second": self.megabytes_per_second,
            "worker_restarts": self.worker_restarts,
            "retries": self.retries,
            "failures": [
                {
                    "path": f.path,
                    "stage": f.stage,
                    "error_type": f.error_type,
                    "message": f.message,
                    "exit_code": f.exit_code,
                    "traceback": f.traceback,
                }
                for f in self.failures
            ],
            "skips": [{"path": s.path, "reason": s.reason, "detail": s.detail} for s in self.skips],
        }
