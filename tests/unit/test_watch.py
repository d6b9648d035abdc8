"""The watch's pure parts: which changed paths an update covers, the rescan limit, event dicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeweaver.config import load_settings
from codeweaver.index.pipeline import IndexReport
from codeweaver.index.watch import WatchEvent, _Scope, default_rescan_threshold

ROOT = Path("/work/repo")


def _scope(**discovery: object) -> _Scope:
    settings = load_settings(ROOT, discovery=discovery)
    return _Scope(ROOT, settings, ROOT / ".codeweaver" / "index.db")


def _paths(scope: _Scope, *rels: str) -> tuple[set[str], str | None]:
    return scope.paths(str(ROOT / r) for r in rels)


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("src/app.py", {"src/app.py"}),
        ("src", {"src"}),  # a folder: the update walks it
        ("src/.gitignore", {"src"}),  # rules for a folder: the folder
        ("src/pkg/.ignore", {"src/pkg"}),
        ("lib/.codeweaverignore", {"lib"}),
        ("vendor/.git/info/exclude", {"vendor"}),  # a nested repository's excludes
        (".git/HEAD", set()),
        ("src/.git/objects/ab/cdef", set()),
        (".codeweaver/index.db-wal", set()),  # the index's own files
        (".codeweaver/index.db.lock", set()),
        (".venv/lib/site.py", set()),  # hidden folders are not walked
        ("src/.hidden.py", set()),
        ("src/.cache/.gitignore", set()),  # rules inside a hidden folder change nothing
        ("src/__pycache__/app.cpython-311.pyc", set()),  # a test run is not an update
        ("src/app.pyc", set()),
    ],
)
def test_a_change_maps_to_the_paths_an_update_covers(rel: str, expected: set[str]) -> None:
    assert _paths(_scope(), rel) == (expected, None)


def test_rules_for_the_whole_tree_are_a_rescan() -> None:
    for rel in (".gitignore", ".ignore", ".git/info/exclude"):
        _, note = _paths(_scope(), "a.py", rel)
        assert note == f"{rel} changed"


def test_hidden_and_ignore_settings_change_the_mapping() -> None:
    hidden = _scope(hidden=True)
    assert _paths(hidden, ".venv/lib/site.py", "src/.cache/.gitignore") == (
        {".venv/lib/site.py", "src/.cache"},
        None,
    )
    assert _paths(hidden, ".codeweaver/index.db", ".git/config") == (set(), None)
    plain = _scope(respect_ignore_files=False)
    assert _paths(plain, "src/.gitignore", ".git/info/exclude") == (set(), None)
    assert _paths(_scope(respect_ignore_files=False, hidden=True), "src/.gitignore") == (
        {"src/.gitignore"},
        None,
    )


def test_the_root_itself_and_paths_outside_are_left_to_the_root_check() -> None:
    assert _scope().paths([str(ROOT), "/elsewhere/x.py", str(ROOT) + "-other/y.py"]) == (
        set(),
        None,
    )


def test_an_index_elsewhere_inside_the_tree_is_still_ours() -> None:
    settings = load_settings(ROOT)
    scope = _Scope(ROOT, settings, ROOT / "data" / "idx.sqlite")
    assert scope.paths(
        [str(ROOT / "data" / n) for n in ("idx.sqlite", "idx.sqlite-wal", "idx.sqlite.lock")]
    ) == (set(), None)
    assert scope.paths([str(ROOT / "data" / "other.py")]) == ({"data/other.py"}, None)


def test_rescan_threshold_follows_the_kernel_queue() -> None:
    limit = default_rescan_threshold()
    queue = Path("/proc/sys/fs/inotify/max_queued_events")
    if queue.exists():
        assert limit == max(64, int(queue.read_text()) // 8)
    else:
        assert limit == 2_048


def test_event_dicts_are_json_and_list_a_bounded_number_of_paths(tmp_path: Path) -> None:
    report = IndexReport(root=tmp_path, db_path=tmp_path / "i.db", changed=1)
    paths = tuple(f"f{i}.py" for i in range(250))
    update = WatchEvent("update", paths=paths, report=report).to_dict()
    assert update["path_count"] == 250 and len(update["paths"]) == 100
    assert update["report"]["changed"] == 1 and update["rescan"] is False
    ready = WatchEvent("ready", report=report).to_dict()
    assert "paths" not in ready and ready["event"] == "ready"
    error = WatchEvent("error", paths=("a.py",), error="disk full").to_dict()
    assert error["error"] == "disk full"
    json.dumps([update, ready, error])


def test_unreadable_files_are_the_ones_retried(tmp_path: Path) -> None:
    from codeweaver.core.chunks import FailureRecord, SkipRecord
    from codeweaver.index.watch import _to_retry

    report = IndexReport(root=tmp_path, db_path=tmp_path / "i.db")
    report.skips += [
        SkipRecord(str(tmp_path / "locked.py"), "unreadable", "PermissionError: denied"),
        SkipRecord(str(tmp_path / "logo.png"), "binary", "NUL byte"),
    ]
    report.failures += [
        FailureRecord(str(tmp_path / "pkg" / "gone.py"), "read", "PermissionError", "denied"),
        FailureRecord(str(tmp_path / "boom.py"), "parse", "RuntimeError", "crash"),
    ]
    assert _to_retry(report) == {"locked.py", "pkg/gone.py"}
