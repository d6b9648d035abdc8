"""Search terms: how code and queries are cut into the words keyword search matches.

Code names things in compounds (``parseConfig``, ``HTTPServer``, ``parse_config``, ``utf8``)
while people type words ("parse config"). Every identifier therefore yields itself, lowercased,
and, when it is a compound, its parts, each lightly stemmed::

    identifier_terms("parseConfigFile") == ["parseconfigfile", "parse", "config", "file"]
    identifier_terms("HTTPServer")      == ["httpserver", "http", "server"]
    identifier_terms("handlers")        == ["handler"]          # a plain word: its stem only

The same function cuts chunks when they are stored and queries when they are run, so the two
always agree. A query also loses its stop words ("how", "does", "the") unless nothing else is left.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import PurePosixPath

__all__ = [
    "DEFINITION_WORDS",
    "STOP_WORDS",
    "TERMS_VERSION",
    "identifier_terms",
    "path_terms",
    "query_terms",
    "stem",
    "symbol_terms",
    "text_body",
    "text_terms",
]

TERMS_VERSION = 1
"""Which cut of text into terms this module makes. The index keeps no copy of the terms it
stored (its full-text table is contentless): to delete a chunk's row it cuts the chunk again,
so an index whose terms came from another version has its full-text table rebuilt before it
is written (:meth:`~codeweaver.index.store.IndexStore.upgrade_layout`). Change it with any
change to what these functions return; a test pins it to their output."""

_WORD = re.compile(r"\w+")
# Parts of a compound: "HTTPServer" -> HTTP, Server; "parseJSON2" -> parse, JSON, 2.
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+|[^\W\d_a-zA-Z]+")

STOP_WORDS = frozenset(
    """a about above after again all also an and any are as at be been before being below between
    both but by can could did do does doing done during each either else every for from further
    get gets got had has have having he her here hers him his how i if in into is it its itself
    just may me might more most must my no nor not now of off on once only or other our out over
    own same shall she should so some such than that the their them then there these they this
    those through to too under until up upon us use used uses using very via was we were what
    when where whether which while who whom whose why will with within without would you
    your""".split()  # noqa: SIM905
)
"""English words that carry no meaning for code search, dropped from queries (not from code)."""

DEFINITION_WORDS = frozenset(
    """def class fn func function method fun impl struct enum trait interface module mod
    object type typedef union namespace package protocol extension record defmodule defp defn
    val var let const static pub async abstract data sealed open override private public
    protected internal final inline export default for""".split()  # noqa: SIM905
)
"""Keywords that start definitions in symbol paths (``def parse``), left out of symbol terms."""


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer for lowercase words: plurals and common verb endings.

    Conservative on purpose (identifier parts are often not English): ``handlers`` -> ``handler``,
    ``parsing`` -> ``pars``, ``parses`` -> ``pars``, ``parsed`` -> ``pars``, ``parse`` -> ``pars``,
    ``queries`` -> ``query``; words of four letters or fewer are left alone.
    """
    if len(word) <= 4 or not word.isalpha() or not word.isascii():
        return word
    w = word
    if w.endswith("ies") and len(w) > 5:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("ing") and len(w) >= 6:
        w = w[:-3]
        if len(w) >= 3 and w[-1] == w[-2] and w[-1] not in "lsz":
            w = w[:-1]  # running -> run
    elif w.endswith("ed") and len(w) >= 5:
        w = w[:-2]
        if len(w) >= 3 and w[-1] == w[-2] and w[-1] not in "lsz":
            w = w[:-1]
    elif w.endswith("e") and len(w) >= 5:
        w = w[:-1]  # parse -> pars, so parse/parses/parsing/parsed meet
    return w


def _split(word: str) -> tuple[str, ...]:
    """The terms one word of code or of a query stands for: itself and its stemmed parts."""
    lower = word.lower()
    if not word.isascii():  # no case-based splitting outside ASCII: "Größe" stays one word
        return (lower,)
    if word.isalpha():
        if word.islower() or word.isupper() or word[1:].islower():
            return (stem(lower),)  # one part: "parse", "HTTP", "Parser"
    elif word.isdigit():
        return (word,)
    # The parts of every piece between underscores, in one pass (no part holds "_").
    parts = _PART.findall(word)
    if len(parts) <= 1:
        return (stem(parts[0].lower()) if parts else lower,)
    return (lower, *map(_STEMMED.__getitem__, parts))


_TERMS_OF_MAX = 500_000
"""Words (or parts) whose terms the caches below keep (a cache is emptied when it is full)."""


class _Memo(dict[str, str]):
    """``make(key)`` for each key, made the first time the key is asked for, so a hot loop is a
    dictionary lookup (``map(memo.__getitem__, keys)``: no Python call per key it has seen)."""

    def __init__(self, make: Callable[[str], str]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: str) -> str:
        if len(self) >= _TERMS_OF_MAX:
            self.clear()
        value = self[key] = self._make(key)
        return value


_STEMMED = _Memo(lambda part: stem(part.lower()))
"""A part's stem, lowercased."""
identifier_terms = lru_cache(maxsize=262144)(_split)
"""The terms one word of code or of a query stands for: itself and its stemmed parts."""

# In ASCII text \w is [A-Za-z0-9_]: every other byte becomes a space, and split() then finds
# the words _WORD.findall() would, about four times as fast (indexing cuts every chunk); as
# bytes, the table lookup runs five times as fast as str.translate's.
_NON_WORD_ASCII = bytes(
    c if c < 128 and (chr(c).isalnum() or c == 0x5F) else 0x20 for c in range(256)
)


def _words(text: str) -> list[str]:
    """The words of a text (``\\w+`` runs), in order."""
    if text.isascii():
        return text.encode("ascii").translate(_NON_WORD_ASCII).decode("ascii").split()
    return _WORD.findall(text)


_JOINED = _Memo(lambda word: " ".join(_split(word)))
"""Each word's terms joined by spaces: a text's body is one ``str.join`` over lookups."""


def text_body(text: str) -> str:
    """Every term of a text joined by spaces, in order, repeats kept: what the index stores for
    a chunk's text (``" ".join(text_terms(text))``). A term never holds a space."""
    return " ".join(map(_JOINED.__getitem__, _words(text)))


def text_terms(text: str) -> list[str]:
    """Every term of a text, in order, repeats kept (term frequency counts in BM25)."""
    body = text_body(text)
    return body.split(" ") if body else []


def symbol_terms(symbol_path: Iterable[str]) -> list[str]:
    """The terms of the names in a symbol path (``class Parser > def parse``), keywords dropped."""
    out: list[str] = []
    for part in symbol_path:
        for word in _WORD.findall(part):
            if word not in DEFINITION_WORDS:
                out.extend(identifier_terms(word))
    return out


def path_terms(path: str) -> list[str]:
    """The terms of a file's path: its stem twice (names matter most), then its last folders."""
    p = PurePosixPath(path)
    stem_words = text_terms(p.stem)
    folders = [f for f in p.parent.parts if f not in (".", "/")][-3:]
    return stem_words + stem_words + text_terms(" ".join(folders))


def query_terms(query: str, *, max_terms: int = 64) -> list[str]:
    """The distinct terms of a query, in order, stop words dropped (unless all are), capped."""
    words = _WORD.findall(query)
    kept = [w for w in words if w.lower() not in STOP_WORDS] or words
    seen: dict[str, None] = {}
    for word in kept:
        for term in identifier_terms(word):
            seen.setdefault(term, None)
            if len(seen) >= max_terms:
                return list(seen)
    return list(seen)
