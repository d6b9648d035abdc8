"""The last pass over a file's chunks: no chunk of only whitespace, no crumbs.

A *crumb* is a chunk with fewer than ``min_chunk_chars`` non-whitespace characters (a lone
``}``, ``return environ``, a divider comment, a one-line getter). It joins a neighbour in the same
scope when the pair fits the budget, so runs of tiny siblings share a chunk until it stops being a
crumb, while a definition of ordinary size still stands alone. Whitespace joins any neighbour.

Which neighbour: a closing bracket goes back, a comment or a header goes forward, else the one
that is a crumb too, else the smaller. A doc comment standing apart from its definition joins
nothing but whitespace; a header only ever joins what follows it. And a chunk never starts with a
line of closing brackets that fits on the chunk before it. The merged chunk is labelled
with the definition it holds, or the small definitions it holds (``func (fwd) Int, ...``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from codeweaver.engine.chunker.packing import (
    DEF,
    DOC,
    GROUP,
    HEADER,
    MAX_SYMBOL_DEPTH,
    WHITESPACE,
    Measure,
    RawChunk,
    Scope,
)

__all__ = ["merge_crumbs"]

_LABEL_MAX = 120  # the label of a chunk holding several small definitions (``f, g, h``)
_CLOSE_FIRST = (b"}", b")", b"]")
# A line of closing brackets (and ``;``/``,``), or ``end``, with maybe a comment after it.
_CLOSER_LINE = re.compile(rb"[ \t]*(?:[\])}][\])};,]*|end;?)[ \t]*(?:(?://|/\*|#).*)?\r?\n")
_CLOSERS = (b"}", b")", b"]", b"end")
_OPENERS = (b"{", b"(", b"[", b":")
_COMMENTS = (b"#", b"//", b"/*", b"*", b"--")


def merge_crumbs(chunks: list[RawChunk], measure: Measure, min_chars: int) -> list[RawChunk]:
    """``chunks`` (in file order) with crumbs and whitespace-only chunks merged into neighbours.

    The result still covers the same bytes in order; a merge happens only when the merged chunk
    fits the budget.
    """
    n = len(chunks)
    if n < 2:
        return chunks
    data = measure.data
    fits = measure.fits
    need = max(1, min_chars)
    ascii_ = measure.is_ascii
    # A chunk whose first ``window`` bytes hold ``enough`` non-whitespace bytes is no crumb (a
    # character takes 1 to 4 bytes): most chunks are decided by that look at their head.
    enough = need if ascii_ else 4 * need
    window = 4 * enough
    closer = _CLOSER_LINE.match
    weights: list[int] = []
    crumbs = False
    for k in range(n):
        start = chunks[k].start
        if k and closer(data, start) and _closer_back(chunks, k, data, fits):
            start = chunks[k].start  # the chunk lost its first line to the one before
            p = chunks[k - 1]
            if weights[k - 1] < need:
                weights[k - 1] = _weight(data, p.start, p.end, need, ascii_)
        # Non-whitespace characters, or ``need`` if there are that many: the head is enough.
        end = chunks[k].end
        if len(data[start : min(end, start + window)].translate(None, WHITESPACE)) >= enough:
            weights.append(need)
        else:
            weights.append(_weight(data, start, end, need, ascii_))
            crumbs = True
    if not crumbs or min(weights) >= need:
        return chunks
    out: list[RawChunk] = []
    out_w: list[int] = []
    for i, c in enumerate(chunks):
        wc = weights[i]
        if out:
            p = out[-1]
            wp = out_w[-1]
            if (
                (wc < need or (wp < need and not _closes(data, p)))
                and _mergeable(p, c, wp, wc, need)
                and fits(p.start, c.end)
                and not (
                    wc < need <= wp
                    and i + 1 < n
                    and _goes_forward(data, p, c, chunks[i + 1], wc, weights[i + 1], need, fits)
                )
            ):
                out[-1] = _merge(p, c, wp, wc)
                out_w[-1] = min(need, wp + wc)
                continue
        out.append(c)
        out_w.append(wc)
    # A crumb that waited for a neighbour after it that never took it: back, if it fits.
    i = len(out) - 1
    while i > 0:
        p, c = out[i - 1], out[i]
        if (
            out_w[i] < need
            and _mergeable(p, c, out_w[i - 1], out_w[i], need)
            and fits(p.start, c.end)
        ):
            out[i - 1] = _merge(p, c, out_w[i - 1], out_w[i])
            out_w[i - 1] = min(need, out_w[i - 1] + out_w[i])
            del out[i], out_w[i]
        i -= 1
    return out


def _closes(data: bytes, c: RawChunk) -> bool:
    """Whether ``c`` starts with a closing bracket (it never takes what follows it along)."""
    return data[c.start : c.start + 64].lstrip(WHITESPACE)[:1] in _CLOSE_FIRST


def _closer_back(
    chunks: list[RawChunk], i: int, data: bytes, fits: Callable[[int, int], bool]
) -> bool:
    """Chunk ``i`` starts with a line of closing brackets (``}``, ``});``, ``end``): hand that
    line to the chunk before it when it fits there (in place); whether it moved."""
    c = chunks[i]
    nl = data.find(b"\n", c.start, c.end)
    if nl < 0 or nl + 1 >= c.end:
        return False  # the whole chunk is that line: a crumb, for the pass below
    p = chunks[i - 1]
    if not fits(p.start, nl + 1):
        return False
    chunks[i - 1] = p._replace(end=nl + 1)
    chunks[i] = c._replace(start=nl + 1)
    return True


def _weight(data: bytes, start: int, end: int, need: int, ascii_: bool) -> int:
    """The non-whitespace characters of ``data[start:end]``, or ``need`` if there are more."""
    solid = len(data[start:end].translate(None, WHITESPACE))
    enough = need if ascii_ else 4 * need  # a character takes 1 to 4 bytes
    if ascii_ or solid >= enough:
        return min(need, solid)
    return min(need, len("".join(data[start:end].decode("utf-8", "replace").split())))


def _mergeable(p: RawChunk, c: RawChunk, wp: int, wc: int, need: int) -> bool:
    """Whether ``p`` and ``c`` (neighbours, one of them a crumb) may merge: whitespace always;
    else a doc comment apart or a header never joins what precedes it, and the two must sit in
    the same scope or one inside what the other is (the tail of a function after its nested
    function's last piece, a lone ``}`` after a nested scope's, a tiny method after its class's
    header)."""
    if not wp or not wc:
        return True  # whitespace goes anywhere
    if p.role == DOC or c.role in (DOC, HEADER):
        return False
    if p.scope is c.scope:
        return True
    return (wc < need or wp < need) and (_inside(p.scope, c) or _inside(c.scope, p))


def _inside(scope: Scope, chunk: RawChunk) -> bool:
    """Whether ``scope`` lies inside what ``chunk`` is (its symbol path). Past
    :data:`MAX_SYMBOL_DEPTH` the shown paths are cut and lose their prefixes: there, the scope
    objects of a group or a piece tell."""
    path = chunk.path
    if len(path) >= MAX_SYMBOL_DEPTH or len(scope.path) >= MAX_SYMBOL_DEPTH:
        return chunk.role != DEF and scope.within(chunk.scope)
    return scope.path[: len(path)] == path


def _goes_forward(
    data: bytes,
    p: RawChunk,
    c: RawChunk,
    nxt: RawChunk,
    wc: int,
    wn: int,
    need: int,
    fits: Callable[[int, int], bool],
) -> bool:
    """Whether crumb ``c`` (which could join ``p``) should join ``nxt`` instead."""
    if not _mergeable(c, nxt, wc, wn, need) or not fits(c.start, nxt.end):
        return False
    text = data[c.start : c.end].strip(WHITESPACE)
    if text.startswith(_CLOSERS):
        return False
    if c.role == HEADER or wn < need:
        return True
    last = text[text.rfind(b"\n") + 1 :].lstrip(WHITESPACE)
    if last.startswith(_COMMENTS) or text.endswith(_OPENERS) or last.startswith(b"@"):
        return True  # a comment, header or decorator describes what follows it
    return nxt.end - nxt.start < p.end - p.start


def _merge(p: RawChunk, c: RawChunk, wp: int, wc: int) -> RawChunk:
    kinds = tuple(dict.fromkeys(p.kinds + c.kinds))
    if not wc:
        role, path, scope = p.role, p.path, p.scope
    elif not wp:
        role, path, scope = c.role, c.path, c.scope
    elif p.role == HEADER:
        role, path, scope = (DEF if c.role == DEF else GROUP), p.path, p.scope
    elif p.role == DEF and c.role == DEF and p.scope is c.scope and p.path[:-1] == c.path[:-1]:
        # Several small definitions: the label names them all (as far as it stays short).
        label = f"{p.path[-1]}, {c.path[-1]}"
        if len(label) > _LABEL_MAX:
            label = label[: _LABEL_MAX - 1] + "…"
        role, path, scope = DEF, (*p.path[:-1], label), p.scope
    elif p.role == DEF and c.role == DEF:
        role, path, scope = GROUP, p.scope.path, p.scope
    elif c.role == DEF:
        role, path, scope = DEF, c.path, c.scope
    else:
        role, path, scope = p.role, p.path, p.scope
    if c.scope.depth < scope.depth:
        scope = c.scope  # a crumb of the enclosing scope joined a piece inside it
    return RawChunk(p.start, c.end, kinds, path, p.oversized or c.oversized, role, scope)
