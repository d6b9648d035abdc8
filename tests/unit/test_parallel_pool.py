"""_pool: exit-code descriptions and the batch bookkeeping the pool relies on."""

from __future__ import annotations

import signal
from collections import deque

from codeweaver.core.discovery import DiscoveredFile
from codeweaver.engine.chunker._pool import Batch, describe_exit, pop_finished
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


def test_pop_finished_yields_finished_batches_in_order_or_as_they_finish() -> None:
    files = [DiscoveredFile(f"/x/{i}.py", f"{i}.py", "python", 1, 0) for i in range(3)]

    def batches() -> deque[Batch]:
        out = deque(Batch(bid=i, first_seq=i, files=[f]) for i, f in enumerate(files))
        for b in (out[1], out[2]):  # the first batch is still running
            b.set(b.first_seq, failed_result(b.files[0], "worker", "WorkerDied", "boom"))
        return out

    waiting = batches()
    assert list(pop_finished(waiting, ordered=True)) == []  # held behind batch 0
    assert [b.bid for b in waiting] == [0, 1, 2]
    waiting = batches()
    assert [r.file for r in pop_finished(waiting, ordered=False)] == files[1:]
    assert [b.bid for b in waiting] == [0]
    waiting[0].set(0, failed_result(files[0], "worker", "WorkerDied", "boom"))
    assert [r.file for r in pop_finished(waiting, ordered=True)] == files[:1]
    assert not waiting
