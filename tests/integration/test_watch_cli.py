"""End-to-end: `python -m codeweaver watch` as a subprocess, driven by real file-system events.

Every wait is on a condition with a deadline (an event on the watch's stdout, a row in the
database), never a fixed sleep, so the tests hold on a loaded two-core machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from _snapshot import diff, snapshot

from codeweaver.core.errors import IndexStoreError
from codeweaver.index.store import IndexStore, default_db_path

DEADLINE = 90.0
"""Seconds any one condition may take (generous: the machine may be busy)."""

Event = dict[str, Any]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CODEWEAVER_")}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeweaver", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
        check=False,
    )


class Watch:
    """A running `codeweaver watch --json`: its events as they arrive, and ways to wait on them."""

    def __init__(self, repo: Path, *args: str) -> None:
        self.repo = repo
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "codeweaver", "watch", str(repo), "--json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            start_new_session=True,  # its own process group: SIGINT to it is a Ctrl-C
        )
        self.events: list[Event] = []
        self.stderr: list[str] = []
        self._cond = threading.Condition()
        self._threads = [
            threading.Thread(target=self._read_events, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read_events(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.events.append(json.loads(line))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait_for(self, pred: Callable[[Event], bool], *, after: int = 0) -> tuple[int, Event]:
        """The first event from index ``after`` on that satisfies ``pred`` (and its index)."""
        end = time.monotonic() + DEADLINE
        with self._cond:
            while True:
                for i in range(after, len(self.events)):
                    if pred(self.events[i]):
                        return i, self.events[i]
                after = len(self.events)
                if self.proc.poll() is not None and not self._threads[0].is_alive():
                    raise AssertionError(f"watch exited {self.proc.returncode}: {self.err}")
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such event in {DEADLINE}s: {self.events[-5:]}")
                self._cond.wait(min(left, 1.0))

    def ready(self) -> Event:
        return self.wait_for(lambda e: e["event"] == "ready")[1]

    def update_for(self, rel: str, *, after: int = 0) -> tuple[int, Event]:
        """The first ``update`` whose batch names ``rel`` (or that rescanned the tree)."""
        return self.wait_for(
            lambda e: e["event"] == "update" and (rel in e["paths"] or e["rescan"]), after=after
        )

    def interrupt(self) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(DEADLINE)

    @property
    def err(self) -> str:
        return "".join(self.stderr)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for t in self._threads:
            t.join(10)


@pytest.fixture
def watch() -> Iterator[Callable[..., Watch]]:
    started: list[Watch] = []

    def start(repo: Path, *args: str) -> Watch:
        w = Watch(repo, *args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.close()


def _module(name: str, n: int = 3) -> str:
    return "".join(f"def {name}_{i}(x):\n    return x + {i}\n\n\n" for i in range(n))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for pkg in ("alpha", "beta"):
        (root / pkg).mkdir(parents=True)
        for i in range(4):
            (root / pkg / f"mod{i}.py").write_text(_module(f"{pkg}{i}"))
    (root / "README.md").write_text("# Repo\n\nWords about the repository.\n")
    return root


def _indexed_at(db: Path) -> dict[str, float]:
    with IndexStore.open(db, create=False) as store:
        return dict(store._conn.execute("SELECT path, indexed_at FROM files").fetchall())


def _has_rows(db: Path) -> bool:
    """True once the initial index has stored files (the watcher started before it)."""
    try:
        return bool(_indexed_at(db))
    except IndexStoreError:  # not created yet, or its schema not yet committed
        return False


def _assert_equals_fresh_full_index(repo: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    proc = run_cli("index", str(repo), "--full", "--db", str(fresh), "-q")
    assert proc.returncode == 0, proc.stderr
    problems = diff(snapshot(default_db_path(repo)), snapshot(fresh))
    assert not problems, problems
    with IndexStore.open(default_db_path(repo), create=False) as store:
        assert store.check_integrity() == []


# -- one save, deletes and renames -------------------------------------------------------------------


def test_a_save_rechunks_that_file_only_and_an_editor_save_is_one_batch(
    repo: Path, watch: Callable[..., Watch]
) -> None:
    w = watch(repo)
    ready = w.ready()
    assert ready["report"]["new"] == 9
    db = default_db_path(repo)
    before = _indexed_at(db)

    # An editor's save: write a temporary file, rename it over the original, chmod it.
    target = repo / "alpha" / "mod1.py"
    tmp = repo / "alpha" / "mod1.py.tmp~"
    tmp.write_text("def saved_by_the_editor(x):\n    return x * 2\n")
    os.replace(tmp, target)
    target.chmod(0o644)
    i, update = w.update_for("alpha/mod1.py")
    report = update["report"]
    assert (report["changed"], report["new"], report["deleted"]) == (1, 0, 0)
    assert report["unchanged"] == 0  # nothing else was looked at, let alone re-chunked
    with IndexStore.open(db, create=False) as store:
        assert [c.symbol for c in store.chunks_for("alpha/mod1.py")] == ["def saved_by_the_editor"]
    after = _indexed_at(db)
    assert {p for p in before if after[p] != before[p]} == {"alpha/mod1.py"}

    # A later change comes in a batch of its own: the save above was exactly one batch.
    (repo / "beta" / "mod0.py").write_text(_module("sentinel", 1))
    j, _ = w.update_for("beta/mod0.py", after=i + 1)
    saves = [
        e for e in w.events[: j + 1] if e["event"] == "update" and "alpha/mod1.py" in e["paths"]
    ]
    assert len(saves) == 1, saves


def test_deletes_renames_and_a_new_folder(
    repo: Path, tmp_path: Path, watch: Callable[..., Watch]
) -> None:
    w = watch(repo)
    w.ready()
    (repo / "alpha" / "mod0.py").unlink()
    i, update = w.update_for("alpha/mod0.py")
    assert update["report"]["deleted"] == 1

    (repo / "alpha" / "mod2.py").rename(repo / "alpha" / "renamed.py")
    i, update = w.update_for("alpha/renamed.py", after=i + 1)
    assert (update["report"]["new"], update["report"]["deleted"]) == (1, 1)

    (repo / "beta").rename(repo / "gamma")  # one event for the folder, none for its files
    i, update = w.update_for("gamma", after=i + 1)
    assert (update["report"]["new"], update["report"]["deleted"]) == (4, 4)

    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "fresh.py").write_text(_module("fresh"))
    shutil.move(str(staged), repo / "delta")  # a folder arriving whole
    w.update_for("delta", after=i + 1)
    _assert_equals_fresh_full_index(repo, tmp_path)


# -- ignore files ------------------------------------------------------------------------------------


def test_gitignore_changes_drop_and_restore_files(
    repo: Path, tmp_path: Path, watch: Callable[..., Watch]
) -> None:
    w = watch(repo)
    w.ready()
    db = default_db_path(repo)

    (repo / "beta" / ".gitignore").write_text("mod[12].py\n")  # rules for one folder
    i, update = w.update_for("beta")
    assert not update["rescan"] and update["report"]["deleted"] == 2
    with IndexStore.open(db, create=False) as store:
        assert "beta/mod1.py" not in store.file_states()

    (repo / ".gitignore").write_text("alpha/\n")  # the root's rules: the whole tree
    i, update = w.wait_for(lambda e: e["event"] == "update" and e["rescan"], after=i + 1)
    assert update["report"]["deleted"] == 4 and ".gitignore" in update["note"]

    (repo / ".gitignore").unlink()
    (repo / "beta" / ".gitignore").write_text("")
    while True:  # the two changes may come in one batch or two
        i, update = w.wait_for(lambda e: e["event"] == "update", after=i + 1)
        with IndexStore.open(db, create=False) as store:
            if len(store.file_states()) == 9:
                break
    _assert_equals_fresh_full_index(repo, tmp_path)


# -- bursts ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_replacing_2000_files_is_one_batch_through_the_parallel_engine(
    tmp_path: Path, watch: Callable[..., Watch]
) -> None:
    repo = tmp_path / "big"
    for d in range(20):
        (repo / f"pkg{d:02}").mkdir(parents=True)
        for f in range(100):
            (repo / f"pkg{d:02}" / f"m{f:03}.py").write_text(_module(f"v1_{d}_{f}", 2))
    # the process pool asked for: `auto` would chunk these 2,000 small files serially
    w = watch(repo, "--executor", "process", "--workers", "2", "--rescan-above", "1000000")
    assert w.ready()["report"]["new"] == 2000

    # Like a checkout: every file replaced by a new version, as fast as renames go.
    staged = tmp_path / "staged"
    staged.mkdir()
    names = sorted(p.relative_to(repo) for p in repo.rglob("*.py"))
    for rel in names:
        (staged / rel.as_posix().replace("/", "__")).write_text(_module(f"v2_{rel.stem}", 3))
    for rel in names:
        os.replace(staged / rel.as_posix().replace("/", "__"), repo / rel)

    i, update = w.wait_for(lambda e: e["event"] == "update")
    report = update["report"]
    assert update["path_count"] == 2000 and report["changed"] == 2000, update["path_count"]
    assert report["executor"] == "process" and report["workers"] == 2
    (repo / "sentinel.py").write_text(_module("sentinel", 1))
    j, _ = w.update_for("sentinel.py", after=i + 1)
    assert [e["event"] for e in w.events[i + 1 : j + 1]] == ["changes", "update"]
    _assert_equals_fresh_full_index(repo, tmp_path)


def test_a_burst_over_the_limit_is_a_rescan(
    repo: Path, tmp_path: Path, watch: Callable[..., Watch]
) -> None:
    w = watch(repo, "--rescan-above", "40")
    w.ready()
    for i in range(60):
        (repo / "alpha" / f"gen{i:02}.py").write_text(_module(f"gen{i}", 1))
    (repo / "beta" / "mod3.py").unlink()
    _, update = w.wait_for(lambda e: e["event"] == "update" and e["rescan"])
    assert "may have overflowed" in update["note"]
    assert update["report"]["unchanged"] >= 7  # diffed by size and mtime, not re-chunked
    while True:
        with IndexStore.open(default_db_path(repo), create=False) as store:
            if len(store.file_states()) == 68:
                break
        w.wait_for(lambda e: e["event"] == "update", after=len(w.events))
    _assert_equals_fresh_full_index(repo, tmp_path)


# -- races -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_file_edited_while_it_is_chunked_is_redone(
    repo: Path, tmp_path: Path, watch: Callable[..., Watch]
) -> None:
    w = watch(repo, "--executor", "serial")  # chunked in the watch process: its CPU shows it
    w.ready()
    big = repo / "big.py"
    # ~10 MB, one function: seconds of parsing, a few thousand chunks
    first = "def big():\n" + "".join(f"    x{i} = call_{i}(a, b) + {i}\n" for i in range(250_000))
    big.write_text(first)
    i, _ = w.wait_for(lambda e: e["event"] == "changes" and "big.py" in e["paths"])
    watcher = psutil.Process(w.proc.pid)
    start = sum(watcher.cpu_times()[:2])
    end = time.monotonic() + DEADLINE
    while sum(watcher.cpu_times()[:2]) - start < 0.5:  # it has read the file and is parsing it
        assert time.monotonic() < end
        time.sleep(0.01)
    big.write_text(_module("second_version", 2))

    i, update = w.update_for("big.py", after=i + 1)
    assert update["report"]["chunks"] > 1000  # what it had read: the first version
    db = default_db_path(repo)
    while True:  # then the second version, from the change that came in meanwhile
        i, update = w.update_for("big.py", after=i + 1)
        with IndexStore.open(db, create=False) as store:
            stored = "".join(c.content for c in store.chunks_for("big.py"))
        if stored == big.read_text():
            break
    assert update["report"]["changed"] == 1
    _assert_equals_fresh_full_index(repo, tmp_path)


def test_search_and_status_from_other_processes_during_updates(
    repo: Path, watch: Callable[..., Watch]
) -> None:
    w = watch(repo)
    w.ready()
    for i in range(300):  # an update long enough to search during it
        (repo / "alpha" / f"bulk{i:03}.py").write_text(_module(f"bulk{i}", 5))
    w.wait_for(lambda e: e["event"] == "changes")
    searched = run_cli("search", "alpha0_1", str(repo), "--json")
    status = run_cli("status", str(repo), "--json")
    assert searched.returncode == 0, searched.stderr
    assert any(h["path"] == "alpha/mod0.py" for h in json.loads(searched.stdout))
    assert status.returncode == 0, status.stderr
    w.wait_for(lambda e: e["event"] == "update")

    (repo / "beta" / "mod2.py").write_text("def quixotic_marmalade():\n    return 1\n")
    end = time.monotonic() + DEADLINE
    while True:  # searchable soon after the save, through the WAL, while the watch runs
        found = run_cli("search", "quixotic_marmalade", str(repo), "--json")
        assert found.returncode == 0, found.stderr
        if [h["path"] for h in json.loads(found.stdout)] == ["beta/mod2.py"]:
            break
        assert time.monotonic() < end, "the change never became searchable"


def test_a_second_writer_is_refused_with_a_clear_message(
    repo: Path, watch: Callable[..., Watch]
) -> None:
    w = watch(repo)
    w.ready()
    for args in (("index", str(repo)), ("watch", str(repo), "-q")):
        proc = run_cli(*args)
        assert proc.returncode == 2, proc.stderr
        assert "is writing" in proc.stderr and "codeweaver watch" in proc.stderr
        assert "Traceback" not in proc.stderr
    (repo / "README.md").write_text("# Still watched\n")
    w.update_for("README.md")


def test_a_deleted_index_is_rebuilt_without_waiting_for_a_change(
    repo: Path, tmp_path: Path, watch: Callable[..., Watch]
) -> None:
    w = watch(repo)
    w.ready()
    shutil.rmtree(repo / ".codeweaver")
    _, update = w.wait_for(lambda e: e["event"] == "update" and e["rescan"])
    assert "database was replaced or deleted" in update["note"]
    assert update["report"]["new"] == 9
    _assert_equals_fresh_full_index(repo, tmp_path)


# -- stopping and failing ----------------------------------------------------------------------------


def _group_alive(pgid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
    return out


def test_ctrl_c_during_an_update_stops_cleanly_with_a_consistent_index(
    repo: Path, tmp_path: Path, watch: Callable[..., Watch]
) -> None:
    w = watch(repo, "--workers", "2")
    w.ready()
    for i in range(400):
        (repo / "beta" / f"bulk{i:03}.py").write_text(_module(f"bulk{i}", 20))
    w.wait_for(lambda e: e["event"] == "changes")
    assert w.interrupt() == 130
    assert "stopped watching" in w.err and "Traceback" not in w.err
    end = time.monotonic() + DEADLINE
    while _group_alive(w.proc.pid):  # the workers go with it
        assert time.monotonic() < end, _group_alive(w.proc.pid)
        time.sleep(0.05)
    with IndexStore.open(default_db_path(repo), create=False) as store:
        assert store.check_integrity() == []
    catch_up = run_cli("index", str(repo), "-q")  # the lock was released
    assert catch_up.returncode == 0, catch_up.stderr
    _assert_equals_fresh_full_index(repo, tmp_path)


def test_a_vanished_root_is_a_clear_error(tmp_path: Path, watch: Callable[..., Watch]) -> None:
    repo = tmp_path / "doomed"
    repo.mkdir()
    (repo / "a.py").write_text(_module("a"))
    w = watch(repo, "--db", str(tmp_path / "outside.db"))
    w.ready()
    shutil.rmtree(repo)
    assert w.proc.wait(DEADLINE) == 2
    w.close()
    assert "the watched directory is gone" in w.err and "Traceback" not in w.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads mode-000 files")
def test_an_unreadable_file_is_recorded_and_retried(
    repo: Path, watch: Callable[..., Watch]
) -> None:
    w = watch(repo)
    w.ready()
    secret = repo / "alpha" / "secret.py"
    secret.write_text(_module("secret"))
    secret.chmod(0)
    i, update = w.update_for("alpha/secret.py")
    assert [s["reason"] for s in update["report"]["skips"]] == ["unreadable"]
    secret.chmod(0o644)
    while True:
        i, update = w.update_for("alpha/secret.py", after=i + 1)
        if update["report"]["new"] + update["report"]["changed"] == 1:
            break


def test_the_live_line_on_stderr_quiet_and_sigterm(repo: Path, tmp_path: Path) -> None:
    for extra in ((), ("-q",)):
        shutil.rmtree(repo / ".codeweaver", ignore_errors=True)  # rows appear: this watch is up
        proc = subprocess.Popen(
            [sys.executable, "-m", "codeweaver", "watch", str(repo), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            start_new_session=True,
        )
        try:
            db = default_db_path(repo)
            marker = f"live_{len(extra)}"
            end = time.monotonic() + DEADLINE
            while not _has_rows(db):
                assert time.monotonic() < end and proc.poll() is None
                time.sleep(0.05)
            (repo / "alpha" / "mod3.py").write_text(f"def {marker}():\n    pass\n")
            while True:
                with IndexStore.open(db, create=False) as store:
                    if marker in "".join(c.content for c in store.chunks_for("alpha/mod3.py")):
                        break
                assert time.monotonic() < end
                time.sleep(0.05)
            # Ctrl-C, then `kill` (SIGTERM, as a service manager stops it): both stop it cleanly
            os.kill(proc.pid, signal.SIGTERM if extra else signal.SIGINT)
            out, err = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode == 130 and out == "", err
        if extra:
            assert err == ""
        else:
            assert "watching" in err and "alpha/mod3.py: 1 changed" in err
            assert "stopped watching" in err


def test_watch_takes_the_discovery_and_embedding_flags_index_takes(
    repo: Path, watch: Callable[..., Watch]
) -> None:
    w = watch(repo, "--exclude", "beta", "--no-embed")
    report = w.ready()["report"]
    total = sum(1 for p in repo.rglob("*") if p.is_file() and ".codeweaver" not in p.parts)
    in_beta = sum(1 for _ in (repo / "beta").rglob("*.py"))
    assert in_beta and report["total_files"] == total - in_beta
    assert report["embedding"]["model"] is None and report["embedding"]["notice"] is None
