"""Terminal output for the CLI: the progress bar, the summary table, search hits, status, tables.

Results go to stdout; the progress bar and errors go to stderr, so ``codeweaver index > log``
stays clean. The bar is drawn only on a terminal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

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

from codeweaver.index.store import MARK_END, MARK_START

if TYPE_CHECKING:
    from codeweaver.core.chunks import CodeChunk
    from codeweaver.core.languages import LanguageInfo
    from codeweaver.engine.chunker.governor import ChunkGovernor
    from codeweaver.index.pipeline import IndexProgress, IndexReport, Staleness
    from codeweaver.index.store import IndexStats
    from codeweaver.search.results import SearchResult

__all__ = [
    "IndexProgressBar",
    "print_chunks",
    "print_index_report",
    "print_languages",
    "print_search_results",
    "print_status",
]

MAX_FAILURES_SHOWN = 50


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


def print_index_report(report: IndexReport, *, quiet: bool = False) -> None:
    """The summary table (one row of counts), where the index is, then the failed files."""
    out = _stdout()
    if not quiet:
        out.print(f"[bold]codeweaver index[/] {escape(str(report.root))}")
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
    if report.failures:
        out.print(f"[bold red]{len(report.failures)} file(s) failed:[/]")
        for f in report.failures[:MAX_FAILURES_SHOWN]:
            out.print(f"  {escape(_relative(f.describe(), report.root))}")
        if len(report.failures) > MAX_FAILURES_SHOWN:
            out.print(f"  ... and {len(report.failures) - MAX_FAILURES_SHOWN} more (see --json)")


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
        for f in e.failures[:MAX_FAILURES_SHOWN]:
            where = f"{f.path} {f.symbol}".strip()
            out.print(f"  [red]not embedded[/] {escape(where)}: {escape(f.error)}")
    if e.notice:
        out.print(f"  [yellow]{escape(e.notice)}[/]")


def _relative(text: str, root: Path) -> str:
    prefix = str(root) + os.sep
    return text[len(prefix) :] if text.startswith(prefix) else text


def print_search_results(hits: Sequence[SearchResult], query: str) -> None:
    """``path:start-end  symbol  score`` and an indented snippet per hit."""
    out = _stdout()
    if not hits:
        out.print(f"no results for {escape(query)!r}")
        return
    for hit in hits:
        snippet = hit.marked_snippet
        symbol = f"  [cyan]{escape(hit.symbol)}[/]" if hit.symbol else ""
        out.print(
            f"[bold]{escape(hit.path)}:{hit.start_line}-{hit.end_line}[/]{symbol}"
            f"  [dim]{hit.score:.2f}[/]"
        )
        for line in _snippet_lines(snippet):
            out.print(f"    {line}")


def _snippet_lines(snippet: str, max_lines: int = 4) -> list[str]:
    lines = [ln for ln in snippet.splitlines() if ln.strip()]
    # Dedent by the body's indentation; a first line cut mid-way ("… x") has none to go by.
    body = lines[1:] if lines and lines[0].lstrip().startswith("…") else lines
    indent = min((len(ln) - len(ln.lstrip()) for ln in body), default=0)
    lines = [ln[indent:] if ln[:indent].isspace() else ln.lstrip() for ln in lines]
    shown = [_highlight(ln.rstrip()) for ln in lines[:max_lines]]
    if len(lines) > max_lines:
        shown.append("[dim]...[/]")
    return shown


def _highlight(line: str) -> str:
    """Escape a snippet line for rich, turning the FTS5 match markers into highlights."""
    out: list[str] = []
    i = 0
    while i < len(line):
        start = line.find(MARK_START, i)
        end = line.find(MARK_END, start + 1) if start != -1 else -1
        if start == -1 or end == -1:
            out.append(escape(line[i:]))
            break
        out.append(escape(line[i:start]))
        out.append(f"[bold yellow]{escape(line[start + 1 : end])}[/]")
        i = end + 1
    return "".join(out)


def print_status(
    stats: IndexStats,
    stale: Staleness,
    failed: Sequence[tuple[str, str]] = (),
    embedding: Mapping[str, Any] | None = None,
) -> None:
    out = _stdout()
    out.print(f"[bold]codeweaver index[/] {escape(stats.root or '?')}")
    table = Table(box=None, show_header=False, padding=(0, 1, 0, 2))
    table.add_column("", style="bold")
    table.add_column("")
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
    table.add_row("chunking", escape(stats.fingerprint or "?"))
    if embedding is not None:
        _embedding_rows(table, embedding)
    out.print(table)
    if failed:
        out.print(f"[red]{len(failed)} file(s) failed[/] (retried on the next run):")
        for path, reason in failed[:MAX_FAILURES_SHOWN]:
            out.print(f"  {escape(_relative(reason, Path(stats.root or '/')) or path)}")
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
    out = _stdout()
    table = Table(box=None)
    for name, justify in (
        ("#", "right"),
        ("lines", "right"),
        ("bytes", "right"),
        (governor.unit, "right"),
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
    out.print(f"{len(chunks)} chunk(s); budget {governor.budget} {governor.unit}")


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
