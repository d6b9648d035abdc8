"""The floor: parse the file with tree-sitter (0.13 pack) and do nothing else.

No AST chunker can be faster than its parse; this row shows what the parse alone costs.
"""

from __future__ import annotations

from typing import Any

from benchmarks.peers import Peer

__all__ = ["ADAPTER", "ParseOnlyPeer"]


class ParseOnlyPeer(Peer):
    name = "parse-only"
    description = "floor: tree-sitter parse only, no chunks"
    packages = ("tree-sitter", "tree-sitter-language-pack")
    modules = ("tree_sitter_language_pack",)
    ast_based = True
    wants_text = False
    produces_chunks = False
    budget_note = "n/a"

    def __init__(self, budget_chars: int) -> None:
        super().__init__(budget_chars)
        self._parsers: dict[str, Any] = {}

    def chunk(self, text: str, data: bytes, language: str, path: str) -> list[str]:
        parser = self._parsers.get(language)
        if parser is None:
            from tree_sitter_language_pack import get_parser

            parser = self._parsers[language] = get_parser(language)  # type: ignore[arg-type]
        parser.parse(data)
        return []


ADAPTER = ParseOnlyPeer
