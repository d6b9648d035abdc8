"""Per-core speed as instructions, not seconds: chunkers against the parse floor under cachegrind.

    python benchmarks/bench_instructions.py [--corpus DIR|stdlib] [--max-files 40]
                                            [--peers codeweaver parse-only chonkie llama-index]
                                            [--languages python go] [--budget-chars 1500]
                                            [--by-language] [--json OUT]

CPU time on a shared machine moves by 10-30% from one run to the next (other tenants, caches,
frequency), which hides the few percent a change to the chunker's hot path is worth. The number
of instructions a process executes does not move. This script runs each peer (the adapters of
``python -m benchmarks run``, same budget, same files, same decode) under Valgrind's cachegrind
with the cache simulation off, twice: once to set up (imports, reading the files, one warm-up
call per language, as the page's warm-up does) and once to set up and then chunk every file once.
The difference is the chunking; divided by the parse-only peer's, it is the multiple of parse
cost the page reports as time (the page also pays cache misses, which instructions do not show:
about 4% of parse here, from cachegrind's cache simulation).

``--by-language`` adds one run per language and peer (slow: several minutes). Needs ``valgrind``
on PATH; about 50x slower than native, so keep ``--max-files`` small (40 per language, four
peers: 45 s on two cores). Runs go two at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.peers import load_peer  # the worker imports nothing heavier than its peer

_IR = re.compile(r"I\s+refs:\s+([\d,]+)")
DEFAULT_PEERS = ["parse-only", "codeweaver", "chonkie", "llama-index"]


def _worker(args: argparse.Namespace) -> int:
    """Inside valgrind: set up a peer, then (``--loop``) chunk the listed files once."""
    spec = json.loads(Path(args.files_json).read_text())
    peer = load_peer(args.peer)(spec["budget"])
    files = [(path, language) for path, language in spec["files"] if peer.supports(language)]
    blobs = [(Path(path).read_bytes(), language, path) for path, language in files]
    warmed: set[str] = set()
    for data, language, path in blobs:  # grammars and models load here, outside the difference
        if language not in warmed:
            warmed.add(language)
            peer.chunk(data.decode("utf-8", "replace"), data, language, path)
    if not args.loop:
        return 0
    only = args.language
    for data, language, path in blobs:
        if only is not None and language != only:
            continue
        text = data.decode("utf-8", "replace") if peer.wants_text else ""
        with contextlib.suppress(Exception):  # a failure costs what it cost, as in the page
            peer.chunk(text, data, language, path)
    return 0


def _count(files_json: str, peer: str, loop: bool, language: str | None, out_dir: str) -> int:
    """Instructions of one run of this script's worker under cachegrind."""
    tag = f"{peer}-{'loop' if loop else 'base'}-{language or 'all'}".replace(":", "_")
    out = os.path.join(out_dir, f"cg.{tag}.out")
    cmd = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        f"--cachegrind-out-file={out}",
        sys.executable,
        str(Path(__file__).resolve()),
        "_worker",
        "--files-json",
        files_json,
        "--peer",
        peer,
    ]
    if loop:
        cmd.append("--loop")
    if language is not None:
        cmd += ["--language", language]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = _IR.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        tail = proc.stderr.strip().splitlines()[-5:]
        raise RuntimeError(f"{tag}: exit {proc.returncode}: " + " | ".join(tail))
    return int(found.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("_worker")
    w.add_argument("--files-json", required=True)
    w.add_argument("--peer", required=True)
    w.add_argument("--loop", action="store_true")
    w.add_argument("--language")
    parser.add_argument("--corpus", default="stdlib", help="a directory, or 'stdlib' (default)")
    parser.add_argument("--max-files", type=int, default=40, help="per language (default 40)")
    parser.add_argument("--peers", nargs="+", default=DEFAULT_PEERS)
    parser.add_argument("--languages", nargs="+", help="default: as `python -m benchmarks run`")
    parser.add_argument("--budget-chars", type=int, default=1500)
    parser.add_argument("--by-language", action="store_true", help="one run per language too")
    parser.add_argument("--json", help="write the counts here")
    args = parser.parse_args(argv)
    if args.command == "_worker":
        return _worker(args)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt install valgrind)", file=sys.stderr)
        return 2
    from benchmarks import metrics
    from benchmarks.compare import resolve_corpus, select_files

    if "parse-only" not in args.peers:
        args.peers.insert(0, "parse-only")
    root = resolve_corpus(args.corpus)
    languages = args.languages
    if languages is None:
        languages = ["python"] if args.corpus == "stdlib" else list(metrics.DEFINITION_KINDS)
    files = select_files(root, languages=languages, max_files=args.max_files)
    if not files:
        print(f"no source files under {root}", file=sys.stderr)
        return 2
    present = sorted({f.language for f in files})
    with tempfile.TemporaryDirectory(prefix="cw-instr-") as tmp:
        files_json = os.path.join(tmp, "files.json")
        Path(files_json).write_text(
            json.dumps(
                {"budget": args.budget_chars, "files": [[f.path, f.language] for f in files]}
            )
        )
        runnable = []
        for name in args.peers:
            why = load_peer(name).missing()
            if why:
                print(f"{name}: unavailable: {why}", file=sys.stderr)
            else:
                runnable.append(name)
        jobs: list[tuple[str, bool, str | None]] = []
        for name in runnable:
            jobs += [(name, False, None), (name, True, None)]
            if args.by_language:
                jobs += [(name, True, lang) for lang in present]
        print(
            f"{len(files)} files ({', '.join(present)}), {len(jobs)} runs under cachegrind...",
            file=sys.stderr,
        )
        with ThreadPoolExecutor(max_workers=2) as pool:
            counts = dict(
                zip(
                    jobs,
                    pool.map(lambda j: _count(files_json, j[0], j[1], j[2], tmp), jobs),
                    strict=True,
                )
            )
    work: dict[str, dict[str, int]] = {}
    for (name, loop, lang), ir in counts.items():
        if loop:
            work.setdefault(name, {})[lang or "all"] = ir - counts[(name, False, None)]
    floor = work["parse-only"]
    result: dict[str, Any] = {
        "corpus": args.corpus,
        "files": len(files),
        "max_files": args.max_files,
        "budget_chars": args.budget_chars,
        "instructions": work,
        "ratio_to_parse": {
            name: {k: v / floor[k] for k, v in by.items() if floor.get(k)}
            for name, by in work.items()
        },
    }
    cols = ["all", *(present if args.by_language else [])]
    print(f"\ninstructions per parse instruction ({args.corpus}, {len(files)} files)\n")
    print("| peer | " + " | ".join(cols) + " | instructions |")
    print("| --- | " + " | ".join("---:" for _ in cols) + " | ---: |")
    for name, ratios in result["ratio_to_parse"].items():
        cells = [f"{ratios[c]:.3f}" if c in ratios else "" for c in cols]
        print(f"| {name} | " + " | ".join(cells) + f" | {work[name]['all'] / 1e6:,.0f} M |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
