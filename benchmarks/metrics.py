"""Chunk-quality metrics, measured on the text alone so that every peer is held to the same rules.

A peer hands back a list of strings. To count lost and duplicated characters, each chunk is
*located* in the file's text (see :func:`locate_chunks`); the located spans then give

* ``lost``: characters of the file that no chunk covers (and how many of those are not whitespace),
* ``duplicated``: characters covered more than once (``sum(span lengths) - |union of spans|``),
* ``split definitions``: function/class definitions whose text fits the budget but that no single
  chunk contains whole (see :func:`definition_spans` and :func:`count_split`).

All offsets here are **character** offsets into ``data.decode("utf-8", errors="replace")``.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

__all__ = [
    "DEFINITION_KINDS",
    "Coverage",
    "Located",
    "SizeStats",
    "byte_to_char_offsets",
    "count_split",
    "coverage",
    "definition_spans",
    "locate_chunks",
    "size_stats",
]

LocateMethod = Literal["verbatim", "stripped", "lines", "unlocated"]

# Function / method / class node kinds per tree-sitter-language-pack grammar.
DEFINITION_KINDS: dict[str, tuple[str, ...]] = {
    "python": ("function_definition", "class_definition"),
    "javascript": (
        "function_declaration",
        "generator_function_declaration",
        "class_declaration",
        "method_definition",
    ),
    "typescript": (
        "function_declaration",
        "generator_function_declaration",
        "class_declaration",
        "abstract_class_declaration",
        "method_definition",
        "interface_declaration",
    ),
    "tsx": (
        "function_declaration",
        "generator_function_declaration",
        "class_declaration",
        "abstract_class_declaration",
        "method_definition",
        "interface_declaration",
    ),
    "go": ("function_declaration", "method_declaration"),
    "rust": ("function_item", "impl_item", "trait_item"),
    "java": (
        "method_declaration",
        "constructor_declaration",
        "class_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
    ),
    "c": ("function_definition",),
    "cpp": ("function_definition", "class_specifier"),
    "csharp": (
        "method_declaration",
        "constructor_declaration",
        "class_declaration",
        "interface_declaration",
        "struct_declaration",
        "record_declaration",
    ),
}

# Wrappers whose span is the definition's real extent (decorators belong to the function).
_WRAPPERS = {"decorated_definition"}


# -- locating chunks ------------------------------------------------------------------------------
@dataclass(slots=True)
class Located:
    """Where each chunk of one file sits in the file's text.

    ``spans[i]`` is the half-open character extent of chunk ``i`` in the file (``None`` when it
    could not be located); ``pieces[i]`` the parts of that extent the chunk really reproduces (the
    extent itself, except for chunks located by lines); ``methods[i]`` says how it was found.
    """

    spans: list[tuple[int, int] | None]
    pieces: list[list[tuple[int, int]]]
    methods: list[LocateMethod]

    def count(self, method: LocateMethod) -> int:
        return sum(1 for m in self.methods if m == method)

    def covered(self) -> list[tuple[int, int]]:
        """Every covered piece of every chunk, for :func:`coverage`."""
        return [piece for pieces in self.pieces for piece in pieces]


# A line of a rebuilt chunk may match a file line at most this many lines past the previous match.
_MAX_LINE_JUMP = 400


class _LineIndex:
    """The file's lines compared without surrounding whitespace (for rebuilt chunk text)."""

    def __init__(self, text: str) -> None:
        self.starts: list[int] = []  # char offset of each line's first non-blank character
        self.ends: list[int] = []  # char offset just past each line's last non-blank character
        self.where: dict[str, list[int]] = {}
        offset = 0
        for line in text.splitlines(keepends=True):
            key = line.strip()
            if key:
                lead = len(line) - len(line.lstrip())
                self.where.setdefault(key, []).append(len(self.starts))
                self.starts.append(offset + lead)
                self.ends.append(offset + lead + len(key))
            offset += len(line)

    def find(self, chunk: str, from_char: int) -> list[tuple[int, int]]:
        """Match the chunk's non-blank lines, in order, to file lines at or after ``from_char``.

        Greedy: each line matches its next occurrence no more than ``_MAX_LINE_JUMP`` lines past
        the previous match; lines with no such occurrence (text the peer changed) are skipped.
        Returns the matched runs of consecutive file lines as character spans.
        """
        pos = bisect.bisect_left(self.starts, from_char)
        matched: list[int] = []
        for key in (ln.strip() for ln in chunk.splitlines()):
            if not key:
                continue
            where = self.where.get(key)
            if not where:
                continue
            j = bisect.bisect_left(where, pos)
            if j == len(where):
                continue
            line = where[j]
            if matched and line - pos > _MAX_LINE_JUMP:
                continue
            matched.append(line)
            pos = line + 1
        runs: list[tuple[int, int]] = []
        for i, line in enumerate(matched):
            if i and line == matched[i - 1] + 1:
                runs[-1] = (runs[-1][0], self.ends[line])
            else:
                runs.append((self.starts[line], self.ends[line]))
        return runs


def locate_chunks(text: str, chunks: Sequence[str]) -> Located:
    """Locate every chunk in ``text``, in order, allowing overlap.

    Method, in order of preference: the chunk as an exact substring (``verbatim``) searched from
    the end of the previous chunk, then from its start (overlapping peers), then anywhere; the
    chunk with surrounding whitespace stripped (``stripped``: peers that ``.strip()``); else its
    non-blank lines, compared without surrounding whitespace, matched in order to the file's lines
    after the previous chunk (``lines``: peers that rebuild text, e.g. re-synthesise indentation
    or drop part of a node). A chunk located by lines covers only the runs of lines it matched;
    its extent runs from the first to the last. Otherwise ``unlocated``.
    """
    spans: list[tuple[int, int] | None] = []
    pieces: list[list[tuple[int, int]]] = []
    methods: list[LocateMethod] = []
    prev_start = prev_end = 0
    lines: _LineIndex | None = None
    for chunk in chunks:
        span: tuple[int, int] | None = None
        parts: list[tuple[int, int]] = []
        method: LocateMethod = "unlocated"
        for needle, how in ((chunk, "verbatim"), (chunk.strip(), "stripped")):
            if not needle:
                continue
            for start in (prev_end, prev_start, 0):
                i = text.find(needle, start)
                if i >= 0:
                    span, method = (i, i + len(needle)), how  # type: ignore[assignment]
                    parts = [span]
                    break
            if span is not None:
                break
        if span is None and chunk.strip():
            if lines is None:
                lines = _LineIndex(text)
            parts = lines.find(chunk, prev_end) or lines.find(chunk, 0)
            if parts:
                span, method = (parts[0][0], parts[-1][1]), "lines"
        if span is not None:
            prev_start, prev_end = span
        spans.append(span)
        pieces.append(parts)
        methods.append(method)
    return Located(spans, pieces, methods)


# -- coverage -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Coverage:
    """How the located chunks cover one file (all in characters)."""

    total: int
    covered: int
    lost: int
    lost_non_ws: int
    duplicated: int


def coverage(text: str, spans: Iterable[tuple[int, int] | None]) -> Coverage:
    """Union, gaps and overlap of ``spans`` over ``text``.

    ``lost = len(text) - |union|``; ``duplicated = sum(len(span)) - |union|``; ``lost_non_ws``
    counts the lost characters that are not whitespace.
    """
    ordered = sorted(s for s in spans if s is not None and s[1] > s[0])
    covered = emitted = lost_non_ws = 0
    cursor = 0
    for start, end in ordered:
        emitted += end - start
        if start > cursor:
            gap = text[cursor:start]
            lost_non_ws += len(gap) - sum(1 for ch in gap if ch.isspace())
        if end > cursor:
            covered += end - max(start, cursor)
            cursor = end
    if cursor < len(text):
        gap = text[cursor:]
        lost_non_ws += len(gap) - sum(1 for ch in gap if ch.isspace())
    return Coverage(
        total=len(text),
        covered=covered,
        lost=len(text) - covered,
        lost_non_ws=lost_non_ws,
        duplicated=emitted - covered,
    )


# -- definitions ----------------------------------------------------------------------------------
def byte_to_char_offsets(data: bytes, offsets: Iterable[int]) -> dict[int, int]:
    """Map byte offsets (on character boundaries) to offsets in the replacement-decoded text."""
    wanted = sorted(set(offsets))
    if data.isascii():
        return {b: b for b in wanted}
    out: dict[int, int] = {}
    prev_b = prev_c = 0
    for b in wanted:
        prev_c += len(data[prev_b:b].decode("utf-8", errors="replace"))
        prev_b = b
        out[b] = prev_c
    return out


@lru_cache(maxsize=32)
def _query(language: str) -> Any:
    from tree_sitter import Query
    from tree_sitter_language_pack import get_language

    pattern = " ".join(f"({kind}) @def" for kind in DEFINITION_KINDS[language])
    return Query(get_language(language), pattern)  # type: ignore[arg-type]


@lru_cache(maxsize=32)
def _parser(language: str) -> Any:
    from tree_sitter_language_pack import get_parser

    return get_parser(language)  # type: ignore[arg-type]


def definition_spans(data: bytes, language: str) -> list[tuple[int, int]]:
    """Character spans of every function, method and class definition in ``data``.

    A definition's span is its node's span, widened to a decorator wrapper where there is one
    (Python ``decorated_definition``). Returns ``[]`` for languages without a kinds table.
    """
    if language not in DEFINITION_KINDS:
        return []
    from tree_sitter import QueryCursor

    tree = _parser(language).parse(data)
    nodes = QueryCursor(_query(language)).captures(tree.root_node).get("def", [])
    byte_spans: set[tuple[int, int]] = set()
    for node in nodes:
        parent = node.parent
        target = parent if parent is not None and parent.type in _WRAPPERS else node
        byte_spans.add((target.start_byte, target.end_byte))
    to_char = byte_to_char_offsets(data, [b for span in byte_spans for b in span])
    return sorted((to_char[s], to_char[e]) for s, e in byte_spans)


def count_split(
    definitions: Sequence[tuple[int, int]],
    spans: Iterable[tuple[int, int] | None],
    budget: int,
) -> tuple[int, int]:
    """Return ``(fitting, split)``: definitions no longer than ``budget`` characters, and how many
    of those no single chunk span contains whole."""
    ordered = sorted(s for s in spans if s is not None)
    starts = [s for s, _ in ordered]
    max_end: list[int] = []
    best = -1
    for _, end in ordered:
        best = max(best, end)
        max_end.append(best)
    fitting = split = 0
    for start, end in definitions:
        if end - start > budget:
            continue
        fitting += 1
        i = bisect.bisect_right(starts, start) - 1
        if i < 0 or max_end[i] < end:
            split += 1
    return fitting, split


# -- sizes ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class SizeStats:
    """Chunk sizes in characters against a budget."""

    budget: int
    sizes: list[int] = field(default_factory=list)

    def add(self, sizes: Iterable[int]) -> None:
        self.sizes.extend(sizes)

    def summary(self) -> dict[str, float | int]:
        return size_stats(self.sizes, self.budget)


def size_stats(sizes: Sequence[int], budget: int) -> dict[str, float | int]:
    """Median, p95, max, share over ``budget`` and share under a tenth of it (tiny chunks)."""
    if not sizes:
        return {"chunks": 0, "median": 0, "p95": 0, "max": 0, "over_share": 0.0, "tiny_share": 0.0}
    ordered = sorted(sizes)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {
        "chunks": len(ordered),
        "median": statistics.median(ordered),
        "p95": p95,
        "max": ordered[-1],
        "over_share": sum(1 for s in ordered if s > budget) / len(ordered),
        "tiny_share": sum(1 for s in ordered if s < budget / 10) / len(ordered),
    }
