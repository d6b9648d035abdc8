"""The README's claims about default behaviour hold (the first thing a new user reads)."""

from __future__ import annotations

from pathlib import Path

from codeweaver import ChunkerSettings, ChunkGovernor, chunk_text

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SOURCE = "import os\nimport sys\n\n\ndef a():\n    return 1\n\n\ndef b():\n    return 2\n"


def test_the_intro_describes_the_default_packing() -> None:
    intro = README.split("```", 1)[0]
    # By default every definition stays apart, however small; the imports merge together...
    assert [c.symbol for c in chunk_text(SOURCE, "python", ChunkGovernor())] == [
        "",
        "def a",
        "def b",
    ]
    assert "small definitions stay apart" in intro and "imports" in intro
    # ...and only "greedy" packs small neighbours, as the intro says.
    greedy = ChunkGovernor(ChunkerSettings(packing="greedy"))
    assert len(chunk_text(SOURCE, "python", greedy)) == 1
    assert 'packing = "greedy"' in intro
    assert "small neighbours merged" not in intro
