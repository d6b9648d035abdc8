"""Snippets: the few lines of a chunk that best show why it matched, with the matches marked."""

from __future__ import annotations

import re
from collections.abc import Collection

from codeweaver.index.store import MARK_END, MARK_START
from codeweaver.index.terms import identifier_terms

__all__ = ["marked_snippet"]

_WORD = re.compile(r"\w+")


def marked_snippet(content: str, terms: Collection[str], *, lines: int = 4) -> str:
    """The ``lines`` consecutive lines of ``content`` holding the most query terms, as they are.

    Lines keep their indentation (the caller dedents for display); every word that stands for one
    of ``terms`` (``parseConfig`` for "config") is wrapped in ``MARK_START``/``MARK_END``. The
    lines are always lines of ``content``; with no match the snippet is its first lines.
    """
    wanted = set(terms)
    all_lines = content.splitlines()
    if not all_lines:
        return ""
    hits = [_count(line, wanted) for line in all_lines]
    best, best_hits = 0, 0
    for start, n in enumerate(hits):
        if n:  # a snippet starts on a matching line
            total = sum(hits[start : start + lines])
            if total > best_hits:
                best, best_hits = start, total
    return "\n".join(_mark(line, wanted) for line in all_lines[best : best + lines])


def _matches(word: str, wanted: set[str]) -> bool:
    return not wanted.isdisjoint(identifier_terms(word))


def _count(line: str, wanted: set[str]) -> int:
    return sum(1 for w in _WORD.findall(line) if _matches(w, wanted))


def _mark(line: str, wanted: set[str]) -> str:
    return _WORD.sub(
        lambda m: (
            f"{MARK_START}{m.group(0)}{MARK_END}" if _matches(m.group(0), wanted) else m.group(0)
        ),
        line,
    )
