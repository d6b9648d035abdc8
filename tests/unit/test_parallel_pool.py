"""_pool: exit-code descriptions and the batch bookkeeping the pool relies on."""

from __future__ import annotations

import signal

from codeweaver.core.discovery import DiscoveredFile
from codeweaver.engine.chunker._pool import Batch, describe_exit
from codeweaver.engine.chunker.worker import failed_result


def test_exit_codes_come_with_a_hint() -> None:
    assert "SIGKILL" in describe_exit(-signal.SIGKILL)
    assert "out-of-memory" in describe_exit(-signal.SIGKILL)
    assert "SIGSEGV" in describe_exit(-signal.SIGSEGV)
    assert "native code" in describe_exit(-signal.SIGSEGV)
    assert "SIGTERM" in describe_exit(-signal.SIGTERM)
    assert "code 7" in describe_exit(7) and "os._exit" in describe_exit(7)
    assert "unknown" in describe_exit(None)


def test_a_batch_completes_once_every_file_has_a_result() -> None:
    files = [DiscoveredFile(f"/x/{i}.py", f"{i}.py", "python", 1, 0) for i in range(3)]
    batch = Batch(bid=7, first_seq=10, files=files)
    assert batch.pending == 3 and not batch.has(11)
    batch.set(11, failed_result(files[1], "worker", "WorkerDied", "boom"))
    batch.set(11, failed_result(files[1], "worker", "WorkerDied", "again"))  # counted once
    assert batch.pending == 2 and batch.has(11) and batch.file(12) is files[2]
    batch.set(10, failed_result(files[0], "worker", "WorkerDied", "boom"))
    batch.set(12, failed_result(files[2], "worker", "WorkerDied", "boom"))
    assert batch.pending == 0
    assert [r.file for r in batch.done()] == files
