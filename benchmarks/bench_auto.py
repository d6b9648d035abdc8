"""Where ``executor="auto"`` should stop chunking serially, per start method.

    python benchmarks/bench_auto.py [--corpus DIR] [--sizes 0.5,1,2,4,8] [--repeat 5]
                                    [--workers 2] [--json OUT]

Three measurements, each printed:

1. **Start-up latency** of the process executor under each start method: the best of
   ``--repeat`` runs of a fresh interpreter chunking two tiny files with two workers (a fresh
   interpreter, because that is what ``codeweaver index`` pays: its fork server starts with it),
   and the workers' CPU time. On a loaded machine the wall time of a start-up that imports the
   chunker (forkserver, spawn) grows with the load; its CPU time, spread over the workers, is
   what an idle machine waits.
2. **Serial throughput** in MB per CPU second (CPU time moves little with other load).
3. **Every executor on growing work**: files drawn from the corpus (default: the standard
   library's ``*.py`` outside site-packages) in a fixed shuffled order up to each size, chunked by
   serial, threads, the process executor under ``fork`` and ``forkserver``, and ``auto`` itself,
   interleaved; best wall time (and median).

On a quiet machine with ``W`` usable cores the process executor wins once the serial time
exceeds ``S * s / (s - 1)``, where ``S`` is its start-up latency and ``s`` its speedup at scale
(1.82 with two workers in ``bench_parallel.py``); the script prints that crossover from (1) and
(2), which is what ``parallel.AUTO_SERIAL_MAX_BYTES`` and ``AUTO_SERIAL_MAX_BYTES_FORK`` are set
from. Table (3) shows how far a loaded machine moves it: there the second core may not be free.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import default_corpus, format_table, list_corpus, warm_page_cache
from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.parallel import (
    AUTO_SERIAL_MAX_BYTES,
    AUTO_SERIAL_MAX_BYTES_FORK,
    iter_file_results,
)
from codeweaver.engine.chunker.results import RunStats

MB = 1_000_000
SPEEDUP = 1.82  # two workers at scale, bench_parallel.py on a quiet machine
CONFIGS = {
    "serial": ("serial", None),
    "thread": ("thread", None),
    "process-fork": ("process", "fork"),
    "process-forkserver": ("process", "forkserver"),
    "auto": ("auto", None),
}


def _governor(method: str | None) -> ChunkGovernor:
    conc = ConcurrencySettings(start_method=method)  # type: ignore[arg-type]
    return ChunkGovernor(ChunkerSettings(max_chunk_chars=1500, concurrency=conc))


def startup_probe(method: str, scratch: Path) -> tuple[float, float]:
    """(In a fresh interpreter) seconds for two workers to start and chunk two tiny files, and
    the CPU seconds the workers used (counted for fork and spawn: forkserver's are not ours)."""
    scratch.write_text("def f():\n    return 1\n")
    files = [DiscoveredFile(str(scratch), f"{i}.py", "python", 24, 0) for i in range(2)]
    started = time.perf_counter()
    list(iter_file_results(files, _governor(method), executor_type="process", batch_size=1))
    wall = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, children.ru_utime + children.ru_stime


def startup_latency(method: str, repeat: int, scratch: Path) -> tuple[float, float]:
    """Best wall time and best worker CPU time over ``repeat`` fresh interpreters."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--startup-probe", method, "--scratch", str(scratch)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        w, c = (float(x) for x in out.stdout.split())
        wall, cpu = min(wall, w), min(cpu, c)
    return wall, cpu


def draw(files: list[DiscoveredFile], size_mb: float) -> list[DiscoveredFile]:
    """Files in a fixed shuffled order until ``size_mb`` MB of source is reached."""
    out, total = [], 0
    for f in files:
        if total >= size_mb * MB:
            break
        out.append(f)
        total += f.size
    return out


def run_once(files: list[DiscoveredFile], config: str, workers: int) -> tuple[float, str]:
    kind, method = CONFIGS[config]
    stats = RunStats()
    started = time.perf_counter()
    for _ in iter_file_results(
        files, _governor(method), executor_type=kind, max_workers=workers, stats=stats
    ):
        pass
    return time.perf_counter() - started, f"{stats.executor} x{stats.workers}"


def serial_throughput(files: list[DiscoveredFile], repeat: int) -> float:
    """MB of source per CPU second, serially (best of ``repeat``)."""
    best = float("inf")
    for _ in range(repeat):
        cpu = time.process_time()
        for _ in iter_file_results(files, _governor(None), executor_type="serial"):
            pass
        best = min(best, time.process_time() - cpu)
    return sum(f.size for f in files) / MB / best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--sizes", default="0.5,1,2,4,8", help="MB of source per run")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--startup-probe", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/codeweaver-bench-auto.py"))
    args = ap.parse_args()
    if args.startup_probe:
        print(*startup_probe(args.startup_probe, args.scratch))
        return 0

    latency = {
        m: startup_latency(m, args.repeat, args.scratch) for m in ("fork", "forkserver", "spawn")
    }
    root = args.corpus or default_corpus()
    corpus = list_corpus(root, exclude=("site-packages",) if args.corpus is None else ())
    random.Random(15).shuffle(corpus)
    warm_page_cache(corpus)
    rate = serial_throughput(draw(corpus, 4), args.repeat)
    print(f"serial: {rate:.2f} MB per CPU second")
    for method, (wall, cpu) in latency.items():
        # An idle machine starts the workers side by side: their CPU time over the workers is
        # the wait (what spawn shows; forkserver's workers do the same imports).
        idle = wall if method == "fork" else latency["spawn"][1] / args.workers
        crossover = idle * SPEEDUP / (SPEEDUP - 1) * rate
        print(
            f"{method}: start-up {wall:.3f} s wall here (best of {args.repeat}), workers' CPU "
            f"{cpu:.3f} s; on an idle machine ~{idle:.3f} s, so processes win past "
            f"~{crossover:.1f} MB"
        )
    print(
        f"auto stays serial up to {AUTO_SERIAL_MAX_BYTES_FORK / MB:.1f} MB (fork) and "
        f"{AUTO_SERIAL_MAX_BYTES / MB:.1f} MB (forkserver, spawn)"
    )

    # A thread beside the runs, as codeweaver index has one (auto's default method: forkserver).
    keep = threading.Event()
    threading.Thread(target=keep.wait, daemon=True).start()
    rows: list[list[str]] = []
    record: list[dict[str, Any]] = []
    for size in [float(s) for s in args.sizes.split(",")]:
        files = draw(corpus, size)
        times: dict[str, list[float]] = {c: [] for c in CONFIGS}
        picked = ""
        for _ in range(args.repeat):
            for config in CONFIGS:  # interleaved: load changes hit every config alike
                seconds, used = run_once(files, config, args.workers)
                times[config].append(seconds)
                if config == "auto":
                    picked = used
        mbytes = sum(f.size for f in files) / MB
        rows.append(
            [f"{mbytes:.2f}", str(len(files))]
            + [f"{min(times[c]):.3f} ({statistics.median(times[c]):.3f})" for c in CONFIGS]
            + [picked]
        )
        record.append({"mb": mbytes, "files": len(files), "times": times, "auto": picked})
    keep.set()
    print(
        format_table(
            ["MB", "files", *(f"{c} best (median) s" for c in CONFIGS), "auto picked"], rows
        )
    )
    if args.json:
        args.json.write_text(
            json.dumps({"startup": latency, "serial_mb_per_cpu_s": rate, "runs": record})
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
