"""Under ``forkserver`` the fork server holds the chunker, so workers forked from it start with it.

A fresh interpreter whose main module imports nothing of codeweaver at its top (so the server's
own ``__main__`` preload brings no chunker along) sets a preload list of its own, runs the process
executor twice, and reports what its fork server has loaded and which modules it preloads.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods() or not Path("/proc").is_dir(),
    reason="needs the forkserver start method and /proc (to read the server's memory maps)",
)

_SCRIPT = textwrap.dedent(
    """
    import json
    import multiprocessing
    import os
    import sys


    def main():
        from multiprocessing import forkserver

        import psutil

        from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
        from codeweaver.core.discovery import DiscoveredFile
        from codeweaver.engine.chunker.governor import ChunkGovernor
        from codeweaver.engine.chunker.parallel import iter_file_results

        multiprocessing.set_forkserver_preload(["__main__", "json"])  # the host's own list
        source = sys.argv[1]
        files = [DiscoveredFile(source, f"{i}.py", "python", 24, 0) for i in range(4)]
        settings = ChunkerSettings(concurrency=ConcurrencySettings(start_method="forkserver"))
        runs = []
        for _ in range(2):  # a second pool forks from the same server
            results = iter_file_results(
                files, ChunkGovernor(settings), executor_type="process", max_workers=2
            )
            runs.append(sorted(r.status for r in results))
        servers = [
            p
            for p in psutil.Process().children()
            if "forkserver import main" in " ".join(p.cmdline())
        ]
        maps = [open(f"/proc/{p.pid}/maps").read() for p in servers]
        print(
            json.dumps(
                {
                    "runs": runs,
                    "servers": len(servers),
                    "server_has_pydantic_core": any("_pydantic_core" in m for m in maps),
                    "preload": forkserver._forkserver._preload_modules,
                    "main_has_pydantic_core": "_pydantic_core" in open("/proc/self/maps").read(),
                }
            )
        )


    if __name__ == "__main__":
        main()
    """
)


def test_the_fork_server_holds_the_chunker_and_keeps_the_hosts_preload(tmp_path: Path) -> None:
    source = tmp_path / "tiny.py"
    source.write_text("def f():\n    return 1\n", encoding="utf-8")
    script = tmp_path / "host.py"
    script.write_text(_SCRIPT, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(script), str(source)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["runs"] == [["chunked"] * 4, ["chunked"] * 4]
    assert report["servers"] == 1 and report["main_has_pydantic_core"]
    # The chunker was imported once, in the server: pydantic's compiled core (under the
    # governor's settings) is loaded there, where the host's main module would not bring it.
    assert report["server_has_pydantic_core"]
    assert report["preload"] == [
        "__main__",
        "json",
        "codeweaver.engine.chunker.worker",
        "codeweaver.engine.chunker.file_chunker",
    ]
