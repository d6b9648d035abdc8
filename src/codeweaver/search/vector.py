"""Semantic search: exact cosine similarity between a query vector and every stored vector of one
model.

The vectors are unit length, so cosine similarity is one matrix-vector product over the
memory-mapped matrix (``codeweaver.index.vectors.load_matrix``), then a partial sort. That is
exact, and measured at a few milliseconds for 100,000 vectors (``benchmarks/bench_embed.py``),
so there is no approximate index to build, keep in step or tune.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from codeweaver.core.errors import EmbeddingError, SearchError
from codeweaver.index import vectors as vx
from codeweaver.index.store import IndexStore, MatchRow
from codeweaver.search.results import SearchResult, to_result

if TYPE_CHECKING:
    from codeweaver.config import CodeWeaverSettings
    from codeweaver.config.embedding import EmbeddingSettings
    from codeweaver.embed.base import Embedder

__all__ = [
    "embed_query",
    "nearest_hashes",
    "query_embedder",
    "semantic_search",
    "similarities",
    "top_k",
    "vector_search",
]

SNIPPET_LINES = 6
_LOADED: dict[str, Embedder] = {}
"""Query embedders loaded by this process, by their settings: a library caller that searches
again (a server, a benchmark) does not load the model again."""


def semantic_search(
    store: IndexStore, query: str, embedder: Embedder, *, limit: int = 10
) -> list[SearchResult]:
    """The ``limit`` chunks nearest in meaning to ``query``, by ``embedder``'s stored vectors."""
    if limit <= 0 or not query.strip():
        return []
    return vector_search(store, embed_query(embedder, query), model=embedder.name, limit=limit)


def embed_query(embedder: Embedder, query: str) -> np.ndarray[Any, Any]:
    """``query``'s vector, or a SearchError saying why there is none."""
    try:
        return embedder.embed_query(query)
    except EmbeddingError as exc:
        raise SearchError(f"cannot embed the query: {exc}") from None


def vector_search(
    store: IndexStore, query_vector: np.ndarray[Any, Any], *, model: str, limit: int = 10
) -> list[SearchResult]:
    """The ``limit`` chunks whose vectors of ``model`` are nearest ``query_vector`` (cosine).

    Chunks with the same content share a vector and a score; each is listed.
    """
    if limit <= 0:
        return []
    matrix = vx.load_matrix(store, model)
    if matrix is None:
        return []
    # Over-fetch: a vector may belong to content no chunk holds any more (pruned at run end).
    hashes, scores = nearest_hashes(matrix, query_vector, limit * 2 + 8)
    return _chunks_for(store, hashes, scores, limit)


def similarities(matrix: vx.VectorMatrix, query_vector: Any) -> np.ndarray[Any, Any]:
    """The cosine similarity of the query with every vector of ``matrix``, in its row order.

    Raises:
        SearchError: the query vector's dimension is not the index's.
    """
    q = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    if q.shape[0] != matrix.matrix.shape[1]:
        raise SearchError(
            f"the query vector has {q.shape[0]} dimensions, the index's "
            f"{matrix.model} vectors {matrix.matrix.shape[1]}"
        )
    norm = float(np.linalg.norm(q))
    if norm > 0:
        q = q / norm
    return matrix.matrix @ q


def top_k(scores: np.ndarray[Any, Any], k: int) -> np.ndarray[Any, Any]:
    """The rows of the ``k`` highest ``scores`` (all of them when there are no more), unordered."""
    k = min(k, scores.shape[0])
    return np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(k)


def nearest_hashes(
    matrix: vx.VectorMatrix, query_vector: np.ndarray[Any, Any], k: int
) -> tuple[list[str], list[float]]:
    """The ``k`` content hashes with the highest cosine similarity, best first."""
    scores = similarities(matrix, query_vector)
    top = top_k(scores, k)
    top = top[np.argsort(-scores[top], kind="stable")]
    return [h.decode() for h in matrix.hashes[top]], [float(s) for s in scores[top]]


def _chunks_for(
    store: IndexStore, hashes: list[str], scores: list[float], limit: int
) -> list[SearchResult]:
    by_hash: dict[str, list[MatchRow]] = defaultdict(list)
    for row in sorted(store.rows_with_content(hashes), key=lambda r: (r.path, r.start_line)):
        by_hash[row.content_hash].append(row)
    out: list[SearchResult] = []
    for digest, score in zip(hashes, scores, strict=True):
        for row in by_hash.get(digest, ()):
            out.append(to_result(row, score, (), {"semantic": score}, snippet=_head(row.content)))
            if len(out) >= limit:
                return out
    return out


def _head(content: str) -> str:
    """The first lines of a chunk (semantic search has no words to show the match by)."""
    lines = content.splitlines()
    return "\n".join(lines[:SNIPPET_LINES]) + ("\n…" if len(lines) > SNIPPET_LINES else "")


def query_embedder(store: IndexStore, settings: CodeWeaverSettings) -> Embedder | None:
    """The embedder to embed queries for ``store`` with, or None when there are no usable vectors.

    An explicitly configured model (``[embedding]`` provider other than ``auto``, or a model
    set) is used when the index holds its vectors; otherwise the model the index was last
    embedded with, rebuilt from what the index recorded. No model is loaded for an index without
    vectors.

    Raises:
        SearchError: the model cannot be loaded, or the index holds no vectors of the
            configured one.
    """
    conf = settings.embedding
    models = [m for m in vx.list_models(store, count=False) if m.vectors > 0]
    if conf.provider == "none" or not models:
        return None
    explicit = conf.provider != "auto" or conf.model is not None
    wanted = conf if explicit else conf.model_copy(update=dict(models[0].spec))
    embedder = _cached_embedder(wanted, settings.chunker.chars_per_token)
    if embedder.name not in {m.model for m in models}:
        held = ", ".join(m.model for m in models)
        raise SearchError(
            f"the index holds vectors of {held}, not of the configured {embedder.name}: "
            "run `codeweaver index` to embed it with that model"
        )
    return embedder


def _cached_embedder(conf: EmbeddingSettings, chars_per_token: float) -> Embedder:
    from codeweaver.embed import load_embedder

    key = f"{conf.model_dump_json()};{chars_per_token}"
    embedder = _LOADED.get(key)
    if embedder is None:
        try:
            embedder = load_embedder(conf, chars_per_token=chars_per_token)
        except EmbeddingError as exc:
            raise SearchError(f"cannot load the model to embed the query: {exc}") from None
        if len(_LOADED) >= 2:  # models are big: keep the last two
            _LOADED.pop(next(iter(_LOADED))).close()
        _LOADED[key] = embedder
    return embedder
