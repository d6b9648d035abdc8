"""The benchmark metrics on small real inputs: locating chunks, lost/duplicated characters,
split definitions and size statistics (no bench extra needed)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# benchmarks/ is not an installed package: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import metrics
from benchmarks.peers.lines import pack_lines

SOURCE = '''\
import os


@decorator(1)
def first(a, b):
    """Add."""
    return a + b


class Box:
    """A box."""

    def put(self, item):
        self.items.append(item)

    def take(self):
        return self.items.pop()
'''


def test_verbatim_chunks_cover_the_file_exactly() -> None:
    chunks = [SOURCE[:40], SOURCE[40:100], SOURCE[100:]]
    located = metrics.locate_chunks(SOURCE, chunks)
    assert located.methods == ["verbatim"] * 3
    assert located.spans == [(0, 40), (40, 100), (100, len(SOURCE))]
    cov = metrics.coverage(SOURCE, located.covered())
    assert (cov.lost, cov.lost_non_ws, cov.duplicated) == (0, 0, 0)
    assert cov.covered == cov.total == len(SOURCE)


def test_stripped_chunks_lose_only_whitespace() -> None:
    parts = SOURCE.split("\n\n\n")
    chunks = [p.strip() for p in parts]
    located = metrics.locate_chunks(SOURCE, chunks)
    assert "unlocated" not in located.methods
    cov = metrics.coverage(SOURCE, located.covered())
    assert cov.lost > 0
    assert cov.lost_non_ws == 0
    assert cov.duplicated == 0


def test_overlapping_chunks_count_duplicates() -> None:
    chunks = [SOURCE[:120], SOURCE[100:]]
    located = metrics.locate_chunks(SOURCE, chunks)
    cov = metrics.coverage(SOURCE, located.covered())
    assert cov.duplicated == 20
    assert cov.lost == 0


def test_dropped_text_is_counted_as_lost() -> None:
    start = SOURCE.index("class Box")
    chunks = [SOURCE[:start]]  # the class is never emitted
    cov = metrics.coverage(SOURCE, metrics.locate_chunks(SOURCE, chunks).covered())
    dropped = SOURCE[start:]
    assert cov.lost == len(dropped)
    assert cov.lost_non_ws == sum(1 for ch in dropped if not ch.isspace())


def test_rebuilt_chunk_is_located_by_lines_and_its_dropped_lines_are_lost() -> None:
    start = SOURCE.index("class Box")
    # Re-indented with tabs and the docstring line dropped, as a text-rebuilding chunker might.
    rebuilt = "\n".join(
        "\t" + line.strip() for line in SOURCE[start:].splitlines() if "A box" not in line
    )
    located = metrics.locate_chunks(SOURCE, [SOURCE[:start], rebuilt])
    assert located.methods == ["verbatim", "lines"]
    span = located.spans[1]
    assert span is not None
    assert span[0] == start
    assert span[1] == len(SOURCE.rstrip())
    cov = metrics.coverage(SOURCE, located.covered())
    assert cov.lost_non_ws == len('"""A box."""') - 1  # the space is whitespace


def test_text_not_in_the_file_is_unlocated() -> None:
    located = metrics.locate_chunks(SOURCE, ["completely different text\nnot here"])
    assert located.methods == ["unlocated"]
    assert located.spans == [None]
    assert metrics.coverage(SOURCE, located.covered()).lost == len(SOURCE)


def test_definition_spans_include_decorators_and_nested_methods() -> None:
    spans = metrics.definition_spans(SOURCE.encode(), "python")
    texts = [SOURCE[s:e] for s, e in spans]
    assert texts[0].startswith("@decorator(1)\ndef first")
    assert any(t.startswith("class Box") for t in texts)
    assert sum(t.startswith("def put") or t.startswith("def take") for t in texts) == 2
    assert len(spans) == 4


def test_definition_spans_are_character_offsets_in_non_ascii_files() -> None:
    source = 'NAME = "naïve — ünïcode"\n\ndef f():\n    return "ß"\n'
    (span,) = metrics.definition_spans(source.encode(), "python")
    assert source[span[0] : span[1]] == 'def f():\n    return "ß"'


@pytest.mark.parametrize(
    ("language", "source", "expected"),
    [
        ("javascript", "class A { m() { return 1; } }\nfunction f() {}\n", 3),
        ("go", "package p\nfunc F() {}\nfunc (t T) M() {}\n", 2),
        ("rust", "fn f() {}\nimpl T { fn g(&self) {} }\n", 3),
        ("java", "class A { A() {} void m() {} }\n", 3),
        ("c", "int f(void) { return 0; }\n", 1),
    ],
)
def test_definition_kinds_per_language(language: str, source: str, expected: int) -> None:
    assert len(metrics.definition_spans(source.encode(), language)) == expected


def test_unknown_language_has_no_definitions() -> None:
    assert metrics.definition_spans(b"anything", "markdown") == []


def test_count_split_detects_a_definition_cut_across_chunks() -> None:
    defs = metrics.definition_spans(SOURCE.encode(), "python")
    put_start = SOURCE.index("def put")
    # Cut in the middle of `put`: it is split; `take` sits whole in the second chunk.
    cut = put_start + 10
    fitting, split = metrics.count_split(defs, [(0, cut), (cut, len(SOURCE))], budget=1500)
    assert fitting == 4
    # `put` and the class around it are split.
    assert split == 2
    whole = metrics.count_split(defs, [(0, len(SOURCE))], budget=1500)
    assert whole == (4, 0)


def test_count_split_ignores_definitions_over_the_budget() -> None:
    defs = [(0, 100), (200, 2000)]
    assert metrics.count_split(defs, [(0, 50), (50, 2000)], budget=1500) == (1, 1)


def test_size_stats() -> None:
    stats = metrics.size_stats([10, 100, 1000, 1600, 2000], 1500)
    assert stats["chunks"] == 5
    assert stats["median"] == 1000
    assert stats["max"] == 2000
    assert stats["over_share"] == pytest.approx(0.4)
    assert stats["tiny_share"] == pytest.approx(0.4)  # under a tenth of the budget
    assert metrics.size_stats([], 1500)["chunks"] == 0


def test_byte_to_char_offsets() -> None:
    data = "aé€b".encode()
    assert metrics.byte_to_char_offsets(data, [0, 1, 3, 6, 7]) == {0: 0, 1: 1, 3: 2, 6: 3, 7: 4}


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=400), budget=st.integers(min_value=1, max_value=64))
def test_pack_lines_is_lossless_and_within_budget(text: str, budget: int) -> None:
    chunks = pack_lines(text, budget)
    assert "".join(chunks) == text
    assert all(0 < len(c) <= budget for c in chunks)
    cov = metrics.coverage(text, metrics.locate_chunks(text, chunks).covered())
    assert (cov.lost, cov.duplicated) == (0, 0)


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(alphabet="ab \n\tdef():", max_size=300),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=12),
)
def test_any_cut_of_the_file_is_measured_lossless(text: str, cuts: list[int]) -> None:
    points = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    chunks = [text[a:b] for a, b in itertools.pairwise(points) if b > a]
    cov = metrics.coverage(text, metrics.locate_chunks(text, chunks).covered())
    assert (cov.lost, cov.duplicated) == (0, 0)
    # Stripping every chunk may lose whitespace, never anything else.
    stripped = [c.strip() for c in chunks if c.strip()]
    cov = metrics.coverage(text, metrics.locate_chunks(text, stripped).covered())
    assert cov.lost_non_ws == 0
