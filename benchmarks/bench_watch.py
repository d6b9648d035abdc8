"""Watch benchmark: from a save to the change being searchable, and a 2,000-file burst.

    python benchmarks/bench_watch.py [--root DIR] [--saves 40] [--burst 2000] [--workers N]
                                     [--rescan-above N] [--embed-model DIR] [--json OUT]

The tree (default: the interpreter's standard library, ``site-packages`` and ``__pycache__`` left
out) is copied to a temporary directory, and ``codeweaver watch --json`` runs on the copy as a
subprocess. Then:

1. *Save to searchable*, ``--saves`` times: append a line holding a new word to one ``.py`` file
   and time, from the moment the write returns, until a reader in this process (its own SQLite
   connection, as ``codeweaver search`` has) finds the word. Each save waits for the previous
   update to finish. Reported: p50, p95 and max, and the watch's own indexing time per update.
2. *Burst*: ``--burst`` files replaced at once (a new version written beside the tree and
   renamed over each, as a checkout does); timed from the first rename until the index holds
   them all, with the batches it took and the CPU time of the watch's process tree, against a
   ``codeweaver index --full`` of the same tree (wall and CPU time of that subprocess tree). The burst is a random sample of the
   indexed text files (a comment line appended to each). ``--rescan-above 1000`` makes the watch
   handle it as a rescan of the whole tree instead of by name.

Wall times on a shared machine are noisy; CPU times less so. The copy is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import TreeCpu
from codeweaver.index.store import IndexStore, default_db_path

DEADLINE = 600.0


class WatchProcess:
    """``codeweaver watch --json`` on a tree: its events, in order, as they arrive."""

    def __init__(self, root: Path, extra: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "codeweaver", "watch", str(root), "--json", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.cond:
                self.events.append(json.loads(line))
                self.cond.notify_all()

    def wait(self, kind: str, after: int) -> tuple[int, dict[str, Any]]:
        end = time.monotonic() + DEADLINE
        with self.cond:
            while True:
                for i in range(after, len(self.events)):
                    if self.events[i]["event"] == kind:
                        return i, self.events[i]
                after = len(self.events)
                if self.proc.poll() is not None or time.monotonic() > end:
                    raise SystemExit(f"watch stopped or stalled waiting for {kind!r}")
                self.cond.wait(1.0)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(
        src,
        dst,
        ignore=shutil.ignore_patterns("site-packages", "__pycache__", "config-*"),
        symlinks=True,
    )


def _searchable(db: Path, word: str, deadline: float) -> float:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        while True:
            row = conn.execute(
                "SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1", (f'"{word}"',)
            ).fetchone()
            if row is not None:
                return time.perf_counter()
            if time.perf_counter() > deadline:
                raise SystemExit(f"{word} never became searchable")
            time.sleep(0.002)
    finally:
        conn.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _at_least_one(text: str) -> int:
    n = int(text)
    if n < 1:  # an empty burst has no update to time
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {n}")
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--saves", type=int, default=40)
    ap.add_argument("--burst", type=_at_least_one, default=2000, help="files replaced at once")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--rescan-above", type=int, default=None, help="passed to the watch")
    ap.add_argument(
        "--embed-model",
        default=None,
        help="a model2vec model folder: index and watch with it (default: what the settings say)",
    )
    ap.add_argument("--json", default=None, help="write the numbers to this file")
    args = ap.parse_args(argv)
    extra = ["--workers", str(args.workers)] if args.workers else []
    if args.embed_model:
        extra += ["--embed-provider", "model2vec", "--embed-model", args.embed_model]
    watch_extra = [*extra]
    if args.rescan_above is not None:
        watch_extra += ["--rescan-above", str(args.rescan_above)]

    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-watch-"))
    tree = tmp / "tree"
    try:
        _copy_tree(Path(args.root), tree)
        db = default_db_path(tree)
        t0 = time.perf_counter()
        watch = WatchProcess(tree, watch_extra)
        _, ready = watch.wait("ready", 0)
        t_initial = time.perf_counter() - t0
        with IndexStore.open(db, create=False) as store:
            states = store.file_states()
        chunked = sorted(p for p, st in states.items() if st.status == "chunked")
        indexed = [p for p in chunked if p.endswith(".py")]
        rng = random.Random(7)

        latencies: list[float] = []
        index_seconds: list[float] = []
        at = len(watch.events)
        for k in range(args.saves):
            target = tree / rng.choice(indexed)
            word = f"cwbenchsave{k}x{rng.randrange(10**9)}"
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(f"\n# {word}\n")
            saved = time.perf_counter()
            found = _searchable(db, word, saved + DEADLINE)
            latencies.append(found - saved)
            at, update = watch.wait("update", at)
            index_seconds.append(update["report"]["seconds"])
            at += 1

        cpu = TreeCpu(watch.proc.pid)
        idle0 = cpu.total()
        time.sleep(5.0)  # the watch's own cost while nothing changes
        idle_cpu = (cpu.total() - idle0) / 5.0

        burst = sorted(rng.sample(chunked, min(args.burst, len(chunked))))
        staged = tmp / "staged"
        staged.mkdir()
        for i, rel in enumerate(burst):
            text = (tree / rel).read_text(encoding="utf-8", errors="replace")
            (staged / str(i)).write_text(text + f"\n# cwbenchburst{i}\n", encoding="utf-8")
        cpu0 = cpu.total()
        t0 = time.perf_counter()
        for i, rel in enumerate(burst):
            os.replace(staged / str(i), tree / rel)
        missing = set(burst)
        updates: list[dict[str, Any]] = []
        while missing:  # until the index holds every replaced file (each one grew by a line)
            at, update = watch.wait("update", at)
            at += 1
            updates.append(update)
            with IndexStore.open(db, create=False) as store:
                stored = store.file_states(missing)
            missing = {p for p in missing if stored[p].size != (tree / p).stat().st_size}
        t_burst = time.perf_counter() - t0
        cpu_burst = cpu.close() - cpu0
        batches = len(updates)
        update = updates[0]
        burst_report = update["report"]
        rechunked = sum(u["report"]["changed"] + u["report"]["new"] for u in updates)
        watch.stop()

        t0 = time.perf_counter()
        full = subprocess.Popen(
            [sys.executable, "-m", "codeweaver", "index", str(tree), "--full", "--json", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        full_cpu = TreeCpu(full.pid)
        out, _ = full.communicate()
        t_full = time.perf_counter() - t0
        cpu_full = full_cpu.close()
        full_report = json.loads(out)

        p50, p95 = statistics.median(latencies), _pct(latencies, 0.95)
        print(f"tree: copy of {args.root} ({ready['report']['total_files']:,} files indexed)")
        print(f"initial index by the watch: {t_initial:.2f}s")
        print(
            f"save -> searchable over {len(latencies)} saves: p50 {p50 * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
            f"(indexing itself: p50 {statistics.median(index_seconds) * 1000:.0f} ms)"
        )
        print(f"idle watch: {idle_cpu * 100:.2f}% of a core")
        kinds = ", ".join(
            "rescan" if u["rescan"] else f"{u['path_count']:,} paths" for u in updates
        )
        print(
            f"burst of {len(burst):,} replaced files: {batches} batch(es) ({kinds}), "
            f"{rechunked:,} re-chunked, {t_burst:.2f}s wall, {cpu_burst:.2f}s CPU "
            f"({burst_report['executor']} x{burst_report['workers']})"
        )
        print(
            f"full index of the same tree: {t_full:.2f}s wall, {cpu_full:.2f}s CPU "
            f"({full_report['files']:,} files); burst / full = {t_burst / t_full:.0%} wall, "
            f"{cpu_burst / cpu_full:.0%} CPU"
        )
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    {
                        "root": str(args.root),
                        "initial_seconds": t_initial,
                        "latencies": latencies,
                        "p50": p50,
                        "p95": p95,
                        "index_seconds": index_seconds,
                        "idle_cpu_share": idle_cpu,
                        "burst_files": len(burst),
                        "burst_batches": batches,
                        "burst_rescan": update["rescan"],
                        "burst_seconds": t_burst,
                        "burst_cpu": cpu_burst,
                        "burst_reports": [u["report"] for u in updates],
                        "full_seconds": t_full,
                        "full_cpu": cpu_full,
                    },
                    indent=2,
                )
            )
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
