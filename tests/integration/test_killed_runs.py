"""Killed or interrupted runs leave nothing behind: no worker, no lock, no stray traceback."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from _procs import script_in_own_group

from codeweaver.config import load_settings
from codeweaver.index import index_project

SCRIPT = textwrap.dedent(
    """\
    import os, re, sys
    from pathlib import Path
    from codeweaver.config import load_settings
    from codeweaver.engine.chunker.governor import ChunkGovernor
    from codeweaver.index import index_project

    repo, marker = Path(sys.argv[1]), Path(sys.argv[2])

    def counter(text):
        if "HANG" in text:
            marker.write_text(str(os.getpid()))
            re.match(r"(a+)+$", "a" * 64 + "b")  # holds the GIL for ever, like a runaway parse
        return len(text) // 3

    conc = {"executor": "process", "start_method": "fork", "max_parallel_files": 1}
    settings = load_settings(repo, chunker={"concurrency": conc, "file_timeout_seconds": 600})
    index_project(repo, settings, governor=ChunkGovernor(settings.chunker, token_counter=counter))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork workers, Linux pdeathsig")
def test_a_sigkilled_run_leaves_no_worker_and_no_lock_behind(
    tmp_path: Path, chunk_indexes: Callable[[Path], set[str]]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for i in range(3):
        (repo / f"m{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    (repo / "stuck.py").write_text("def stuck():\n    return 'HANG'\n")
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    marker = tmp_path / "worker.pid"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(repo), str(marker)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker_pid = None
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the worker never reached the stuck file"
            time.sleep(0.05)
        worker_pid = int(marker.read_text())
        assert worker_pid != proc.pid
        proc.kill()  # SIGKILL the parent only, as the OOM killer or `kill -9` would
        proc.wait(timeout=30)
        db = repo / ".codeweaver" / "index.db"
        assert "chunks_content_hash" not in chunk_indexes(db)  # killed amid a first index

        # The very next run is not refused: the worker never held the writer lock...
        settings = load_settings(repo, chunker={"concurrency": {"executor": "serial"}})
        report = index_project(repo, settings)
        assert report.failed == 0 and report.files == 4
        assert "chunks_content_hash" in chunk_indexes(db)  # (and it built the index back)

        # ...and it died with its parent instead of finishing its parse.
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(worker_pid).wait(timeout=10)
        assert not psutil.pid_exists(worker_pid) or (
            psutil.Process(worker_pid).status() == psutil.STATUS_ZOMBIE
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if worker_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker_pid, signal.SIGKILL)


STARTING = textwrap.dedent(
    """\
    import os, sys, time
    from pathlib import Path

    if __name__ == "__mp_main__":  # a spawned worker importing this script: a slow start-up
        Path(sys.argv[2], f"started-{os.getpid()}").write_text("")
        time.sleep(60)

    if __name__ == "__main__":
        from codeweaver import ChunkGovernor, chunk_files_parallel_dict
        from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
        from codeweaver.core.discovery import DiscoveredFile

        src = Path(sys.argv[1])
        files = [DiscoveredFile(str(src), f"{i}.py", "python", src.stat().st_size, 0)
                 for i in range(20)]
        conc = ConcurrencySettings(start_method="spawn", executor="process", max_parallel_files=2)
        try:
            chunk_files_parallel_dict(files, ChunkGovernor(ChunkerSettings(concurrency=conc)))
        except KeyboardInterrupt:
            sys.exit(130)
    """
)


def test_ctrl_c_while_workers_start_prints_no_worker_traceback(tmp_path: Path) -> None:
    src = tmp_path / "mod.py"
    src.write_text("def f(x):\n    return x\n")
    script = tmp_path / "starting.py"
    script.write_text(STARTING)
    markers = tmp_path / "markers"
    markers.mkdir()
    with script_in_own_group(script, str(src), str(markers)) as proc:
        deadline = time.monotonic() + 60
        while len(list(markers.iterdir())) < 2:  # both workers are inside their start-up
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.05)
        # Ctrl-C in a terminal reaches the whole group; the workers are the first to see it
        # here, so none is killed by the parent's clean-up before it could print anything.
        for m in markers.iterdir():
            os.kill(int(m.name.split("-")[1]), signal.SIGINT)
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "KeyboardInterrupt" not in err and "Traceback" not in err, err
