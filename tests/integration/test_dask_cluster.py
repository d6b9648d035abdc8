"""The ``dask`` executor on a real LocalCluster (two worker processes on loopback).

One cluster for the module (starting one takes seconds). Its scheduler gives up on a task after
the first worker death (``allowed-failures=0``), so a killed worker goes through codeweaver's own
resubmission (``KilledWorker``) rather than Dask's silent rescheduling.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from _procs import script_in_own_group

pytest.importorskip(
    "distributed",
    reason="the dask executor needs the 'distributed' extra (pip install dask[distributed])",
)

import dask
from distributed import Client, LocalCluster

from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.errors import ExecutorError
from codeweaver.engine.chunker import distributed as backend
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.parallel import (
    chunk_files_parallel,
    iter_file_results,
)
from codeweaver.engine.chunker.results import FileResult, RunStats

pytestmark = pytest.mark.distributed


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # not Dask's 8787
        )
    dask_client = Client(cluster, set_as_default=False)
    try:
        yield dask_client
    finally:
        dask_client.close()
        cluster.close()


def _same(a: FileResult, b: FileResult) -> bool:
    # ``seconds`` is a measurement, everything else must match exactly.
    return (a.file, a.status, a.chunks, a.file_hash, a.skip) == (
        b.file,
        b.status,
        b.chunks,
        b.file_hash,
        b.skip,
    ) and (a.failure is None) == (b.failure is None)


def _assert_matches(results: list[FileResult], serial: dict[str, FileResult]) -> None:
    assert sorted(r.path for r in results) == sorted(serial)
    for r in results:
        assert _same(r, serial[r.path]), r.file.rel_path


def _with(governor: ChunkGovernor, **concurrency: Any) -> ChunkGovernor:
    settings = governor.settings.model_copy(
        update={"concurrency": ConcurrencySettings(executor="dask", **concurrency)}
    )
    return ChunkGovernor(settings)


@pytest.mark.parametrize("ship_file_bytes", [False, True], ids=["shared-fs", "shipped-bytes"])
def test_dask_matches_serial(
    client: Client,
    corpus: list[DiscoveredFile],
    governor: ChunkGovernor,
    serial: dict[str, FileResult],
    ship_file_bytes: bool,
) -> None:
    stats = RunStats()
    gov = _with(governor, ship_file_bytes=ship_file_bytes)
    results = list(iter_file_results(corpus, gov, client=client, stats=stats))
    _assert_matches(results, serial)
    assert stats.executor == "dask" and stats.workers == 2
    assert stats.files == len(corpus) and stats.retries == 0


_RAISE_IN: set[str] = set()  # files whose annotation raises KeyboardInterrupt (not a Ctrl-C)


def _chunk_count(result: FileResult) -> tuple[int, int]:
    if result.file.rel_path in _RAISE_IN:
        raise KeyboardInterrupt
    return os.getpid(), len(result.chunks)


def test_dask_annotates_in_the_callers_process(
    client: Client, corpus: list[DiscoveredFile], governor: ChunkGovernor
) -> None:
    files = corpus[:20]
    _RAISE_IN.add(files[3].rel_path)
    try:
        results = list(iter_file_results(files, governor, client=client, annotate=_chunk_count))
    finally:
        _RAISE_IN.clear()
    assert len(results) == 20  # the one that raised failed its file, as under every executor
    for r in results:
        if r.file.rel_path == files[3].rel_path:
            assert r.status == "failed" and r.failure is not None
            assert (r.failure.stage, r.failure.error_type) == ("chunk", "KeyboardInterrupt")
            continue
        want = (os.getpid(), len(r.chunks)) if r.status == "chunked" else None
        assert r.annotation == want


def test_governor_is_set_up_once_per_worker(
    client: Client, corpus: list[DiscoveredFile], serial: dict[str, FileResult]
) -> None:
    # A governor no other test uses, so its digest is new to every worker.
    gov = ChunkGovernor(max_chunk_chars=1499)
    before: dict[str, int] = client.run(backend.worker_setups)
    n = sum(
        1
        for _ in iter_file_results(
            corpus[:200], gov, executor_type="dask", client=client, batch_size=5
        )
    )
    assert n == 200
    after: dict[str, int] = client.run(backend.worker_setups)
    grew = [after[w] - before.get(w, 0) for w in after]
    # 40 batches ran; the governor was unpickled at most once in each worker process.
    assert max(grew) == 1 and min(grew) >= 0


def test_ordered_gives_input_order_and_a_scheduler_address_works(
    client: Client, corpus: list[DiscoveredFile], governor: ChunkGovernor
) -> None:
    files = corpus[:120]
    address = client.scheduler.address
    gov = _with(governor, scheduler_address=address)
    got = [path for path, _ in chunk_files_parallel(files, gov, ordered=True, batch_size=3)]
    assert got == [f.path for f in files if f.path in set(got)]
    assert len(got) >= 100


@pytest.mark.parametrize("source", ["argument", "dask-config", "default-client"])
def test_the_cluster_is_found_from_each_source(
    client: Client, corpus: list[DiscoveredFile], governor: ChunkGovernor, source: str
) -> None:
    files = corpus[:20]
    address = client.scheduler.address
    # Executor "dask", no scheduler_address setting, and a budget no other test uses: the
    # governor is new to the module cluster's workers, so they count a setup iff it ran there
    # (a local cluster of its own would leave these counters alone).
    budget = 1400 + ["argument", "dask-config", "default-client"].index(source)
    gov = ChunkGovernor(
        ChunkerSettings(max_chunk_chars=budget, concurrency=ConcurrencySettings(executor="dask"))
    )
    before = sum(client.run(backend.worker_setups).values())
    stats = RunStats()
    if source == "argument":
        results = list(iter_file_results(files, gov, client=address, stats=stats))
    elif source == "dask-config":  # what DASK_SCHEDULER_ADDRESS sets
        with dask.config.set({"scheduler-address": address}):
            results = list(iter_file_results(files, gov, stats=stats))
    else:
        with Client(address):  # the default client of this process while it is open
            results = list(iter_file_results(files, gov, stats=stats))
    assert len(results) == len(files) and stats.workers == 2
    assert sum(client.run(backend.worker_setups).values()) > before


def test_a_killed_worker_loses_no_file(
    client: Client,
    corpus: list[DiscoveredFile],
    governor: ChunkGovernor,
    serial: dict[str, FileResult],
) -> None:
    client.wait_for_workers(2, timeout=60)
    pids: dict[str, int] = client.run(os.getpid)
    stats = RunStats()
    it = iter_file_results(
        corpus, governor, executor_type="dask", client=client, batch_size=20, stats=stats
    )
    results = [next(it)]
    victim = None
    while victim is None:  # kill a worker while it holds one of our tasks
        busy = [
            w
            for w, keys in client.processing().items()
            if any(str(k).startswith("codeweaver-chunk") for k in keys)
        ]
        if busy:
            victim = busy[0]
        else:
            results.append(next(it))
    os.kill(pids[victim], signal.SIGKILL)
    results.extend(it)
    _assert_matches(results, serial)
    assert stats.retries > 0  # the killed worker's batch went through KilledWorker → file by file


def test_a_file_that_kills_its_worker_fails_alone(
    client: Client, corpus: list[DiscoveredFile], tmp_path: Path
) -> None:
    client.wait_for_workers(2, timeout=60)
    poison = tmp_path / "poison.py"
    poison.write_text("x = 'CODEWEAVER-POISON'\n", encoding="utf-8")
    st = poison.stat()
    bad = DiscoveredFile(str(poison), "poison.py", "python", st.st_size, 0)
    files = [*corpus[:30], bad, *corpus[30:60]]
    settings = ChunkerSettings(max_chunk_tokens=200)
    # Exits the worker process when it meets the marker (a segfault would look the same).
    gov = ChunkGovernor(
        settings, token_counter=lambda s: os._exit(7) if "CODEWEAVER-POISON" in s else len(s) // 3
    )
    good = ChunkGovernor(settings, token_counter=lambda s: len(s) // 3)
    expected = {
        r.path: r for r in iter_file_results(files[:30] + files[31:], good, executor_type="serial")
    }
    stats = RunStats()
    results = list(
        iter_file_results(
            files, gov, executor_type="dask", client=client, batch_size=10, stats=stats
        )
    )
    assert len(results) == len(files)
    by_path = {r.path: r for r in results}
    failed = by_path.pop(bad.path)
    assert failed.status == "failed" and failed.failure is not None
    assert failed.failure.stage == "worker" and failed.failure.error_type == "WorkerDied"
    for path, r in by_path.items():
        assert (r.status, r.chunks) == (expected[path].status, expected[path].chunks)


def test_unreachable_scheduler_is_a_clear_error(
    corpus: list[DiscoveredFile], governor: ChunkGovernor, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    monkeypatch.setattr(backend, "CONNECT_TIMEOUT", 1.0)
    gov = _with(governor, scheduler_address=address)
    started = time.monotonic()
    with pytest.raises(ExecutorError, match=f"cannot reach the Dask scheduler at {address}"):
        list(iter_file_results(corpus[:20], gov))
    assert time.monotonic() - started < 30


def test_cli_index_with_a_scheduler(
    client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from codeweaver.cli.app import main

    repo = tmp_path / "repo"
    repo.mkdir()
    for i in range(12):
        (repo / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n", encoding="utf-8")
    address = client.scheduler.address
    before = sum(client.run(backend.worker_setups).values())
    argv = ["index", str(repo), "--executor", "dask", "--scheduler", address, "--json", "-q"]
    assert main(argv) == 0
    assert sum(client.run(backend.worker_setups).values()) > before  # it ran on this cluster
    report = json.loads(capsys.readouterr().out)
    assert report["executor"] == "dask"
    assert (repo / ".codeweaver" / "index.db").exists()


def _our_scheduler_tasks(client: Client) -> list[str]:
    def keys(dask_scheduler: Any) -> list[str]:
        return [str(k) for k in dask_scheduler.tasks if str(k).startswith("codeweaver-chunk")]

    found: list[str] = client.run_on_scheduler(keys)
    return found


def test_breaking_out_releases_our_tasks_and_leaves_the_client_running(
    client: Client, corpus: list[DiscoveredFile], governor: ChunkGovernor
) -> None:
    gen = iter_file_results(corpus, governor, executor_type="dask", client=client, batch_size=5)
    next(gen)
    gen.close()  # what leaving a ``for`` loop early does
    left = _our_scheduler_tasks(client)
    for _ in range(100):  # the scheduler forgets cancelled keys asynchronously
        if not left:
            break
        time.sleep(0.05)
        left = _our_scheduler_tasks(client)
    assert left == []
    assert client.status == "running"


def test_without_client_or_address_a_local_cluster_runs_and_is_closed(
    corpus: list[DiscoveredFile], governor: ChunkGovernor, serial: dict[str, FileResult]
) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    gen = iter_file_results(corpus[:40], governor, executor_type="dask", max_workers=1)
    first = next(gen)
    assert _same(first, serial[first.path])
    ours = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert ours  # the LocalCluster's worker process (and its nanny)
    gen.close()
    _, alive = psutil.wait_procs(ours, timeout=15)
    assert alive == []


def test_the_local_cluster_leaves_dasks_port_alone(
    corpus: list[DiscoveredFile], governor: ChunkGovernor, serial: dict[str, FileResult]
) -> None:
    """A user's own Dask on 8787 (its dashboard port, where a scheduler serves /health and
    /metrics even without a dashboard): the cluster codeweaver starts neither warns that the
    port is taken nor binds it."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", 8787))
        holder.listen()
    except OSError:
        holder.close()
        holder = None  # taken already: the same situation
    try:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            gen = iter_file_results(corpus[:10], governor, executor_type="dask", max_workers=1)
            results = list(gen)
        assert [str(w.message) for w in record if "in use" in str(w.message)] == []
        assert len(results) == 10 and all(_same(r, serial[r.path]) for r in results)
    finally:
        if holder is not None:
            holder.close()


def test_a_cluster_without_workers_is_a_clear_error(
    corpus: list[DiscoveredFile], governor: ChunkGovernor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend, "WORKER_WAIT_TIMEOUT", 0.5)
    with (
        LocalCluster(
            n_workers=0,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as empty,
        Client(empty, set_as_default=False) as empty_client,
    ):
        with pytest.raises(ExecutorError, match="has no workers"):
            list(
                iter_file_results(corpus[:20], governor, executor_type="dask", client=empty_client)
            )
        assert empty_client.status == "running"


CTRL_C_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from codeweaver.config.chunker import ChunkerSettings
    from codeweaver.core.discovery import DiscoveredFile
    from codeweaver.engine.chunker.governor import ChunkGovernor
    from codeweaver.engine.chunker.parallel import iter_file_results

    def slow(text):
        time.sleep(0.01)  # keeps the workers busy
        return len(text) // 4

    if __name__ == "__main__":
        p = Path(sys.argv[1])
        files = [DiscoveredFile(str(p), f"{i}.py", "python", p.stat().st_size, 0)
                 for i in range(5000)]
        gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=100), token_counter=slow)
        try:
            for n, _ in enumerate(iter_file_results(files, gov, executor_type="dask",
                                                    max_workers=2, batch_size=2)):
                if n == 2:
                    print("running", flush=True)
        except KeyboardInterrupt:
            sys.exit(130)
    """
)


def test_ctrl_c_stops_a_local_cluster_run_cleanly(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f(x):\n    return x\n" * 30, encoding="utf-8")
    script = tmp_path / "child.py"
    script.write_text(CTRL_C_CHILD, encoding="utf-8")
    with script_in_own_group(script, str(src)) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "running"
        family = psutil.Process(proc.pid).children(recursive=True)
        assert len(family) >= 2  # the local cluster's worker processes
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole group
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err  # the workers ignored it; the parent stopped them
    _, alive = psutil.wait_procs(family, timeout=10)
    assert alive == []
