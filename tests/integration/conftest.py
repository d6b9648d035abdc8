"""Shared by the executor integration tests: a stable slice of the standard library, the
governor they chunk it with, and the serial results every other executor must reproduce."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.languages import language_for_path
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.parallel import iter_file_results
from codeweaver.engine.chunker.results import FileResult

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def stdlib_slice(limit: int, *, step: int = 5) -> list[DiscoveredFile]:
    """Every ``step``-th file of the standard library (sorted, so the slice is stable)."""
    paths = sorted(
        p
        for p in STDLIB.rglob("*")
        if p.is_file() and "site-packages" not in p.parts and p.suffix in {".py", ".txt", ".c"}
    )
    out = []
    for p in paths[::step][:limit]:
        st = p.stat()
        lang = language_for_path(p) or "text"
        out.append(DiscoveredFile(str(p), p.relative_to(STDLIB).as_posix(), lang, st.st_size, 0))
    return out


@pytest.fixture(scope="module")
def corpus() -> list[DiscoveredFile]:
    files = stdlib_slice(300)
    assert len(files) == 300
    return files


@pytest.fixture(scope="module")
def governor() -> ChunkGovernor:
    return ChunkGovernor(max_chunk_chars=1500)


@pytest.fixture(scope="module")
def serial(corpus: list[DiscoveredFile], governor: ChunkGovernor) -> dict[str, FileResult]:
    """The serial executor's result per file path: what every other executor must give."""
    results = {r.file.path: r for r in iter_file_results(corpus, governor, executor_type="serial")}
    assert sum(r.status == "chunked" for r in results.values()) > 250
    return results
