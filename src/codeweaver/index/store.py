"""The SQLite index: files, their chunks, and an FTS5 table for BM25 search.

Layout (one database file, WAL mode)::

    meta(key, value)          schema_version, fingerprint (the governor's), root, timestamps
    files(path PK, ...)       one row per file discovery saw: size, mtime_ns, content hash,
                              status ('chunked' | 'skipped' | 'failed'), reason, fingerprint;
                              a failed file keeps the chunks of its last good version (stale)
                              until a run chunks it again: size, hash and chunk_count then
                              describe those chunks
    chunks(id PK, path, ...)  one row per chunk; (path, ordinal) unique; spans, kinds and symbol
                              path (each joined with U+001F), symbol (joined with " > ")
    chunks_fts                FTS5 over each chunk's search terms (rowid = chunks.id): ``body``
                              (its text), ``symbol`` (the names in its symbol path) and ``path``
                              (its file's stem and folders), cut by :mod:`codeweaver.index.terms`
                              into identifier-aware words (``parseConfig`` -> parseconfig pars
                              config) and written with the chunk. Contentless: it keeps no
                              copy of the terms (a third of the file), so deleting a chunk's
                              row cuts its content again; meta ``terms_version`` says which
                              cut the table holds (:data:`~codeweaver.index.terms.TERMS_VERSION`)
    embedding_models          one row per model that embedded chunks: dimension, how to rebuild it
    vectors(id PK, model, hash, vector)
                              one unit-length float32 vector per (model, chunk content hash),
                              unique; not tied to chunk rows, so an unchanged chunk is never
                              re-embedded. A rowid table: a vector (1.5 KB at 384 dimensions)
                              sits in its row, and the (model, hash) key is a small index of
                              its own (see :meth:`IndexStore.upgrade_layout` for the old one)
    embedding_failures        (model, content hash) that failed to embed: attempts, last error
    (see ``codeweaver.index.vectors``)

Every write happens inside :meth:`IndexStore.transaction`, and a file's row and its chunks are
always written in the same transaction, so a crash or Ctrl-C leaves each file either fully at its
old state or fully at its new one: the next run sees which and carries on from there.

An index marks itself with ``PRAGMA application_id`` (:data:`APPLICATION_ID`). Nothing here ever
drops or rewrites a database that is not recognisably a codeweaver index, whatever the caller
asks; a damaged index (unreadable pages, a missing table) is refused with the fix (``--full``),
and ``recreate_incompatible`` rebuilds it only when it is recognisably ours.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from codeweaver.core.chunks import CodeChunk, Span
from codeweaver.core.errors import IndexStoreError, IndexVersionError
from codeweaver.index.terms import TERMS_VERSION, path_terms, symbol_terms, text_body

if TYPE_CHECKING:
    from codeweaver.engine.chunker.results import FileResult

log = logging.getLogger("codeweaver")

__all__ = [
    "APPLICATION_ID",
    "DEFAULT_DB_DIR",
    "DEFAULT_DB_NAME",
    "MARK_END",
    "MARK_START",
    "SCHEMA_VERSION",
    "FileState",
    "FileStatus",
    "IndexStats",
    "IndexStore",
    "MatchRow",
    "default_db_path",
    "match_expression",
    "prepare_db_dir",
    "search_fields",
    "split_joined",
]

SCHEMA_VERSION = 4
"""4: the full-text table is contentless. 3: the database carries :data:`APPLICATION_ID`; a failed
file may keep stale chunks; FTS5 over identifier-aware terms; vectors beside the chunks. A
version 3 index is read as it is and upgraded in place by its next writer
(:meth:`IndexStore.upgrade_layout`)."""
_UPGRADABLE_VERSIONS = frozenset({"3"})
VECTORS_GENERATION_KEY = "vectors_generation"
"""Meta key of a number that changes whenever any vector is written or deleted."""
APPLICATION_ID = 0x43575658
"""``PRAGMA application_id`` of every index this version writes (``"CWVX"``)."""
DEFAULT_DB_DIR = ".codeweaver"
DEFAULT_DB_NAME = "index.db"
MARK_START = "\x02"
MARK_END = "\x03"
"""Around matched terms in a result's ``marked_snippet`` (characters code does not contain)."""

FileStatus = Literal["chunked", "skipped", "failed"]

# Joins kinds and symbol paths in one column (cheaper than JSON; neither can contain it).
_SEP = "\x1f"
# FTS rows deleted per statement (ids written into its text).
_DELETE_IDS = 1000

# An older index keyed this table WITHOUT ROWID by (model, content_hash): see upgrade_layout().
_VECTORS_TABLE = """CREATE TABLE IF NOT EXISTS vectors (
    id           INTEGER PRIMARY KEY,
    model        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    vector       BLOB NOT NULL,
    UNIQUE (model, content_hash)
);
"""

# Chunks by content hash: what still needs a vector, a vector's chunks (semantic search). A
# random key: each insert lands on its own page, so a bulk load builds it afterwards instead
# (IndexStore.defer_hash_index). An index by chunk_id, never queried, is gone (see _setup).
_HASH_INDEX = "CREATE INDEX IF NOT EXISTS chunks_content_hash ON chunks(content_hash)"
_DROPPED_INDEXES = ("chunks_chunk_id",)

_FTS_TABLE = """CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    body, symbol, path, content='', tokenize="unicode61 remove_diacritics 0 tokenchars '_'"
)"""
# Merge FTS5 segments in bigger steps: ~10% less CPU per chunk written.
_FTS_AUTOMERGE = "INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('automerge', 8)"
_FTS_DELETE = (
    "INSERT INTO chunks_fts(chunks_fts, rowid, body, symbol, path) VALUES ('delete', ?, ?, ?, ?)"
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    path         TEXT PRIMARY KEY,
    language     TEXT,
    size         INTEGER,
    mtime_ns     INTEGER,
    content_hash TEXT,
    status       TEXT NOT NULL CHECK (status IN ('chunked', 'skipped', 'failed')),
    reason       TEXT,
    chunk_count  INTEGER NOT NULL DEFAULT 0,
    fingerprint  TEXT,
    indexed_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id           INTEGER PRIMARY KEY,
    chunk_id     TEXT NOT NULL,
    path         TEXT NOT NULL REFERENCES files(path) ON DELETE CASCADE,
    ordinal      INTEGER NOT NULL,
    language     TEXT NOT NULL,
    start_byte   INTEGER NOT NULL,
    end_byte     INTEGER NOT NULL,
    start_line   INTEGER NOT NULL,
    end_line     INTEGER NOT NULL,
    kinds        TEXT NOT NULL,
    symbol_path  TEXT NOT NULL,
    symbol       TEXT NOT NULL,
    content      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    oversized    INTEGER NOT NULL,
    chunker      TEXT NOT NULL,
    UNIQUE (path, ordinal)
);
{_HASH_INDEX};
CREATE TABLE IF NOT EXISTS embedding_models (
    model        TEXT PRIMARY KEY,
    dimension    INTEGER NOT NULL,
    spec         TEXT NOT NULL,
    updated_at   REAL NOT NULL
);
{_VECTORS_TABLE}CREATE TABLE IF NOT EXISTS embedding_failures (
    model        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    error        TEXT NOT NULL,
    failed_at    REAL NOT NULL,
    PRIMARY KEY (model, content_hash)
) WITHOUT ROWID;
{_FTS_TABLE};
"""


# What an index of this schema version cannot work without.
_REQUIRED = frozenset({"meta", "files", "chunks", "chunks_fts"})


class _Damaged(Exception):
    """The index cannot be used as it is; ``ours``: it is recognisably a codeweaver index."""

    def __init__(self, db_path: Path, problem: str, *, ours: bool) -> None:
        self.ours = ours
        # quick_check reports "*** in database main ***\nPage 12: ...": one line, please
        problem = " ".join(problem.replace("*** in database main ***", "").split())
        self.message = (
            f"the index {db_path} is damaged ({problem}): rebuild it with "
            f"`codeweaver index --full` or delete {db_path}"
        )
        super().__init__(self.message)


def default_db_path(root: str | Path) -> Path:
    """``<root>/.codeweaver/index.db``."""
    return Path(root) / DEFAULT_DB_DIR / DEFAULT_DB_NAME


@dataclass(frozen=True, slots=True)
class FileState:
    """What the index remembers about one file: enough to tell whether it changed."""

    path: str
    size: int | None
    mtime_ns: int | None
    content_hash: str | None
    status: FileStatus
    fingerprint: str | None
    reason: str | None = None
    chunk_count: int = 0


class MatchRow(NamedTuple):
    """One chunk found by :meth:`IndexStore.match_rows` (``score``: BM25, higher is better)."""

    id: int
    path: str
    start_line: int
    end_line: int
    start_byte: int
    end_byte: int
    language: str
    symbol_path: str
    """The names of the symbol path joined with U+001F (:func:`split_joined` undoes it)."""
    kinds: str
    chunk_id: str
    content_hash: str
    content: str
    score: float


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What an index holds."""

    db_path: Path
    files: int
    chunked: int
    skipped: int
    failed: int
    chunks: int
    bytes_indexed: int
    stale_files: int
    """Failed files that still hold the chunks of their last good version."""
    stale_chunks: int
    languages: dict[str, int]
    fingerprint: str | None
    root: str | None
    updated_at: float | None
    db_bytes: int


def chunk_search_fields(chunks: Sequence[CodeChunk]) -> list[tuple[str, str]]:
    """Each chunk's ``body`` and ``symbol`` fields of the full-text index: its text's terms and
    those of its symbol path (see :mod:`codeweaver.index.terms`), joined by spaces."""
    return [search_fields_of(ch.content, ch.symbol_path) for ch in chunks]


def search_fields_of(content: str, symbol_path: Sequence[str]) -> tuple[str, str]:
    """One chunk's :func:`chunk_search_fields`: what its row in the full-text index holds, made
    again from the chunk to delete that row."""
    return text_body(content), " ".join(symbol_terms(symbol_path))


def path_field(path: str) -> str:
    """The ``path`` field of every full-text row of a file's chunks (written, and made again to
    delete them): the terms of its path, joined by spaces."""
    return " ".join(path_terms(path))


def search_fields(result: FileResult) -> list[tuple[str, str]]:
    """:func:`chunk_search_fields` of a chunked file: the ``annotate`` function the indexer
    gives ``iter_file_results``, so the terms are cut in the workers, on every core, rather
    than in the writer thread (where they were half its time)."""
    return chunk_search_fields(result.chunks)


def match_expression(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of ``terms`` (each quoted, so none can be FTS5 syntax)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


class IndexStore:
    """One open index database.

    Example:
        >>> with IndexStore.open("/tmp/x/.codeweaver/index.db") as store:  # doctest: +SKIP
        ...     hits = store.search("parse config")
    """

    def __init__(self, conn: sqlite3.Connection, db_path: Path) -> None:
        self._conn = conn
        self.db_path = db_path
        self._in_tx = False
        # The full-text table of a version 3 index keeps its terms (rows deleted by id).
        self._fts_keeps_terms = False
        # Its terms were cut by another TERMS_VERSION: deleting a row by them is not safe.
        self._terms_stale = False

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        db_path: str | Path,
        *,
        create: bool = True,
        recreate_incompatible: bool = False,
        read_only: bool = False,
        check: bool = True,
    ) -> IndexStore:
        """Open (or, with ``create``, create) the index at ``db_path``.

        ``create`` also checks the whole file (``PRAGMA quick_check``: a writer must not build on
        damaged pages; 126 ms at 205 MB) unless ``check`` is False: an update of a few paths
        builds on the file a whole run checked. ``recreate_incompatible`` wipes and recreates an
        index of another schema version or a damaged one -- only when the file is recognisably
        a codeweaver index.
        ``read_only`` opens it for reading only, and works in a directory this process cannot
        write to (``search``, ``status``).

        Raises:
            IndexStoreError: the file cannot be created or opened, is not a database, is damaged,
                or (without ``create``) does not exist.
            IndexVersionError: it was written with another schema version (unless
                ``recreate_incompatible``), or it is not a codeweaver index (always).
        """
        path = Path(db_path)
        if (read_only or not create) and not path.is_file():
            raise IndexStoreError(
                f"no index at {path}: run `codeweaver index` on the directory first"
            )
        if read_only:
            return cls._open_read_only(path)
        if create:
            prepare_db_dir(path.parent)
        try:
            return cls._connect_and_setup(path, create, recreate_incompatible, check)
        except _Damaged as exc:
            if not (recreate_incompatible and exc.ours):
                raise IndexStoreError(exc.message) from None
        _remove_db_files(path)  # ours and damaged: start again from nothing
        return cls._connect_and_setup(path, create, False, check)

    @classmethod
    def _connect_and_setup(
        cls, path: Path, create: bool, recreate: bool, check: bool
    ) -> IndexStore:
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise IndexStoreError(f"cannot open index {path}: {exc}") from None
        store = cls(conn, path)
        try:
            store._setup(create=create, recreate_incompatible=recreate, check=check)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if _header_is_ours(path):
                raise _Damaged(path, str(exc), ours=True) from None
            raise IndexStoreError(f"cannot use index {path}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return store

    @classmethod
    def _open_read_only(cls, path: Path) -> IndexStore:
        """A read-only connection; ``immutable`` when SQLite cannot create its shared-memory
        file beside the database (a read-only directory: then nobody can be writing it)."""
        uri = path.absolute().as_uri() + "?mode=ro"
        last: sqlite3.Error | None = None
        for suffix in ("", "&immutable=1"):
            try:
                conn = sqlite3.connect(
                    uri + suffix, uri=True, isolation_level=None, check_same_thread=False
                )
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError as exc:  # cannot open: try immutable
                last = exc
                continue
            except sqlite3.DatabaseError as exc:
                raise _unusable(path, exc) from None
            store = cls(conn, path)
            try:
                store._setup(create=False, recreate_incompatible=False, check=False)
            except _Damaged as exc:
                conn.close()
                raise IndexStoreError(exc.message) from None
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise _unusable(path, exc) from None
            except BaseException:
                conn.close()
                raise
            return store
        raise IndexStoreError(f"cannot open index {path}: {last}")

    def _setup(self, *, create: bool, recreate_incompatible: bool, check: bool) -> None:
        c = self._conn
        c.execute("PRAGMA busy_timeout = 10000")
        objects = c.execute(
            "SELECT name, type FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
        tables = {name for name, kind in objects if kind == "table"}
        app_id = int(c.execute("PRAGMA application_id").fetchone()[0])
        if objects or app_id:
            if not self._is_ours(app_id, tables):
                # Never touch it, whatever the caller asked (--full included).
                raise IndexVersionError(
                    f"{self.db_path} is an SQLite database but not a codeweaver index; "
                    "pass another --db path or delete it"
                )
            row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            found = row[0] if row else "unknown"
            if found != str(SCHEMA_VERSION) and found not in _UPGRADABLE_VERSIONS:
                if not recreate_incompatible:
                    raise IndexVersionError(
                        f"the index {self.db_path} has schema version {found}, this codeweaver "
                        f"reads version {SCHEMA_VERSION}: rebuild it with "
                        "`codeweaver index --full` "
                        f"or delete {self.db_path}"
                    )
                self._drop_all()
                tables = set()
            elif missing := sorted(_REQUIRED - tables):
                raise _Damaged(self.db_path, f"missing table {', '.join(missing)}", ours=True)
            elif create and check:
                problem = c.execute("PRAGMA quick_check(1)").fetchone()[0]
                if problem != "ok":
                    raise _Damaged(self.db_path, str(problem), ours=True)
        if create:
            c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = NORMAL")
        c.execute("PRAGMA foreign_keys = ON")
        c.execute("PRAGMA cache_size = -32768")  # 32 MiB: FTS5 segment merges reread pages
        if create and "chunks" in tables:
            names = {name for name, _ in objects}
            stale = [name for name in _DROPPED_INDEXES if name in names]
            if stale or "chunks_content_hash" not in names:
                # An index from an earlier version, or a bulk load that was stopped before it
                # built its hash index again (defer_hash_index).
                with self.transaction():
                    for name in stale:
                        c.execute(f'DROP INDEX IF EXISTS "{name}"')
                    c.execute(_HASH_INDEX)
        if "meta" not in tables:
            if not create:
                raise IndexStoreError(f"{self.db_path} holds no codeweaver index")
            with self.transaction():
                c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                for stmt in _split_script(_SCHEMA):
                    c.execute(stmt)
                c.execute(_FTS_AUTOMERGE)
                now = str(time.time())
                c.executemany(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                    [
                        ("schema_version", str(SCHEMA_VERSION)),
                        ("terms_version", str(TERMS_VERSION)),
                        ("created_at", now),
                        # Where the vector generation starts: the memory-mapped copies are named
                        # by it, and a database made again beside an old ``.vectors/`` folder
                        # must not start where the old one did and read its vectors.
                        (VECTORS_GENERATION_KEY, str(time.time_ns())),
                    ],
                )
        sql = c.execute("SELECT sql FROM sqlite_master WHERE name='chunks_fts'").fetchone()
        self._fts_keeps_terms = sql is not None and "content=" not in str(sql[0]).replace(" ", "")
        if not self._fts_keeps_terms:
            row = c.execute("SELECT value FROM meta WHERE key='terms_version'").fetchone()
            self._terms_stale = row is None or row[0] != str(TERMS_VERSION)

    def _is_ours(self, app_id: int, tables: set[str]) -> bool:
        """Marked as ours, or (an index from before the mark) holding our tables and version."""
        if app_id:
            return app_id == APPLICATION_ID
        if not {"meta", "files", "chunks"} <= tables:
            return False
        row = self._conn.execute("SELECT 1 FROM meta WHERE key='schema_version'").fetchone()
        return row is not None

    def _drop_all(self) -> None:
        """Empty a database :meth:`_is_ours` recognised (only ever called after that check)."""
        c = self._conn
        rows = c.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger', 'view') "
            "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'chunks_fts_%'"
        ).fetchall()
        c.execute("PRAGMA foreign_keys = OFF")
        for kind, name in rows:
            if kind == "trigger":
                c.execute(f'DROP TRIGGER IF EXISTS "{name}"')
        for kind, name in rows:
            if kind in ("table", "view"):
                c.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
        c.execute("VACUUM")

    def needs_upgrade(self) -> bool:
        """Whether :meth:`upgrade_layout` has work to do: the vectors' old table, a full-text
        table that keeps its terms (version 3), or one whose terms another version cut."""
        return self._vectors_keyed_by_hash() or self._fts_keeps_terms or self._terms_stale

    def _vectors_keyed_by_hash(self) -> bool:
        row = self._conn.execute(
            "SELECT sql FROM sqlite_master WHERE type='table' AND name='vectors'"
        ).fetchone()
        return row is not None and "WITHOUT ROWID" in str(row[0]).upper()

    def upgrade_layout(self) -> bool:
        """Bring an older index's tables up to date; True when it did (the caller holds
        :func:`~codeweaver.index.lock.writer_lock`). The space freed is given back
        (``VACUUM``); a VACUUM that fails (a full disk) only leaves the freed pages for the next
        writes to reuse.

        The vectors: that table was ``WITHOUT ROWID``, keyed by (model, content hash): a 1.5 KB
        vector did not fit in a key's B-tree cell, so each spilled onto an overflow page of its
        own, and every "is this text embedded?" probe read through those pages. At 65,495
        MiniLM vectors it held 307 MB on disk (134 MB now) and counting what is left to embed
        took 0.27 s warm, 2.8 s cold (25 ms now). They are copied in one transaction, never
        re-embedded.

        The full-text table: made again, contentless, from the chunks (their terms cut by this
        version), in one transaction: an index of version 3 kept a copy of every chunk's terms
        there (a third of the file), and one whose terms another version cut could not delete
        a row by cutting its chunk again.
        """
        if not self.needs_upgrade():
            return False
        c = self._conn
        if self._vectors_keyed_by_hash():
            with self.transaction():
                c.execute("ALTER TABLE vectors RENAME TO vectors_before_upgrade")
                c.execute(_VECTORS_TABLE)
                c.execute(
                    "INSERT INTO vectors(model, content_hash, vector) "
                    "SELECT model, content_hash, vector FROM vectors_before_upgrade"
                )
                c.execute("DROP TABLE vectors_before_upgrade")
        if self._fts_keeps_terms or self._terms_stale:
            self._rebuild_fts()
        try:
            c.execute("VACUUM")
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # VACUUM wrote every page to the log
        except sqlite3.Error as exc:
            log.warning("could not give the space back after upgrading %s: %s", self.db_path, exc)
        return True

    def _rebuild_fts(self) -> None:
        """The full-text table made again, contentless, from the chunks (see
        :meth:`upgrade_layout`)."""
        c = self._conn
        path_words: dict[str, str] = {}
        with self.transaction():
            c.execute("DROP TABLE IF EXISTS chunks_fts")
            c.execute(_FTS_TABLE)
            c.execute(_FTS_AUTOMERGE)
            after = 0
            while True:
                rows = c.execute(
                    "SELECT id, path, content, symbol_path FROM chunks WHERE id > ? "
                    "ORDER BY id LIMIT 2048",
                    (after,),
                ).fetchall()
                if not rows:
                    break
                for _, path, _, _ in rows:
                    if path not in path_words:
                        path_words[path] = path_field(path)
                c.executemany(
                    "INSERT INTO chunks_fts(rowid, body, symbol, path) VALUES (?, ?, ?, ?)",
                    [
                        (i, *search_fields_of(text, split_joined(symbols)), path_words[path])
                        for i, path, text, symbols in rows
                    ],
                )
                after = rows[-1][0]
            c.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [("schema_version", str(SCHEMA_VERSION)), ("terms_version", str(TERMS_VERSION))],
            )
        self._fts_keeps_terms = self._terms_stale = False

    def close(self) -> None:
        self._conn.close()

    # -- bulk loads ------------------------------------------------------------------------------
    def holds_chunks(self) -> bool:
        """Whether any chunk is stored."""
        return self._conn.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is not None

    def defer_hash_index(self) -> None:
        """Drop the index of chunks by content hash until :meth:`build_hash_index`: for a
        load that writes (nearly) every chunk of the index, which builds it once at the end
        from the sorted hashes instead of once per row at a random place (about a fifth of
        the writer's CPU time). Readers meanwhile still get right answers, by a table scan. A
        run stopped before it builds the index again leaves that to the next writer to open
        the index (:meth:`open`)."""
        with self.transaction():
            self._conn.execute("DROP INDEX IF EXISTS chunks_content_hash")

    def build_hash_index(self) -> None:
        """Build the index :meth:`defer_hash_index` dropped (nothing when it is there)."""
        with self.transaction():
            self._conn.execute(_HASH_INDEX)

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection (for ``codeweaver.index.vectors``; write only in a transaction)."""
        return self._conn

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: everything inside commits together or not at all."""
        if self._in_tx:
            yield
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._in_tx = False

    # -- meta ------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    @property
    def fingerprint(self) -> str | None:
        """The governor fingerprint of the last run that wrote this index."""
        return self.get_meta("fingerprint")

    # -- reading file states ---------------------------------------------------------------------
    def file_states(self, under: Iterable[str] | None = None) -> dict[str, FileState]:
        """Every file row, keyed by path (what the pipeline diffs discovery against).

        ``under`` limits them to the rows at or below these paths (``"a"``: ``a`` and ``a/...``).
        """
        cols = (
            "SELECT path, size, mtime_ns, content_hash, status, fingerprint, reason, chunk_count "
            "FROM files"
        )
        if under is None:
            return {r[0]: FileState(*r) for r in self._conn.execute(cols)}
        out: dict[str, FileState] = {}
        for top in under:
            # "a/" <= path < "a0" is everything under "a/" ("0" follows "/"), on the primary key
            rows = self._conn.execute(
                f"{cols} WHERE path = ? OR (path >= ? AND path < ?)", (top, top + "/", top + "0")
            )
            out.update((r[0], FileState(*r)) for r in rows)
        return out

    def file_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM files").fetchone()[0])

    def chunk_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    # -- writing ---------------------------------------------------------------------------------
    def put_file(
        self,
        path: str,
        *,
        status: FileStatus,
        language: str | None = None,
        size: int | None = None,
        mtime_ns: int | None = None,
        content_hash: str | None = None,
        reason: str | None = None,
        fingerprint: str | None = None,
        chunks: Sequence[CodeChunk] = (),
        fields: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        """Write one file's row and replace its chunks with ``chunks`` (in one transaction).

        ``fields``: the chunks' :func:`chunk_search_fields`, when they were made elsewhere (in
        the chunker's workers: see :func:`search_fields`); else they are made here.

        Raises:
            ValueError: ``fields`` does not hold one entry per chunk (nothing is written).
        """
        if fields is not None and len(fields) != len(chunks):
            raise ValueError(f"{path}: {len(fields)} search fields for {len(chunks)} chunks")
        c = self._conn
        with self.transaction():
            self._delete_chunks(path)
            c.execute(
                "INSERT INTO files(path, language, size, mtime_ns, content_hash, status, reason, "
                "chunk_count, fingerprint, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET language=excluded.language, size=excluded.size, "
                "mtime_ns=excluded.mtime_ns, content_hash=excluded.content_hash, "
                "status=excluded.status, reason=excluded.reason, "
                "chunk_count=excluded.chunk_count, fingerprint=excluded.fingerprint, "
                "indexed_at=excluded.indexed_at",
                (
                    path,
                    language,
                    size,
                    mtime_ns,
                    content_hash,
                    status,
                    reason,
                    len(chunks),
                    fingerprint,
                    time.time(),
                ),
            )
            if chunks:
                # The rows get their ids here (what SQLite would give them: one past the
                # largest), so the FTS rows are written by rowid: an INSERT ... SELECT that
                # looks each id up cost FTS5 five times as much (and twice as much again when
                # every file changed).
                first = int(c.execute("SELECT coalesce(max(id), 0) + 1 FROM chunks").fetchone()[0])
                c.executemany(
                    "INSERT INTO chunks(id, chunk_id, path, ordinal, language, start_byte, "
                    "end_byte, start_line, end_line, kinds, symbol_path, symbol, content, "
                    "content_hash, oversized, chunker) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            first + i,
                            ch.chunk_id,
                            path,
                            i,
                            ch.language,
                            ch.start_byte,
                            ch.end_byte,
                            ch.start_line,
                            ch.end_line,
                            _SEP.join(ch.kinds),
                            _SEP.join(ch.symbol_path),
                            ch.symbol,
                            ch.content,
                            ch.content_hash,
                            int(ch.oversized),
                            ch.chunker,
                        )
                        for i, ch in enumerate(chunks)
                    ],
                )
                path_words = path_field(path)
                if fields is None:
                    fields = chunk_search_fields(chunks)
                c.executemany(
                    "INSERT INTO chunks_fts(rowid, body, symbol, path) VALUES (?, ?, ?, ?)",
                    [
                        (first + i, body, symbol, path_words)
                        for i, (body, symbol) in enumerate(fields)
                    ],
                )

    def _delete_chunks(self, path: str) -> None:
        c = self._conn
        if self._fts_keeps_terms:  # a version 3 index, not upgraded yet: rows go by id
            ids = [row[0] for row in c.execute("SELECT id FROM chunks WHERE path=?", (path,))]
            if not ids:
                return  # a new file: nothing to delete, and no FTS5 read
            # By rowid (integers from our own table, in statements of bounded length): a
            # DELETE over a subquery of chunks cost ~0.35 ms per file even when it matched none.
            for k in range(0, len(ids), _DELETE_IDS):
                marks = ",".join(map(str, ids[k : k + _DELETE_IDS]))
                c.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({marks})")
            c.execute("DELETE FROM chunks WHERE path=?", (path,))
            return
        rows = c.execute(
            "SELECT id, content, symbol_path FROM chunks WHERE path=?", (path,)
        ).fetchall()
        if not rows:
            return  # a new file: nothing to delete
        if self._terms_stale:
            raise IndexStoreError(
                f"the search terms in {self.db_path} were cut by another codeweaver version: "
                "run `codeweaver index` on its tree once to bring the index up to date"
            )
        # A contentless table deletes a row given the terms it was written with: the chunk's,
        # cut again by the same functions (TERMS_VERSION says they are the same).
        words = path_field(path)
        c.executemany(
            _FTS_DELETE,
            [(i, *search_fields_of(text, split_joined(sp)), words) for i, text, sp in rows],
        )
        c.execute("DELETE FROM chunks WHERE path=?", (path,))

    def mark_failed(
        self, path: str, *, reason: str, fingerprint: str | None, language: str | None = None
    ) -> None:
        """Record that chunking ``path`` failed, keeping the chunks it had (now stale).

        A file seen for the first time gets a row with no chunks; a file the index already held
        keeps its chunks, size and hash (they describe the last good version) until a run chunks,
        skips or deletes it. Failed files are retried on every run.
        """
        with self.transaction():
            self._conn.execute(
                "INSERT INTO files(path, language, status, reason, chunk_count, fingerprint, "
                "indexed_at) VALUES (?, ?, 'failed', ?, 0, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET status='failed', reason=excluded.reason, "
                "fingerprint=excluded.fingerprint, indexed_at=excluded.indexed_at",
                (path, language, reason, fingerprint, time.time()),
            )

    def touch_file(self, path: str, *, size: int, mtime_ns: int) -> None:
        """Record a new size/mtime for a file whose content (hash) did not change."""
        with self.transaction():
            self._conn.execute(
                "UPDATE files SET size=?, mtime_ns=? WHERE path=?", (size, mtime_ns, path)
            )

    def delete_files(self, paths: Iterable[str]) -> int:
        """Remove files and their chunks; returns how many rows went."""
        n = 0
        c = self._conn
        with self.transaction():
            for p in paths:
                self._delete_chunks(p)
                n += c.execute("DELETE FROM files WHERE path=?", (p,)).rowcount
        return n

    def clear(self) -> None:
        """Remove every file and chunk (the meta rows stay)."""
        with self.transaction():
            self._conn.execute("DELETE FROM chunks")
            self._conn.execute("DELETE FROM files")
            if self._fts_keeps_terms:
                self._conn.execute("DELETE FROM chunks_fts")
            else:
                self._conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('delete-all')")

    # -- reading chunks --------------------------------------------------------------------------
    def chunks_for(self, path: str) -> list[CodeChunk]:
        """The stored chunks of one file, in order."""
        rows = self._conn.execute(
            "SELECT path, language, content, start_byte, end_byte, start_line, end_line, kinds, "
            "symbol_path, ordinal, oversized, chunker FROM chunks "
            "WHERE path=? ORDER BY ordinal",
            (path,),
        )
        return [_row_to_chunk(r) for r in rows]

    def iter_files(self) -> Iterator[tuple[str, FileStatus, str | None, int]]:
        """``(path, status, reason, chunk_count)`` for every file, by path."""
        yield from self._conn.execute(
            "SELECT path, status, reason, chunk_count FROM files ORDER BY path"
        )

    def match_rows(
        self,
        terms: Sequence[str],
        *,
        limit: int,
        weights: tuple[float, float, float],
    ) -> list[MatchRow]:
        """The best ``limit`` chunks holding any of ``terms``, by BM25 over the three fields.

        ``weights`` weigh matches in (body, symbol, path); a zero weight leaves a field out of the
        score (a chunk matching only there still comes back, with score 0).
        """
        if not terms or limit <= 0:
            return []
        w = ", ".join(repr(float(x)) for x in weights)
        rows = self._conn.execute(
            "SELECT c.id, c.path, c.start_line, c.end_line, c.start_byte, c.end_byte, "
            "c.language, c.symbol_path, c.kinds, c.chunk_id, c.content_hash, c.content, -m.score "
            f"FROM (SELECT rowid, bm25(chunks_fts, {w}) AS score "
            "FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY score LIMIT ?) AS m "
            "JOIN chunks c ON c.id = m.rowid ORDER BY m.score",
            (match_expression(terms), limit),
        ).fetchall()
        return [MatchRow(*r) for r in rows]

    def rows_with_content(self, hashes: Sequence[str]) -> list[MatchRow]:
        """The chunks whose content hash is one of ``hashes`` (score 0), in no set order."""
        if not hashes:
            return []
        marks = ", ".join("?" * len(hashes))
        rows = self._conn.execute(
            "SELECT id, path, start_line, end_line, start_byte, end_byte, language, symbol_path, "
            f"kinds, chunk_id, content_hash, content, 0.0 FROM chunks "
            f"WHERE content_hash IN ({marks})",
            list(hashes),
        ).fetchall()
        return [MatchRow(*r) for r in rows]

    def stats(self) -> IndexStats:
        c = self._conn
        by_status = dict(c.execute("SELECT status, count(*) FROM files GROUP BY status").fetchall())
        langs = dict(
            c.execute(
                "SELECT language, count(*) FROM files WHERE status='chunked' "
                "GROUP BY language ORDER BY count(*) DESC"
            ).fetchall()
        )
        nbytes = c.execute(
            "SELECT coalesce(sum(size), 0) FROM files WHERE status='chunked'"
        ).fetchone()[0]
        stale_files, stale_chunks = c.execute(
            "SELECT count(*), coalesce(sum(chunk_count), 0) FROM files "
            "WHERE status='failed' AND chunk_count > 0"
        ).fetchone()
        updated = self.get_meta("updated_at")
        db_bytes = 0
        for suffix in ("", "-wal"):
            p = Path(str(self.db_path) + suffix)
            if p.exists():
                db_bytes += p.stat().st_size
        return IndexStats(
            db_path=self.db_path,
            files=sum(by_status.values()),
            chunked=by_status.get("chunked", 0),
            skipped=by_status.get("skipped", 0),
            failed=by_status.get("failed", 0),
            chunks=self.chunk_count(),
            bytes_indexed=int(nbytes),
            stale_files=int(stale_files),
            stale_chunks=int(stale_chunks),
            languages={str(k): int(v) for k, v in langs.items()},
            fingerprint=self.fingerprint,
            root=self.get_meta("root"),
            updated_at=float(updated) if updated else None,
            db_bytes=db_bytes,
        )

    def check_integrity(self) -> list[str]:
        """Problems found (empty when consistent): chunk counts, orphans, FTS in step."""
        c = self._conn
        problems: list[str] = []
        bad = c.execute(
            "SELECT f.path, f.chunk_count, count(c.id) FROM files f LEFT JOIN chunks c "
            "ON c.path = f.path GROUP BY f.path HAVING f.chunk_count != count(c.id)"
        ).fetchall()
        problems += [f"{p}: {want} chunks recorded, {got} stored" for p, want, got in bad]
        orphans = c.execute(
            "SELECT count(*) FROM chunks WHERE path NOT IN (SELECT path FROM files)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} chunks without a file row")
        try:
            c.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as exc:
            problems.append(f"full-text index damaged: {exc}")
        (n_fts,) = c.execute("SELECT count(*) FROM chunks_fts").fetchone()
        (n_chunks,) = c.execute("SELECT count(*) FROM chunks").fetchone()
        if n_fts != n_chunks:
            problems.append(f"full-text index out of step: {n_fts} rows for {n_chunks} chunks")
        return problems


def _row_to_chunk(r: tuple[object, ...]) -> CodeChunk:
    (
        path,
        language,
        content,
        sb,
        eb,
        sl,
        el,
        kinds,
        symbols,
        ordinal,
        oversized,
        chunker,
    ) = r
    return CodeChunk(
        path=str(path),
        language=str(language),
        content=str(content),
        span=Span(int(sb), int(eb), int(sl), int(el)),  # type: ignore[call-overload]
        kinds=_split(str(kinds)),
        symbol_path=_split(str(symbols)),
        ordinal=int(ordinal),  # type: ignore[call-overload]
        oversized=bool(oversized),
        chunker="delimiter" if chunker == "delimiter" else "semantic",
    )


def split_joined(joined: str) -> tuple[str, ...]:
    """Undo the U+001F join the ``kinds`` and ``symbol_path`` columns are stored with."""
    return tuple(joined.split(_SEP)) if joined else ()


_split = split_joined


def _split_script(script: str) -> list[str]:
    """Split the schema into statements (triggers hold ``;`` inside ``BEGIN ... END``)."""
    out: list[str] = []
    buf: list[str] = []
    for line in script.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            out.append(text)
            buf = []
    return out


def _header_is_ours(path: Path) -> bool:
    """True if the file's SQLite header carries :data:`APPLICATION_ID` (read without SQLite, so
    it works on a file whose other pages are damaged)."""
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except OSError:
        return False
    return (
        len(header) == 100
        and header.startswith(b"SQLite format 3\x00")
        and int.from_bytes(header[68:72], "big") == APPLICATION_ID
    )


def _unusable(path: Path, exc: sqlite3.DatabaseError) -> IndexStoreError:
    """The error for a database SQLite refuses: damaged when it is recognisably ours."""
    if _header_is_ours(path):
        return IndexStoreError(_Damaged(path, str(exc), ours=True).message)
    return IndexStoreError(f"cannot use index {path}: {exc}")


def _remove_db_files(path: Path) -> None:
    """Delete a database and its side files (called only for an index that is ours)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            Path(str(path) + suffix).unlink(missing_ok=True)
        except OSError as exc:
            raise IndexStoreError(
                f"cannot remove the damaged index {path}{suffix}: {exc.strerror or exc}"
            ) from None


def prepare_db_dir(directory: Path) -> None:
    """Create the index directory; keep it out of version control when it is ours.

    Raises:
        IndexStoreError: it cannot be created (the message suggests ``--db``).
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if directory.name == DEFAULT_DB_DIR:
            ignore = directory / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# written by codeweaver: the index is not for committing\n*\n")
    except OSError as exc:
        raise IndexStoreError(
            f"cannot create the index directory {directory}: {exc.strerror or exc}; "
            "pass --db with a writable location"
        ) from None
