"""Where a definition's chunk starts when the definition fits the budget but its doc comment does
not fit with it: as much of the doc comment as fits stays, split at a paragraph, else a sentence,
else a line; the part before stands apart (and carries the definition's symbol path).

Attributes and decorators between the doc comment and the definition (``#[derive(...)]``,
``@Override`` on its own line) stay with the definition whenever the definition fits with them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from codeweaver.engine.chunker.packing import WHITESPACE
from codeweaver.engine.chunker.syntax import ATTACH

__all__ = ["doc_start"]

# A line that ends a paragraph of a comment: one with nothing but its markers, or the end of a
# block comment (a new comment starts a new paragraph); and a line that ends a sentence.
_PARA_BODY = rb"(?:[ \t]*(?:/[/*]+!?|#+|\*+/?|--+|;+)?[ \t]*\r?|[^\n]*\*/[ \t\r\f\v]*)\n"
_SENTENCE_BODY = rb"[^\n]*[.!?:][ \t\r\f\v]*\n"
_PARA = re.compile(_PARA_BODY)
_SENTENCE = re.compile(_SENTENCE_BODY)
# The same, as whole lines found by a search (``^``: at a line start).
_LINES = {
    _PARA: re.compile(rb"(?m)^" + _PARA_BODY),
    _SENTENCE: re.compile(rb"(?m)^" + _SENTENCE_BODY),
}


def doc_start(
    data: bytes,
    start: int,
    core: int,
    end: int,
    lead: Sequence[Any],
    fits: Callable[[int, int], bool],
    names: dict[int, str],
    cats: dict[int, int],
    min_chars: int,
    exact: int = -1,
) -> int:
    """The start of the widest ``data[s:end]`` that fits, with ``start <= s <= core``; -1 when
    even ``data[core:end]`` does not fit.

    ``start`` is where the definition's item begins (its doc comment), ``core`` where its own
    node begins, ``lead`` the comment and attribute nodes between them. A start inside the doc
    comment is taken at the first line boundary of the best kind that fits (paragraph, then
    sentence, then any line) that leaves at least ``min_chars`` non-whitespace characters
    before it when there is one; else the attributes, then the definition's line, then its node.
    ``exact`` >= 0 says that a range fits exactly when it is at most that many bytes (a
    character budget over ASCII text), so no line needs measuring.
    """
    own = _line_start(data, start, core)
    if not fits(core, end):
        return -1  # not even the definition alone: it is split, its doc comment goes first
    keep = own
    for node in reversed(lead):  # attributes and decorators directly above stay with it
        if "comment" in names[node.kind_id] or not cats[node.kind_id] & ATTACH:
            break
        keep = _line_start(data, start, node.start_byte)
    # The first line start inside the doc comment from which the rest fits.
    if exact >= 0:
        nl = data.find(b"\n", max(start, end - exact - 1), keep)
        first = nl + 1 if nl >= 0 and nl + 1 < keep else -1
    else:
        lines: list[int] = []
        nl = data.find(b"\n", start, keep)
        while nl >= 0 and nl + 1 < keep:
            lines.append(nl + 1)
            nl = data.find(b"\n", nl + 1, keep)
        # ``fits`` is monotone in the start (a later start is a shorter range): bisect.
        k = _first(len(lines), lambda k: fits(lines[k], end))
        first = lines[k] if k < len(lines) else -1
    if first < 0:
        for candidate in (keep, own, core):
            if candidate < end and fits(candidate, end):
                return candidate
        return -1
    # Leave a solid part before it (not a crumb) when a later line allows it.
    lo = first
    if len(data[start:lo].translate(None, WHITESPACE)) < min_chars:
        y = lo
        while 0 <= y < keep:
            if len(data[start:y].translate(None, WHITESPACE)) >= min_chars:
                lo = y
                break
            nl = data.find(b"\n", y, keep)
            y = nl + 1 if 0 <= nl < keep - 1 else -1
    # The best boundary from there: the first paragraph break, else the first sentence end
    # (the line that ends at ``lo``, then the lines after it).
    line = max(start, data.rfind(b"\n", start, lo - 1) + 1)
    for kind in (_PARA, _SENTENCE):
        if kind.fullmatch(data, line, lo):
            return lo
        m = _LINES[kind].search(data, lo, keep - 1)
        if m is not None:
            return m.end()
    return lo


def _first(n: int, ok: Callable[[int], bool]) -> int:
    """The first ``k`` in ``range(n)`` with ``ok(k)`` for a monotone ``ok``; ``n`` for none."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _line_start(data: bytes, floor: int, pos: int) -> int:
    """The start of ``pos``'s line when only whitespace precedes it there (never below
    ``floor``), else ``pos``."""
    line = max(floor, data.rfind(b"\n", floor, pos) + 1)
    return line if not data[line:pos].strip() else pos
