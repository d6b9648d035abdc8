"""Per-core speed as instructions, not seconds: chunkers against the parse floor under cachegrind.

    python benchmarks/bench_instructions.py [--corpus DIR|stdlib] [--max-files 40]
                                            [--peers codeweaver parse-only chonkie llama-index]
                                            [--languages python go] [--budget-chars 1500]
                                            [--by-language] [--json OUT]

CPU time on a shared machine moves by 10-30% from one run to the next (other tenants, caches,
frequency), which hides the few percent a change to the chunker's hot path is worth. The number
of instructions a process executes does not move. This script runs each peer (the adapters of
``python -m benchmarks run``, same budget, same files, same decode) under Valgrind's cachegrind
with the cache simulation off, twice: once to set up (imports, reading the files, and a first
call on each language's first file, so that grammars and models load outside the difference) and
once to set up and then chunk every file once.
The difference is the chunking; divided by the parse-only peer's on the same files (the
languages the peer supports), it is the multiple of parse cost the page reports as time (the page
also pays cache misses, which instructions do not show: about 4% of parse here, from
cachegrind's cache simulation).

Files a peer fails on are counted and shown (a peer that fails fast would look cheap); a batch
peer (``codeweaver-process``) is left to the page. ``--by-language`` adds one run per language
and peer (slow: several minutes). Needs ``valgrind`` on PATH; about 50x slower than native, so
keep ``--max-files`` small (40 per language, four peers: 45 s on two cores). Runs go two at a
time.
"""

from __future__ import annotations

import argparse
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
    """Inside valgrind: set up a peer on the files of ``--languages``, then (``--loop``) chunk
    them once (those of ``--only`` when given); ``--report`` gets how many failed."""
    spec = json.loads(Path(args.files_json).read_text())
    peer = load_peer(args.peer)(spec["budget"])
    scope = set(args.languages.split(","))
    blobs = [
        (Path(path).read_bytes(), language, path)
        for path, language in spec["files"]
        if language in scope
    ]
    warmed: set[str] = set()
    for data, language, path in blobs:  # grammars and models load here, outside the difference
        if language not in warmed:
            warmed.add(language)
            peer.chunk(data.decode("utf-8", "replace"), data, language, path)
    files = failed = 0
    first_error = ""
    if args.loop:
        for data, language, path in blobs:
            if args.only is not None and language != args.only:
                continue
            files += 1
            text = data.decode("utf-8", "replace") if peer.wants_text else ""
            try:  # a failure costs what it cost, as in the page, and is reported
                peer.chunk(text, data, language, path)
            except Exception as exc:
                failed += 1
                first_error = first_error or f"{path}: {type(exc).__name__}: {exc}"[:300]
    if args.report:
        report = {"files": files, "failed": failed, "first_error": first_error}
        Path(args.report).write_text(json.dumps(report))
    return 0


# A run: (peer, the languages it is set up on, loop or set-up only, the one language it chunks).
_Job = tuple[str, tuple[str, ...], bool, "str | None"]


def _count(files_json: str, job: _Job, out_dir: str) -> tuple[int, dict[str, Any]]:
    """Instructions of one run of this script's worker under cachegrind, and its report."""
    peer, scope, loop, only = job
    tag = re.sub(r"[^\w.-]", "_", f"{peer}-{'+'.join(scope)}-{'loop' if loop else 'base'}-{only}")
    out = os.path.join(out_dir, f"cg.{tag}.out")
    report = os.path.join(out_dir, f"report.{tag}.json")
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
        "--languages",
        ",".join(scope),
        "--report",
        report,
    ]
    if loop:
        cmd.append("--loop")
    if only is not None:
        cmd += ["--only", only]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = _IR.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        tail = proc.stderr.strip().splitlines()[-5:]
        raise RuntimeError(f"exit {proc.returncode}: " + " | ".join(tail))
    return int(found.group(1).replace(",", "")), json.loads(Path(report).read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("_worker")
    w.add_argument("--files-json", required=True)
    w.add_argument("--peer", required=True)
    w.add_argument("--languages", required=True, help="comma-separated")
    w.add_argument("--loop", action="store_true")
    w.add_argument("--only")
    w.add_argument("--report")
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
    from benchmarks.compare import default_languages, resolve_corpus, select_files, supports

    root = resolve_corpus(args.corpus)
    languages = args.languages or default_languages(args.corpus)
    files = select_files(root, languages=languages, max_files=args.max_files)
    if not files:
        print(f"no source files under {root}", file=sys.stderr)
        return 2
    present = sorted({f.language for f in files})
    # Each peer runs on the languages it supports; the floor is parsed on the same ones.
    scopes: dict[str, tuple[str, ...]] = {}
    for name in ["parse-only", *(p for p in args.peers if p != "parse-only")]:
        cls = load_peer(name)
        why = cls.missing() or ("timed as one batch call by the page" if cls.batch else None)
        scope = tuple(lang for lang in present if supports(cls, lang))
        if why is None and not scope:
            why = f"supports none of {', '.join(present)}"
        if why:
            print(f"{name}: unavailable: {why}", file=sys.stderr)
            if name == "parse-only":
                return 2
        else:
            scopes[name] = scope
    jobs: list[_Job] = []
    for name, scope in [*scopes.items(), *(("parse-only", s) for s in set(scopes.values()))]:
        runs = [(name, scope, False, None), (name, scope, True, None)]
        if args.by_language:
            runs += [(name, scope, True, lang) for lang in scope]
        jobs += [job for job in runs if job not in jobs]
    print(
        f"{len(files)} files ({', '.join(present)}), {len(jobs)} runs under cachegrind...",
        file=sys.stderr,
    )
    counts: dict[_Job, tuple[int, dict[str, Any]]] = {}
    broken: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="cw-instr-") as tmp:
        files_json = os.path.join(tmp, "files.json")
        Path(files_json).write_text(
            json.dumps(
                {"budget": args.budget_chars, "files": [[f.path, f.language] for f in files]}
            )
        )
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {job: pool.submit(_count, files_json, job, tmp) for job in jobs}
            for job, future in futures.items():
                try:
                    counts[job] = future.result()
                except RuntimeError as exc:
                    broken.setdefault(job[0], f"{job}: {exc}")
    for name, why in broken.items():
        print(f"{name}: failed under valgrind: {why}", file=sys.stderr)
    if "parse-only" in broken:
        return 1

    def work(name: str, scope: tuple[str, ...], only: str | None) -> int:
        return counts[(name, scope, True, only)][0] - counts[(name, scope, False, None)][0]

    instructions: dict[str, dict[str, int]] = {}
    ratios: dict[str, dict[str, float]] = {}
    failed: dict[str, dict[str, Any]] = {}
    for name, scope in scopes.items():
        if name in broken:
            continue
        keys: list[str | None] = [None, *(scope if args.by_language else ())]
        instructions[name] = {k or "all": work(name, scope, k) for k in keys}
        ratios[name] = {
            k or "all": work(name, scope, k) / work("parse-only", scope, k) for k in keys
        }
        failed[name] = counts[(name, scope, True, None)][1]
    result: dict[str, Any] = {
        "corpus": args.corpus,
        "files": len(files),
        "max_files": args.max_files,
        "budget_chars": args.budget_chars,
        "languages": {name: list(scope) for name, scope in scopes.items()},
        "instructions": instructions,
        "ratio_to_parse": ratios,
        "failed": failed,
    }
    cols = ["all", *(present if args.by_language else [])]
    print(f"\ninstructions per parse instruction ({args.corpus}, {len(files)} files)\n")
    print("| peer | " + " | ".join(cols) + " | instructions | files | failed |")
    print("| --- | " + " | ".join("---:" for _ in cols) + " | ---: | ---: | ---: |")
    for name, by in ratios.items():
        cells = [f"{by[c]:.3f}" if c in by else "" for c in cols]
        report = failed[name]
        print(
            f"| {name} | " + " | ".join(cells) + f" | {instructions[name]['all'] / 1e6:,.0f} M"
            f" | {report['files']} | {report['failed']} |"
        )
    for name, report in failed.items():
        if report["failed"]:
            print(f"{name}: {report['failed']} files failed, e.g. {report['first_error']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
