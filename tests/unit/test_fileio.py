"""Files are opened without ever blocking: a path that became a FIFO is a skip, not a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codeweaver.core.fileio import NotRegularFileError, open_regular

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")

# Every call that used to block runs in a child process under a time limit the test enforces.
RACE = textwrap.dedent(
    """\
    import json, os, sys
    from codeweaver.config.chunker import ChunkerSettings
    from codeweaver.core import discovery
    from codeweaver.core.discovery import DiscoveredFile
    from codeweaver.engine.chunker.governor import ChunkGovernor
    from codeweaver.engine.chunker.parallel import iter_file_results

    def main():
        path = sys.argv[1]
        listed = os.stat(path)  # discovery saw a regular file...
        found = DiscoveredFile(path, "x.py", "python", listed.st_size, listed.st_mtime_ns)
        os.unlink(path)
        os.mkfifo(path)  # ...that is a FIFO by the time it is read
        out = {}
        gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=500, file_timeout_seconds=60))
        for kind in ("serial", "thread", "process"):
            [r] = iter_file_results([found], gov, executor_type=kind, max_workers=1)
            out[kind] = [r.status, r.skip.reason if r.skip else r.failure.describe()]
        opts = discovery._resolve_options(None, include=None, exclude=None, hidden=None,
            respect_ignore_files=None, follow_symlinks=None, max_file_bytes=None)
        out["discovery"] = discovery._examine(path, "x.py", listed, opts).reason
        print(json.dumps(out))

    if __name__ == "__main__":  # the process executor's workers may import this script
        main()
    """
)


def test_a_file_that_becomes_a_fifo_is_skipped_by_every_reader(tmp_path: Path) -> None:
    target = tmp_path / "x.py"
    target.write_text("def f():\n    return 1\n")
    script = tmp_path / "race.py"
    script.write_text(RACE)
    proc = subprocess.run(
        [sys.executable, str(script), str(target)],
        capture_output=True,
        text=True,
        timeout=45,  # a blocking open() hangs for ever; the process executor took 60 s
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    for kind in ("serial", "thread", "process"):
        assert got[kind] == ["skipped", "not_regular"], kind
    assert got["discovery"] == "not_regular"


def test_open_regular_returns_the_file_and_its_stat(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_bytes(b"hello")
    fh, st = open_regular(target)
    with fh:
        assert fh.read() == b"hello"
    assert st.st_size == 5
    with pytest.raises(NotRegularFileError):
        open_regular(tmp_path)
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "gone")
