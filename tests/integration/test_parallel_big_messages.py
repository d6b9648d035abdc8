"""The process pool under conditions that break naive pools: big messages both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeweaver.core.discovery import DiscoveredFile
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.parallel import iter_file_results
from codeweaver.engine.chunker.results import RunStats


@pytest.mark.timeout(120)
def test_large_tasks_and_large_results_do_not_deadlock(tmp_path: Path) -> None:
    """Task and result messages far bigger than a pipe buffer, two batches in flight per worker.

    A worker blocked sending a big result while the parent is blocked sending it the next big
    batch would hang forever if the worker did not read tasks on its own thread.
    """
    src = tmp_path / "m.py"
    src.write_text("def f(x):\n    return x\n\n\n" * 20, encoding="utf-8")
    size = src.stat().st_size
    # The long rel_path travels in every task and comes back in every chunk.
    files = [
        DiscoveredFile(str(src), f"{i:05d}/" + "d" * 2000 + ".py", "python", size, 0)
        for i in range(1200)
    ]
    stats = RunStats()
    results = list(
        iter_file_results(
            files,
            ChunkGovernor(max_chunk_chars=40),
            executor_type="process",
            max_workers=1,
            batch_size=600,
            stats=stats,
        )
    )
    assert stats.files_chunked == 1200
    assert {r.file.rel_path for r in results} == {f.rel_path for f in files}
    assert all(c.path == r.file.rel_path for r in results for c in r.chunks)
