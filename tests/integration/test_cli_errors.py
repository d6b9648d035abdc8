"""Errors a user can act on: exit 2, one line, no traceback, and the fix where there is one.
Plus the first-time user's traps: what `chunk` counts, which settings win, which apply."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _procs import run_cli

from codeweaver.index.store import default_db_path

SOURCE = '"""Mod."""\n\n\ndef parse_config(path):\n    return {"path": path}\n\n\nclass Loader:\n    pass\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    for i in range(40):
        (root / "src" / f"m{i:02d}.py").write_text(SOURCE.replace("parse_config", f"parse_{i}"))
    proc = run_cli("index", str(root), "-q")
    assert proc.returncode == 0, proc.stderr
    return root


def _one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_a_huge_search_limit_is_a_usage_error(repo: Path) -> None:
    _one_line_error(run_cli("search", "parse", str(repo), "-n", "99999999999999999999"), "--limit")
    assert run_cli("search", "parse", str(repo), "-n", "10000").returncode == 0


def _damage_pages(db: Path) -> None:
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for i in range(2 * page, len(data)):
        data[i] = (i * 31 + 7) % 256
    db.write_bytes(bytes(data))


def test_damaged_pages_are_one_line_with_the_fix_and_full_rebuilds(repo: Path) -> None:
    db = default_db_path(repo)
    _damage_pages(db)
    for args in (("index", str(repo)), ("search", "parse", str(repo)), ("status", str(repo))):
        proc = run_cli(*args)
        _one_line_error(proc, "--full")
    proc = run_cli("index", "--full", "--json", str(repo))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["total_files"] == 40
    assert "parse_7" in run_cli("search", "parse_7", str(repo)).stdout


def test_a_dropped_fts_table_is_one_line_with_the_fix(repo: Path) -> None:
    con = sqlite3.connect(default_db_path(repo))
    con.execute("DROP TABLE chunks_fts")
    con.commit()
    con.close()
    for args in (("index", str(repo)), ("search", "parse", str(repo)), ("status", str(repo))):
        _one_line_error(run_cli(*args), "missing table chunks_fts", "--full")
    assert run_cli("index", "--full", "-q", str(repo)).returncode == 0
    assert run_cli("search", "parse_3", str(repo)).returncode == 0


def test_a_config_file_that_is_not_utf8_is_one_line_naming_it(repo: Path) -> None:
    (repo / "codeweaver.toml").write_bytes(b"[chunker]\nmax_chunk_chars = 1500 # \xff\xfe\n")
    _one_line_error(run_cli("index", str(repo)), "codeweaver.toml", "not UTF-8")


def test_a_list_variable_that_is_not_json_names_the_variable(repo: Path) -> None:
    proc = run_cli("index", str(repo), env={"CODEWEAVER_DISCOVERY__EXCLUDE": "["})
    _one_line_error(proc, "CODEWEAVER_DISCOVERY__EXCLUDE", "discovery.exclude")


def test_a_config_typo_gets_a_did_you_mean(repo: Path) -> None:
    (repo / "codeweaver.toml").write_text("[chunker]\nmax_chunk_token = 100\n")
    _one_line_error(run_cli("index", str(repo)), "did you mean 'max_chunk_tokens'?")


@pytest.mark.parametrize(
    ("flag", "value"), [("--max-tokens", "1.5"), ("--workers", "2.6"), ("--max-chars", "1e3")]
)
@pytest.mark.parametrize("command", ["index", "watch"])
def test_fractional_counts_are_refused(repo: Path, command: str, flag: str, value: str) -> None:
    proc = run_cli(command, str(repo), flag, value)  # (watch took --workers 2.6 as 3)
    assert proc.returncode == 2 and "whole number" in proc.stderr
    assert "max_chunk_tokens=2" not in proc.stderr


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("unshare") is None,
    reason="a read-only bind mount in a user namespace",
)
def test_search_and_status_work_on_a_read_only_index_directory(repo: Path) -> None:
    index_dir = repo / ".codeweaver"
    probe = subprocess.run(
        ["unshare", "-rm", "true"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"no user namespaces here: {probe.stderr.strip()}")
    for command in ("search parse_3", "status"):
        script = (
            f"mount --bind -o ro '{index_dir}' '{index_dir}' && "
            f"exec '{sys.executable}' -m codeweaver {command} '{repo}'"
        )
        proc = subprocess.run(
            ["unshare", "-rm", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
    assert "parse_3" in proc.stdout or "up to date" in proc.stdout


# -- traps ----------------------------------------------------------------------------------------
def test_chunk_says_what_it_counts(tmp_path: Path) -> None:
    f = tmp_path / "mod.py"
    f.write_text(SOURCE)
    out = run_cli("chunk", str(f)).stdout
    header = out.splitlines()[0].split()
    assert "chars" in header and "tokens" not in header  # no token counter: characters
    assert "budget 512 tokens, estimated as 1,536 characters (3 per token)" in out
    out = run_cli("chunk", str(f), "--max-chars", "700").stdout
    assert "budget 700 chars" in out


def test_an_environment_budget_overrides_a_file_budget_in_the_other_unit(repo: Path) -> None:
    (repo / "codeweaver.toml").write_text("[chunker]\nmax_chunk_chars = 1500\n")
    env = {"CODEWEAVER_CHUNKER__MAX_CHUNK_TOKENS": "256"}
    proc = run_cli("index", str(repo), "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(run_cli("status", str(repo), "--json", env=env).stdout)
    assert "unit=tokens;budget=256;" in status["index"]["fingerprint"]


def test_chunk_reads_the_settings_of_the_files_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    (project / "codeweaver.toml").write_text("[chunker]\nmax_chunk_chars = 64\n")
    f = project / "src" / "deep" / "mod.py"
    f.write_text(SOURCE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = run_cli("chunk", str(f), cwd=elsewhere).stdout
    assert "budget 64 chars" in out
    chunks = json.loads(run_cli("chunk", str(f), "--json", cwd=elsewhere).stdout)
    assert {c["path"] for c in chunks} == {"src/deep/mod.py"}  # as the index would name it


def test_status_speaks_plainly_ignores_touches_and_exits_1_when_stale(repo: Path) -> None:
    proc = run_cli("status", str(repo))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"index of {repo}")
    assert "512 tokens (estimated at 3 characters per token), one definition per chunk" in (
        " ".join(proc.stdout.split())  # however the terminal width wrapped it
    )
    assert "unit=" not in proc.stdout and "up to date" in proc.stdout

    target = repo / "src" / "m03.py"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched only
    proc = run_cli("status", str(repo), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["stale"]["modified"] == 0

    target.write_text(SOURCE.replace("Loader", "Saver"))
    proc = run_cli("status", str(repo))
    assert proc.returncode == 1 and "1 modified" in proc.stdout


def test_index_verbose_lists_the_skipped_files(repo: Path) -> None:
    (repo / "logo.py").write_bytes(b"\x89PNG\0\0\0")
    quiet = run_cli("index", str(repo))
    assert "logo.py" not in quiet.stdout
    loud = run_cli("index", "-v", str(repo))
    assert loud.returncode == 0, loud.stderr
    assert "1 file(s) skipped:" in loud.stdout and "logo.py: binary" in loud.stdout
