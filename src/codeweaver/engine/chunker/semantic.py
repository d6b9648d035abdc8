"""The syntax-aware chunker: a pure function of (bytes, tree, governor) to chunk spans.

It walks the tree top-down and only descends into a node that does not fit the budget, so a file
whose top-level definitions fit costs one pass over the root's children. The walk is an explicit
stack of *frames* (the children of one node being packed): a 10,000-level nesting never reaches
Python's recursion limit. ``ERROR`` nodes are ordinary nodes.

Chunks are emitted in file order and cover the file: a chunk always starts where the previous one
ended (``pos``), and the *group* is everything from ``pos`` up to the child being looked at.
Boundaries are computed only where a chunk ends (lazily): a boundary before a child sits at the
start of its line when only whitespace (or closing brackets) precede it there, so chunks start
with their indentation and end with a newline. The common child (not a definition, not a comment,
fits in the group) costs two attribute reads and a dict lookup on integer kind ids.

Rules, in order:

* a definition that fits is a chunk of its own, with the comments, decorators and attributes
  directly above it (no blank line between) and a comment trailing it on its last line;
* one that fits only without its doc comment keeps as much of it as fits, split at a paragraph,
  then a sentence, then a line; the part that stands apart carries the definition's symbol path;
* one that does not fit is split into its children (its members become chunks of their own);
* anything else joins the group while the group fits, else the group is flushed and it starts a
  new one; a node too big on its own is split into its children (or, a big flat node or a leaf,
  cut near the budget at the best syntax, then line, then character boundary);
* a *header* travels with the piece that follows it: when a node is split, the group's tail
  from where that node began (its ``if ...:``, signature, opening brace, the comments above it)
  moves to the next chunk rather than end this one, and a closing bracket never starts a chunk
  while it can go with the line before it; a split definition's header (its signature and
  opening brace, nothing more) rides with its first member when both fit;
* finally (:func:`~codeweaver.engine.chunker.crumbs.merge_crumbs`) chunks that are only
  whitespace or under ``min_chunk_chars`` non-whitespace characters join a neighbour in the same
  scope when the pair fits.
"""

from __future__ import annotations

import time
from typing import Any

from codeweaver.core.errors import ChunkTimeoutError
from codeweaver.engine.chunker.crumbs import merge_crumbs
from codeweaver.engine.chunker.docsplit import doc_start
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.packing import (
    DEF,
    DOC,
    GROUP,
    HASH_COMMENTS,
    HEADER,
    ROOT_SCOPE,
    WHITESPACE,
    Measure,
    RawChunk,
    Scope,
    best_cut,
    child_path,
    header_start,
    prose_cut,
)
from codeweaver.engine.chunker.syntax import (
    ATTACH,
    BODY,
    CLOSER,
    DEF_KIND,
    FUNC_VALUE,
    GLUE,
    MAYBE_DEF,
    NAMED,
    PROSE,
    SCOPE,
    definition_body,
    definition_label,
    kind_table,
    resolve_definition,
)

__all__ = ["semantic_spans"]

Node = Any  # tree_sitter.Node

# A too-big node with more children than this, outside a definition body, is cut near the budget
# instead of being split child by child.
_ITEMIZE_MAX_CHILDREN = 24
# How far up from the node at the cut point to look for a better boundary.
_MAX_CUT_DEPTH = 48
_SLOW = MAYBE_DEF
# Frame flags.
_F_SCOPE = 1  # children too big are split child by child whatever their number
_F_BODY = 2  # its named children are statements or members (each releases a pending header)
_F_DEF = 4  # a split definition: its members are children ``blo <= i < bhi``
_new = tuple.__new__


def semantic_spans(
    data: bytes,
    root: Node,
    language: str,
    governor: ChunkGovernor,
    *,
    deadline: float | None = None,
) -> list[RawChunk]:
    """Chunk spans for ``data`` parsed as ``root``; they cover ``data`` exactly, in order."""
    if not data:
        return []
    measure = Measure(data, governor)
    walk = _Walk(data, language, governor, measure, deadline)
    walk.run(root)
    return merge_crumbs(walk.out, measure, governor.settings.min_chunk_chars)


class _Frame:
    """The children of one node being packed, and where the walk is in them."""

    __slots__ = ("bhi", "blo", "fk", "flags", "hi", "hs", "i", "kids", "n", "scope", "starts")

    def __init__(
        self,
        kids: list[Node],
        hi: int,
        scope: Scope,
        fk: int,
        flags: int,
        blo: int = 0,
        bhi: int = 0,
    ) -> None:
        self.kids = kids
        starts = [c.start_byte for c in kids]
        starts.append(hi)
        self.starts = starts
        self.n = len(kids)
        self.i = 0
        self.hi = hi
        self.scope = scope
        self.fk = fk
        self.flags = flags
        self.blo = blo
        self.bhi = bhi
        self.hs = -1  # a split definition: where its own header begins (after its doc comment)


class _Walk:
    """One file's walk: the frames, the pending group and the chunks emitted so far."""

    def __init__(
        self,
        data: bytes,
        language: str,
        governor: ChunkGovernor,
        measure: Measure,
        deadline: float | None,
    ) -> None:
        table = kind_table(language)
        self.data = data
        self.language = language
        self.cats = table.cats
        self.names = table.names
        self.measure = measure
        self.fits = measure.fits
        # In characters, a range whose byte length fits always fits: one subtraction.
        self.flimit = measure.limit if not measure.counts_tokens else -1
        self.deadline = deadline
        self.greedy = governor.settings.packing == "greedy"
        self.min_chars = governor.settings.min_chunk_chars
        self.hash_comments = language in HASH_COMMENTS
        self.quarter = max(1, measure.limit // 4)
        # A range fits exactly when its byte length does (characters over ASCII), else -1.
        self.exact = self.flimit if measure.is_ascii else -1
        # With a token counter: the group's size as counted so far, ``[tok_pos, tok_end)``, and
        # the size past which it is counted whole rather than added up.
        self.tok_pos = self.tok_end = -1
        self.tok = 0
        self.tok_sum = False
        self.tok_near = measure.limit - max(2, measure.limit // 8)
        self.tok_over = measure.limit + max(2, measure.limit // 8)
        self.out: list[RawChunk] = []
        self.frames: list[_Frame] = []
        # The group: [pos, current child); ``kids`` are the kind ids it holds (anonymous tokens
        # as their parent's), ``scope`` the definition (or file) it sits in.
        self.pos = 0
        self.kids: list[int] = []
        self.scope = ROOT_SCOPE
        # Where the header of the construct being split begins (it travels with what follows),
        # -1 for none; ``hold == pos`` with kids: the group is nothing but a header.
        self.hold = -1
        self.hold_nk = 0  # how many of ``kids`` precede the header (they go if it is cut there)
        # While a split definition's header is pending: where it begins after its doc comment
        # (the doc comment can go apart and the header still travel on), else -1.
        self.hs = -1
        self.hs_nk = 0

    # -- the walk --------------------------------------------------------------------------------
    def run(self, root: Node) -> None:
        frames = self.frames
        frames.append(_Frame(root.children, len(self.data), self.scope, root.kind_id, _F_BODY))
        cats = self.cats
        limit = self.flimit
        step = self.step
        while frames:
            f = frames[-1]
            kids = f.kids
            starts = f.starts
            n = f.n
            fk = f.fk
            flags = f.flags
            body = flags & _F_BODY
            blo = f.blo if flags & _F_DEF else n
            bhi = f.bhi
            hs = f.hs
            while True:  # this frame, until it is done or another is pushed on top of it
                i = f.i
                hold = self.hold
                if self.scope is f.scope and (hold >= 0 or hs < 0 or i >= blo):
                    # The common case, inlined: a child that joins the group (see join()).
                    pos = self.pos
                    append = self.kids.append
                    while i < n:
                        k = kids[i].kind_id
                        cat = cats[k]
                        if cat & _SLOW or starts[i + 1] - pos > limit:
                            break
                        append(k if cat & NAMED else fk)
                        if (
                            hold >= 0
                            and cat & (NAMED | ATTACH) == NAMED
                            and (body or cat & BODY or blo <= i < bhi)
                        ):
                            hold = -1
                        i += 1
                    f.i = i
                    if hold < 0 <= self.hold:
                        self.hold = self.hs = -1
                if i >= n:
                    frames.pop()
                    break
                step(f)
                if frames[-1] is not f:
                    break
        self.flush(len(self.data))

    def step(self, f: _Frame) -> None:
        """Place child ``f.i`` of frame ``f`` (the cases the inlined loop does not handle)."""
        deadline = self.deadline
        if deadline is not None and time.monotonic() > deadline:
            raise ChunkTimeoutError("chunking ran past the per-file time limit")
        i = f.i
        c = f.kids[i]
        k = c.kind_id
        cat = self.cats[k]
        s = f.starts[i]
        e = f.starts[i + 1]
        if cat & MAYBE_DEF:
            d = c if cat & DEF_KIND else resolve_definition(c)
            if d is not None:
                self.definition(f, i, c, k, d)
                return
        grow = self.grow
        # A run that fits with the group fits alone: no need to find where it starts (by bytes
        # with a character budget, by count with a token counter). Without this test each
        # comment of a long run walked back over all the ones above it.
        flimit = self.flimit
        if cat & ATTACH and (e - self.pos > flimit if flimit >= 0 else not grow(e)):
            first = self.run_start(f, i)
            if not self.fits(self.bound(self.pos, f.starts[first]), e) and self.doc_of_next(f, i):
                return  # a doc comment too big for any chunk goes with its definition
        scope = f.scope
        if self.scope is not scope:
            if self.kids:
                self.flush(self.bound(self.pos, s))
            self.scope = scope
        if grow(e):
            self.join(f, i, k, cat)
            return
        if self.kids and self.hold != self.pos:  # a header alone waits for what it heads
            self.flush(*self.cut_point(f, i, s, cat))
            if grow(e):
                self.join(f, i, k, cat)
                return
        f.i = i + 1
        count = c.child_count
        if count and (f.flags & _F_SCOPE or count <= _ITEMIZE_MAX_CHILDREN or cat & SCOPE):
            self.expand(f, i, c, k, cat, e)
        else:
            self.cut_node(f, i, c, k, cat, e)

    def grow(self, e: int) -> bool:
        """Whether the group still fits up to ``e``. With a token counter each new piece is
        counted once and added to the group's size; the group is counted whole only when that
        sum goes over the limit, and once more when it is emitted near it (tokenizers split at
        whitespace and punctuation, so the pieces of a text add up to about its size; a
        counter's fixed overhead counts once)."""
        pos = self.pos
        measure = self.measure
        if not measure.counts_tokens:
            return e - pos <= self.flimit or measure.fits(pos, e)
        if self.tok_pos != pos:  # a new group
            self.tok_pos = self.tok_end = pos
            self.tok = measure.overhead
            self.tok_sum = False
        end = self.tok_end
        if e <= end:
            return True
        if measure.over(end, e):
            return False  # the piece alone is over
        size = self.tok + max(0, measure.count(end, e) - measure.overhead)
        if size <= measure.limit:
            self.tok_sum = True  # a sum of pieces: emit() counts it whole if it is near
        elif size > self.tok_over:
            return False  # well over as a sum: so it is whole (pieces add up to about it)
        else:
            size = measure.count(pos, e)  # just over as a sum: the group's real size
            if size > measure.limit:
                return False
            self.tok_sum = False
        self.tok = size
        self.tok_end = e
        return True

    def join(self, f: _Frame, i: int, k: int, cat: int) -> None:
        """Child ``i`` joins the group."""
        if self.hold < 0 and f.hs >= self.pos and i < f.blo and not cat & ATTACH:
            self.hold = self.hs = f.hs  # the split definition's header after its cut doc comment
            self.hold_nk = self.hs_nk = len(self.kids)
        self.kids.append(k if cat & NAMED else f.fk)
        f.i = i + 1
        if (
            self.hold >= 0
            and cat & NAMED
            and not cat & ATTACH
            and (f.flags & _F_BODY or cat & BODY or (f.flags & _F_DEF and f.blo <= i < f.bhi))
        ):
            self.hold = self.hs = -1  # a statement or member: the header is no longer the tail

    def doc_of_next(self, f: _Frame, i: int) -> bool:
        """A comment too big for any chunk: when a definition follows the run it belongs to,
        place that definition now, taking the run along (it is cut there, with the
        definition's symbol path); False when no definition follows."""
        kids = f.kids
        cats = self.cats
        data = self.data
        j = i + 1
        while j < f.n and cats[kids[j].kind_id] & ATTACH:
            if _newlines(data, kids[j - 1].end_byte, f.starts[j]) > 1:
                return False
            j += 1
        if j >= f.n or not cats[kids[j].kind_id] & MAYBE_DEF:
            return False
        if _newlines(data, kids[j - 1].end_byte, f.starts[j]) > 1:
            return False
        d = resolve_definition(kids[j])
        if d is None:
            return False
        self.definition(f, j, kids[j], kids[j].kind_id, d)
        return True

    def run_start(self, f: _Frame, i: int) -> int:
        """The first of the comments, decorators and attributes right above child ``i`` of
        ``f`` (no blank line between them or before child ``i``; not before ``pos``, not a
        comment trailing the code on its line): ``i`` when there are none."""
        kids = f.kids
        starts = f.starts
        cats = self.cats
        data = self.data
        pos = self.pos
        count = data.count
        j = i
        while j and starts[j - 1] >= pos:
            c = kids[j - 1]
            if not cats[c.kind_id] & ATTACH:
                break
            end = c.end_byte  # _newlines(), inlined: this loop runs for every attached comment
            if end and data[end - 1] == 0x0A:  # a comment that holds its newline
                end -= 1
            if count(b"\n", end, starts[j]) > 1:
                break
            j -= 1
        if (
            j < i
            and j
            and not cats[kids[j - 1].kind_id] & ATTACH
            and _newlines(data, kids[j - 1].end_byte, starts[j]) == 0
        ):
            j += 1  # the first trails the code before it on its line
        return j

    def bound(self, lo: int, s: int) -> int:
        """Where a chunk ending before the node at ``s`` ends (never before ``lo``): the start of
        its line, so that chunks hold whole lines (what precedes it there, ``} else``,
        ``if (x)``, ``<T>``, is its header); ``s`` itself when the line starts before ``lo`` or
        that would move more than a quarter of the budget (a minified line)."""
        nl = self.data.rfind(b"\n", lo - 1 if lo else 0, s)
        if nl < 0:
            return s if lo else (0 if s <= self.quarter else s)
        line = nl + 1
        return line if s - line <= self.quarter else s

    def cut_point(self, f: _Frame, i: int, s: int, cat: int) -> tuple[int, int]:
        """Where to end the group when child ``i`` does not fit in it (and how many of the
        group's last children go on to the next group, -1: as many as its header holds):
        before the header of what is being split, the comments above child ``i``, or the line
        a closing bracket needs."""
        pos = self.pos
        hold = self.hold
        if hold > pos:
            return hold, -1
        if hold == pos and pos < self.hs <= s:
            return self.hs, -1  # a doc comment goes apart, the header it describes travels on
        first = self.run_start(f, i)
        if first < i:
            above = self.bound(pos, f.starts[first])
            if above > pos:
                return above, i - first  # the comments above it go with it
        b = self.bound(pos, s)
        if cat & CLOSER and b < s and i and f.starts[i - 1] > pos:
            before = self.bound(pos, f.starts[i - 1])
            if before > pos:
                return before, 1  # a closing bracket takes the line before it along
        # A header the syntax did not mark (inside an ERROR node, a macro): by its lines.
        return header_start(self.data, pos, b, self.hash_comments), 0

    # -- emitting --------------------------------------------------------------------------------
    def flush(self, b: int, keep: int = -1) -> None:
        """Emit the group up to ``b`` (nothing when it is empty). ``keep``: how many of the
        group's last children lie after ``b`` and stay (-1: those after the header start when
        ``b`` is it, else none); only the chunk's kinds depend on it."""
        kids = self.kids
        pos = self.pos
        if keep < 0:
            keep = (
                len(kids) - self.hold_nk
                if b == self.hold
                else len(kids) - self.hs_nk
                if b == self.hs
                else 0
            )
        cut = max(0, len(kids) - keep)
        if b > pos:
            names = self.names
            kinds = tuple(dict.fromkeys([names[k] for k in kids[:cut]]))
            scope = self.scope
            self.emit(b, kinds, scope.path, scope, HEADER if self.hold == pos else GROUP)
        if b == self.hs:
            self.hold = b  # what is left is the header
        elif self.hold != self.pos:
            self.hold = self.hs = -1
        self.kids = kids[cut:]
        self.hold_nk = self.hs_nk = 0

    def emit(
        self,
        b: int,
        kinds: tuple[str, ...],
        path: tuple[str, ...],
        scope: Scope,
        role: int,
    ) -> None:
        """Emit ``[pos, b)`` as one chunk, or as pieces cut at lines when it is over budget
        (blank lines no item checked, a doc comment standing apart)."""
        pos = self.pos
        if (
            b - pos > self.flimit
            # (a group sized by grow(), counted whole or far enough from the limit)
            and not (
                self.tok_pos == pos
                and b <= self.tok_end
                and (not self.tok_sum or self.tok <= self.tok_near)
            )
            and not self.fits(pos, b)
        ):
            self.cut_range(b, kinds, path, scope, role, prose=True)
            return
        self.out.append(_new(RawChunk, (pos, b, kinds, path, False, role, scope)))
        self.pos = b

    def cut_range(
        self,
        end: int,
        kinds: tuple[str, ...],
        path: tuple[str, ...],
        scope: Scope,
        role: int,
        *,
        node: Node = None,
        prose: bool = False,
        keep_last: bool = False,
    ) -> None:
        """Cut ``[pos, end)`` into pieces that fit, each ending at the best boundary before the
        furthest point that fits: (for prose) a paragraph, then a sentence; a syntax boundary at
        a line start that keeps the piece at least half full, a line start, any syntax
        boundary, a character boundary. With ``keep_last`` the last piece stays pending."""
        data = self.data
        measure = self.measure
        fits = self.fits
        deadline = self.deadline
        out = self.out
        pos = self.pos
        while pos < end:
            if deadline is not None and time.monotonic() > deadline:
                raise ChunkTimeoutError("chunking ran past the per-file time limit")
            target = measure.max_prefix(pos, end)
            if target >= end:
                if not fits(pos, end):  # a single character the budget cannot hold
                    out.append(RawChunk(pos, end, kinds, path, True, role, scope))
                    pos = end
                elif not keep_last:
                    out.append(RawChunk(pos, end, kinds, path, False, role, scope))
                    pos = end
                break
            half = pos + (target - pos) // 2
            b = prose_cut(data, half, target) if prose else -1
            if b < 0:
                aligned, anywhere = _syntax_cut(data, node, pos, target) if node else (-1, -1)
                b = best_cut(data, pos, target, aligned, anywhere)
            if b >= half:
                b = max(half, header_start(data, pos, b, self.hash_comments))
            out.append(RawChunk(pos, b, kinds, path, not fits(pos, b), role, scope))
            pos = b
        self.pos = pos

    # -- splitting -------------------------------------------------------------------------------
    def expand(self, f: _Frame, i: int, c: Node, k: int, cat: int, e: int) -> None:
        """Split child ``i`` of ``f`` (too big for any group) into its children."""
        if self.hold < 0:
            # From here the group's tail is this node's header (with the comments right above
            # it), until a statement of it joins.
            first = self.run_start(f, i)
            self.hold = self.bound(self.pos, f.starts[first]) if self.kids else self.pos
            self.hold_nk = max(0, len(self.kids) - (i - first))
        flags = _F_SCOPE if cat & FUNC_VALUE else 0
        if cat & (BODY | SCOPE):
            flags |= _F_BODY
        self.frames.append(_Frame(c.children, e, f.scope, k, flags))

    def cut_node(self, f: _Frame, i: int, c: Node, k: int, cat: int, e: int) -> None:
        """Cut a leaf or a big flat node near the budget; its last piece stays in the group."""
        pos = self.pos
        if self.hold > pos:
            self.flush(self.hold)  # the header starts the node's first piece
        elif self.hold < 0:
            first = self.run_start(f, i)
            if first < i:
                self.flush(self.bound(pos, f.starts[first]))  # and the comments right above it
        names = self.names
        kinds = tuple(dict.fromkeys([*(names[x] for x in self.kids), names[k]]))
        self.cut_range(
            e,
            kinds,
            self.scope.path,
            self.scope,
            GROUP,
            node=c,
            prose=bool(cat & PROSE),
            keep_last=True,
        )
        self.kids = [k] if self.pos < e else []
        self.hold = self.hs = -1

    def definition(self, f: _Frame, i: int, c: Node, k: int, d: Node) -> None:
        """Place a definition: whole when it fits, else its doc comment apart, else split."""
        data = self.data
        kids = f.kids
        starts = f.starts
        n = f.n
        cats = self.cats
        pos = self.pos
        quarter = self.quarter
        scope = f.scope
        path = scope.path
        label = definition_label(d, data, self.language)
        inner = child_path(path, label)
        first = i
        lead: list[Node] = []
        if i and cats[kids[i - 1].kind_id] & ATTACH:
            first = self.run_start(f, i)  # the comments right above it go with it
            if first < i:
                lead = kids[first:i]
                del self.kids[-len(lead) :]
        # Its start and end as bound() finds them, inlined: line starts where they can be.
        a = starts[first]
        nl = data.rfind(b"\n", pos - 1 if pos else 0, a)
        if nl < 0:
            nl = a - 1 if pos or a > quarter else -1  # no line start to move to: ``a`` itself
        ds = nl + 1 if a - nl - 1 <= quarter else a
        # A comment (or ``;``) trailing its last line stays with it.
        end = c.end_byte
        j = i + 1
        while j < n and cats[kids[j].kind_id] & GLUE and not _newlines(data, end, starts[j]):
            end = kids[j].end_byte
            j += 1
        if j < n:
            a = starts[j]
            nl = data.rfind(b"\n", end - 1, a)
            de = nl + 1 if nl >= 0 and a - nl - 1 <= quarter else a
        else:
            de = f.hi
        f.i = j
        kind = self.names[k]
        fits = self.fits
        if self.scope is not scope:
            if self.kids:
                self.flush(self.bound(pos, ds))
            self.scope = scope
        if self.greedy:  # a definition is content like any other, split only when too big
            if not fits(self.pos, de) and fits(ds, de):
                self.flush(ds)
            if fits(self.pos, de):
                self.kids.append(k)
                return
        elif de - ds <= self.flimit or fits(ds, de):
            if self.hold < 0 and self.pos == ds:
                # The common case, inlined: nothing pending that could ride along.
                self.out.append(_new(RawChunk, (ds, de, (kind,), inner, False, DEF, scope)))
                self.pos = de
                if self.kids:
                    self.kids = []
                return
            self.place(f, ds, de, kind, inner)
            return
        tight = self.tighten(ds, de, c.start_byte, lead)
        if tight is not None:
            t_start, t_end = tight
            # A pending header (``impl X {``) travels on with the doc comment, or the definition.
            carry = 0 <= self.hold < ds
            self.flush(self.hold if carry else ds)
            if t_start > ds and data[ds:t_start].strip():
                lead_kinds = [self.names[x.kind_id] for x in lead]
                self.emit(t_start, (*dict.fromkeys(lead_kinds), kind), inner, scope, DOC)
            elif t_start > self.pos and not (carry and fits(self.pos, t_end)):
                self.emit(t_start, (), path, scope, HEADER if carry else GROUP)
            self.emit(t_end, (kind,), inner, scope, DEF)
            self.kids = []
            self.hold = self.hs = -1
            self.scope = scope  # the blank lines shed after it start the next group
            return
        # Split it: its members become chunks of their own. A pending header (a split
        # definition's signature, without its doc comment) rides on into its first piece.
        hold = self.hold
        if 0 <= hold < ds:
            self.flush(max(hold, self.hs))
        else:
            self.flush(ds)
        children = [*lead, *_flatten_to(c, d)]
        blo = bhi = 0
        body = definition_body(d)
        if body is not None:
            for m, child in enumerate(children):
                if child.id == body.id:
                    members = body.children
                    children[m : m + 1] = members
                    blo, bhi = m, m + len(members)
                    break
        frame = _Frame(children, de, Scope(inner, scope), k, _F_SCOPE | _F_DEF, blo, bhi)
        docs = len(lead)
        while docs and "comment" not in self.names[lead[docs - 1].kind_id]:
            docs -= 1  # attributes and decorators below the doc comment are header
        if docs:
            frame.hs = self.bound(self.pos, frame.starts[docs])
        self.hs = frame.hs
        self.hs_nk = len(self.kids) + docs  # the doc comment's children come first
        self.frames.append(frame)
        self.scope = frame.scope
        self.hold = self.pos
        self.hold_nk = 0

    def place(self, f: _Frame, ds: int, de: int, kind: str, path: tuple[str, ...]) -> None:
        """Emit a definition that fits as one chunk; a pending header (a signature, an opening
        brace, with or without the doc comment above it) rides along when both fit."""
        hold = self.hold
        scope = f.scope
        ride = -1
        if 0 <= hold < ds:
            for start in (hold, self.hs):
                if hold <= start < ds and self.fits(start, de):
                    ride = start
                    break
        elif self.pos < ds and _may_open(self.data, self.pos, ds):
            # A header by its lines (``public:``, a macro opening a block).
            start = header_start(self.data, self.pos, ds, self.hash_comments)
            if start < ds and self.fits(start, de):
                ride = start
        if ride >= 0:
            names = self.names
            kinds = tuple(dict.fromkeys([*(names[x] for x in self.kids), kind]))
            self.flush(ride)
            self.emit(de, kinds, path, scope, DEF)
        else:
            self.flush(ds)
            self.emit(de, (kind,), path, scope, DEF)
        self.kids = []
        self.hold = self.hs = -1

    def tighten(self, ds: int, de: int, core: int, lead: list[Node]) -> tuple[int, int] | None:
        """The widest range of a definition's item that fits, shedding its trailing blank lines,
        part or all of its doc comment and its line's indentation; None when none fits."""
        data = self.data
        fits = self.fits
        bare = de
        while bare > core and data[bare - 1] in WHITESPACE:
            bare -= 1
        if not fits(core, bare):
            return None  # not even the definition alone: it is split
        ends = [de]
        if data[bare : bare + 2] == b"\r\n":
            ends.append(bare + 2)
        elif data[bare : bare + 1] == b"\n":
            ends.append(bare + 1)
        ends.append(bare)
        best: tuple[int, int] | None = None
        for t_end in ends:  # keep as much of the doc comment as fits, then the blank lines
            t_start = doc_start(
                data,
                ds,
                core,
                t_end,
                lead,
                fits,
                self.names,
                self.cats,
                self.min_chars,
                self.exact,
            )
            if (
                t_start >= 0
                and (t_start, t_end) != (ds, de)
                and (best is None or t_start < best[0])
            ):
                best = (t_start, t_end)
        return best


_OPEN_ENDS = (b"{", b"(", b"[", b":", b">", b"do", b"then", b"else", b"try", b"finally", b"begin")
_HEAD_STARTS = (b"@", b"#", b"//", b"/*", b"*", b"--")


def _may_open(data: bytes, lo: int, b: int) -> bool:
    """A cheap test before :func:`header_start`: does the last non-blank line before ``b`` end
    like an opener, or start like a decorator, an attribute or a comment?"""
    tail = data[max(lo, b - 160) : b].rstrip()
    line = tail[tail.rfind(b"\n") + 1 :].lstrip()
    # (a comment line may sit between an opener and ``b``: header_start() looks further up)
    return line.endswith(_OPEN_ENDS) or line.startswith(_HEAD_STARTS)


def _newlines(data: bytes, end: int, start: int) -> int:
    """The line breaks between a node ending at ``end`` and one starting at ``start`` (a node
    that ends with its newline, like a ``//`` comment in some grammars, counts it)."""
    if end and data[end - 1] == 0x0A:
        end -= 1
    return data.count(b"\n", end, start)


def _syntax_cut(data: bytes, node: Node, lo: int, target: int) -> tuple[int, int]:
    """Syntax boundaries in ``(lo, target]`` inside ``node``: the deepest node start there that
    begins its line (moved back to the line start), and the deepest node start at all.

    Only the ancestors of the node at ``target`` are looked at, so a cut costs O(depth), not
    O(children): this is what keeps huge flat nodes cheap.
    """
    x = node.descendant_for_byte_range(target, target)
    anywhere = -1
    for _ in range(_MAX_CUT_DEPTH):
        if x is None:
            break
        s = x.start_byte
        if s <= lo:
            break
        if s <= target:
            nl = data.rfind(b"\n", lo, s)
            if nl != -1 and nl + 1 > lo and not data[nl + 1 : s].strip():
                return nl + 1, s
            if anywhere < 0:
                anywhere = s
        x = x.parent
    return -1, anywhere


def _flatten_to(node: Node, definition: Node) -> list[Node]:
    """The children of ``definition``, with whatever wraps it inside ``node`` (decorators,
    ``export``, ``template<...>``, ``const f =``) kept as siblings before and after them, so a
    wrapper's pieces stay with the definition's header when it is split."""
    before: list[Node] = []
    after: list[Node] = []
    while node.id != definition.id:
        children = node.children
        for k, child in enumerate(children):
            if child.start_byte <= definition.start_byte and definition.end_byte <= child.end_byte:
                before.extend(children[:k])
                after[:0] = children[k + 1 :]
                node = child
                break
        else:  # the definition is not below ``node``: cannot happen, but never lose bytes
            break
    return [*before, *node.children, *after]
