"""Hybrid search: keyword and semantic candidates, one score, re-ranked like keyword search.

::

    query ─▶ BM25 candidates (keyword_candidates) ──┐   base = (1 - w) * bm25 / best bm25
          ─▶ the nearest vectors (exact cosine) ────┴─▶        + w * cosine, min-max over the
                                                               nearest ``semantic_candidates``
                                                      ─▶ rerank(): definitions, paths, files,
                                                         priors, spread (as keyword search)

Fusing the two *final* lists (reciprocal-rank fusion, :mod:`codeweaver.search.fusion`) throws
away what the keyword re-ranking knows about code; here both signals enter the re-ranking as one
base score, so a chunk found only by meaning can still rise on its file name or its definition,
and a weak semantic match cannot push out an exact identifier hit. Measured on semble's
code-search benchmark (``python -m benchmarks search --configs hybrid,hybrid-rrf``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from codeweaver.core.errors import SearchError
from codeweaver.index import vectors as vx
from codeweaver.index.store import IndexStore
from codeweaver.search.keyword import (
    DEFAULT_RANKING,
    KeywordRanking,
    is_symbol_query,
    keyword_candidates,
    rerank,
)
from codeweaver.search.results import SearchResult, to_result
from codeweaver.search.vector import embed_query, similarities, top_k

if TYPE_CHECKING:
    from codeweaver.embed.base import Embedder

__all__ = ["DEFAULT_HYBRID", "HybridParams", "hybrid_search"]


@dataclass(frozen=True, slots=True)
class HybridParams:
    """How much meaning weighs against keywords, and how many nearest chunks are candidates."""

    semantic_weight: float = 0.3
    """``w`` above: the share of the base score that comes from cosine similarity."""
    semantic_candidates: int = 20
    """The nearest chunks by meaning added to the keyword candidates; the min-max range of the
    cosine is taken over them, so only close matches earn a semantic share."""
    symbol_weight: float | None = 0.0
    """``w`` for a query that is one identifier (``HandlerStack``, ``Sinatra::Base``): the name
    itself is the evidence, and the nearest chunks by meaning are still candidates; None:
    ``semantic_weight``."""


DEFAULT_HYBRID = HybridParams()


def hybrid_search(
    store: IndexStore,
    query: str,
    embedder: Embedder,
    *,
    limit: int = 10,
    params: HybridParams = DEFAULT_HYBRID,
    ranking: KeywordRanking = DEFAULT_RANKING,
) -> list[SearchResult]:
    """The ``limit`` best chunks for ``query`` by keywords and meaning together (module doc).

    Each result's ``scores`` hold its ``keyword`` (BM25, 0 when it matched no word) and
    ``semantic`` (cosine) scores and the ``hybrid`` score it is ranked by.
    """
    if limit <= 0 or not query.strip():
        return []
    terms, rows = keyword_candidates(store, query, limit=limit, ranking=ranking)
    matrix = vx.load_matrix(store, embedder.name)
    if matrix is None or len(matrix) == 0:
        raise SearchError(f"the index holds no vectors of {embedder.name}")
    sims = similarities(matrix, embed_query(embedder, query))
    nearest = top_k(sims, max(params.semantic_candidates, limit))
    hi, lo = float(sims[nearest].max()), float(sims[nearest].min())
    span = hi - lo or 1.0

    by_id = {row.id: row for row in rows}
    near_hashes = [h.decode() for h in matrix.hashes[nearest]]
    by_id.update((r.id, r) for r in store.rows_with_content(near_hashes) if r.id not in by_id)
    cosine = _cosines(matrix, sims, [r.content_hash for r in by_id.values()])
    best_bm25 = max((r.score for r in rows), default=0.0) or 1.0
    w = params.semantic_weight
    if params.symbol_weight is not None and is_symbol_query(query):
        w = params.symbol_weight
    base = {
        rid: (1 - w) * row.score / best_bm25
        + w * max(0.0, (cosine.get(row.content_hash, lo) - lo) / span)
        for rid, row in by_id.items()
    }
    ranked = rerank(query, list(by_id.values()), base, limit, ranking)
    return [
        to_result(
            row,
            score,
            terms,
            _scores(row.score, cosine.get(row.content_hash), score),
        )
        for row, score in ranked
    ]


def _scores(keyword: float, cosine: float | None, hybrid: float) -> dict[str, float]:
    """A result's scores; no ``semantic`` one for a chunk without a vector (still pending)."""
    if cosine is None:
        return {"keyword": keyword, "hybrid": hybrid}
    return {"keyword": keyword, "semantic": cosine, "hybrid": hybrid}


def _cosines(matrix: vx.VectorMatrix, sims: np.ndarray, hashes: list[str]) -> dict[str, float]:
    """Cosine similarity by content hash, for the hashes that have a vector (the matrix's
    hashes are sorted: binary search)."""
    keys = np.array([h.encode() for h in hashes], dtype=matrix.hashes.dtype)
    at = np.searchsorted(matrix.hashes, keys)
    at = np.minimum(at, len(matrix.hashes) - 1)
    found = matrix.hashes[at] == keys
    return {h: float(sims[i]) for h, i, ok in zip(hashes, at, found, strict=True) if ok}
