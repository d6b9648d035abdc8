"""Shared fixtures. Keep this small: fixtures used by one test module live in that module."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

TreeSpec = Mapping[str, str | bytes]


def write_tree(root: Path, files: TreeSpec) -> Path:
    """Create ``files`` (POSIX relative path -> text or bytes) under ``root``; return ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[[TreeSpec], Path]:
    """``make_tree({"src/a.py": "x = 1\\n", "logo.png": b"\\x89PNG\\0"})`` -> the tree's root."""
    counter = iter(range(1_000_000))

    def make(files: TreeSpec) -> Path:
        root = tmp_path / f"tree{next(counter)}"
        root.mkdir()
        return write_tree(root, files)

    return make


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Remove every ``CODEWEAVER_*`` variable, so the host's environment cannot leak into a test."""
    import os

    for key in list(os.environ):
        if key.upper().startswith("CODEWEAVER_"):
            monkeypatch.delenv(key)
    return monkeypatch
