"""Unit tests for the SQLite index store (codeweaver.index.store)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from codeweaver.core.chunks import CodeChunk, Span
from codeweaver.core.errors import IndexStoreError, IndexVersionError
from codeweaver.index.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    IndexStore,
    chunk_search_fields,
    default_db_path,
    match_expression,
)
from codeweaver.index.terms import TERMS_VERSION, path_terms
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


def test_replacing_a_file_of_many_chunks_keeps_each_fts_row_on_its_chunk(
    store: IndexStore,
) -> None:
    # More chunks than one FTS delete statement takes (store._DELETE_IDS), between two other
    # files, so the ids of the new rows follow rows written and deleted before them.
    _put(store, "a.py", _chunks("a.py", ["def alphaword():\n    pass\n"]))
    old = [f"def old{_letters(i)}word():\n    pass\n" for i in range(1205)]
    _put(store, "big.py", _chunks("big.py", old))
    _put(store, "z.py", _chunks("z.py", ["def zetaword():\n    pass\n"]))
    new = [f"def new{_letters(i)}word():\n    return None\n" for i in range(1203)]
    _put(store, "big.py", _chunks("big.py", new))
    assert store.chunk_count() == 1205
    assert store.check_integrity() == []
    for i in (0, 999, 1000, 1202):
        assert _search(store, f"old{_letters(i)}word") == []
        (hit,) = _search(store, f"new{_letters(i)}word")
        assert (hit.path, hit.content) == ("big.py", new[i])
    assert sorted(h.path for h in _search(store, "alphaword zetaword")) == ["a.py", "z.py"]


def _letters(i: int) -> str:
    """``i`` written in lowercase letters (inside a word ending in ``word``, which the search
    terms keep whole: no digits to split off, no ending to stem)."""
    out = ""
    while True:
        i, r = divmod(i, 26)
        out += chr(ord("a") + r)
        if not i:
            return out


def test_search_fields_made_elsewhere_are_written_as_put_file_would_make_them(
    tmp_path: Path,
) -> None:
    chunks = _chunks(
        "pkg/parser.py",
        ["def parseConfig(raw_text):\n    return raw_text\n", "HTTPServer = None\n"],
        ("class ConfigParser",),
    )
    rows = []
    for name, fields in (("made.db", None), ("given.db", chunk_search_fields(chunks))):
        with IndexStore.open(tmp_path / name) as s:
            _put(s, "pkg/parser.py", chunks, fields=fields)
            rows.append(fts_rows(s))
    assert rows[0] == rows[1]
    with IndexStore.open(tmp_path / "given.db") as s, pytest.raises(ValueError, match="2 chunks"):
        _put(s, "pkg/other.py", chunks, fields=chunk_search_fields(chunks)[:1])
    with IndexStore.open(tmp_path / "given.db") as s:
        assert s.chunks_for("pkg/other.py") == [] and s.check_integrity() == []
    first = min(rowid for rowid, _ in rows[0])
    assert (rows[0][first, "body"], rows[0][first, "symbol"], rows[0][first, "path"]) == (
        "def parseconfig pars config raw_text raw text return raw_text raw text",
        "configparser config parser",
        "parser parser pkg",
    )


def fts_rows(store: IndexStore) -> dict[tuple[int, str], str]:
    """What the full-text index holds, read from its own index (it keeps no copy of the text):
    ``(rowid, column) -> its terms in order, joined by spaces``."""
    c = store.connection
    c.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, chunks_fts, instance)"
    )
    rows = c.execute("SELECT doc, col, term FROM temp.fts_terms ORDER BY doc, col, offset")
    out: dict[tuple[int, str], list[str]] = {}
    for doc, col, term in rows:
        out.setdefault((int(doc), str(col)), []).append(str(term))
    return {key: " ".join(terms) for key, terms in out.items()}


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


# -- a database that is not ours is never touched; a damaged one is refused with the fix --------
def _foreign_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users(name TEXT)")
    conn.execute("INSERT INTO users VALUES ('ada')")
    conn.commit()
    conn.close()
    return path


def test_a_foreign_database_survives_recreate_incompatible(tmp_path: Path) -> None:
    db = _foreign_db(tmp_path / "app.db")
    with pytest.raises(IndexVersionError, match="not a codeweaver index"):
        IndexStore.open(db, recreate_incompatible=True)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT name FROM users").fetchall() == [("ada",)]
    conn.close()


def test_a_foreign_database_with_a_meta_table_is_still_foreign(tmp_path: Path) -> None:
    db = _foreign_db(tmp_path / "app.db")
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE meta(key TEXT, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.commit()
    conn.close()
    with pytest.raises(IndexVersionError, match="not a codeweaver index"):
        IndexStore.open(db, recreate_incompatible=True)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)
    conn.close()


def test_an_index_carries_its_application_id(tmp_path: Path) -> None:
    db = default_db_path(tmp_path)
    IndexStore.open(db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    conn.close()


def test_an_older_index_without_the_mark_is_recognised_and_rebuilt(tmp_path: Path) -> None:
    db = default_db_path(tmp_path)
    with IndexStore.open(db) as s:
        _put(s, "a.py", _chunks("a.py", ["x = 1\n"]))
        s.set_meta("schema_version", "2")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA application_id = 0")  # as schema version 2 left it
    conn.close()
    with pytest.raises(IndexVersionError, match="schema version 2"):
        IndexStore.open(db)
    with IndexStore.open(db, recreate_incompatible=True) as s:
        assert s.file_count() == 0 and s.get_meta("schema_version") == str(SCHEMA_VERSION)


def _corrupt_pages(db: Path) -> None:
    """Overwrite every page after the first few with garbage (the header page stays intact)."""
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for i in range(3 * page, len(data)):
        data[i] = (i * 7 + 13) % 256
    db.write_bytes(bytes(data))


def _big_index(db: Path) -> None:
    with IndexStore.open(db) as s:
        for i in range(60):
            _put(s, f"m{i}.py", _chunks(f"m{i}.py", [f"def f{i}():\n    return {i}\n" * 40]))
        s._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_damaged_pages_are_refused_for_writing_with_the_fix(tmp_path: Path) -> None:
    db = default_db_path(tmp_path)
    _big_index(db)
    _corrupt_pages(db)
    with pytest.raises(IndexStoreError, match=r"damaged .*codeweaver index --full"):
        IndexStore.open(db)
    with IndexStore.open(db, recreate_incompatible=True) as s:  # --full: ours, so rebuilt
        assert s.file_count() == 0 and s.check_integrity() == []


def test_the_whole_file_check_can_be_left_to_the_run_that_made_it(tmp_path: Path) -> None:
    # An update of a few paths (a save under watch) skips PRAGMA quick_check, which reads the
    # whole file on every open; the run over the whole tree still refuses damaged pages.
    db = default_db_path(tmp_path)
    _big_index(db)
    _corrupt_pages(db)
    with IndexStore.open(db, check=False) as s:
        assert s.get_meta("schema_version") == str(SCHEMA_VERSION)
    with pytest.raises(IndexStoreError, match=r"damaged .*codeweaver index --full"):
        IndexStore.open(db)


def test_a_missing_fts_table_is_damage_for_readers_and_writers(tmp_path: Path) -> None:
    db = default_db_path(tmp_path)
    with IndexStore.open(db) as s:
        _put(s, "a.py", _chunks("a.py", ["x = 1\n"]))
        s._conn.execute("DROP TABLE chunks_fts")
    for kwargs in ({}, {"create": False}, {"read_only": True}):
        with pytest.raises(IndexStoreError, match=r"missing table chunks_fts.*--full"):
            IndexStore.open(db, **kwargs)  # type: ignore[arg-type]
    with IndexStore.open(db, recreate_incompatible=True) as s:
        assert s.file_count() == 0 and _search(s, "x") == []


def test_read_only_open_reads_and_never_writes(tmp_path: Path) -> None:
    db = default_db_path(tmp_path)
    with IndexStore.open(db) as s:
        _put(s, "a.py", _chunks("a.py", ["def parse_config():\n    pass\n"]))
    with IndexStore.open(db, read_only=True) as s:
        assert [h.path for h in _search(s, "parse config")] == ["a.py"]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            s.set_meta("x", "y")


# -- a failed file keeps its last good chunks, marked stale ------------------------------------
def test_mark_failed_keeps_the_last_good_chunks_until_a_success(store: IndexStore) -> None:
    _put(store, "a.py", _chunks("a.py", ["def a():\n    pass\n", "def b():\n    pass\n"]))
    store.mark_failed("a.py", reason="timeout: too slow", fingerprint="fp")
    store.mark_failed("new.py", reason="chunk: boom", fingerprint="fp", language="python")
    assert len(store.chunks_for("a.py")) == 2
    states = store.file_states()
    assert (states["a.py"].status, states["a.py"].chunk_count) == ("failed", 2)
    assert states["a.py"].content_hash == "h-a.py"  # describes the chunks kept
    assert (states["new.py"].status, states["new.py"].chunk_count) == ("failed", 0)
    st = store.stats()
    assert (st.failed, st.stale_files, st.stale_chunks, st.chunks) == (2, 1, 2, 2)
    assert store.check_integrity() == []
    _put(store, "a.py", _chunks("a.py", ["def c():\n    pass\n"]))
    st = store.stats()
    assert (st.failed, st.stale_files, st.chunks) == (1, 0, 1)


def _hash_lookup_plan(store: IndexStore) -> str:
    rows = store.connection.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM chunks WHERE content_hash IN ('a', 'b')"
    ).fetchall()
    return " ".join(str(r[-1]) for r in rows)


def test_a_deferred_hash_index_answers_the_same_and_is_built_back(
    tmp_path: Path, chunk_indexes: Callable[[Path], set[str]]
) -> None:
    db = default_db_path(tmp_path)
    with IndexStore.open(db) as store:
        _put(store, "a.py", _chunks("a.py", ["def f():\n    return 1\n", "x = 2\n"]))
        wanted = store.chunks_for("a.py")[1].content_hash
        assert "chunks_content_hash" in _hash_lookup_plan(store)
        store.defer_hash_index()
        assert "chunks_content_hash" not in chunk_indexes(db)
        _put(store, "b.py", _chunks("b.py", ["x = 2\n"]))  # the same text in another file
        found = sorted(r.path for r in store.rows_with_content([wanted]))
        assert found == ["a.py", "b.py"]  # by a scan meanwhile
        store.build_hash_index()
        assert "chunks_content_hash" in _hash_lookup_plan(store)
        assert sorted(r.path for r in store.rows_with_content([wanted])) == found
        store.defer_hash_index()  # and a run stopped here ...
    with IndexStore.open(db, read_only=True) as reader:  # (readers never write)
        assert "chunks_content_hash" not in chunk_indexes(db)
        assert len(reader.rows_with_content([wanted])) == 2
    with IndexStore.open(db) as store:  # ... leaves it to the next writer to open the index
        assert "chunks_content_hash" in _hash_lookup_plan(store)


def test_an_index_by_chunk_id_from_an_earlier_version_is_dropped_by_a_writer(
    tmp_path: Path, chunk_indexes: Callable[[Path], set[str]]
) -> None:
    db = default_db_path(tmp_path)
    with IndexStore.open(db) as store:
        _put(store, "a.py", _chunks("a.py", ["def f():\n    return 1\n"]))
    conn = sqlite3.connect(db)  # what versions before this one made, never queried
    conn.execute("CREATE INDEX chunks_chunk_id ON chunks(chunk_id)")
    conn.commit()
    conn.close()
    assert "chunks_chunk_id" in chunk_indexes(db)
    with IndexStore.open(db, read_only=True):
        pass
    assert "chunks_chunk_id" in chunk_indexes(db)
    with IndexStore.open(db) as store:
        assert store.check_integrity() == []
        assert len(store.chunks_for("a.py")) == 1
    assert chunk_indexes(db) == {"chunks_content_hash", "sqlite_autoindex_chunks_1"}


def _expected_fts(store: IndexStore) -> dict[tuple[int, str], str]:
    """What the full-text index should hold for the chunks stored: each cut afresh."""
    out: dict[tuple[int, str], str] = {}
    for rowid, path, ordinal in store.connection.execute("SELECT id, path, ordinal FROM chunks"):
        chunk = store.chunks_for(path)[ordinal]
        body, symbol = chunk_search_fields([chunk])[0]
        for col, text in (("body", body), ("symbol", symbol), ("path", " ".join(path_terms(path)))):
            if text:
                out[int(rowid), col] = text
    return out


_ODD_TEXTS = [
    "def größe(ÄB, naïve_café):\n    return 漢字 + 'x\u00a0y'\n",
    "class HTTPServer:\n    parseJSON2 = getHTTPResponseCode  # __init__\n",
    "\t\r\n   \n",
    "x = '\\x1f' + \"\u2028\" + 0x7FFF_ffff\n",
]


def test_replacing_and_deleting_files_leaves_no_term_behind(store: IndexStore) -> None:
    # The full-text table keeps no copy of the terms: a row is deleted by cutting its chunk
    # again. Any difference would leave terms of deleted rows in its index, or fail.
    symbols = ("class Größe", "def odd\x1fname", "impl Tr for S")
    _put(store, "a/x.py", _chunks("a/x.py", _ODD_TEXTS, symbols))
    _put(store, "b/Über.py", _chunks("b/Über.py", _ODD_TEXTS[::-1], symbols[:1]))
    _put(store, "c.py", _chunks("c.py", ["def keep_me():\n    pass\n"]))
    assert fts_rows(store) == _expected_fts(store)
    _put(store, "a/x.py", _chunks("a/x.py", ["def replaced():\n    return 1\n"], symbols[1:]))
    store.delete_files(["b/Über.py"])
    assert fts_rows(store) == _expected_fts(store)
    assert store.check_integrity() == []
    assert {h.path for h in _search(store, "größe naïve httpserver")} == set()
    assert [h.path for h in _search(store, "replaced")] == ["a/x.py"]
    store.clear()
    assert fts_rows(store) == {} and store.check_integrity() == []


def test_an_index_of_version_3_is_read_as_it_is_and_upgraded_by_its_writer(
    tmp_path: Path, as_version_3: Callable[[Path], None]
) -> None:
    db = default_db_path(tmp_path)
    with IndexStore.open(db) as s:
        for i in range(40):
            _put(s, f"m{i}.py", _chunks(f"m{i}.py", [f"def parse_{i}(x):\n    return x\n" * 30]))
        _put(s, "odd.py", _chunks("odd.py", _ODD_TEXTS, ("class Größe",)))
        want = [(h.path, h.content) for h in _search(s, "parse_7 größe")]
    as_version_3(db)
    size_v3 = db.stat().st_size
    with IndexStore.open(db, read_only=True) as reader:  # read as it is
        assert [(h.path, h.content) for h in _search(reader, "parse_7 größe")] == want
    with IndexStore.open(db) as s:
        assert s.needs_upgrade() and s.get_meta("schema_version") == "3"
        _put(s, "m1.py", _chunks("m1.py", ["def parse_1(x):\n    return x\n"]))  # by id
        assert s.check_integrity() == []
        want = [(h.path, h.content) for h in _search(s, "parse_7 größe")]
        assert s.upgrade_layout() and not s.needs_upgrade()
        assert s.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert fts_rows(s) == _expected_fts(s) and s.check_integrity() == []
        assert [(h.path, h.content) for h in _search(s, "parse_7 größe")] == want
        _put(s, "odd.py", _chunks("odd.py", ["x = 1\n"]))  # and rows now go by their terms
        assert fts_rows(s) == _expected_fts(s) and s.check_integrity() == []
        names = {r[0] for r in s.connection.execute("SELECT name FROM sqlite_master")}
    assert "chunks_fts_content" not in names
    assert db.stat().st_size < size_v3


def test_terms_another_version_cut_are_cut_again_before_a_row_is_deleted(
    tmp_path: Path,
) -> None:
    db = default_db_path(tmp_path)
    with IndexStore.open(db) as s:
        _put(s, "a.py", _chunks("a.py", ["def parse_config():\n    pass\n"]))
        s.set_meta("terms_version", "0")  # as an index written by another cut would say
    with IndexStore.open(db) as s:
        assert s.needs_upgrade()
        with pytest.raises(IndexStoreError, match="another codeweaver version"):
            _put(s, "a.py", _chunks("a.py", ["def other():\n    pass\n"]))
        assert s.check_integrity() == [] and len(s.chunks_for("a.py")) == 1  # nothing written
        assert s.upgrade_layout() and s.get_meta("terms_version") == str(TERMS_VERSION)
        _put(s, "a.py", _chunks("a.py", ["def other():\n    pass\n"]))
        assert fts_rows(s) == _expected_fts(s) and s.check_integrity() == []
