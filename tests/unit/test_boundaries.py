"""Boundaries a reader would draw (issue #12): no whitespace-only chunks, no crumbs that could
join a neighbour, no header cut from its body, no doc comment apart from its definition while
both fit, no detached doc part without its definition's symbol; on the files the issue names
(the standard library's) and on equivalents written for these tests (``fixtures/boundaries``)."""

from __future__ import annotations

import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
from _contract import assert_contract

from codeweaver.config.chunker import ChunkerSettings
from codeweaver.core.languages import language_for_path
from codeweaver.engine.chunker.file_chunker import chunk_bytes, chunk_text
from codeweaver.engine.chunker.governor import ChunkGovernor

# benchmarks/ is not an installed package: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.boundaries import count_boundaries

FIXTURES = Path(__file__).parent.parent / "fixtures" / "boundaries"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
# The standard library files the issue quotes, plus the equivalents of the others.
FILES = [
    STDLIB / "distutils" / "ccompiler.py",
    STDLIB / "html" / "parser.py",
    STDLIB / "sysconfig.py",
    *sorted(FIXTURES.iterdir()),
]


def _chunks(path: Path, budget: int | None, **settings: int) -> tuple[bytes, str, list, int]:  # type: ignore[type-arg]
    data = path.read_bytes()
    language = language_for_path(path)
    assert language is not None
    options = {"max_chunk_chars": budget} if budget else {}
    gov = ChunkGovernor(ChunkerSettings(**options, **settings))
    limit = gov.char_budget
    assert limit is not None
    return data, language, chunk_bytes(data, language, gov, path=path.name), limit


@pytest.mark.parametrize("budget", [None, 1000, 600], ids=["default", "1000", "600"])
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_no_boundary_a_reader_would_not_draw(path: Path, budget: int | None) -> None:
    data, language, chunks, limit = _chunks(path, budget)
    assert_contract(data, chunks, limit)
    counts = count_boundaries(data, language, chunks, limit)
    assert counts.whitespace_only == 0
    assert counts.crumbs == 0
    assert counts.split_headers == 0
    assert counts.orphaned_docs == 0
    assert counts.unlabelled_docs == 0


def test_a_run_of_tiny_methods_shares_chunks_up_to_the_minimum() -> None:
    _, _, chunks, _ = _chunks(FIXTURES / "json_encoder.go", None, min_chunk_chars=50)
    forwards = [c for c in chunks if "func (f fwd)" in c.content]
    held = sum(c.content.count("func (f fwd)") for c in forwards)
    assert held == 22 and len(forwards) < 22
    for c in forwards:
        solid = sum(1 for ch in c.content if not ch.isspace())
        methods = c.content.count("func (f fwd)")
        assert methods == 1 or solid < 2 * 50 + 40, "they share only until they stop being crumbs"
        assert c.symbol.startswith("func (fwd) ")  # labelled with what it holds
    # An ordinary definition stands alone.
    assert [c.symbol for c in chunks if "func (enc *jsonEncoder) AppendFloat" in c.content] == [
        "func (*jsonEncoder) AppendFloat"
    ]


def test_the_minimum_is_a_setting_and_zero_keeps_every_definition_apart() -> None:
    src = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(8))  # 15 solid chars each
    default = chunk_text(src, "python", ChunkGovernor(ChunkerSettings()))  # 20: pairs
    assert [c.symbol for c in default] == [f"def f{i}, def f{i + 1}" for i in range(0, 8, 2)]
    merged = chunk_text(src, "python", ChunkGovernor(ChunkerSettings(min_chunk_chars=50)))
    apart = chunk_text(src, "python", ChunkGovernor(ChunkerSettings(min_chunk_chars=0)))
    assert len(apart) == 8
    assert [c.symbol for c in merged] == [
        "def f0, def f1, def f2, def f3",
        "def f4, def f5, def f6, def f7",
    ]
    big = chunk_text(src, "python", ChunkGovernor(ChunkerSettings(min_chunk_chars=10_000)))
    assert len(big) == 1  # everything is a crumb and the budget holds it all


def test_a_doc_comment_too_long_to_share_is_split_at_a_paragraph_and_keeps_the_symbol() -> None:
    _, _, chunks, _ = _chunks(FIXTURES / "Mapper.java", None)
    holder = next(c for c in chunks if "public <T> T fromJson(" in c.content)
    assert holder.symbol == "class Mapper > method fromJson"
    # As much of the doc comment as fits stays, from the start of a paragraph (the paragraph
    # break, a "*" line, ends the part before).
    assert holder.content.lstrip().startswith("* ") and "@param reader" in holder.content
    before = chunks[holder.ordinal - 1]
    assert before.content.rstrip().endswith("*")
    assert before.symbol == "class Mapper > method fromJson"
    assert before.kinds[-1] == "method_declaration" and "block_comment" in before.kinds


def test_a_chunk_starting_with_a_definition_is_labelled_with_it() -> None:
    _, _, chunks, _ = _chunks(FIXTURES / "serving.py", None)
    starts = [c for c in chunks if c.content.lstrip().startswith("def handle_one")]
    assert [c.symbol for c in starts] == ["class RequestHandler > def handle_one"]


@dataclass
class _Chunk:
    """The chunk fields the counters read."""

    content: str
    start_byte: int
    end_byte: int
    symbol_path: tuple[str, ...] = ()


def _fake(texts: list[str], paths: list[tuple[str, ...]] | None = None) -> list[_Chunk]:
    out, pos = [], 0
    for i, t in enumerate(texts):
        n = len(t.encode())
        out.append(_Chunk(t, pos, pos + n, paths[i] if paths else ()))
        pos += n
    return out


def test_the_counters_see_each_kind_of_bad_boundary() -> None:
    """The counters are not blind: each one fires on a chunk list that has that defect."""
    src = ["x = 1\n", "    ", "def f():\n    return 1\n"]
    data = "".join(src).encode()
    counts = count_boundaries(data, "python", _fake(src), 1500)
    assert counts.whitespace_only == 1 and counts.crumbs >= 1
    src = ["import os\nimport sys\n\nif os.name == 'nt':\n", "    print(sys.argv)\n" * 20]
    data = "".join(src).encode()
    assert count_boundaries(data, "python", _fake(src), 1500).split_headers == 1
    src = ["function f() {\n  return g(1, 2, 3);\n", "}\n", "const y = 2;\n"]
    data = "".join(src).encode()
    assert count_boundaries(data, "javascript", _fake(src), 1500).split_headers >= 1
    src = ["# Compute the answer to everything\n# with care.\n", "def f():\n    return 42\n"]
    data = "".join(src).encode()
    counts = count_boundaries(data, "python", _fake(src, [(), ("def f",)]), 1500)
    assert counts.orphaned_docs == 1 and counts.unlabelled_docs == 1
