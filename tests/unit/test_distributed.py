"""The Dask backend's pieces that need no cluster: the import guard, the worker-side functions.

The worker functions run here in-process, exactly as a Dask worker runs them (Dask calls the
module-level function with plain arguments); the cluster itself is in
``tests/integration/test_dask_cluster.py``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cloudpickle
import pytest

from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.errors import ExecutorError
from codeweaver.core.languages import language_for_path
from codeweaver.engine.chunker import distributed as backend
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.parallel import iter_file_results
from codeweaver.engine.chunker.results import FileResult
from codeweaver.engine.chunker.worker import decode_result, process_file

TREE: dict[str, str | bytes] = {
    "mod.py": "import os\n\n\ndef f(a):\n    return a + 1\n\n\nclass K:\n    def m(self):\n"
    "        return 'héllo'\n",
    "crlf.js": "function a() {\r\n  return 1;\r\n}\r\n",
    "bom.py": "\ufeffx = 1\n",
    "empty.py": "",
    "broken.py": "def f(:\n    pass\n",
    "bad_utf8.txt": b"caf\xe9 au lait\n",
    "notes.md": "# Title\n\nSome text.\n",
    "blob.bin": b"\x00\x01\x02binary",
}


def _discovered(root: Path) -> list[DiscoveredFile]:
    out = []
    for p in sorted(root.iterdir()):
        st = p.stat()
        lang = language_for_path(str(p)) or "text"
        out.append(DiscoveredFile(str(p), p.name, str(lang), st.st_size, st.st_mtime_ns))
    return out


def _same(a: FileResult, b: FileResult) -> bool:
    fa, fb = a.failure, b.failure
    return (a.file, a.status, a.chunks, a.file_hash, a.skip) == (
        b.file,
        b.status,
        b.chunks,
        b.file_hash,
        b.skip,
    ) and (fa is None) == (fb is None)


@pytest.fixture
def files(make_tree: Callable[[dict[str, str | bytes]], Path]) -> list[DiscoveredFile]:
    return _discovered(make_tree(TREE))


GOVERNOR = ChunkGovernor(max_chunk_chars=200)


def test_importing_the_backend_does_not_import_dask() -> None:
    code = (
        "import sys, codeweaver.engine.chunker.distributed, codeweaver.engine.chunker.parallel;"
        "print('distributed' in sys.modules, 'dask' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def test_missing_extra_is_a_clear_error_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # what a missing package looks like
    with pytest.raises(ExecutorError, match=r"pip install 'codeweaver\[distributed\]'"):
        backend.require_distributed()
    with pytest.raises(ExecutorError, match="dask"):
        iter_file_results([], GOVERNOR, executor_type="dask")


def test_shipped_bytes_give_what_the_worker_reading_the_path_gives(
    files: list[DiscoveredFile],
) -> None:
    for f in files:
        read = backend.read_for_shipping(f, GOVERNOR)
        shipped = read if isinstance(read, FileResult) else process_file(f, GOVERNOR, data=read)
        assert _same(shipped, process_file(f, GOVERNOR)), f.rel_path
    statuses = {f.rel_path: process_file(f, GOVERNOR).status for f in files}
    assert statuses["blob.bin"] == "skipped"
    assert statuses["mod.py"] == "chunked"


def test_unreadable_and_too_large_files_are_settled_on_the_client(tmp_path: Path) -> None:
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * 100, encoding="utf-8")
    small_limit = ChunkGovernor(max_chunk_chars=200, max_file_bytes=100)
    too_large = DiscoveredFile(str(big), "big.py", "python", 600, 0)
    gone = DiscoveredFile(str(tmp_path / "gone.py"), "gone.py", "python", 10, 0)
    for f, gov in [(too_large, small_limit), (gone, GOVERNOR)]:
        read = backend.read_for_shipping(f, gov)
        assert isinstance(read, FileResult)
        expected = process_file(f, gov)
        assert _same(read, expected)
        if expected.failure is not None:
            assert read.failure is not None
            assert (read.failure.stage, read.failure.error_type) == (
                expected.failure.stage,
                expected.failure.error_type,
            )
            assert read.failure.stage == "read"
        else:
            assert read.skip is not None
            assert read.skip.reason == ("too_large" if f is too_large else "vanished")


def test_worker_sets_the_governor_up_once_per_key(files: list[DiscoveredFile]) -> None:
    gov_bytes = cloudpickle.dumps(ChunkGovernor(max_chunk_chars=321))
    key = "unit-test-key-321"
    before = backend.worker_setups()
    first = backend.dask_chunk_batch(key, gov_bytes, files)
    again = backend.dask_chunk_batch(key, gov_bytes, files[:2])
    assert backend.worker_setups() == before + 1
    expected_gov = ChunkGovernor(max_chunk_chars=321)
    for f, compact in zip(files, first, strict=True):
        assert _same(decode_result(compact, f), process_file(f, expected_gov))
    assert [r[:5] for r in again] == [r[:5] for r in first[:2]]  # [5] is seconds
    other = cloudpickle.dumps(ChunkGovernor(max_chunk_chars=999))
    data = [Path(f.path).read_bytes() for f in files]
    shipped = backend.dask_chunk_shipped("unit-test-key-999", other, files, data)
    assert backend.worker_setups() == before + 2
    for f, compact in zip(files, shipped, strict=True):
        assert _same(decode_result(compact, f), process_file(f, ChunkGovernor(max_chunk_chars=999)))


def test_bytes_that_are_not_a_governor_fail_setup_with_its_traceback(
    files: list[DiscoveredFile],
) -> None:
    with pytest.raises(backend.WorkerSetupError, match="ChunkGovernor"):
        backend.dask_chunk_batch("unit-test-bad", cloudpickle.dumps({"not": "a governor"}), files)


def test_an_unpicklable_governor_is_an_executor_error() -> None:
    pytest.importorskip("distributed", reason="the dask executor needs the 'distributed' extra")
    import threading

    lock = threading.Lock()
    governor = ChunkGovernor(max_chunk_tokens=64, token_counter=lambda s: len(s) + bool(lock))
    with pytest.raises(ExecutorError, match="cannot be shipped"):  # before any cluster starts
        list(backend.iter_dask(iter([]), governor))


def test_cli_scheduler_with_another_executor_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from codeweaver.cli.app import EXIT_USAGE, main

    (tmp_path / "a.py").write_text("x = 1\n", encoding="utf-8")
    argv = ["index", str(tmp_path), "--executor", "process", "--scheduler", "tcp://127.0.0.1:1"]
    assert main(argv) == EXIT_USAGE
    assert "--scheduler needs --executor dask" in capsys.readouterr().err
    assert not (tmp_path / ".codeweaver" / "index.db").exists()
