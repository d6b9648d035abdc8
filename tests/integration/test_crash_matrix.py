"""The process executor's crash matrix, under fork, forkserver and spawn.

Faults are injected with real user code running in the worker: a token counter that misbehaves
when the text it measures holds a marker string found in one file only. Each time, every other
file must still be chunked and the culprit reported with its stage.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from _procs import descendants

from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.parallel import iter_file_results
from codeweaver.engine.chunker.results import RunStats

MARKER = "CODEWEAVER_FAULT_MARKER"
METHODS = [
    m for m in ("fork", "forkserver", "spawn") if m in multiprocessing.get_all_start_methods()
]


def make_counter(fault: str) -> Callable[[str], int]:
    """A token counter (built here so cloudpickle ships it by value) that faults on the marker."""

    def counter(text: str) -> int:
        if MARKER in text:
            import os
            import signal
            import threading
            import time

            if fault == "raise":
                raise ValueError("tokenizer exploded")
            if fault == "unpicklable":

                class Unpicklable(Exception):
                    def __reduce__(self) -> object:
                        raise TypeError("this exception does not pickle")

                err = Unpicklable("holds a lock")
                err.lock = threading.Lock()  # type: ignore[attr-defined]
                raise err
            if fault == "exit":
                os._exit(7)
            if fault == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            if fault == "hang":
                time.sleep(3600)
        return max(1, len(text) // 4)

    return counter


def _corpus(root: Path, n: int = 10, culprit: int = 4) -> list[DiscoveredFile]:
    files = []
    for i in range(n):
        body = f"def f{i}(x):\n    return x * {i}\n\n\nclass K{i}:\n    v = {i}\n"
        if i == culprit:
            body += f'\n\ndef bad():\n    return "{MARKER}"\n'
        p = root / f"m{i}.py"
        p.write_text(body, encoding="utf-8")
        files.append(DiscoveredFile(str(p), p.name, "python", p.stat().st_size, 0))
    return files


EXPECT = {
    # fault: (stage, error_type, exit_code)
    "raise": ("chunk", "ValueError", None),
    "unpicklable": ("chunk", "Unpicklable", None),
    "exit": ("worker", "WorkerDied", 7),
    "sigkill": ("worker", "WorkerDied", -9),
    "hang": ("timeout", "ChunkTimeoutError", -9),
}


@pytest.mark.parametrize("fault", list(EXPECT))
@pytest.mark.parametrize("method", METHODS)
def test_a_fault_fails_only_its_file(tmp_path: Path, method: str, fault: str) -> None:
    files = _corpus(tmp_path)
    settings = ChunkerSettings(
        max_chunk_tokens=200,
        file_timeout_seconds=1.0,
        concurrency=ConcurrencySettings(start_method=method),  # type: ignore[arg-type]
    )
    governor = ChunkGovernor(settings, token_counter=make_counter(fault))
    stats = RunStats()
    results = list(
        iter_file_results(
            files, governor, executor_type="process", max_workers=2, batch_size=3, stats=stats
        )
    )
    by_name = {r.file.rel_path: r for r in results}
    assert sorted(by_name) == sorted(f.rel_path for f in files)  # every file, once
    culprit = by_name.pop("m4.py")
    assert all(r.status == "chunked" and r.chunks for r in by_name.values())
    stage, error_type, exit_code = EXPECT[fault]
    assert culprit.status == "failed" and culprit.failure is not None
    assert culprit.failure.stage == stage
    assert culprit.failure.error_type == error_type
    assert culprit.failure.exit_code == exit_code
    assert culprit.failure.path == files[4].path
    assert stats.files_failed == 1 and stats.files_chunked == len(files) - 1
    if stage in ("worker", "timeout"):
        assert stats.worker_restarts >= 1
        assert "exit code" in culprit.failure.describe()
    else:
        assert stats.worker_restarts == 0
        assert "counter" in culprit.failure.traceback


def test_a_crash_retries_the_files_queued_behind_it(tmp_path: Path) -> None:
    """One worker, big batches: the files after the culprit were in flight on the dead worker."""
    files = _corpus(tmp_path, n=8, culprit=4)
    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=200), token_counter=make_counter("exit"))
    stats = RunStats()
    results = list(
        iter_file_results(
            files,
            gov,
            executor_type="process",
            max_workers=1,
            batch_size=8,
            stats=stats,
            ordered=True,
        )
    )
    assert [r.file.rel_path for r in results] == [f.rel_path for f in files]
    assert [r.status for r in results].count("failed") == 1
    assert results[4].status == "failed"
    assert stats.retries >= 3  # m5..m7 (and the finished m0..m3, whose results died with it)


@pytest.mark.parametrize("method", METHODS)
def test_no_worker_outlives_a_crashing_run(tmp_path: Path, method: str) -> None:
    files = _corpus(tmp_path)
    settings = ChunkerSettings(
        max_chunk_tokens=200,
        concurrency=ConcurrencySettings(start_method=method),  # type: ignore[arg-type]
    )
    gov = ChunkGovernor(settings, token_counter=make_counter("sigkill"))
    seen: set[psutil.Process] = set()
    results = list(
        iter_file_results(
            files,
            gov,
            executor_type="process",
            max_workers=2,
            batch_size=2,
            on_result=lambda _: seen.update(descendants()),
        )
    )
    assert len(results) == len(files)
    assert seen  # the probe does see workers while they run
    assert descendants() == set()  # and none is left, not even a zombie


def make_unloadable_counter() -> object:
    """A token counter that pickles fine but cannot be rebuilt in another process."""
    parent = os.getpid()

    def rebuild() -> Callable[[str], int]:
        if os.getpid() != parent:
            raise RuntimeError("this tokenizer cannot be loaded here")
        return len

    class Counter:
        def __call__(self, text: str) -> int:
            return len(text)

        def __reduce__(self) -> object:
            return (rebuild, ())

    return Counter()


@pytest.mark.parametrize("method", METHODS)
def test_a_worker_that_cannot_start_is_a_clear_error(tmp_path: Path, method: str) -> None:
    from codeweaver.core.errors import ExecutorError

    settings = ChunkerSettings(
        max_chunk_tokens=200,
        concurrency=ConcurrencySettings(start_method=method),  # type: ignore[arg-type]
    )
    gov = ChunkGovernor(settings, token_counter=make_unloadable_counter())  # type: ignore[arg-type]
    with pytest.raises(ExecutorError, match="cannot be loaded here"):
        list(iter_file_results(_corpus(tmp_path), gov, executor_type="process", max_workers=2))
    assert descendants() == set()


def test_many_crashing_files_never_take_an_innocent_one_down(tmp_path: Path) -> None:
    """Five culprits in one big batch on one worker: five deaths, and each blames only its file."""
    files = []
    for i in range(12):
        body = f"def f{i}(x):\n    return x * {i}\n"
        if i % 2 == 1 and i < 10:
            body += f'\n\ndef bad():\n    return "{MARKER}"\n'
        p = tmp_path / f"m{i:02d}.py"
        p.write_text(body, encoding="utf-8")
        files.append(DiscoveredFile(str(p), p.name, "python", p.stat().st_size, 0))
    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=200), token_counter=make_counter("exit"))
    stats = RunStats()
    results = list(
        iter_file_results(
            files, gov, executor_type="process", max_workers=1, batch_size=12, stats=stats
        )
    )
    failed = sorted(r.file.rel_path for r in results if r.status == "failed")
    assert failed == ["m01.py", "m03.py", "m05.py", "m07.py", "m09.py"]
    assert all(r.failure and r.failure.exit_code == 7 for r in results if r.status == "failed")
    assert stats.files_chunked == 7 and stats.worker_restarts == 5


def test_a_worker_that_never_finishes_starting_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeweaver.core.errors import ExecutorError
    from codeweaver.engine.chunker import _pool

    parent = os.getpid()

    def rebuild() -> Callable[[str], int]:
        if os.getpid() != parent:
            import time

            time.sleep(3600)  # a tokenizer whose loading hangs in the worker
        return len

    class Counter:
        def __call__(self, text: str) -> int:
            return len(text)

        def __reduce__(self) -> object:
            return (rebuild, ())

    monkeypatch.setattr(_pool, "STARTUP_TIMEOUT", 1.0)
    settings = ChunkerSettings(
        max_chunk_tokens=200, concurrency=ConcurrencySettings(start_method="fork")
    )
    gov = ChunkGovernor(settings, token_counter=Counter())
    with pytest.raises(ExecutorError, match="did not start"):
        list(iter_file_results(_corpus(tmp_path), gov, executor_type="process", max_workers=2))
    assert descendants() == set()
