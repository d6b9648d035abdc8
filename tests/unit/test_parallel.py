"""parallel: executor and worker-count resolution, batching, the window, accounting, callbacks."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.errors import ConfigError, ExecutorError
from codeweaver.engine.chunker import parallel
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.parallel import (
    _iter_batches,
    chunk_files_parallel,
    chunk_files_parallel_dict,
    default_worker_count,
    iter_file_results,
    resolve_executor,
    resolve_worker_count,
)
from codeweaver.engine.chunker.results import FileResult, RunStats

SOURCE = "def f{i}(x):\n    return x + {i}\n\n\nclass C{i}:\n    def m(self):\n        return {i}\n"


def _fake(i: int, size: int = 100) -> DiscoveredFile:
    return DiscoveredFile(f"/nowhere/{i}.py", f"{i}.py", "python", size, 0)


@pytest.fixture
def files(tmp_path: Path) -> list[DiscoveredFile]:
    out = []
    for i in range(24):
        p = tmp_path / f"m{i:02d}.py"
        p.write_text(SOURCE.format(i=i), encoding="utf-8")
        out.append(DiscoveredFile(str(p), p.name, "python", p.stat().st_size, 0))
    (tmp_path / "blob.py").write_bytes(b"\x00" * 64)
    out.append(DiscoveredFile(str(tmp_path / "blob.py"), "blob.py", "python", 64, 0))
    # Unreadable: a folder in its path is a file (NotADirectoryError), a read failure.
    unreadable = tmp_path / "blob.py" / "missing.py"
    out.append(DiscoveredFile(str(unreadable), "missing.py", "python", 5, 0))
    return out


@pytest.fixture
def governor() -> ChunkGovernor:
    return ChunkGovernor(max_chunk_chars=200, min_chunk_chars=0)  # every tiny definition apart


# -- resolution ----------------------------------------------------------------------------------
def test_default_worker_count_respects_the_affinity_mask() -> None:
    n = default_worker_count()
    assert 1 <= n <= parallel.MAX_DEFAULT_WORKERS
    if hasattr(os, "sched_getaffinity"):
        assert n <= len(os.sched_getaffinity(0))


def test_worker_count_precedence() -> None:
    gov = ChunkGovernor(ChunkerSettings(concurrency=ConcurrencySettings(max_parallel_files=3)))
    assert resolve_worker_count(5, gov) == 5
    assert resolve_worker_count(None, gov) == 3
    assert resolve_worker_count(None, ChunkGovernor()) == default_worker_count()
    with pytest.raises(ConfigError, match="max_workers"):
        resolve_worker_count(0, gov)


def test_executor_precedence_and_validation() -> None:
    gov = ChunkGovernor(ChunkerSettings(concurrency=ConcurrencySettings(executor="thread")))
    assert resolve_executor("serial", gov) == "serial"
    assert resolve_executor(None, gov) == "thread"
    with pytest.raises(ConfigError, match="executor"):
        resolve_executor("gpu", gov)


def test_auto_is_serial_for_a_handful_of_small_files_only() -> None:
    few = [_fake(i) for i in range(3)]
    assert resolve_executor("auto", sample=few, complete=True, workers=4) == "serial"
    big = [_fake(0, size=10_000_000)]
    assert resolve_executor("auto", sample=big, complete=True, workers=4) != "serial"
    many = [_fake(i) for i in range(parallel.AUTO_SERIAL_MAX_FILES + 1)]
    assert resolve_executor("auto", sample=many, complete=False, workers=4) == "process"
    assert resolve_executor("auto", sample=many, complete=False, workers=1) == "serial"


def test_auto_chooses_from_the_amount_of_work_and_the_cores(
    files: list[DiscoveredFile], governor: ChunkGovernor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A whole small repository (here 26 files) is chunked serially: workers would cost more.
    stats = RunStats()
    assert len(list(iter_file_results(files, governor, max_workers=2, stats=stats))) == 26
    assert (stats.executor, stats.workers) == ("serial", 1)
    # Past AUTO_SERIAL_MAX_BYTES of work, processes.
    limit = parallel.AUTO_SERIAL_MAX_BYTES
    small = [_fake(i, size=limit // 40) for i in range(40)]
    assert resolve_executor("auto", sample=small, complete=True, workers=2) == "serial"
    big = [*small, _fake(40, size=10)]
    assert resolve_executor("auto", sample=big, complete=True, workers=2) == "process"
    assert resolve_executor("auto", sample=small, complete=False, workers=2) == "process"
    # One CPU: serial whatever the work.
    monkeypatch.setattr(parallel, "default_worker_count", lambda: 1)
    assert resolve_executor("auto", governor, workers=parallel.resolve_worker_count(None)) == (
        "serial"
    )


def test_auto_peeks_a_bounded_amount_of_input(governor: ChunkGovernor) -> None:
    pulled = 0

    def stream() -> Iterator[DiscoveredFile]:
        nonlocal pulled
        for i in range(10_000):
            pulled += 1
            yield _fake(i, size=10)  # tiny files: the byte limit is never reached

    results = iter_file_results(stream(), governor, max_workers=2, executor_type="auto")
    next(results)
    assert pulled <= parallel.AUTO_PEEK_MAX_FILES + 1
    results.close()


def test_more_workers_than_cpus_is_warned_about(
    files: list[DiscoveredFile], governor: ChunkGovernor, caplog: pytest.LogCaptureFixture
) -> None:
    cpus = default_worker_count()
    with caplog.at_level(logging.WARNING, logger="codeweaver"):
        list(iter_file_results(files, governor, executor_type="thread", max_workers=cpus + 6))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"{cpus + 6} thread workers on {cpus} usable CPU" in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="codeweaver"):
        list(iter_file_results(files, governor, executor_type="thread", max_workers=cpus))
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_auto_picks_threads_without_a_gil(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_free_threaded", lambda: True)
    many = [_fake(i) for i in range(50)]
    assert resolve_executor("auto", sample=many, complete=False, workers=4) == "thread"


def test_dask_without_the_extra_is_refused_clearly_at_call_time(
    governor: ChunkGovernor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(ExecutorError, match=r"dask.*codeweaver\[distributed\]"):
        iter_file_results([], governor, executor_type="dask")


def test_bad_batch_size_is_refused(governor: ChunkGovernor) -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        iter_file_results([], governor, batch_size=0)


def test_start_method_never_touches_the_global_default(governor: ChunkGovernor) -> None:
    import multiprocessing

    before = multiprocessing.get_start_method(allow_none=True)
    spawn = ChunkGovernor(ChunkerSettings(concurrency=ConcurrencySettings(start_method="spawn")))
    assert parallel._start_method(spawn) == "spawn"
    assert parallel._start_method(governor) in multiprocessing.get_all_start_methods()
    assert multiprocessing.get_start_method(allow_none=True) == before


# -- batching ------------------------------------------------------------------------------------
def test_fixed_batches_cover_the_input_in_order() -> None:
    batches = list(_iter_batches(iter([_fake(i) for i in range(10)]), 3))
    assert [len(b.files) for b in batches] == [3, 3, 3, 1]
    assert [b.first_seq for b in batches] == [0, 3, 6, 9]
    assert [f.rel_path for b in batches for f in b.files] == [f"{i}.py" for i in range(10)]


def test_adaptive_batches_ramp_up_and_stay_bounded() -> None:
    batches = list(_iter_batches(iter([_fake(i, size=1000) for i in range(2000)]), None))
    sizes = [len(b.files) for b in batches]
    assert sizes[0] < sizes[-2]  # small first, so every worker starts at once
    assert max(sizes) <= parallel.BATCH_MAX_FILES
    huge = list(_iter_batches(iter([_fake(i, size=10**7) for i in range(3)]), None))
    assert [len(b.files) for b in huge] == [1, 1, 1]  # a big file is a batch of its own
    assert sum(sizes) == 2000


# -- running -------------------------------------------------------------------------------------
@pytest.mark.parametrize("executor", ["serial", "thread", "process"])
def test_every_file_is_accounted_for(
    files: list[DiscoveredFile], governor: ChunkGovernor, executor: str
) -> None:
    stats = RunStats()
    seen: list[FileResult] = []
    results = list(
        iter_file_results(
            files,
            governor,
            executor_type=executor,
            max_workers=2,
            batch_size=4,
            stats=stats,
            on_result=seen.append,
        )
    )
    assert sorted(r.file.path for r in results) == sorted(f.path for f in files)
    assert seen == results
    by_name = {r.file.rel_path: r for r in results}
    assert by_name["blob.py"].status == "skipped"
    assert by_name["missing.py"].status == "failed"
    assert by_name["missing.py"].failure is not None
    assert by_name["missing.py"].failure.stage == "read"
    assert stats.files_chunked == 24 and stats.files_skipped == 1 and stats.files_failed == 1
    assert stats.chunks == sum(len(r.chunks) for r in results) > 24
    assert stats.executor == executor
    assert stats.workers == (1 if executor == "serial" else 2)
    assert stats.wall_seconds > 0


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_ordered_yields_in_input_order(
    files: list[DiscoveredFile], governor: ChunkGovernor, executor: str
) -> None:
    results = iter_file_results(
        files, governor, executor_type=executor, max_workers=2, batch_size=1, ordered=True
    )
    assert [r.file.path for r in results] == [f.path for f in files]


def test_chunk_files_parallel_yields_chunked_and_reports_the_rest(
    files: list[DiscoveredFile], governor: ChunkGovernor, caplog: pytest.LogCaptureFixture
) -> None:
    failures, skips = [], []
    stats = RunStats()
    with caplog.at_level(logging.INFO, logger="codeweaver"):
        out = dict(
            chunk_files_parallel(
                files,
                governor,
                executor_type="serial",
                stats=stats,
                on_failure=failures.append,
                on_skip=skips.append,
            )
        )
    assert set(out) == {f.path for f in files[:24]}
    assert [f.path for f in failures] == [files[-1].path]
    assert [s.reason for s in skips] == ["binary"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "missing.py" in warnings[0].getMessage()
    assert any("24 chunked" in r.getMessage() for r in caplog.records)
    assert stats.failures == failures and stats.skips == skips


def test_dict_form_matches_the_generator(
    files: list[DiscoveredFile], governor: ChunkGovernor
) -> None:
    as_dict = chunk_files_parallel_dict(files, governor, executor_type="thread", max_workers=2)
    assert list(as_dict) == [f.path for f in files[:24]]  # ordered by default
    assert as_dict == dict(chunk_files_parallel(files, governor, executor_type="serial"))


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_the_input_is_consumed_lazily_within_a_bounded_window(
    tmp_path: Path, governor: ChunkGovernor, executor: str
) -> None:
    p = tmp_path / "one.py"
    p.write_text(SOURCE.format(i=1), encoding="utf-8")
    pulled = 0

    def stream() -> Iterator[DiscoveredFile]:
        nonlocal pulled
        for i in range(300):
            pulled += 1
            yield DiscoveredFile(str(p), f"{i}.py", "python", p.stat().st_size, 0)

    ahead = []
    for yielded, _ in enumerate(
        iter_file_results(stream(), governor, executor_type=executor, max_workers=2, batch_size=2),
        start=1,
    ):
        ahead.append(pulled - yielded)
    assert pulled == 300
    # 2 workers x 2 batches x 2 files in flight, plus the few files peeked at for "auto".
    assert max(ahead) <= 2 * 2 * 2 + parallel.AUTO_SERIAL_MAX_FILES + 1


def test_stats_summary_and_dict(files: list[DiscoveredFile], governor: ChunkGovernor) -> None:
    stats = RunStats()
    for _ in iter_file_results(files, governor, executor_type="serial", stats=stats):
        pass
    text = stats.summary()
    assert "26 files" in text and "24 chunked" in text and "1 skipped" in text
    assert "1 failed" in text and "serial executor" in text and "missing.py [read]" in text
    d = stats.as_dict()
    assert d["files"] == 26 and d["failures"][0]["stage"] == "read"
    assert d["skips"][0]["reason"] == "binary"
    assert d["files_per_second"] > 0


@pytest.mark.parametrize("executor", ["serial", "thread", "process"])
def test_empty_input_yields_nothing(governor: ChunkGovernor, executor: str) -> None:
    stats = RunStats()
    assert list(iter_file_results([], governor, executor_type=executor, stats=stats)) == []
    assert stats.files == 0 and stats.executor == executor


def _annotation(result: FileResult) -> tuple[int, list[str]]:
    """Where it ran, and something derived from the chunks; it breaks on three files."""
    if result.file.rel_path == "m03.py":
        raise ValueError("annotate broke on m03")
    if result.file.rel_path == "m04.py":
        sys.exit(3)
    if result.file.rel_path == "m05.py":
        raise KeyboardInterrupt  # raised by the code, not a Ctrl-C
    return os.getpid(), [c.content_hash for c in result.chunks]


@pytest.mark.parametrize("executor", ["serial", "thread", "process"])
def test_annotate_runs_where_each_file_is_chunked(
    files: list[DiscoveredFile], governor: ChunkGovernor, executor: str
) -> None:
    results = {
        r.file.rel_path: r
        for r in iter_file_results(
            files,
            governor,
            executor_type=executor,
            max_workers=2,
            batch_size=4,
            annotate=_annotation,
        )
    }
    broken = results["m03.py"]
    assert broken.status == "failed" and broken.chunks == [] and broken.annotation is None
    assert broken.failure is not None and broken.failure.stage == "chunk"
    assert broken.failure.error_type == "ValueError"
    assert "annotate broke on m03" in broken.failure.message
    for name, error in (("m04.py", "SystemExit"), ("m05.py", "KeyboardInterrupt")):
        other = results[name]
        assert other.status == "failed" and other.failure is not None, name
        assert (other.failure.stage, other.failure.error_type) == ("chunk", error)
    # Skipped and failed files have nothing to annotate.
    assert results["blob.py"].annotation is None and results["missing.py"].annotation is None
    chunked = [r for r in results.values() if r.status == "chunked"]
    assert len(chunked) == 21
    pids = set()
    for r in chunked:
        pid, hashes = r.annotation
        assert hashes == [c.content_hash for c in r.chunks]
        pids.add(pid)
    if executor == "process":
        assert os.getpid() not in pids  # made in the workers, shipped back with the chunks
    else:
        assert pids == {os.getpid()}


def test_an_annotate_function_that_cannot_be_shipped_is_a_clear_error(
    files: list[DiscoveredFile], governor: ChunkGovernor
) -> None:
    import threading

    lock = threading.Lock()

    def annotate(result: FileResult) -> int:
        with lock:  # a lock cannot be pickled, even by cloudpickle
            return len(result.chunks)

    with pytest.raises(ExecutorError, match="module level"):
        list(iter_file_results(files, governor, executor_type="process", annotate=annotate))
    results = iter_file_results(files, governor, executor_type="thread", annotate=annotate)
    assert sorted(r.annotation for r in results if r.ok) == sorted(
        len(r.chunks) for r in iter_file_results(files, governor, executor_type="serial") if r.ok
    )


def test_an_unpicklable_token_counter_is_a_clear_error(
    files: list[DiscoveredFile],
) -> None:
    import threading

    lock = threading.Lock()

    def counter(text: str) -> int:
        with lock:  # a lock cannot be pickled, even by cloudpickle
            return len(text)

    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=100), token_counter=counter)
    with pytest.raises(ExecutorError, match="thread"):
        list(iter_file_results(files, gov, executor_type="process", max_workers=2))
    # the thread executor needs no pickling
    assert len(list(iter_file_results(files, gov, executor_type="thread", max_workers=2))) == 26


def test_fork_is_avoided_while_other_threads_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing
    import threading

    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: None)
    monkeypatch.setattr(
        multiprocessing, "get_all_start_methods", lambda: ["fork", "spawn", "forkserver"]
    )
    gov = ChunkGovernor()
    if threading.active_count() == 1:
        assert parallel._start_method(gov) == "fork"
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert parallel._start_method(gov) == "forkserver"
        explicit = ChunkGovernor(
            ChunkerSettings(concurrency=ConcurrencySettings(start_method="fork"))
        )
        assert parallel._start_method(explicit) == "fork"  # what the user asked for wins
    finally:
        stop.set()
        t.join()


def test_fork_stays_avoided_after_an_earlier_spawn_fixed_the_global_default(
    tmp_path: Path,
) -> None:
    import multiprocessing
    import threading

    if multiprocessing.get_all_start_methods()[:1] != ["fork"]:
        pytest.skip("fork is not the platform default here")
    spawn = ChunkGovernor(ChunkerSettings(concurrency=ConcurrencySettings(start_method="spawn")))
    p = tmp_path / "m.py"
    p.write_text(SOURCE.format(i=1), encoding="utf-8")
    one = [DiscoveredFile(str(p), "m.py", "python", p.stat().st_size, 0)]
    list(iter_file_results(one, spawn, executor_type="process", max_workers=1))
    assert multiprocessing.get_start_method(allow_none=True) == "fork"  # fixed by that start
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert parallel._start_method(ChunkGovernor()) == "forkserver"
    finally:
        stop.set()
        t.join()


def test_the_thread_executor_enforces_the_time_limit_cooperatively(tmp_path: Path) -> None:
    """Threads cannot be killed: ``chunk_bytes`` gives up at its deadline between steps."""
    import time

    files = []
    for i in range(4):
        p = tmp_path / f"t{i}.py"
        slow = i == 1
        body = "".join(
            f"def f{j}(x):{'  # SLOW' if slow else ''}\n    return x\n\n\n" for j in range(300)
        )
        p.write_text(body, encoding="utf-8")
        files.append(DiscoveredFile(str(p), p.name, "python", p.stat().st_size, 0))

    def counter(text: str) -> int:
        if "SLOW" in text:
            time.sleep(0.01)
        return len(text) // 4

    settings = ChunkerSettings(max_chunk_tokens=40, file_timeout_seconds=0.2)
    gov = ChunkGovernor(settings, token_counter=counter)
    results = {
        r.file.rel_path: r
        for r in iter_file_results(files, gov, executor_type="thread", max_workers=2, batch_size=1)
    }
    slow_result = results.pop("t1.py")
    assert slow_result.status == "failed" and slow_result.failure is not None
    assert slow_result.failure.stage == "timeout"
    assert all(r.status == "chunked" for r in results.values())


def test_cgroup_cpu_quota_is_read_and_rounded_up(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert parallel._cgroup_cpu_limit(str(v2)) == 2
    (v2 / "cpu.max").write_text("max 100000\n")
    assert parallel._cgroup_cpu_limit(str(v2)) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert parallel._cgroup_cpu_limit(str(v1)) == 1
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert parallel._cgroup_cpu_limit(str(v1)) is None
    assert parallel._cgroup_cpu_limit(str(tmp_path / "none")) is None


def test_a_path_over_the_default_size_limit_is_described_by_the_governors(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    data = (b"word " * 300 + b"\n") * 12_000  # 18 MB: over the default 16 MiB, under this limit
    big.write_bytes(data)
    settings = ChunkerSettings(
        max_file_bytes=32 * 1024 * 1024, concurrency=ConcurrencySettings(executor="serial")
    )
    [result] = iter_file_results([str(big)], ChunkGovernor(settings))
    # (described by the default limit it fell back to a bare record: size 0)
    assert result.status == "chunked" and result.file.size == len(data)
