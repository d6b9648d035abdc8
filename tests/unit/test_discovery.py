"""discover_files / iter_discovery / summarize_discovery on real temporary trees."""

from __future__ import annotations

import inspect
import os
import pickle
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeweaver.config.chunker import ChunkerSettings
from codeweaver.config.settings import CodeWeaverSettings, DiscoverySettings
from codeweaver.core import walk
from codeweaver.core.chunks import SkipRecord
from codeweaver.core.discovery import (
    HEAD_BYTES,
    SKIP_REASONS,
    DiscoveredFile,
    DiscoverySummary,
    discover_files,
    iter_discovery,
    summarize_discovery,
)
from codeweaver.core.errors import DiscoveryError
from codeweaver.core.languages import LANGUAGES

MakeTree = Callable[[dict[str, str | bytes]], Path]


def rels(root: Path, **kwargs: object) -> list[str]:
    return [f.rel_path for f in discover_files(root, **kwargs)]  # type: ignore[arg-type]


def skips(root: Path, **kwargs: object) -> dict[str, SkipRecord]:
    """Skip records by path relative to ``root``."""
    out = {}
    for item in iter_discovery(root, **kwargs):  # type: ignore[arg-type]
        if isinstance(item, SkipRecord):
            out[os.path.relpath(item.path, root).replace(os.sep, "/")] = item
    return out


# --- ignore files -------------------------------------------------------------------------------


def test_gitignore_without_a_git_repository(make_tree: MakeTree) -> None:
    root = make_tree(
        {
            ".gitignore": "*.log\nbuild/\n/only_root.py\n",
            "app.py": "x = 1\n",
            "debug.log": "noise\n",
            "build/gen.py": "y = 2\n",
            "only_root.py": "z = 3\n",
            "src/only_root.py": "kept = True\n",
            "src/deep/trace.log": "noise\n",
        }
    )
    assert rels(root) == ["app.py", "src/only_root.py"]


def test_gitignore_in_a_git_repository_and_git_folder_skipped(make_tree: MakeTree) -> None:
    root = make_tree(
        {
            ".git/HEAD": "ref: refs/heads/main\n",
            ".git/config": "[core]\n",
            ".gitignore": "dist/\n",
            "dist/bundle.js": "var a;\n",
            "lib/a.js": "var b;\n",
        }
    )
    assert rels(root) == ["lib/a.js"]
    assert rels(root, hidden=True) == [".gitignore", "lib/a.js"]  # never .git/*


def test_nested_gitignore_with_negation(make_tree: MakeTree) -> None:
    root = make_tree(
        {
            ".gitignore": "*.log\n",
            "a.log": "x\n",
            "sub/.gitignore": "!keep.log\nsecret/\n",
            "sub/keep.log": "x\n",
            "sub/other.log": "x\n",
            "sub/secret/s.py": "x\n",
            "sub/code.py": "x\n",
            "other/keep.log": "x\n",
        }
    )
    assert rels(root) == ["sub/code.py", "sub/keep.log"]


def test_rules_at_many_depths(make_tree: MakeTree) -> None:
    """Ignore decisions hold at every depth (the walk asks rignore two levels at a time)."""
    files: dict[str, str | bytes] = {".gitignore": "*.tmp\n"}
    for depth in range(1, 7):
        d = "/".join(f"d{i}" for i in range(1, depth + 1))
        files[f"{d}/x{depth}.py"] = "x\n"
        files[f"{d}/x{depth}.tmp"] = "x\n"
        files[f"{d}/keep{depth}.tmp"] = "x\n"
    files["d1/d2/d3/.gitignore"] = "!keep*.tmp\n"
    got = set(rels(root := make_tree(files)))
    expected = {p for p in files if p.endswith(".py")}
    expected |= {p for p in files if "/keep" in p and p.count("/") >= 3}
    assert got == expected
    assert len(set(rels(root, respect_ignore_files=False))) == 18


@pytest.mark.slow
def test_a_huge_root_gitignore_is_compiled_twice_not_once_per_folder(
    make_tree: MakeTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rignore

    rules = [f"build_{i}/**/*.o{i % 7}" if i % 3 else f"/generated_{i}.tmp" for i in range(60_000)]
    files: dict[str, str | bytes] = {".gitignore": "\n".join(rules) + "\n"}
    for top in range(25):
        files[f"pkg{top}/sub/mod.py"] = "x\n"
        files[f"build_{top * 3 + 1}/a/b.o{(top * 3 + 1) % 7}"] = "x\n"  # ignored
    root = make_tree(files)
    real, calls = rignore.walk, []

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("max_depth"))
        return real(*args, **kwargs)

    monkeypatch.setattr(rignore, "walk", counted)
    got = rels(root)
    assert got == sorted(f"pkg{top}/sub/mod.py" for top in range(25))
    # Each call compiles the 60,000 rules again (~0.4 s): 2 calls, not one per folder.
    assert len(calls) == 2 and calls[-1] is None, calls


def test_whole_tree_listings_decide_as_folder_listings_do(
    make_tree: MakeTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, str | bytes] = {".gitignore": "*.tmp\nbuild/\n", "build/x.py": "x\n"}
    for depth in range(1, 7):
        d = "/".join(f"d{i}" for i in range(1, depth + 1))
        files[f"{d}/x{depth}.py"] = "x\n"
        files[f"{d}/keep{depth}.tmp"] = "x\n"
    files["d1/d2/d3/.gitignore"] = "!keep*.tmp\n"
    files["d1/d2/.ignore"] = "x2.py\n"
    root = make_tree(files)
    by_folder = rels(root)
    monkeypatch.setattr(walk, "_COSTLY_LISTING_SECONDS", -1.0)  # every call is "costly"
    assert rels(root) == by_folder
    assert "d1/d2/x2.py" not in by_folder and "d1/d2/d3/keep3.tmp" in by_folder


def test_dot_ignore_and_codeweaverignore(make_tree: MakeTree) -> None:
    root = make_tree(
        {
            ".ignore": "vendor/\n",
            ".codeweaverignore": "*.snap\n",
            "vendor/lib.py": "x\n",
            "tests/__snapshots__/a.snap": "x\n",
            "tests/test_a.py": "x\n",
        }
    )
    assert rels(root) == ["tests/test_a.py"]


def test_ignore_file_above_the_root_applies(make_tree: MakeTree) -> None:
    outer = make_tree({".gitignore": "*.gen\n", "inner/a.gen": "x\n", "inner/a.py": "x\n"})
    assert rels(outer / "inner") == ["a.py"]


def test_global_git_excludes_apply(
    make_tree: MakeTree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git's core.excludesFile counts, at every depth, with no ignore file in the tree."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "global_ignore").write_text("*.orig\n")
    (home / ".gitconfig").write_text(f"[core]\n\texcludesfile = {home / 'global_ignore'}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    deep = "d/1/2/3/4/5"
    root = make_tree(
        {"a.py": "x\n", "a.py.orig": "x\n", f"{deep}/b.py": "x\n", f"{deep}/b.orig": "x\n"}
    )
    assert rels(root) == ["a.py", f"{deep}/b.py"]
    assert len(rels(root, respect_ignore_files=False)) == 4


def test_respect_ignore_files_false(make_tree: MakeTree) -> None:
    root = make_tree({".gitignore": "*.log\n", "a.log": "x\n", "b.py": "x\n"})
    assert rels(root, respect_ignore_files=False) == ["a.log", "b.py"]


# --- hidden, VCS ---------------------------------------------------------------------------------


def test_hidden_files_and_folders_skipped_by_default(make_tree: MakeTree) -> None:
    root = make_tree(
        {
            ".env.example": "A=1\n",
            ".config/tool.toml": "a = 1\n",
            "src/.secret.py": "x\n",
            "src/main.py": "x\n",
            ".hg/store": "x\n",
            ".svn/entries": "x\n",
        }
    )
    assert rels(root) == ["src/main.py"]
    assert rels(root, hidden=True) == [
        ".config/tool.toml",
        ".env.example",
        "src/.secret.py",
        "src/main.py",
    ]


def test_compiled_python_is_left_out_up_front(make_tree: MakeTree) -> None:
    root = make_tree(
        {
            "src/main.py": "x\n",
            "src/__pycache__/main.cpython-311.pyc": b"\xa7\r\r\n\0\0\0\0",
            "legacy.pyc": b"\x03\xf3\r\n\0",
            "opt.pyo": b"\x03\xf3\r\n\0",
        }
    )
    for hidden in (False, True):
        items = list(iter_discovery(root, hidden=hidden))
        # Neither yielded nor read and sniffed as binary: no skip record either.
        assert [i.rel_path for i in items if isinstance(i, DiscoveredFile)] == ["src/main.py"]
        assert [i for i in items if isinstance(i, SkipRecord)] == []


# --- symlinks ------------------------------------------------------------------------------------


def test_symlink_loop_terminates(make_tree: MakeTree) -> None:
    root = make_tree({"a/x.py": "x\n", "b/y.py": "y\n"})
    (root / "a" / "up").symlink_to("..")
    (root / "a" / "self").symlink_to(".")
    (root / "b" / "to_a").symlink_to("../a")
    (root / "a" / "to_b").symlink_to("../b")
    items = list(iter_discovery(root))
    files = [i.rel_path for i in items if isinstance(i, DiscoveredFile)]
    # every link leads inside the root to a folder walked under its own path: none is followed
    assert files == ["a/x.py", "b/y.py"]
    loops = {
        i.path.rsplit("/", 2)[-2] + "/" + i.path.rsplit("/", 1)[-1]: i
        for i in items
        if isinstance(i, SkipRecord)
    }
    assert set(loops) == {"a/self", "a/to_b", "a/up", "b/to_a"}
    assert all(s.reason == "symlink" and "same as" in s.detail for s in loops.values())


def test_a_link_into_a_hidden_folder_is_followed_and_cycles_through_it_end(
    make_tree: MakeTree,
) -> None:
    """The walk never enters ``.shared`` by its own path, so the link is the only way in."""
    root = make_tree({".shared/util.py": "x\n", "app.py": "y\n"})
    (root / "lib").symlink_to(".shared")
    (root / ".shared" / "again").symlink_to("../lib")
    items = list(iter_discovery(root))
    assert [i.rel_path for i in items if isinstance(i, DiscoveredFile)] == ["app.py", "lib/util.py"]
    skipped = [i for i in items if isinstance(i, SkipRecord)]
    assert [s.reason for s in skipped] == ["symlink"]
    assert "already walked" in skipped[0].detail


def test_symlink_outside_the_root_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("password = 1\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.py").write_text("x = 1\n")
    (root / "linked_dir").symlink_to(outside)
    (root / "linked_file.py").symlink_to(outside / "secret.py")
    assert rels(root) == ["main.py"]
    s = skips(root)
    assert s["linked_dir"].reason == "symlink" and "outside" in s["linked_dir"].detail
    assert s["linked_file.py"].reason == "symlink"


def test_a_link_to_a_file_inside_the_root_is_a_duplicate_not_followed(make_tree: MakeTree) -> None:
    root = make_tree({"real/a.py": "x\n"})
    (root / "alias.py").symlink_to("real/a.py")
    (root / "broken.py").symlink_to("nowhere.py")
    assert rels(root) == ["real/a.py"]
    s = skips(root)
    assert s["broken.py"].reason == "symlink"
    assert s["alias.py"].reason == "symlink" and "'real/a.py'" in s["alias.py"].detail
    assert rels(root, follow_symlinks=False) == ["real/a.py"]
    assert skips(root, follow_symlinks=False)["alias.py"].reason == "symlink"


def test_a_folder_linked_from_elsewhere_in_the_tree_is_indexed_once_by_its_own_path(
    make_tree: MakeTree,
) -> None:
    """serde's layout: ``serde/src/core`` links to ``serde_core/src``, which sorts after it.

    The link comes first in the walk; the files still come out once, under the real path.
    """
    root = make_tree({"serde_core/src/de/mod.rs": "x\n", "serde/src/lib.rs": "y\n"})
    (root / "serde" / "src" / "core").symlink_to("../../serde_core/src")
    items = list(iter_discovery(root))
    assert [i.rel_path for i in items if isinstance(i, DiscoveredFile)] == [
        "serde/src/lib.rs",
        "serde_core/src/de/mod.rs",
    ]
    [skip] = [i for i in items if isinstance(i, SkipRecord)]
    assert skip.reason == "symlink" and "'serde_core/src'" in skip.detail


def test_folder_link_not_followed_is_recorded_whatever_the_include_globs(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "lib.py").write_text("x = 1\n")
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.py").write_text("x = 1\n")
    (root / "vendor").symlink_to(outside)
    (root / "alias").symlink_to("real")
    s = skips(root, include=["**/*.py"])
    assert s["vendor"].reason == "symlink" and "outside" in s["vendor"].detail
    assert s["alias"].reason == "symlink" and "'real'" in s["alias"].detail
    s = skips(root, include=["**/*.py"], follow_symlinks=False)
    assert {k: v.reason for k, v in s.items()} == {"alias": "symlink", "vendor": "symlink"}
    assert skips(root, include=["**/*.py"], exclude=["vendor", "alias"]) == {}


# --- content checks ------------------------------------------------------------------------------


def test_binary_file_is_skipped(make_tree: MakeTree) -> None:
    root = make_tree(
        {
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "late_nul.py": b"x = 1\n" * 100 + b"\x00",
            "nul_after_head.txt": b"a" * HEAD_BYTES + b"\x00",
            "ok.py": b"x = 1\n",
        }
    )
    assert rels(root) == ["nul_after_head.txt", "ok.py"]  # only the head is read
    s = skips(root)
    assert s["logo.png"].reason == "binary"
    assert s["late_nul.py"].reason == "binary"


def test_oversized_file_is_skipped(make_tree: MakeTree) -> None:
    root = make_tree({"big.py": "x = 1\n" * 100, "small.py": "x = 1\n"})
    assert rels(root, max_file_bytes=100) == ["small.py"]
    rec = skips(root, max_file_bytes=100)["big.py"]
    assert rec.reason == "too_large" and "600" in rec.detail
    assert rels(root, max_file_bytes=600) == ["big.py", "small.py"]


def test_unknown_extension_and_empty_file_are_text(make_tree: MakeTree) -> None:
    root = make_tree({"notes.xyz": "hello\n", "empty.weird": "", "Makefile": "all:\n"})
    got = {f.rel_path: f.language for f in discover_files(root)}
    assert got == {"Makefile": "make", "empty.weird": "text", "notes.xyz": "text"}


def test_language_is_sniffed_from_the_head(make_tree: MakeTree) -> None:
    root = make_tree(
        {
            "bin/tool": "#!/usr/bin/env python3\nprint('hi')\n",
            "include/geo.h": "namespace geo { struct P {}; }\n",
            "include/c.h": "int f(void);\n",
        }
    )
    got = {f.rel_path: f.language for f in discover_files(root)}
    assert got == {"bin/tool": "python", "include/c.h": "c", "include/geo.h": "cpp"}


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads mode-000 files")
def test_unreadable_file_is_skipped(make_tree: MakeTree) -> None:
    root = make_tree({"locked.py": "x\n", "ok.py": "y\n"})
    (root / "locked.py").chmod(0)
    try:
        assert rels(root) == ["ok.py"]
        assert skips(root)["locked.py"].reason == "unreadable"
    finally:
        (root / "locked.py").chmod(0o644)


def test_file_vanishing_during_the_walk_is_skipped_as_vanished(make_tree: MakeTree) -> None:
    """The folder is listed, then the file disappears before discovery reaches it."""
    root = make_tree({"a.py": "x\n", "b.py": "y\n", "c.py": "z\n"})
    items = iter_discovery(root)
    first = next(items)
    assert isinstance(first, DiscoveredFile) and first.rel_path == "a.py"
    (root / "b.py").unlink()
    rest = list(items)
    assert [type(i).__name__ for i in rest] == ["SkipRecord", "DiscoveredFile"]
    assert isinstance(rest[0], SkipRecord) and rest[0].reason == "vanished"
    assert "FileNotFoundError" in rest[0].detail


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_skipped_without_blocking(make_tree: MakeTree) -> None:
    root = make_tree({"a.py": "x\n"})
    os.mkfifo(root / "pipe")
    assert rels(root) == ["a.py"]
    assert skips(root)["pipe"].reason == "not_regular"


def test_non_utf8_file_name_is_skipped_with_a_reason(make_tree: MakeTree) -> None:
    root = make_tree({"good.py": "x\n"})
    broot = os.fsencode(root)
    try:
        with open(os.path.join(broot, b"bad\xff.py"), "wb") as fh:
            fh.write(b"x = 1\n")
        os.mkdir(os.path.join(broot, b"dir\xfe"))
        with open(os.path.join(broot, b"dir\xfe", b"inner.py"), "wb") as fh:
            fh.write(b"x = 1\n")
    except OSError as exc:  # a file system that insists on UTF-8 names
        pytest.skip(f"cannot create a non-UTF-8 name here: {exc}")
    for respect in (True, False):
        items = list(iter_discovery(root, respect_ignore_files=respect))
        assert [i.rel_path for i in items if isinstance(i, DiscoveredFile)] == ["good.py"]
        bad = [i for i in items if isinstance(i, SkipRecord)]
        assert [b.reason for b in bad] == ["bad_filename", "bad_filename"]
        assert bad[0].path.endswith("bad\\xff.py")
        assert bad[1].path.endswith("dir\\xfe")
        for b in bad:
            b.path.encode("utf-8")  # printable, storable


# --- globs ---------------------------------------------------------------------------------------


@pytest.fixture
def glob_tree(make_tree: MakeTree) -> Path:
    return make_tree(
        {
            "README.md": "# x\n",
            "setup.py": "x\n",
            "src/pkg/core.py": "x\n",
            "src/pkg/fast.rs": "x\n",
            "src/pkg/notes.md": "x\n",
            "tests/test_core.py": "x\n",
            "tests/data/sample.json": "{}\n",
            "node_modules/lib/index.js": "x\n",
        }
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"include": ["**/*.py"]}, ["setup.py", "src/pkg/core.py", "tests/test_core.py"]),
        ({"include": ["*.py"]}, ["setup.py", "src/pkg/core.py", "tests/test_core.py"]),
        ({"include": ["/*.py"]}, ["setup.py"]),
        ({"include": ["./*.py"]}, ["setup.py"]),
        ({"include": ["src/**/*.{py,rs}"]}, ["src/pkg/core.py", "src/pkg/fast.rs"]),
        ({"include": ["src"]}, ["src/pkg/core.py", "src/pkg/fast.rs", "src/pkg/notes.md"]),
        ({"include": ["tests/*.py"]}, ["tests/test_core.py"]),
        (
            {"exclude": ["tests/**", "node_modules", "*.md"]},
            ["setup.py", "src/pkg/core.py", "src/pkg/fast.rs"],
        ),
        ({"include": ["**/*.py"], "exclude": ["tests/"]}, ["setup.py", "src/pkg/core.py"]),
        (
            {"include": ["src/pkg/c?re.py", "[st]e*.py"]},  # no "/": a name at any depth
            ["setup.py", "src/pkg/core.py", "tests/test_core.py"],
        ),
        ({"include": ["/[st]e*.py"]}, ["setup.py"]),
    ],
)
def test_include_exclude_globs(
    glob_tree: Path, kwargs: dict[str, list[str]], expected: list[str]
) -> None:
    assert rels(glob_tree, **kwargs) == expected


def test_excluded_folder_is_not_descended_into(make_tree: MakeTree) -> None:
    root = make_tree({"keep/a.py": "x\n", "node_modules/pkg/b.js": "x\n"})
    # walking node_modules would report this broken link
    (root / "node_modules" / "pkg" / "broken.js").symlink_to("missing.js")
    assert skips(root)["node_modules/pkg/broken.js"].reason == "symlink"
    items = list(iter_discovery(root, exclude=["node_modules"]))
    assert [i.rel_path for i in items if isinstance(i, DiscoveredFile)] == ["keep/a.py"]
    assert [i for i in items if isinstance(i, SkipRecord)] == []


# --- streaming, order, records ------------------------------------------------------------------


def test_discovery_streams(make_tree: MakeTree) -> None:
    deep = "z/1/2/3/4/5/6"  # deeper than one rignore listing reaches
    root = make_tree({"a/first.py": "x\n", "m/middle.py": "x\n", f"{deep}/early.py": "x\n"})
    stream = discover_files(root)
    assert inspect.isgenerator(discover_files(root))
    first = next(stream)
    assert first.rel_path == "a/first.py"
    # created after the first file came out: found, because the walk has not listed it yet
    (root / deep / "late.py").write_text("x\n")
    rest = [f.rel_path for f in stream]
    assert rest == ["m/middle.py", f"{deep}/early.py", f"{deep}/late.py"]


def test_order_is_sorted_per_folder_and_reproducible(make_tree: MakeTree) -> None:
    names = ["zeta.py", "alpha.py", "Mid.py", "beta/inner.py", "beta.py", "_x.py", "a/b/c.py"]
    root = make_tree(dict.fromkeys(names, "x\n"))
    first = rels(root)
    assert first == [
        "Mid.py",
        "_x.py",
        "a/b/c.py",
        "alpha.py",
        "beta/inner.py",
        "beta.py",
        "zeta.py",
    ]
    assert rels(root) == first


def test_discovered_file_fields_and_pickle(make_tree: MakeTree) -> None:
    root = make_tree({"pkg/mod.py": "print('hi')\n"})
    (f,) = list(discover_files(root))
    assert f.path == str(root / "pkg" / "mod.py") and os.path.isabs(f.path)
    assert f.rel_path == "pkg/mod.py"
    assert f.language == "python"
    assert f.size == len("print('hi')\n")
    assert f.mtime_ns == os.stat(f.path).st_mtime_ns
    clone = pickle.loads(pickle.dumps(f))
    assert clone == f and type(clone) is DiscoveredFile
    for rec in (SkipRecord("/x/y", "binary", "NUL byte"),):
        assert pickle.loads(pickle.dumps(rec)) == rec


def test_on_skip_receives_every_skip(make_tree: MakeTree) -> None:
    root = make_tree({"a.bin": b"\x00\x01", "b.py": "x\n", "c.py": "x = 1\n" * 50})
    seen: list[SkipRecord] = []
    files = list(discover_files(root, max_file_bytes=100, on_skip=seen.append))
    assert [f.rel_path for f in files] == ["b.py"]
    assert sorted(s.reason for s in seen) == ["binary", "too_large"]
    assert {s.reason for s in seen} <= SKIP_REASONS


# --- roots ---------------------------------------------------------------------------------------


def test_missing_root_raises_at_call_time(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="does not exist"):
        discover_files(tmp_path / "nope")  # raised by the call, not on first next()
    with pytest.raises(OSError):  # DiscoveryError is an OSError
        iter_discovery(tmp_path / "nope")


def test_bad_root_raises_discovery_error_from_every_entry_point(tmp_path: Path) -> None:
    for entry in (discover_files, iter_discovery, summarize_discovery):
        with pytest.raises(DiscoveryError, match="must be a path"):
            entry(123)  # type: ignore[arg-type]
        with pytest.raises(DiscoveryError, match="does not exist"):
            entry(tmp_path / "nope")


def test_single_file_root_yields_that_file(tmp_path: Path) -> None:
    path = tmp_path / "lone.rs"
    path.write_text("fn main() {}\n")
    (f,) = list(discover_files(path))
    assert (f.rel_path, f.language, f.path) == ("lone.rs", "rust", str(path))
    (tmp_path / "blob.py").write_bytes(b"\x00\x01")
    assert list(discover_files(tmp_path / "blob.py")) == []
    assert [s.reason for s in iter_discovery(tmp_path / "blob.py")] == ["binary"]  # type: ignore[union-attr]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_file_root_raises(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(DiscoveryError, match="not a folder or a regular file"):
        discover_files(tmp_path / "pipe")


# --- settings ------------------------------------------------------------------------------------


def test_settings_supply_defaults_and_arguments_win(make_tree: MakeTree) -> None:
    root = make_tree({".hidden.py": "x\n", "a.py": "x\n", "b.md": "# b\n"})
    settings = DiscoverySettings(hidden=True, exclude=("*.md",))
    assert rels(root, settings=settings) == [".hidden.py", "a.py"]
    assert rels(root, settings=settings, hidden=False) == ["a.py"]
    assert rels(root, settings=settings, exclude=()) == [".hidden.py", "a.py", "b.md"]


def test_size_limit_comes_from_chunker_settings(make_tree: MakeTree) -> None:
    root = make_tree({"a.py": "x = 1\n" * 10, "b.py": "x\n"})
    full = CodeWeaverSettings(chunker=ChunkerSettings(max_file_bytes=20))
    assert rels(root, settings=full) == ["b.py"]
    assert rels(root, settings=full, max_file_bytes=1000) == ["a.py", "b.py"]
    assert ChunkerSettings().max_file_bytes == 16 * 1024 * 1024
    big = make_tree({"big.txt": "x" * (ChunkerSettings().max_file_bytes + 1)})
    assert [s.reason for s in skips(big).values()] == ["too_large"]


# --- a real tree ---------------------------------------------------------------------------------


def test_standard_library_streams_with_a_consistent_summary() -> None:
    stdlib = sysconfig.get_paths()["stdlib"]
    kwargs = {"exclude": ["site-packages", "dist-packages", "__pycache__"]}
    items = list(iter_discovery(stdlib, **kwargs))  # type: ignore[arg-type]
    files = [i for i in items if isinstance(i, DiscoveredFile)]
    skipped = [i for i in items if isinstance(i, SkipRecord)]
    summary = summarize_discovery(stdlib, **kwargs)  # type: ignore[arg-type]

    assert summary.files == len(files) > 1000
    assert summary.skipped == len(skipped)
    assert sum(summary.files_by_language.values()) == summary.files
    assert summary.total_bytes == sum(f.size for f in files)
    assert summary.files_by_language.most_common(1)[0][0] == "python"
    assert summary.files_by_language["python"] > summary.files / 2
    assert set(summary.files_by_language) <= set(LANGUAGES)
    assert set(summary.skips_by_reason) <= SKIP_REASONS
    rel_paths = [f.rel_path for f in files]
    assert len(set(rel_paths)) == len(rel_paths)
    assert "os.py" in rel_paths and "json/__init__.py" in rel_paths
    assert not any("__pycache__" in p or "site-packages" in p for p in rel_paths)


def test_summary_add_counts_items() -> None:
    s = DiscoverySummary(root="/r")
    s.add(DiscoveredFile("/r/a.py", "a.py", "python", 10, 0))
    s.add(DiscoveredFile("/r/b.py", "b.py", "python", 5, 0))
    s.add(SkipRecord("/r/c.bin", "binary"))
    assert (s.files, s.skipped, s.total_bytes) == (2, 1, 15)
    assert s.files_by_language == {"python": 2}


# --- against rignore's own walk ------------------------------------------------------------------

_NAMES = ["a", "b", "keep", "d", ".h"]
_EXTS = [".py", ".log", ""]
_RULES = ["*.log", "!keep.log", "b/", "/a", "d", "**/b/*.py", "keep*", "!keep.py", "a/**/*.py"]


@st.composite
def ignore_trees(draw: st.DrawFn) -> dict[str, str | bytes]:
    dirs = draw(
        st.lists(
            st.lists(st.sampled_from(_NAMES), min_size=0, max_size=5).map("/".join),
            min_size=1,
            max_size=6,
        )
    )
    files: dict[str, str | bytes] = {}
    for d in dirs:
        for name in draw(st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3)):
            ext = draw(st.sampled_from(_EXTS))
            files[f"{d}/{name}{ext}".lstrip("/")] = "x\n"
        if draw(st.booleans()):
            rules = draw(st.lists(st.sampled_from(_RULES), min_size=1, max_size=3))
            kind = draw(st.sampled_from([".gitignore", ".ignore"]))
            files[f"{d}/{kind}".lstrip("/")] = "\n".join(rules) + "\n"
    # a name that is both a file and a folder cannot exist: drop the file
    prefixes = {p.rsplit("/", i)[0] for p in files for i in range(1, p.count("/") + 1)}
    return {p: c for p, c in files.items() if p not in prefixes}


@settings(
    max_examples=40,
    deadline=None,
    # make_tree gives each example a fresh folder
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(tree=ignore_trees(), hidden=st.booleans())
def test_same_files_as_a_plain_rignore_walk(
    make_tree: MakeTree, tree: dict[str, str | bytes], hidden: bool
) -> None:
    """Folder-at-a-time listings give exactly the files one rignore walk of the tree gives."""
    import rignore

    root = make_tree(tree)
    got = sorted(rels(root, hidden=hidden))
    expected = sorted(
        p.relative_to(root).as_posix()
        for p in rignore.walk(
            root,
            ignore_hidden=not hidden,
            require_git=False,
            additional_ignore_paths=[".codeweaverignore"],
        )
        if p.is_file()
    )
    assert got == expected
