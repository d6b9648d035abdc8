"""``search()``: the one entry point ``codeweaver search`` and library callers use."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from codeweaver.core.errors import SearchError
from codeweaver.index.store import IndexStore
from codeweaver.search.fusion import FusionParams, reciprocal_rank_fusion
from codeweaver.search.keyword import keyword_search
from codeweaver.search.results import SearchMode, SearchResult

if TYPE_CHECKING:
    from codeweaver.config import CodeWeaverSettings
    from codeweaver.embed.base import Embedder

__all__ = ["search"]

log = logging.getLogger(__name__)


def search(
    index: IndexStore | str | Path,
    query: str,
    *,
    mode: SearchMode = "auto",
    limit: int = 10,
    embedder: Embedder | None = None,
    settings: CodeWeaverSettings | None = None,
    fusion: FusionParams | None = None,
) -> list[SearchResult]:
    """Rank the chunks of an index for ``query``, best first.

    ``index`` is an open store, or the indexed directory (its default index is opened read-only
    for the call). ``mode``: ``keyword`` (BM25, re-ranked), ``semantic`` (vectors), ``hybrid``
    (both candidate sets, one score, re-ranked: :func:`~codeweaver.search.hybrid.hybrid_search`;
    with ``fusion``, reciprocal-rank fusion of the two lists instead) or ``auto`` (hybrid when
    the index holds vectors of the model, keyword otherwise).
    ``embedder`` embeds the query (default: the configured model if the index holds its
    vectors, else the model the index was embedded with; it is loaded only when needed).
    ``settings`` default to the indexed directory's.

    Example:
        >>> for r in search("my-repo", "parse the config file", limit=5):  # doctest: +SKIP
        ...     print(r.path, r.start_line, r.symbol, r.score)

    Raises:
        SearchError: the mode needs vectors the index does not hold, or the model cannot load.
        IndexStoreError: there is no usable index.
    """
    from codeweaver.config import load_settings

    if isinstance(index, IndexStore):
        if settings is None:
            settings = load_settings(index.get_meta("root") or Path.cwd())
        return _search(index, query, mode, limit, embedder, settings, fusion)
    from codeweaver.index.pipeline import resolve_db_path

    root = Path(index).expanduser().resolve()
    settings = settings or load_settings(root)
    with IndexStore.open(resolve_db_path(root, settings), create=False) as store:
        return _search(store, query, mode, limit, embedder, settings, fusion)


def _search(
    store: IndexStore,
    query: str,
    mode: SearchMode,
    limit: int,
    embedder: Embedder | None,
    settings: CodeWeaverSettings,
    fusion: FusionParams | None,
) -> list[SearchResult]:
    if mode == "keyword":
        return keyword_search(store, query, limit=limit)
    try:
        from codeweaver.search.vector import query_embedder, semantic_search
    except ImportError as exc:  # numpy missing: the light install has no vectors to search
        if exc.name != "numpy":
            raise  # a broken install, not a light one
        if mode == "auto":
            return keyword_search(store, query, limit=limit)
        raise SearchError(
            f"--mode {mode} needs the embed extra: pip install 'codeweaver[embed]'"
        ) from None

    if embedder is None:
        try:  # it checks that the index holds vectors of the model it returns
            embedder = query_embedder(store, settings)
        except SearchError as exc:
            if mode == "auto":  # vectors of another model, or it will not load: keyword still works
                log.warning("keyword search only: %s", exc)
                return keyword_search(store, query, limit=limit)
            raise
    elif not _has_vectors(store, embedder):
        if mode == "auto":
            log.warning("keyword search only: the index holds no vectors of %s", embedder.name)
        embedder = None
    if embedder is None:
        if mode == "auto":
            return keyword_search(store, query, limit=limit)
        raise SearchError(
            f"--mode {mode} needs an index with embeddings; this one holds none "
            "(index it with an embedding model: see `codeweaver index --help`)"
        )
    if mode == "semantic":
        return semantic_search(store, query, embedder, limit=limit)
    if fusion is None:
        from codeweaver.search.hybrid import hybrid_search

        return hybrid_search(store, query, embedder, limit=limit)
    # reciprocal-rank fusion of the two final lists, when asked for (kept for comparison)
    params = fusion
    depth = max(limit, params.candidates)
    return reciprocal_rank_fusion(
        {
            "keyword": keyword_search(store, query, limit=depth),
            "semantic": semantic_search(store, query, embedder, limit=depth),
        },
        weights=params.weights(),
        k=params.k,
        limit=limit,
    )


def _has_vectors(store: IndexStore, embedder: Embedder) -> bool:
    from codeweaver.index.vectors import list_models

    return any(m.model == embedder.name and m.vectors for m in list_models(store, count=False))
