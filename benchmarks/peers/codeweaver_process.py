"""codeweaver on all cores: ``chunk_files_parallel(..., executor_type="process")``.

Timed as the wall time of one call over the whole corpus (pool start, reads and IPC included), so
its MB/s is what a user of the library sees; the harness samples the RSS of the process tree.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from benchmarks.peers import BatchFile, Peer
from benchmarks.peers.codeweaver_serial import make_governor

__all__ = ["ADAPTER", "CodeweaverProcessPeer"]


class CodeweaverProcessPeer(Peer):
    name = "codeweaver-process"
    description = "codeweaver chunk_files_parallel, process executor, all usable cores"
    packages = ("codeweaver",)
    modules = ("codeweaver.engine.chunker.parallel",)
    ast_based = True
    batch = True

    def __init__(self, budget_chars: int) -> None:
        super().__init__(budget_chars)
        self._governor = make_governor(budget_chars)

    def chunk(self, text: str, data: bytes, language: str, path: str) -> list[str]:
        raise NotImplementedError("a batch peer: use chunk_batch")

    def chunk_batch(
        self, files: Sequence[BatchFile]
    ) -> Iterator[tuple[str, list[str] | BaseException]]:
        from codeweaver.core.chunks import FailureRecord, SkipRecord
        from codeweaver.core.discovery import DiscoveredFile
        from codeweaver.engine.chunker.parallel import chunk_files_parallel

        discovered = []
        rel_of: dict[str, str] = {}
        for f in files:
            st = os.stat(f.path)
            discovered.append(
                DiscoveredFile(f.path, f.rel_path, f.language, st.st_size, st.st_mtime_ns)
            )
            rel_of[f.path] = f.rel_path
            rel_of[f.rel_path] = f.rel_path
        problems: list[tuple[str, BaseException]] = []

        def on_failure(record: FailureRecord) -> None:
            problems.append((record.path, _Failure(record.error_type, record.message)))

        def on_skip(record: SkipRecord) -> None:
            problems.append((record.path, _Failure("Skipped", f"{record.reason} {record.detail}")))

        results: list[tuple[str, list[str] | BaseException]] = []
        for path, chunks in chunk_files_parallel(
            discovered,
            self._governor,
            executor_type="process",
            on_failure=on_failure,
            on_skip=on_skip,
        ):
            results.append((rel_of.get(path, path), [c.content for c in chunks]))
        for path, error in problems:
            results.append((rel_of.get(path, path), error))
        return iter(results)


class _Failure(Exception):
    """A failure codeweaver reported, under the reported exception type's name."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


ADAPTER = CodeweaverProcessPeer
