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
from codeweaver.config.chunker import DEFAULT_MIN_CHUNK_CHARS
from codeweaver.core.languages import has_grammar

__all__ = ["BoundaryCounts", "count_boundaries", "doc_spans", "is_opener_line"]

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
    if line[0] == "@" and not line.endswith((";", "}", ",")):  # a decorator or annotation line
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


def _non_ws(text: str) -> int:
    return len(text) - sum(1 for ch in text if ch.isspace())


def _doc_part(text: str, i: int, paths: Sequence[tuple[str, ...]], language: str) -> bool:
    """A chunk of only comment lines labelled like the chunk after it: the part of a doc comment
    that did not fit with its definition (it joins nothing else)."""
    return (
        i + 1 < len(paths)
        and bool(paths[i])
        and paths[i] == paths[i + 1]
        and all(is_comment_line(ln.strip(), language) for ln in text.splitlines() if ln.strip())
    )


def _last_code_lines(text: str, language: str) -> tuple[str, int]:
    """The last code line of ``text`` (not blank, not a comment) and how many characters from the
    end the statement it ends starts (so ``text[-back:]`` holds a multi-line header whole)."""
    lines = text.splitlines(keepends=True)
    back = 0
    last = ""
    held = 0
    for line in reversed(lines):
        back += len(line)
        stripped = line.strip()
        if not stripped or is_comment_line(stripped, language):
            continue
        if not last:
            last, held, cur = stripped, back, stripped
            continue
        if (
            cur == "{"
            or cur.startswith(_CONTINUES)
            or stripped.endswith(_CONTINUED)
            or stripped.startswith(("@", "#["))
        ):
            held, cur = back, stripped  # the line before is part of the same header
            continue
        break
    return last, held


_CONTINUES = (")", "where", ".", "?", ":", "->", "=>", "&&", "||", "+")
_CONTINUED = (",", "(", "[", "&&", "||", "+", "=", "where", "->", "=>")


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
    min_chars: int = DEFAULT_MIN_CHUNK_CHARS,
    size: Callable[[str], int] = len,
) -> BoundaryCounts:
    """The counters (see the module docstring) for one file's chunks, in order."""
    counts = BoundaryCounts(files=1, chunks=len(chunks))
    texts = [c.content for c in chunks]
    if not any(t.strip() for t in texts):
        return counts
    paths = [tuple(c.symbol_path) for c in chunks]
    whole = _holds_definition(data, language, chunks)
    n = len(chunks)
    blocks = has_grammar(language) and language not in _DATA
    in_comment = False  # the boundary after chunk i falls inside a block comment or docstring
    for i, text in enumerate(texts):
        in_comment = _comment_state(text, language, in_comment)
        if not text.strip():
            counts.whitespace_only += 1
        if _non_ws(text) < min_chars and not _doc_part(text, i, paths, language):
            last, _ = _last_code_lines(text, language)
            if _CLOSER_LINE.match(_first_line(text)[0]):
                sides: tuple[int, ...] = (i - 1,)  # a closing bracket only goes back
            elif is_opener_line(last, language):
                sides = (i + 1,)  # a header only goes forward
            else:
                sides = (i - 1, i + 1)
            for j in sides:
                if 0 <= j < n and _joinable(paths, whole, i, j):
                    pair = texts[j] + text if j < i else text + texts[j]
                    if size(pair) <= budget:
                        counts.crumbs += 1
                        break
        if blocks and i + 1 < n and not in_comment and not texts[i + 1].lstrip().startswith("*"):
            last, back = _last_code_lines(text, language)
            if not text.endswith("\n"):  # cut inside a line: judge the whole line
                nxt = texts[i + 1]
                head = text[text.rfind("\n") + 1 :]
                last = (head + nxt[: nxt.find("\n") + 1 or len(nxt)]).strip()
                back = len(head)
            if is_opener_line(last, language) and size(text[-back:] + texts[i + 1]) <= budget:
                counts.split_headers += 1
                continue
            first, upto = _first_line(texts[i + 1])
            if _CLOSER_LINE.match(first) and size(text + texts[i + 1][:upto]) <= budget:
                counts.split_headers += 1
    _count_docs(data, language, chunks, budget, size, counts)
    return counts


def _joinable(paths: Sequence[tuple[str, ...]], whole: Sequence[bool], i: int, j: int) -> bool:
    """Whether chunks ``i`` and ``j`` (neighbours) sit in the same parent: pieces of one thing,
    whole definitions side by side, or a definition and the statements of its parent."""
    a, b = paths[i], paths[j]
    if a == b or b[: len(a)] == a or a[: len(b)] == b:  # the same thing, or one inside the other
        return True
    if whole[i] and whole[j]:
        return a[:-1] == b[:-1]
    if whole[j]:
        return b[:-1] == a  # a statement of the scope the definition sits in
    if whole[i]:
        return a[:-1] == b
    return False


def _holds_definition(data: bytes, language: str, chunks: Sequence[Any]) -> list[bool]:
    """Per chunk: does it hold a whole definition (function, method, class) it is named after?"""
    if language not in metrics.DEFINITION_KINDS:
        return [bool(c.symbol_path) for c in chunks]
    spans = sorted((s, e) for s, e, _ in _definitions(data, language))
    starts = [s for s, _ in spans]
    out = []
    for c in chunks:
        k = bisect.bisect_left(starts, c.start_byte)
        found = False
        while k < len(spans) and spans[k][0] < c.end_byte:
            if spans[k][1] <= c.end_byte:
                found = True
                break
            k += 1
        out.append(found)
    return out


def _comment_state(text: str, language: str, inside: bool) -> bool:
    """Whether the end of ``text`` is inside a block comment or a docstring, given whether its
    start was."""
    if language == "python":
        quotes = text.count('"""') + text.count("'''")
        return inside != (quotes % 2 == 1)
    if language in _HASH_COMMENT:
        return False
    opened, closed = text.rfind("/*"), text.rfind("*/")
    if opened < 0 and closed < 0:
        return inside
    return opened > closed


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
    for doc_start, def_start, def_end, name in doc_spans(data, language):
        text = data[doc_start:def_end].decode("utf-8", "replace")
        first = bisect.bisect_right(starts, doc_start) - 1
        holder = bisect.bisect_right(starts, def_start) - 1
        together = first == holder and chunks[holder].end_byte >= def_end
        if not together and size(text) <= budget:
            counts.orphaned_docs += 1
        for k in range(first, holder):
            c = chunks[k]
            if c.start_byte >= doc_start and not _names(c.symbol_path, name):
                counts.unlabelled_docs += 1


def _names(path: Sequence[str], name: str) -> bool:
    """Whether a symbol path ends with the definition called ``name``."""
    if not name:
        return bool(path)
    return bool(path) and (path[-1] == name or path[-1].endswith((f" {name}", f".{name}")))


def _definitions(data: bytes, language: str) -> list[tuple[int, int, Any]]:
    """``(start, end, node)`` of every definition (widened to a decorator wrapper)."""
    from tree_sitter import QueryCursor

    tree = metrics._parser(language).parse(data)
    nodes = QueryCursor(metrics._query(language)).captures(tree.root_node).get("def", [])
    out = []
    for node in nodes:
        parent = node.parent
        target = parent if parent is not None and parent.type in metrics._WRAPPERS else node
        out.append((target.start_byte, target.end_byte, node))
    return out


def doc_spans(data: bytes, language: str) -> list[tuple[int, int, int, str]]:
    """``(doc start, definition start, definition end, name)`` for every definition with comment
    lines directly above it (attributes between them allowed, no blank line); byte offsets."""
    out: list[tuple[int, int, int, str]] = []
    seen: set[int] = set()
    for _, _, node in _definitions(data, language):
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
            gap_from = prev.end_byte - (data[prev.end_byte - 1 : prev.end_byte] == b"\n")
            if data.count(b"\n", gap_from, top) > 1 or data[line_start : prev.start_byte].strip():
                break  # a blank line between, or a comment trailing code on its line
            if "comment" in prev.type:
                doc = prev.start_byte
            top = prev.start_byte
            prev = prev.prev_sibling
        if doc >= 0:
            line_start = data.rfind(b"\n", 0, doc) + 1
            if not data[line_start:doc].strip():
                doc = line_start
            out.append((doc, target.start_byte, target.end_byte, _name(node, data)))
    return out


def _name(node: Any, data: bytes) -> str:
    """A definition's name: its ``name`` field, else the identifier its declarator chain ends in."""
    for _ in range(8):
        name = node.child_by_field_name("name")
        if name is not None:
            return data[name.start_byte : name.end_byte].decode("utf-8", "replace")
        declarator = node.child_by_field_name("declarator")
        if declarator is None:
            break
        if declarator.type.endswith("identifier"):
            return data[declarator.start_byte : declarator.end_byte].decode("utf-8", "replace")
        node = declarator
    return ""
