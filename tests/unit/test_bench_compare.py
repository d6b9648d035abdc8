"""The benchmark harness end to end on a tiny real corpus: file selection, one subprocess per peer,
crash recovery, per-language metrics and the results page (no bench extra needed)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

# benchmarks/ is not an installed package: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import compare, report
from benchmarks.peers import PEERS, load_peer

PY = textwrap.dedent(
    '''\
    """A module."""

    import sys


    def small(x):
        """Small."""
        return x + 1


    class Thing:
        def method(self):
            return "ünïcode"
    '''
)
GO = "package p\n\nfunc F() int {\n\treturn 1\n}\n"
CRASHY = textwrap.dedent(
    """\
    import os
    from benchmarks.peers.lines import LinesPeer

    class Crashy(LinesPeer):
        name = "crashy"

        def chunk(self, text, data, language, path):
            if "CRASH" in text:
                os._exit(9)
            if "RAISE" in text:
                raise ValueError("bad input")
            return super().chunk(text, data, language, path)
    """
)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text(PY, encoding="utf-8")
    (root / "pkg" / "b.py").write_text(PY * 30, encoding="utf-8")
    (root / "pkg" / "c.go").write_text(GO, encoding="utf-8")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "skip.py").write_text("x = 1\n")
    (root / "notes.txt").write_text("not code\n")
    return root


def test_select_files_filters_and_samples(corpus: Path) -> None:
    files = compare.select_files(corpus, languages=["python", "go"])
    assert [f.rel_path for f in files] == ["pkg/c.go", "pkg/a.py", "pkg/b.py"]
    assert [f.language for f in files] == ["go", "python", "python"]
    assert files[1].size == len(PY.encode())
    assert [f.rel_path for f in compare.select_files(corpus, languages=["python"])] == [
        "pkg/a.py",
        "pkg/b.py",
    ]
    sampled = compare.select_files(corpus, languages=["python", "go"], max_files=1)
    assert sorted(f.language for f in sampled) == ["go", "python"]
    biggest = compare.select_files(corpus, languages=["python"], max_files=1, largest=True)
    assert [f.rel_path for f in biggest] == ["pkg/b.py"]


def test_baseline_run_measures_a_lossless_chunker(corpus: Path) -> None:
    files = compare.select_files(corpus, languages=["python", "go"])
    run = compare.run_peer("lines", files, 200)
    assert run.status == "ok"
    assert any(r["kind"] == "end" and r["peak_rss"] > 0 for r in run.records)
    stats = compare.evaluate(run, files, 200)
    py = stats["python"].summary()
    assert py["files"] == 2
    assert py["failures"] == {}
    assert py["lost_chars"] == py["duplicated_chars"] == 0
    assert py["exact_join_share"] == 1.0
    assert py["max"] <= 200
    assert py["over_share"] == 0
    assert py["time_s"] > 0
    assert py["defs_fitting"] == 31 * 3
    # Packing lines blindly splits some of the small definitions.
    assert 0 < py["defs_split"] < py["defs_fitting"]
    assert stats["go"].summary()["chunks"] == 1


def test_codeweaver_serial_is_measured_lossless(corpus: Path) -> None:
    files = compare.select_files(corpus, languages=["python", "go"])
    run = compare.run_peer("codeweaver", files, 200)
    assert run.status == "ok", run.reason
    total = compare.LanguageStats(200)
    for st in compare.evaluate(run, files, 200).values():
        total.merge(st)
    summary = total.summary()
    assert summary["files"] == 3
    assert summary["failures"] == {}
    assert summary["lost_chars"] == summary["duplicated_chars"] == 0
    assert summary["exact_join_share"] == 1.0


def test_process_executor_row_gives_the_serial_chunks(corpus: Path) -> None:
    files = compare.select_files(corpus, languages=["python", "go"])
    serial = compare.run_peer("codeweaver", files, 200)
    process = compare.run_peer("codeweaver-process", files, 200)
    assert process.status == "ok", process.reason

    def chunks(run: compare.PeerRun) -> dict[str, list[str]]:
        return {r["rel_path"]: r["chunks"] for r in run.file_records()}

    assert chunks(process) == chunks(serial)
    assert len([r for r in process.records if r["kind"] == "batch"]) == 1
    elapsed = compare.batch_elapsed(process)
    assert elapsed is not None
    assert elapsed > 0
    assert compare.batch_elapsed(serial) is None


def test_a_crash_costs_only_the_file_it_was_on(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "crashy_peer.py").write_text(CRASHY)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # for the worker
    monkeypatch.syspath_prepend(str(tmp_path))  # for the parent
    (corpus / "pkg" / "a2.py").write_text("# CRASH\n")
    (corpus / "pkg" / "a3.py").write_text("# RAISE\n")
    files = compare.select_files(corpus, languages=["python"])
    run = compare.run_peer("crashy_peer:Crashy", files, 200)
    assert run.restarts == 1
    by_path = {r["rel_path"]: r for r in run.file_records()}
    assert set(by_path) == {"pkg/a.py", "pkg/a2.py", "pkg/a3.py", "pkg/b.py"}
    assert by_path["pkg/a2.py"]["error"] == "WorkerCrash"
    assert "9" in by_path["pkg/a2.py"]["message"]
    assert by_path["pkg/a3.py"]["error"] == "ValueError"
    assert by_path["pkg/b.py"]["error"] is None
    summary = compare.evaluate(run, files, 200)["python"].summary()
    assert summary["failures"] == {"WorkerCrash": 1, "ValueError": 1}
    assert summary["ok_files"] == 2


def test_a_peer_that_cannot_start_is_reported_unavailable(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "offline_peer.py").write_text(
        "from benchmarks.peers.lines import LinesPeer\n"
        "class Offline(LinesPeer):\n"
        "    def __init__(self, budget):\n"
        "        raise ConnectionError('needs to download grammars')\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    run = compare.run_peer("offline_peer:Offline", compare.select_files(corpus), 200)
    assert run.status == "unavailable"
    assert "ConnectionError" in run.reason


def test_page_renders_tables_failures_and_verdict(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks.__main__ import run_corpus

    (tmp_path / "test_peers.py").write_text(
        CRASHY.replace("class Crashy", "class Raising") + "\nclass Offline(LinesPeer):\n"
        "    def __init__(self, budget):\n"
        "        raise ConnectionError('needs the network')\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    (corpus / "pkg" / "bad.py").write_text("# RAISE\n")
    section = run_corpus(
        str(corpus),
        budget=200,
        peers=["codeweaver", "lines", "parse-only", "test_peers:Raising", "test_peers:Offline"],
        languages=["python", "go"],
        max_files=None,
        file_timeout=30,
        peer_timeout=120,
    )
    results = {
        "command": "python -m benchmarks run --corpus X",
        "budget_chars": 200,
        "machine": report.machine_info(),
        "started_utc": "now",
        "elapsed_s": 1.0,
        "corpora": [section],
    }
    page = report.render_markdown(results, plot=tmp_path / "plot.png")
    assert "| **codeweaver** | yes |" in page
    assert "| lines | no |" in page
    assert "### python" in page
    assert "### go" in page
    assert "![throughput per peer](plot.png)" in page
    assert "| test_peers:Raising | python | ValueError | 1 | pkg/bad.py: bad input |" in page
    assert "unavailable: ConnectionError: needs the network" in page
    verdict = report.verdict(section)
    assert any(line.startswith("Lossless") for line in verdict)
    assert any("Budget: no codeweaver chunk is over the budget" in line for line in verdict)


@pytest.mark.parametrize("name", list(PEERS))
def test_every_adapter_chunks_real_python(name: str) -> None:
    cls = load_peer(name)
    reason = cls.missing()
    if reason is not None:
        pytest.skip(reason)
    if cls.batch:
        pytest.skip("a batch peer (covered by the harness run)")
    peer = cls(300)
    source = PY * 3
    chunks = peer.chunk(source, source.encode(), "python", "a.py")
    if not cls.produces_chunks:
        assert chunks == []
        return
    assert chunks
    assert all(isinstance(c, str) for c in chunks)
    assert "".join(c.strip() for c in chunks).count("def small") == 3


def test_plot_is_written_as_png(corpus: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib comes with the bench extra")
    from benchmarks.__main__ import run_corpus

    section = run_corpus(
        str(corpus),
        budget=200,
        peers=["lines", "parse-only"],
        languages=None,
        max_files=None,
        file_timeout=30,
        peer_timeout=120,
    )
    out = tmp_path / "throughput.png"
    report.write_plot({"budget_chars": 200, "corpora": [section]}, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
