"""codeweaver: fast, parallel, syntax-aware code chunking for semantic code search.

Example:
    >>> from codeweaver import ChunkGovernor, chunk_files_parallel, discover_files
    >>> from codeweaver.config.chunker import ChunkerSettings
    >>> governor = ChunkGovernor(ChunkerSettings(max_chunk_tokens=512))
    >>> files = discover_files("repo/")
    >>> for path, chunks in chunk_files_parallel(files, governor):  # doctest: +SKIP
    ...     store(path, chunks)

Importing this package is cheap: the names below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # settings
    "ChunkerSettings": "codeweaver.config.chunker",
    "ConcurrencySettings": "codeweaver.config.chunker",
    "CodeWeaverSettings": "codeweaver.config.settings",
    "load_settings": "codeweaver.config.settings",
    # models and errors
    "CodeChunk": "codeweaver.core.chunks",
    "Span": "codeweaver.core.chunks",
    "FailureRecord": "codeweaver.core.chunks",
    "SkipRecord": "codeweaver.core.chunks",
    "CodeWeaverError": "codeweaver.core.errors",
    "ConfigError": "codeweaver.core.errors",
    "ChunkingError": "codeweaver.core.errors",
    # discovery
    "DiscoveredFile": "codeweaver.core.discovery",
    "discover_files": "codeweaver.core.discovery",
    # the chunker
    "ChunkGovernor": "codeweaver.engine.chunker.governor",
    "chunk_file": "codeweaver.engine.chunker.file_chunker",
    "chunk_bytes": "codeweaver.engine.chunker.file_chunker",
    "chunk_text": "codeweaver.engine.chunker.file_chunker",
    # the parallel engine
    "chunk_files_parallel": "codeweaver.engine.chunker.parallel",
    "chunk_files_parallel_dict": "codeweaver.engine.chunker.parallel",
    "iter_file_results": "codeweaver.engine.chunker.parallel",
    "FileResult": "codeweaver.engine.chunker.results",
    "RunStats": "codeweaver.engine.chunker.results",
    # the index
    "index_project": "codeweaver.index",
    "IndexReport": "codeweaver.index",
}

__all__ = [
    "ChunkGovernor",
    "ChunkerSettings",
    "ChunkingError",
    "CodeChunk",
    "CodeWeaverError",
    "CodeWeaverSettings",
    "ConcurrencySettings",
    "ConfigError",
    "DiscoveredFile",
    "FailureRecord",
    "FileResult",
    "IndexReport",
    "RunStats",
    "SkipRecord",
    "Span",
    "__version__",
    "chunk_bytes",
    "chunk_file",
    "chunk_files_parallel",
    "chunk_files_parallel_dict",
    "chunk_text",
    "discover_files",
    "index_project",
    "iter_file_results",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'codeweaver' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
    from codeweaver.config.settings import CodeWeaverSettings, load_settings
    from codeweaver.core.chunks import CodeChunk, FailureRecord, SkipRecord, Span
    from codeweaver.core.discovery import DiscoveredFile, discover_files
    from codeweaver.core.errors import ChunkingError, CodeWeaverError, ConfigError
    from codeweaver.engine.chunker.file_chunker import chunk_bytes, chunk_file, chunk_text
    from codeweaver.engine.chunker.governor import ChunkGovernor
    from codeweaver.engine.chunker.parallel import (
        chunk_files_parallel,
        chunk_files_parallel_dict,
        iter_file_results,
    )
    from codeweaver.engine.chunker.results import FileResult, RunStats
    from codeweaver.index import IndexReport, index_project
