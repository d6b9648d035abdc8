"""semantic-text-splitter's ``CodeSplitter`` (0.33, the Rust ``text-splitter`` crate).

The grammar comes from the offline 0.13 pack's ``get_binding``; the capacity is a character
budget. ``trim=False`` keeps it lossless (it trims whitespace around chunks by default).
"""

from __future__ import annotations

from typing import Any

from benchmarks.peers import Peer

__all__ = ["ADAPTER", "SemanticTextSplitterPeer"]


class SemanticTextSplitterPeer(Peer):
    name = "semantic-text-splitter"
    description = "semantic-text-splitter CodeSplitter (Rust), characters, trim=False"
    packages = ("semantic-text-splitter", "tree-sitter-language-pack")
    modules = ("semantic_text_splitter",)
    ast_based = True

    def __init__(self, budget_chars: int) -> None:
        super().__init__(budget_chars)
        self._splitters: dict[str, Any] = {}

    def chunk(self, text: str, data: bytes, language: str, path: str) -> list[str]:
        splitter = self._splitters.get(language)
        if splitter is None:
            from semantic_text_splitter import (  # type: ignore[import-not-found,unused-ignore]
                CodeSplitter,
            )
            from tree_sitter_language_pack import get_binding

            splitter = CodeSplitter(get_binding(language), self.budget_chars, trim=False)
            self._splitters[language] = splitter
        return list(splitter.chunks(text))


ADAPTER = SemanticTextSplitterPeer
