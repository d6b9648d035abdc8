"""What an index holds, as plain data to compare two indexes with (imported like ``_procs``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

Snapshot = tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]]]


def snapshot(db: Path) -> Snapshot:
    """Every file row (status, size, hash, chunk count, reason) and every chunk, by path.

    Timestamps and row ids are left out: two indexes of the same tree built in different ways
    must hold the same snapshot. Read through a fresh read-only connection (WAL: never blocked).
    """
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        files = {
            r[0]: tuple(r[1:])
            for r in conn.execute(
                "SELECT path, status, size, content_hash, chunk_count, reason, fingerprint "
                "FROM files ORDER BY path"
            )
        }
        chunks = conn.execute(
            "SELECT path, ordinal, chunk_id, start_byte, end_byte, symbol_path, content_hash "
            "FROM chunks ORDER BY path, ordinal"
        ).fetchall()
    finally:
        conn.close()
    return files, chunks


def diff(a: Snapshot, b: Snapshot) -> list[str]:
    """Where two snapshots differ, for an assertion message (empty when equal)."""
    out = []
    fa, fb = a[0], b[0]
    for path in sorted(fa.keys() | fb.keys()):
        if fa.get(path) != fb.get(path):
            out.append(f"{path}: {fa.get(path)} != {fb.get(path)}")
    if not out and a[1] != b[1]:
        out.append("same files, different chunks")
    return out[:20]
