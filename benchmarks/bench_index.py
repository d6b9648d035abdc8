"""Index benchmark: a full index of a tree, then an unchanged re-index, and a few searches.

    python benchmarks/bench_index.py [--root DIR] [--workers N] [--executor process]
                                     [--max-chars N] [--keep-db PATH] [--json OUT]
                                     [--embed | --embed-model DIR]

Default tree: the interpreter's standard library (``site-packages`` left out). The index goes to
a temporary directory (the tree itself is never written to). It is a keyword index unless
``--embed`` asks for the configured embedding model, or ``--embed-model DIR`` for a model2vec model
folder (``bench_embed.py`` measures embedding alone). The numbers to watch: the unchanged
re-index time as a share of the full index time (goal: under 10%), files/s of the full index,
and the CPU time of this process (its threads: the writer, the embedding stage) against that of
its chunk workers: the first bounds the wall time however many cores there are, and of it the
index's one writer thread (``IndexReport.writer_cpu_seconds``) most of all.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import TreeCpu
from codeweaver.config import load_settings
from codeweaver.index import IndexReport, IndexStore, index_project
from codeweaver.search.keyword import keyword_search

QUERIES = (
    "parse config file",
    "thread pool executor shutdown",
    "decode utf8 bytes",
    "http request",
)


def _row(name: str, r: IndexReport, seconds: float) -> str:
    rate = r.files / seconds if seconds > 0 else 0.0
    return (
        f"{name:<22} {seconds:8.2f}s  {r.files:>6} files ({rate:,.0f}/s)  new {r.new:>6}  "
        f"changed {r.changed:>5}  unchanged {r.unchanged:>6}  skipped {r.skipped:>5}  "
        f"failed {r.failed:>3}  chunks written {r.chunks:>7}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--executor", default=None)
    ap.add_argument("--max-chars", type=int, default=None)
    ap.add_argument("--keep-db", default=None, help="copy the finished index here")
    ap.add_argument("--json", default=None, help="write the numbers to this file")
    ap.add_argument(
        "--embed",
        action="store_true",
        help="embed with the configured model too (default: a keyword index, no model loaded)",
    )
    ap.add_argument("--embed-model", default=None, help="a model2vec model folder to embed with")
    args = ap.parse_args(argv)

    root = Path(args.root).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-index-"))
    db = tmp / "index.db"
    chunker: dict[str, Any] = {"concurrency": {}}
    if args.workers:
        chunker["concurrency"]["max_parallel_files"] = args.workers
    if args.executor:
        chunker["concurrency"]["executor"] = args.executor
    if args.max_chars:
        chunker.update(max_chunk_chars=args.max_chars, max_chunk_tokens=None)
    settings = load_settings(
        root,
        chunker=chunker,
        index={"db_path": db},
        discovery={"exclude": ("site-packages/**", "site-packages")},
        **_embedding(args),
    )
    try:
        cpu = TreeCpu(os.getpid())
        own0 = time.process_time()
        t0 = time.perf_counter()
        full = index_project(root, settings)
        t_full = time.perf_counter() - t0
        own_cpu = time.process_time() - own0
        workers_cpu = cpu.descendants()
        cpu.close()

        t0 = time.perf_counter()
        again = index_project(root, settings)
        t_again = time.perf_counter() - t0

        with IndexStore.open(db, create=False) as store:
            stats = store.stats()
            search_ms: dict[str, float] = {}
            for q in QUERIES:
                t0 = time.perf_counter()
                hits = keyword_search(store, q, limit=10)
                search_ms[q] = (time.perf_counter() - t0) * 1000
                del hits
        ratio = t_again / t_full if t_full > 0 else float("nan")

        print(f"tree: {root}")
        print(f"engine: {full.executor} x{full.workers}; database {stats.db_bytes / 1e6:.1f} MB")
        print(_row("full index", full, t_full))
        print(
            f"full index CPU: this process {own_cpu:.2f}s "
            f"(its writer thread {full.writer_cpu_seconds:.2f}s), "
            f"its chunk workers {workers_cpu:.2f}s"
            + (f"; embedded {full.embedding.embedded} texts" if full.embedding.model else "")
        )
        print(_row("unchanged re-index", again, t_again))
        verdict = "ok" if ratio < 0.10 else "over the 10% goal"
        print(f"unchanged / full = {ratio:.1%} ({verdict})")
        print(
            f"index holds {stats.files} files, {stats.chunks} chunks, "
            f"{stats.bytes_indexed / 1e6:.1f} MB of source"
        )
        for q, ms in search_ms.items():
            print(f"search {q!r}: {ms:.1f} ms")
        if full.failures:
            print(f"{len(full.failures)} failures, e.g. {full.failures[0].describe()}")
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    {
                        "root": str(root),
                        "full_seconds": t_full,
                        "full_cpu_own": own_cpu,
                        "full_cpu_workers": workers_cpu,
                        "unchanged_seconds": t_again,
                        "ratio": ratio,
                        "full": full.to_dict(),
                        "unchanged": again.to_dict(),
                        "db_bytes": stats.db_bytes,
                        "search_ms": search_ms,
                    },
                    indent=2,
                )
            )
        if args.keep_db:
            shutil.copyfile(db, args.keep_db)
        return 0 if again.rechunked == 0 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _embedding(args: argparse.Namespace) -> dict[str, Any]:
    if args.embed_model:
        return {"embedding": {"provider": "model2vec", "model": args.embed_model}}
    return {} if args.embed else {"embedding": {"provider": "none"}}


if __name__ == "__main__":
    sys.exit(main())
