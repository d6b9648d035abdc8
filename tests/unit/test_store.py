"""Unit tests for the SQLite index store (codeweaver.index.store)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from codeweaver.core.chunks import CodeChunk, Span
from codeweaver.core.errors import IndexStoreError, IndexVersionError
from codeweaver.index.store import (
    SCHEMA_VERSION,
    IndexStore,
    default_db_path,
    match_expression,
)
from codeweaver.search.keyword import keyword_search
from codeweaver.search.results import SearchResult


def _chunks(path: str, texts: list[str], symbol: tuple[str, ...] = ()) -> list[CodeChunk]:
    out: list[CodeChunk] = []
    offset = 0
    line = 1
    for i, text in enumerate(texts):
        nlines = max(1, text.count("\n"))
        out.append(
            CodeChunk(
                path=path,
                language="python",
                content=text,
                span=Span(offset, offset + len(text.encode()), line, line + nlines - 1),
                kinds=("function_definition",),
                symbol_path=symbol,
                ordinal=i,
            )
        )
        offset += len(text.encode())
        line += nlines
    return out


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    s = IndexStore.open(default_db_path(tmp_path))
    yield s  # type: ignore[misc]
    s.close()


def _search(store: IndexStore, query: str, limit: int = 10) -> list[SearchResult]:
    return keyword_search(store, query, limit=limit)


def _put(store: IndexStore, path: str, chunks: list[CodeChunk], **kw: object) -> None:
    store.put_file(
        path,
        status="chunked",
        language="python",
        size=sum(len(c.content) for c in chunks),
        mtime_ns=1,
        content_hash="h-" + path,
        fingerprint="fp",
        chunks=chunks,
        **kw,  # type: ignore[arg-type]
    )


def test_open_creates_db_wal_and_gitignore(tmp_path: Path) -> None:
    db = default_db_path(tmp_path)
    with IndexStore.open(db) as s:
        assert s.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert db.is_file()
    assert (db.parent / ".gitignore").read_text().splitlines()[-1] == "*"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_round_trip_chunks_exactly(store: IndexStore) -> None:
    chunks = _chunks("pkg/a.py", ["def f():\n    return 1\n", "x = 2\n"], ("class A", "def f"))
    _put(store, "pkg/a.py", chunks)
    assert store.chunks_for("pkg/a.py") == chunks
    assert store.file_count() == 1 and store.chunk_count() == 2
    assert store.check_integrity() == []


def test_round_trip_kinds_and_empty_symbol_path(store: IndexStore) -> None:
    chunk = CodeChunk(
        path="m.py",
        language="python",
        content="import os\nimport sys\n",
        span=Span(0, 20, 1, 2),
        kinds=("import_statement", "import_statement"),
    )
    _put(store, "m.py", [chunk])
    (back,) = store.chunks_for("m.py")
    assert back == chunk and back.symbol_path == () and back.chunk_id == chunk.chunk_id


def test_put_file_replaces_old_chunks(store: IndexStore) -> None:
    _put(store, "a.py", _chunks("a.py", ["def old_name():\n    pass\n"] * 3))
    _put(store, "a.py", _chunks("a.py", ["def new_name():\n    pass\n"]))
    assert store.chunk_count() == 1
    assert [h.content for h in _search(store, "old_name")] == ["def new_name():\n    pass\n"]
    assert [h.path for h in _search(store, "new_name")] == ["a.py"]
    assert store.check_integrity() == []


def test_skipped_and_failed_rows_have_no_chunks(store: IndexStore) -> None:
    _put(store, "a.py", _chunks("a.py", ["def f():\n    pass\n"]))
    store.put_file("a.py", status="failed", reason="a.py [parse] Boom: bad")
    store.put_file("b.bin", status="skipped", reason="binary")
    assert store.chunk_count() == 0
    stats = store.stats()
    assert (stats.files, stats.chunked, stats.skipped, stats.failed) == (2, 0, 1, 1)
    states = store.file_states()
    assert states["a.py"].status == "failed" and states["a.py"].content_hash is None


def test_delete_files_removes_chunks_and_fts_rows(store: IndexStore) -> None:
    _put(store, "a.py", _chunks("a.py", ["def alpha():\n    pass\n"]))
    _put(store, "b.py", _chunks("b.py", ["def beta():\n    pass\n"]))
    assert store.delete_files(["a.py", "missing.py"]) == 1
    assert _search(store, "alpha") == []
    assert [h.path for h in _search(store, "beta")] == ["b.py"]
    assert store.check_integrity() == []


def test_transaction_rolls_back_as_a_whole(store: IndexStore) -> None:
    with pytest.raises(KeyboardInterrupt), store.transaction():
        _put(store, "a.py", _chunks("a.py", ["def f():\n    pass\n"]))
        _put(store, "b.py", _chunks("b.py", ["def g():\n    pass\n"]))
        raise KeyboardInterrupt
    assert store.file_count() == 0 and store.chunk_count() == 0
    assert _search(store, "f") == []
    assert store.check_integrity() == []


def test_touch_file_updates_only_size_and_mtime(store: IndexStore) -> None:
    _put(store, "a.py", _chunks("a.py", ["def f():\n    pass\n"]))
    store.touch_file("a.py", size=99, mtime_ns=12345)
    st = store.file_states()["a.py"]
    assert (st.size, st.mtime_ns, st.content_hash, st.status) == (99, 12345, "h-a.py", "chunked")
    assert store.chunk_count() == 1


def test_search_ranks_symbol_and_content_matches(store: IndexStore) -> None:
    _put(
        store,
        "math.py",
        _chunks(
            "math.py",
            ["def fibonacci(n):\n    return memoized_sum(n - 1, n - 2)\n"],
            ("def fibonacci",),
        ),
    )
    _put(store, "other.py", _chunks("other.py", ["def unrelated():\n    return 42\n"]))
    hits = _search(store, "memoized sum")
    assert [h.path for h in hits] == ["math.py"]  # every chunk holding a word, none without
    hit = hits[0]
    assert (hit.path, hit.symbol, hit.start_line, hit.end_line) == (
        "math.py",
        "def fibonacci",
        1,
        2,
    )
    assert hit.score > 0 and "memoized_sum(n - 1" in hit.snippet
    assert "\x02memoized_sum\x03" in hit.marked_snippet
    assert _search(store, "fibonacci", limit=0) == []


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "foo(",
        "a AND",
        "NEAR(x y",
        "col:val",
        "*",
        "-x",
        "^",
        "{}",
        "'; DROP TABLE chunks; --",
        "",
    ],
)
def test_search_never_raises_on_punctuation(store: IndexStore, query: str) -> None:
    _put(store, "a.py", _chunks("a.py", ["def foo(x):\n    return x\n"]))
    _search(store, query)  # must not raise
    assert store.chunk_count() == 1


def test_match_expression_quotes_every_term() -> None:
    assert match_expression(["parse", 'x"y', "and"]) == '"parse" OR "x""y" OR "and"'
    assert match_expression([]) == ""


def test_search_finds_path_words(store: IndexStore) -> None:
    _put(store, "src/tokenizer/lexer.py", _chunks("src/tokenizer/lexer.py", ["x = 1\n"]))
    assert [h.path for h in _search(store, "tokenizer")] == ["src/tokenizer/lexer.py"]


def test_version_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    db = default_db_path(tmp_path)
    with IndexStore.open(db) as s:
        s.set_meta("schema_version", "999")
    with pytest.raises(IndexVersionError, match=r"schema version 999.*--full"):
        IndexStore.open(db)
    with IndexStore.open(db, recreate_incompatible=True) as s:
        assert s.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert s.file_count() == 0


def test_foreign_sqlite_db_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    with pytest.raises(IndexVersionError, match="not a codeweaver index"):
        IndexStore.open(db)


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    db = tmp_path / "junk.db"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(IndexStoreError, match="cannot use index"):
        IndexStore.open(db)


def test_open_without_create_needs_an_existing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexStoreError, match="run `codeweaver index`"):
        IndexStore.open(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()


def test_unwritable_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(IndexStoreError, match="cannot create the index directory"):
        IndexStore.open(blocker / ".codeweaver" / "index.db")


def test_stats_counts_languages_and_bytes(store: IndexStore) -> None:
    _put(store, "a.py", _chunks("a.py", ["abc\n"]))
    _put(store, "b.py", _chunks("b.py", ["defg\n", "hi\n"]))
    store.set_meta("fingerprint", "fp-1")
    st = store.stats()
    assert (st.files, st.chunked, st.chunks, st.bytes_indexed) == (2, 2, 3, 12)
    assert st.languages == {"python": 2}
    assert st.fingerprint == "fp-1"
    assert st.db_bytes > 0
