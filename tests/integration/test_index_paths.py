"""``index_project(paths=...)``: an update limited to some paths (what ``codeweaver watch`` runs)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from _snapshot import diff, snapshot

from codeweaver.config import load_settings
from codeweaver.config.settings import CodeWeaverSettings
from codeweaver.core.errors import IndexStoreError
from codeweaver.index import IndexStore, index_project
from codeweaver.index.lock import writer_lock

SERIAL = {"concurrency": {"executor": "serial"}}


def _settings(root: Path, db: Path | None = None) -> CodeWeaverSettings:
    extra = {} if db is None else {"index": {"db_path": db}}
    return load_settings(root, chunker=SERIAL, **extra)  # type: ignore[arg-type]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for pkg in ("alpha", "beta"):
        (root / pkg).mkdir(parents=True)
        for i in range(5):
            (root / pkg / f"mod{i}.py").write_text(
                f"def {pkg}_func_{i}(x):\n    return x + {i}\n\n\n"
                f"class {pkg.title()}{i}:\n    def method(self):\n        return {i}\n"
            )
    (root / "notes.md").write_text("# Notes\n\nSome words.\n")
    return root


def _fresh_full(repo: Path, tmp_path: Path) -> Path:
    db = tmp_path / "fresh" / "index.db"
    index_project(repo, _settings(repo, db), full=True)
    return db


def test_a_named_file_is_the_only_one_looked_at(repo: Path) -> None:
    index_project(repo, _settings(repo))
    target = repo / "alpha" / "mod1.py"
    target.write_text("def renamed_function():\n    return 42\n")
    (repo / "beta" / "mod2.py").write_text("def not_named():\n    pass\n")  # changed, not named
    report = index_project(repo, _settings(repo), paths=["alpha/mod1.py"])
    assert (report.new, report.changed, report.unchanged, report.deleted) == (0, 1, 0, 0)
    with IndexStore.open(report.db_path, create=False) as store:
        assert [c.symbol for c in store.chunks_for("alpha/mod1.py")] == ["def renamed_function"]
        assert "not_named" not in store.chunks_for("beta/mod2.py")[0].content
        assert store.file_count() == 11


def test_deleted_renamed_and_folder_paths(repo: Path, tmp_path: Path) -> None:
    index_project(repo, _settings(repo))
    (repo / "alpha" / "mod0.py").unlink()
    (repo / "alpha" / "mod1.py").rename(repo / "alpha" / "moved.py")
    (repo / "beta").rename(repo / "gamma")
    report = index_project(
        repo,
        _settings(repo),
        paths=["alpha/mod0.py", "alpha/mod1.py", "alpha/moved.py", "beta", "gamma"],
    )
    assert (report.new, report.changed, report.deleted) == (6, 0, 7)
    assert report.unchanged == 0
    assert not diff(snapshot(report.db_path), snapshot(_fresh_full(repo, tmp_path)))


def test_an_ignore_file_scope_drops_and_restores_files(repo: Path, tmp_path: Path) -> None:
    index_project(repo, _settings(repo))
    (repo / "alpha" / ".gitignore").write_text("mod[0-2].py\n")
    hidden = index_project(repo, _settings(repo), paths=["alpha"])
    assert (hidden.deleted, hidden.unchanged, hidden.new) == (3, 2, 0)
    assert not diff(snapshot(hidden.db_path), snapshot(_fresh_full(repo, tmp_path)))

    (repo / "alpha" / ".gitignore").write_text("mod0.py\n")
    back = index_project(repo, _settings(repo), paths=["alpha"])
    assert (back.deleted, back.unchanged, back.new) == (0, 2, 2)


def test_a_named_file_is_compared_by_content_not_by_mtime(repo: Path) -> None:
    """The same size and mtime (an edit within one timestamp tick) do not hide a change."""
    index_project(repo, _settings(repo))
    target = repo / "alpha" / "mod3.py"
    before = target.stat()
    text = target.read_text()
    target.write_text(text.replace("return x + 3", "return x * 3"))  # same size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert index_project(repo, _settings(repo)).changed == 0  # a walk trusts size and mtime
    report = index_project(repo, _settings(repo), paths=[str(target)])  # absolute is fine too
    assert report.changed == 1
    with IndexStore.open(report.db_path, create=False) as store:
        assert "return x * 3" in store.chunks_for("alpha/mod3.py")[0].content
    assert index_project(repo, _settings(repo), paths=[str(target)]).unchanged == 1


def test_the_root_among_the_paths_is_a_full_run(repo: Path) -> None:
    index_project(repo, _settings(repo))
    (repo / "notes.md").unlink()
    report = index_project(repo, _settings(repo), paths=["alpha/mod0.py", str(repo)])
    assert (report.unchanged, report.deleted) == (10, 1)
    with pytest.raises(ValueError, match="outside the indexed directory"):
        index_project(repo, _settings(repo), paths=[str(repo.parent / "elsewhere.py")])


def test_the_lock_holder_may_reenter_other_threads_may_not(repo: Path) -> None:
    settings = _settings(repo)
    first = index_project(repo, settings)
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            index_project(repo, settings)
        except BaseException as exc:
            errors.append(exc)

    with writer_lock(first.db_path):
        assert index_project(repo, settings, paths=["notes.md"]).unchanged == 1
        t = threading.Thread(target=other_thread)
        t.start()
        t.join(60)
    assert len(errors) == 1 and isinstance(errors[0], IndexStoreError)
    assert "is writing" in str(errors[0])
    assert index_project(repo, settings).unchanged == 11  # released
