"""Small helpers shared by the benchmark scripts: the corpus, peak RSS, a plain-text table."""

from __future__ import annotations

import os
import sysconfig
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

from codeweaver.core.discovery import DiscoveredFile, discover_files

__all__ = [
    "PeakRss",
    "TreeCpu",
    "default_corpus",
    "format_table",
    "list_corpus",
    "warm_page_cache",
]


def default_corpus() -> Path:
    """The interpreter's standard library (the corpus every benchmark defaults to)."""
    return Path(sysconfig.get_paths()["stdlib"])


def list_corpus(
    root: str | os.PathLike[str],
    *,
    languages: Iterable[str] | None = None,
    max_files: int | None = None,
    exclude: Sequence[str] = (),
) -> list[DiscoveredFile]:
    """The files ``discover_files`` finds under ``root``, by language, at most ``max_files``.

    For the standard library, pass ``exclude=("site-packages",)`` to leave installed packages out.
    """
    wanted = set(languages) if languages else None
    out: list[DiscoveredFile] = []
    for f in discover_files(root, exclude=list(exclude) or None):
        if wanted is not None and f.language not in wanted:
            continue
        out.append(f)
        if max_files is not None and len(out) >= max_files:
            break
    return out


def warm_page_cache(files: Iterable[DiscoveredFile]) -> int:
    """Read every file once so the first timed run is not the only one reading from disk."""
    total = 0
    for f in files:
        try:
            with open(f.path, "rb") as fh:
                total += len(fh.read())
        except OSError:
            pass
    return total


def _rss_bytes() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:  # Linux without psutil
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples this process's resident set size in a thread; ``.peak`` is the highest seen (bytes).

    ``ru_maxrss`` is a high-water mark for the whole process life, so it cannot tell one run from
    the next in the same process; sampling can (at ``interval`` resolution).
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.start = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)

    def __enter__(self) -> PeakRss:
        self.start = self.peak = _rss_bytes()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _rss_bytes())


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table (it reads fine as plain text too); numbers are right-aligned."""
    body = [[_cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)
    ]
    numeric = [bool(body) and all(_is_number(r[i]) for r in body) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.rjust(w) if num else c.ljust(w)
                for c, w, num in zip(cells, widths, numeric, strict=True)
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if num else ("-" * (w + 2))
            for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(list(headers)), rule, *(line(r) for r in body)])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").rstrip("x%"))
    except ValueError:
        return False
    return True


class TreeCpu:
    """CPU seconds of a process and all its descendants, sampled every 20 ms.

    Worker processes may be children of a fork server that their indexer never waits for, so
    ``RUSAGE_CHILDREN`` misses them; sampling sees every process while it lives (each one that
    exits loses at most one interval).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        for p in procs:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            with self._lock:
                self.seen[p.pid] = max(self.seen.get(p.pid, 0.0), t.user + t.system)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self._sample()

    def total(self) -> float:
        self._sample()
        with self._lock:
            return sum(self.seen.values())

    def descendants(self) -> float:
        """The CPU seconds of the descendants alone (workers, a fork server)."""
        self._sample()
        with self._lock:
            return sum(v for pid, v in self.seen.items() if pid != self.pid)

    def close(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.total()
