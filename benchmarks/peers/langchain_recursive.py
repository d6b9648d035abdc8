"""langchain-text-splitters' ``RecursiveCharacterTextSplitter.from_language`` (regex separators, no
parse), with ``chunk_size`` = the budget, ``chunk_overlap=0`` and ``len`` as the length function.
Its default ``strip_whitespace=True`` is kept: that is what its users get.
"""

from __future__ import annotations

from typing import Any

from benchmarks.peers import Peer

__all__ = ["ADAPTER", "LangchainPeer"]

# tree-sitter-language-pack name -> langchain Language value
_LANGUAGES = {
    "python": "python",
    "javascript": "js",
    "typescript": "ts",
    "tsx": "ts",
    "go": "go",
    "rust": "rust",
    "java": "java",
    "c": "c",
    "cpp": "cpp",
    "csharp": "csharp",
    "kotlin": "kotlin",
    "php": "php",
    "ruby": "ruby",
    "scala": "scala",
    "swift": "swift",
    "lua": "lua",
    "haskell": "haskell",
    "elixir": "elixir",
    "markdown": "markdown",
    "html": "html",
}


class LangchainPeer(Peer):
    name = "langchain"
    description = "langchain RecursiveCharacterTextSplitter.from_language (regex, no parse)"
    packages = ("langchain-text-splitters",)
    modules = ("langchain_text_splitters",)
    languages = frozenset(_LANGUAGES)

    def __init__(self, budget_chars: int) -> None:
        super().__init__(budget_chars)
        self._splitters: dict[str, Any] = {}

    def chunk(self, text: str, data: bytes, language: str, path: str) -> list[str]:
        splitter = self._splitters.get(language)
        if splitter is None:
            from langchain_text_splitters import (  # type: ignore[import-not-found,unused-ignore]
                Language,
                RecursiveCharacterTextSplitter,
            )

            splitter = RecursiveCharacterTextSplitter.from_language(
                Language(_LANGUAGES[language]), chunk_size=self.budget_chars, chunk_overlap=0
            )
            self._splitters[language] = splitter
        return list(splitter.split_text(text))


ADAPTER = LangchainPeer
