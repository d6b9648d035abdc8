"""Search an index by keyword, by meaning, or both.

Data flow (one direction)::

    query ─▶ keyword.py  (FTS5 BM25 over chunks, identifier-aware, re-ranked)  ─┐
          ─▶ vector.py   (exact cosine over the stored vectors of one model)   ─┴▶ fusion.py
                                                                                    │
                                          list[SearchResult] (best first) ◀────────┘

:func:`search` is what ``codeweaver search`` runs; it takes an open
:class:`~codeweaver.index.store.IndexStore` or the indexed directory.
"""

from __future__ import annotations

from codeweaver.search.api import search
from codeweaver.search.results import SearchMode, SearchResult

__all__ = ["SearchMode", "SearchResult", "search"]
