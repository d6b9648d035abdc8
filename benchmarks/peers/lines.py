"""The baseline: pack whole lines up to the budget; a longer line is cut by characters.

No parse, no syntax: what any chunker has to beat on quality. Lossless by construction.
"""

from __future__ import annotations

from benchmarks.peers import Peer

__all__ = ["ADAPTER", "LinesPeer", "pack_lines"]


def pack_lines(text: str, budget: int) -> list[str]:
    """Greedy line packing: ``"".join(pack_lines(t, b)) == t`` and every chunk is ``<= b`` chars."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        pieces = (
            [line[i : i + budget] for i in range(0, len(line), budget)]
            if len(line) > budget
            else [line]
        )
        for piece in pieces:
            if size + len(piece) > budget and current:
                chunks.append("".join(current))
                current, size = [], 0
            current.append(piece)
            size += len(piece)
    if current:
        chunks.append("".join(current))
    return chunks


class LinesPeer(Peer):
    name = "lines"
    description = "baseline: pack lines up to the budget (no parse)"

    def chunk(self, text: str, data: bytes, language: str, path: str) -> list[str]:
        return pack_lines(text, self.budget_chars)


ADAPTER = LinesPeer
