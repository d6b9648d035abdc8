"""Keyword search: BM25 over identifier-aware terms, then a re-ranking that knows code.

Two stages::

    query ─query_terms()─▶ FTS5 BM25 over (body, symbol, path), any term  ─▶  candidates
                                                                              │ re-rank
    results ◀─ one file's chunks spread out ◀─ priors ◀─ definitions, file names, files

BM25 alone ranks the chunk that repeats a word most; a person asking "how are redirects followed"
wants the function that follows redirects, in the file named for it, not a test or a README that
mentions redirects twenty times. The re-ranking (every weight in :class:`KeywordRanking`, each
measured on a public code-search benchmark, ``python -m benchmarks search``):

- **definitions**: a chunk that *defines* a name the query mentions (``HandlerStack``,
  ``Sinatra::Base``, ``mergeConfig``) rises, more for a query that is only that name;
- **paths**: query words in a file's name or folder lift that file's chunks;
- **files**: a file with several matching chunks lifts its best one;
- **priors**: tests, prose (Markdown, text) and code kept for an old version (``legacy/``,
  ``v3/`` beside ``v4/``) sink, since the current code is what answers a code question; they
  still appear when nothing else matches;
- **spread**: each further chunk from a file already listed counts for less, so ten results
  cover more than one file.
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath

from codeweaver.index.store import IndexStore, MatchRow, split_joined
from codeweaver.index.terms import DEFINITION_WORDS, STOP_WORDS, identifier_terms, query_terms
from codeweaver.search.results import SearchResult, to_result

__all__ = [
    "DEFAULT_RANKING",
    "KeywordRanking",
    "is_symbol_query",
    "keyword_candidates",
    "keyword_search",
    "rerank",
]

MAX_QUERY_CHARS = 4096
"""Longer queries are cut here: the terms that matter are in the first few lines."""
MAX_PATH_WORDS = 64
"""Query words compared with file names, at most (as many as the terms BM25 gets)."""


@dataclass(frozen=True, slots=True)
class KeywordRanking:
    """The weights of keyword ranking (see the module docstring for what each does)."""

    field_weights: tuple[float, float, float] = (1.0, 4.0, 2.0)
    """BM25 weight of a match in a chunk's (text, symbol names, file path)."""
    candidates: int = 150
    """How many BM25 candidates are re-ranked."""
    definition: float = 0.5
    """Added (in units of the best BM25 score) to a chunk defining a name the query mentions."""
    definition_symbol_query: float = 3.0
    """The same, when the query is nothing but that name."""
    path: float = 1.0
    """Added times the share of the query's words found in the file's name or folder."""
    file_coherence: float = 0.8
    """A file's best chunk gains this share of the best score, times the file's summed score
    (over its ``coherence_top`` best chunks) relative to the best file's."""
    coherence_top: int = 10
    test_penalty: float = 0.4
    """Multiplies chunks of tests (``test_*.py``, ``*.spec.ts``, ``tests/``, ``fixtures/``...)."""
    prose_penalty: float = 0.35
    """Multiplies chunks of prose (Markdown, reStructuredText, plain text, HTML...)."""
    legacy_penalty: float = 0.5
    """Multiplies chunks kept for an old version (``legacy/``, ``compat/``, ``v3/`` by ``v4/``)."""
    spread: float = 0.3
    """Each further chunk of a file already in the list counts this many times less."""
    rerank: bool = True
    """False: plain BM25 order (for comparison)."""


DEFAULT_RANKING = KeywordRanking()

_IDENT = re.compile(r"[A-Za-z_$][\w$]*(?:(?:::|\\|->|\.)[A-Za-z_$][\w$]*)*")
_COMPOUND = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2,}[a-z]|_[A-Za-z]|^[A-Z][a-z0-9]+[A-Z]")
_QUALIFIER = re.compile(r"::|\\|->|\.")
_TEST_FILE = re.compile(
    r"(?:^|/)(?:test_[^/]*|[^/]*_test|[^/]*[._-](?:test|spec)|[^/]*(?:Tests?|Spec|Suite))\.\w+$"
)
_TEST_DIR = re.compile(r"(?:^|/)(?:tests?|__tests__|specs?|testing|testdata|fixtures?)(?:/|$)")
PROSE_LANGUAGES = frozenset({"markdown", "rst", "text", "org", "asciidoc", "latex", "html"})
"""Languages whose chunks are prose: ranked below code for code questions."""


def keyword_search(
    store: IndexStore,
    query: str,
    *,
    limit: int = 10,
    ranking: KeywordRanking = DEFAULT_RANKING,
) -> list[SearchResult]:
    """The ``limit`` best chunks for ``query``: BM25 candidates, re-ranked (module docstring).

    Chunks holding any of the query's terms are candidates, so the list is filled whenever
    enough chunks match at all; chunks holding more of the terms rank higher.
    """
    if limit <= 0:
        return []
    terms, rows = keyword_candidates(store, query, limit=limit, ranking=ranking)
    if not rows:
        return []
    if not ranking.rerank:
        return [to_result(row, row.score, terms) for row in rows[:limit]]
    top = max(row.score for row in rows) or 1.0
    base = {row.id: row.score / top for row in rows}
    return [to_result(row, s, terms) for row, s in rerank(query, rows, base, limit, ranking)]


def keyword_candidates(
    store: IndexStore, query: str, *, limit: int, ranking: KeywordRanking = DEFAULT_RANKING
) -> tuple[list[str], list[MatchRow]]:
    """The query's terms and its candidate chunks: the best by BM25 (``ranking.candidates`` of
    them when re-ranking), plus the chunks defining a symbol the query names."""
    query = query[:MAX_QUERY_CHARS]
    terms = query_terms(query)
    if not terms:
        return [], []
    wanted = max(ranking.candidates, limit * 3) if ranking.rerank else limit
    rows = store.match_rows(terms, limit=wanted, weights=ranking.field_weights)
    names = _query_names(query)
    if names and ranking.rerank:
        # Definitions of a named symbol are candidates even when BM25 ranks them low.
        seen = {row.id for row in rows}
        extra = store.match_rows(list(names.values()), limit=50, weights=(0.0, 1.0, 0.0))
        rows += [row for row in extra if row.id not in seen]
    return terms, rows


# -- re-ranking -----------------------------------------------------------------------------------
def rerank(
    query: str,
    rows: list[MatchRow],
    base: Mapping[int, float],
    limit: int,
    r: KeywordRanking = DEFAULT_RANKING,
) -> list[tuple[MatchRow, float]]:
    """The ``limit`` best of ``rows``, from each one's ``base`` score (about 0..1) re-ranked.

    Keyword search passes BM25 relative to the best; hybrid search passes its fused score.
    """
    query = query[:MAX_QUERY_CHARS]
    names = _query_names(query)
    symbol_query = bool(names) and is_symbol_query(query)
    query_words = _content_words(query)
    by_id = {row.id: row for row in rows}
    scored: dict[int, float] = {}
    for row in rows:
        score = base.get(row.id, 0.0)
        if names and not names.keys().isdisjoint(_defined_names(split_joined(row.symbol_path))):
            score += r.definition_symbol_query if symbol_query else r.definition
        score += r.path * _path_match(row.path, query_words)
        scored[row.id] = score * _prior(row.path, row.language, r)
    if r.legacy_penalty != 1.0:
        for rid in _superseded(by_id):
            scored[rid] *= r.legacy_penalty
    _lift_coherent_files(scored, by_id, r.file_coherence, r.coherence_top)
    return [(by_id[rid], s) for rid, s in _spread(scored, by_id, limit, r.spread)]


def _lift_coherent_files(
    scored: dict[int, float], by_id: dict[int, MatchRow], weight: float, top: int
) -> None:
    """Add to each file's best chunk a share of the best score, by the file's summed score.

    The sum is over the file's ``top`` best chunks (all when 0), relative to the best file's.
    """
    if weight <= 0 or not scored:
        return
    per_file: dict[str, list[float]] = defaultdict(list)
    best: dict[str, int] = {}
    for rid, s in scored.items():
        path = by_id[rid].path
        per_file[path].append(s)
        if path not in best or s > scored[best[path]]:
            best[path] = rid
    sums = {path: sum(sorted(v, reverse=True)[:top] if top else v) for path, v in per_file.items()}
    top_file = max(sums.values()) or 1.0
    unit = max(scored.values()) * weight
    for path, rid in best.items():
        scored[rid] += unit * sums[path] / top_file


def _spread(
    scored: dict[int, float], by_id: dict[int, MatchRow], limit: int, decay: float
) -> list[tuple[int, float]]:
    """The best ``limit``; each further chunk of a file already listed is worth ``decay`` less."""
    order = sorted(scored, key=lambda rid: -scored[rid])
    taken: dict[str, int] = defaultdict(int)
    picked: list[tuple[float, int]] = []
    best: list[float] = []  # min-heap of the ``limit`` best effective scores: best[0] is the floor
    for rid in order:
        s = scored[rid]
        if len(best) >= limit and s <= best[0]:
            break  # scores only fall from here, and decay never raises one
        path = by_id[rid].path
        eff = s * decay ** taken[path]
        taken[path] += 1
        picked.append((eff, rid))
        if len(best) < limit:
            heapq.heappush(best, eff)
        elif eff > best[0]:
            heapq.heapreplace(best, eff)
    picked.sort(key=lambda t: -t[0])
    return [(rid, s) for s, rid in picked[:limit]]


_VERSION_DIR = re.compile(r"(?:^|/)v(\d+)/")
_LEGACY_DIR = re.compile(r"(?:^|/)(?:legacy|deprecated|_?compat)(?:/|$)")


def _superseded(by_id: dict[int, MatchRow]) -> list[int]:
    """Chunks of code kept for an old version: under ``legacy/``, ``deprecated/`` or ``compat/``,
    or under ``vN/`` where a candidate sits under a newer ``vM/`` beside it (zod's ``v3/`` and
    ``v4/``)."""
    newest: dict[str, int] = {}
    located: dict[int, tuple[str, int]] = {}
    for rid, row in by_id.items():
        m = _VERSION_DIR.search(row.path)
        if m:
            parent, version = row.path[: m.start()], int(m.group(1))
            located[rid] = (parent, version)
            newest[parent] = max(version, newest.get(parent, version))
    out = [rid for rid, (parent, v) in located.items() if v < newest[parent]]
    out += [
        rid for rid, row in by_id.items() if rid not in located and _LEGACY_DIR.search(row.path)
    ]
    return out


def _prior(path: str, language: str, r: KeywordRanking) -> float:
    factor = r.test_penalty if _is_test_path(path) else 1.0
    if language in PROSE_LANGUAGES:
        factor *= r.prose_penalty
    return factor


@lru_cache(maxsize=8192)
def _is_test_path(path: str) -> bool:
    return bool(_TEST_FILE.search(path) or _TEST_DIR.search(path))


@lru_cache(maxsize=8192)
def _path_words(path: str) -> frozenset[str]:
    p = PurePosixPath(path)
    words = set(identifier_terms(p.stem))
    if p.parent.name:
        words.update(identifier_terms(p.parent.name))
    return frozenset(words)


def _path_match(path: str, query_words: frozenset[str]) -> float:
    """The share of the query's content words found in the file's name or folder (prefixes ok)."""
    if not query_words:
        return 0.0
    parts = _path_words(path)
    n = 0
    for w in query_words:
        if w in parts or any(
            len(short) >= 4 and long.startswith(short)
            for p in parts
            for short, long in ((w, p) if len(w) <= len(p) else (p, w),)
        ):
            n += 1
    return n / len(query_words)


@lru_cache(maxsize=1024)
def _content_words(query: str) -> frozenset[str]:
    """The query's words worth matching against paths: stop words and short words dropped,
    at most :data:`MAX_PATH_WORDS` of them (every one is compared with every candidate's path)."""
    words: set[str] = set()
    for w in re.findall(r"\w+", query):
        if w.lower() in STOP_WORDS or len(w) < 3:
            continue
        words.update(identifier_terms(w))
        if len(words) >= MAX_PATH_WORDS:
            break
    return frozenset(words)


def _query_names(query: str) -> dict[str, str]:
    """Identifiers the query names: the whole query when it is one, else compound words in it.

    ``"HandlerStack"``, ``"Sinatra::Base"``, ``"field_validator"`` and ``"Router"`` name symbols;
    in "how ZodError formats issues" the name is ``ZodError``. Each name (lowercased, the last
    segment of a qualified name: ``base`` for ``Sinatra::Base``) maps to its term in the index's
    symbol field, taken from the name as written: lowercased first, ``ParseErrors`` would be one
    plain word and stemmed (``parseerror``) where the index holds ``parseerrors``.
    """
    stripped = query.strip()
    if is_symbol_query(stripped):
        words = [_QUALIFIER.split(stripped)[-1]]
    else:
        words = [_QUALIFIER.split(m.group(0))[-1] for m in _IDENT.finditer(stripped)]
        words = [word for word in words if _COMPOUND.search(word)]
    return {word.lower(): identifier_terms(word)[0] for word in words}


def is_symbol_query(query: str) -> bool:
    """One identifier (possibly qualified), not a plain lowercase English word."""
    q = query.strip()
    if not q or not _IDENT.fullmatch(q):
        return False
    last = _QUALIFIER.split(q)[-1]
    return bool(_QUALIFIER.search(q) or "_" in last or any(c.isupper() for c in last))


@lru_cache(maxsize=16384)
def _defined_names(symbol_path: tuple[str, ...]) -> frozenset[str]:
    """The names the innermost definition of a symbol path introduces, lowercased.

    ``func (*Command) genBashCompletion`` -> {genbashcompletion}; ``class LinkedTreeMap`` ->
    {linkedtreemap}; ``impl Serialize for Vec<T>`` -> {serialize, vec}.
    """
    if not symbol_path:
        return frozenset()
    last = re.sub(r"\([^)]*\)|<[^>]*>|\[[^\]]*\]", " ", symbol_path[-1])
    words = [w for w in re.findall(r"[A-Za-z_$][\w$]*", last) if w not in DEFINITION_WORDS]
    if not words:
        return frozenset()
    if symbol_path[-1].startswith("impl "):
        # ``impl Trait for Type`` implements Trait for Type: it defines (methods of) Type only
        head, _, implementing = last.partition(" for ")
        words = re.findall(r"[A-Za-z_$][\w$]*", implementing or head)
        words = [w for w in words if w not in DEFINITION_WORDS]
        return frozenset({words[0].lower()}) if words else frozenset()
    return frozenset({_QUALIFIER.split(words[-1])[-1].lower()})
