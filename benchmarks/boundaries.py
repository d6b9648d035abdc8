"""Boundary-quality counters: would a reader have drawn codeweaver's chunk boundaries?

Measured on one file's chunks (codeweaver's :class:`~codeweaver.core.chunks.CodeChunk`, which
carry byte spans and symbol paths), independently of how the chunker decides:

* ``whitespace_only``: chunks holding nothing but whitespace (a file that is only whitespace is
  one such chunk by contract and is not counted);
* ``crumbs``: chunks with fewer than ``min_chars`` non-whitespace characters that could have joined
  a neighbour in the same scope (the pair fits the budget; see :func:`same_scope`);
* ``split_headers``: a block opener (a line ending in ``{``, ``(``, ``[`` or ``:``, a lone
  ``else``/``do``/``try``, a decorator or attribute line) as a chunk's last code line while it
  and the next chunk fit together, or a lone closing bracket line as a chunk's first line while
  it fits on the chunk before;
* ``orphaned_docs``: a definition's doc comment (the comment lines directly above it, no blank
  line between) in another chunk than the definition while both fit together;
* ``unlabelled_docs``: chunks holding only a definition's doc comment whose symbol path is not
  the definition's;
* chunk sizes in characters (median and 10th percentile).

Definitions are those of :data:`benchmarks.metrics.DEFINITION_KINDS` (tree-sitter, the 0.13
pack); the other counters are line-based and work for any language.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from benchmarks import metrics
from codeweaver.core.languages import has_grammar

__all__ = ["BoundaryCounts", "count_boundaries", "is_opener_line", "same_scope"]

# Line comments and block-comment lines, per language family (a leading ``#`` is code in C).
_HASH_COMMENT = frozenset({"python", "ruby", "bash", "shell", "perl", "r", "yaml", "toml", "make"})
_C_COMMENT = re.compile(r"^(//|/\*|\*|\*/)")
_OPENER_WORDS = frozenset({"else", "do", "try", "finally", "begin", "then", "loop", "defer"})
_CLOSER_LINE = re.compile(r"^[\])}]+[;,)]*$|^end$")
# Languages with a grammar whose lines are data or markup, not blocks: no header counting.
_DATA = frozenset(
    {
        "pem",
        "json",
        "jsonc",
        "yaml",
        "toml",
        "xml",
        "html",
        "css",
        "csv",
        "tsv",
        "ini",
        "dtd",
        "properties",
        "gosum",
        "gomod",
        "requirements",
    }
)


@dataclass(slots=True)
class BoundaryCounts:
    """Counters over one or more files (add them up with :meth:`merge`)."""

    files: int = 0
    chunks: int = 0
    whitespace_only: int = 0
    crumbs: int = 0
    split_headers: int = 0
    orphaned_docs: int = 0
    unlabelled_docs: int = 0

    def merge(self, other: BoundaryCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def is_comment_line(line: str, language: str) -> bool:
    """True when ``line`` (stripped) is a comment line in ``language``."""
    if not line:
        return False
    if language in _HASH_COMMENT:
        return line.startswith("#")
    return bool(_C_COMMENT.match(line)) or (
        language in ("lua", "sql", "haskell") and line[:2] == "--"
    )


def is_opener_line(line: str, language: str) -> bool:
    """True when ``line`` (stripped) opens a block whose body follows on later lines."""
    if not line or is_comment_line(line, language):
        return False
    if line[0] == "@" and "{" not in line:  # a decorator or annotation line
        return True
    if line.startswith("#[") or line.startswith("#!["):  # a Rust attribute
        return True
    if line in _OPENER_WORDS:
        return True
    last = line[-1]
    if last in "{([":
        return True
    if last == ":" and not line.endswith("::"):
        # C labels (``case 1:``, ``public:``) and Python headers; not a C++ scope or a ternary.
        return language != "c" or line.startswith(("case ", "default"))
    return line.endswith((" do", "=>", " then")) or bool(re.search(r"\bdo \|[^|]*\|$", line))


def same_scope(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether two chunks with symbol paths ``a`` and ``b`` sit in the same scope: equal paths,
    sibling definitions, or a definition and its enclosing scope's other pieces."""
    a, b = tuple(a), tuple(b)
    return a == b or a[:-1] == b[:-1] or a[:-1] == b or b[:-1] == a


def _non_ws(text: str) -> int:
    return len(text) - sum(1 for ch in text if ch.isspace())


def _last_code_lines(text: str, language: str) -> tuple[str, int]:
    """The last non-blank, non-comment line of ``text`` and how many characters from the end it
    starts (so ``text[-back:]`` holds it and everything after it)."""
    lines = text.splitlines(keepends=True)
    back = 0
    for line in reversed(lines):
        back += len(line)
        stripped = line.strip()
        if stripped and not is_comment_line(stripped, language):
            return stripped, back
    return "", back


def _first_line(text: str) -> tuple[str, int]:
    """The first non-blank line of ``text`` and where it ends (just past its newline)."""
    pos = 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        if line.strip():
            return line.strip(), pos
    return "", pos


def count_boundaries(
    data: bytes,
    language: str,
    chunks: Sequence[Any],
    budget: int,
    *,
    min_chars: int = 50,
    size: Callable[[str], int] = len,
) -> BoundaryCounts:
    """The counters (see the module docstring) for one file's chunks, in order."""
    counts = BoundaryCounts(files=1, chunks=len(chunks))
    texts = [c.content for c in chunks]
    if not any(t.strip() for t in texts):
        return counts
    paths = [tuple(c.symbol_path) for c in chunks]
    n = len(chunks)
    blocks = has_grammar(language) and language not in _DATA
    for i, text in enumerate(texts):
        if not text.strip():
            counts.whitespace_only += 1
        if _non_ws(text) < min_chars:
            for j in (i - 1, i + 1):
                if 0 <= j < n and same_scope(paths[i], paths[j]):
                    pair = texts[j] + text if j < i else text + texts[j]
                    if size(pair) <= budget:
                        counts.crumbs += 1
                        break
        if blocks and i + 1 < n:
            last, back = _last_code_lines(text, language)
            if is_opener_line(last, language) and size(text[-back:] + texts[i + 1]) <= budget:
                counts.split_headers += 1
                continue
            first, upto = _first_line(texts[i + 1])
            if _CLOSER_LINE.match(first) and size(text + texts[i + 1][:upto]) <= budget:
                counts.split_headers += 1
    _count_docs(data, language, chunks, budget, size, counts)
    return counts


def _count_docs(
    data: bytes,
    language: str,
    chunks: Sequence[Any],
    budget: int,
    size: Callable[[str], int],
    counts: BoundaryCounts,
) -> None:
    if language not in metrics.DEFINITION_KINDS:
        return
    starts = [c.start_byte for c in chunks]
    for doc_start, def_start, def_end in doc_spans(data, language):
        text = data[doc_start:def_end].decode("utf-8", "replace")
        first = bisect.bisect_right(starts, doc_start) - 1
        holder = bisect.bisect_right(starts, def_start) - 1
        together = first == holder and chunks[holder].end_byte >= def_end
        if not together and size(text) <= budget:
            counts.orphaned_docs += 1
        for k in range(first, holder):
            c = chunks[k]
            if c.start_byte >= doc_start and tuple(c.symbol_path) != tuple(
                chunks[holder].symbol_path
            ):
                counts.unlabelled_docs += 1


def doc_spans(data: bytes, language: str) -> list[tuple[int, int, int]]:
    """``(doc start, definition start, definition end)`` byte offsets for every definition with
    comment lines directly above it (attributes between them allowed, no blank line)."""
    from tree_sitter import QueryCursor

    tree = metrics._parser(language).parse(data)
    nodes = QueryCursor(metrics._query(language)).captures(tree.root_node).get("def", [])
    out: list[tuple[int, int, int]] = []
    seen: set[int] = set()
    for node in nodes:
        parent = node.parent
        target = parent if parent is not None and parent.type in metrics._WRAPPERS else node
        if target.start_byte in seen:
            continue
        seen.add(target.start_byte)
        doc = -1
        top = target.start_byte
        prev = target.prev_sibling
        while prev is not None and (
            "comment" in prev.type or prev.type in ("attribute_item", "decorator")
        ):
            line_start = data.rfind(b"\n", 0, prev.start_byte) + 1
            if (
                data.count(b"\n", prev.end_byte, top) > 1
                or data[line_start : prev.start_byte].strip()
            ):
                break  # a blank line between, or a comment trailing code on its line
            if "comment" in prev.type:
                doc = prev.start_byte
            top = prev.start_byte
            prev = prev.prev_sibling
        if doc >= 0:
            line_start = data.rfind(b"\n", 0, doc) + 1
            if not data[line_start:doc].strip():
                doc = line_start
            out.append((doc, target.start_byte, target.end_byte))
    return out
