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
_ATTACHABLE: dict[str, bool] = {}  # kind -> is_attachable(kind), filled as kinds are seen
_NAMED: dict[str, bool] = {}  # kind -> whether it is a named node (anonymous: keywords, punctuation)


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
                children, item.start, item.end, (*item.path, item.label), data, language,
                item.kind, scope=True,
            )
        if handle is None:
            return None
        # Bodies of definitions and nodes with few children are split at their children; a big
        # flat node (a 5,000-entry dict, a long string concatenation) is cut near the budget.
        if not item.scope and handle.child_count > _ITEMIZE_MAX_CHILDREN:  # type: ignore[attr-defined]
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
    stays with it.

    This runs once per child of every node that is split, so it reads each node property once.
    """
    find = data.find
    attachable = _ATTACHABLE
    # (node, kind, start, end) per head; a trailing same-line comment extends the head before it.
    heads: list[tuple[Node, str, int, int]] = []
    for child in children:
        kind = child.type
        att = attachable.get(kind)
        if att is None:
            att = attachable[kind] = is_attachable(kind)
        start = child.start_byte
        if (
            heads
            and (att or (child.end_byte - start <= 2 and not child.is_named))
            and find(b"\n", heads[-1][3], start) == -1
        ):
            # A trailing comment or a lone ";" on the same line stays with what it ends.
            node, hkind, hstart, _ = heads[-1]
            heads[-1] = (node, hkind, hstart, child.end_byte)
            continue
        heads.append((child, kind, start, child.end_byte))
    n = len(heads)
    if n == 0:
        return []
    # Where each head's item starts: its line start when only whitespace precedes it there.
    starts = [lo]
    rfind = data.rfind
    for k in range(1, n):
        s = heads[k][2]
        nl = rfind(b"\n", starts[-1], s)
        if nl != -1 and not data[nl + 1 : s].strip():
            s = nl + 1
        starts.append(s)
    starts.append(hi)

    items: list[Item] = []
    append = items.append
    maybe_def = _MAYBE_DEFINITION
    new = tuple.__new__
    pending: list[int] = []  # heads that are comments/attributes waiting for a definition
    for k in range(n):
        child, kind, start, end = heads[k]
        if (
            attachable[kind]
            and k + 1 < n
            and data.count(b"\n", end, heads[k + 1][2]) <= 1
        ):
            pending.append(k)
            continue
        definition = resolve_definition(child) if kind in maybe_def else None
        if definition is not None:
            first = pending[0] if pending else k
            leading = tuple([heads[j][0] for j in pending]) if pending else ()
            label = definition_label(definition, data, language)
            handle = (leading, child, definition)
            append(new(Item, (starts[first], starts[k + 1], kind, True, path, handle, label, True)))
        else:
            for j in pending:  # comments above something that is not a definition
                append(Item(starts[j], starts[j + 1], heads[j][1], False, path, heads[j][0]))
            named = _NAMED.get(kind)
            if named is None:
                named = _NAMED[kind] = bool(child.is_named)
            if not named:
                kind = parent_kind or kind
            append(new(Item, (starts[k], starts[k + 1], kind, False, path, child, "", scope)))
        pending.clear()
    for j in pending:
        append(Item(starts[j], starts[j + 1], heads[j][1], False, path, heads[j][0]))
    return items
