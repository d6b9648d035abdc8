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

from codeweaver.engine.chunker.syntax import ATTACH

__all__ = ["doc_start"]

# A line of a comment with nothing but its markers (a paragraph break inside a comment).
_BLANK_COMMENT = re.compile(rb"[ \t]*(?:/[/*]+!?|#+|\*+/?|--+|;+)?[ \t]*\r?\n?")
_SENTENCE_ENDS = (b".", b"!", b"?", b":")
_WS = b" \t\n\r\f\v"

_PARA, _SENTENCE, _LINE = 0, 1, 2


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
) -> int:
    """The start of the widest ``data[s:end]`` that fits, with ``start <= s <= core``; -1 when
    even ``data[core:end]`` does not fit.

    ``start`` is where the definition's item begins (its doc comment), ``core`` where its own
    node begins, ``lead`` the comment and attribute nodes between them. A start inside the doc
    comment is taken at the first line boundary of the best kind that fits (paragraph, then
    sentence, then any line) that leaves at least ``min_chars`` non-whitespace characters
    before it when there is one; else the attributes, then the definition's line, then its node.
    """
    own = _line_start(data, start, core)
    if not fits(core, end):
        return -1  # not even the definition alone: it is split, its doc comment goes first
    keep = own
    for node in reversed(lead):  # attributes and decorators directly above stay with it
        if "comment" in names[node.kind_id] or not cats[node.kind_id] & ATTACH:
            break
        keep = _line_start(data, start, node.start_byte)
    lines: list[int] = []  # line starts inside the doc comment, after its first line
    nl = data.find(b"\n", start, keep)
    while nl >= 0 and nl + 1 < keep:
        lines.append(nl + 1)
        nl = data.find(b"\n", nl + 1, keep)
    candidates = [*lines, keep, own, core]
    # ``fits`` is monotone in the start (a later start is a shorter range): bisect the first.
    first = _first(len(candidates), lambda k: candidates[k] < end and fits(candidates[k], end))
    if first >= len(lines):
        return candidates[first] if first < len(candidates) else -1
    # Among the lines that fit, those leaving a solid part before them (not a crumb) if any.
    solid = _first(
        len(lines), lambda k: len(data[start : lines[k]].translate(None, _WS)) >= min_chars
    )
    lo = max(first, solid) if solid < len(lines) else first
    sentence = -1
    for k in range(lo, len(lines)):
        kind = _kind(data, lines[k - 1] if k else start, lines[k])
        if kind == _PARA:
            return lines[k]
        if kind == _SENTENCE and sentence < 0:
            sentence = lines[k]
    return sentence if sentence >= 0 else lines[lo]


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


def _kind(data: bytes, line_start: int, next_start: int) -> int:
    """What kind of boundary the end of the line ``[line_start, next_start)`` is."""
    if _BLANK_COMMENT.fullmatch(data, line_start, next_start):
        return _PARA
    text = data[line_start:next_start].rstrip(_WS)
    if text.endswith(b"*/"):  # a comment block ends: the next one is a new paragraph
        return _PARA
    return _SENTENCE if text[-1:] in _SENTENCE_ENDS else _LINE
