"""The language table, detection by name/extension/shebang/head, and the parser cache."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from pathlib import Path, PurePosixPath

import pytest

from codeweaver.core.errors import CodeWeaverError, UnsupportedLanguageError
from codeweaver.core.languages import (
    LANGUAGES,
    TEXT,
    LanguageInfo,
    get_language,
    get_parser,
    has_grammar,
    iter_languages,
    language_for_path,
    pack_grammars,
)

EXTENSIONS = [
    ("main.py", "python"),
    ("stubs/mod.pyi", "python"),
    ("app.js", "javascript"),
    ("esm.mjs", "javascript"),
    ("cjs.cjs", "javascript"),
    ("Button.jsx", "javascript"),
    ("index.ts", "typescript"),
    ("types/index.d.ts", "typescript"),
    ("mod.mts", "typescript"),
    ("App.tsx", "tsx"),
    ("main.go", "go"),
    ("lib.rs", "rust"),
    ("Main.java", "java"),
    ("main.c", "c"),
    ("util.cpp", "cpp"),
    ("util.cc", "cpp"),
    ("util.cxx", "cpp"),
    ("util.hpp", "cpp"),
    ("util.hh", "cpp"),
    ("Program.cs", "csharp"),
    ("app.rb", "ruby"),
    ("tasks.rake", "ruby"),
    ("x.gemspec", "ruby"),
    ("index.php", "php"),
    ("Main.kt", "kotlin"),
    ("build.gradle.kts", "kotlin"),
    ("App.swift", "swift"),
    ("Main.scala", "scala"),
    ("build.sbt", "scala"),
    ("run.sh", "bash"),
    ("env.bash", "bash"),
    ("style.css", "css"),
    ("style.scss", "scss"),
    ("page.html", "html"),
    ("data.json", "json"),
    ("conf.yaml", "yaml"),
    ("conf.yml", "yaml"),
    ("pyproject.toml", "toml"),
    ("query.sql", "sql"),
    ("script.lua", "lua"),
    ("main.zig", "zig"),
    ("mod.ex", "elixir"),
    ("mod.exs", "elixir"),
    ("Main.hs", "haskell"),
    ("main.ml", "ocaml"),
    ("main.mli", "ocaml_interface"),
    ("main.dart", "dart"),
    ("analysis.r", "r"),
    ("analysis.R", "r"),
    ("main.jl", "julia"),
    ("schema.proto", "proto"),
    ("schema.graphql", "graphql"),
    ("main.tf", "terraform"),
    ("default.nix", "nix"),
    ("App.vue", "vue"),
    ("App.svelte", "svelte"),
    ("pom.xml", "xml"),
    ("layout.xml", "xml"),
    ("README.md", "markdown"),
    ("notes.markdown", "markdown"),
    ("index.rst", "rst"),
    ("notes.txt", TEXT),
    ("kernel.cu", "cuda"),
    ("view.erb", "embeddedtemplate"),
    ("rules.bzl", "starlark"),
    ("x.tftest.hcl", "terraform"),
    ("x.hcl", "hcl"),
    ("script.ps1", "powershell"),
    ("Contract.sol", "solidity"),
    ("main.odin", "odin"),
]


@pytest.mark.parametrize(("path", "language"), EXTENSIONS)
def test_extension(path: str, language: str) -> None:
    assert language_for_path(path) == language


def test_extension_table_is_broad() -> None:
    assert len(EXTENSIONS) >= 40
    common = {"python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp"}
    common |= {"csharp", "ruby", "php", "kotlin", "swift", "scala", "bash"}
    assert common <= {lang for _, lang in EXTENSIONS}


@pytest.mark.parametrize("path", ["MAIN.PY", "Lib.RS", "X.D.TS", "Notes.MD", "a/B.Java"])
def test_extension_is_case_insensitive(path: str) -> None:
    lower = PurePosixPath(path).name.lower()
    assert language_for_path(path) == language_for_path(lower) is not None


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("Makefile", "make"),
        ("GNUmakefile", "make"),
        ("makefile", "make"),
        ("Makefile.am", "make"),
        ("Dockerfile", "dockerfile"),
        ("Dockerfile.dev", "dockerfile"),
        ("api.dockerfile", "dockerfile"),
        ("CMakeLists.txt", "cmake"),
        ("Gemfile", "ruby"),
        ("Rakefile", "ruby"),
        ("Vagrantfile", "ruby"),
        ("BUILD", "starlark"),
        ("BUILD.bazel", "starlark"),
        ("WORKSPACE", "starlark"),
        ("MODULE.bazel", "starlark"),
        ("go.mod", "gomod"),
        ("go.sum", "gosum"),
        (".gitignore", "gitignore"),
        (".dockerignore", "gitignore"),
        (".gitattributes", "gitattributes"),
        ("requirements.txt", "requirements"),
        ("requirements-dev.txt", "requirements"),
        ("MANIFEST.in", "pymanifest"),
        ("Cargo.lock", "toml"),
        ("Jenkinsfile", "groovy"),
        ("meson.build", "meson"),
        ("Kconfig", "kconfig"),
        ("qmldir", "qmldir"),
        (".bashrc", "bash"),
        ("setup.cfg", "ini"),
        ("README", TEXT),
        ("LICENSE", TEXT),
        ("LICENSE-MIT", TEXT),
        ("CHANGELOG", TEXT),
        ("LICENSE.txt", TEXT),
        ("deep/dir/Makefile", "make"),
        (".env", "properties"),
        (".env.local", "properties"),
        (".env.py", "python"),  # the extension says more
    ],
)
def test_well_known_filename(path: str, language: str) -> None:
    assert language_for_path(path) == language


def test_filename_beats_extension() -> None:
    # ".txt" alone is text; these names say more
    assert language_for_path("CMakeLists.txt") == "cmake"
    assert language_for_path("requirements.txt") == "requirements"
    assert language_for_path("meson_options.txt") == "meson"


@pytest.mark.parametrize(
    "head",
    [
        b"#pragma once\nnamespace geo {\nstruct P { int x; };\n}\n",
        b"#include <vector>\nint f();\n",
        b"#include <iostream>\n",
        b"template <typename T>\nT max(T a, T b);\n",
        b"class Widget : public Base {\n public:\n  void draw();\n};\n",
        b"void f(std::string s);\n",
    ],
)
def test_h_header_that_looks_like_cpp(head: bytes) -> None:
    assert language_for_path("include/x.h", head) == "cpp"


@pytest.mark.parametrize(
    "head",
    [
        b"#ifndef X_H\n#define X_H\n#include <stdio.h>\nint f(void);\n#endif\n",
        b"typedef struct point { int x, y; } point_t;\n",
        b'#ifdef __cplusplus\nextern "C" {\n#endif\nint g(int);\n',
        b"",
    ],
)
def test_h_header_that_looks_like_c(head: bytes) -> None:
    assert language_for_path("include/x.h", head) == "c"


def test_h_header_without_head_is_c() -> None:
    assert language_for_path("x.h") == "c"


@pytest.mark.parametrize(
    ("head", "language"),
    [
        (b"#!/usr/bin/env python3\nprint(1)\n", "python"),
        (b"#!/usr/bin/python3.11\n", "python"),
        (b"#!/bin/bash\nset -e\n", "bash"),
        (b"#!/bin/sh\n", "bash"),
        (b"#! /usr/bin/env zsh\n", "bash"),
        (b"#!/usr/bin/env node\n", "javascript"),
        (b"#!/usr/bin/env -S node --no-warnings\n", "javascript"),
        (b"#!/usr/bin/env ruby\n", "ruby"),
        (b"#!/usr/bin/perl -w\n", "perl"),
        (b"#!/usr/bin/env php\n", "php"),
        (b"\xef\xbb\xbf#!/usr/bin/env python\n", "python"),
        (b"#!/usr/bin/env unknown-interpreter\n", None),
        (b"no shebang here\n", None),
    ],
)
def test_shebang_names_an_extensionless_script(head: bytes, language: str | None) -> None:
    assert language_for_path("bin/tool", head) == language


def test_shebang_does_not_override_a_known_extension() -> None:
    assert language_for_path("tool.rb", b"#!/usr/bin/env python3\n") == "ruby"


def test_shebang_beats_the_text_name_rule() -> None:
    assert language_for_path("install", b"#!/bin/sh\n") == "bash"
    assert language_for_path("INSTALL") == TEXT


@pytest.mark.parametrize(
    ("path", "head", "language"),
    [
        ("a.m", b"#import <Foundation/Foundation.h>\n@interface A\n@end\n", "objc"),
        ("a.m", b"function y = f(x)\n  y = x;\nend\n", "matlab"),
        ("a.m", None, "objc"),
        ("q.scm", b"(function_definition name: (identifier) @name) @def\n", "query"),
        ("q.scm", b"(define (square x) (* x x))\n", "scheme"),
        (
            "top.v",
            b"module top(input clk);\n  always @(posedge clk) begin end\nendmodule\n",
            "verilog",
        ),
        ("main.v", b"module main\n\nfn main() {\n\tprintln('hi')\n}\n", "v"),
        ("Foo.cls", b"public class Foo {\n}\n", "apex"),
        ("foo.cls", b"\\NeedsTeXFormat{LaTeX2e}\n\\ProvidesClass{foo}\n", "latex"),
        ("strings.ts", b'<?xml version="1.0"?>\n<!DOCTYPE TS>\n<TS></TS>\n', "xml"),
        ("strings.ts", b"export const x = 1;\n", "typescript"),
    ],
)
def test_head_settles_ambiguous_extensions(path: str, head: bytes | None, language: str) -> None:
    assert language_for_path(path, head) == language


@pytest.mark.parametrize("path", ["data.xyz", "noextension", "archive.tar.zz", "", "dir/", "a."])
def test_unknown_is_none(path: str) -> None:
    assert language_for_path(path) is None


def test_accepts_path_objects() -> None:
    assert language_for_path(Path("src") / "main.rs") == "rust"
    assert language_for_path(PurePosixPath("x/y/z.go")) == "go"


def test_every_pack_grammar_is_in_the_table() -> None:
    names = pack_grammars()
    assert len(names) >= 160
    missing = [n for n in names if n not in LANGUAGES]
    assert missing == []


def test_table_entries_are_consistent() -> None:
    seen_ext: dict[str, str] = {}
    for info in iter_languages():
        assert LANGUAGES[info.name] is info
        assert info.grammar in (None, info.name)
        for ext in info.extensions:
            assert ext.startswith(".") and ext == ext.lower(), ext
            assert seen_ext.setdefault(ext, info.name) == info.name, ext
            # every listed extension resolves to its language (unless a filename rule is
            # more specific, e.g. ".gitignore")
            assert language_for_path("file" + ext) == info.name, ext
        for fname in info.filenames:
            assert language_for_path(fname) == info.name, fname


def test_delimiter_only_kinds_have_no_grammar() -> None:
    for name in ("markdown", "rst", TEXT):
        assert LANGUAGES[name].grammar is None
        assert not has_grammar(name)
    assert LANGUAGES["python"].grammar == "python"
    assert has_grammar("python")
    assert not has_grammar("no-such-language")


def test_iter_languages_is_sorted_and_infos_are_frozen() -> None:
    names = [info.name for info in iter_languages()]
    assert names == sorted(names)
    assert list(LANGUAGES) == names
    info = LANGUAGES["go"]
    assert isinstance(info, LanguageInfo)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "other"  # type: ignore[misc]


SNIPPETS = {
    "python": b"def f(x):\n    return x + 1\n",
    "javascript": b"function f(x) { return x + 1; }\n",
    "typescript": b"function f(x: number): number { return x + 1; }\n",
    "tsx": b"const A = () => <div className='a'>hi</div>;\n",
    "go": b"package main\n\nfunc f(x int) int { return x + 1 }\n",
    "rust": b"fn f(x: i32) -> i32 { x + 1 }\n",
    "java": b"class A { int f(int x) { return x + 1; } }\n",
    "c": b"int f(int x) { return x + 1; }\n",
    "cpp": b"namespace n { template <class T> T f(T x) { return x; } }\n",
    "csharp": b"class A { int F(int x) { return x + 1; } }\n",
    "ruby": b"def f(x)\n  x + 1\nend\n",
    "php": b"<?php function f($x) { return $x + 1; }\n",
    "kotlin": b"fun f(x: Int): Int = x + 1\n",
    "swift": b"func f(x: Int) -> Int { return x + 1 }\n",
    "scala": b"object A { def f(x: Int): Int = x + 1 }\n",
    "bash": b"f() { echo $(( $1 + 1 )); }\n",
}


@pytest.mark.parametrize("language", sorted(SNIPPETS))
def test_parser_parses_a_snippet(language: str) -> None:
    tree = get_parser(language).parse(SNIPPETS[language])
    root = tree.root_node
    assert not root.has_error, root
    assert root.end_byte == len(SNIPPETS[language])
    assert root.child_count > 0


def test_every_grammar_in_the_table_loads() -> None:
    for info in iter_languages():
        if info.grammar is not None:
            assert get_language(info.name) is not None, info.name


def test_parsers_are_cached_per_thread_languages_per_process() -> None:
    assert get_parser("python") is get_parser("python")
    assert get_language("go") is get_language("go")
    seen: dict[str, object] = {}

    def in_thread() -> None:
        seen["parser"] = get_parser("python")
        seen["again"] = get_parser("python")
        seen["language"] = get_language("python")

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert seen["parser"] is seen["again"]
    assert seen["parser"] is not get_parser("python")  # a parser is not shared between threads
    assert seen["language"] is get_language("python")


@pytest.mark.parametrize("name", ["markdown", "rst", TEXT, "no-such-language", ""])
def test_get_parser_rejects_unknown_and_delimiter_only(name: str) -> None:
    with pytest.raises(UnsupportedLanguageError) as info:
        get_parser(name)
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, CodeWeaverError)
    with pytest.raises(UnsupportedLanguageError):
        get_language(name)


def test_import_is_cheap() -> None:
    """Importing the table loads neither the grammar pack nor tree-sitter."""
    code = (
        "import sys, codeweaver.core.languages as L\n"
        "assert L.language_for_path('a.py') == 'python'\n"
        "print('tree_sitter_language_pack' in sys.modules, 'tree_sitter' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]
