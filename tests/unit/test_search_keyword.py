"""Keyword search, one ranking rule per test, on small repositories indexed for real."""

from __future__ import annotations

import hashlib
import re
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codeweaver.config import load_settings
from codeweaver.index import IndexStore, index_project
from codeweaver.index import terms as terms_module
from codeweaver.index.terms import (
    TERMS_VERSION,
    identifier_terms,
    path_terms,
    query_terms,
    stem,
    symbol_terms,
    text_body,
    text_terms,
)
from codeweaver.search import SearchResult, search
from codeweaver.search.keyword import (
    DEFAULT_RANKING,
    KeywordRanking,
    _query_names,
    keyword_search,
)

Files = Mapping[str, str]


@pytest.fixture
def indexed(
    make_tree: Callable[[Files], Path], clean_env: pytest.MonkeyPatch
) -> Callable[[Files], IndexStore]:
    """Index a tree (serially, as a user's small repo would be) and open its store."""
    opened: list[IndexStore] = []

    def make(files: Files) -> IndexStore:
        root = make_tree({k: textwrap.dedent(v) for k, v in files.items()})
        settings = load_settings(root, chunker={"concurrency": {"executor": "serial"}})
        report = index_project(root, settings)
        assert report.failed == 0
        store = IndexStore.open(report.db_path, create=False)
        opened.append(store)
        return store

    yield make  # type: ignore[misc]
    for s in opened:
        s.close()


def paths(results: list[SearchResult]) -> list[str]:
    return [r.path for r in results]


# -- terms ------------------------------------------------------------------------------------------
def test_identifiers_yield_themselves_and_their_stemmed_parts() -> None:
    assert identifier_terms("parseConfigFile") == ("parseconfigfile", "pars", "config", "file")
    assert identifier_terms("HTTPServer") == ("httpserver", "http", "server")
    assert identifier_terms("parse_config") == ("parse_config", "pars", "config")
    assert identifier_terms("handlers") == ("handler",)
    assert identifier_terms("Größe") == ("größe",)  # no case splitting outside ASCII
    assert {stem(w) for w in ("parse", "parses", "parsing", "parsed")} == {"pars"}


def _reference_identifier_terms(word: str) -> tuple[str, ...]:
    """The definition: the word lowercased, then, for a compound, its parts (split at ``_``,
    then at case changes and digits) each stemmed; a single part stands for its stem only."""
    lower = word.lower()
    if not word.isascii():
        return (lower,)
    case_parts = r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+"
    parts = [p for piece in word.split("_") if piece for p in re.findall(case_parts, piece)]
    if len(parts) <= 1:
        return (stem(parts[0].lower()) if parts else lower,)
    return (lower, *(stem(p.lower()) for p in parts))


@given(
    st.text(st.sampled_from(list("aeszAESZ09_")), min_size=1, max_size=14)
    | st.sampled_from(["HTTPServer", "getHTTPResponseCode", "__init__", "Parser", "HTTPS", "X"])
)
def test_identifier_terms_follow_their_definition(word: str) -> None:
    identifier_terms.cache_clear()  # (each call works it out, not the cache)
    assert identifier_terms(word) == _reference_identifier_terms(word)


def _reference_text_terms(text: str) -> list[str]:
    """The definition: each ``\\w+`` word of the text, in order, by its identifier terms."""
    return [term for word in re.findall(r"\w+", text) for term in identifier_terms(word)]


_TEXTS = st.text(
    st.sampled_from(
        list("aZ_9 \t\n.(){}:;,'\"#/*-+=<>\x1c\x1f\xa0\u00e9\u00dfÉ\u0130\u4e2d\u0663")
    ),
    max_size=80,
) | st.text(max_size=40)


@given(_TEXTS)
def test_text_terms_and_body_are_each_words_terms_in_order(text: str) -> None:
    want = _reference_text_terms(text)
    assert text_terms(text) == want
    assert text_body(text) == " ".join(want)


def test_text_body_of_code_and_its_cache_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "def parseConfig(self, raw_text):\n    return HTTPServer(raw_text)  # handlers\n"
    want = "def parseconfig pars config self raw_text raw text return httpserver http server "
    assert text_body(code) == want + "raw_text raw text handler"
    # A full cache is emptied and filled again: same terms, bounded memory.
    monkeypatch.setattr(terms_module, "_TERMS_OF_MAX", 3)
    monkeypatch.setattr(terms_module, "_JOINED", terms_module._Memo(terms_module._JOINED._make))
    monkeypatch.setattr(terms_module, "_STEMMED", terms_module._Memo(terms_module._STEMMED._make))
    assert text_body(code) == want + "raw_text raw text handler"
    assert len(terms_module._JOINED) <= 3 and len(terms_module._STEMMED) <= 3


def test_query_terms_drop_stop_words_dedupe_and_cap() -> None:
    assert query_terms("how does the Router match the routes?") == ["router", "match", "rout"]
    assert query_terms("the") == ["the"]  # nothing else left: the stop word is the query
    assert query_terms("def " * 1000) == ["def"]
    assert len(query_terms(" ".join(f"word{i}" for i in range(500)))) == 64


# -- ranking rules ----------------------------------------------------------------------------------
def test_a_named_symbol_is_looked_up_by_the_term_the_index_holds() -> None:
    # Lowercased first, "ParseErrors" was one plain word and stemmed ("parseerror"), which no
    # symbol field holds: the lookup of definitions by name found nothing for such names.
    for query, name in [
        ("ParseErrors", "ParseErrors"),
        ("HttpResponse", "HttpResponse"),
        ("Sinatra::Base", "Base"),
        ("how do ZodIssues get formatted", "ZodIssues"),
    ]:
        names = _query_names(query)
        assert list(names) == [name.lower()], query
        assert set(names.values()) <= set(symbol_terms((f"class {name}",))), query


def test_a_camel_case_symbol_is_found_by_its_words(indexed: Callable[[Files], IndexStore]) -> None:
    store = indexed(
        {
            "app/visitors.js": """
                function greetVisitor(name) {
                  return `hello ${name}`;
                }
            """,
            "app/other.js": "function unrelated() { return 42; }\n",
        }
    )
    assert paths(keyword_search(store, "greet visitor"))[:1] == ["app/visitors.js"]
    assert paths(keyword_search(store, "greetVisitor"))[:1] == ["app/visitors.js"]
    assert paths(keyword_search(store, "GreetVisitors"))[:1] == ["app/visitors.js"]


def test_stop_words_in_a_question_do_not_decide_the_ranking(
    indexed: Callable[[Files], IndexStore],
) -> None:
    store = indexed(
        {
            "cache.py": '''
                def invalidate_entry(key):
                    """Drop one entry from the cache."""
                    STORE.pop(key, None)
            ''',
            "notes.py": '''
                def how_is_it_the_one():
                    """How is it the one? It is the one, it is, how is it, the how."""
                    return "the the the how how is is it it"
            ''',
        }
    )
    assert paths(keyword_search(store, "how is the cache entry invalidated?"))[:1] == ["cache.py"]


def test_a_short_all_words_list_is_filled_with_chunks_holding_some_words(
    indexed: Callable[[Files], IndexStore],
) -> None:
    files = {"both.py": "def shell_completion():\n    return 'request handling'\n"}
    files |= {f"some{i}.py": f"def helper{i}():\n    return 'completion'\n" for i in range(12)}
    store = indexed(files)
    results = keyword_search(store, "shell completion request handling", limit=10)
    assert len(results) == 10
    assert results[0].path == "both.py"


def test_the_definition_of_a_named_symbol_beats_code_that_uses_it(
    indexed: Callable[[Files], IndexStore],
) -> None:
    store = indexed(
        {
            "src/users.py": """
                def use_them():
                    stack = HandlerStack()
                    stack.push(HandlerStack.default())
                    return HandlerStack.wrap(stack, HandlerStack())
            """,
            "src/stack.py": '''
                class HandlerStack:
                    """Composes handlers."""

                    def push(self, handler):
                        self.handlers.append(handler)
            ''',
        }
    )
    assert paths(keyword_search(store, "HandlerStack"))[:1] == ["src/stack.py"]
    assert paths(keyword_search(store, "how does HandlerStack push handlers"))[:1] == [
        "src/stack.py"
    ]


def test_a_file_named_for_the_query_lifts_its_chunks(
    indexed: Callable[[Files], IndexStore],
) -> None:
    store = indexed(
        {
            "net/rate_limiter.py": "def acquire(tokens):\n    return bucket.take(tokens)\n",
            "net/client.py": "def send(request):\n    # limiter rate is checked elsewhere\n"
            "    return transport.send(request)\n",
        }
    )
    assert paths(keyword_search(store, "rate limiter"))[:1] == ["net/rate_limiter.py"]


def test_code_ranks_above_tests_and_prose_that_repeat_the_words(
    indexed: Callable[[Files], IndexStore],
) -> None:
    code = "def retry_request(request, attempts):\n    return backoff(request, attempts)\n"
    store = indexed(
        {
            "src/retry.py": code,
            "tests/test_retry.py": "def test_retry_request():\n    assert retry_request(r, 3)\n"
            "    assert retry_request(r, 4)\n    assert retry_request(r, 5)\n",
            "README.md": "# Retry\n\nretry request retry request: every request retries.\n",
        }
    )
    assert paths(keyword_search(store, "retry request attempts"))[0] == "src/retry.py"
    # ... and they still come back when they are all that matches
    assert "README.md" in paths(keyword_search(store, "retries"))


def test_one_file_does_not_fill_the_list(indexed: Callable[[Files], IndexStore]) -> None:
    big = "\n\n".join(
        f"def parse_token_{i}(s):\n    return tokenize(parse(s), {i})\n" for i in range(20)
    )
    filler = "".join(f"    step_{i} = run_step({i})\n" for i in range(30))
    small = f"def pipeline(s):\n    # parse, then tokenize\n{filler}"
    store = indexed({"a_big.py": big, "b_small.py": small})

    def rank_of_small(ranking: KeywordRanking) -> int:
        found = paths(keyword_search(store, "parse tokenize", limit=30, ranking=ranking))
        return found.index("b_small.py")

    spread_off = KeywordRanking(spread=1.0, file_coherence=0.0)
    assert rank_of_small(DEFAULT_RANKING) < 5 < rank_of_small(spread_off)


def test_the_newest_version_folder_wins_over_a_superseded_one(
    indexed: Callable[[Files], IndexStore],
) -> None:
    body = "export class ZodError extends Error {\n  issues = [];\n}\n"
    store = indexed({"src/v3/errors.ts": body, "src/v4/errors.ts": body})
    assert paths(keyword_search(store, "ZodError"))[:1] == ["src/v4/errors.ts"]


def test_results_are_whole_chunks_with_lines_symbol_and_scores(
    indexed: Callable[[Files], IndexStore],
) -> None:
    source = "import os\n\n\ndef load_settings(path):\n    return os.path\n"
    store = indexed({"m.py": source})
    (top,) = keyword_search(store, "load settings")  # the import is a crumb: one chunk
    assert top.content == source
    assert (top.start_line, top.end_line, top.symbol) == (1, 5, "def load_settings")
    assert top.language == "python"
    assert top.scores["keyword"] > 0 and top.score > 0
    assert "\x02load_settings\x03" in top.marked_snippet
    data = top.to_dict()
    assert data["content"] == top.content and data["symbol_path"] == ["def load_settings"]


def test_plain_bm25_is_still_available_for_comparison(
    indexed: Callable[[Files], IndexStore],
) -> None:
    store = indexed({"a.py": "def alpha():\n    pass\n", "b.py": "def beta():\n    pass\n"})
    plain = KeywordRanking(rerank=False)
    assert paths(keyword_search(store, "alpha", ranking=plain)) == ["a.py"]
    assert DEFAULT_RANKING.rerank


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "query",
    ["def " * 1000, "x" * 100_000, "a.b " * 30_000, " ".join(f"word{i}x" for i in range(20_000))],
)
def test_hostile_queries_answer_promptly(
    indexed: Callable[[Files], IndexStore], query: str
) -> None:
    """Repeated terms and huge queries once took minutes (terms are de-duplicated and capped)."""
    files = {f"m{i}.py": f"def f{i}(x):\n    return x + {i}\n" for i in range(50)}
    store = indexed(files)
    assert len(keyword_search(store, query)) <= 10


def test_search_by_directory_opens_the_index_read_only(
    make_tree: Callable[[Files], Path], clean_env: pytest.MonkeyPatch
) -> None:
    root = make_tree({"a.py": "def alpha_beta():\n    pass\n"})
    index_project(root, load_settings(root, chunker={"concurrency": {"executor": "serial"}}))
    assert paths(search(root, "alpha beta", mode="keyword")) == ["a.py"]
    assert paths(search(str(root), "alphaBeta")) == ["a.py"]


def test_a_folder_linked_inside_the_repository_is_indexed_and_found_once(
    make_tree: Callable[[Files], Path], clean_env: pytest.MonkeyPatch
) -> None:
    root = make_tree(
        {"serde_core/src/de.rs": "pub trait Deserializer {}\n", "serde/src/lib.rs": "mod core;\n"}
    )
    (root / "serde" / "src" / "core").symlink_to("../../serde_core/src")
    report = index_project(
        root, load_settings(root, chunker={"concurrency": {"executor": "serial"}})
    )
    assert (report.new, report.skipped) == (2, 1)
    assert paths(search(root, "Deserializer")) == ["serde_core/src/de.rs"]


def _spread_by_sorting(scored, by_id, limit, decay):  # type: ignore[no-untyped-def]
    """The rule `_spread` implements, written the slow obvious way: every candidate by score,
    each further chunk of a file decayed, until the next score cannot enter the best `limit`."""
    taken: dict[str, int] = {}
    picked: list[tuple[float, int]] = []
    for rid in sorted(scored, key=lambda r: -scored[r]):
        if len(picked) >= limit and scored[rid] <= sorted(p for p, _ in picked)[-limit]:
            break
        path = by_id[rid].path
        picked.append((scored[rid] * decay ** taken.get(path, 0), rid))
        taken[path] = taken.get(path, 0) + 1
    picked.sort(key=lambda t: -t[0])
    return [(rid, s) for s, rid in picked[:limit]]


@pytest.mark.parametrize(("candidates", "limit"), [(30, 10), (900, 300), (3000, 1000), (50, 80)])
def test_spreading_results_over_files_keeps_the_best_of_each_list(
    candidates: int, limit: int
) -> None:
    import random
    from types import SimpleNamespace

    from codeweaver.search.keyword import _spread

    rng = random.Random(candidates)
    by_id = {
        i: SimpleNamespace(path=f"f{rng.randrange(candidates // 5 + 1)}.py")
        for i in range(candidates)
    }
    scored = {i: rng.choice([1.0, 0.5, rng.random()]) for i in range(candidates)}  # ties too
    assert _spread(scored, by_id, limit, 0.3) == _spread_by_sorting(scored, by_id, limit, 0.3)  # type: ignore[arg-type]


_CUT_SAMPLES = (
    "def parseConfigFile(self, raw_text):\n    return HTTPServer(raw_text)  # handlers, parsing\n",
    "func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux_2.Handle(w, r) }",
    "impl<T: Ord> BinaryHeap<T> { pub fn into_sorted_vec(self) -> Vec<T> { todo!() } }",
    "public static final int MAX_VALUE = 0x7fffffff; // queries, classes, running, stopped",
    "def größe(ÄB, naïve_café): return 漢字 + 'x\u00a0y' + \"\u2028\" ‐ ٣",
    "__init__ ___ a__b _x X9 9x ABCdef getHTTPResponseCode parseJSON2 i18n",
)


def test_terms_version_names_the_cut_the_index_holds() -> None:
    """The index deletes a chunk's full-text row by cutting the chunk again: a change to what
    the terms functions return must come with a new TERMS_VERSION (an index written by the old
    cut then has its table rebuilt). Change both numbers below together."""
    out = []
    for text in _CUT_SAMPLES:
        out += [
            text_body(text),
            " ".join(symbol_terms(text.split("("))),
            " ".join(path_terms(text)),
        ]
        out.append(" ".join(query_terms(text)))
    digest = hashlib.sha256("\n".join(out).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    assert (TERMS_VERSION, digest) == (1, "e7417a895c3d80b2")
