"""File discovery: ``DiscoveredFile`` and ``discover_files``.

(discover_files is being written; DiscoveredFile is final.)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DiscoveredFile"]


@dataclass(frozen=True, slots=True)
class DiscoveredFile:
    """One file to chunk. Plain data: picklable by plain ``pickle``, cheap to ship to workers.

    ``path`` is absolute; ``rel_path`` is POSIX-style and relative to the discovery root (it is what
    chunks, ids and the index use, so they do not change when a checkout moves).
    """

    path: str
    rel_path: str
    language: str
    size: int
    mtime_ns: int
