"""The delimiter fallback: chunks text without a grammar (plain text, markdown, rst, unknown
languages, and files whose parse fails), under the same contract as the syntax chunker.

Text is cut into blocks at blank lines; a heading (markdown ``#``/setext, an rst underline) starts
a section, and sections play the part definitions play in code: a section that fits is one chunk,
and the heading path (``# Install > ## From source``) is its symbol path. Blocks merge up to the
budget; a block that is still too big is cut at lines, then characters, by the packer.
"""

from __future__ import annotations

import re

from codeweaver.engine.chunker.crumbs import merge_crumbs
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.packing import Item, Measure, RawChunk, pack

__all__ = ["delimiter_spans"]

# A blank line: the boundary between blocks (the blank lines stay with the block above).
_BLANK = re.compile(rb"\n[ \t\r\f\v]*\n")
_ATX = re.compile(rb"(#{1,6})[ \t]+\S")
_SETEXT = re.compile(rb"[^\n]*\S[^\n]*\r?\n(=+|-+)[ \t]*\r?(\n|$)")
_RST = re.compile(rb"[^\n]*\S[^\n]*\r?\n([=\-~^\"'`#*+<>:_.])\1{2,}[ \t]*\r?(\n|$)")


def delimiter_spans(
    data: bytes,
    language: str,
    governor: ChunkGovernor,
    *,
    deadline: float | None = None,
) -> list[RawChunk]:
    """Chunk spans for text without a grammar; they cover ``data`` exactly, in order."""
    if not data:
        return []
    headings = language in ("markdown", "rst")
    items: list[Item] = []
    stack: list[tuple[int, str]] = []  # (level, heading text) of the open sections
    start = 0
    n = len(data)
    for m in _BLANK.finditer(data):
        end = m.end()
        if end > start:
            items.append(_block(data, start, end, headings, stack, language))
        start = end
    if start < n:
        items.append(_block(data, start, n, headings, stack, language))
    if headings:
        items = _sections(items)
    measure = Measure(data, governor)
    spans = pack(
        items,
        measure,
        _expand_section,
        greedy=governor.settings.packing == "greedy",
        deadline=deadline,
    )
    return merge_crumbs(spans, measure, governor.settings.min_chunk_chars)


def _block(
    data: bytes, start: int, end: int, headings: bool, stack: list[tuple[int, str]], language: str
) -> Item:
    if headings:
        level, title = _heading(data, start, end, language)
        if level:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            return Item(start, end, "heading", True, tuple(t for _, t in stack[:-1]), None, title)
    return Item(start, end, "paragraph", False, tuple(t for _, t in stack), None)


def _heading(data: bytes, start: int, end: int, language: str) -> tuple[int, str]:
    line_end = data.find(b"\n", start, end)
    first = data[start : line_end if line_end != -1 else end]
    if language == "markdown":
        m = _ATX.match(first)
        if m:
            return len(m.group(1)), _title(first)
        m = _SETEXT.match(data, start, end)
        if m:
            return (1 if m.group(1)[:1] == b"=" else 2), _title(first)
    else:
        m = _RST.match(data, start, end)
        if m:
            return 1 + b"=-~^\"'`#*+<>:_.".index(m.group(1)), _title(first)
    return 0, ""


def _title(line: bytes, limit: int = 80) -> str:
    text = " ".join(line.decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sections(blocks: list[Item]) -> list[Item]:
    """Group each heading with the blocks under it (until the next heading) into one section."""
    out: list[Item] = []
    i = 0
    while i < len(blocks):
        head = blocks[i]
        if not head.is_def:
            out.append(head)
            i += 1
            continue
        j = i + 1
        while j < len(blocks) and not blocks[j].is_def:
            j += 1
        body = tuple(blocks[i:j])
        out.append(
            Item(head.start, blocks[j - 1].end, "section", True, head.path, body, head.label)
        )
        i = j
    return out


def _expand_section(item: Item) -> list[Item] | None:
    body = item.handle
    if not isinstance(body, tuple) or len(body) < 2:
        return None
    path = (*item.path, item.label)
    return [b._replace(path=path, is_def=False) for b in body]
