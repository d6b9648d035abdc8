"""semchunk with ``len`` as the token counter, so ``chunk_size`` is a character budget.

semchunk is language-agnostic (it splits at the most semantic whitespace/punctuation it finds)
and strips the whitespace it splits at.
"""

from __future__ import annotations

from typing import Any

from benchmarks.peers import Peer

__all__ = ["ADAPTER", "SemchunkPeer"]


class SemchunkPeer(Peer):
    name = "semchunk"
    description = "semchunk.chunkerify(len, budget) (no parse)"
    packages = ("semchunk",)
    modules = ("semchunk",)

    def __init__(self, budget_chars: int) -> None:
        super().__init__(budget_chars)
        self._chunker: Any = None

    def chunk(self, text: str, data: bytes, language: str, path: str) -> list[str]:
        if self._chunker is None:
            import semchunk  # type: ignore[import-not-found,unused-ignore]

            self._chunker = semchunk.chunkerify(len, self.budget_chars)
        return list(self._chunker(text))


ADAPTER = SemchunkPeer
