"""benchmarks/bench_index.py runs end to end on a small tree (it had broken unnoticed when
keyword search moved out of the store)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

# benchmarks/ is not an installed package: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import bench_index


def _tree(tmp_path: Path, files: int) -> Path:
    root = tmp_path / "tree"
    (root / "pkg").mkdir(parents=True)
    for i in range(files):
        (root / "pkg" / f"mod{i}.py").write_text(
            f"def parse_config_{i}(path):\n    return open(path).read()\n", encoding="utf-8"
        )
    return root


def test_full_then_unchanged_index_and_searches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, 6)
    out = tmp_path / "numbers.json"
    assert bench_index.main(["--root", str(root), "--json", str(out)]) == 0
    numbers = json.loads(out.read_text())
    assert numbers["full"]["new"] == 6 and numbers["unchanged"]["unchanged"] == 6
    assert set(numbers["search_ms"]) == set(bench_index.QUERIES)
    printed = capsys.readouterr().out
    assert "index holds 6 files" in printed and "search 'parse config file'" in printed
    assert not (root / ".codeweaver").exists()  # the tree itself is never written to


def test_with_a_static_model_it_splits_the_cpu_between_this_process_and_its_workers(
    tmp_path: Path, static_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, 40)
    out = tmp_path / "numbers.json"
    argv = ["--root", str(root), "--json", str(out), "--executor", "process", "--workers", "2"]
    assert bench_index.main([*argv, "--embed-model", str(static_model_path)]) == 0
    numbers = json.loads(out.read_text())
    assert numbers["full"]["embedding"]["embedded"] == 40
    assert numbers["full_cpu_own"] > 0 and numbers["full_cpu_workers"] > 0  # two workers ran
    assert "its chunk workers" in capsys.readouterr().out
