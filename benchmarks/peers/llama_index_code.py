"""llama-index-core's ``CodeSplitter`` with ``count_mode="char"`` and ``max_chars`` = the budget."""

from __future__ import annotations

from typing import Any

from benchmarks.peers import Peer

__all__ = ["ADAPTER", "LlamaIndexPeer"]


class LlamaIndexPeer(Peer):
    name = "llama-index"
    description = "llama-index CodeSplitter, count_mode='char'"
    packages = ("llama-index-core", "tree-sitter-language-pack")
    modules = ("llama_index.core",)
    ast_based = True

    def __init__(self, budget_chars: int) -> None:
        super().__init__(budget_chars)
        self._splitters: dict[str, Any] = {}

    def chunk(self, text: str, data: bytes, language: str, path: str) -> list[str]:
        splitter = self._splitters.get(language)
        if splitter is None:
            from llama_index.core.node_parser import CodeSplitter  # type: ignore[import-not-found,unused-ignore]

            splitter = CodeSplitter(
                language=language, max_chars=self.budget_chars, count_mode="char"
            )
            self._splitters[language] = splitter
        return list(splitter.split_text(text))


ADAPTER = LlamaIndexPeer
