"""Hybrid ranking: fuse the keyword and semantic rankings of one query into one list.

Weighted reciprocal-rank fusion: a chunk ranked ``r`` (1-based) by mode ``m`` earns
``weight[m] / (k + r)``, summed over the modes that ranked it. It needs no score calibration
between BM25 (unbounded) and cosine (-1..1), and a chunk both modes rank well beats one that only
one mode ranks first. The weights, ``k`` and the candidate depth are parameters
(:class:`FusionParams`) so they can be tuned against a benchmark.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from codeweaver.search.results import SearchResult

__all__ = ["FusionParams", "reciprocal_rank_fusion"]


@dataclass(frozen=True, slots=True)
class FusionParams:
    """How hybrid search fuses: per-mode weights, the RRF constant ``k``, and how many
    candidates each mode contributes (at least the result limit)."""

    keyword_weight: float = 1.0
    semantic_weight: float = 1.0
    k: float = 60.0
    candidates: int = 50

    def weights(self) -> dict[str, float]:
        return {"keyword": self.keyword_weight, "semantic": self.semantic_weight}


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[SearchResult]],
    *,
    weights: Mapping[str, float] | None = None,
    k: float = 60.0,
    limit: int = 10,
) -> list[SearchResult]:
    """Fuse ranked lists (mode name -> results, best first) into the ``limit`` best chunks.

    Each fused result keeps the fields of the first list that has the chunk (so a keyword hit
    keeps its marked snippet), carries every mode's score in ``scores`` plus ``"hybrid"``, and
    is ordered by the fused score (ties: the order of first appearance).

    Example:
        >>> rankings = {"keyword": kw, "semantic": sem}
        >>> fused = reciprocal_rank_fusion(rankings, limit=5)  # doctest: +SKIP
    """
    fused: dict[str, float] = {}
    first: dict[str, SearchResult] = {}
    scores: dict[str, dict[str, float]] = {}
    for mode, results in rankings.items():
        weight = 1.0 if weights is None else weights.get(mode, 1.0)
        for rank, result in enumerate(results, start=1):
            key = result.chunk_id
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
            first.setdefault(key, result)
            scores.setdefault(key, {}).update(result.scores)
    order = sorted(fused, key=lambda key: -fused[key])  # stable: first appearance breaks ties
    out = []
    for key in order[: max(0, limit)]:
        merged = {**scores[key], "hybrid": fused[key]}
        out.append(dataclasses.replace(first[key], score=fused[key], scores=merged))
    return out
