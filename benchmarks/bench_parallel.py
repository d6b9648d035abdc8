"""Parallel chunking benchmark: serial vs thread vs process executors at 1..N workers.

    python benchmarks/bench_parallel.py [--corpus DIR] [--budget-chars 1500] [--max-files N]
                                        [--repeat 3] [--workers 1,2] [--executors serial,process]
                                        [--start-method fork] [--scale 4] [--json OUT]
                                        [--dask] [--dask-ship] [--scheduler tcp://HOST:8786]

For each executor and worker count it runs ``iter_file_results`` over the corpus (default: the
interpreter's standard library, ``*.py`` outside site-packages), consuming results lazily and
dropping them as a caller that stores them would, and prints the best of ``--repeat`` runs:
files/s, MB/s, speedup over serial, parallel efficiency (speedup / workers) and the peak RSS of
the parent process (sampled; the workers are not counted). Wall time includes starting the
workers. "CPU s" is the CPU time of the parent plus its workers (not counted under forkserver,
whose workers are not our children): on a shared machine, where wall-clock speedups depend on
what else runs, it shows what parallelism costs in extra work. "parent CPU s" is this process's
share of it (dispatching batches, receiving and decoding results): the part no number of
workers takes off, so what bounds a process run on more cores. ``--scale K`` lists the corpus
K times (the same files again) and runs each configuration at 1x and Kx: the parent's peak
RSS should not grow with the number of files.

``--dask`` adds the ``dask`` executor: for each worker count N the local cluster the executor
itself would start (N worker processes, one thread each, loopback) is started before the timed
runs (its start-up time is printed, not counted: a cluster outlives one call) and passed as
``client=``, so the "dask" rows measure what Dask costs per call against the process executor,
which starts its workers inside each timed run; the "dask-local" rows pass no client, so each
run starts and closes its own cluster (what ``codeweaver index --executor dask`` without a
scheduler pays). ``--dask-ship`` also runs "dask" with ``ship_file_bytes=True`` (the client
reads the files). ``--scheduler ADDR`` runs it on an existing cluster instead. For "dask" rows
"CPU s" adds the CPU time the cluster's workers spent during the run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import time
from itertools import chain, repeat
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import PeakRss, default_corpus, format_table, list_corpus, warm_page_cache
from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.parallel import default_worker_count, iter_file_results
from codeweaver.engine.chunker.results import RunStats

MB = 1_000_000


def run_once(
    files: list[DiscoveredFile],
    governor: ChunkGovernor,
    executor: str,
    workers: int,
    scale: int,
    *,
    client: Any = None,
    label: str | None = None,
) -> dict[str, Any]:
    """One timed run; results are consumed and dropped."""
    stats = RunStats()
    stream = chain.from_iterable(repeat(files, scale))
    chunks = 0
    parent0 = _parent_cpu_seconds()
    cpu0 = _cpu_seconds() + _cluster_cpu_seconds(client)
    with PeakRss() as rss:
        started = time.perf_counter()
        for result in iter_file_results(
            stream,
            governor,
            executor_type=executor,
            max_workers=workers,
            stats=stats,
            client=client,
        ):
            chunks += len(result.chunks)
        wall = time.perf_counter() - started
    cpu = _cpu_seconds() + _cluster_cpu_seconds(client) - cpu0
    parent_cpu = _parent_cpu_seconds() - parent0
    return {
        "executor": label or executor,
        "workers": stats.workers,
        "scale": scale,
        "files": stats.files,
        "failed": stats.files_failed,
        "chunks": chunks,
        "bytes": stats.bytes,
        "wall_s": wall,
        "files_per_s": stats.files / wall,
        "mb_per_s": stats.bytes / MB / wall,
        "cpu_s": cpu,
        "parent_cpu_s": parent_cpu,
        "rss_start_mb": rss.start / MB,
        "rss_peak_mb": rss.peak / MB,
    }


def _cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (the workers, once joined)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _parent_cpu_seconds() -> float:
    """CPU time of this process alone."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _worker_cpu_seconds() -> float:
    """Run on a Dask worker: its process's CPU time."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _cluster_cpu_seconds(client: Any) -> float:
    if client is None:
        return 0.0
    return float(sum(client.run(_worker_cpu_seconds).values()))


def _dask_rows(
    args: argparse.Namespace,
    files: list[DiscoveredFile],
    governor: ChunkGovernor,
    workers: list[int],
    scale: int,
) -> list[dict[str, Any]]:
    """The dask executor on a LocalCluster per worker count (or on ``--scheduler``)."""
    import distributed

    from codeweaver.engine.chunker.distributed import start_local_cluster

    dist: Any = distributed  # untyped

    variants = [("dask", governor)]
    if args.dask_ship:
        ship = governor.settings.model_copy(
            update={
                "concurrency": governor.settings.concurrency.model_copy(
                    update={"ship_file_bytes": True}
                )
            }
        )
        variants.append(("dask-ship", ChunkGovernor(ship)))
    rows = []
    for n in [0] if args.scheduler else workers:
        started = time.perf_counter()
        cluster: Any = None
        if args.scheduler:
            client = dist.Client(args.scheduler, set_as_default=False)
        else:
            cluster = start_local_cluster(n)
            client = dist.Client(cluster, set_as_default=False)
        print(
            f"  dask cluster of {len(client.nthreads())} worker(s) ready in "
            f"{time.perf_counter() - started:.2f}s (not timed)",
            file=sys.stderr,
            flush=True,
        )
        try:
            for label, gov in variants:
                rows.append(
                    best_of(
                        args.repeat, files, gov, "dask", n or 1, scale, client=client, label=label
                    )
                )
                print(
                    f"  {label:>9} x{rows[-1]['workers']} scale {scale}: "
                    f"{rows[-1]['wall_s']:.2f}s (runs {rows[-1]['runs_wall_s']})",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        if not args.scheduler and args.dask:
            rows.append(best_of(args.repeat, files, governor, "dask", n, scale, label="dask-local"))
            print(
                f"  dask-local x{n} scale {scale}: {rows[-1]['wall_s']:.2f}s "
                f"(runs {rows[-1]['runs_wall_s']})",
                file=sys.stderr,
                flush=True,
            )
    return rows


def best_of(n: int, *args: Any, **kwargs: Any) -> dict[str, Any]:
    runs = [run_once(*args, **kwargs) for _ in range(n)]
    best = min(runs, key=lambda r: r["wall_s"])
    best["rss_peak_mb"] = max(r["rss_peak_mb"] for r in runs)
    best["runs_wall_s"] = [round(r["wall_s"], 3) for r in runs]
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", default=None, help="folder to chunk (default: the stdlib)")
    ap.add_argument("--languages", default=None, help="comma list (stdlib default: python)")
    ap.add_argument("--budget-chars", type=int, default=1500)
    ap.add_argument("--max-files", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration; best is kept")
    ap.add_argument("--workers", default=None, help="comma list (default: 1..CPUs this may use)")
    ap.add_argument("--executors", default="serial,thread,process")
    ap.add_argument("--start-method", default=None, choices=["fork", "forkserver", "spawn"])
    ap.add_argument("--scale", type=int, default=1, help="also run with the corpus listed K times")
    ap.add_argument("--json", default=None, help="write the rows as JSON here")
    ap.add_argument(
        "--dask", action="store_true", help="also run the dask executor on a LocalCluster"
    )
    ap.add_argument("--dask-ship", action="store_true", help="also dask with ship_file_bytes")
    ap.add_argument("--scheduler", default=None, help="run dask on this cluster instead")
    args = ap.parse_args(argv)

    if args.corpus is None:
        root, exclude = default_corpus(), ("site-packages",)
        languages = args.languages.split(",") if args.languages else ["python"]
    else:
        root, exclude = Path(args.corpus), ()
        languages = args.languages.split(",") if args.languages else None
    files = list_corpus(root, languages=languages, max_files=args.max_files, exclude=exclude)
    if not files:
        print(f"no files under {root}", file=sys.stderr)
        return 1
    total = warm_page_cache(files)
    n_cpus = default_worker_count()
    workers = (
        [int(w) for w in args.workers.split(",")] if args.workers else list(range(1, n_cpus + 1))
    )
    executors = args.executors.split(",")
    # Explicit: the RSS sampler's thread would otherwise steer the default away from fork.
    start_method = args.start_method or multiprocessing.get_all_start_methods()[0]
    settings = ChunkerSettings(
        max_chunk_chars=args.budget_chars,
        concurrency=ConcurrencySettings(start_method=start_method),  # type: ignore[arg-type]
    )
    governor = ChunkGovernor(settings)
    print(
        f"corpus {root}: {len(files)} files, {total / MB:.1f} MB; budget {args.budget_chars} chars;"
        f" start method {start_method}; {n_cpus} usable CPUs (os.cpu_count()={os.cpu_count()});"
        f" load average {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}",
        flush=True,
    )

    scales = [1] if args.scale <= 1 else [1, args.scale]
    rows: list[dict[str, Any]] = []
    for scale in scales:
        serial_wall: float | None = None
        for executor in executors:
            for n in [1] if executor == "serial" else workers:
                row = best_of(args.repeat, files, governor, executor, n, scale)
                if executor == "serial":
                    serial_wall = row["wall_s"]
                row["speedup"] = serial_wall / row["wall_s"] if serial_wall else float("nan")
                row["efficiency"] = row["speedup"] / row["workers"]
                rows.append(row)
                print(
                    f"  {executor:>7} x{row['workers']} scale {scale}: {row['wall_s']:.2f}s "
                    f"(runs {row['runs_wall_s']})",
                    file=sys.stderr,
                    flush=True,
                )
        if args.dask or args.dask_ship or args.scheduler:
            for row in _dask_rows(args, files, governor, workers, scale):
                row["speedup"] = serial_wall / row["wall_s"] if serial_wall else float("nan")
                row["efficiency"] = row["speedup"] / max(1, row["workers"])
                rows.append(row)

    headers = [
        "executor",
        "workers",
        "scale",
        "files",
        "wall s",
        "files/s",
        "MB/s",
        "speedup",
        "efficiency",
        "CPU s",
        "parent CPU s",
        "parent RSS start MB",
        "parent RSS peak MB",
    ]
    table = [
        [
            r["executor"],
            r["workers"],
            f"{r['scale']}x",
            r["files"],
            r["wall_s"],
            r["files_per_s"],
            r["mb_per_s"],
            f"{r['speedup']:.2f}x" if r["speedup"] == r["speedup"] else "n/a",
            f"{r['efficiency'] * 100:.0f}%" if r["speedup"] == r["speedup"] else "n/a",
            r["cpu_s"],
            r["parent_cpu_s"],
            r["rss_start_mb"],
            r["rss_peak_mb"],
        ]
        for r in rows
    ]
    print(format_table(headers, table))
    if any(r["failed"] for r in rows):
        print("note: some files failed; see stats", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
