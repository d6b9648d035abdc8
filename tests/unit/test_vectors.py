"""Vectors in the index: stored by (model, content hash), pending chunks, pruning, the memory-mapped
matrix kept in step with the table, and exact nearest-neighbour search over it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from codeweaver.core.chunks import CodeChunk, Span
from codeweaver.index.store import IndexStore
from codeweaver.index.vectors import (
    cache_dir,
    count_pending,
    existing_hashes,
    failure_summary,
    iter_pending,
    list_models,
    load_matrix,
    prune_vectors,
    put_vectors,
    record_failures,
    record_model,
)
from codeweaver.search.vector import vector_search

MODEL = "test:model"


def _chunk(path: str, text: str, ordinal: int) -> CodeChunk:
    return CodeChunk(path, "python", text, Span(0, len(text), 1, 1), ordinal=ordinal)


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    s = IndexStore.open(tmp_path / "index.db")
    s.put_file("a.py", status="chunked", chunks=[_chunk("a.py", f"x = {i}\n", i) for i in range(5)])
    # the same content in another file: one vector serves both
    s.put_file("b.py", status="chunked", chunks=[_chunk("b.py", "x = 0\n", 0)])
    return s


def _hashes(store: IndexStore) -> list[str]:
    return sorted({c.content_hash for p in ("a.py", "b.py") for c in store.chunks_for(p)})


def _unit(rows: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    m = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_is_it_embedded_probes_read_a_small_key_index_not_the_vectors(store: IndexStore) -> None:
    """Each chunk asks whether its text has a vector. In a table keyed WITHOUT ROWID those
    probes walked pages where each 1.5 KB vector sat on an overflow page of its own (0.27 s warm,
    2.8 s cold over 68,047 chunks); the (model, hash) key is now an index of its own."""
    plan = " ".join(
        str(row[-1])
        for row in store.connection.execute(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM vectors v WHERE v.model=? AND v.content_hash=c.content_hash)",
            (MODEL,),
        )
    )
    assert "SEARCH v USING COVERING INDEX" in plan, plan
    # and the vector lives in its row: a 384-dim vector does not spill onto another page
    record_model(store, MODEL, 384, {"provider": "test"})
    put_vectors(store, MODEL, _hashes(store), _unit(5, dim=384))
    try:
        pages = store.connection.execute(
            "SELECT count(*), sum(pagetype = 'overflow') FROM dbstat WHERE name='vectors'"
        ).fetchone()
    except sqlite3.OperationalError:  # an SQLite built without the dbstat table
        return
    assert pages[0] > 0 and pages[1] == 0, pages


def test_pending_then_stored_then_pruned(store: IndexStore) -> None:
    hashes = _hashes(store)
    assert count_pending(store, MODEL) == 6  # chunk rows, the duplicate included
    assert sorted(p.content_hash for p in iter_pending(store, MODEL, page=2)) == hashes
    record_model(store, MODEL, 8, {"provider": "test"})
    put_vectors(store, MODEL, hashes[:3], _unit(3))
    assert existing_hashes(store, MODEL, hashes) == set(hashes[:3])
    assert len(list(iter_pending(store, MODEL, page=1))) == 2
    put_vectors(store, MODEL, hashes[3:], _unit(2, seed=1))
    assert count_pending(store, MODEL) == 0
    assert count_pending(store, "another:model") == 6  # a new model has everything to do
    [info] = list_models(store)
    assert (info.model, info.dimension, info.vectors) == (MODEL, 8, 5)

    store.put_file("a.py", status="chunked", chunks=[_chunk("a.py", "y = 1\n", 0)])
    assert prune_vectors(store, MODEL) == 4  # x = 1..4 are gone; x = 0 lives on in b.py
    assert count_pending(store, MODEL) == 1


def test_failures_are_recorded_counted_and_cleared_by_success(store: IndexStore) -> None:
    h = _hashes(store)[0]
    record_failures(store, MODEL, [h], "HTTP 500")
    record_failures(store, MODEL, [h], "HTTP 503")
    assert failure_summary(store, MODEL) == (1, "HTTP 503")
    put_vectors(store, MODEL, [h], _unit(1))
    assert failure_summary(store, MODEL) == (0, None)


def test_a_dimension_change_under_one_name_is_refused(store: IndexStore) -> None:
    record_model(store, MODEL, 8, {})
    with pytest.raises(ValueError, match="8-dim"):
        record_model(store, MODEL, 16, {})


def test_the_mapped_matrix_follows_the_table(store: IndexStore) -> None:
    hashes = _hashes(store)
    record_model(store, MODEL, 8, {})
    put_vectors(store, MODEL, hashes[:2], _unit(2))
    first = load_matrix(store, MODEL)
    assert first is not None and len(first) == 2
    files = sorted(p.name for p in cache_dir(store.db_path).iterdir())
    assert len(files) == 2 and all(".npy" in f for f in files)
    again = load_matrix(store, MODEL)
    assert again is not None and isinstance(again.matrix, np.memmap)  # the copy, not the table

    put_vectors(store, MODEL, hashes[2:], _unit(3, seed=2))  # a write makes the copy stale
    fresh = load_matrix(store, MODEL)
    assert fresh is not None and len(fresh) == 5
    assert sorted(p.name for p in cache_dir(store.db_path).iterdir()) != files  # replaced
    assert len(list(cache_dir(store.db_path).iterdir())) == 2
    assert load_matrix(store, "unknown:model") is None


def test_vector_search_is_exact_lists_duplicates_and_skips_orphans(store: IndexStore) -> None:
    hashes = _hashes(store)
    vectors = _unit(len(hashes))
    record_model(store, MODEL, 8, {})
    put_vectors(store, MODEL, [*hashes, "f" * 32], np.vstack([vectors, _unit(1, seed=9)]))
    zero = next(c.content_hash for c in store.chunks_for("b.py"))
    query = vectors[hashes.index(zero)] + 0.01
    hits = vector_search(store, query, model=MODEL, limit=3)
    assert [h.content_hash for h in hits[:2]] == [zero, zero]  # x = 0 in a.py and in b.py
    assert {h.path for h in hits[:2]} == {"a.py", "b.py"}
    scores = vectors @ (query / np.linalg.norm(query))
    best_other = hashes[int(np.argsort(-scores)[1])]
    assert hits[2].content_hash == best_other
    assert hits[0].scores["semantic"] == pytest.approx(float(scores.max()), abs=1e-5)
    everything = vector_search(store, query, model=MODEL, limit=100)
    assert len(everything) == 6  # every chunk once; the orphan vector has no chunk to show


def test_a_database_made_again_does_not_read_the_old_ones_mapped_copy(tmp_path: Path) -> None:
    db = tmp_path / "index.db"

    def made(text: str, seed: int) -> tuple[IndexStore, str]:
        s = IndexStore.open(db)
        s.put_file("a.py", status="chunked", chunks=[_chunk("a.py", text, 0)])
        [digest] = {c.content_hash for c in s.chunks_for("a.py")}
        record_model(s, MODEL, 8, {})
        put_vectors(s, MODEL, [digest], _unit(1, seed=seed))
        return s, digest

    old, _ = made("x = 0\n", 1)
    assert load_matrix(old, MODEL) is not None  # writes the copy beside the database
    old.close()
    for suffix in ("", "-wal", "-shm"):  # the user deletes the database, not its .vectors/
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    new, digest = made("y = 1\n", 2)
    matrix = load_matrix(new, MODEL)
    assert matrix is not None and [h.decode() for h in matrix.hashes] == [digest]
