"""The syntax-aware chunker: a pure function of (bytes, tree, governor) to chunk spans.

It walks the tree top-down but only descends into a node that does not fit the budget, so a file
whose top-level definitions fit costs one pass over the root's children, not a visit of every node
(a full Python-level walk costs ~60% on top of the parse). The walk is an explicit stack: a
1,000-level nesting never reaches Python's recursion limit. ``ERROR`` nodes are ordinary nodes.

Items handed to the packer cover the parent's range exactly: each child owns the bytes from its
own start up to the next child's start (so trailing whitespace stays with what precedes it and a
chunk starts at its first token), the first child also owns the parent's leading bytes, and the
last child owns the parent's tail. Comments, attributes and decorators directly above a
definition (no blank line between) are folded into that definition's item.
"""

from __future__ import annotations

from typing import Any

from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.packing import Item, Measure, RawChunk, pack
from codeweaver.engine.chunker.syntax import (
    DEFINITION_KINDS,
    FUNCTION_VALUE_KINDS,
    WRAPPER_KINDS,
    definition_body,
    definition_label,
    is_attachable,
    resolve_definition,
)

__all__ = ["semantic_spans"]

Node = Any  # tree_sitter.Node

# A too-big node with more children than this, outside a definition body, is cut near the budget
# instead of being split child by child.
_ITEMIZE_MAX_CHILDREN = 24
# How far up from the node at the cut point to look for a better boundary.
_MAX_CUT_DEPTH = 48
_MAYBE_DEFINITION = DEFINITION_KINDS | WRAPPER_KINDS
# Nodes that hold definitions the way a body does, however many children they have: a parse
# error around code (C macros, new syntax), preprocessor conditionals, JS object literals,
# anonymous class bodies.
_SCOPE_KINDS = frozenset(
    {
        "ERROR",
        "preproc_if",
        "preproc_ifdef",
        "preproc_else",
        "preproc_elif",
        "preproc_elifdef",
        "object",
        "class_body",  # an anonymous class (Java ``new X() { ... }``, a JS class expression)
    }
)
_ATTACHABLE: dict[str, bool] = {}  # kind -> is_attachable(kind), filled as kinds are seen
# language -> kind -> whether it is a named node (anonymous: keywords, punctuation); per language,
# since one grammar's keyword ("object" in Kotlin) is another's node kind (a JS object literal).
_NAMED: dict[str, dict[str, bool]] = {}


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

    def expand(item: Item) -> list[Item] | None:
        handle = item.handle
        if item.is_def:
            leading: tuple[Node, ...]
            node: Node
            definition: Node
            leading, node, definition = handle  # type: ignore[misc]
            children = [*leading, *_flatten_to(node, definition)]
            # The members sit directly in the definition's scope: a body that happens to fit is
            # still opened, so each member that is a definition becomes a chunk of its own.
            body = definition_body(definition)
            if body is not None:
                for k, child in enumerate(children):
                    if child.id == body.id:
                        children[k : k + 1] = body.children
                        break
            return _items(
                children,
                item.start,
                item.end,
                (*item.path, item.label),
                data,
                language,
                item.kind,
                scope=True,
            )
        if handle is None:
            return None
        # Bodies of definitions and nodes with few children are split at their children; a big
        # flat node (a 5,000-entry dict, a long string concatenation) is cut near the budget.
        if (
            not item.scope
            and handle.child_count > _ITEMIZE_MAX_CHILDREN  # type: ignore[attr-defined]
            and item.kind not in _SCOPE_KINDS
        ):
            return None
        children = handle.children  # type: ignore[attr-defined]
        if not children:
            return None
        scope = handle.type in FUNCTION_VALUE_KINDS  # type: ignore[attr-defined]
        return _items(children, item.start, item.end, item.path, data, language, item.kind, scope)

    def cut(item: Item, lo: int, target: int) -> tuple[int, int]:
        node = item.handle
        if item.is_def:
            node = node[1]  # type: ignore[index]
        if node is None:
            return -1, -1
        return _syntax_cut(data, node, lo, target)

    top = _items(root.children, 0, len(data), (), data, language, root.type)
    if not top:
        top = [Item(0, len(data), root.type, False, (), None)]
    return pack(
        top,
        measure,
        expand,
        cut,
        greedy=governor.settings.packing == "greedy",
        deadline=deadline,
    )


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


def _items(
    children: list[Node],
    lo: int,
    hi: int,
    path: tuple[str, ...],
    data: bytes,
    language: str,
    parent_kind: str = "",
    scope: bool = False,
) -> list[Item]:
    """Items for ``children`` covering ``[lo, hi)``; see the module docstring for who owns what.

    A boundary between two children sits at the start of the line the second one starts on when
    only whitespace precedes it there (so chunks start with their indentation and end with a
    newline); a comment or a lone ``;`` that starts on the line the previous child ends on
    stays with it. Comments and attributes directly above a definition (no blank line between)
    join the definition's item.

    This runs once per child of every node that is split: one pass, each node property read once.
    """
    find = data.find
    rfind = data.rfind
    attachable = _ATTACHABLE
    named_kinds = _NAMED.get(language)
    if named_kinds is None:
        named_kinds = _NAMED[language] = {}
    maybe_def = _MAYBE_DEFINITION
    items: list[Item] = []
    # Attachable heads (node, kind, start) waiting to see whether a definition follows.
    pending: list[tuple[Node, str, int]] = []

    def place(node: Node, kind: str, start: int, end: int) -> None:
        definition = resolve_definition(node) if kind in _MAYBE_DEFINITION else None
        if definition is not None:
            first = pending[0][2] if pending else start
            leading = tuple([p[0] for p in pending]) if pending else ()
            label = definition_label(definition, data, language)
            handle = (leading, node, definition)
            # A definition that fits without the comments above it, or its line's indentation,
            # stays whole (the comments go beside it): ``core`` is where its own node begins.
            core = node.start_byte
            items.append(_new(Item, (first, end, kind, True, path, handle, label, True, core)))
            pending.clear()
            return
        if pending:  # comments above something that is not a definition: ordinary items
            for j, (p_node, p_kind, p_start) in enumerate(pending):
                p_end = pending[j + 1][2] if j + 1 < len(pending) else start
                items.append(
                    _new(Item, (p_start, p_end, p_kind, False, path, p_node, "", False, -1))
                )
            pending.clear()
        named = named_kinds.get(kind)
        if named is None:
            named = named_kinds[kind] = bool(node.is_named)
        if not named:
            kind = parent_kind or kind
        items.append(_new(Item, (start, end, kind, False, path, node, "", scope, -1)))

    h_node: Node = None  # the current head, its kind, its item start, its end (with glued bits)
    h_kind = ""
    h_start = lo
    h_end = -1
    h_att = False
    for child in children:
        kind = child.type
        att = attachable.get(kind)
        if att is None:
            att = attachable[kind] = is_attachable(kind)
        start = child.start_byte
        if h_node is not None:
            if (att or (child.end_byte - start <= 2 and not child.is_named)) and find(
                b"\n", h_end, start
            ) == -1:
                # A trailing comment or a lone ";" on the same line stays with what it ends.
                h_end = child.end_byte
                continue
            nl = rfind(b"\n", h_start, start)
            boundary = nl + 1 if nl != -1 and not data[nl + 1 : start].strip() else start
            if h_att and data.count(b"\n", h_end, start) <= 1:
                pending.append((h_node, h_kind, h_start))
            elif pending or h_kind in maybe_def:
                place(h_node, h_kind, h_start, boundary)
            else:  # the common case, inlined: an ordinary statement or token
                named = named_kinds.get(h_kind)
                if named is None:
                    named = named_kinds[h_kind] = bool(h_node.is_named)
                shown = h_kind if named else (parent_kind or h_kind)
                item = (h_start, boundary, shown, False, path, h_node, "", scope, -1)
                items.append(_new(Item, item))
            h_start = boundary
        h_node, h_kind, h_end, h_att = child, kind, child.end_byte, att
    if h_node is not None:
        place(h_node, h_kind, h_start, hi)
    return items


_new = tuple.__new__
