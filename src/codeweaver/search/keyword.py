"""Keyword search: BM25 over chunk text, symbol paths and file paths (SQLite FTS5)."""

from __future__ import annotations

from codeweaver.index.store import IndexStore, fts_query, split_joined
from codeweaver.search.results import SearchResult

__all__ = ["keyword_search"]


def keyword_search(store: IndexStore, query: str, *, limit: int = 10) -> list[SearchResult]:
    """The ``limit`` best chunks for ``query`` by BM25.

    Chunks holding every word come first; when fewer than ``limit`` do, the list is filled with
    chunks holding some of the words (never cut short to the all-words hits).
    """
    if limit <= 0:
        return []
    rows = store.match_rows(fts_query(query), limit=limit)
    if len(rows) < limit:
        seen = {r[8] for r in rows}
        more = store.match_rows(fts_query(query, any_term=True), limit=limit + len(rows))
        rows += [r for r in more if r[8] not in seen][: limit - len(rows)]
    return [_to_result(r) for r in rows]


def _to_result(row: tuple[object, ...]) -> SearchResult:
    (path, sl, el, sb, eb, lang, symbols, kinds, cid, digest, content, score, snippet) = row
    return SearchResult(
        path=str(path),
        start_line=int(sl),  # type: ignore[call-overload]
        end_line=int(el),  # type: ignore[call-overload]
        start_byte=int(sb),  # type: ignore[call-overload]
        end_byte=int(eb),  # type: ignore[call-overload]
        language=str(lang),
        symbol_path=split_joined(str(symbols)),
        kinds=split_joined(str(kinds)),
        chunk_id=str(cid),
        content_hash=str(digest),
        content=str(content),
        score=float(score),  # type: ignore[arg-type]
        scores={"keyword": float(score)},  # type: ignore[arg-type]
        marked_snippet=str(snippet),
    )
