"""Include/exclude globs over POSIX paths relative to a root (what ``[discovery] include`` and
``exclude`` and ``codeweaver index --include/--exclude`` take).

``*`` stays within a path segment, ``**`` spans segments (``**/`` is zero or more folders), ``?``
is one character, ``[abc]``/``[!abc]`` a class, ``{a,b}`` alternates; a pattern without ``/``
matches the name at any depth (``*.py``); a leading ``/`` or ``./`` anchors it at the root; and a
pattern that names a folder covers what is inside it (``tests``, ``tests/**`` and ``tests/``
alike). All patterns of a list compile into one regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["as_patterns", "compile_globs", "glob_to_regex"]


def as_patterns(patterns: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(patterns, str):  # a lone string would be iterated character by character
        return (patterns,)
    out = tuple(patterns)
    for p in out:
        if not isinstance(p, str):
            raise TypeError(f"{what} patterns must be strings, got {p!r}")
    return out


def compile_globs(patterns: tuple[str, ...]) -> Callable[[str], bool] | None:
    """One matcher for all ``patterns`` (None when there are none)."""
    parts = [glob_to_regex(p) for p in patterns if p.strip()]
    if not parts:
        return None
    rx = re.compile("|".join(f"(?:{p})" for p in parts), re.DOTALL)

    def matches(rel_path: str) -> bool:
        return rx.fullmatch(rel_path) is not None

    return matches


def glob_to_regex(pattern: str) -> str:
    """Translate a glob to a regex over POSIX relative paths (see the module docstring)."""
    pat = pattern.strip()
    if pat.startswith("./"):
        pat = pat[1:]  # "./src" is "/src": relative to the root
    anchored = pat.startswith("/")
    pat = pat.strip("/")
    body = _translate(pat)
    if not anchored and "/" not in pat:
        body = "(?:.*/)?" + body  # a bare name matches at any depth
    return body + "(?:/.*)?"  # a folder covers what is inside it


def _translate(pat: str) -> str:
    out: list[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "*":
            if pat.startswith("**", i):
                j = i + 2
                at_segment_start = i == 0 or pat[i - 1] == "/"
                if at_segment_start and j < n and pat[j] == "/":
                    out.append("(?:.*/)?")  # "**/" is zero or more folders
                    i = j + 1
                else:
                    out.append(".*")
                    i = j
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            negated = pat.startswith(("[!", "[^"), i)
            end = pat.find("]", i + 2 if negated else i + 1)  # "[]]" holds a literal "]"
            if end == -1:
                out.append(re.escape(c))
            else:
                inner = pat[i + 1 : end]
                if inner[:1] in ("!", "^"):
                    inner = "^" + inner[1:]
                out.append("[" + inner.replace("\\", "\\\\") + "]")
                i = end
        elif c == "{":
            end = pat.find("}", i)
            if end == -1:
                out.append(re.escape(c))
            else:
                alternatives = pat[i + 1 : end].split(",")
                out.append("(?:" + "|".join(_translate(a) for a in alternatives) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)
