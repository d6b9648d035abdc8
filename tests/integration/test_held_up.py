"""What the adversarial run found to hold, kept holding: the same results from every executor
on hostile input, and an index that converges exactly after a disk-full run."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from _procs import run_cli

from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
from codeweaver.core.discovery import DiscoveredFile, iter_discovery
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.parallel import iter_file_results
from codeweaver.engine.chunker.results import FileResult
from codeweaver.index.store import IndexStore, default_db_path

METHODS = [
    m for m in ("fork", "forkserver", "spawn") if m in multiprocessing.get_all_start_methods()
]


def _hostile(root: Path) -> Path:
    deep = "".join(f"{'  ' * i}def f{i}():\n" for i in range(300)) + "  " * 300 + "pass\n"
    files: dict[str, bytes] = {
        "empty.py": b"",
        "blank.py": b"\n\n   \t\n",
        "bom_crlf.py": b"\xef\xbb\xbfdef f():\r\n    return 'caf\xc3\xa9'\r\n",
        "latin1.py": b"s = '\xe9t\xe9'\n" * 50,
        "late_nul.js": b"var x = 1;\n" * 1000 + b"\0tail\n",
        "early_nul.py": b"\0\1\2binary",
        "minified.js": b"function a(){return 1};" * 9000,
        "deep.py": deep.encode(),
        "broken.py": b"def (:\n  class ]]] {{{\n" * 200,
        "weird.unknownext": b"plain words\n\nmore words\n",
        "header.h": b"namespace n { class C { public: int f(); }; }\n",
        "nested/giant_dict.py": b"D = {\n"
        + b"".join(b"    'k%d': %d,\n" % (i, i) for i in range(20000))
        + b"}\n",
        "nested/unicode_\u00e9.rs": b'fn main() { println!("\xf0\x9f\xa6\x80"); }\n',
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    os.mkfifo(root / "pipe.py")
    (root / "link.py").symlink_to(root / "deep.py")
    (root / "dangling.py").symlink_to(root / "nowhere.py")
    return root


def _summary(r: FileResult) -> tuple[object, ...]:
    return (
        r.file.rel_path,
        r.status,
        r.file_hash,
        [
            (c.start_byte, c.end_byte, c.content, c.symbol_path, c.kinds, c.oversized)
            for c in r.chunks
        ],
        (r.skip.reason, r.skip.detail) if r.skip else None,
        (r.failure.stage, r.failure.error_type) if r.failure else None,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_every_executor_gives_the_same_results_on_hostile_input(tmp_path: Path) -> None:
    root = _hostile(tmp_path / "hostile")
    items = list(iter_discovery(root))
    files = [i for i in items if isinstance(i, DiscoveredFile)]
    assert {s.reason for s in items if not isinstance(s, DiscoveredFile)} >= {
        "binary",
        "not_regular",
        "symlink",
    }
    runs: dict[str, list[tuple[object, ...]]] = {}
    for label, kind, method in [
        ("serial", "serial", None),
        ("thread", "thread", None),
        *((f"process-{m}", "process", m) for m in METHODS),
    ]:
        conc = ConcurrencySettings(start_method=method)  # type: ignore[arg-type]
        gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=400, concurrency=conc))
        results = iter_file_results(files, gov, executor_type=kind, max_workers=2, ordered=True)
        runs[label] = [_summary(r) for r in results]
    serial = runs.pop("serial")
    assert len(serial) == len(files) and all(s[1] != "failed" for s in serial)
    for label, got in runs.items():
        assert got == serial, label


def _stdlib_repo(dest: Path, count: int) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    picked = sorted(p for p in (stdlib / "email").rglob("*.py") if "__pycache__" not in p.parts)
    picked += sorted(p for p in (stdlib / "json").rglob("*.py"))
    for src in picked[:count]:
        target = dest / src.relative_to(stdlib)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)


OUT_OF_SPACE = """\
import resource, sys
from codeweaver.config import load_settings
from codeweaver.core.errors import IndexStoreError
from codeweaver.index import index_project, pipeline

pipeline.BATCH_FILES = 4  # many small transactions: the space runs out half-way
root = sys.argv[1]
settings = load_settings(root, chunker={"concurrency": {"executor": "serial"}})
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
try:
    index_project(root, settings)
except IndexStoreError as exc:
    print(exc)
    sys.exit(2)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE")
def test_a_run_that_runs_out_of_space_converges_to_a_clean_index(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _stdlib_repo(repo, 60)
    script = tmp_path / "out_of_space.py"
    script.write_text(OUT_OF_SPACE)
    db = default_db_path(repo)
    total = sum(1 for _ in repo.rglob("*.py"))
    # Files may grow to LIMIT at most, then writes fail (EFBIG, as a full disk fails them); the
    # first limit that leaves the index part-written is the case to recover from.
    for limit_kib in (600, 900, 1200, 1600, 2400):
        shutil.rmtree(db.parent, ignore_errors=True)
        full = subprocess.run(
            [sys.executable, str(script), str(repo), str(limit_kib * 1024)],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert full.returncode in (0, 2), full.stderr
        if full.returncode == 0:
            pytest.fail(f"no limit left the index part-written (last {limit_kib} KiB)")
        assert "cannot write the index" in full.stdout and "Traceback" not in full.stderr
        with IndexStore.open(db, create=False) as store:  # what was committed is consistent
            assert store.check_integrity() == []
            stored = store.file_count()
        if 0 < stored < total:
            break

    again = run_cli("index", "-q", str(repo))  # room again: the same command carries on
    assert again.returncode == 0, again.stderr
    fresh = tmp_path / "fresh.db"
    assert run_cli("index", "-q", "--db", str(fresh), str(repo)).returncode == 0
    with (
        IndexStore.open(default_db_path(repo), create=False) as a,
        IndexStore.open(fresh, read_only=True) as b,
    ):
        assert a.check_integrity() == []
        assert set(a.file_states()) == set(b.file_states())
        for rel in a.file_states():
            assert [c.chunk_id for c in a.chunks_for(rel)] == [
                c.chunk_id for c in b.chunks_for(rel)
            ]
