"""``python -m benchmarks``: compare codeweaver with the chunkers people use today.

python -m benchmarks run [--corpus DIR|stdlib ...] [--budget-chars N] [--peers ...]
                         [--languages ...] [--max-files N] [--json OUT] [--markdown OUT]
                         [--plot OUT]
python -m benchmarks page        # regenerates benchmarks/RESULTS.md and throughput.png
python -m benchmarks search --data DIR --repos-dir DIR   # search quality (benchmarks/search_bench.py)
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import compare, metrics, report
from benchmarks.peers import PEERS, load_peer

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS_DIR = HERE.parent / ".cache" / "corpus"
CORPUS_SCRIPT = "../shared/corpus/make_corpus.sh"
"""Builds the multi-language corpus, run from the repository root (both READMEs name it so)."""


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_corpus(
    spec: str,
    *,
    budget: int,
    peers: list[str],
    languages: list[str] | None,
    max_files: int | None,
    file_timeout: float,
    peer_timeout: float,
    repeat: int = 1,
    largest: bool = False,
) -> dict[str, Any]:
    """Run every peer over one corpus; returns the JSON-ready section for it."""
    root = compare.resolve_corpus(spec)
    if languages is None:  # the default corpus is the standard library's *.py
        languages = compare.default_languages(spec)
    elif languages == ["all"]:
        languages = None
    files = compare.select_files(root, languages=languages, max_files=max_files, largest=largest)
    if not files:
        raise SystemExit(f"no source files with a known language under {root}")
    per_language: dict[str, dict[str, int]] = {}
    for f in files:
        counts = per_language.setdefault(f.language, {"files": 0, "bytes": 0})
        counts["files"] += 1
        counts["bytes"] += f.size
    _log(
        f"corpus {spec}: {len(files)} files, {sum(f.size for f in files) / 1e6:.1f} MB, "
        f"languages {', '.join(sorted(per_language))}"
    )
    definitions = compare.DefinitionCache()
    section: dict[str, Any] = {
        "name": ("stdlib" if spec == "stdlib" else Path(spec).name)
        + (f", the {max_files} largest files per language" if largest else ""),
        "spec": spec,
        "root": str(root),
        "files": len(files),
        "bytes": sum(f.size for f in files),
        "max_files": max_files,
        "largest": largest,
        "languages": per_language,
        "peers": {},
    }
    for name in peers:
        cls = load_peer(name)
        _log(f"  {name} ...")
        run = compare.run_peer(
            name,
            files,
            budget,
            file_timeout=file_timeout,
            peer_timeout=peer_timeout,
            repeat=repeat,
        )
        entry: dict[str, Any] = {
            "description": cls.description,
            "ast_based": cls.ast_based,
            "produces_chunks": cls.produces_chunks,
            "batch": cls.batch,
            "budget_unit": cls.budget_note,
            "languages_supported": sorted(cls.languages) if cls.languages else None,
            "versions": cls.versions(),
            "status": run.status,
            "reason": run.reason,
            "restarts": run.restarts,
            "wall_s": round(run.wall_s, 2),
        }
        start = next((r for r in run.records if r["kind"] == "start"), None)
        ends = [r for r in run.records if r["kind"] in ("end", "tree_peak_rss")]
        entry["setup_s"] = round(start["setup_s"], 3) if start else None
        entry["peak_rss_mb"] = max((r["peak_rss"] for r in ends), default=0) / 2**20 or None
        if run.status != "unavailable":
            stats = compare.evaluate(
                run, files, budget, produces_chunks=cls.produces_chunks, definitions=definitions
            )
            total = compare.LanguageStats(budget)
            for st in stats.values():
                total.merge(st)
            batch_s = compare.batch_elapsed(run)
            if batch_s is not None:  # one wall-clock time for the whole corpus
                total.time_s = total.wall_s = batch_s
            entry["total"] = total.summary(produces_chunks=cls.produces_chunks)
            entry["by_language"] = {
                lang: st.summary(produces_chunks=cls.produces_chunks)
                for lang, st in sorted(stats.items())
            }
            t = entry["total"]
            _log(
                f"    {t['files']} files, {t['mb_per_s'] or 0:.2f} MB/s, "
                f"failures {sum(t['failures'].values())}, status {run.status} {run.reason}"
            )
        else:
            _log(f"    unavailable: {run.reason}")
        section["peers"][name] = entry
    return section


def _peer_name(value: str) -> str:
    if value not in PEERS and ":" not in value:
        raise argparse.ArgumentTypeError(f"unknown peer {value!r}; known: {', '.join(PEERS)}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--budget-chars",
            type=int,
            default=1500,
            help="chunk budget in characters for every peer (default 1500)",
        )
        p.add_argument(
            "--peers",
            nargs="+",
            type=_peer_name,
            default=list(PEERS),
            metavar="PEER",
            help=f"peers to run (default: all: {' '.join(PEERS)}); 'module:Class' for your own "
            "benchmarks.peers.Peer subclass",
        )
        p.add_argument(
            "--languages",
            nargs="+",
            default=None,
            metavar="LANG",
            help="only these languages (tree-sitter-language-pack names; 'all' for every "
            "language codeweaver knows; default: the code languages the metrics know: "
            + " ".join(metrics.DEFINITION_KINDS)
            + ")",
        )
        p.add_argument(
            "--file-timeout",
            type=float,
            default=60.0,
            help="seconds one peer may spend on one file (default 60)",
        )
        p.add_argument(
            "--peer-timeout",
            type=float,
            default=1800.0,
            help="seconds one peer may spend on one corpus (default 1800)",
        )
        p.add_argument(
            "--repeat",
            type=int,
            default=1,
            help="time each file N times and keep the best (default 1; page: 3)",
        )
        p.add_argument("--json", type=Path, default=None, help="write the raw results here")
        p.add_argument("--markdown", type=Path, default=None, help="write the results page here")
        p.add_argument("--plot", type=Path, default=None, help="write the throughput plot (PNG)")

    run = sub.add_parser("run", help="benchmark the peers on one or more corpora")
    run.add_argument(
        "--corpus",
        action="append",
        default=None,
        metavar="DIR",
        help="a directory, or 'stdlib' (default); repeat for several corpora",
    )
    run.add_argument(
        "--max-files",
        type=int,
        default=None,
        help="at most N files per language and corpus (an even sample)",
    )
    run.add_argument(
        "--largest",
        action="store_true",
        help="with --max-files N: the N largest files per language instead (a stress test)",
    )
    common(run)

    page = sub.add_parser(
        "page",
        help="regenerate benchmarks/RESULTS.md and throughput.png: the "
        "full standard library, plus the multi-language corpus when present",
    )
    page.add_argument(
        "--corpus-dir",
        type=Path,
        default=DEFAULT_CORPUS_DIR,
        help="the multi-language corpus (default .cache/corpus, built by "
        f"{CORPUS_SCRIPT}); the page needs it: without it RESULTS.md would lose its corpus "
        "sections, so page refuses to run",
    )
    page.add_argument(
        "--max-files",
        type=int,
        default=250,
        help="files per language from the multi-language corpus (default 250)",
    )
    page.add_argument(
        "--stress",
        type=int,
        default=2,
        help="also run the N largest files per language of that corpus (default 2; 0: skip)",
    )
    common(page)
    page.set_defaults(
        repeat=3,
        json=HERE / "out" / "results.json",
        markdown=HERE / "RESULTS.md",
        plot=HERE / "throughput.png",
    )

    again = sub.add_parser("report", help="re-render the page and plot from a --json file")
    again.add_argument("results", type=Path)
    again.add_argument("--markdown", type=Path, default=None)
    again.add_argument("--plot", type=Path, default=None)

    worker = sub.add_parser("_worker", help=argparse.SUPPRESS)
    worker.add_argument("peer")
    worker.add_argument("budget", type=int)
    worker.add_argument("files_json")
    worker.add_argument("out_path")
    worker.add_argument("file_timeout", type=float)
    worker.add_argument("repeat", type=int, nargs="?", default=1)
    return parser


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["search"]:  # the search-quality benchmark has its own options
        from benchmarks import search_bench

        return search_bench.main(given[1:])
    args = _build_parser().parse_args(argv)
    if args.command == "_worker":
        return compare.worker_main(
            args.peer,
            args.budget,
            args.files_json,
            args.out_path,
            args.file_timeout,
            repeat=args.repeat,
        )
    if args.command == "report":
        saved: dict[str, Any] = json.loads(args.results.read_text())
        _write_outputs(saved, None, args.markdown, args.plot)
        return 0
    if args.command == "run":
        plan = [(spec, args.max_files, args.largest) for spec in (args.corpus or ["stdlib"])]
    else:
        if not args.corpus_dir.is_dir():
            # A page without the corpus would overwrite RESULTS.md without its corpus sections.
            print(
                f"error: no multi-language corpus at {args.corpus_dir}: build it with "
                f"{CORPUS_SCRIPT} or pass --corpus-dir; {args.markdown} is left as it is "
                "(python -m benchmarks run --markdown OUT.md gives a page of the standard "
                "library alone)",
                file=sys.stderr,
            )
            return 2
        plan = [("stdlib", None, False), (str(args.corpus_dir), args.max_files, False)]
        if args.stress:
            plan.append((str(args.corpus_dir), args.stress, True))
    started = time.time()
    results: dict[str, Any] = {
        "command": "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv),
        "budget_chars": args.budget_chars,
        "machine": report.machine_info(),
        "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "corpora": [],
    }
    for spec, max_files, largest in plan:
        results["corpora"].append(
            run_corpus(
                spec,
                budget=args.budget_chars,
                peers=args.peers,
                languages=args.languages,
                max_files=max_files,
                file_timeout=args.file_timeout,
                peer_timeout=args.peer_timeout,
                repeat=args.repeat,
                largest=largest,
            )
        )
    results["elapsed_s"] = round(time.time() - started, 1)
    _write_outputs(results, args.json, args.markdown, args.plot)
    return 0


def _write_outputs(
    results: dict[str, Any], json_out: Path | None, markdown: Path | None, plot: Path | None
) -> None:
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(results, indent=1))
        _log(f"wrote {json_out}")
    if plot:
        try:
            report.write_plot(results, plot)
            _log(f"wrote {plot}")
        except ImportError:
            _log("matplotlib is not installed (pip install 'codeweaver[bench]'): no plot")
            plot = None
    page_md = report.render_markdown(results, plot=plot)
    if markdown:
        from benchmarks.search_bench import keep_search_section

        markdown.write_text(keep_search_section(page_md, markdown))
        _log(f"wrote {markdown}")
    else:
        print(page_md)


if __name__ == "__main__":
    raise SystemExit(main())
