"""One call per file: read, parse, chunk; the function every executor runs.

``chunk_bytes`` is pure (bytes in, chunks out); ``chunk_file`` adds the read. Parse with
tree-sitter when the language has a grammar, else (or when the parse itself fails) use the
delimiter fallback. Contract, for ``chunks = chunk_bytes(data, ...)``::

    "".join(c.content for c in chunks) == data.decode("utf-8", errors="replace")
    c.content == data[c.start_byte:c.end_byte].decode("utf-8", errors="replace")

An empty file gives no chunks. A whitespace-only file gives one chunk (the contract above holds for
it too; the index or the embedder may drop it). Binary content is a skip
(:class:`~codeweaver.core.errors.FileSkippedError`), never garbage chunks.
"""

from __future__ import annotations

import logging
import os
import time

from codeweaver.core.chunks import ChunkRow, CodeChunk, chunks_from_rows
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.errors import ChunkingError, ChunkTimeoutError, FileSkippedError
from codeweaver.core.fileio import NotRegularFileError, open_regular
from codeweaver.core.languages import LANGUAGES, TEXT, get_parser, has_grammar, resolve_language
from codeweaver.engine.chunker.delimiter import delimiter_spans
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.packing import RawChunk
from codeweaver.engine.chunker.semantic import semantic_spans

__all__ = ["chunk_bytes", "chunk_file", "chunk_rows", "chunk_text", "read_source"]

log = logging.getLogger("codeweaver")

_BINARY_SNIFF = 8192


def read_source(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """Read a file's bytes, refusing one over ``max_bytes``; never blocks on a FIFO or device.

    Raises:
        FileSkippedError: ``too_large``; ``vanished`` (deleted since it was found);
            ``not_regular`` (it became a FIFO, socket, device or folder).
        ChunkingError: (stage ``read``) the file cannot be read (permissions, I/O error).
    """
    try:
        fh, st = open_regular(path)
    except NotRegularFileError:
        raise FileSkippedError(
            "not_regular", "not a regular file (a FIFO, socket or device)"
        ) from None
    except FileNotFoundError:
        raise FileSkippedError("vanished", "deleted before it could be read") from None
    except OSError as exc:
        raise ChunkingError(f"{type(exc).__name__}: {exc.strerror or exc}", stage="read") from exc
    try:
        with fh:
            if st.st_size > max_bytes:
                raise FileSkippedError("too_large", f"{st.st_size} bytes > limit {max_bytes}")
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ChunkingError(f"{type(exc).__name__}: {exc.strerror or exc}", stage="read") from exc
    if len(data) > max_bytes:  # grew while we read it
        raise FileSkippedError("too_large", f"more than the limit of {max_bytes} bytes")
    return data


def chunk_file(
    file: DiscoveredFile | str | os.PathLike[str],
    governor: ChunkGovernor,
    *,
    deadline: float | None = None,
) -> list[CodeChunk]:
    """Chunk one file: a :class:`DiscoveredFile`, or a path (see
    :meth:`DiscoveredFile.from_path`). Chunks carry ``path=file.rel_path``.

    Example:
        >>> chunks = chunk_file("src/app.py", ChunkGovernor(max_chunk_tokens=512))  # doctest: +SKIP

    Raises:
        DiscoveryError: a path that is missing or not a regular file.
        FileSkippedError: binary or too large content.
        ChunkingError: reading or chunking failed.
    """
    if not isinstance(file, DiscoveredFile):
        file = DiscoveredFile.from_path(
            file, max_file_bytes=governor.max_file_bytes, hash_content=False
        )
    data = read_source(file.path, governor.max_file_bytes)
    return chunk_bytes(data, file.language, governor, path=file.rel_path, deadline=deadline)


def chunk_text(
    text: str, language: str, governor: ChunkGovernor, *, path: str = "<memory>"
) -> list[CodeChunk]:
    """Chunk text already in memory; byte offsets refer to ``text.encode("utf-8")``."""
    return chunk_bytes(text.encode("utf-8", "surrogatepass"), language, governor, path=path)


def chunk_bytes(
    data: bytes,
    language: str,
    governor: ChunkGovernor,
    *,
    path: str = "<memory>",
    deadline: float | None = None,
) -> list[CodeChunk]:
    """Chunk a file's bytes. See the module docstring for the contract.

    ``language`` is a name from :data:`~codeweaver.core.languages.LANGUAGES`, in any case, or a
    common alias (``py``, ``golang``); the chunks carry the canonical name. An unknown name is
    chunked as plain text, with a warning.

    ``deadline`` is a ``time.monotonic()`` value; chunking raises
    :class:`~codeweaver.core.errors.ChunkTimeoutError` once past it (checked between steps: the
    parse itself cannot be interrupted in-process).

    Raises:
        FileSkippedError: binary content, or more chunks than ``governor.max_chunks_per_file``.
        ChunkingError: chunking failed (``stage`` says where).
    """
    language, chunker, rows = chunk_rows(data, language, governor, deadline=deadline)
    return chunks_from_rows(rows, path, language, chunker)


def chunk_rows(
    data: bytes,
    language: str,
    governor: ChunkGovernor,
    *,
    deadline: float | None = None,
) -> tuple[str, str, list[ChunkRow]]:
    """:func:`chunk_bytes` without the :class:`CodeChunk` objects: the canonical language, the
    chunker that ran (``semantic`` or ``delimiter``) and one :meth:`CodeChunk.to_row` tuple per
    chunk, in order (its ordinal is its index). A worker process ships these; the caller's
    process builds the chunks once (:func:`~codeweaver.core.chunks.chunks_from_rows`).

    Raises:
        FileSkippedError, ChunkingError: as :func:`chunk_bytes`.
    """
    language = _known_language(language)
    if not data:
        return language, "semantic", []
    if b"\0" in data[:_BINARY_SNIFF]:
        raise FileSkippedError("binary", "NUL byte in the first 8 KiB")
    spans, chunker = _spans(data, language, governor, deadline)
    if len(spans) > governor.max_chunks_per_file:
        raise FileSkippedError(
            "too_many_chunks", f"{len(spans)} chunks > limit {governor.max_chunks_per_file}"
        )
    return language, chunker, _to_rows(data, spans)


def _known_language(language: str) -> str:
    """The canonical name for ``language`` (``Python``, ``py`` and ``golang`` work); an unknown
    name is chunked as plain text, with a warning the first time it is seen."""
    if language in LANGUAGES:
        return language
    known = resolve_language(language)
    if known is not None:
        return known
    if language not in _warned_languages:
        _warned_languages.add(language)
        log.warning(
            "unknown language %r: chunked as plain text (`codeweaver languages` lists the names)",
            language,
        )
    return TEXT


_warned_languages: set[str] = set()


def _spans(
    data: bytes, language: str, governor: ChunkGovernor, deadline: float | None
) -> tuple[list[RawChunk], str]:
    if has_grammar(language):
        try:
            tree = get_parser(language).parse(data)
        except Exception as exc:  # a grammar that cannot parse this input: fall back, never refuse
            log.debug("parse failed for %s (%s); using the delimiter chunker", language, exc)
        else:
            if deadline is not None and time.monotonic() > deadline:
                raise ChunkTimeoutError("parsing ran past the per-file time limit")
            if tree is not None:
                spans = semantic_spans(data, tree.root_node, language, governor, deadline=deadline)
                return spans, "semantic"
    return delimiter_spans(data, language, governor, deadline=deadline), "delimiter"


def _to_rows(data: bytes, spans: list[RawChunk]) -> list[ChunkRow]:
    rows: list[ChunkRow] = []
    append = rows.append
    line = 1
    count = data.count
    # ASCII: byte offsets are character offsets, so one decode of the file serves every chunk.
    text = data.decode("ascii") if data.isascii() else None
    # The spans are contiguous, so each newline is counted once: the ones inside a chunk move
    # the next chunk's first line.
    for start, end, kinds, symbols, oversized, _, _ in spans:
        newlines = count(b"\n", start, end)
        end_line = line + newlines - (data[end - 1] == 0x0A)
        if text is not None:
            content = text[start:end]
        else:
            content = data[start:end].decode("utf-8", "replace")
        append((content, start, end, line, end_line, kinds, symbols, oversized))
        line += newlines
    return rows
