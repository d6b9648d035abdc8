"""The syntax-aware chunker on real code in 14 languages: one definition per chunk, doc comments
attached, symbol paths right, small neighbours merged, and the contract holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from _contract import assert_contract

from codeweaver.config.chunker import ChunkerSettings
from codeweaver.core.chunks import CodeChunk
from codeweaver.core.languages import language_for_path
from codeweaver.engine.chunker.file_chunker import chunk_bytes, chunk_text
from codeweaver.engine.chunker.governor import ChunkGovernor

FIXTURES = Path(__file__).parent.parent / "fixtures" / "langs"
BUDGET = 600

# file -> {symbol path: snippets its one chunk must hold (doc comment ... last body line)}
EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    "sample.py": {
        "class Inventory > def __init__": ('"""Create an empty inventory', "self.items: dict"),
        "class Inventory > def add": ("# Adding stock is the common path", "return total"),
        "class Inventory > def parse_line": ("@staticmethod", "return sku.strip()"),
        "class Inventory > def report": ('"""Render the inventory', 'return "\\n".join'),
        "def load_inventory": ('"""Load an inventory', "return inv"),
    },
    "sample.js": {
        "class Inventory > method constructor": ("Keeps track of items", "this.items = new Map()"),
        "class Inventory > method add": ("* Add count units", "return total;"),
        "class Inventory > method report": ("/** Render the inventory", 'join("\\n")'),
        "function parseLine": ("* Parse a 'sku,count' line.", "return [sku.trim()"),
        "function loadInventory": ("// Load an inventory", "return inv;"),
    },
    "sample.ts": {
        "interface Item": ("export interface Item", "count: number;"),
        "class Inventory > method add": ("* Add count units", "return total;"),
        "class Inventory > method report": ("/** Render the inventory", 'join("\\n")'),
        "function parseLine": ("* Parse a 'sku,count' line.", "count: Number(count || 1)"),
    },
    "sample.go": {
        "type Inventory": ("// Inventory keeps track", "Items map[string]int"),
        "func New": ("// New creates", "return &Inventory{"),
        "func (*Inventory) Add": ("// Add adds count units", "return inv.Items[sku]"),
        "func (*Inventory) Report": ("// Report renders", 'strings.Join(lines, "\\n")'),
    },
    "sample.rs": {
        "struct Inventory": (
            "/// Keeps track",
            "#[derive(Debug, Default)]",
            "items: BTreeMap<String, u32>,",
        ),
        "impl Inventory > fn new": ("/// Create an empty inventory", "BTreeMap::new() }"),
        "impl Inventory > fn add": ("/// Add count units", "*total\n"),
        "impl Inventory > fn report": ("/// Render the inventory", "out\n"),
        "fn parse_line": ("/// Parse a 'sku,count' line.", "    (sku, count)\n}"),
    },
    "Sample.java": {
        "class Inventory > constructor Inventory": ("/** Create an empty", "this.name = name;"),
        "class Inventory > method add": ("* Add count units", "return total;"),
        "class Inventory > method toString": ("/** Render", "@Override", "return out.toString();"),
        "class Inventory > method parseLine": ("/** Parse a", "parts[1].trim()"),
    },
    "sample.c": {
        "struct inventory": ("/* Keeps track", "int n;\n};"),
        "function inventory_new": ("/* Create an empty", "return inv;"),
        "function inventory_add": ("/* Add count units", "return inv->counts[slot];"),
        "function inventory_print": ("/* Print the inventory", 'fprintf(out, "%d: %d\\n"'),
    },
    "sample.cpp": {
        "namespace inventory > class Inventory > function Add": (
            "// Add count units",
            "return total;",
        ),
        "namespace inventory > class Inventory > function Report": (
            "// Render",
            "return out.str();",
        ),
        "namespace inventory > function ParseLine": ("// Parse a 'sku,count' line.", "std::stoi"),
    },
    "Sample.cs": {
        "namespace Example.Inventory > class Inventory > constructor Inventory": (
            "/// <summary>Create an empty",
            "this.name = name;",
        ),
        "namespace Example.Inventory > class Inventory > method Add": (
            "Add count units",
            "return total;",
        ),
        "namespace Example.Inventory > class Inventory > method Report": (
            "Render the",
            "string.Join",
        ),
        "namespace Example.Inventory > class Inventory > method ParseLine": (
            "Parse a",
            "int.Parse",
        ),
    },
    "sample.rb": {
        "class Inventory > def initialize": ("# Create an empty inventory", "@items = Hash.new(0)"),
        "class Inventory > def add": ("# Add count units", "@items[sku]\n  end"),
        "class Inventory > def report": ("# Render the inventory", 'join("\\n")'),
        "class Inventory > def parse_line": ("# Parse a 'sku,count' line.", "to_i]"),
    },
    "sample.php": {
        "class Inventory > method __construct": (
            "* Create an empty inventory",
            "private string $name",
        ),
        "class Inventory > method add": ("* Add count units", "return $this->items[$sku];"),
        "class Inventory > method report": ("* Render the inventory", 'implode("\\n", $lines)'),
        "function parse_line": ("* Parse a 'sku,count' line.", "(int) $count]"),
    },
    "sample.kt": {
        "class Inventory > fun add": ("* Add count units", "return total"),
        "class Inventory > fun report": ("/** Render the inventory", 'joinToString("\\n")'),
        "fun parseLine": ("/** Parse a 'sku,count' line. */", "?: 1)"),
    },
    "sample.swift": {
        "class Inventory > init": ("/// Create an empty inventory", "self.name = name"),
        "class Inventory > func add": ("/// Add count units", "return total"),
        "class Inventory > func report": ("/// Render the inventory", 'joined(separator: "\\n")'),
        "func parseLine": ("/// Parse a 'sku,count' line.", "Int(parts[1]) ?? 1"),
    },
    "sample.scala": {
        "class Inventory > def add": ("/** Add count units", "    total\n  }"),
        "class Inventory > def report": ("/** Render the inventory", 'mkString("\\n")'),
        "object Inventory": ("object Inventory {", "/** Parse a 'sku,count' line. */", "else 1)"),
    },
}

# file -> snippets that must share the file's first chunk (imports and constants merged).
HEAD_MERGED: dict[str, tuple[str, ...]] = {
    "sample.py": ("import os", "from typing import Any", "MAX_ITEMS = 5000"),
    "sample.js": ('import fs from "node:fs";', "const MAX_ITEMS = 5000;"),
    "sample.ts": ('import * as fs from "node:fs";', "const MAX_ITEMS: number = 5000;"),
    "sample.go": ("package inventory", '"strings"', "const MaxItems = 5000"),
    "sample.rs": ("use std::collections::BTreeMap;", "const MAX_ITEMS: usize = 5000;"),
    "Sample.java": ("package com.example.inventory;", "import java.util.StringJoiner;"),
    "sample.c": ("#include <stdio.h>", "#define MAX_ITEMS 5000"),
    "sample.cpp": ("#include <map>", "#include <string>"),
    "Sample.cs": ("using System;", "using System.Linq;"),
    "sample.rb": ('require "csv"', "MAX_ITEMS = 5000"),
    "sample.php": ("<?php", "namespace Example\\Inventory;", "const MAX_ITEMS = 5000;"),
    "sample.kt": ("package example.inventory", "const val MAX_ITEMS = 5000"),
    "sample.swift": ("import Foundation", "let maxItems = 5000"),
    "sample.scala": ("package example.inventory", "import scala.io.Source"),
}


def _chunks(name: str, budget: int = BUDGET, **settings: int) -> tuple[bytes, list[CodeChunk]]:
    path = FIXTURES / name
    language = language_for_path(path)
    assert language is not None
    data = path.read_bytes()
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=budget, **settings))
    return data, chunk_bytes(data, language, gov, path=name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_definition_that_fits_is_one_chunk_with_its_doc_comment(name: str) -> None:
    data, chunks = _chunks(name)
    assert_contract(data, chunks, BUDGET)
    assert all(c.chunker == "semantic" for c in chunks)
    for symbol, snippets in EXPECTED[name].items():
        holders = [c for c in chunks if c.symbol == symbol]
        assert len(holders) == 1, (
            f"{symbol!r}: {len(holders)} chunks, symbols {[c.symbol for c in chunks]}"
        )
        for snippet in snippets:
            assert snippet in holders[0].content, f"{symbol!r} lacks {snippet!r}"


@pytest.mark.parametrize("name", sorted(HEAD_MERGED))
def test_small_neighbours_merge_into_one_chunk(name: str) -> None:
    _, chunks = _chunks(name, min_chunk_chars=0)
    first = chunks[0]
    for snippet in HEAD_MERGED[name]:
        assert snippet in first.content, f"{snippet!r} not merged into the first chunk"
    assert first.symbol_path == ()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_definitions_are_never_glued_together(name: str) -> None:
    """No chunk holds two of the expected definitions (one definition per chunk)."""
    _, chunks = _chunks(name)
    firsts = {symbol: snippets[-1] for symbol, snippets in EXPECTED[name].items()}
    for c in chunks:
        held = [s for s, last in firsts.items() if last in c.content]
        assert len(held) <= 1, f"chunk {c.symbol!r} holds {held}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("budget", [40, 120, 333, 1500, 100_000])
def test_contract_holds_at_every_budget(name: str, budget: int) -> None:
    data, chunks = _chunks(name, budget)
    assert_contract(data, chunks, budget)


def test_a_file_that_fits_whole_still_gets_one_chunk_per_function() -> None:
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=10_000, min_chunk_chars=0))
    src = "import os\n\n\ndef a():\n    return 1\n\n\ndef b():\n    return 2\n"
    chunks = chunk_text(src, "python", gov)
    assert [c.symbol for c in chunks] == ["", "def a", "def b"]
    assert chunks[1].content == "def a():\n    return 1\n\n\n"


def test_greedy_packing_merges_definitions_up_to_the_budget() -> None:
    src = "".join(f"def f{i}():\n    return {i}\n\n" for i in range(20))
    one = chunk_text(
        src, "python", ChunkGovernor(ChunkerSettings(max_chunk_chars=200, min_chunk_chars=0))
    )
    packed = chunk_text(
        src,
        "python",
        ChunkGovernor(ChunkerSettings(max_chunk_chars=200, packing="greedy", min_chunk_chars=0)),
    )
    assert len(one) == 20
    assert len(packed) < len(one) // 3
    assert "".join(c.content for c in packed) == src
    assert all(len(c.content) <= 200 for c in packed)


def test_big_function_is_split_at_statements_with_its_symbol_path() -> None:
    body = "".join(f"    value_{i} = compute({i}, 'padding padding padding')\n" for i in range(60))
    src = f"class Big:\n    def run(self):\n{body}        return 1\n"
    src = (
        "class Big:\n    def run(self):\n" + body.replace("    ", "        ") + "        return 1\n"
    )
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=500))
    chunks = chunk_text(src, "python", gov)
    assert_contract(src.encode(), chunks, 500)
    assert len(chunks) > 5
    assert all(c.symbol == "class Big > def run" for c in chunks)
    # Cuts fall at line starts: every chunk but the last ends with a newline.
    assert all(c.content.endswith("\n") for c in chunks)


def test_huge_flat_literal_is_cut_near_the_budget_at_line_starts() -> None:
    entries = "".join(f"    'key{i}': {i},\n" for i in range(5000))
    src = "TABLE = {\n" + entries + "}\n"
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=1500))
    chunks = chunk_text(src, "python", gov)
    assert_contract(src.encode(), chunks, 1500)
    sizes = [len(c.content) for c in chunks[:-1]]
    assert min(sizes) > 750, "pieces of a flat literal should be at least half full"
    assert all(c.content.endswith("\n") for c in chunks)


def test_error_nodes_are_chunked_not_refused() -> None:
    src = (
        "def ok():\n    return 1\n\n\ndef broken(:\n    return )))\n\n\ndef fine():\n    return 2\n"
    )
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=1500, min_chunk_chars=0))
    chunks = chunk_text(src, "python", gov)
    assert_contract(src.encode(), chunks, 1500)
    assert chunks[0].chunker == "semantic"
    assert any(c.symbol == "def ok" for c in chunks)
    assert any(c.symbol == "def fine" for c in chunks)


def test_token_budget_with_a_custom_counter() -> None:
    def words(text: str) -> int:
        return len(text.split())

    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=30), token_counter=words)
    data = (FIXTURES / "sample.py").read_bytes()
    chunks = chunk_bytes(data, "python", gov)
    assert_contract(data, chunks, 30, size=words)
    assert any(c.symbol == "class Inventory > def add" for c in chunks)


def test_a_function_pushed_over_only_by_its_doc_comment_stays_whole() -> None:
    doc = "".join(f"# note {i}: a long explanation of the function below\n" for i in range(12))
    body = "".join(f"    x{i} = {i}\n" for i in range(20))
    src = f"{doc}def f():\n{body}    return x0\n"
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=600))
    chunks = chunk_text(src, "python", gov)
    assert_contract(src.encode(), chunks, 600)
    whole = [c for c in chunks if "def f():" in c.content]
    assert len(whole) == 1 and whole[0].content.endswith("return x0\n")
    # As much of the doc comment as fits stays with it; the rest carries its symbol path.
    assert whole[0].content.startswith("# note ")
    assert all(c.symbol == "def f" for c in chunks)


def test_trailing_blank_lines_do_not_split_a_function_that_fits() -> None:
    body = "".join(f"    value = {i}\n" for i in range(28))
    fn = f"def f():\n{body}"
    assert len(fn) <= 500
    src = fn + "\n" * (520 - len(fn)) + "def g():\n    return 1\n"
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=500))
    chunks = chunk_text(src, "python", gov)
    assert_contract(src.encode(), chunks, 500)
    assert any(c.content.startswith(fn) and c.symbol == "def f" for c in chunks)


def test_definitions_inside_a_parse_error_are_still_one_chunk_each() -> None:
    funcs = "".join(f"def f{i}(a, b):\n    return a + b + {i}\n\n\n" for i in range(40))
    src = "class Broken(:\n" + funcs.replace("\ndef", "\n    def").replace(
        "\n    return", "\n        return"
    )
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=300))
    chunks = chunk_text(src, "python", gov)
    assert_contract(src.encode(), chunks, 300)
    for i in range(1, 40):
        assert sum(f"def f{i}(a, b):" in c.content for c in chunks) == 1


def test_methods_in_a_big_javascript_object_literal_are_one_chunk_each() -> None:
    methods = "".join(
        f"    on{i}(node) {{\n      if (node.a) {{ report(node, {i}); }}\n    }},\n"
        for i in range(40)
    )
    src = (
        f"module.exports = {{\n  create(context) {{\n    return {{\n{methods}    }};\n  }},\n}};\n"
    )
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=400))
    chunks = chunk_text(src, "javascript", gov)
    assert_contract(src.encode(), chunks, 400)
    for i in range(40):
        holders = [c for c in chunks if f"on{i}(node) {{" in c.content]
        assert len(holders) == 1 and f"report(node, {i}); }}\n    }}," in holders[0].content
