"""The index: an incremental SQLite store of chunks, ``index_project`` that brings it up to date,
and ``watch_project`` that keeps it current while files change.

``codeweaver.index.store`` (the database) imports only the standard library and the chunk model;
``index_project`` pulls in the engine when it runs.
"""

from __future__ import annotations

from codeweaver.index.pipeline import (
    IndexProgress,
    IndexReport,
    index_project,
    resolve_db_path,
)
from codeweaver.index.staleness import Staleness, check_staleness
from codeweaver.index.store import IndexStats, IndexStore, MatchRow, default_db_path
from codeweaver.index.watch import WatchEvent, watch_project

__all__ = [
    "IndexProgress",
    "IndexReport",
    "IndexStats",
    "IndexStore",
    "MatchRow",
    "Staleness",
    "WatchEvent",
    "check_staleness",
    "default_db_path",
    "index_project",
    "resolve_db_path",
    "watch_project",
]
