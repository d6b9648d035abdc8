"""codeweaver, serial: ``chunk_bytes`` in one process (apples to apples with the other peers)."""

from __future__ import annotations

from typing import Any

from benchmarks.peers import Peer

__all__ = ["ADAPTER", "CodeweaverPeer", "make_governor"]


def make_governor(budget_chars: int) -> Any:
    """A governor with a character budget (and otherwise default settings)."""
    from codeweaver.config.chunker import ChunkerSettings
    from codeweaver.engine.chunker.governor import ChunkGovernor

    return ChunkGovernor(ChunkerSettings(max_chunk_chars=budget_chars))


class CodeweaverPeer(Peer):
    name = "codeweaver"
    description = "codeweaver chunk_bytes, one process"
    packages = ("codeweaver", "tree-sitter-language-pack")
    modules = ("codeweaver.engine.chunker.file_chunker",)
    ast_based = True
    wants_text = False  # decodes inside, from the bytes

    def __init__(self, budget_chars: int) -> None:
        super().__init__(budget_chars)
        from codeweaver.engine.chunker.file_chunker import chunk_bytes

        self._governor = make_governor(budget_chars)
        self._chunk_bytes = chunk_bytes

    def chunk(self, text: str, data: bytes, language: str, path: str) -> list[str]:
        return [c.content for c in self._chunk_bytes(data, language, self._governor, path=path)]


ADAPTER = CodeweaverPeer
