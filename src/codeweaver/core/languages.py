"""The language table: file name → language, and a per-process parser cache.

A language name is the name of its grammar in ``tree-sitter-language-pack`` (``python``,
``typescript``, ``tsx``, ``cpp``, ``csharp``, ...). Every grammar the pack ships has an entry in
:data:`LANGUAGES`; a few plain-text kinds (``markdown``, ``rst``, ``text``) have entries with
``grammar=None``: the delimiter chunker cuts them (at headings), not a parser.

:func:`language_for_path` resolves, in this order (first hit wins):

1. the exact file name (``Makefile``, ``CMakeLists.txt``, ``go.mod``, ``BUILD``, ``.gitignore``),
   then file-name patterns (``Dockerfile.dev``, ``requirements-dev.txt``, ``Makefile.am``);
2. the extension, case-insensitive, longest first (``x.d.ts`` is ``typescript``);
3. ``.env`` files (``.env.local``: ``properties``), then the shebang in ``head``
   (``#!/usr/bin/env python3``) for files 1 and 2 did not name;
4. last, extensionless documents (``README``, ``LICENSE-MIT``, ``CHANGELOG``) are ``text``.

``head`` (the first bytes of the file) also settles the ambiguous extensions: ``.h`` is ``cpp``
when the head looks like C++ and ``c`` otherwise; ``.m`` is ``objc`` or ``matlab``; ``.v`` is
``verilog`` or ``v``; ``.scm`` is ``scheme`` or a tree-sitter ``query``; ``.cls`` is ``apex`` or
``latex``.

The grammar pack is imported only here, and only when a parser is first asked for, so importing
this module is cheap and a move to another grammar source touches one file. Languages are cached
per process and parsers per thread; neither is ever shipped between processes (they do not
pickle).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, AnyStr, Generic

from codeweaver.core.errors import UnsupportedLanguageError

if TYPE_CHECKING:
    from tree_sitter import Language, Parser

__all__ = [
    "LANGUAGES",
    "TEXT",
    "LanguageInfo",
    "get_language",
    "get_parser",
    "has_grammar",
    "iter_languages",
    "language_for_path",
    "pack_grammars",
    "resolve_language",
]

TEXT = "text"
"""The language of plain text: ``.txt``, README/LICENSE-style files, and (in discovery) any text
file no rule names."""


@dataclass(frozen=True)
class LanguageInfo:
    """One language: its name, the grammar to parse it with (None: delimiter chunker only), and
    the extensions (lower case, with the dot) and exact file names that select it."""

    name: str
    grammar: str | None
    extensions: tuple[str, ...]
    filenames: tuple[str, ...]


# name: (extensions, exact file names), each a space-separated list. Names are the pack's grammar
# names; extensions are lower case, with the dot. An extension listed twice fails at import.
_GRAMMARS: dict[str, tuple[str, str]] = {
    "actionscript": (".as", ""),
    "ada": (".adb .ads .ada", ""),
    "agda": (".agda", ""),
    "apex": (".cls .trigger .apex", ""),
    "arduino": (".ino .pde", ""),
    "asm": (".asm .s .nasm", ""),
    "astro": (".astro", ""),
    "bash": (
        ".sh .bash .zsh .ksh .bats .ebuild .eclass",
        ".bashrc .bash_profile .bash_logout .profile .zshrc .zprofile .zshenv PKGBUILD APKBUILD",
    ),
    "beancount": (".beancount .bean", ""),
    "bibtex": (".bib", ""),
    "bicep": (".bicep .bicepparam", ""),
    "bitbake": (".bb .bbappend .bbclass", ""),
    "bsl": (".bsl .os", ""),
    "c": (".c .h", ""),
    "cairo": (".cairo", ""),
    "capnp": (".capnp", ""),
    "chatito": (".chatito", ""),
    "clarity": (".clar", ""),
    "clojure": (".clj .cljs .cljc .cljd .edn", ""),
    "cmake": (".cmake", "CMakeLists.txt"),
    "cobol": (".cbl .cob .cpy .cobol", ""),
    "comment": ("", ""),
    "commonlisp": (".lisp .lsp .cl .asd", ""),
    "cpon": (".cpon", ""),
    "cpp": (".cc .cpp .cxx .c++ .cp .hpp .hh .hxx .h++ .ipp .tpp .txx .inl .ixx .cppm", ""),
    "csharp": (".cs .csx", ""),
    "css": (".css", ""),
    "csv": (".csv", ""),
    "cuda": (".cu .cuh", ""),
    "d": (".d .di", ""),
    "dart": (".dart", ""),
    "dockerfile": (".dockerfile .containerfile", "Dockerfile Containerfile"),
    "doxygen": ("", ""),
    "dtd": (".dtd", ""),
    "elisp": (".el", ".emacs _emacs"),
    "elixir": (".ex .exs", ""),
    "elm": (".elm", ""),
    "embeddedtemplate": (".erb .ejs .eex", ""),
    "erlang": (".erl .hrl .escript .app.src", "rebar.config"),
    "fennel": (".fnl", ""),
    "firrtl": (".fir", ""),
    "fish": (".fish", ""),
    "fortran": (".f .for .f77 .f90 .f95 .f03 .f08 .fpp", ""),
    "fsharp": (".fs .fsx", ""),
    "fsharp_signature": (".fsi", ""),
    "func": (".fc .func", ""),
    "gdscript": (".gd", ""),
    "gitattributes": (".gitattributes", ".gitattributes"),
    "gitcommit": ("", "COMMIT_EDITMSG MERGE_MSG TAG_EDITMSG"),
    "gitignore": (
        ".gitignore",
        ".gitignore .codeweaverignore .dockerignore .ignore .rgignore .npmignore .prettierignore "
        ".eslintignore .hgignore",
    ),
    "gleam": (".gleam", ""),
    "glsl": (".glsl .vert .frag .geom .tesc .tese .comp", ""),
    "gn": (".gn .gni", ""),
    "go": (".go", ""),
    "gomod": ("", "go.mod go.work"),
    "gosum": ("", "go.sum go.work.sum"),
    "graphql": (".graphql .gql .graphqls", ""),
    "groovy": (".groovy .gradle .gvy .gy .gsh", "Jenkinsfile"),
    "gstlaunch": ("", ""),
    "hack": (".hack .hck", ""),
    "hare": (".ha", ""),
    "haskell": (".hs .hs-boot .hsc", ""),
    "haxe": (".hx .hxml", ""),
    "hcl": (".hcl .nomad", ""),
    "heex": (".heex", ""),
    "hlsl": (".hlsl .hlsli .fx .fxh", ""),
    "html": (".html .htm .xhtml .shtml", ""),
    "hyprlang": ("", "hyprland.conf hyprpaper.conf hypridle.conf hyprlock.conf"),
    "ini": (
        ".ini .cfg .editorconfig .gitconfig .gitmodules .npmrc .pylintrc .flake8 .coveragerc "
        ".desktop .service .socket .timer .mount",
        ".editorconfig .gitconfig .gitmodules .npmrc .pylintrc .flake8 .coveragerc setup.cfg "
        "tox.ini pytest.ini mypy.ini",
    ),
    "ispc": (".ispc .isph", ""),
    "janet": (".janet .jdn", ""),
    "java": (".java .jav", ""),
    "javascript": (".js .mjs .cjs .jsx .es6", ""),
    "jsdoc": ("", ""),
    "json": (
        ".json .jsonc .json5 .geojson .topojson .jsonl .webmanifest .babelrc .eslintrc "
        ".prettierrc .har .avsc",
        ".babelrc .eslintrc .prettierrc .jshintrc composer.lock flake.lock Pipfile.lock .luaurc",
    ),
    "jsonnet": (".jsonnet .libsonnet", ""),
    "julia": (".jl", ""),
    "kconfig": (".kconfig", "Kconfig Kconfig.debug"),
    "kdl": (".kdl", ""),
    "kotlin": (".kt .kts .ktm", ""),
    "latex": (".tex .sty .ltx .dtx .ins .bbx .cbx", ""),
    "linkerscript": (".ld .lds", ""),
    "llvm": (".ll", ""),
    "lua": (".lua .rockspec .wlua", ".luacheckrc"),
    "luadoc": ("", ""),
    "luap": ("", ""),
    "luau": (".luau", ""),
    "make": (".mk .mak .make .mkfile", "Makefile makefile GNUmakefile BSDmakefile Kbuild"),
    "markdown": (".md .markdown .mdown .mkd .mkdn .mdx .ronn", ""),
    "markdown_inline": ("", ""),
    "matlab": (".matlab", ""),
    "mermaid": (".mmd .mermaid", ""),
    "meson": (".meson", "meson.build meson_options.txt meson.options"),
    "netlinx": (".axs .axi", ""),
    "nim": (".nim .nims .nimble", ""),
    "ninja": (".ninja", ""),
    "nix": (".nix", ""),
    "nqc": (".nqc", ""),
    "objc": (".m .mm", ""),
    "ocaml": (".ml .mll .mly", ""),
    "ocaml_interface": (".mli", ""),
    "odin": (".odin", ""),
    "org": (".org", ""),
    "pascal": (".pas .dpr .lpr .dfm .pp", ""),
    "pem": (".pem .crt .cer .csr", ""),
    "perl": (".pl .pm .t .pod .psgi .perl", ""),
    "pgn": (".pgn", ""),
    "php": (".php .phtml .php3 .php4 .php5 .php7 .phps .phpt", ""),
    "po": (".po .pot", ""),
    "pony": (".pony", ""),
    "powershell": (".ps1 .psm1 .psd1", ""),
    "printf": ("", ""),
    "prisma": (".prisma", ""),
    "properties": (".properties", "gradle.properties"),
    "proto": (".proto", ""),
    "psv": (".psv", ""),
    "puppet": (".epp", ""),
    "purescript": (".purs", ""),
    "pymanifest": ("", "MANIFEST.in"),
    "python": (".py .pyi .pyw .py3 .gyp .gypi .wsgi", "SConstruct SConscript"),
    "qmldir": ("", "qmldir"),
    "qmljs": (".qml .qmltypes", ""),
    "query": ("", ""),
    "r": (".r .rprofile", ".Rprofile"),
    "racket": (".rkt .rktl .rktd .scrbl", ""),
    "re2c": (".re .re2c", ""),
    "readline": ("", ".inputrc inputrc"),
    "rego": (".rego", ""),
    "requirements": ("", "requirements.txt requirements.in constraints.txt"),
    "ron": (".ron", ""),
    "rst": (".rst .rest", ""),
    "ruby": (
        ".rb .rake .gemspec .ru .rbw .jbuilder .podspec .thor .rabl",
        "Gemfile Rakefile Guardfile Capfile Vagrantfile Podfile Fastfile Brewfile Berksfile "
        "Thorfile .irbrc .pryrc",
    ),
    "rust": (".rs", ""),
    "scala": (".scala .sc .sbt", ""),
    "scheme": (".scm .ss .sld .sls .sps", ""),
    "scss": (".scss", ""),
    "smali": (".smali", ""),
    "smithy": (".smithy", ""),
    "solidity": (".sol", ""),
    "sparql": (".sparql .rq", ""),
    "sql": (".sql .ddl .dml .pgsql .psql .mysql", ""),
    "squirrel": (".nut", ""),
    "starlark": (
        ".bzl .star .bazel .sky",
        "BUILD BUILD.bazel WORKSPACE WORKSPACE.bazel WORKSPACE.bzlmod MODULE.bazel Tiltfile BUCK",
    ),
    "svelte": (".svelte", ""),
    "swift": (".swift", ""),
    "tablegen": (".td", ""),
    "tcl": (".tcl .tk .itcl", ""),
    "terraform": (".tf .tfvars .tftest.hcl", ""),
    "test": ("", ""),
    "thrift": (".thrift", ""),
    "toml": (".toml", "Cargo.lock Pipfile poetry.lock uv.lock pdm.lock Gopkg.lock"),
    "tsv": (".tsv .tab", ""),
    "tsx": (".tsx", ""),
    "twig": (".twig", ""),
    "typescript": (".ts .mts .cts .d.ts .d.mts .d.cts", ""),
    "typst": (".typ", ""),
    "udev": (".rules", ""),
    "ungrammar": (".ungram", ""),
    "uxntal": (".tal", ""),
    "v": (".vv .vsh", "v.mod"),
    "verilog": (".v .sv .svh .vh .veo", ""),
    "vhdl": (".vhd .vhdl .vho", ""),
    "vim": (".vim .vimrc", ".vimrc _vimrc .gvimrc .exrc"),
    "vue": (".vue", ""),
    "wast": (".wast", ""),
    "wat": (".wat", ""),
    "wgsl": (".wgsl", ""),
    "xcompose": (".xcompose", ".XCompose XCompose"),
    "xml": (
        ".xml .xsd .xsl .xslt .svg .plist .csproj .vbproj .fsproj .props .targets .resx .xaml "
        ".wsdl .rss .atom .xib .storyboard .nuspec .pom .kml .gpx .xliff .xlf .iml",
        "pom.xml",
    ),
    "yaml": (".yaml .yml", ".clang-format .clang-tidy .yamllint CITATION.cff"),
    "yuck": (".yuck", ""),
    "zig": (".zig .zon", ""),
    "magik": (".magik", ""),
}

# Kinds with a grammar in the pack that codeweaver still cuts with the delimiter chunker.
_DELIMITER_ONLY = frozenset({"markdown", "rst"})

_TEXT_EXTENSIONS = (".txt", ".text", ".adoc", ".asciidoc", ".rdoc", ".textile", ".log")
_TEXT_FILENAMES = (
    "README LICENSE LICENCE COPYING COPYRIGHT CHANGELOG CHANGES HISTORY NEWS AUTHORS CONTRIBUTORS "
    "MAINTAINERS NOTICE PATENTS TODO INSTALL THANKS CODEOWNERS OWNERS VERSION"
)


class _LazyRe(Generic[AnyStr]):
    """A regular expression compiled on first use, so importing this module stays cheap."""

    __slots__ = ("_flags", "_pattern", "_rx")

    def __init__(self, pattern: AnyStr, flags: int = 0) -> None:
        self._pattern: AnyStr = pattern
        self._flags = flags
        self._rx: re.Pattern[AnyStr] | None = None

    def _get(self) -> re.Pattern[AnyStr]:
        if self._rx is None:
            self._rx = re.compile(self._pattern, self._flags)
        return self._rx

    def search(self, text: AnyStr) -> re.Match[AnyStr] | None:
        return self._get().search(text)

    def match(self, text: AnyStr) -> re.Match[AnyStr] | None:
        return self._get().match(text)

    def fullmatch(self, text: AnyStr) -> re.Match[AnyStr] | None:
        return self._get().fullmatch(text)


# File-name patterns, tried after exact names and before extensions (``CMakeLists.txt`` and
# ``requirements-dev.txt`` must not fall to ``.txt``).
_NAME_PATTERNS: tuple[tuple[_LazyRe[str], str], ...] = (
    (
        _LazyRe(r"(?:Docker|Container)file(?:[.-].+)?|.+\.(?:docker|container)file", re.I),
        "dockerfile",
    ),
    (_LazyRe(r"(?:.*[._-])?requirements(?:[._-].*)?\.(?:txt|in)", re.I), "requirements"),
    (_LazyRe(r"(?:GNU|BSD)?[Mm]akefile(?:\..+)?"), "make"),
    (_LazyRe(r"CMakeLists\.txt", re.I), "cmake"),
    (_LazyRe(r"Jenkinsfile(?:\..+)?"), "groovy"),
    (_LazyRe(r"BUILD\.bazel|WORKSPACE(?:\..+)?|.*\.BUILD"), "starlark"),
)

# Tried after extensions: ``.env.local`` is KEY=value, ``.env.py`` is Python.
_DOTENV = _LazyRe(r"\.env(?:\..+)?")


# Extensionless documents (``README``, ``LICENSE-MIT``, ``CHANGELOG``), tried last: an extension
# (``README.md``) or a shebang (an ``install`` script) says more.
_TEXT_NAME = _LazyRe(
    r"(?:README|LICEN[CS]E|COPYING|COPYRIGHT|CHANGELOG|CHANGES|HISTORY|NEWS|AUTHORS|CONTRIBUTORS|"
    r"NOTICE|TODO|INSTALL|THANKS)(?:[_-][^.]*)?",
    re.I,
)


def _build() -> tuple[Mapping[str, LanguageInfo], dict[str, str], dict[str, str], int]:
    infos: dict[str, LanguageInfo] = {}
    for name, (exts, names) in _GRAMMARS.items():
        grammar = None if name in _DELIMITER_ONLY else name
        infos[name] = LanguageInfo(name, grammar, tuple(exts.split()), tuple(names.split()))
    infos[TEXT] = LanguageInfo(TEXT, None, _TEXT_EXTENSIONS, tuple(_TEXT_FILENAMES.split()))
    by_ext: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for info in infos.values():
        for ext in info.extensions:
            if by_ext.setdefault(ext, info.name) != info.name:
                raise AssertionError(f"extension {ext} listed twice")
        for fname in info.filenames:
            by_name.setdefault(fname, info.name)
    max_dots = max(ext.count(".") for ext in by_ext)
    ordered = dict(sorted(infos.items()))
    return MappingProxyType(ordered), by_ext, by_name, max_dots


LANGUAGES: Mapping[str, LanguageInfo]
"""Every language codeweaver knows, by name (sorted): every grammar of the pack, plus ``text``."""
LANGUAGES, _BY_EXT, _BY_NAME, _MAX_EXT_DOTS = _build()


# Names people use for a language that are neither its name here nor one of its extensions
# (extensions work too: "py", ".rs", "yml").
_ALIASES: dict[str, str] = {
    "golang": "go",
    "python3": "python",
    "py3": "python",
    "node": "javascript",
    "nodejs": "javascript",
    "ecmascript": "javascript",
    "c++": "cpp",
    "cplusplus": "cpp",
    "c#": "csharp",
    "c-sharp": "csharp",
    "f#": "fsharp",
    "shell": "bash",
    "sh": "bash",
    "objective-c": "objc",
    "objectivec": "objc",
    "obj-c": "objc",
    "plaintext": "text",
    "plain": "text",
    "docker": "dockerfile",
    "makefile": "make",
    "emacs-lisp": "elisp",
    "common-lisp": "commonlisp",
    "protobuf": "proto",
}


@cache
def resolve_language(name: str) -> str | None:
    """The language ``name`` means, or None when it means none codeweaver knows.

    Case does not matter (``Python``), and common aliases (``golang``, ``c++``, ``shell``) and
    extensions (``py``, ``.rs``, ``yml``) are accepted.

    Example:
        >>> resolve_language("Python"), resolve_language("golang"), resolve_language(".rs")
        ('python', 'go', 'rust')
        >>> resolve_language("klingon") is None
        True
    """
    key = name.strip().lower()
    if key in LANGUAGES:
        return key
    alias = _ALIASES.get(key)
    if alias is not None and alias in LANGUAGES:
        return alias
    return _BY_EXT.get(key if key.startswith(".") else "." + key)


def iter_languages() -> Iterator[LanguageInfo]:
    """Yield every :class:`LanguageInfo`, sorted by name."""
    yield from LANGUAGES.values()


def has_grammar(language: str) -> bool:
    """True if ``language`` is parsed with a tree-sitter grammar (False for delimiter-only kinds
    and unknown names)."""
    info = LANGUAGES.get(language)
    return info is not None and info.grammar is not None


# --------------------------------------------------------------------------------------------
# detection


def language_for_path(path: str | os.PathLike[str], head: bytes | None = None) -> str | None:
    """Return the language of the file at ``path``, or None when no rule names it.

    ``head`` is the first bytes of the file (optional); it settles ambiguous extensions and names
    extensionless scripts by their shebang. Only the name is looked at, never the disk.

    Example:
        >>> language_for_path("src/app/main.d.ts"), language_for_path("Makefile")
        ('typescript', 'make')
        >>> language_for_path("tools/run", b"#!/usr/bin/env python3\\n")
        'python'
    """
    name = os.path.basename(os.fspath(path))
    if not name:
        return None
    lang = _BY_NAME.get(name)
    if lang is None:
        for pattern, pattern_lang in _NAME_PATTERNS:
            if pattern.fullmatch(name):
                lang = pattern_lang
                break
    if lang is None:
        lang = _by_extension(name.lower())
        if lang is not None and head:
            lang = _disambiguate(lang, name.lower(), head)
    if lang is None and _DOTENV.fullmatch(name):
        lang = "properties"
    if lang is None and head:
        lang = _from_shebang(head)
    if lang is None and _TEXT_NAME.fullmatch(name):
        lang = TEXT
    return lang


def _by_extension(lower_name: str) -> str | None:
    # Longest multi-dot suffix first: "x.d.ts" -> ".d.ts" before ".ts". A leading dot is part of
    # the name, not an extension, unless the whole name is listed (".gitignore" is).
    stem_start = 1 if lower_name.startswith(".") else 0
    dots = [i for i in range(stem_start, len(lower_name)) if lower_name[i] == "."]
    for i in dots[-_MAX_EXT_DOTS:]:
        lang = _BY_EXT.get(lower_name[i:])
        if lang is not None:
            return lang
    return None


_CPP_HINTS = _LazyRe(
    rb"^\s*(?:namespace\s+\w|template\s*<|class\s+\w+[^;(]*[:{]|using\s+namespace\b|"
    rb"(?:public|private|protected)\s*:|#\s*include\s*<(?:iostream|string|vector|memory|map|"
    rb"unordered_map|set|algorithm|functional|utility|optional|cstdint|cstdio|cstdlib|cstring|"
    rb"cassert|cmath|array|tuple|type_traits|chrono|thread|mutex|atomic|sstream|fstream|"
    rb"iosfwd|limits|stdexcept|variant|span|string_view)>)"
    rb"|\w::\w|\bstd::",
    re.M,
)
_OBJC_HINTS = _LazyRe(rb"^\s*(?:@interface|@implementation|@protocol|@import|#import)\b", re.M)
_MATLAB_HINTS = _LazyRe(rb"^\s*(?:function\b|%|classdef\b)", re.M)
_V_HINTS = _LazyRe(rb"^\s*(?:fn\s+\w+\s*\(|module\s+\w+\s*$|import\s+[\w.]+\s*$|pub\s+fn\b)", re.M)
_COQ_HINTS = _LazyRe(rb"^\s*(?:Require\s+Import|Theorem|Lemma|Proof\.|Definition\s+\w+)", re.M)
_QUERY_HINTS = _LazyRe(rb"\)\s*@[\w.-]+|^\s*\(#(?:match|eq|set|any-of)[?!]", re.M)
_LATEX_HINTS = _LazyRe(
    rb"^\s*\\(?:NeedsTeXFormat|ProvidesClass|ProvidesPackage|documentclass)", re.M
)
_PASCAL_HINTS = _LazyRe(rb"^\s*(?:unit|program|library)\s+\w+\s*;", re.M | re.I)
_GLSL_HINTS = _LazyRe(rb"^\s*#version\s+\d+|\bgl_FragColor\b|\buniform\s+\w+", re.M)


def _disambiguate(lang: str, lower_name: str, head: bytes) -> str | None:
    ext = lower_name[lower_name.rfind(".") :]
    if ext == ".h":
        return "cpp" if _CPP_HINTS.search(head) else "c"
    if ext == ".m":
        if _OBJC_HINTS.search(head):
            return "objc"
        return "matlab" if _MATLAB_HINTS.search(head) else "objc"
    if ext == ".v":
        if _COQ_HINTS.search(head):
            return None  # Coq: no grammar; discovery treats it as text
        if b"endmodule" not in head and _V_HINTS.search(head):
            return "v"
        return "verilog"
    if ext == ".scm":
        return "query" if _QUERY_HINTS.search(head) else "scheme"
    if ext == ".cls":
        return "latex" if _LATEX_HINTS.search(head) else "apex"
    if ext == ".pp":
        return "pascal" if _PASCAL_HINTS.search(head) else "puppet"
    if ext == ".fs":
        return "glsl" if _GLSL_HINTS.search(head) else "fsharp"
    if ext == ".ts" and head.lstrip().startswith((b"<?xml", b"<!DOCTYPE TS", b"<TS")):
        return "xml"  # a Qt translation file, not TypeScript
    return lang


# interpreter (version digits stripped) -> language
_INTERPRETERS: dict[str, str] = {
    interp: lang
    for lang, interps in (
        ("python", "python pypy jython"),
        ("bash", "sh bash zsh ksh dash ash mksh busybox"),
        ("javascript", "node nodejs bun"),
        ("typescript", "deno ts-node tsx"),
        ("ruby", "ruby jruby"),
        ("perl", "perl"),
        ("php", "php"),
        ("lua", "lua luajit"),
        ("r", "rscript"),
        ("fish", "fish"),
        ("tcl", "tclsh wish expect"),
        ("powershell", "pwsh powershell"),
        ("erlang", "escript"),
        ("elixir", "elixir"),
        ("haskell", "runhaskell runghc stack"),
        ("julia", "julia"),
        ("scala", "scala"),
        ("groovy", "groovy"),
        ("kotlin", "kotlin"),
        ("make", "make"),
        ("scheme", "guile"),
        ("racket", "racket"),
        ("commonlisp", "sbcl clisp"),
        ("clojure", "bb clojure"),
        ("janet", "janet"),
        ("fennel", "fennel"),
        ("swift", "swift"),
        ("dart", "dart"),
        ("nim", "nim"),
        ("ocaml", "ocaml"),
        ("v", "v"),
    )
    for interp in interps.split()
}
_SHEBANG = _LazyRe(rb"^#![ \t]*(\S+)(?:[ \t]+(.*))?")


def _from_shebang(head: bytes) -> str | None:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    m = _SHEBANG.match(head)
    if m is None:
        return None
    program = m.group(1).rsplit(b"/", 1)[-1]
    args = (m.group(2) or b"").split()
    if program == b"env":
        # "#!/usr/bin/env -S python3 -u": the first word that is not an option or assignment
        args = [a for a in args if not a.startswith(b"-") and b"=" not in a]
        if not args:
            return None
        program = args[0].rsplit(b"/", 1)[-1]
    interp = program.decode("ascii", errors="replace").lower()
    interp = re.sub(r"[\d.]+$", "", interp)  # python3.11 -> python, perl5 -> perl
    return _INTERPRETERS.get(interp)


# --------------------------------------------------------------------------------------------
# grammars (cached per process, parsers per thread; tree-sitter objects never cross a process
# boundary)


def pack_grammars() -> tuple[str, ...]:
    """The grammar names the installed language pack ships (imports the pack)."""
    from typing import get_args

    import tree_sitter_language_pack as pack

    return tuple(get_args(pack.SupportedLanguage))


def _grammar_of(language: str) -> str:
    info = LANGUAGES.get(language)
    if info is None:
        raise UnsupportedLanguageError(f"unknown language {language!r}")
    if info.grammar is None:
        raise UnsupportedLanguageError(
            f"language {language!r} has no grammar: it is chunked by the delimiter chunker"
        )
    return info.grammar


@cache
def get_language(language: str) -> Language:
    """The tree-sitter ``Language`` for ``language``, loaded once per process.

    Raises:
        UnsupportedLanguageError: an unknown name or a delimiter-only kind (``markdown``).
    """
    grammar = _grammar_of(language)
    import tree_sitter_language_pack as pack

    name: Any = grammar  # the pack types its argument as a Literal of its names
    try:
        return pack.get_language(name)
    except Exception as exc:  # the pack raises LookupError/ImportError/OSError for a bad binding
        raise UnsupportedLanguageError(f"cannot load grammar {grammar!r}: {exc}") from exc


class _ThreadParsers(threading.local):
    def __init__(self) -> None:
        self.by_language: dict[str, Parser] = {}


_parsers = _ThreadParsers()


def get_parser(language: str) -> Parser:
    """A tree-sitter ``Parser`` for ``language``, built once per thread and reused.

    A parser keeps state while it parses, so each thread gets its own (the thread executor on a
    free-threaded interpreter parses in parallel); the ``Language`` behind it is shared.

    Raises:
        UnsupportedLanguageError: an unknown name or a delimiter-only kind (``markdown``).
    """
    parsers = _parsers.by_language
    parser = parsers.get(language)
    if parser is None:
        from tree_sitter import Parser

        parser = parsers[language] = Parser(get_language(language))
    return parser
