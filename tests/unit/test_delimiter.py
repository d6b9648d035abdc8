"""The delimiter fallback: blank-line blocks merged up to the budget, headings as sections."""

from __future__ import annotations

from _contract import assert_contract

from codeweaver.config.chunker import ChunkerSettings
from codeweaver.engine.chunker.file_chunker import chunk_text
from codeweaver.engine.chunker.governor import ChunkGovernor

README = """# Project

Intro paragraph that explains the project in a few words.

## Install

Run the installer. It needs a network connection for the first run only.

### From source

Clone, then build with make.

## Usage

Call the tool with a path.
"""


def test_markdown_sections_are_chunks_with_heading_paths() -> None:
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=120))
    chunks = chunk_text(README, "markdown", gov)
    assert_contract(README.encode(), chunks, 120)
    assert all(c.chunker == "delimiter" for c in chunks)
    by_symbol = {c.symbol: c.content for c in chunks}
    assert by_symbol["# Project > ## Install > ### From source"].startswith("### From source")
    assert "Call the tool" in by_symbol["# Project > ## Usage"]


def test_small_paragraphs_merge_up_to_the_budget() -> None:
    text = "".join(f"para {i} words words words\n\n" for i in range(40))
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=200))
    chunks = chunk_text(text, "text", gov)
    assert_contract(text.encode(), chunks, 200)
    assert len(chunks) < 10
    assert all(len(c.content) > 100 for c in chunks[:-1])


def test_a_paragraph_longer_than_the_budget_is_cut_at_lines_then_characters() -> None:
    text = "word " * 500 + "\n" + "line\n" * 100
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=64))
    chunks = chunk_text(text, "text", gov)
    assert_contract(text.encode(), chunks, 64)
    # Character cuts prefer a space: no word is cut in half.
    assert all(c.content.endswith((" ", "\n")) for c in chunks[:-1])


def test_rst_underlined_headings() -> None:
    text = "Title\n=====\n\nIntro.\n\nSection\n-------\n\nBody text.\n"
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=20))
    chunks = chunk_text(text, "rst", gov)
    assert_contract(text.encode(), chunks, 20)
    assert any(c.symbol == "Title > Section" for c in chunks)
