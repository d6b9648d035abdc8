"""The chunking engine: the governor, the per-file chunker and the parallel executors.

``from codeweaver.engine.chunker import ChunkGovernor, chunk_file, chunk_files_parallel`` is part
of the public API. Names load on first use, so importing this package does not load tree-sitter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "ChunkGovernor": "codeweaver.engine.chunker.governor",
    "TokenCounter": "codeweaver.engine.chunker.governor",
    "chunk_file": "codeweaver.engine.chunker.file_chunker",
    "chunk_bytes": "codeweaver.engine.chunker.file_chunker",
    "chunk_text": "codeweaver.engine.chunker.file_chunker",
    "read_source": "codeweaver.engine.chunker.file_chunker",
    "chunk_files_parallel": "codeweaver.engine.chunker.parallel",
    "chunk_files_parallel_dict": "codeweaver.engine.chunker.parallel",
    "iter_file_results": "codeweaver.engine.chunker.parallel",
    "resolve_executor": "codeweaver.engine.chunker.parallel",
    "default_worker_count": "codeweaver.engine.chunker.parallel",
    "FileResult": "codeweaver.engine.chunker.results",
    "RunStats": "codeweaver.engine.chunker.results",
}

__all__ = [
    "ChunkGovernor",
    "FileResult",
    "RunStats",
    "TokenCounter",
    "chunk_bytes",
    "chunk_file",
    "chunk_files_parallel",
    "chunk_files_parallel_dict",
    "chunk_text",
    "default_worker_count",
    "iter_file_results",
    "read_source",
    "resolve_executor",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'codeweaver.engine.chunker' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from codeweaver.engine.chunker.file_chunker import (
        chunk_bytes,
        chunk_file,
        chunk_text,
        read_source,
    )
    from codeweaver.engine.chunker.governor import ChunkGovernor, TokenCounter
    from codeweaver.engine.chunker.parallel import (
        chunk_files_parallel,
        chunk_files_parallel_dict,
        default_worker_count,
        iter_file_results,
        resolve_executor,
    )
    from codeweaver.engine.chunker.results import FileResult, RunStats
