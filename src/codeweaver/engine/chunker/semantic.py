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
from codeweaver.engine.chunker.syntax import definition_label, is_attachable, resolve_definition

__all__ = ["semantic_spans"]

Node = Any  # tree_sitter.Node


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
            return _items(
                children, item.start, item.end, (*item.path, item.label), data, language, item.kind
            )
        if handle is None:
            return None
        children = handle.children  # type: ignore[attr-defined]
        if not children:
            return None
        return _items(children, item.start, item.end, item.path, data, language, item.kind)

    top = _items(root.children, 0, len(data), (), data, language, root.type)
    if not top:
        top = [Item(0, len(data), root.type, False, (), None)]
    return pack(
        top,
        measure,
        expand,
        greedy=governor.settings.packing == "greedy",
        deadline=deadline,
    )


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
) -> list[Item]:
    """Items for ``children`` covering ``[lo, hi)``; see the module docstring for who owns what.

    A boundary between two children sits at the start of the line the second one starts on when
    only whitespace precedes it there (so chunks start with their indentation and end with a
    newline); a comment that starts on the line the previous child ends on stays with it.
    """
    n = len(children)
    if n == 0:
        return []
    # Children that begin a new item: not a trailing same-line comment.
    heads: list[Node] = []
    prev_end = -1
    for child in children:
        if heads and is_attachable(child.type) and b"\n" not in data[prev_end : child.start_byte]:
            prev_end = child.end_byte
            continue
        heads.append(child)
        prev_end = child.end_byte
    # Where each head's item starts.
    starts = [lo]
    for k in range(1, len(heads)):
        starts.append(_boundary(data, starts[-1], heads[k].start_byte))
    starts.append(hi)

    items: list[Item] = []
    pending: list[int] = []  # indices of attachable heads waiting for a definition
    for k, child in enumerate(heads):
        kind = child.type if child.is_named else (parent_kind or child.type)
        if (
            is_attachable(kind)
            and k + 1 < len(heads)
            and _adjacent(data, child.end_byte, heads[k + 1].start_byte)
        ):
            pending.append(k)
            continue
        definition = resolve_definition(child)
        if definition is not None:
            first = pending[0] if pending else k
            leading = tuple(heads[j] for j in pending)
            items.append(
                Item(starts[first], starts[k + 1], kind, True, path, (leading, child, definition),
                     definition_label(definition, data, language))
            )
        else:
            for j in pending:  # comments above something that is not a definition
                items.append(Item(starts[j], starts[j + 1], heads[j].type, False, path, heads[j]))
            items.append(Item(starts[k], starts[k + 1], kind, False, path, child))
        pending.clear()
    for j in pending:
        items.append(Item(starts[j], starts[j + 1], heads[j].type, False, path, heads[j]))
    return items


def _boundary(data: bytes, floor: int, next_start: int) -> int:
    """The start of the line ``next_start`` is on, if only whitespace precedes it there."""
    nl = data.rfind(b"\n", floor, next_start)
    if nl == -1:
        return next_start
    if data[nl + 1 : next_start].strip():
        return next_start
    return nl + 1


def _adjacent(data: bytes, end: int, next_start: int) -> bool:
    """True when no blank line separates ``end`` from ``next_start``."""
    return data.count(b"\n", end, next_start) <= 1
