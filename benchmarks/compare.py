"""The comparison harness: pick files, run each peer in its own subprocess, measure the chunks.

::

    parent (python -m benchmarks run)
      ├─ select_files(corpus)            same files for every peer
      ├─ for each peer, one at a time:   python -m benchmarks _worker  (fresh interpreter)
      │     worker: import peer, warm up, then per file: [read] decode → chunk → timer stops
      │             writes one pickle record per file to a stream file; peak RSS at the end
      │     a crash (segfault, kill) costs the file it was on: the parent restarts the worker
      │     on the files after it and records the file as failed with the exit code
      └─ evaluate(records)               metrics.py on every file, per language (parent, untimed)

Peers run one at a time, so their timings do not compete for cores, and each has its own
process, so peak RSS (``ru_maxrss``) is per peer.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import metrics
from benchmarks.peers import BatchFile, Peer, load_peer

__all__ = [
    "BenchFile",
    "LanguageStats",
    "PeerRun",
    "batch_elapsed",
    "evaluate",
    "resolve_corpus",
    "run_peer",
    "select_files",
    "worker_main",
]

REPO_ROOT = Path(__file__).resolve().parent.parent


# -- files ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BenchFile:
    """One input file: absolute path, POSIX path relative to the corpus root, language, size."""

    path: str
    rel_path: str
    language: str
    size: int


def default_languages(spec: str) -> list[str]:
    """The languages a run takes when none are named: the standard library's Python, else
    every language the metrics know definitions of."""
    return ["python"] if spec == "stdlib" else list(metrics.DEFINITION_KINDS)


def resolve_corpus(spec: str) -> Path:
    """``"stdlib"`` is this interpreter's standard library; anything else is a directory."""
    if spec == "stdlib":
        from benchmarks._common import default_corpus

        return default_corpus()
    root = Path(spec).expanduser().resolve()
    if not root.is_dir():
        raise SystemExit(f"corpus {spec!r} is not a directory")
    return root


# Installed packages are not part of a corpus (the stdlib folder holds site-packages).
_EXCLUDE = ("site-packages", "dist-packages")


def select_files(
    root: Path,
    *,
    languages: Sequence[str] | None = None,
    max_files: int | None = None,
    largest: bool = False,
) -> list[BenchFile]:
    """The source files under ``root`` in ``languages`` (default: any language), sorted by path.

    Files are listed by ``benchmarks._common.list_corpus`` (codeweaver's ``discover_files``:
    its language table, ignore files, binary and size filters), installed packages left out. With
    ``max_files``, at most that many per language, taken at an even stride over the sorted list
    so that a sample spans all the projects in the corpus rather than the first one; with
    ``largest``, the ``max_files`` biggest files per language instead (a stress test: generated
    tables, giant literals, bundles).
    """
    from benchmarks._common import list_corpus

    by_language: dict[str, list[BenchFile]] = {}
    for f in list_corpus(root, languages=languages, exclude=_EXCLUDE):
        by_language.setdefault(f.language, []).append(
            BenchFile(f.path, f.rel_path, f.language, f.size)
        )
    selected: list[BenchFile] = []
    for files in by_language.values():
        files.sort(key=lambda f: f.rel_path)
        if largest and max_files is not None:
            selected.extend(sorted(files, key=lambda f: (-f.size, f.rel_path))[:max_files])
        elif max_files is not None and len(files) > max_files:
            step = len(files) / max_files
            selected.extend(files[int(i * step)] for i in range(max_files))
        else:
            selected.extend(files)
    selected.sort(key=lambda f: (f.language, f.rel_path))
    return selected


# -- the worker (runs in its own interpreter) -----------------------------------------------------
class FileTimeoutError(Exception):
    """One file ran past ``--file-timeout`` in a peer."""


def _on_alarm(signum: int, frame: object) -> None:
    raise FileTimeoutError("file took longer than the per-file time limit")


def _peak_rss_bytes() -> int:
    """This process's peak RSS since its ``exec`` (``VmHWM``).

    ``ru_maxrss`` is not used on Linux: it survives ``execve``, so a fresh interpreter started by
    a big parent would report the parent's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


class _TreeRssSampler:
    """Peak of the summed RSS of this process and its children, sampled every 200 ms.

    For executors with worker processes; shared pages count once per process, so this is an
    upper bound.
    """

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            import psutil  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            return
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            try:
                for proc in [me, *me.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += proc.memory_info().rss
            except psutil.Error:
                pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)


def _error_record(f: BatchFile | BenchFile, size: int, exc: BaseException) -> dict[str, Any]:
    return {
        "kind": "file",
        "rel_path": f.rel_path,
        "language": f.language,
        "size": size,
        "elapsed": 0.0,
        "chunks": None,
        "error": getattr(exc, "error_type", None) or type(exc).__name__,
        "message": str(exc)[:300],
    }


def worker_main(
    peer_name: str,
    budget: int,
    files_json: str,
    out_path: str,
    file_timeout: float,
    *,
    repeat: int = 1,
) -> int:
    """Chunk every listed file with one peer and append one pickle record per file to ``out_path``.

    Records: ``start`` (versions, setup time), ``file`` (per file: elapsed seconds, chunk strings
    or the error type), ``batch`` (batch peers: elapsed per language), ``end`` (peak RSS).
    """
    files = [BenchFile(*row) for row in json.loads(Path(files_json).read_text())]
    with open(out_path, "ab") as out:

        def write(record: dict[str, Any]) -> None:
            pickle.dump(record, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()

        cls = load_peer(peer_name)
        reason = cls.missing()
        if reason is not None:
            write({"kind": "unavailable", "reason": reason})
            return 0
        t0 = time.perf_counter()
        try:
            peer = cls(budget)
            for language in sorted({f.language for f in files}):
                if peer.supports(language) and not cls.batch:
                    # Load grammars and models before the clock starts.
                    with contextlib.suppress(Exception):
                        peer.chunk("x = 1\n", b"x = 1\n", language, "<warm-up>")
        except Exception as exc:  # the peer cannot even start (e.g. needs the network)
            write({"kind": "unavailable", "reason": f"{type(exc).__name__}: {exc}"[:500]})
            return 0
        write(
            {
                "kind": "start",
                "setup_s": time.perf_counter() - t0,
                "rss_after_setup": _peak_rss_bytes(),
                "pid": os.getpid(),
            }
        )
        if cls.batch:
            _run_batch(peer, files, write, repeat)
        else:
            _run_serial(peer, files, write, file_timeout, repeat)
        write({"kind": "end", "peak_rss": _peak_rss_bytes()})
    return 0


def _run_serial(
    peer: Peer, files: Sequence[BenchFile], write: Any, file_timeout: float, repeat: int
) -> None:
    """Per file: the best of ``repeat`` runs, in CPU seconds of this process (robust to other
    load on a shared machine; every serial peer is single-threaded CPU work)."""
    signal.signal(signal.SIGALRM, _on_alarm)
    for f in files:
        if not peer.supports(f.language):
            continue
        try:
            with open(f.path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            write(_error_record(f, f.size, exc))
            continue
        chunks: list[str] | None = None
        error: BaseException | None = None
        elapsed = wall = float("inf")
        for _ in range(repeat):
            signal.setitimer(signal.ITIMER_REAL, file_timeout)
            start, start_wall = time.process_time(), time.perf_counter()
            try:
                text = data.decode("utf-8", errors="replace") if peer.wants_text else ""
                chunks = peer.chunk(text, data, f.language, f.rel_path)
            except (Exception, RecursionError, MemoryError, FileTimeoutError) as exc:
                error = exc
            finally:
                elapsed = min(elapsed, time.process_time() - start)
                wall = min(wall, time.perf_counter() - start_wall)
                signal.setitimer(signal.ITIMER_REAL, 0)
            if error is not None:
                break
        if error is not None:
            record = _error_record(f, len(data), error)
            record["elapsed"] = elapsed
            record["wall"] = wall
            write(record)
        else:
            write(
                {
                    "kind": "file",
                    "rel_path": f.rel_path,
                    "language": f.language,
                    "size": len(data),
                    "elapsed": elapsed,
                    "wall": wall,
                    "chunks": chunks,
                    "error": None,
                    "message": "",
                }
            )


def _run_batch(peer: Peer, files: Sequence[BenchFile], write: Any, repeat: int) -> None:
    """The best of ``repeat`` wall times of one call over all the files, as a user would call it
    on a repository (so per-language times are not known for batch peers)."""
    group = [f for f in files if peer.supports(f.language)]
    batch = [BatchFile(f.path, f.rel_path, f.language) for f in group]
    elapsed = float("inf")
    error: BaseException | None = None
    results: list[tuple[str, list[str] | BaseException]] = []
    with _TreeRssSampler() as sampler:
        for _ in range(repeat):
            start = time.perf_counter()
            try:
                results = list(peer.chunk_batch(batch))
                error = None
            except Exception as exc:
                results, error = [], exc
            elapsed = min(elapsed, time.perf_counter() - start)
    write({"kind": "batch", "elapsed": elapsed, "files": len(group)})
    by_rel = {f.rel_path: f for f in group}
    seen = set()
    for rel_path, outcome in results:
        f = by_rel.get(rel_path)
        if f is None:
            continue
        seen.add(rel_path)
        if isinstance(outcome, BaseException):
            write(_error_record(f, f.size, outcome))
        else:
            write(
                {
                    "kind": "file",
                    "rel_path": rel_path,
                    "language": f.language,
                    "size": f.size,
                    "elapsed": None,
                    "chunks": outcome,
                    "error": None,
                    "message": "",
                }
            )
    for f in group:
        if f.rel_path not in seen:
            missing = error or RuntimeError("the executor returned no result for this file")
            write(_error_record(f, f.size, missing))
    write({"kind": "tree_peak_rss", "peak_rss": sampler.peak})


# -- the parent side ------------------------------------------------------------------------------
@dataclass(slots=True)
class PeerRun:
    """What one peer's worker(s) reported: the records, plus how the process(es) ended."""

    name: str
    records: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"  # ok | unavailable | timeout | crashed
    reason: str = ""
    restarts: int = 0
    wall_s: float = 0.0

    def file_records(self) -> Iterator[dict[str, Any]]:
        return (r for r in self.records if r["kind"] == "file")


def _read_records(path: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    try:
        with open(path, "rb") as fh:
            while True:
                try:
                    records.append(pickle.load(fh))
                except EOFError:
                    break
                except (pickle.UnpicklingError, ValueError):  # a torn last record after a crash
                    break
    except FileNotFoundError:
        pass
    return records


def run_peer(
    name: str,
    files: Sequence[BenchFile],
    budget: int,
    *,
    file_timeout: float = 60.0,
    peer_timeout: float = 1800.0,
    repeat: int = 1,
    max_restarts: int = 20,
    python: str = sys.executable,
) -> PeerRun:
    """Run one peer over ``files`` in a fresh interpreter (restarted after a crash)."""
    run = PeerRun(name)
    remaining = list(files)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        attempt = 0
        while remaining:
            files_json = os.path.join(tmp, f"files-{attempt}.json")
            out_path = os.path.join(tmp, f"out-{attempt}.pickle")
            Path(files_json).write_text(json.dumps([list(asdict(f).values()) for f in remaining]))
            cmd = [
                python,
                "-m",
                "benchmarks",
                "_worker",
                name,
                str(budget),
                files_json,
                out_path,
                str(file_timeout),
                str(repeat),
            ]
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(
                    [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
            }
            left = peer_timeout - (time.perf_counter() - started)
            try:
                proc = subprocess.run(
                    cmd,
                    cwd=REPO_ROOT,
                    env=env,
                    timeout=max(left, 1),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    check=False,
                )
                rc, stderr = proc.returncode, proc.stderr.decode("utf-8", "replace")
            except subprocess.TimeoutExpired:
                rc, stderr = None, ""
            records = _read_records(out_path)
            run.records.extend(r for r in records if r["kind"] != "unavailable")
            unavailable = [r for r in records if r["kind"] == "unavailable"]
            if unavailable:
                run.status, run.reason = "unavailable", unavailable[0]["reason"]
                break
            done = {r["rel_path"] for r in records if r["kind"] == "file"}
            if rc == 0 and any(r["kind"] == "end" for r in records):
                break
            remaining = [f for f in remaining if f.rel_path not in done]
            if rc is None:
                run.status = "timeout"
                run.reason = f"stopped after {peer_timeout:.0f} s; {len(remaining)} files not run"
                break
            if not records:  # died before it wrote anything: not a per-file crash
                run.status, run.reason = "crashed", f"exit {rc}: {stderr.strip()[-400:]}"
                break
            # The worker died on the first file it had not finished.
            victim = next((f for f in remaining if _peer_supports(name, f.language)), None)
            if victim is None:
                break
            run.records.append(
                {
                    "kind": "file",
                    "rel_path": victim.rel_path,
                    "language": victim.language,
                    "size": victim.size,
                    "elapsed": 0.0,
                    "chunks": None,
                    "error": "WorkerCrash",
                    "message": _describe_exit(rc),
                }
            )
            remaining = [f for f in remaining if f.rel_path != victim.rel_path]
            run.restarts += 1
            attempt += 1
            if run.restarts > max_restarts:
                run.status = "crashed"
                run.reason = f"gave up after {max_restarts} crashes"
                break
    run.wall_s = time.perf_counter() - started
    return run


def _peer_supports(name: str, language: str) -> bool:
    return supports(load_peer(name), language)


def supports(peer: type[Peer], language: str) -> bool:
    """Whether ``peer`` chunks ``language`` (a peer that names no languages takes them all)."""
    return peer.languages is None or language in peer.languages


def _describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name} (segfault or out of memory?)"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"worker exited with code {rc}"


# -- metrics over the records ---------------------------------------------------------------------
@dataclass(slots=True)
class LanguageStats:
    """Everything measured for one peer on one language (or on all of them, merged)."""

    budget: int
    files: int = 0
    bytes: int = 0
    ok_files: int = 0
    time_s: float = 0.0  # CPU seconds (serial peers) or wall seconds (batch peers)
    wall_s: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)
    failure_examples: dict[str, str] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)
    exact_join_files: int = 0
    chars: int = 0
    lost: int = 0
    lost_non_ws: int = 0
    duplicated: int = 0
    located: Counter[str] = field(default_factory=Counter)
    defs_fitting: int = 0
    defs_split: int = 0

    def merge(self, other: LanguageStats) -> None:
        for name in (
            "files",
            "bytes",
            "ok_files",
            "time_s",
            "wall_s",
            "exact_join_files",
            "chars",
            "lost",
            "lost_non_ws",
            "duplicated",
            "defs_fitting",
            "defs_split",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures.update(other.failures)
        for k, v in other.failure_examples.items():
            self.failure_examples.setdefault(k, v)
        self.sizes.extend(other.sizes)
        self.located.update(other.located)

    def summary(self, *, produces_chunks: bool = True) -> dict[str, Any]:
        t = self.time_s
        out: dict[str, Any] = {
            "files": self.files,
            "bytes": self.bytes,
            "ok_files": self.ok_files,
            "time_s": round(t, 4),
            "files_per_s": self.files / t if t > 0 else None,
            "mb_per_s": self.bytes / 1e6 / t if t > 0 else None,
            "wall_s": round(self.wall_s, 4),
            "wall_mb_per_s": self.bytes / 1e6 / self.wall_s if self.wall_s > 0 else None,
            "failures": dict(self.failures),
            "failure_examples": dict(self.failure_examples),
        }
        if not produces_chunks:
            return out
        located_total = sum(self.located.values())
        out.update(metrics.size_stats(self.sizes, self.budget))
        out.update(
            {
                "exact_join_share": self.exact_join_files / self.ok_files
                if self.ok_files
                else None,
                "chars": self.chars,
                "lost_chars": self.lost,
                "lost_non_ws_chars": self.lost_non_ws,
                "duplicated_chars": self.duplicated,
                "lost_share": self.lost / self.chars if self.chars else 0.0,
                "lost_non_ws_share": self.lost_non_ws / self.chars if self.chars else 0.0,
                "duplicated_share": self.duplicated / self.chars if self.chars else 0.0,
                "located": dict(self.located),
                "verbatim_share": self.located["verbatim"] / located_total
                if located_total
                else None,
                "defs_fitting": self.defs_fitting,
                "defs_split": self.defs_split,
                "split_share": self.defs_split / self.defs_fitting if self.defs_fitting else None,
            }
        )
        return out


def batch_elapsed(run: PeerRun) -> float | None:
    """The wall time of a batch peer's call over all files (``None`` for per-file peers)."""
    times = [r["elapsed"] for r in run.records if r["kind"] == "batch"]
    return sum(times) if times else None


class DefinitionCache:
    """Definition spans per file, computed once and shared by every peer's evaluation."""

    def __init__(self) -> None:
        self._spans: dict[str, list[tuple[int, int]]] = {}

    def get(self, path: str, data: bytes, language: str) -> list[tuple[int, int]]:
        spans = self._spans.get(path)
        if spans is None:
            try:
                spans = metrics.definition_spans(data, language)
            except Exception:  # no grammar for it in this pack: no definitions counted
                spans = []
            self._spans[path] = spans
        return spans


def evaluate(
    run: PeerRun,
    files: Sequence[BenchFile],
    budget: int,
    *,
    produces_chunks: bool = True,
    definitions: DefinitionCache | None = None,
) -> dict[str, LanguageStats]:
    """Per-language statistics for one peer's records over ``files``."""
    definitions = definitions or DefinitionCache()
    by_rel = {f.rel_path: f for f in files}
    stats: dict[str, LanguageStats] = {}
    for record in run.file_records():
        f = by_rel.get(record["rel_path"])
        language = record["language"]
        st = stats.setdefault(language, LanguageStats(budget))
        st.files += 1
        st.bytes += record["size"]
        if record["elapsed"] is not None:
            st.time_s += record["elapsed"]
            st.wall_s += record.get("wall", record["elapsed"])
        if record["error"] is not None:
            st.failures[record["error"]] += 1
            st.failure_examples.setdefault(
                record["error"], f"{record['rel_path']}: {record['message']}"[:200]
            )
            continue
        st.ok_files += 1
        if not produces_chunks or f is None:
            continue
        chunks: list[str] = record["chunks"]
        data = Path(f.path).read_bytes()
        text = data.decode("utf-8", errors="replace")
        st.sizes.extend(len(c) for c in chunks)
        if "".join(chunks) == text:
            st.exact_join_files += 1
            spans: list[tuple[int, int] | None] = []
            offset = 0
            for c in chunks:
                spans.append((offset, offset + len(c)))
                offset += len(c)
            covered: list[tuple[int, int] | None] = list(spans)
            st.located["verbatim"] += len(chunks)
        else:
            located = metrics.locate_chunks(text, chunks)
            spans = located.spans
            covered = list(located.covered())
            st.located.update(located.methods)
        cov = metrics.coverage(text, covered)
        st.chars += cov.total
        st.lost += cov.lost
        st.lost_non_ws += cov.lost_non_ws
        st.duplicated += cov.duplicated
        fitting, split = metrics.count_split(definitions.get(f.path, data, language), spans, budget)
        st.defs_fitting += fitting
        st.defs_split += split
    return stats
