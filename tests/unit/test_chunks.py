"""The chunk model: Span validation, stable ids and hashes, the row form, the records."""

from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codeweaver.core.chunks import (
    CodeChunk,
    FailureRecord,
    SkipRecord,
    Span,
    content_hash,
    stable_chunk_id,
)

SOURCE = "class Parser:\n    def parse(self):\n        return 1\n"


def chunk(
    content: str = "    def parse(self):\n        return 1\n",
    *,
    path: str = "pkg/parser.py",
    start: int = 14,
    line: int = 2,
    **kwargs: object,
) -> CodeChunk:
    end = start + len(content.encode("utf-8", "surrogatepass"))
    span = Span(start, end, line, line + max(content.count("\n") - 1, 0))
    return CodeChunk(path=path, language="python", content=content, span=span, **kwargs)  # type: ignore[arg-type]


# --- Span ----------------------------------------------------------------------------------------


def test_span_accepts_valid_offsets() -> None:
    s = Span(0, 10, 1, 3)
    assert (s.start_byte, s.end_byte, s.start_line, s.end_line, s.byte_length) == (0, 10, 1, 3, 10)
    assert Span(5, 5, 2, 2).byte_length == 0  # an empty span is allowed


@pytest.mark.parametrize(
    "args",
    [
        (-1, 4, 1, 1),  # negative start
        (5, 4, 1, 1),  # end before start
        (0, 4, 0, 1),  # lines are 1-based
        (0, 4, 3, 2),  # end line before start line
    ],
)
def test_span_rejects_bad_offsets(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="bad"):
        Span(*args)


def test_span_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Span(0, 1, 1, 1).end_byte = 2  # type: ignore[misc]


# --- hashes and ids ------------------------------------------------------------------------------


def test_content_hash_is_blake2b_128_over_utf8() -> None:
    h = content_hash("héllo")
    assert len(h) == 32 and int(h, 16) >= 0
    assert h == content_hash("héllo".encode())
    assert h != content_hash("hello")


def test_same_content_at_the_same_place_gives_the_same_id() -> None:
    a, b = chunk(), chunk()
    assert a is not b
    assert a.chunk_id == b.chunk_id
    assert a.content_hash == b.content_hash == content_hash(a.content)
    assert a == b


def test_id_ignores_what_does_not_locate_the_content() -> None:
    base = chunk()
    other = chunk(ordinal=7, kinds=("function_definition",), symbol_path=("class Parser",))
    assert other.chunk_id == base.chunk_id


@pytest.mark.parametrize(
    "changed",
    [
        {"path": "pkg/other.py"},
        {"start": 40},
        {"content": "    def parse(self):\n        return 2\n"},
    ],
)
def test_different_place_or_content_gives_a_different_id(changed: dict[str, object]) -> None:
    assert chunk(**changed).chunk_id != chunk().chunk_id  # type: ignore[arg-type]


def test_moving_content_changes_the_id_not_the_hash() -> None:
    a, b = chunk(start=14), chunk(start=100, line=9)
    assert a.content_hash == b.content_hash
    assert a.chunk_id != b.chunk_id


def test_chunk_id_matches_stable_chunk_id() -> None:
    c = chunk()
    assert c.chunk_id == stable_chunk_id(c.path, c.start_byte, c.end_byte, c.content_hash)
    assert len(c.chunk_id) == 24


def test_ids_survive_non_utf8_paths_and_lone_surrogates() -> None:
    c = chunk("x = '\udcff'\n", path="bad\udcff.py")
    assert len(c.chunk_id) == 24 and len(c.content_hash) == 32


# --- accessors and text --------------------------------------------------------------------------


def test_flat_accessors_mirror_the_span() -> None:
    c = chunk()
    assert (c.start_byte, c.end_byte, c.start_line, c.end_line) == (
        c.span.start_byte,
        c.span.end_byte,
        c.span.start_line,
        c.span.end_line,
    )
    assert SOURCE.encode()[c.start_byte : c.end_byte].decode() == c.content


def test_embedding_text_has_file_and_symbol_header() -> None:
    c = chunk(symbol_path=("class Parser", "def parse"))
    assert c.symbol == "class Parser > def parse"
    text = c.embedding_text()
    assert text == "# file: pkg/parser.py\n# symbol: class Parser > def parse\n" + c.content
    assert text.endswith(c.content)  # content unchanged


def test_embedding_text_without_symbol() -> None:
    c = chunk("import os\n", start=0, line=1)
    assert c.symbol == ""
    assert c.embedding_text() == "# file: pkg/parser.py\nimport os\n"


# --- row form, dict, pickle ----------------------------------------------------------------------


def test_row_round_trip() -> None:
    c = chunk(
        kinds=("function_definition",),
        symbol_path=("class Parser", "def parse"),
        ordinal=3,
        oversized=True,
        chunker="delimiter",
    )
    row = c.to_row()
    assert isinstance(row, tuple) and len(row) == 8
    back = CodeChunk.from_row(row, path=c.path, language=c.language, ordinal=3, chunker="delimiter")
    assert back == c
    assert back.chunk_id == c.chunk_id


@given(
    content=st.text(max_size=200),
    start=st.integers(min_value=0, max_value=10_000),
    line=st.integers(min_value=1, max_value=1_000),
    kinds=st.lists(st.sampled_from(["function_definition", "comment", "ERROR"]), max_size=3),
    symbols=st.lists(st.text(min_size=1, max_size=10), max_size=3),
    oversized=st.booleans(),
)
def test_row_round_trip_property(
    content: str, start: int, line: int, kinds: list[str], symbols: list[str], oversized: bool
) -> None:
    end = start + len(content.encode("utf-8", "surrogatepass"))
    c = CodeChunk(
        path="a/b.py",
        language="python",
        content=content,
        span=Span(start, end, line, line + content.count("\n")),
        kinds=tuple(kinds),
        symbol_path=tuple(symbols),
        oversized=oversized,
    )
    back = CodeChunk.from_row(c.to_row(), path="a/b.py", language="python", ordinal=0)
    assert back == c and back.chunk_id == c.chunk_id and back.content_hash == c.content_hash


def test_to_dict_is_json_ready() -> None:
    c = chunk(symbol_path=("class Parser",))
    d = json.loads(json.dumps(c.to_dict()))
    assert d["id"] == c.chunk_id and d["content_hash"] == c.content_hash
    assert d["symbol_path"] == ["class Parser"]
    assert (d["start_byte"], d["end_byte"], d["start_line"]) == (c.start_byte, c.end_byte, 2)


def test_chunk_pickles_with_its_hash() -> None:
    c = chunk()
    _ = c.content_hash  # computed before pickling, or not: both must round-trip
    for obj in (c, chunk()):
        back = pickle.loads(pickle.dumps(obj))
        assert back == obj and back.chunk_id == obj.chunk_id


def test_failure_record_pickles_and_describes() -> None:
    rec = FailureRecord(
        path="src/big.go",
        stage="worker",
        error_type="WorkerDied",
        message="worker process died",
        traceback="Traceback (most recent call last):\n  ...\n",
        exit_code=-11,
    )
    back = pickle.loads(pickle.dumps(rec))
    assert back == rec
    assert back.describe() == "src/big.go [worker] WorkerDied: worker process died (exit code -11)"
    plain = FailureRecord("a.py", "parse", "ValueError", "boom")
    assert plain.describe() == "a.py [parse] ValueError: boom"
    assert pickle.loads(pickle.dumps(plain)) == plain


def test_skip_record_pickles() -> None:
    rec = SkipRecord("/repo/logo.png", "binary", "NUL byte in the first 8192 bytes")
    assert pickle.loads(pickle.dumps(rec)) == rec
    assert SkipRecord("/r/x", "too_large").detail == ""
