"""The chunk model: :class:`Span`, :class:`CodeChunk` and the per-file outcome records.

Offsets are **byte** offsets into the file's raw bytes, half-open; lines are 1-based and
inclusive. For every chunk ``c`` of a file whose raw bytes are ``data``::

    c.content == data[c.start_byte:c.end_byte].decode("utf-8", errors="replace")
    "".join(c.content for c in chunks) == data.decode("utf-8", errors="replace")

so for valid UTF-8 the chunks give the file back byte for byte, and for invalid UTF-8 they give
back its replacement-decoded text (each invalid byte becomes U+FFFD; offsets stay raw-byte offsets).
A UTF-8 byte order mark is kept as the first character of the first chunk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ChunkRow",
    "CodeChunk",
    "FailureRecord",
    "FailureStage",
    "SkipRecord",
    "Span",
    "chunks_from_rows",
    "content_hash",
    "embedding_header",
    "stable_chunk_id",
    "trusted_chunk",
]

FailureStage = Literal["discover", "read", "parse", "chunk", "worker", "timeout", "store"]

# A chunk as a plain tuple, the compact form shipped back from worker processes:
# (content, start_byte, end_byte, start_line, end_line, kinds, symbol_path, oversized)
ChunkRow = tuple[str, int, int, int, int, tuple[str, ...], tuple[str, ...], bool]


def content_hash(data: bytes | str) -> str:
    """Return the 32-hex-digit BLAKE2b digest of ``data`` (str is hashed as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def stable_chunk_id(path: str, start_byte: int, end_byte: int, digest: str) -> str:
    """Return an id that is the same whenever the same content sits at the same place in a file."""
    key = f"{path}\0{start_byte}\0{end_byte}\0{digest}".encode("utf-8", errors="surrogatepass")
    return hashlib.blake2b(key, digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Span:
    """Where a chunk sits: byte offsets half-open, lines 1-based inclusive."""

    start_byte: int
    end_byte: int
    start_line: int
    end_line: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_byte <= self.end_byte:
            raise ValueError(f"bad byte span {self.start_byte}..{self.end_byte}")
        if not 1 <= self.start_line <= self.end_line:
            raise ValueError(f"bad line span {self.start_line}..{self.end_line}")

    @property
    def byte_length(self) -> int:
        return self.end_byte - self.start_byte


def embedding_header(path: str, symbol_path: tuple[str, ...] | list[str]) -> str:
    """The lines an embedder sees before a chunk's content: its file, then its symbol path."""
    header = f"# file: {path}\n"
    if symbol_path:
        header += f"# symbol: {' > '.join(symbol_path)}\n"
    return header


@dataclass(frozen=True, slots=True)
class CodeChunk:
    """One retrieval unit: a contiguous slice of one file, with what a search system needs to know.

    ``symbol_path`` lists the enclosing definitions outermost first, e.g.
    ``("class Parser", "def parse")``; ``kinds`` lists the syntax node kinds the chunk covers at its
    top level, in order. ``oversized`` is True only when the chunk is over the budget because it
    could not be cut any further (a single character the token counter still finds too big).
    ``content_hash`` and ``chunk_id`` are computed on first use (most callers of the chunker in a
    hot loop never need them).
    """

    path: str
    language: str
    content: str
    span: Span
    kinds: tuple[str, ...] = ()
    symbol_path: tuple[str, ...] = ()
    ordinal: int = 0
    oversized: bool = False
    chunker: Literal["semantic", "delimiter"] = "semantic"
    _hash: str | None = field(default=None, repr=False, compare=False)

    @property
    def content_hash(self) -> str:
        """BLAKE2b-128 hex digest of the content (UTF-8)."""
        digest = self._hash
        if digest is None:
            digest = content_hash(self.content)
            object.__setattr__(self, "_hash", digest)
        return digest

    @property
    def chunk_id(self) -> str:
        """Stable id: the same content at the same place in the same file gives the same id."""
        return stable_chunk_id(
            self.path, self.span.start_byte, self.span.end_byte, self.content_hash
        )

    # Flat accessors, so callers never have to reach through ``span``.
    @property
    def start_byte(self) -> int:
        return self.span.start_byte

    @property
    def end_byte(self) -> int:
        return self.span.end_byte

    @property
    def start_line(self) -> int:
        return self.span.start_line

    @property
    def end_line(self) -> int:
        return self.span.end_line

    @property
    def symbol(self) -> str:
        """The symbol path as one string, e.g. ``"class Parser > def parse"`` ("" at top level)."""
        return " > ".join(self.symbol_path)

    def embedding_text(self) -> str:
        """The text an embedder should see: a short header (file, symbol) then the content.

        The header gives the embedding the context a bare slice lacks; the content is unchanged.
        """
        return embedding_header(self.path, self.symbol_path) + self.content

    def to_row(self) -> ChunkRow:
        """The compact tuple form used to ship chunks between processes."""
        s = self.span
        return (
            self.content,
            s.start_byte,
            s.end_byte,
            s.start_line,
            s.end_line,
            self.kinds,
            self.symbol_path,
            self.oversized,
        )

    @classmethod
    def from_row(
        cls,
        row: ChunkRow,
        *,
        path: str,
        language: str,
        ordinal: int,
        chunker: Literal["semantic", "delimiter"] = "semantic",
    ) -> CodeChunk:
        """Rebuild a chunk from :meth:`to_row`'s tuple (trusted: the row came from a chunk)."""
        content, sb, eb, sl, el, kinds, symbols, oversized = row
        return trusted_chunk(
            path, language, content, sb, eb, sl, el, kinds, symbols, ordinal, oversized, chunker
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (used by ``codeweaver chunk --json``)."""
        return {
            "id": self.chunk_id,
            "path": self.path,
            "language": self.language,
            "ordinal": self.ordinal,
            "start_byte": self.start_byte,
            "end_byte": self.end_byte,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "kinds": list(self.kinds),
            "symbol_path": list(self.symbol_path),
            "oversized": self.oversized,
            "chunker": self.chunker,
            "content_hash": self.content_hash,
            "content": self.content,
        }


class _SpanLayout:
    """:class:`Span`'s memory layout without its checks: built, then turned into a Span."""

    __slots__ = Span.__slots__

    def __init__(self, start_byte: int, end_byte: int, start_line: int, end_line: int) -> None:
        self.start_byte = start_byte
        self.end_byte = end_byte
        self.start_line = start_line
        self.end_line = end_line


class _ChunkLayout:
    """:class:`CodeChunk`'s memory layout without frozen ``__setattr__``: built, then turned
    into a CodeChunk (``__class__`` assignment between classes with the same slots)."""

    __slots__ = CodeChunk.__slots__

    def __init__(
        self,
        path: str,
        language: str,
        content: str,
        span: _SpanLayout,
        kinds: tuple[str, ...],
        symbol_path: tuple[str, ...],
        ordinal: int,
        oversized: bool,
        chunker: str,
    ) -> None:
        self.path = path
        self.language = language
        self.content = content
        self.span = span
        self.kinds = kinds
        self.symbol_path = symbol_path
        self.ordinal = ordinal
        self.oversized = oversized
        self.chunker = chunker
        self._hash = None


def trusted_chunk(
    path: str,
    language: str,
    content: str,
    start_byte: int,
    end_byte: int,
    start_line: int,
    end_line: int,
    kinds: tuple[str, ...],
    symbol_path: tuple[str, ...],
    ordinal: int,
    oversized: bool,
    chunker: str,
) -> CodeChunk:
    """A :class:`CodeChunk` from values the chunker has already made consistent.

    It skips the frozen dataclass ``__init__`` (one ``object.__setattr__`` per field) and
    ``Span``'s checks: chunk construction is on the hot path of both the chunker and the parent
    of a process run. The object is built in a twin class with the same slots and then given
    its real class, so it is an ordinary frozen CodeChunk (equality, hash, pickling). Keep the
    twins next to the classes: they set every field the classes declare.
    """
    span = _SpanLayout(start_byte, end_byte, start_line, end_line)
    span.__class__ = Span  # type: ignore[assignment]
    chunk = _ChunkLayout(
        path, language, content, span, kinds, symbol_path, ordinal, oversized, chunker
    )
    chunk.__class__ = CodeChunk  # type: ignore[assignment]
    return chunk  # type: ignore[return-value]


def chunks_from_rows(
    rows: list[ChunkRow], path: str, language: str, chunker: str
) -> list[CodeChunk]:
    """One file's chunks from its rows (:meth:`CodeChunk.to_row` tuples, in order: a chunk's
    ordinal is its index), the values every chunk of a file shares given once."""
    return [
        trusted_chunk(path, language, text, sb, eb, sl, el, kinds, symbols, ordinal, big, chunker)
        for ordinal, (text, sb, eb, sl, el, kinds, symbols, big) in enumerate(rows)
    ]


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A file that could not be chunked: where it failed and why. Plain data; pickles anywhere."""

    path: str
    stage: FailureStage
    error_type: str
    message: str
    traceback: str = ""
    exit_code: int | None = None

    def describe(self) -> str:
        """One line for logs: ``path [stage] ErrorType: message``."""
        code = f" (exit code {self.exit_code})" if self.exit_code is not None else ""
        return f"{self.path} [{self.stage}] {self.error_type}: {self.message}{code}"


@dataclass(frozen=True, slots=True)
class SkipRecord:
    """A file deliberately not chunked (binary, too large, unreadable, ...), with the reason."""

    path: str
    reason: str
    detail: str = ""
