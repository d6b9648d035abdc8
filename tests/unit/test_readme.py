"""The README's claims about default behaviour hold (the first thing a new user reads)."""

from __future__ import annotations

from pathlib import Path

from codeweaver import ChunkerSettings, ChunkGovernor, chunk_text

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SOURCE = (
    "import os\nimport sys\nimport json\nimport typing\nfrom pathlib import Path\n\n\n"
    'def area(width, height):\n    """The area of a rectangle."""\n    return width * height\n\n\n'
    'def perimeter(width, height):\n    """The perimeter of a rectangle."""\n'
    "    return 2 * (width + height)\n"
)
CRUMBS = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"


def test_the_intro_describes_the_default_packing() -> None:
    intro = README.split("```", 1)[0]
    # By default every definition of ordinary size stays apart; the imports merge together...
    assert [c.symbol for c in chunk_text(SOURCE, "python", ChunkGovernor())] == [
        "",
        "def area",
        "def perimeter",
    ]
    assert "definitions of ordinary size stay apart" in intro and "imports" in intro
    # ...crumbs (under 20 non-whitespace characters) share a chunk...
    assert len(chunk_text(CRUMBS, "python", ChunkGovernor())) == 1
    assert "crumbs under 20 non-whitespace characters" in intro
    # ...and only "greedy" packs ordinary neighbours, as the intro says.
    greedy = ChunkGovernor(ChunkerSettings(packing="greedy"))
    assert len(chunk_text(SOURCE, "python", greedy)) == 1
    assert 'packing = "greedy"' in intro
    assert "small neighbours merged" not in intro
