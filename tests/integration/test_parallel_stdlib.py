"""Every executor on a real corpus (a slice of the standard library) gives the serial results.

Also: a lambda token counter under spawn, breaking out early, and Ctrl-C leave no workers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from _procs import descendants, script_in_own_group

from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.parallel import chunk_files_parallel, iter_file_results
from codeweaver.engine.chunker.results import FileResult, RunStats


def _same(a: FileResult, b: FileResult) -> bool:
    # ``seconds`` is a measurement, everything else must match exactly.
    return (a.file, a.status, a.chunks, a.file_hash, a.skip) == (
        b.file,
        b.status,
        b.chunks,
        b.file_hash,
        b.skip,
    ) and (a.failure is None) == (b.failure is None)


@pytest.mark.parametrize(
    ("executor", "method"),
    [("thread", None), *(("process", m) for m in ("fork", "forkserver", "spawn"))],
)
def test_every_executor_matches_serial(
    corpus: list[DiscoveredFile],
    governor: ChunkGovernor,
    serial: dict[str, FileResult],
    executor: str,
    method: str | None,
) -> None:
    if method is not None and method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    gov = governor
    if method is not None:
        settings = governor.settings.model_copy(
            update={"concurrency": ConcurrencySettings(start_method=method)}  # type: ignore[arg-type]
        )
        gov = ChunkGovernor(settings)
    stats = RunStats()
    results = list(
        iter_file_results(corpus, gov, executor_type=executor, max_workers=2, stats=stats)
    )
    assert len(results) == len(serial)
    for r in results:
        assert _same(r, serial[r.file.path]), r.file.rel_path
    assert stats.executor == executor and stats.workers == 2
    assert stats.files == len(corpus) and stats.worker_restarts == 0


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_ordered_gives_input_order(
    corpus: list[DiscoveredFile], governor: ChunkGovernor, executor: str
) -> None:
    files = corpus[:120]
    got = [
        path
        for path, _ in chunk_files_parallel(
            files, governor, executor_type=executor, max_workers=2, ordered=True
        )
    ]
    assert got == [f.path for f in files if f.path in set(got)]
    assert len(got) >= 100


def test_a_lambda_token_counter_works_under_spawn(corpus: list[DiscoveredFile]) -> None:
    files = corpus[:40]
    settings = ChunkerSettings(
        max_chunk_tokens=120, concurrency=ConcurrencySettings(start_method="spawn")
    )
    governor = ChunkGovernor(settings, token_counter=lambda s: len(s.split()) + s.count("\n"))
    expected = dict(chunk_files_parallel(files, governor, executor_type="serial", ordered=True))
    got = dict(
        chunk_files_parallel(files, governor, executor_type="process", max_workers=2, ordered=True)
    )
    assert got == expected
    assert any(len(chunks) > 1 for chunks in got.values())


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_breaking_out_early_reaps_every_worker(
    corpus: list[DiscoveredFile], governor: ChunkGovernor, method: str
) -> None:
    settings = governor.settings.model_copy(
        update={"concurrency": ConcurrencySettings(start_method=method)}  # type: ignore[arg-type]
    )
    gen = chunk_files_parallel(
        corpus, ChunkGovernor(settings), executor_type="process", max_workers=2
    )
    seen: set[psutil.Process] = set()
    for n, _ in enumerate(gen):
        seen |= descendants()
        if n == 3:
            break
    assert len(seen) == 2
    started = time.monotonic()
    gen.close()  # what the end of a ``for`` loop does when nothing else holds the generator
    assert time.monotonic() - started < 5
    assert descendants() == set()
    _, alive = psutil.wait_procs(list(seen), timeout=1)
    assert alive == []


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import psutil
    from codeweaver.config.chunker import ChunkerSettings
    from codeweaver.core.discovery import DiscoveredFile
    from codeweaver.engine.chunker.governor import ChunkGovernor
    from codeweaver.engine.chunker.parallel import chunk_files_parallel

    def slow(text):
        time.sleep(0.01)  # user code in the workers: keeps them busy
        return len(text) // 4

    p = Path(sys.argv[1])
    files = [DiscoveredFile(str(p), f"{i}.py", "python", p.stat().st_size, 0) for i in range(5000)]
    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=100), token_counter=slow)
    for n, (path, chunks) in enumerate(chunk_files_parallel(files, gov, executor_type="process",
                                                           max_workers=2, batch_size=2)):
        if n == 2:
            pids = [c.pid for c in psutil.Process().children(recursive=True)]
            print(" ".join(map(str, pids)), flush=True)
    """
)


def test_ctrl_c_in_a_cli_like_process_leaves_no_worker(tmp_path: Path) -> None:
    src = tmp_path / "mod.py"
    src.write_text("def f(x):\n    return x\n" * 30, encoding="utf-8")
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    with script_in_own_group(script, str(src)) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        pids = [int(x) for x in line.split()]
        assert len(pids) >= 2, proc.stderr.read() if proc.stderr else line
        workers = [psutil.Process(pid) for pid in pids]
        # Ctrl-C in a terminal: SIGINT to the whole foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert alive == []
