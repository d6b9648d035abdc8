"""benchmarks/bench_instructions.py under a real Valgrind: the instruction ratios it prints are
what the peers cost against the parse floor (a peer that parses every file twice costs twice)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

# benchmarks/ is not an installed package: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import bench_instructions

FIXTURES = Path(__file__).parent.parent / "fixtures" / "boundaries"

# A peer of our own, imported by the worker under valgrind through PYTHONPATH.
_DOUBLE_PARSE = """
from benchmarks.peers import Peer
from tree_sitter_language_pack import get_parser


class DoubleParse(Peer):
    name = "double-parse"
    description = "parses every file twice"
    ast_based = True
    wants_text = False
    produces_chunks = False

    def chunk(self, text, data, language, path):
        parser = get_parser(language)
        parser.parse(data)
        parser.parse(data)
        return []


class FailsOnGo(Peer):
    name = "fails-on-go"
    description = "parses Python and Go once; fails on Go after the warm-up"
    languages = frozenset({"python", "go"})
    ast_based = True
    wants_text = False
    produces_chunks = False

    def __init__(self, budget_chars):
        super().__init__(budget_chars)
        self.seen = set()

    def chunk(self, text, data, language, path):
        get_parser(language).parse(data)
        if language == "go" and path in self.seen:
            raise ValueError("no Go today")
        self.seen.add(path)
        return []
"""


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_ratios_against_the_parse_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("serving.py", "json_encoder.go", "Mapper.java"):
        (corpus / name).write_bytes((FIXTURES / name).read_bytes())
    (tmp_path / "double_parse_peer.py").write_text(_DOUBLE_PARSE)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # for the workers under valgrind
    monkeypatch.syspath_prepend(str(tmp_path))  # and for this process, which loads each peer
    out = tmp_path / "out.json"
    code = bench_instructions.main(
        [
            "--corpus",
            str(corpus),
            "--languages",
            "python",
            "go",
            "java",
            "--peers",
            "codeweaver",
            "double_parse_peer:DoubleParse",
            "double_parse_peer:FailsOnGo",
            "codeweaver-process",
            "--budget-chars",
            "600",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert result["files"] == 3
    work = result["instructions"]
    ratios = {name: by["all"] for name, by in result["ratio_to_parse"].items()}
    assert ratios["parse-only"] == 1.0
    assert work["parse-only"]["all"] > 1_000_000  # three real parses, not an empty difference
    # Parsing twice costs twice the parse (the set-up run takes the warm-up parses away).
    assert 1.85 < ratios["double_parse_peer:DoubleParse"] < 2.15
    # codeweaver parses and then chunks: more than the floor, far less than a second parse.
    assert 1.0 < ratios["codeweaver"] < 1.85
    # A peer of two languages is held against the parse of those two, and its failures show.
    fails = "double_parse_peer:FailsOnGo"
    assert result["languages"][fails] == ["go", "python"]
    assert 0.95 < ratios[fails] < 1.05
    assert result["failed"][fails]["files"] == 2
    assert result["failed"][fails]["failed"] == 1
    assert "no Go today" in result["failed"][fails]["first_error"]
    assert result["failed"]["codeweaver"] == {"files": 3, "failed": 0, "first_error": ""}
    assert "codeweaver-process" not in ratios  # a batch peer is left to the page


def test_without_valgrind_it_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no valgrind on this PATH
    assert bench_instructions.main(["--corpus", str(tmp_path)]) == 2
    assert "valgrind is not installed" in capsys.readouterr().err
