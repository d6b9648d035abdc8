"""astchunk 0.1.0 (the cAST paper's library): Python, Java, C# and TypeScript only.

Its ``max_chunk_size`` counts **non-whitespace** characters; it gets the same number as every
other peer, and its chunks are measured in real characters like everyone's, so its chunks run
larger than the budget by about the share of whitespace in the code (the unit mismatch is
reported, not corrected).
"""

from __future__ import annotations

from typing import Any

from benchmarks.peers import Peer

__all__ = ["ADAPTER", "AstChunkPeer"]


class AstChunkPeer(Peer):
    name = "astchunk"
    description = "astchunk ASTChunkBuilder (budget in non-whitespace chars)"
    packages = ("astchunk",)
    modules = ("astchunk",)
    languages = frozenset({"python", "java", "csharp", "typescript"})
    ast_based = True
    budget_note = "non-whitespace characters"

    def __init__(self, budget_chars: int) -> None:
        super().__init__(budget_chars)
        self._builders: dict[str, Any] = {}

    def chunk(self, text: str, data: bytes, language: str, path: str) -> list[str]:
        builder = self._builders.get(language)
        if builder is None:
            from astchunk import ASTChunkBuilder  # type: ignore[import-not-found,unused-ignore]

            builder = ASTChunkBuilder(
                max_chunk_size=self.budget_chars, language=language, metadata_template="default"
            )
            self._builders[language] = builder
        return [w["content"] for w in builder.chunkify(text)]


ADAPTER = AstChunkPeer
