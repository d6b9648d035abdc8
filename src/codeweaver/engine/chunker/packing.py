"""Sizes, cuts and the item packer: what both chunkers share.

:class:`Measure` answers "does this range fit the budget?"; :func:`line_cut`, :func:`char_cut` and
:func:`prose_cut` choose where to cut text that has no better boundary; :class:`RawChunk` is a
chunk span as the chunkers emit it. :func:`pack` packs a stream of items (the delimiter chunker's
blocks and sections; the syntax chunker has its own walk in :mod:`.semantic`).

An *item* is a contiguous byte range ``[start, end)`` of the file with the kind it stands for,
whether it is a definition, and the symbol path it sits in; the items a chunker feeds cover the
file without gaps or overlaps, so the spans the packer emits do too (the lossless property is
structural, not a post-hoc repair).

Rules, in order (``packing="definition"``, the default):

* an item whose symbol path differs from the pending group's flushes the group;
* a definition that fits the budget is one chunk of its own (the group before it is flushed);
  one that fits only without the blank lines after it sheds those to the chunk after it and
  stays whole;
* a non-definition that fits joins the pending group while the group stays within the budget;
* an item that does not fit is handed back to the chunker to be *expanded* into smaller items
  (its syntax children); an item that cannot be expanded is cut at line, then character,
  boundaries, and the last piece stays pending so small neighbours can still join it.

With ``packing="greedy"`` definitions join groups like any other item (fewer, bigger chunks).
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Callable
from typing import NamedTuple

from codeweaver.core.errors import ChunkTimeoutError
from codeweaver.engine.chunker.governor import ChunkGovernor

__all__ = [
    "DEF",
    "DOC",
    "GROUP",
    "HASH_COMMENTS",
    "HEADER",
    "ROOT_SCOPE",
    "WHITESPACE",
    "Item",
    "Measure",
    "RawChunk",
    "Scope",
    "char_cut",
    "child_path",
    "header_start",
    "line_cut",
    "pack",
    "prose_cut",
]

# What a chunk holds (``RawChunk.role``), for the crumb pass.
GROUP = 0  # statements, members, pieces of something split
DEF = 1  # one whole definition (with its doc comment)
DOC = 2  # the part of a definition's doc comment that did not fit with it
HEADER = 3  # only the header of something split (what followed did not fit with it)


class Item(NamedTuple):
    start: int
    end: int
    kind: str
    is_def: bool
    path: tuple[str, ...]
    # Opaque handle the expander understands (a tree-sitter node list, a text block, ...).
    handle: object = None
    # For a definition: its own label (e.g. "def parse"), appended to ``path`` for its chunk.
    label: str = ""


# Symbol paths keep the outermost and innermost scopes of deeper nestings (bounded size).
MAX_SYMBOL_DEPTH = 12
_KEEP_OUTER = 4
_ELLIPSIS = "…"


def child_path(path: tuple[str, ...], label: str) -> tuple[str, ...]:
    """``path`` extended by ``label``, keeping at most :data:`MAX_SYMBOL_DEPTH` entries (the
    outermost ones, an ellipsis, the innermost ones) so deep nesting costs O(1) per level."""
    if len(path) < MAX_SYMBOL_DEPTH:
        return (*path, label)
    tail = MAX_SYMBOL_DEPTH - _KEEP_OUTER - 2
    return (*path[:_KEEP_OUTER], _ELLIPSIS, *path[len(path) - tail :], label)


class Scope:
    """Where a chunk sits: the definition (or the file) around it, compared by identity.

    ``path`` is its symbol path as shown (capped for deep nesting, see
    :func:`child_path`), ``parent`` the scope around it and ``depth`` the real nesting, so
    whether one scope lies inside another stays exact however deep the file nests.
    """

    __slots__ = ("depth", "parent", "path")

    def __init__(self, path: tuple[str, ...], parent: Scope | None = None) -> None:
        self.path = path
        self.parent = parent
        self.depth: int = parent.depth + 1 if parent is not None else 0

    def within(self, other: Scope) -> bool:
        """Whether this scope is ``other`` or lies inside it."""
        scope: Scope | None = self
        while scope is not None and scope.depth > other.depth:
            scope = scope.parent
        return scope is other

    def __repr__(self) -> str:
        return f"Scope({self.path!r})"


ROOT_SCOPE = Scope(())
"""The scope of a file's top level (the delimiter chunker's scopes hang below it)."""


class RawChunk(NamedTuple):
    """A chunk span: ``data[start:end]``, the node kinds it holds, its symbol path, whether it
    is over budget (one character the budget cannot hold), what it holds (:data:`GROUP`,
    :data:`DEF`, :data:`DOC`, :data:`HEADER`) and the scope it sits in (the symbol path of the
    definition or file around it: chunks of one scope may merge)."""

    start: int
    end: int
    kinds: tuple[str, ...]
    path: tuple[str, ...]
    oversized: bool
    role: int = GROUP
    scope: Scope = ROOT_SCOPE


Expander = Callable[[Item], "list[Item] | None"]
# With a token counter, a range longer than this many bytes per token of budget is over budget
# without asking the counter (no real tokenizer packs 128 bytes of source into one token).
_MAX_BYTES_PER_TOKEN = 128
# With a token counter, a big range is first judged by a head of this many budget-sized windows
# (at the estimated density): when the head alone is over budget, the rest is never counted.
_HEAD_PROBES = 4
# Past this many times the file's size in bytes counted, a file gets a per-line token index.
_SPEND_FACTOR = 8
_SPEND_FLOOR = 1 << 16
_new = tuple.__new__
WHITESPACE = b" \t\n\r\f\v"
"""The bytes ``bytes.strip()`` removes (ASCII whitespace)."""
# Marks, on the stack, the end of a split definition's children.
_SCOPE_END = "\0scope-end"
# A split definition's one-line closing tail up to this long joins the chunk before it.
_TAIL_MAX = 96


class Measure:
    """Answers "does data[start:end] fit the budget?" as cheaply as the budget unit allows.

    In characters, a range whose byte length fits always fits (a character is at least one byte),
    and in a pure-ASCII file bytes *are* characters, so most checks are one subtraction.
    """

    __slots__ = (
        "_ascii",
        "_counter",
        "_index",
        "_indexed",
        "_probe",
        "_spent",
        "data",
        "limit",
        "overhead",
    )

    def __init__(self, data: bytes, governor: ChunkGovernor) -> None:
        self.data = data
        self.limit = governor.limit()
        self._ascii = data.isascii()
        self._counter = None if governor.char_budget is not None else governor.token_counter
        # First window to try with a token counter: the budget at the estimated density.
        self._probe = max(16, int(self.limit * governor.settings.chars_per_token))
        # What the counter adds to any text (special tokens such as [CLS] and [SEP]).
        self.overhead = governor.counter_overhead() if self._counter is not None else 0
        # Bytes handed to the counter so far; past a few times the file, sizes come from a
        # per-line index (each line counted once) and only ranges near the limit are counted.
        self._spent = 0
        self._index: _TokenIndex | None = None
        self._indexed = False  # an index was built (or found not to add up: None)

    @property
    def is_ascii(self) -> bool:
        """True when the file is ASCII (a byte is a character)."""
        return self._ascii

    @property
    def counts_tokens(self) -> bool:
        """True when sizes come from a user's token counter (each check may be slow)."""
        return self._counter is not None

    def fits(self, start: int, end: int) -> bool:
        if self._counter is None:
            n = end - start
            if n <= self.limit:
                return True
            if self._ascii or n > 4 * self.limit:  # a character is 1 to 4 bytes
                return False
            return len(self.data[start:end].decode("utf-8", "replace")) <= self.limit
        if self.over(start, end):
            return False
        return self.count(start, end) <= self.limit

    def over(self, start: int, end: int) -> bool:
        """With a token counter: whether ``data[start:end]`` is certainly over budget without
        counting it whole (by its length, its head, or the line index); False: count it."""
        n = end - start
        if n > _MAX_BYTES_PER_TOKEN * self.limit:
            return True  # do not tokenize megabytes to learn they are over budget
        index = self._index
        if not self._indexed and self._spent > _SPEND_FACTOR * len(self.data) + _SPEND_FLOOR:
            self._indexed = True
            index = self._index = _TokenIndex.checked(self)
        if index is not None:
            return index.bounds(start, end)[0] > self.limit  # near the limit: count it
        head = _HEAD_PROBES * self._probe
        # Its head alone over budget: no need to count the rest.
        return n > 2 * head and self.count(start, start + head) > self.limit + 2

    def count(self, start: int, end: int) -> int:
        """The token counter's size of ``data[start:end]`` (with its overhead)."""
        assert self._counter is not None
        self._spent += end - start
        return int(self._counter(self.data[start:end].decode("utf-8", "replace")))

    def max_prefix(self, start: int, end: int) -> int:
        """The largest ``cut`` in ``(start, end]`` with ``data[start:cut]`` fitting, on a UTF-8
        character boundary; at least one character even when that alone is over budget.
        Returns ``end`` only when the whole range fits (or is one character)."""
        data = self.data
        if self._counter is None and self._ascii:
            return min(end, start + max(1, self.limit))
        first = start + 1  # one whole character always goes in, so there is progress
        while first < end and (data[first] & 0xC0) == 0x80:
            first += 1
        best = first
        if self._counter is None:
            hi = min(end, start + 4 * self.limit + 4)  # ``limit`` characters take <= 4 bytes each
        else:
            # Grow a window until it no longer fits, so each probe costs about what it finds.
            hi = min(end, start + self._probe)
            while hi < end and self.fits(start, hi):
                best = max(best, _char_boundary(data, hi, best))
                hi = min(end, start + 2 * (hi - start))
            if hi == end and self.fits(start, end):
                return end
        lo = best + 1
        while lo <= hi:
            mid = _char_boundary(data, (lo + hi) // 2, best)
            if mid > best and self.fits(start, mid):
                best = mid
                lo = (lo + hi) // 2 + 1
            else:
                hi = (lo + hi) // 2 - 1
        return best


class _TokenIndex:
    """Token counts of a file's lines (each counted once), so the size of any range is known
    within bounds without asking the counter: the lines it covers whole, plus its partial first
    and last lines at 0 to their whole count. Over-long lines are cut into segments at
    character boundaries. Tokenizers split at whitespace and punctuation, so the sizes of
    adjacent pieces add up to that of their join within a token or two per join: ``slack``."""

    __slots__ = ("ends", "prefix", "slack")

    def __init__(self, measure: Measure) -> None:
        data = measure.data
        n = len(data)
        segment = max(32, measure._probe // 4)  # about a quarter of the budget
        overhead = measure.overhead
        ends: list[int] = []
        prefix = [0]
        pos = 0
        while pos < n:
            nl = data.find(b"\n", pos, pos + segment)
            end = nl + 1 if nl >= 0 else _char_boundary(data, min(n, pos + segment), pos + 1)
            if end <= pos:
                end = min(n, pos + segment)
            prefix.append(prefix[-1] + max(0, measure.count(pos, end) - overhead))
            ends.append(end)
            pos = end
        self.ends = ends
        self.prefix = prefix
        self.slack = overhead + max(2, measure.limit // 16)

    @classmethod
    def checked(cls, measure: Measure) -> _TokenIndex | None:
        """The index, or None when the counter's sizes do not add up (padding to a fixed
        length, say): then every size is counted."""
        index = cls(measure)
        n = len(measure.data)
        for start, end in ((0, n), (n // 3, 2 * n // 3)):
            if end - start > _MAX_BYTES_PER_TOKEN * measure.limit:
                continue
            low, high = index.bounds(start, end)
            if not low <= measure.count(start, end) <= high:
                return None
        return index

    def bounds(self, start: int, end: int) -> tuple[int, int]:
        """A lower and an upper bound on the counter's size of ``data[start:end]``."""
        ends = self.ends
        prefix = self.prefix
        first = bisect.bisect_right(ends, start)  # the segment ``start`` falls in
        last = bisect.bisect_left(ends, end)  # the segment ``end`` falls in (or ends at)
        if first >= last:  # inside one segment
            return 0, prefix[first + 1] - prefix[first] + self.slack
        whole = prefix[last] - prefix[first + 1]  # the segments strictly between
        partial = prefix[first + 1] - prefix[first] + prefix[last + 1] - prefix[last]
        joins = last - first
        low = whole - 2 * joins
        high = whole + partial + 2 * joins + self.slack
        return low, high


def _char_boundary(data: bytes, pos: int, floor: int) -> int:
    """Move ``pos`` back to the start of a UTF-8 character (never below ``floor``)."""
    n = len(data)
    while pos > floor and pos < n and (data[pos] & 0xC0) == 0x80:
        pos -= 1
    return pos


def _tighten(data: bytes, fits: Callable[[int, int], bool], start: int, end: int) -> int:
    """The furthest end of a definition's item that fits, shedding in turn its trailing blank
    lines and its last newline; -1 when none fits."""
    bare = end  # the end without trailing whitespace (scanned back: no copy of a big item)
    while bare > start and data[bare - 1] in WHITESPACE:
        bare -= 1
    ends = []
    if data[bare : bare + 2] == b"\r\n":
        ends.append(bare + 2)
    elif data[bare : bare + 1] == b"\n":
        ends.append(bare + 1)
    ends.append(bare)
    for e in ends:
        if e > start and e != end and fits(start, e):
            return e
    return -1


def line_cut(data: bytes, lo: int, target: int) -> int:
    """The start of the last line that begins in ``(lo, target]``, or -1."""
    nl = data.rfind(b"\n", lo, target)
    return nl + 1 if nl != -1 and nl + 1 > lo else -1


# A paragraph break (a blank line, or a comment line with nothing but its markers) and a line
# ending a sentence, each as the position just past the newline.
_PARAGRAPH = re.compile(rb"\n[ \t]*(?:(?://+|#+|\*|--|;+)[ \t]*)?\r?\n")
_SENTENCE = re.compile(rb"[.!?:][ \t]*(?:\*/)?\r?\n")


def prose_cut(data: bytes, lo: int, target: int) -> int:
    """For a comment or string: the last paragraph break starting in ``[lo, target)``, else the
    last line ending a sentence there, as the start of the line after it; -1 for none."""
    best = -1
    for m in _PARAGRAPH.finditer(data, lo, target):
        best = m.end()
    if best < 0:
        for m in _SENTENCE.finditer(data, lo, target):
            best = m.end()
    return best if best <= target else -1


# A line that opens what the lines after it hold: a block, a call, a header, a decorator.
_OPENER_LINE = re.compile(
    rb"(?:[{(\[]|[^:]:|=>|->|\bdo(?:\s*\|[^|]*\|)?|\bthen|^(?:else|try|finally|begin))\s*$"
    rb"|^(?:@|#!?\[)[^;]*$"
)
_COMMENT_LINE = re.compile(rb"^(?://|/\*|\*|--)")
_HASH_COMMENT_LINE = re.compile(rb"^#(?![\[!])")
# Languages where a line starting with ``#`` is a comment (not a preprocessor line).
HASH_COMMENTS = frozenset(
    {"python", "ruby", "bash", "perl", "r", "yaml", "toml", "make", "elixir", "julia", "nim"}
)
_HEADER_LINES = 4


def header_start(data: bytes, lo: int, b: int, hash_comments: bool = False) -> int:
    """Where the run of header lines ending just before ``b`` (a line start) begins: lines that
    open a block, call or construct (``if x:``, ``} else {``, ``foo(``), decorator and attribute
    lines, and the comment lines above them, at most a few; ``b`` when the line before ``b`` is
    none of those. Never at or before ``lo``."""
    start = b
    opened = False
    blank = True  # blank lines right before ``b`` are skipped, not a stop
    for _ in range(_HEADER_LINES + 2):
        if start <= lo:
            break
        nl = data.rfind(b"\n", lo, start - 1)
        line_start = nl + 1 if nl >= 0 else lo
        line = data[line_start:start].strip()
        if not line:
            if not blank:
                break
            start = line_start
            continue
        blank = False
        comment = bool(_COMMENT_LINE.match(line)) or (
            hash_comments and bool(_HASH_COMMENT_LINE.match(line))
        )
        if not comment and not _OPENER_LINE.search(line):
            break
        opened = opened or not comment
        start = line_start
    if not opened or start <= lo:
        return b
    return start


def char_cut(data: bytes, lo: int, target: int) -> int:
    """``target``, or just after a space in the last quarter before it (``target`` is already on a
    character boundary)."""
    space = data.rfind(b" ", lo + (target - lo) * 3 // 4, target)
    return space + 1 if space > lo else target


def best_cut(data: bytes, lo: int, target: int, aligned: int, anywhere: int) -> int:
    """Where a piece of ``[lo, ...)`` that may reach ``target`` ends: a syntax boundary at a line
    start (``aligned``) that keeps the piece at least half full, else a line start, else any
    syntax boundary (``anywhere``), else a character boundary (-1: no such syntax boundary)."""
    line = line_cut(data, lo, target)
    if aligned > lo and (line < 0 or aligned >= lo + (target - lo) // 2):
        return aligned
    if line > lo:
        return line
    if anywhere > lo:
        return anywhere
    return char_cut(data, lo, target)


def pack(
    items: list[Item],
    measure: Measure,
    expand: Expander,
    *,
    greedy: bool = False,
    deadline: float | None = None,
) -> list[RawChunk]:
    """Pack ``items`` (in file order, covering the file) into chunk spans. See the module doc."""
    out: list[RawChunk] = []
    fits = measure.fits
    data = measure.data
    scopes: dict[tuple[str, ...], Scope] = {(): ROOT_SCOPE}

    def scope_of(path: tuple[str, ...]) -> Scope:
        scope = scopes.get(path)
        if scope is None:
            scope = scopes[path] = Scope(path, scope_of(path[:-1]))
        return scope

    small = max(1, measure.limit // 4)  # a header this small rides with the first member
    # The pending group: a contiguous range and the kinds it holds.
    g_start = g_end = -1
    g_kinds: list[str] = []
    g_path: tuple[str, ...] = ()
    g_header = False  # the group opens a split definition (its signature, fields, docstring)
    opened = False  # a definition was just split: the next group is its header

    def flush() -> None:
        nonlocal g_start, g_header
        if g_start >= 0:
            out.append(
                _new(
                    RawChunk,
                    (
                        g_start,
                        g_end,
                        tuple(dict.fromkeys(g_kinds)),
                        g_path,
                        False,
                        GROUP,
                        scope_of(g_path),
                    ),
                )
            )
            g_start = -1
            g_header = False
            g_kinds.clear()

    stack = items[::-1]
    steps = 0
    # How often to look at the clock: every step when a (possibly slow) token counter runs.
    every = 0 if measure.counts_tokens else 15
    while stack:
        item = stack.pop()
        steps += 1
        if deadline is not None and not steps & every and time.monotonic() > deadline:
            raise ChunkTimeoutError("chunking ran past the per-file time limit")
        start, end, kind, is_def, path, _, label = item
        if kind is _SCOPE_END:
            # The split definition that began at ``item.handle`` is done. Its closing tail
            # ("}", "end", "};  // namespace x") stays with the chunk before it, not alone.
            if (
                g_start >= 0
                and out
                and out[-1].end == g_start
                and out[-1].start >= item.handle  # type: ignore[operator]
                and b"\n" not in data[g_start:g_end].strip()
                and g_end - g_start <= _TAIL_MAX
                and fits(out[-1].start, g_end)
            ):
                last = out[-1]
                out[-1] = last._replace(end=g_end)
                g_start, g_header = -1, False
                g_kinds.clear()
            continue
        if start >= end:
            # An empty item (a zero-width MISSING node): nothing to place.
            continue
        if g_start >= 0 and path != g_path:
            flush()
        if is_def and not greedy:
            ok = fits(start, end)
            if not ok:
                # A definition that fits on its own but not with the blank lines after it stays
                # whole; what is shed goes to the chunk after it.
                t_end = _tighten(data, fits, start, end)
                if t_end >= 0:
                    if t_end < end:
                        stack.append(Item(t_end, end, "whitespace", False, item.path, None))
                    stack.append(item._replace(end=t_end))
                    continue
            if ok:
                if g_header and g_end == start and g_end - g_start <= small and fits(g_start, end):
                    # A split definition's small header rides with its first member.
                    g_kinds.append(kind)
                    kinds = tuple(dict.fromkeys(g_kinds))
                    chunk = (g_start, end, kinds, (*path, label), False, DEF, scope_of(path))
                    out.append(_new(RawChunk, chunk))
                    g_start, g_header = -1, False
                    g_kinds.clear()
                    opened = False
                    continue
                flush()
                chunk = (start, end, (kind,), (*path, label), False, DEF, scope_of(path))
                out.append(_new(RawChunk, chunk))
                opened = False
                continue
        elif g_start >= 0 and fits(g_start, end):
            g_end = end
            g_kinds.append(kind)
            continue
        elif fits(start, end):
            flush()
            g_start, g_end, g_path = start, end, path
            g_header, opened = opened, False
            g_kinds.append(kind)
            continue
        # Too big: split it along the syntax if we can.
        children = expand(item)
        if children:
            if is_def:
                inner = (*path, label)
                if g_header and g_end == start and g_end - g_start <= small:
                    g_path = inner  # a small enclosing header (namespace {) rides on inward
                else:
                    flush()
                opened = True
                stack.append(Item(-1, -1, _SCOPE_END, False, inner, start))
            stack.extend(reversed(children))
            continue
        # Otherwise cut it, continuing the pending group: each piece ends at the best boundary
        # before the furthest point that fits (a line start, else a character boundary).
        if is_def:
            flush()
            path = (*path, label)  # the pieces of a definition sit inside it
        opened = False
        if g_start < 0:
            g_start, g_path = start, path
        g_kinds.append(kind)
        pos = g_start
        while pos < end:
            if deadline is not None and time.monotonic() > deadline:
                raise ChunkTimeoutError("chunking ran past the per-file time limit")
            target = measure.max_prefix(pos, end)
            if target >= end:
                if not fits(pos, end):  # a single character the budget cannot hold
                    kinds = tuple(dict.fromkeys(g_kinds))
                    out.append(RawChunk(pos, end, kinds, g_path, True, GROUP, scope_of(g_path)))
                    pos = end
                break
            b = best_cut(data, pos, target, -1, -1)
            kinds = tuple(dict.fromkeys(g_kinds))
            oversized = not fits(pos, b)
            out.append(RawChunk(pos, b, kinds, g_path, oversized, GROUP, scope_of(g_path)))
            g_kinds[:] = [kind]
            pos = b
        if pos < end:
            g_start, g_end = pos, end
        else:
            g_start = -1
            g_kinds.clear()
    flush()
    return out
