"""The search benchmark end to end on a tiny benchmark laid out like semble's.

It indexes a real repository with the real pipeline, runs the queries through the real search and
scores them as the benchmark's README says; what it prints and writes is checked against rankings
worked out by hand.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # benchmarks/ is not an installed package

from benchmarks.search_bench import Target, by_file, score_ranking  # noqa: E402

PARSER = '''\
def parse_config(path):
    """Read the settings file at path and return a dict of its keys."""
    with open(path) as fh:
        return dict(line.split("=", 1) for line in fh if "=" in line)
'''

NETWORK = '''\
import socket


def open_connection(host, port):
    """Open a TCP connection to host:port and return the socket."""
    return socket.create_connection((host, port))


def close_connection(sock):
    """Close a socket opened by open_connection."""
    sock.close()
'''


def test_scoring_follows_the_benchmark_readme() -> None:
    a = ("pkg/a.py", 1, 10)
    b = ("pkg/b.py", 5, 9)
    # a target hit at rank 2 of 1 target: 1/log2(3)
    ndcg, recall = score_ranking([a, b], [Target("pkg/b.py")])
    assert ndcg == pytest.approx(1 / math.log2(3))
    assert recall == 1.0
    # lines must overlap when the target has them; the path matches by suffix at a segment
    assert score_ranking([b], [Target("b.py", 1, 4)]) == (0.0, 0.0)
    assert score_ranking([b], [Target("b.py", 9, 20)]) == (1.0, 1.0)
    assert score_ranking([("xb.py", 1, 2)], [Target("b.py")]) == (0.0, 0.0)
    # two targets, one found at rank 1: ideal is two hits on top
    ndcg, recall = score_ranking([a], [Target("pkg/a.py"), Target("pkg/c.py")])
    assert ndcg == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert recall == 0.5
    # file level: one entry per file, in order
    assert [p for p, _s, _e in by_file([a, b, ("pkg/a.py", 20, 30)])] == ["pkg/a.py", "pkg/b.py"]


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    (data / "annotations").mkdir(parents=True)
    repos = tmp_path / "repos"
    src = repos / "tiny" / "tiny"
    src.mkdir(parents=True)
    (src / "config.py").write_text(PARSER)
    (src / "network.py").write_text(NETWORK)
    (data / "repos.json").write_text(
        json.dumps([{"name": "tiny", "language": "python", "benchmark_root": "tiny"}])
    )
    (data / "published_ndcg10.json").write_text(
        json.dumps({"tiny": {"semble": 0.5, "coderankembed_hybrid": 0.6, "bm25": 0.4}})
    )
    queries = [
        {"query": "parse_config", "relevant": ["config.py"], "secondary": [], "category": "symbol"},
        {
            "query": "open a TCP connection",
            "relevant": [{"path": "network.py", "start_line": 4, "end_line": 6}],
            "secondary": [],
            "category": "semantic",
        },
        {
            "query": "zzzunknownword",
            "relevant": ["config.py"],
            "secondary": [],
            "category": "symbol",
        },
    ]
    (data / "annotations" / "tiny.json").write_text(json.dumps(queries))
    return data, repos


def _run(data: Path, repos: Path, work: Path, out: Path, *extra: str) -> str:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "search",
            "--data",
            str(data),
            "--repos-dir",
            str(repos),
            "--work",
            str(work),
            "--configs",
            "keyword",
            "--json",
            str(out),
            "--no-write",
            *extra,
        ],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_benchmark_indexes_queries_and_scores_a_repository(tmp_path: Path) -> None:
    data, repos = _layout(tmp_path)
    work = tmp_path / "work"
    page = _run(data, repos, work, tmp_path / "first.json")
    first = json.loads((tmp_path / "first.json").read_text())
    (row,) = first["configs"]
    (repo,) = row["repos"]
    assert repo["queries"] == 3 and repo["files"] == 2 and repo["chunked_files"] == 2
    # the symbol and the described function are found first; the unknown word finds nothing
    assert repo["chunk_ndcg"] == pytest.approx(2 / 3)
    assert repo["by_category"] == {"symbol": [1.0, 0.0], "semantic": [1.0]}
    assert row["summary"]["categories"] == {"semantic": 1.0, "symbol": 0.5}
    assert "2 files chunked" in page and "vectors" not in page  # a keyword index has none
    assert "| published: semble | 0.500 |" in page
    assert (work / "default" / "tiny" / "index.db").is_file()
    assert not list((repos / "tiny").rglob("*.db"))  # the repository is left alone

    # an index that is current is reused, and the page says so rather than showing 0 s
    page = _run(data, repos, work, tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["configs"][0]["repos"][0]["chunked_files"] == 0
    assert "up to date" in page
    assert (
        again["configs"][0]["summary"]["chunk_ndcg"] == first["configs"][0]["summary"]["chunk_ndcg"]
    )

    # --reindex rebuilds it
    _run(data, repos, work, tmp_path / "rebuilt.json", "--reindex")
    rebuilt = json.loads((tmp_path / "rebuilt.json").read_text())
    assert rebuilt["configs"][0]["repos"][0]["chunked_files"] == 2


def test_a_repository_missing_from_the_repos_dir_is_named_on_the_row(tmp_path: Path) -> None:
    data, repos = _layout(tmp_path)
    listed = json.loads((data / "repos.json").read_text())
    listed.append({"name": "absent", "language": "go", "benchmark_root": ""})
    (data / "repos.json").write_text(json.dumps(listed))
    page = _run(data, repos, tmp_path / "work", tmp_path / "out.json")
    assert "| keyword (1 of 2 repositories) |" in page
