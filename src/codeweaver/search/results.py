"""``SearchResult``: one ranked chunk, with everything a caller needs to show or use it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from codeweaver.index.store import MARK_END, MARK_START, MatchRow, split_joined
from codeweaver.search.snippets import marked_snippet

__all__ = ["SearchMode", "SearchResult", "to_result"]

SearchMode = Literal["auto", "keyword", "semantic", "hybrid"]
"""``auto``: hybrid when the index holds vectors for the configured model, keyword otherwise."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One ranked chunk: where it is, what it holds, and how it scored.

    ``score`` is the score the results are ordered by (higher is better; comparable only within
    one result list); ``scores`` holds the score each mode gave it (``{"keyword": 12.3}``,
    ``{"keyword": ..., "semantic": ..., "hybrid": ...}``). ``marked_snippet`` is a few lines
    around the best match with matched terms between ``MARK_START`` and ``MARK_END``.
    """

    path: str
    start_line: int
    end_line: int
    start_byte: int
    end_byte: int
    language: str
    symbol_path: tuple[str, ...]
    kinds: tuple[str, ...]
    chunk_id: str
    content_hash: str
    content: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    marked_snippet: str = ""

    @property
    def symbol(self) -> str:
        """The symbol path joined with ``" > "`` (empty for top-level code)."""
        return " > ".join(self.symbol_path)

    @property
    def snippet(self) -> str:
        """``marked_snippet`` without the match marks."""
        return self.marked_snippet.replace(MARK_START, "").replace(MARK_END, "")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: the whole chunk, its place, and its scores per mode."""
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "start_byte": self.start_byte,
            "end_byte": self.end_byte,
            "language": self.language,
            "symbol": self.symbol,
            "symbol_path": list(self.symbol_path),
            "kinds": list(self.kinds),
            "id": self.chunk_id,
            "content_hash": self.content_hash,
            "score": self.score,
            "scores": dict(self.scores),
            "content": self.content,
        }


def to_result(
    row: MatchRow,
    score: float,
    terms: Collection[str],
    scores: dict[str, float] | None = None,
    *,
    snippet: str | None = None,
) -> SearchResult:
    """A result for an index row; ``scores`` default to its BM25 score as ``keyword``, the
    snippet to its lines holding the most of ``terms``."""
    return SearchResult(
        path=row.path,
        start_line=row.start_line,
        end_line=row.end_line,
        start_byte=row.start_byte,
        end_byte=row.end_byte,
        language=row.language,
        symbol_path=split_joined(row.symbol_path),
        kinds=split_joined(row.kinds),
        chunk_id=row.chunk_id,
        content_hash=row.content_hash,
        content=row.content,
        score=score,
        scores={"keyword": row.score} if scores is None else scores,
        marked_snippet=marked_snippet(row.content, terms) if snippet is None else snippet,
    )
