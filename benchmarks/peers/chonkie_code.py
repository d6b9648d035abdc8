"""chonkie's ``CodeChunker`` (1.6.5, the last release that runs on the offline 0.13 grammar pack).

``tokenizer="character"`` makes ``chunk_size`` a character budget; the language is given
explicitly (``"auto"`` would load magika's model).
"""

from __future__ import annotations

from typing import Any

from benchmarks.peers import Peer

__all__ = ["ADAPTER", "ChonkiePeer"]


class ChonkiePeer(Peer):
    name = "chonkie"
    description = "chonkie CodeChunker, tokenizer='character'"
    packages = ("chonkie", "tree-sitter-language-pack")
    modules = ("chonkie",)
    ast_based = True

    def __init__(self, budget_chars: int) -> None:
        super().__init__(budget_chars)
        self._chunkers: dict[str, Any] = {}

    def chunk(self, text: str, data: bytes, language: str, path: str) -> list[str]:
        chunker = self._chunkers.get(language)
        if chunker is None:
            from chonkie import CodeChunker  # type: ignore[import-not-found,unused-ignore]

            chunker = CodeChunker(
                tokenizer="character", chunk_size=self.budget_chars, language=language
            )
            self._chunkers[language] = chunker
        return [c.text for c in chunker.chunk(text)]


ADAPTER = ChonkiePeer
