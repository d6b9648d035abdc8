"""The SQLite index: files, their chunks, and an FTS5 table for BM25 search.

Layout (one database file, WAL mode)::

    meta(key, value)          schema_version, fingerprint (the governor's), root, timestamps
    files(path PK, ...)       one row per file discovery saw: size, mtime_ns, content hash,
                              status ('chunked' | 'skipped' | 'failed'), reason, fingerprint
    chunks(id PK, path, ...)  one row per chunk; (path, ordinal) unique; spans, kinds and symbol
                              path (each joined with U+001F), symbol (joined with " > ")
    chunks_fts                FTS5 over chunks(content, symbol, path), kept in step by triggers
    embedding_models          one row per model that embedded chunks: dimension, how to rebuild it
    vectors(model, hash, ..)  one unit-length float32 vector per (model, chunk content hash);
                              not tied to chunk rows, so an unchanged chunk is never re-embedded
    embedding_failures        (model, content hash) that failed to embed: attempts, last error
    (see ``codeweaver.index.vectors``)

Every write happens inside :meth:`IndexStore.transaction`, and a file's row and its chunks are
always written in the same transaction, so a crash or Ctrl-C leaves each file either fully at its
old state or fully at its new one: the next run sees which and carries on from there.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from codeweaver.core.chunks import CodeChunk, Span
from codeweaver.core.errors import IndexStoreError, IndexVersionError

__all__ = [
    "DEFAULT_DB_DIR",
    "DEFAULT_DB_NAME",
    "MARK_END",
    "MARK_START",
    "SCHEMA_VERSION",
    "FileState",
    "FileStatus",
    "IndexStats",
    "IndexStore",
    "SearchHit",
    "default_db_path",
    "fts_query",
    "split_joined",
]

SCHEMA_VERSION = 3
DEFAULT_DB_DIR = ".codeweaver"
DEFAULT_DB_NAME = "index.db"
MARK_START = "\x02"
MARK_END = "\x03"
"""Around matched terms in :attr:`SearchHit.marked_snippet` (characters code does not contain)."""

FileStatus = Literal["chunked", "skipped", "failed"]

# Joins kinds and symbol paths in one column (cheaper than JSON; neither can contain it).
_SEP = "\x1f"

_SCHEMA = """
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
CREATE INDEX IF NOT EXISTS chunks_chunk_id ON chunks(chunk_id);
CREATE INDEX IF NOT EXISTS chunks_content_hash ON chunks(content_hash);
CREATE TABLE IF NOT EXISTS embedding_models (
    model        TEXT PRIMARY KEY,
    dimension    INTEGER NOT NULL,
    spec         TEXT NOT NULL,
    updated_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS vectors (
    model        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    vector       BLOB NOT NULL,
    PRIMARY KEY (model, content_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS embedding_failures (
    model        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    error        TEXT NOT NULL,
    failed_at    REAL NOT NULL,
    PRIMARY KEY (model, content_hash)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    content, symbol, path, content='chunks', content_rowid='id'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, content, symbol, path)
    VALUES (new.id, new.content, new.symbol, new.path);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, content, symbol, path)
    VALUES ('delete', old.id, old.content, old.symbol, old.path);
END;
"""


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


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: a chunk, where it sits, and its BM25 score (higher is better)."""

    path: str
    start_line: int
    end_line: int
    start_byte: int
    end_byte: int
    symbol: str
    language: str
    chunk_id: str
    score: float
    marked_snippet: str
    content: str

    @property
    def snippet(self) -> str:
        """A few lines around the best match (plain text; see ``marked_snippet`` for the marks)."""
        return self.marked_snippet.replace(MARK_START, "").replace(MARK_END, "")

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "start_byte": self.start_byte,
            "end_byte": self.end_byte,
            "symbol": self.symbol,
            "language": self.language,
            "id": self.chunk_id,
            "score": self.score,
            "snippet": self.snippet,
        }


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
    languages: dict[str, int]
    fingerprint: str | None
    root: str | None
    updated_at: float | None
    db_bytes: int


_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str, *, any_term: bool = False) -> str:
    """Turn what a person typed into a safe FTS5 query.

    Every run of word characters becomes a quoted term, so punctuation and FTS5 syntax
    (``"``, ``*``, ``:``, ``AND``, ``NEAR(...)``) in the input can never make the query invalid;
    terms are ANDed (``any_term=False``) or ORed. Returns ``""`` when nothing searchable remains.
    """
    terms = _TOKEN_RE.findall(text)
    joiner = " OR " if any_term else " "
    return joiner.join(f'"{t}"' for t in terms)


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

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        db_path: str | Path,
        *,
        create: bool = True,
        recreate_incompatible: bool = False,
    ) -> IndexStore:
        """Open (or, with ``create``, create) the index at ``db_path``.

        Raises:
            IndexStoreError: the file cannot be created or opened, is not a database, or (without
                ``create``) does not exist.
            IndexVersionError: it was written with another schema version (unless
                ``recreate_incompatible``, which wipes and recreates it).
        """
        path = Path(db_path)
        if not create and not path.is_file():
            raise IndexStoreError(
                f"no index at {path}: run `codeweaver index` on the directory first"
            )
        if create:
            _prepare_dir(path.parent)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise IndexStoreError(f"cannot open index {path}: {exc}") from None
        store = cls(conn, path)
        try:
            store._setup(create=create, recreate_incompatible=recreate_incompatible)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise IndexStoreError(f"cannot use index {path}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return store

    def _setup(self, *, create: bool, recreate_incompatible: bool) -> None:
        c = self._conn
        c.execute("PRAGMA busy_timeout = 10000")
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" in tables:
            row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            found = row[0] if row else "unknown"
            if found != str(SCHEMA_VERSION):
                if not recreate_incompatible:
                    raise IndexVersionError(
                        f"the index {self.db_path} has schema version {found}, this codeweaver "
                        f"reads version {SCHEMA_VERSION}: rebuild it with "
                        "`codeweaver index --full` "
                        f"or delete {self.db_path}"
                    )
                self._drop_all()
                tables = set()
        elif tables and not recreate_incompatible:
            raise IndexVersionError(
                f"{self.db_path} is an SQLite database but not a codeweaver index; "
                "pass another --db path or delete it"
            )
        elif tables:
            self._drop_all()
            tables = set()
        if create:
            c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = NORMAL")
        c.execute("PRAGMA foreign_keys = ON")
        c.execute("PRAGMA cache_size = -32768")  # 32 MiB: FTS5 segment merges reread pages
        if "meta" not in tables:
            if not create:
                raise IndexStoreError(f"{self.db_path} holds no codeweaver index")
            with self.transaction():
                for stmt in _split_script(_SCHEMA):
                    c.execute(stmt)
                # Merge FTS5 segments in bigger steps: ~10% less CPU per chunk written.
                c.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('automerge', 8)")
                now = str(time.time())
                c.executemany(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("created_at", now)],
                )

    def _drop_all(self) -> None:
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

    def close(self) -> None:
        self._conn.close()

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
    def file_states(self) -> dict[str, FileState]:
        """Every file row, keyed by path (what the pipeline diffs discovery against)."""
        rows = self._conn.execute(
            "SELECT path, size, mtime_ns, content_hash, status, fingerprint, reason FROM files"
        )
        return {r[0]: FileState(*r) for r in rows}

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
    ) -> None:
        """Write one file's row and replace its chunks with ``chunks`` (in one transaction)."""
        c = self._conn
        with self.transaction():
            c.execute("DELETE FROM chunks WHERE path=?", (path,))
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
                c.executemany(
                    "INSERT INTO chunks(chunk_id, path, ordinal, language, start_byte, end_byte, "
                    "start_line, end_line, kinds, symbol_path, symbol, content, content_hash, "
                    "oversized, chunker) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
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
                c.execute("DELETE FROM chunks WHERE path=?", (p,))
                n += c.execute("DELETE FROM files WHERE path=?", (p,)).rowcount
        return n

    def clear(self) -> None:
        """Remove every file and chunk (the meta rows stay)."""
        with self.transaction():
            self._conn.execute("DELETE FROM chunks")
            self._conn.execute("DELETE FROM files")
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

    def search(self, query: str, *, limit: int = 10, any_term: bool = False) -> list[SearchHit]:
        """BM25 search over chunk content, symbol path and file path.

        ``query`` is free text: it goes through :func:`fts_query` first, so it cannot be an FTS5
        syntax error. Symbol and path matches weigh more than content matches.
        """
        match = fts_query(query, any_term=any_term)
        if not match or limit <= 0:
            return []
        rows = self._conn.execute(
            "SELECT c.path, c.start_line, c.end_line, c.start_byte, c.end_byte, c.symbol, "
            "c.language, c.chunk_id, -bm25(chunks_fts, 1.0, 4.0, 2.0) AS score, "
            "snippet(chunks_fts, 0, char(2), char(3), ' … ', 24), c.content "
            "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
            "WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, 1.0, 4.0, 2.0) LIMIT ?",
            (match, limit),
        ).fetchall()
        return [SearchHit(*r) for r in rows]

    def match_rows(self, match: str, *, limit: int) -> list[tuple[object, ...]]:
        """The best ``limit`` chunks for an FTS5 ``match`` expression, by BM25.

        Each row: ``path, start_line, end_line, start_byte, end_byte, language, symbol_path,
        kinds, chunk_id, content_hash, content, score, marked_snippet`` (symbol path and kinds
        joined with U+001F; see :func:`split_joined`).
        """
        if not match or limit <= 0:
            return []
        return self._conn.execute(
            "SELECT c.path, c.start_line, c.end_line, c.start_byte, c.end_byte, c.language, "
            "c.symbol_path, c.kinds, c.chunk_id, c.content_hash, c.content, "
            "-bm25(chunks_fts, 1.0, 4.0, 2.0) AS score, "
            "snippet(chunks_fts, 0, char(2), char(3), ' … ', 24) "
            "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
            "WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, 1.0, 4.0, 2.0) LIMIT ?",
            (match, limit),
        ).fetchall()

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
            c.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            problems.append(f"full-text index out of step: {exc}")
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


def _prepare_dir(directory: Path) -> None:
    """Create the index directory; keep it out of version control when it is ours."""
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
