"""Vectors in the index: stored per (model, chunk content hash), read back as one matrix.

The ``vectors`` table is the truth. It is keyed by content, not by chunk row, so a chunk whose
text did not change keeps its vector when its file changes elsewhere, moves, or is re-chunked
after a killed run; a vector whose content no chunk holds any more is pruned at the end of a
completed run.

Search needs every vector of a model at once, and reading 100,000 rows out of SQLite takes about
half a second, so the matrix is also kept as two ``.npy`` files beside the database
(``<db>.vectors/<model>.<generation>.{f32,keys}.npy``), memory-mapped by the search process:
a one-shot ``codeweaver search`` touches only the pages it reads. ``meta.vectors_generation``
changes with every write to ``vectors``, and the files carry the generation they were built
from, so a stale copy is never used; it is rebuilt from the table on first use (and at the end
of each indexing run that changed vectors).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeweaver.core.chunks import content_hash as _digest
from codeweaver.index.store import VECTORS_GENERATION_KEY, IndexStore

if TYPE_CHECKING:  # numpy comes with the embed extra; a keyword-only install never needs it
    import numpy as np

__all__ = [
    "ModelInfo",
    "PendingChunk",
    "VectorMatrix",
    "count_pending",
    "embedding_status",
    "existing_hashes",
    "failure_summary",
    "hash_keys",
    "iter_pending",
    "list_models",
    "load_matrix",
    "prune_vectors",
    "put_vectors",
    "record_failures",
    "record_model",
    "recorded_spec",
    "vector_keys",
    "vectors_generation",
]

log = logging.getLogger(__name__)

CURRENT_MODEL_KEY = "embedding_model"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model that has vectors in the index."""

    model: str
    dimension: int
    vectors: int
    spec: dict[str, Any]
    updated_at: float


@dataclass(frozen=True, slots=True)
class PendingChunk:
    """A chunk text still waiting for a vector (one per content hash)."""

    content_hash: str
    path: str
    symbol_path: tuple[str, ...]
    content: str


# -- models ----------------------------------------------------------------------------------------
def record_model(store: IndexStore, model: str, dimension: int, spec: dict[str, Any]) -> None:
    """Remember ``model`` (and how to rebuild it) as the index's current embedding model.

    Raises:
        ValueError: the index holds vectors of ``model`` with another dimension.
    """
    c = store.connection
    row = c.execute("SELECT dimension FROM embedding_models WHERE model=?", (model,)).fetchone()
    if row is not None and int(row[0]) != dimension:
        raise ValueError(f"{model} gave {dimension}-dim vectors; the index holds {row[0]}-dim ones")
    with store.transaction():
        c.execute(
            "INSERT INTO embedding_models(model, dimension, spec, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(model) DO UPDATE SET spec=excluded.spec, updated_at=excluded.updated_at",
            (model, dimension, json.dumps(spec, sort_keys=True), time.time()),
        )
        store.set_meta(CURRENT_MODEL_KEY, model)


def recorded_spec(db_path: Path) -> dict[str, Any] | None:
    """How to rebuild the embedder the index at ``db_path`` was last embedded with (None when
    there is no such index or it holds no vectors). Reads without creating anything."""
    if not db_path.is_file():
        return None
    try:
        with IndexStore.open(db_path, create=False) as store:
            models = [m for m in list_models(store, count=False) if m.vectors > 0]
    except Exception as exc:  # no index, another version, damaged: nothing recorded to reuse
        log.debug("no embedding model recorded in %s: %s", db_path, exc)
        return None
    return dict(models[0].spec) if models else None


def list_models(store: IndexStore, *, count: bool = True) -> list[ModelInfo]:
    """Every model with vectors in the index, the current one first.

    With ``count=False`` a model's ``vectors`` is 1 when it has any and 0 when it has none: one
    key lookup a model instead of counting the table (10 ms at 30,000 vectors), for the callers
    that only ask which models have vectors (each search does).
    """
    c = store.connection
    if count:
        counts = dict(c.execute("SELECT model, count(*) FROM vectors GROUP BY model").fetchall())
    else:
        counts = dict(
            c.execute(
                "SELECT model, EXISTS(SELECT 1 FROM vectors v WHERE v.model = m.model) "
                "FROM embedding_models m"
            ).fetchall()
        )
    current = store.get_meta(CURRENT_MODEL_KEY)
    rows = c.execute("SELECT model, dimension, spec, updated_at FROM embedding_models").fetchall()
    out = [
        ModelInfo(
            model=str(m),
            dimension=int(d),
            vectors=int(counts.get(m, 0)),
            spec=json.loads(s),
            updated_at=float(t),
        )
        for m, d, s, t in rows
    ]
    out.sort(key=lambda info: (info.model != current, -info.updated_at))
    return out


# -- writing ---------------------------------------------------------------------------------------
def existing_hashes(store: IndexStore, model: str, hashes: Sequence[str]) -> set[str]:
    """The subset of ``hashes`` that already has a vector of ``model``."""
    found: set[str] = set()
    c = store.connection
    for i in range(0, len(hashes), 500):
        part = list(hashes[i : i + 500])
        marks = ",".join("?" * len(part))
        found.update(
            r[0]
            for r in c.execute(
                f"SELECT content_hash FROM vectors WHERE model=? AND content_hash IN ({marks})",
                [model, *part],
            )
        )
    return found


def hash_keys(hashes: Iterable[str]) -> np.ndarray[Any, Any]:
    """Each content hash's first 64 bits (its first 16 hex digits), as uint64."""
    import numpy as np

    return np.fromiter((int(h[:16], 16) for h in hashes), dtype=np.uint64)


def vector_keys(store: IndexStore, model: str) -> np.ndarray[Any, Any]:
    """:func:`hash_keys` of every text ``model`` has a vector of, sorted: a compact set (8
    bytes a vector) to ship to the chunk workers, who then embed only what is new. Two hashes
    that share their first 64 bits would look alike; the stage embeds any chunk a worker left."""
    rows = store.connection.execute("SELECT content_hash FROM vectors WHERE model=?", (model,))
    keys = hash_keys(str(r[0]) for r in rows)
    keys.sort()
    return keys


def put_vectors(
    store: IndexStore, model: str, hashes: Sequence[str], matrix: np.ndarray[Any, Any]
) -> None:
    """Store one row of ``matrix`` (float32) per hash and clear their recorded failures."""
    import numpy as np

    rows = np.ascontiguousarray(matrix, dtype=np.float32)
    c = store.connection
    with store.transaction():
        c.executemany(
            "INSERT OR REPLACE INTO vectors(model, content_hash, vector) VALUES (?, ?, ?)",
            [(model, h, rows[i].tobytes()) for i, h in enumerate(hashes)],
        )
        c.executemany(
            "DELETE FROM embedding_failures WHERE model=? AND content_hash=?",
            [(model, h) for h in hashes],
        )
        _bump_generation(store)


def record_failures(store: IndexStore, model: str, hashes: Sequence[str], error: str) -> None:
    """Record that ``hashes`` failed to embed (their chunks stay pending and are retried)."""
    now = time.time()
    with store.transaction():
        store.connection.executemany(
            "INSERT INTO embedding_failures(model, content_hash, attempts, error, failed_at) "
            "VALUES (?, ?, 1, ?, ?) ON CONFLICT(model, content_hash) DO UPDATE SET "
            "attempts=attempts+1, error=excluded.error, failed_at=excluded.failed_at",
            [(model, h, error, now) for h in hashes],
        )


def prune_vectors(store: IndexStore, model: str) -> int:
    """Delete ``model``'s vectors (and failures) whose content no chunk holds; returns how many."""
    c = store.connection
    with store.transaction():
        n = c.execute(
            "DELETE FROM vectors WHERE model=? AND content_hash NOT IN "
            "(SELECT content_hash FROM chunks)",
            (model,),
        ).rowcount
        c.execute(
            "DELETE FROM embedding_failures WHERE model=? AND content_hash NOT IN "
            "(SELECT content_hash FROM chunks)",
            (model,),
        )
        if n:
            _bump_generation(store)
    return int(n)


def _bump_generation(store: IndexStore) -> None:
    store.connection.execute(
        "INSERT INTO meta(key, value) VALUES (?, '1') "
        "ON CONFLICT(key) DO UPDATE SET value=CAST(value AS INTEGER) + 1",
        (VECTORS_GENERATION_KEY,),
    )


def vectors_generation(store: IndexStore) -> int:
    """A number that changes whenever any vector is written or deleted."""
    value = store.get_meta(VECTORS_GENERATION_KEY)
    return int(value) if value else 0


# -- what is still to do ---------------------------------------------------------------------------
_PENDING = (
    "FROM chunks c WHERE NOT EXISTS "
    "(SELECT 1 FROM vectors v WHERE v.model=? AND v.content_hash=c.content_hash)"
)


def iter_pending(store: IndexStore, model: str, *, page: int = 256) -> Iterator[PendingChunk]:
    """Chunks with no vector of ``model``, one per content hash, in hash order.

    Paged by hash (a keyset, not an offset), so each page is an index seek and rows written
    while iterating do not shift the pages.
    """
    from codeweaver.index.store import split_joined

    after = ""
    c = store.connection
    while True:
        rows = c.execute(
            "SELECT c.content_hash, c.path, c.symbol_path, c.content "
            f"{_PENDING} AND c.content_hash > ? GROUP BY c.content_hash "
            "ORDER BY c.content_hash LIMIT ?",
            (model, after, page),
        ).fetchall()
        for h, path, symbols, content in rows:
            yield PendingChunk(str(h), str(path), split_joined(str(symbols)), str(content))
        if len(rows) < page:
            return
        after = str(rows[-1][0])


def count_pending(store: IndexStore, model: str) -> int:
    """Chunks (rows, duplicates included) that have no vector of ``model``."""
    return int(store.connection.execute(f"SELECT count(*) {_PENDING}", (model,)).fetchone()[0])


def failure_summary(store: IndexStore, model: str) -> tuple[int, str | None]:
    """How many chunk texts failed to embed with ``model`` (still pending), and the last error."""
    c = store.connection
    n = c.execute(
        "SELECT count(*) FROM embedding_failures f WHERE f.model=? AND EXISTS "
        "(SELECT 1 FROM chunks c WHERE c.content_hash=f.content_hash)",
        (model,),
    ).fetchone()[0]
    row = c.execute(
        "SELECT error FROM embedding_failures WHERE model=? ORDER BY failed_at DESC LIMIT 1",
        (model,),
    ).fetchone()
    return int(n), (str(row[0]) if row and n else None)


def embedding_status(store: IndexStore) -> dict[str, Any]:
    """What ``codeweaver status`` shows: the models with vectors, the current one, and for it the
    chunks still waiting for a vector and those that failed (with the last error)."""
    models = list_models(store)
    current = store.get_meta(CURRENT_MODEL_KEY)
    out: dict[str, Any] = {
        "current_model": current,
        "models": [
            {"model": m.model, "dimension": m.dimension, "vectors": m.vectors} for m in models
        ],
        "pending": None,
        "failed": 0,
        "last_error": None,
    }
    if current is not None:
        out["pending"] = count_pending(store, current)
        out["failed"], out["last_error"] = failure_summary(store, current)
    return out


# -- reading the matrix ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VectorMatrix:
    """Every vector of one model: ``matrix[i]`` is the vector of content hash ``hashes[i]``."""

    model: str
    hashes: np.ndarray[Any, Any]
    matrix: np.ndarray[Any, np.dtype[np.float32]]

    def __len__(self) -> int:
        return int(self.matrix.shape[0])


def load_matrix(store: IndexStore, model: str, *, use_cache: bool = True) -> VectorMatrix | None:
    """The vectors of ``model`` as one matrix (None when the index holds none).

    Uses the memory-mapped copy beside the database when it is current; otherwise reads the
    table and (where the directory is writable) writes a fresh copy for the next caller.
    """
    import numpy as np

    generation = vectors_generation(store)
    folder = cache_dir(store.db_path)
    stem = f"{_digest(model)[:16]}.{generation}"
    keys_file, data_file = folder / f"{stem}.keys.npy", folder / f"{stem}.f32.npy"
    if use_cache and keys_file.is_file() and data_file.is_file():
        try:
            hashes = np.load(keys_file)
            matrix = np.load(data_file, mmap_mode="r")
            if matrix.shape[0] == hashes.shape[0]:
                return VectorMatrix(model, hashes, matrix)
        except (OSError, ValueError):
            pass  # half-written or damaged: rebuild below
    loaded = _read_table(store, model)
    if loaded is None:
        return None
    if use_cache:
        _write_cache(folder, stem, model, loaded)
    return loaded


def cache_dir(db_path: Path) -> Path:
    """Where the matrix copies of an index live: ``<db>.vectors/`` beside it."""
    return db_path.with_name(db_path.name + ".vectors")


def _read_table(store: IndexStore, model: str) -> VectorMatrix | None:
    import numpy as np

    rows = store.connection.execute(
        "SELECT content_hash, vector FROM vectors WHERE model=? ORDER BY content_hash", (model,)
    ).fetchall()
    if not rows:
        return None
    hashes = np.array([r[0] for r in rows], dtype="S32")
    flat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
    return VectorMatrix(model, hashes, flat.reshape(len(rows), -1))


def _write_cache(folder: Path, stem: str, model: str, loaded: VectorMatrix) -> None:
    """Write the two files atomically (temp name, then rename) and drop older generations."""
    import numpy as np

    prefix = stem.split(".", maxsplit=1)[0] + "."
    try:
        folder.mkdir(exist_ok=True)
        for suffix, array in ((".keys.npy", loaded.hashes), (".f32.npy", loaded.matrix)):
            tmp = folder / f"{stem}{suffix}.{os.getpid()}.tmp"
            with tmp.open("wb") as fh:
                np.save(fh, array)
            os.replace(tmp, folder / f"{stem}{suffix}")
        for old in folder.glob(prefix + "*"):
            if not old.name.startswith(stem + "."):
                with contextlib.suppress(OSError):
                    old.unlink()
    except OSError as exc:  # a read-only index: search works from memory
        log.debug("cannot keep the vector matrix beside the index (%s): read from the table", exc)
