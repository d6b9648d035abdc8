"""The results page (Markdown), the throughput plot (PNG) and the machine description."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

__all__ = ["machine_info", "portable", "render_markdown", "verdict", "write_plot"]


def machine_info() -> dict[str, Any]:
    """CPU model, cores (and how many this process may use), RAM, OS and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "load_average": load,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gb": round(ram / 2**30, 1) if ram else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
    }


def portable(text: str) -> str:
    """``text`` without this machine's paths: the repository root becomes ``.``, the
    interpreter's standard library ``<stdlib>``, the home folder ``~``. The page is committed:
    it must not carry the checkout's or the interpreter's location."""
    import sysconfig

    repo = str(Path(__file__).resolve().parent.parent)
    for prefix, name in (
        (sysconfig.get_paths()["stdlib"], "<stdlib>"),
        (repo, "."),
        (os.path.expanduser("~"), "~"),
    ):
        if prefix not in ("", os.sep):
            text = text.replace(prefix + os.sep, name + "/").replace(prefix, name)
    return text


# -- formatting -----------------------------------------------------------------------------------
def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _pct(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    return f"{100 * value:.{digits}f}%" if 100 * value >= 10**-digits else f"<{10**-digits}%"


def _failures(summary: dict[str, Any]) -> str:
    failures: dict[str, int] = summary.get("failures", {})
    if not failures:
        return "0"
    return ", ".join(f"{n} {k}" for k, n in sorted(failures.items(), key=lambda kv: -kv[1]))


def _peer_label(name: str, entry: dict[str, Any]) -> str:
    label = f"**{name}**" if name.startswith("codeweaver") else name
    return label + (" ¹" if entry.get("budget_unit") == "non-whitespace characters" else "")


_HEADLINE = (
    "| peer | parses | files/s | MB/s | peak RSS MB | chunks | median | p95 | max | over budget "
    "| joins back exactly | verbatim chunks | lost chars (non-ws) | duplicated "
    "| fitting defs split | failures |"
)


def _headline_row(name: str, entry: dict[str, Any]) -> str:
    if entry["status"] == "unavailable":
        return f"| {name} | | unavailable: {entry['reason']} |" + " |" * 13
    t = entry["total"]
    rss = _num(entry.get("peak_rss_mb"), 0)
    speed = [_num(t["files_per_s"], 0), _num(t["mb_per_s"], 2), rss]
    if not entry["produces_chunks"]:
        quality = ["—"] * 10
    else:
        quality = [
            f"{t['chunks']:,}",
            _num(t["median"], 0),
            _num(t["p95"], 0),
            f"{t['max']:,}",
            _pct(t["over_share"]),
            _pct(t["exact_join_share"], 0),
            _pct(t["verbatim_share"], 0),
            f"{_pct(t['lost_share'], 2)} ({_pct(t['lost_non_ws_share'], 2)})",
            _pct(t["duplicated_share"], 2),
            f"{_pct(t['split_share'])} of {t['defs_fitting']:,}",
        ]
    fail = _failures(t)
    if entry["status"] != "ok":
        fail += f"; {entry['status']}: {entry['reason']}"
    return (
        "| "
        + " | ".join(
            [
                _peer_label(name, entry),
                "yes" if entry["ast_based"] else "no",
                *speed,
                *quality,
                fail,
            ]
        )
        + " |"
    )


_PER_LANGUAGE = (
    "| peer | files | MB/s | chunks | median | max | over budget | lost chars (non-ws) "
    "| fitting defs split | failures |"
)


def _language_row(name: str, entry: dict[str, Any], language: str) -> str | None:
    s = entry.get("by_language", {}).get(language)
    if s is None:
        return None
    cells = [_peer_label(name, entry), str(s["files"]), _num(s["mb_per_s"], 2)]
    if entry["produces_chunks"]:
        cells += [
            f"{s['chunks']:,}",
            _num(s["median"], 0),
            f"{s['max']:,}",
            _pct(s["over_share"]),
            f"{_pct(s['lost_share'], 2)} ({_pct(s['lost_non_ws_share'], 2)})",
            f"{_pct(s['split_share'])} of {s['defs_fitting']:,}",
        ]
    else:
        cells += ["—"] * 6
    cells.append(_failures(s))
    return "| " + " | ".join(cells) + " |"


# -- the verdict ----------------------------------------------------------------------------------
def verdict(corpus: dict[str, Any]) -> list[str]:
    """Plain statements of where codeweaver serial stands against the issue's bar on ``corpus``."""
    peers = corpus["peers"]
    cw = peers.get("codeweaver")
    if cw is None or cw["status"] == "unavailable":
        return ["codeweaver serial did not run on this corpus."]
    t = cw["total"]
    lines: list[str] = []
    rivals = {
        n: e
        for n, e in peers.items()
        if not n.startswith("codeweaver") and e["status"] != "unavailable" and e.get("total")
    }
    ast_rivals = {n: e for n, e in rivals.items() if e["ast_based"] and e["produces_chunks"]}
    # Compare on the languages both ran (astchunk covers four), over the same files.
    faster: list[str] = []
    shown: dict[str, str] = {}
    for n, e in ast_rivals.items():
        common = sorted(set(e.get("by_language", {})) & set(cw.get("by_language", {})))
        mine, theirs = _mb_per_s(cw, common), _mb_per_s(e, common)
        if theirs is not None and mine is not None and theirs >= mine:
            faster.append(n)
            where = "" if len(common) == len(cw["by_language"]) else f" on {', '.join(common)}"
            shown[n] = f"{n} ({_num(theirs, 2)} MB/s against {_num(mine, 2)}{where})"
    floor = peers.get("parse-only", {}).get("total", {}).get("mb_per_s")
    speed = f"{_num(t['mb_per_s'], 2)} MB/s"
    if floor and t["mb_per_s"]:
        speed += f", {floor / t['mb_per_s']:.2f}× the time of parsing alone ({_num(floor, 2)} MB/s)"
    if faster:
        lines.append(
            f"**Not yet: speed.** codeweaver serial ({speed}) is slower than "
            + ", ".join(shown[n] for n in faster)
            + "."
        )
    else:
        lines.append(
            f"Speed: codeweaver serial ({speed}) is faster than every AST-based peer "
            f"({', '.join(sorted(ast_rivals)) or 'none ran'}) on the same files."
        )
    proc = peers.get("codeweaver-process")
    serial_wall = t.get("wall_mb_per_s")
    if proc and proc.get("total") and proc["total"]["mb_per_s"] and serial_wall:
        ratio = proc["total"]["mb_per_s"] / serial_wall
        verdict_word = "Process executor:" if ratio > 1 else "**Not yet: process executor.**"
        lines.append(
            f"{verdict_word} {_num(proc['total']['mb_per_s'], 2)} MB/s wall-clock on all usable "
            f"cores, {ratio:.2f}× the serial wall-clock rate ({_num(serial_wall, 2)} MB/s; one call "
            "over the corpus, pool start included, and other load on the machine counts here)."
        )
    if t["lost_chars"] or t["duplicated_chars"] or (t["exact_join_share"] or 0) < 1:
        lines.append(
            f"**Not yet: lossless.** codeweaver lost {t['lost_chars']:,} and duplicated "
            f"{t['duplicated_chars']:,} characters; {_pct(t['exact_join_share'])} of files "
            "join back exactly."
        )
    else:
        lines.append(
            "Lossless: joining codeweaver's chunks gives every file back exactly "
            "(0 characters lost or duplicated)."
        )
    if t["over_share"]:
        lines.append(
            f"**Not yet: budget.** {_pct(t['over_share'], 2)} of codeweaver's chunks are "
            f"over the budget (largest {t['max']:,} characters)."
        )
    else:
        lines.append(f"Budget: no codeweaver chunk is over the budget (largest {t['max']:,}).")
    split = t["split_share"] or 0.0
    measured = {
        n: e["total"]["split_share"]
        for n, e in rivals.items()
        if e["produces_chunks"] and e["total"].get("split_share") is not None
    }
    fewer = [n for n, v in measured.items() if v < split]
    ties = [n for n, v in measured.items() if v == split]
    if fewer:

        def note(name: str) -> str:
            over = rivals[name]["total"].get("over_share") or 0.0
            lost = rivals[name]["total"].get("lost_non_ws_share") or 0.0
            extra = []
            if over:
                extra.append(f"{_pct(over)} of its chunks over the budget")
            if lost:
                extra.append(f"{_pct(lost, 2)} of the code lost")
            return f"{name} ({_pct(measured[name], 2)}" + (
                f"; {', '.join(extra)})" if extra else ")"
            )

        lines.append(
            f"**Not yet: split definitions.** codeweaver splits {_pct(split, 2)} of the "
            f"{t['defs_fitting']:,} definitions that fit the budget; fewer: "
            + ", ".join(note(n) for n in fewer)
            + "."
        )
    elif ties:
        lines.append(
            f"Split definitions: codeweaver splits {_pct(split, 2)} of the "
            f"{t['defs_fitting']:,} definitions that fit the budget; no peer splits "
            f"fewer, {', '.join(ties)} split as few."
        )
    else:
        lines.append(
            f"Split definitions: codeweaver splits {_pct(split, 2)} of the "
            f"{t['defs_fitting']:,} definitions that fit the budget, fewer than any peer."
        )
    failures = sum(t["failures"].values())
    if failures:
        lines.append(f"Failures: {_failures(t)}.")
    return lines


def _mb_per_s(entry: dict[str, Any], languages: list[str]) -> float | None:
    """MB/s over ``languages`` only (bytes and time summed from the per-language rows)."""
    rows = [
        entry["by_language"][lang] for lang in languages if lang in entry.get("by_language", {})
    ]
    seconds = sum(r["time_s"] for r in rows)
    return sum(r["bytes"] for r in rows) / 1e6 / seconds if seconds > 0 else None


# -- the page -------------------------------------------------------------------------------------
def render_markdown(results: dict[str, Any], *, plot: Path | None = None) -> str:
    m = results["machine"]
    budget = results["budget_chars"]
    out: list[str] = [
        "# codeweaver against the chunkers people use today",
        "",
        "_Generated by `benchmarks/__main__.py`; do not edit by hand. How each number is measured: "
        "[README.md](README.md)._",
        "",
        f"- **Command:** `{portable(results['command'])}` (from the repository root, with the "
        "`bench` extra "
        "installed)",
        f"- **Machine:** {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), "
        f"{m['ram_gb']} GB RAM, {m['os']}, {m['python']}; load average "
        f"{', '.join(map(str, m.get('load_average') or []))} when the run started (other work "
        "on the machine slows the wall-clock process-executor row; CPU-time rows much less)",
        f"- **Run:** {results['started_utc']}, {results.get('elapsed_s', 0):.0f} s in all; every "
        "peer single-process in its own interpreter, one after another, on the same files",
        f"- **Budget:** {budget:,} characters for every peer",
    ]
    versions: dict[str, str] = {}
    for corpus in results["corpora"]:
        for entry in corpus["peers"].values():
            versions.update(entry["versions"])
    if versions:
        out.append("- **Versions:** " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    if plot is not None:
        out += ["", f"![throughput per peer]({plot.name})"]
    for corpus in results["corpora"]:
        out += _corpus_section(corpus, budget)
    out += [
        "",
        "## Notes",
        "",
        "¹ astchunk counts its budget in non-whitespace characters; it gets the same number as "
        "the others and is measured in real characters, so its chunks run over by about the share "
        "of whitespace in the code. It supports Python, Java, C# and TypeScript only.",
        "",
        "- *parses*: the peer parses the code with tree-sitter (the speed bar for codeweaver is "
        "the parsing peers; the regex splitters and the line baseline do not parse).",
        "- *verbatim chunks*: chunks found as exact substrings of their file (the others were "
        "stripped or rebuilt; see README.md for how they are located).",
        "- *files/s*, *MB/s*: files and bytes over the summed per-file CPU time of the peer's "
        "process (decode + chunk, best of `--repeat`; the read and the metrics are not timed). "
        "The process-executor row is the wall time of one `chunk_files_parallel` call over the "
        "corpus (pool start and reads included) on all usable cores, so its per-language rows "
        "have no speed; its peak RSS is the sum over the process tree.",
        "- *lost chars*: characters of the files that no located chunk covers (in brackets: those "
        "that are not whitespace); *duplicated*: characters covered more than once. Over the "
        "files that chunked.",
        "- *fitting defs split*: functions, methods and classes whose text fits the budget that "
        "no single chunk contains whole.",
        "- Timings on a machine shared with other work are noisy (±20%); compare rows of one run.",
        "",
    ]
    return "\n".join(out)


def _corpus_section(corpus: dict[str, Any], budget: int) -> list[str]:
    langs = corpus["languages"]
    if corpus.get("largest"):
        sample = f", the {corpus['max_files']} largest files per language"
    elif corpus["max_files"]:
        sample = f", at most {corpus['max_files']} files per language (an even sample)"
    else:
        sample = ""
    out = [
        "",
        f"## Corpus: {corpus['name']}",
        "",
        f"`{portable(corpus['root'])}`: {corpus['files']:,} files, "
        f"{corpus['bytes'] / 1e6:.1f} MB{sample}; "
        + ", ".join(
            f"{k} {v['files']:,} ({v['bytes'] / 1e6:.1f} MB)" for k, v in sorted(langs.items())
        ),
        "",
        "### Where codeweaver stands",
        "",
        *[f"- {line}" for line in verdict(corpus)],
        "",
        "### All languages",
        "",
        _HEADLINE,
        "|" + " --- |" * 16,
    ]
    for name, entry in corpus["peers"].items():
        out.append(_headline_row(name, entry))
    if len(langs) > 1:
        for language in sorted(langs):
            out += ["", f"### {language}", "", _PER_LANGUAGE, "|" + " --- |" * 10]
            for name, entry in corpus["peers"].items():
                row = _language_row(name, entry, language)
                if row:
                    out.append(row)
    failures = [
        (name, lang, err, n, entry["by_language"][lang]["failure_examples"].get(err, ""))
        for name, entry in corpus["peers"].items()
        for lang in entry.get("by_language", {})
        for err, n in entry["by_language"][lang]["failures"].items()
    ]
    if failures:
        out += [
            "",
            "### Failures by exception type",
            "",
            "| peer | language | exception | files | example |",
            "| --- | --- | --- | ---: | --- |",
        ]
        for name, lang, err, n, example in failures:
            cell = example.replace("|", "\\|").replace("\n", " ")
            out.append(f"| {name} | {lang} | {err} | {n} | {cell} |")
    unavailable = [
        (n, e["reason"]) for n, e in corpus["peers"].items() if e["status"] == "unavailable"
    ]
    if unavailable:
        out += [
            "",
            "Peers that could not run: " + "; ".join(f"**{n}**: {r}" for n, r in unavailable) + ".",
        ]
    return out


def write_plot(results: dict[str, Any], path: Path) -> None:
    """A horizontal bar chart of MB/s per peer, one panel per corpus."""
    import matplotlib  # type: ignore[import-not-found,unused-ignore]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    corpora = results["corpora"]
    fig, axes = plt.subplots(len(corpora), 1, figsize=(8, 0.5 + 3.2 * len(corpora)), squeeze=False)
    for ax, corpus in zip(axes[:, 0], corpora, strict=True):
        rows = [
            (name, entry["total"]["mb_per_s"] or 0.0, entry)
            for name, entry in corpus["peers"].items()
            if entry["status"] != "unavailable" and entry.get("total")
        ]
        rows.sort(key=lambda r: r[1])
        names = [r[0] for r in rows]
        speeds = [r[1] for r in rows]
        colors = [
            "#d62728"
            if n.startswith("codeweaver")
            else "#7f7f7f"
            if not e["produces_chunks"]
            else "#1f77b4"
            if e["ast_based"]
            else "#9ecae1"
            for n, _, e in rows
        ]
        ax.barh(names, speeds, color=colors)
        for y, v in enumerate(speeds):
            ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
        ax.set_xscale("log")  # regex splitters run 10-30x faster than any parser
        ax.set_xlabel("MB/s, log scale (higher is better)")
        ax.set_title(
            f"{corpus['name']}: {corpus['files']:,} files, {corpus['bytes'] / 1e6:.1f} MB, "
            f"budget {results['budget_chars']} chars",
            fontsize=10,
        )
        ax.margins(x=0.25)
    fig.text(
        0.01,
        0.005,
        "red: codeweaver · dark blue: parses (AST) · light blue: no parse · "
        "grey: parse only (floor)",
        fontsize=7,
    )
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
