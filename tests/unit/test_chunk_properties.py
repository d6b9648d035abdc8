"""The chunk contract as properties: over generated inputs in 14 languages and the plain-text
kinds, and over real files from the interpreter's standard library."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

from _contract import assert_contract
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeweaver.config.chunker import ChunkerSettings
from codeweaver.core.languages import language_for_path
from codeweaver.engine.chunker.file_chunker import chunk_bytes
from codeweaver.engine.chunker.governor import ChunkGovernor

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures" / "langs").iterdir())
SOURCES = {p.name: (language_for_path(p), p.read_text(encoding="utf-8")) for p in FIXTURES}
LANGUAGES = sorted({lang for lang, _ in SOURCES.values() if lang} | {"markdown", "text", "rst"})

# Text that stresses offsets: multi-byte characters, combining marks, emoji, CJK, NUL-free controls.
ODD_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)


@st.composite
def mangled_source(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real fixture with lines dropped, duplicated, shuffled and odd text spliced in, parsed as
    any of the languages (a grammar meeting another language's code is an ERROR-node storm)."""
    name = draw(st.sampled_from(sorted(SOURCES)))
    own_language, text = SOURCES[name]
    lines = text.splitlines(keepends=True)
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    for _ in range(draw(st.integers(0, 8))):
        op = rng.randrange(4)
        i = rng.randrange(len(lines))
        if op == 0 and len(lines) > 1:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 2:
            lines.insert(i, draw(ODD_TEXT) + "\n")
        else:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
    out = "".join(lines)
    if draw(st.booleans()):
        out = out.replace("\n", "\r\n")
    if draw(st.booleans()):
        out = "\ufeff" + out
    language = draw(st.sampled_from([own_language or "text", *LANGUAGES]))
    data = out.encode("utf-8")
    if draw(st.booleans()) and data:
        # Corrupt a few bytes into invalid UTF-8 (never NUL: that makes it binary).
        cut = bytearray(data)
        for _ in range(3):
            cut[rng.randrange(len(cut))] = rng.choice([0x80, 0xC3, 0xFF, 0xE2])
        data = bytes(cut)
    return language, data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=mangled_source(), budget=st.integers(16, 2000))
def test_contract_on_generated_sources(source: tuple[str, bytes], budget: int) -> None:
    language, data = source
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=budget))
    assert_contract(data, chunk_bytes(data, language, gov), budget)


@settings(max_examples=150, deadline=None)
@given(
    source=mangled_source(),
    budget=st.integers(8, 300),
    packing=st.sampled_from(["definition", "greedy"]),
)
def test_contract_with_a_token_counter_and_both_packings(
    source: tuple[str, bytes], budget: int, packing: str
) -> None:
    def tokens(text: str) -> int:
        return len(text.split()) + text.count("(")

    language, data = source
    gov = ChunkGovernor(
        ChunkerSettings(max_chunk_tokens=budget, packing=packing),  # type: ignore[arg-type]
        token_counter=tokens,
    )
    assert_contract(data, chunk_bytes(data, language, gov), budget, size=tokens)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(max_size=3000), budget=st.integers(16, 500), language=st.sampled_from(LANGUAGES)
)
def test_contract_on_arbitrary_text(text: str, budget: int, language: str) -> None:
    data = text.replace("\x00", "").encode("utf-8", "surrogatepass")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        data = text.encode("utf-8", "replace").replace(b"\x00", b"")
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=budget))
    assert_contract(data, chunk_bytes(data, language, gov), budget)


def _stdlib_sample(n: int) -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py"))
    files += sorted(p for p in (root / "json").glob("*.py"))
    files += sorted(p for p in (root / "email").glob("*.py"))
    rng = random.Random(7)
    return rng.sample(files, min(n, len(files)))


def test_contract_on_real_standard_library_files() -> None:
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=1500))
    files = _stdlib_sample(120)
    assert len(files) >= 100
    for path in files:
        data = path.read_bytes()
        chunks = chunk_bytes(data, "python", gov, path=path.name)
        assert_contract(data, chunks, 1500)
