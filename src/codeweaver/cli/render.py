"""Terminal output for the CLI: the progress bar, the summary table, search hits, status, tables.

Results go to stdout; the progress bar and errors go to stderr, so ``codeweaver index > log``
stays clean. The bar is drawn only on a terminal.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from codeweaver.index.store import MARK_END, MARK_START

if TYPE_CHECKING:
    from codeweaver.core.chunks import CodeChunk
    from codeweaver.core.languages import LanguageInfo
    from codeweaver.engine.chunker.governor import ChunkGovernor
    from codeweaver.index.embedding import EmbeddingFailure, EmbeddingReport
    from codeweaver.index.pipeline import IndexProgress, IndexReport
    from codeweaver.index.staleness import Staleness
    from codeweaver.index.store import IndexStats
    from codeweaver.index.watch import WatchEvent
    from codeweaver.search.results import SearchResult

__all__ = [
    "IndexProgressBar",
    "WatchLog",
    "describe_chunking",
    "print_chunks",
    "print_index_report",
    "print_languages",
    "print_search_results",
    "print_status",
]

MAX_FAILURES_SHOWN = 50
_T = TypeVar("_T")


def _stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


class IndexProgressBar:
    """A rich progress bar on stderr fed by :class:`IndexProgress` snapshots.

    Shows files done / total (the total grows while discovery walks, marked ``+``), files/s,
    chunks and errors so far. Disabled (a no-op) when stderr is not a terminal.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._embed_started: tuple[float, int] | None = None

    def __enter__(self) -> IndexProgressBar:
        if self.enabled:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]indexing"),
                BarColumn(),
                TextColumn("{task.completed}/{task.fields[total_text]} files"),
                TextColumn("{task.fields[rate]:.0f} files/s"),
                TextColumn("{task.fields[chunks]} chunks"),
                TextColumn("{task.fields[embedded]}"),
                TextColumn("{task.fields[errors]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "index", total=None, total_text="?", rate=0.0, chunks=0, embedded="", errors=""
            )
        return self

    def update(self, p: IndexProgress) -> None:
        if self._progress is None or self._task is None:
            return
        rate = p.done / p.elapsed if p.elapsed > 0 else 0.0
        errors = f"[red]{p.failed} failed[/]" if p.failed else ""
        if p.embedded:
            if self._embed_started is None:
                self._embed_started = (time.perf_counter(), p.embedded)
            t0, n0 = self._embed_started
            spent = time.perf_counter() - t0
            embed_rate = (p.embedded - n0) / spent if spent > 0.5 else 0.0
            embedded = f"{p.embedded} embedded" + (f" ({embed_rate:.0f}/s)" if embed_rate else "")
        else:
            embedded = ""
        self._progress.update(
            self._task,
            completed=p.done,
            total=p.total if p.discovery_done else None,
            total_text=str(p.total) if p.discovery_done else f"{p.total}+",
            rate=rate,
            chunks=p.chunks,
            embedded=embedded,
            errors=errors,
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


def print_index_report(report: IndexReport, *, quiet: bool = False, verbose: bool = False) -> None:
    """The summary table (one row of counts), where the index is, then the failed files; with
    ``verbose``, the skipped files and why."""
    out = _stdout()
    if not quiet:
        out.print(f"[bold]indexed[/] {escape(str(report.root))}")
        table = Table(box=None, padding=(0, 1, 0, 2))
        cells = [
            ("new", report.new),
            ("changed", report.changed),
            ("unchanged", report.unchanged),
            ("deleted", report.deleted),
            ("skipped", report.skipped),
            ("failed", report.failed),
            ("chunks", report.chunks),
        ]
        for name, _ in cells:
            table.add_column(name, justify="right")
        table.add_column("time", justify="right")
        rate = report.files / report.seconds if report.seconds > 0 else 0.0
        row = [f"[red]{v:,}[/]" if n == "failed" and v else f"{v:,}" for n, v in cells]
        row.append(f"{report.seconds:.2f}s")
        table.add_row(*row)
        out.print(table)
        engine = f", {report.executor} x{report.workers}" if report.executor else ""
        out.print(
            f"  {report.files:,} files seen ({rate:,.0f} files/s{engine}); the index holds "
            f"{report.total_files:,} files, {report.total_chunks:,} chunks "
            f"[dim]({escape(str(report.db_path))})[/]"
        )
        if report.rebuild:
            out.print(f"  re-chunked every file: {escape(report.rebuild)}")
        _print_embedding(out, report)
    elif report.embedding.failed:  # -q: errors still show
        _print_embedding(out, report)
    if verbose and report.skips:
        out.print(f"[bold]{len(report.skips)} file(s) skipped:[/]")
        for skip in report.skips:
            detail = f" ({skip.detail})" if skip.detail else ""
            path = _relative(skip.path, report.root)
            out.print(f"  {escape(path)}: {escape(skip.reason)}{escape(detail)}")
    if report.failures:
        kept = (
            f" ({report.stale} keep the chunks of their last good version, marked stale, "
            "until they chunk again)"
            if report.stale
            else ""
        )
        out.print(f"[bold red]{len(report.failures)} file(s) failed{kept}:[/]")
        root = report.root
        _print_some(out, report.failures, lambda f: f"  {escape(_relative(f.describe(), root))}")


def _print_some(out: Console, items: Sequence[_T], line: Callable[[_T], str]) -> None:
    """The first :data:`MAX_FAILURES_SHOWN` of ``items``, one line each, then how many more."""
    for item in items[:MAX_FAILURES_SHOWN]:
        out.print(line(item))
    if len(items) > MAX_FAILURES_SHOWN:
        out.print(f"  ... and {len(items) - MAX_FAILURES_SHOWN:,} more (see --json)")


def _print_not_embedded(out: Console, e: EmbeddingReport) -> None:
    def line(f: EmbeddingFailure) -> str:
        where = f"{f.path} {f.symbol}".strip()
        return f"  [red]not embedded[/] {escape(where)}: {escape(f.error)}"

    _print_some(out, e.failures, line)


def _print_embedding(out: Console, report: IndexReport) -> None:
    e = report.embedding
    if e.model is not None:
        rate = f" ({e.rate:,.0f}/s)" if e.embedded else ""
        pending = f", [yellow]{e.pending:,} waiting[/]" if e.pending else ""
        failed = f", [red]{e.failed:,} failed[/]" if e.failed else ""
        out.print(
            f"  embedded {e.embedded:,} chunks{rate}, reused {e.reused:,}{pending}{failed} "
            f"[dim]({escape(e.model)})[/]"
        )
        _print_not_embedded(out, e)
    if e.notice:
        out.print(f"  [yellow]{escape(e.notice)}[/]")


def _relative(text: str, root: Path) -> str:
    prefix = str(root) + os.sep
    return text[len(prefix) :] if text.startswith(prefix) else text


def print_search_results(hits: Sequence[SearchResult], query: str) -> None:
    """``path:start-end  symbol  score`` and the matching lines, indentation kept, per hit."""
    out = _stdout()
    if not hits:
        out.print(Text(f"no results for {query!r}"))
        return
    for hit in hits:
        head = Text(f"{hit.path}:{hit.start_line}-{hit.end_line}", style="bold")
        if hit.symbol:
            head.append(f"  {_visible(hit.symbol)}", style="cyan")
        head.append(f"  {hit.score:.2f}", style="dim")
        out.print(head)
        for line in snippet_lines(hit.marked_snippet):
            out.print(Text("    ").append_text(line))


def snippet_lines(snippet: str, max_lines: int = 4) -> list[Text]:
    """The snippet's lines as rich text: dedented together (relative indentation kept), tabs
    expanded, control characters shown as symbols, matches highlighted."""
    lines = [_visible(ln.expandtabs(4)).rstrip() for ln in snippet.splitlines()]
    while lines and not _plain(lines[-1]).strip():
        lines.pop()
    indent = min(
        (len(_plain(ln)) - len(_plain(ln).lstrip()) for ln in lines if _plain(ln).strip()),
        default=0,
    )
    shown: list[Text] = []
    for line in lines[:max_lines]:
        # the common indentation is whitespace, so it holds no match mark: cut it first
        cut = line[indent:] if line[:indent].isspace() else line.lstrip()
        text = Text()
        for i, part in enumerate(cut.split(MARK_START)):
            marked, _, rest = part.partition(MARK_END) if i else ("", "", part)
            text.append(marked, style="bold yellow")
            text.append(rest)
        shown.append(text)
    if len(lines) > max_lines:
        shown.append(Text("...", style="dim"))
    return shown


def _plain(line: str) -> str:
    return line.replace(MARK_START, "").replace(MARK_END, "")


def _visible(text: str) -> str:
    """Control characters (a NUL in a file, say) as their Unicode symbols, so a terminal shows
    exactly one character for each and nothing is interpreted."""
    return "".join(
        chr(0x2400 + ord(c)) if ord(c) < 0x20 and c not in "\t\n\x02\x03" else c for c in text
    )


def print_status(
    stats: IndexStats,
    stale: Staleness,
    failed: Sequence[tuple[str, str, int]] = (),
    embedding: Mapping[str, Any] | None = None,
) -> None:
    """What the index holds, its failed files (``(path, reason, stale chunks kept)``), and
    whether the directory changed since."""
    out = _stdout()
    out.print(f"[bold]index of[/] {escape(stats.root or '?')}")
    table = Table(box=None, show_header=False, padding=(0, 1, 0, 2))
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")  # long paths wrap; nothing is cut
    table.add_row("database", f"{escape(str(stats.db_path))} ({_size(stats.db_bytes)})")
    table.add_row(
        "files",
        f"{stats.files:,} ({stats.chunked:,} chunked, {stats.skipped:,} skipped, "
        f"{stats.failed:,} failed)",
    )
    table.add_row("chunks", f"{stats.chunks:,}")
    table.add_row("source", _size(stats.bytes_indexed))
    if stats.languages:
        top = ", ".join(f"{k} {v:,}" for k, v in list(stats.languages.items())[:8])
        more = len(stats.languages) - 8
        table.add_row("languages", top + (f", +{more} more" if more > 0 else ""))
    if stats.updated_at:
        ago = time.time() - stats.updated_at
        table.add_row(
            "updated",
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(stats.updated_at))} ({_ago(ago)})",
        )
    table.add_row("chunking", escape(describe_chunking(stats.fingerprint)))
    if embedding is not None:
        _embedding_rows(table, embedding)
    out.print(table)
    if failed:
        kept = (
            f"; {stats.stale_files:,} keep the {stats.stale_chunks:,} chunks of their last good "
            "version, marked stale, until then"
            if stats.stale_files
            else ""
        )
        out.print(f"[red]{len(failed)} file(s) failed[/] (retried on the next run{kept}):")
        root = Path(stats.root or "/")

        def line(item: tuple[str, str, int]) -> str:
            path, reason, n = item
            kept = f" [dim]({n:,} stale chunks kept)[/]" if n else ""
            return f"  {escape(_relative(reason, root) or path)}{kept}"

        _print_some(out, failed, line)
    if stale.is_stale:
        parts = [
            f"{n:,} {name}"
            for name, n in (
                ("new", stale.new),
                ("modified", stale.modified),
                ("deleted", stale.deleted),
            )
            if n
        ]
        if stale.settings_changed:
            parts.append("the current chunking settings differ from the index's")
        out.print(f"[yellow]stale:[/] {', '.join(parts)}; run `codeweaver index` to update")
        for p in stale.examples:
            out.print(f"  {escape(p)}")
    else:
        out.print("[green]up to date[/]")


def describe_chunking(fingerprint: str | None) -> str:
    """The chunking settings an index was built with, in words (from its fingerprint).

    >>> describe_chunking("unit=tokens;budget=512;cpt=3.0;packing=definition;counter=estimate")
    '512 tokens (estimated at 3 characters per token), one definition per chunk'
    """
    if not fingerprint:
        return "unknown (the index was never written)"
    parts = dict(p.partition("=")[::2] for p in fingerprint.split(";") if p)
    unit, budget = parts.pop("unit", "?"), parts.pop("budget", "?")
    cpt, counter = parts.pop("cpt", "?"), parts.pop("counter", "estimate")
    size = f"{int(budget):,}" if budget.isdigit() else budget
    if unit == "chars":
        words = f"{size} characters"
    elif counter == "estimate":
        words = f"{size} tokens (estimated at {float(cpt):g} characters per token)"
    else:
        words = f"{size} tokens, counted by {counter}"
    packing = parts.pop("packing", None)
    if packing == "definition":
        words += ", one definition per chunk"
    elif packing == "greedy":
        words += ", definitions packed up to the budget"
    elif packing:
        words += f", packing {packing}"
    return words + "".join(f", {k}={v}" for k, v in parts.items())


def _embedding_rows(table: Table, e: Mapping[str, Any]) -> None:
    models = e.get("models") or []
    if not models:
        table.add_row("vectors", "none (a keyword-only index)")
        return
    for m in models:
        mark = " [dim](current)[/]" if m["model"] == e.get("current_model") else ""
        table.add_row(
            "vectors", f"{m['vectors']:,} x {m['dimension']} dims, {escape(m['model'])}{mark}"
        )
    pending = e.get("pending") or 0
    waiting = f"[yellow]{pending:,} chunks[/]" if pending else "none"
    if e.get("failed"):
        waiting += f" ({e['failed']:,} failed: {escape(str(e.get('last_error')))})"
    table.add_row("to embed", waiting)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} bytes"


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 129600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def print_chunks(chunks: Sequence[CodeChunk], governor: ChunkGovernor) -> None:
    """One row per chunk, sized in what the budget measures: characters unless a token counter
    is in use (a token budget without one is checked as an estimate in characters)."""
    out = _stdout()
    table = Table(box=None)
    counted = "chars" if governor.char_budget is not None else "tokens"
    for name, justify in (
        ("#", "right"),
        ("lines", "right"),
        ("bytes", "right"),
        (counted, "right"),
        ("symbol", "left"),
        ("kinds", "left"),
        ("first line", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for c in chunks:
        first = next((ln.strip() for ln in c.content.splitlines() if ln.strip()), "")
        size = str(governor.size(c.content)) + (" [red]oversized[/]" if c.oversized else "")
        table.add_row(
            str(c.ordinal),
            f"{c.start_line}-{c.end_line}",
            f"{c.start_byte}-{c.end_byte}",
            size,
            escape(c.symbol),
            escape(",".join(c.kinds[:3]) + ("..." if len(c.kinds) > 3 else "")),
            escape(first[:60]),
        )
    out.print(table)
    budget = f"budget {governor.budget:,} {governor.unit}"
    if governor.unit == "tokens" and governor.char_budget is not None:
        budget += (
            f", estimated as {governor.char_budget:,} characters "
            f"({governor.settings.chars_per_token:g} per token)"
        )
    out.print(f"{len(chunks)} chunk(s); {budget}")


def print_languages(infos: Iterable[LanguageInfo]) -> None:
    out = _stdout()
    table = Table(box=None)
    table.add_column("language", style="bold")
    table.add_column("grammar")
    table.add_column("extensions")
    table.add_column("file names")
    n = 0
    for info in infos:
        n += 1
        table.add_row(
            escape(info.name),
            escape(info.grammar or "[fallback]"),
            escape(" ".join(info.extensions)),
            escape(" ".join(info.filenames)),
        )
    out.print(table)
    out.print(f"{n} languages")


class WatchLog:
    """What ``codeweaver watch`` prints: a line per update on stderr, or JSON lines on stdout.

    A progress bar (on a terminal) covers the initial index and batches of
    :attr:`BAR_FROM` paths or more; ``quiet`` keeps only errors and failed files.
    """

    BAR_FROM = 200

    def __init__(self, root: Path, *, json: bool, quiet: bool) -> None:
        self.root = root
        self.json = json
        self.quiet = quiet
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self._bar: IndexProgressBar | None = None

    def starting(self) -> None:
        self._open_bar()

    def progress(self, p: IndexProgress) -> None:
        bar = self._bar
        if bar is not None:
            bar.update(p)

    def event(self, event: WatchEvent) -> None:
        self.close()
        if self.json:
            print(json.dumps(event.to_dict(), ensure_ascii=False), flush=True)
            return
        stamp = f"[dim]{time.strftime('%H:%M:%S', time.localtime(event.at))}[/]"
        if event.kind == "changes":
            if event.rescan or len(event.paths) >= self.BAR_FROM:
                self._open_bar()
            return
        report = event.report
        if event.kind == "error" or report is None:
            self.err.print(f"{stamp} [bold red]error:[/] {escape(event.error or '?')}")
            return
        if self.quiet:
            pass
        elif event.kind == "ready":
            self.err.print(
                f"{stamp} watching {escape(str(self.root))}: the index holds "
                f"{report.total_files:,} files, {report.total_chunks:,} chunks "
                f"({_counts(report)}, {report.seconds:.2f}s); Ctrl-C to stop"
            )
        else:
            self.err.print(
                f"{stamp} {escape(_what(event))}: {_counts(report)}, "
                f"{report.chunks:,} chunk{'' if report.chunks == 1 else 's'} written, "
                f"{report.seconds:.2f}s"
            )
        root = self.root
        _print_some(
            self.err,
            report.failures,
            lambda f: f"  [red]failed:[/] {escape(_relative(f.describe(), root))}",
        )
        e = report.embedding
        _print_not_embedded(self.err, e)
        if e.notice and (e.failed or not self.quiet):
            self.err.print(f"  [yellow]{escape(e.notice)}[/]")

    def stopped(self) -> None:
        if not self.quiet:
            self.err.print("stopped watching: the index holds every update written so far")

    def close(self) -> None:
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.__exit__(None, None, None)

    def _open_bar(self) -> None:
        if not (self.quiet or self.json):
            self._bar = IndexProgressBar().__enter__()


def _what(event: WatchEvent) -> str:
    """The paths of a batch, short: one path, a few, or a count."""
    if event.rescan:
        return f"rescan ({event.note})" if event.note else "rescan"
    paths = event.paths
    if len(paths) <= 3:
        return ", ".join(paths)
    return f"{len(paths):,} paths ({', '.join(paths[:2])}, ...)"


def _counts(report: IndexReport) -> str:
    parts = [
        f"{n:,} {name}"
        for name, n in (
            ("new", report.new),
            ("changed", report.changed),
            ("deleted", report.deleted),
            ("skipped", report.skipped),
            ("failed", report.failed),
        )
        if n
    ]
    return ", ".join(parts) or "no change"
