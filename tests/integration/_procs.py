"""Process helpers shared by the executor integration tests (imported like ``tests/unit/_contract``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil

CLI_TIMEOUT = 180


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m codeweaver ARGS`` with no ``CODEWEAVER_*`` variable from the host (plus
    ``env``); the output captured as text."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWEAVER_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "codeweaver", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        cwd=cwd,
        env=full_env,
        check=False,
    )


def descendants() -> set[psutil.Process]:
    """Our descendant processes (zombies included), less multiprocessing's long-lived helpers."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
        except psutil.ZombieProcess:
            cmd = ""
        except psutil.NoSuchProcess:
            continue
        if "forkserver import main" in cmd and p.ppid() == os.getpid():
            continue  # the fork server itself (its children are workers)
        if "resource_tracker" not in cmd:
            out.add(p)
    return out


@contextlib.contextmanager
def script_in_own_group(script: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """Run ``python script args...`` in its own process group, as a shell job (so a Ctrl-C is
    ``os.killpg(proc.pid, SIGINT)``); the group is SIGKILLed on the way out if still running."""
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
