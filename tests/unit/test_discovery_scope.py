"""iter_discovery(paths=...): a limited walk yields exactly what a full walk yields in its scope."""

from __future__ import annotations

import os
import random
import sysconfig
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from codeweaver.core.chunks import SkipRecord
from codeweaver.core.discovery import iter_discovery

MakeTree = Callable[[dict[str, str | bytes]], Path]

TREE: dict[str, str | bytes] = {
    ".gitignore": "*.log\nbuild/\n/generated.py\n",
    "app.py": "x = 1\n",
    "generated.py": "ignored at the root\n",
    "debug.log": "noise\n",
    "build/gen.py": "y = 2\n",
    "src/generated.py": "kept: the rule is anchored\n",
    "src/pkg/__init__.py": "",
    "src/pkg/core.py": "def f(): pass\n",
    "src/pkg/.gitignore": "secret_*.py\n!secret_ok.py\n",
    "src/pkg/secret_key.py": "ignored\n",
    "src/pkg/secret_ok.py": "re-included\n",
    "src/pkg/deep/er/est.py": "z = 3\n",
    "src/pkg/logo.png": b"\x89PNG\0\0",
    ".hidden/inside.py": "hidden\n",
    "docs/.notes.md": "hidden file\n",
    "docs/guide.md": "# Guide\n",
}


def _key(item: object, root: Path) -> tuple[str, str]:
    if isinstance(item, SkipRecord):
        return ("skip:" + item.reason, os.path.relpath(item.path, root).replace(os.sep, "/"))
    return ("file", item.rel_path)  # type: ignore[attr-defined]


def _covered(rel: str, targets: Iterable[str]) -> bool:
    return any(rel == t or rel.startswith(t + "/") for t in targets)


def _check(root: Path, targets: list[str], **kwargs: object) -> list[tuple[str, str]]:
    full = [_key(i, root) for i in iter_discovery(root, **kwargs)]  # type: ignore[arg-type]
    want = [k for k in full if _covered(k[1], targets)]
    got = [_key(i, root) for i in iter_discovery(root, paths=targets, **kwargs)]  # type: ignore[arg-type]
    assert got == want, targets
    return got


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        (["app.py"], ["app.py"]),
        (["generated.py"], []),  # ignored by the root .gitignore
        (["debug.log", "build/gen.py", "build"], []),
        (["src/generated.py"], ["src/generated.py"]),
        (
            ["src/pkg"],
            [
                "src/pkg/__init__.py",
                "src/pkg/core.py",
                "src/pkg/deep/er/est.py",
                "src/pkg/secret_ok.py",
            ],
        ),
        (["src/pkg/secret_key.py", "src/pkg/secret_ok.py"], ["src/pkg/secret_ok.py"]),
        (["src/pkg/deep/er/est.py"], ["src/pkg/deep/er/est.py"]),
        ([".hidden/inside.py", "docs/.notes.md"], []),
        (["docs", "gone.py", "gone/deeper/x.py"], ["docs/guide.md"]),
        (["app.py/not-a-folder"], []),
    ],
)
def test_limited_walk_matches_the_full_walk(
    make_tree: MakeTree, targets: list[str], expected: list[str]
) -> None:
    root = make_tree(TREE)
    got = _check(root, targets)
    assert [p for kind, p in got if kind == "file"] == expected


def test_skips_in_scope_are_reported(make_tree: MakeTree) -> None:
    root = make_tree(TREE)
    got = _check(root, ["src/pkg/logo.png", "app.py"])
    assert got == [("file", "app.py"), ("skip:binary", "src/pkg/logo.png")]


def test_the_root_among_the_paths_walks_everything(make_tree: MakeTree) -> None:
    root = make_tree(TREE)
    full = [_key(i, root) for i in iter_discovery(root)]
    for whole in ("", ".", "./"):
        assert [_key(i, root) for i in iter_discovery(root, paths=["app.py", whole])] == full


def test_empty_scope_yields_nothing_and_outside_paths_are_refused(make_tree: MakeTree) -> None:
    root = make_tree(TREE)
    assert list(iter_discovery(root, paths=[])) == []
    with pytest.raises(ValueError, match="outside the root"):
        list(iter_discovery(root, paths=["../elsewhere.py"]))


def test_hidden_and_globs_apply_in_a_limited_walk(make_tree: MakeTree) -> None:
    root = make_tree(TREE)
    got = _check(root, [".hidden", "docs"], hidden=True, exclude=["*.md"])
    assert got == [("file", ".hidden/inside.py")]


def test_random_scopes_of_the_standard_library_match_the_full_walk() -> None:
    root = Path(sysconfig.get_paths()["stdlib"]) / "email"
    full = [_key(i, root) for i in iter_discovery(root)]
    paths = sorted({p for _, p in full})
    folders = sorted({p.rsplit("/", 1)[0] for p in paths if "/" in p})
    rng = random.Random(13)
    for _ in range(20):
        targets = rng.sample(paths, 3) + rng.sample(folders, 1)
        want = [k for k in full if _covered(k[1], targets)]
        assert [_key(i, root) for i in iter_discovery(root, paths=targets)] == want
