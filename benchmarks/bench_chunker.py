"""Single-core chunker benchmark: codeweaver against the tree-sitter parse-only floor.

    python benchmarks/bench_chunker.py [--corpus DIR] [--budget-chars 1500] [--repeat 3]
                                       [--max-files N] [--per-language N]
                                       [--languages python,go] [--json OUT]
                                       [--tokenizer tokenizer.json [--budget-tokens 512]
                                        [--raw-counter] [--mine-tokens N]]

For the files of a corpus (default: the interpreter's standard library), read once into memory,
it times (CPU time of this process, best of ``--repeat``) tree-sitter parsing alone and
codeweaver's ``chunk_bytes`` on the same bytes, and checks every chunk list against the contract:
chunk sizes against the budget, over-budget chunks, and lost bytes (does joining the chunks give
the file back?). The overhead line is the number to watch: chunking time over parse time.

It also counts, per language, the boundaries a reader would not draw (``benchmarks/boundaries.py``:
whitespace-only chunks, crumbs that could have joined a neighbour, split headers, doc comments
apart from their definition, doc-only chunks without the definition's symbol) and prints the
median and 10th-percentile chunk size. ``--per-language N`` takes N files per language at an even
stride over the sorted list (as ``python -m benchmarks run --max-files N`` does).

``--tokenizer tokenizer.json`` (a Hugging Face ``tokenizers`` file, read offline) adds a run
with a token budget (``--budget-tokens``, default 512) on the same files, timed in the same
interleaved loop: its CPU time against the character run and the parse, how often the token
counter was called and how much text it was given (in multiples of the corpus), and whether any
chunk is over the token budget (each chunk counted once more, outside the clock). The counter is
the one codeweaver gives an embedder with that tokenizer (``HFTokenCounter``, fresh for each
timed run, so its caches start cold); ``--raw-counter`` times a plain ``tokenizer.encode`` call
instead (what a counter written without caches costs). ``--mine-tokens N`` first adds the N
commonest multi-word code tokens of the corpus to the tokenizer, as model2vec adds a code model's
mined vocabulary (a stand-in for such a model's tokenizer).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import sys
import sysconfig
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.boundaries import BoundaryCounts, count_boundaries
from benchmarks.compare import select_files
from codeweaver.config.chunker import DEFAULT_MIN_CHUNK_CHARS, ChunkerSettings
from codeweaver.core.errors import FileSkippedError
from codeweaver.core.languages import get_parser, has_grammar
from codeweaver.embed.tokens import HFTokenCounter
from codeweaver.engine.chunker.file_chunker import chunk_bytes
from codeweaver.engine.chunker.governor import ChunkGovernor


def load_corpus(
    root: str,
    max_files: int | None,
    languages: set[str] | None,
    per_language: int | None = None,
) -> list[tuple[str, str, bytes]]:
    """``(relative path, language, bytes)`` of the corpus files (installed packages left out)."""
    files: list[tuple[str, str, bytes]] = []
    chosen = select_files(
        Path(root), languages=sorted(languages) if languages else None, max_files=per_language
    )
    for f in chosen:
        try:
            files.append((f.rel_path, f.language, Path(f.path).read_bytes()))
        except OSError:
            continue
        if max_files and len(files) >= max_files:
            break
    return files


def best_cpu(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def percentile(values: list[int], q: float) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    langs = set(args.languages.split(",")) if args.languages else None
    files = load_corpus(args.corpus, args.max_files, langs, args.per_language)
    if not files:
        sys.exit(f"no files found under {args.corpus}")
    governor = ChunkGovernor(
        ChunkerSettings(max_chunk_chars=args.budget_chars, min_chunk_chars=args.min_chars)
    )
    parsed = [(p, lang, d) for p, lang, d in files if has_grammar(lang)]
    for lang in {lang for _, lang, _ in parsed}:
        get_parser(lang)  # load grammars before timing

    t_lang_parse: dict[str, float] = defaultdict(lambda: float("inf"))
    t_lang_chunk: dict[str, float] = defaultdict(lambda: float("inf"))
    by_lang: dict[str, list[tuple[str, str, bytes]]] = defaultdict(list)
    for item in parsed:
        by_lang[item[1]].append(item)

    def parse_all() -> None:
        for lang, items in by_lang.items():
            t0 = time.process_time()
            parser = get_parser(lang)
            for _, _, data in items:
                parser.parse(data)
            t_lang_parse[lang] = min(t_lang_parse[lang], time.process_time() - t0)

    def chunk_all() -> None:
        for path, lang, data in files:
            with contextlib.suppress(FileSkippedError):
                chunk_bytes(data, lang, governor, path=path)

    def chunk_parsed() -> None:
        for lang, items in by_lang.items():
            t0 = time.process_time()
            for path, _, data in items:
                with contextlib.suppress(FileSkippedError):
                    chunk_bytes(data, lang, governor, path=path)
            t_lang_chunk[lang] = min(t_lang_chunk[lang], time.process_time() - t0)

    tokens = (
        _TokenRun(
            args.tokenizer,
            args.budget_tokens,
            raw=args.raw_counter,
            mined=mine_tokens(files, args.mine_tokens) if args.mine_tokens else None,
        )
        if args.tokenizer
        else None
    )

    def chunk_tokens() -> None:
        assert tokens is not None
        for path, lang, data in files:
            with contextlib.suppress(FileSkippedError):
                chunk_bytes(data, lang, tokens.governor, path=path)

    # Interleaved, best of N: on a shared machine the minimum is the least disturbed run.
    t_parse = t_chunk_parsed = t_chunk = t_tokens = float("inf")
    if args.repeat:
        chunk_parsed()  # warm-up (grammars, caches)
    for _ in range(args.repeat):
        t_parse = min(t_parse, best_cpu(parse_all, 1))
        t_chunk_parsed = min(t_chunk_parsed, best_cpu(chunk_parsed, 1))
        t_chunk = min(t_chunk, best_cpu(chunk_all, 1))
        if tokens is not None:
            tokens.reset()
            t_tokens = min(t_tokens, best_cpu(chunk_tokens, 1))

    # Contract checks (outside the timed loops).
    sizes: list[int] = []
    lang_sizes: dict[str, list[int]] = defaultdict(list)
    bounds: dict[str, BoundaryCounts] = defaultdict(BoundaryCounts)
    per_lang: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    over = lost_files = lost_bytes = skipped = oversized_flagged = 0
    for path, lang, data in files:
        try:
            chunks = chunk_bytes(data, lang, governor, path=path)
        except FileSkippedError:
            skipped += 1
            continue
        text = data.decode("utf-8", "replace")
        joined = "".join(c.content for c in chunks)
        if joined != text:
            lost_files += 1
            lost_bytes += abs(len(text) - len(joined)) or 1
        bounds[lang].merge(
            count_boundaries(data, lang, chunks, args.budget_chars, min_chars=args.min_chars)
        )
        for c in chunks:
            n = len(c.content)
            sizes.append(n)
            lang_sizes[lang].append(n)
            if n > args.budget_chars:
                over += 1
                oversized_flagged += c.oversized
        stats = per_lang[lang]
        stats["files"] += 1
        stats["bytes"] += len(data)
        stats["chunks"] += len(chunks)
    for lang in by_lang:
        per_lang[lang]["parse_s"] = t_lang_parse[lang]
        per_lang[lang]["chunk_s"] = t_lang_chunk[lang]
    total = BoundaryCounts()
    boundaries: dict[str, dict[str, float]] = {}
    for lang, counts in sorted(bounds.items()):
        total.merge(counts)
        boundaries[lang] = {**counts.as_dict(), **_size_summary(lang_sizes[lang])}
    boundaries["all"] = {**total.as_dict(), **_size_summary(sizes)}

    total_bytes = sum(len(d) for _, _, d in files)
    parsed_bytes = sum(len(d) for _, _, d in parsed)
    return {
        "corpus": str(args.corpus),
        "budget_chars": args.budget_chars,
        "files": len(files),
        "bytes": total_bytes,
        "parse_only_seconds": t_parse,
        "chunk_seconds_parsed_files": t_chunk_parsed,
        "chunk_seconds_all_files": t_chunk,
        "overhead_vs_parse": (t_chunk_parsed / t_parse - 1) if args.repeat else None,
        "files_per_s": len(files) / t_chunk if args.repeat else None,
        "mb_per_s": total_bytes / 1e6 / t_chunk if args.repeat else None,
        "parse_mb_per_s": parsed_bytes / 1e6 / t_parse if args.repeat else None,
        "chunks": len(sizes),
        "size_median": statistics.median(sizes) if sizes else 0,
        "size_p90": percentile(sizes, 0.90),
        "size_p99": percentile(sizes, 0.99),
        "size_max": max(sizes, default=0),
        "under_150_chars": sum(1 for s in sizes if s < 150),
        "over_budget": over,
        "over_budget_flagged_oversized": oversized_flagged,
        "lost_files": lost_files,
        "lost_bytes": lost_bytes,
        "skipped": skipped,
        "per_language": {k: dict(v) for k, v in sorted(per_lang.items())},
        "min_chars": args.min_chars,
        "boundaries": boundaries,
        "tokens": tokens.report(files, t_tokens, t_chunk, t_parse) if tokens else None,
    }


# What a code model's mined vocabulary holds that BERT's pre-tokenizer splits: dotted names,
# dunder names, calls, operators.
_MINEABLE = re.compile(rb"[a-z_]+\.[a-z_]+|__[a-z]+__|[a-z_]+\(|->|==|!=|\+=")


def mine_tokens(files: list[tuple[str, str, bytes]], n: int) -> list[str]:
    """The ``n`` commonest multi-word tokens of the corpus (lowercased), to add to a tokenizer as
    model2vec adds the vocabulary it mined for a code model (potion-code-16M-v2's card reports
    43k mined tokens): a stand-in for such a model's tokenizer, which cannot be downloaded here."""
    counts: Counter[bytes] = Counter()
    for _, _, data in files:
        counts.update(_MINEABLE.findall(data.lower()))
    return [t.decode() for t, _ in counts.most_common(n)]


class _TokenRun:
    """A token budget with a ``tokenizers`` tokenizer; counts the counter's calls and input."""

    def __init__(
        self,
        tokenizer_file: str,
        budget: int,
        *,
        raw: bool = False,
        mined: list[str] | None = None,
    ) -> None:
        from tokenizers import (  # type: ignore[import-not-found,unused-ignore]
            AddedToken,
            Tokenizer,
        )

        tok = Tokenizer.from_file(tokenizer_file)
        tok.no_truncation()
        tok.no_padding()
        if mined:  # as model2vec adds mined vocabulary that the pre-tokenizer would split
            tok.add_tokens([AddedToken(t, normalized=True, special=False) for t in mined])
        self.mined = len(mined or ())
        self.tokenizer = tok
        self.budget = budget
        self.raw = raw
        self.calls = self.chars = 0
        self.counter: Callable[[str], int] = self.exact
        self.reset()
        self.governor = ChunkGovernor(
            ChunkerSettings(max_chunk_tokens=budget), token_counter=self.count
        )

    def reset(self) -> None:
        """Zero the tallies and start the counter afresh (its caches cold)."""
        self.calls = self.chars = 0
        if not self.raw:
            self.counter = HFTokenCounter(self.tokenizer, "bench")

    def count(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        return self.counter(text)

    def exact(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def report(
        self, files: list[tuple[str, str, bytes]], t_tokens: float, t_chars: float, t_parse: float
    ) -> dict[str, Any]:
        calls, chars = self.calls, self.chars  # of the last timed run
        over = chunks = 0
        for path, lang, data in files:
            with contextlib.suppress(FileSkippedError):
                for c in chunk_bytes(data, lang, self.governor, path=path):
                    chunks += 1
                    over += self.exact(c.content) > self.budget and not c.oversized
        text_chars = sum(len(d.decode("utf-8", "replace")) for _, _, d in files)
        timed = t_tokens != float("inf")
        return {
            "budget_tokens": self.budget,
            "counter": "tokenizer.encode" if self.raw else "HFTokenCounter",
            "mined_tokens": self.mined,
            "seconds": t_tokens if timed else None,
            "vs_chars": t_tokens / t_chars if timed else None,
            "vs_parse": t_tokens / t_parse if timed else None,
            "counter_calls": calls if timed else None,
            "counted_chars_vs_corpus": chars / text_chars if timed and text_chars else None,
            "chunks": chunks,
            "over_budget": over,
        }


def _size_summary(sizes: list[int]) -> dict[str, float]:
    return {
        "size_median": statistics.median(sizes) if sizes else 0,
        "size_p10": percentile(sizes, 0.10),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--budget-chars", type=int, default=1500)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; 0: counters only")
    ap.add_argument("--max-files", type=int, default=None)
    ap.add_argument("--languages", default=None, help="comma-separated, e.g. python,go")
    ap.add_argument("--per-language", type=int, default=None, help="at most N files per language")
    ap.add_argument(
        "--min-chars",
        type=int,
        default=DEFAULT_MIN_CHUNK_CHARS,
        help="the chunker's min_chunk_chars, and the crumb threshold of the boundary counters "
        f"(default {DEFAULT_MIN_CHUNK_CHARS}, the chunker's default)",
    )
    ap.add_argument("--json", dest="json_out", default=None, help="also write the results here")
    ap.add_argument(
        "--tokenizer",
        default=None,
        help="a tokenizers tokenizer.json: also time a token budget with it",
    )
    ap.add_argument("--budget-tokens", type=int, default=512)
    ap.add_argument(
        "--raw-counter",
        action="store_true",
        help="time a plain tokenizer.encode counter instead of codeweaver's HFTokenCounter",
    )
    ap.add_argument(
        "--mine-tokens",
        type=int,
        default=0,
        help="add the N commonest multi-word code tokens of the corpus to the tokenizer first "
        "(as model2vec builds a code model's vocabulary)",
    )
    args = ap.parse_args(argv)
    r = run(args)
    print(f"corpus            {r['corpus']}")
    print(
        f"files / bytes     {r['files']} / {r['bytes'] / 1e6:.1f} MB, budget {r['budget_chars']} chars"
    )
    if args.repeat:
        print(
            f"parse only        {r['parse_only_seconds']:.2f} s CPU  "
            f"({r['parse_mb_per_s']:.1f} MB/s)"
        )
        print(
            f"chunk (parsed)    {r['chunk_seconds_parsed_files']:.2f} s CPU  "
            f"overhead over parse: {100 * r['overhead_vs_parse']:+.1f}%"
        )
        print(
            f"chunk (all files) {r['chunk_seconds_all_files']:.2f} s CPU  "
            f"{r['files_per_s']:.0f} files/s  {r['mb_per_s']:.1f} MB/s"
        )
    print(
        f"chunks            {r['chunks']}  size median {r['size_median']:.0f}  p90 {r['size_p90']}  "
        f"p99 {r['size_p99']}  max {r['size_max']}  (<150 chars: {r['under_150_chars']})"
    )
    print(
        f"over budget       {r['over_budget']} (flagged oversized: {r['over_budget_flagged_oversized']})"
    )
    print(f"lost bytes        {r['lost_bytes']} in {r['lost_files']} files; skipped {r['skipped']}")
    if len(r["per_language"]) > 1:
        print(
            f"  {'language':12s} {'files':>6s} {'MB':>7s} {'chunks':>7s} {'parse s':>8s} {'chunk s':>8s} {'overhead':>8s}"
        )
        for lang, s in r["per_language"].items():
            line = (
                f"  {lang:12s} {int(s['files']):6d} {s['bytes'] / 1e6:7.1f} {int(s['chunks']):7d}"
            )
            if s.get("parse_s") and s["parse_s"] != float("inf"):
                line += f" {s['parse_s']:8.2f} {s['chunk_s']:8.2f} {100 * (s['chunk_s'] / s['parse_s'] - 1):+7.1f}%"
            print(line)
    print(f"boundaries (crumb: < {args.min_chars} non-whitespace chars; counts that should be 0)")
    print(
        f"  {'language':12s} {'chunks':>7s} {'ws-only':>7s} {'crumbs':>7s} {'headers':>7s} "
        f"{'orphan':>7s} {'no-sym':>7s} {'median':>7s} {'p10':>5s}"
    )
    for lang, b in r["boundaries"].items():
        print(
            f"  {lang:12s} {b['chunks']:7d} {b['whitespace_only']:7d} {b['crumbs']:7d} "
            f"{b['split_headers']:7d} {b['orphaned_docs']:7d} {b['unlabelled_docs']:7d} "
            f"{b['size_median']:7.0f} {b['size_p10']:5d}"
        )
    t = r["tokens"]
    if t is not None:
        if t["seconds"] is not None:
            print(
                f"token budget      {t['budget_tokens']} tokens ({t['counter']}"
                + (f", {t['mined_tokens']:,} mined tokens added" if t["mined_tokens"] else "")
                + "): "
                f"{t['seconds']:.2f} s CPU, "
                f"{t['vs_chars']:.2f}x the character run, {t['vs_parse']:.2f}x the parse; "
                f"counter called {t['counter_calls']} times on {t['counted_chars_vs_corpus']:.2f}x "
                "the corpus text"
            )
        print(f"token chunks      {t['chunks']}, over the token budget: {t['over_budget']}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
