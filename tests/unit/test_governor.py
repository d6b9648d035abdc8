"""ChunkGovernor: budgets in tokens or characters, model limits, and surviving cloudpickle."""

from __future__ import annotations

import pickle

import cloudpickle
import pytest

from codeweaver.config.chunker import DEFAULT_MAX_CHUNK_TOKENS, ChunkerSettings
from codeweaver.engine.chunker.governor import ChunkGovernor


def test_default_budget_is_512_tokens_estimated_as_characters() -> None:
    gov = ChunkGovernor()
    assert (gov.unit, gov.budget) == ("tokens", DEFAULT_MAX_CHUNK_TOKENS)
    assert gov.char_budget == 512 * 3
    assert gov.fits("x" * 1536) and not gov.fits("x" * 1537)


def test_character_budget() -> None:
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=100))
    assert (gov.unit, gov.limit(), gov.size("é" * 10)) == ("chars", 100, 10)


def test_custom_token_counter_is_called() -> None:
    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=8), token_counter=lambda s: len(s.split()))
    assert gov.char_budget is None
    assert gov.fits("a b c d e f g h") and not gov.fits("a b c d e f g h i")


def test_from_model_limits_keeps_a_margin_and_room_for_the_header() -> None:
    gov = ChunkGovernor.from_model_limits(512, safety_margin=0.1, header_tokens=32)
    assert gov.budget == int(512 * 0.9) - 32
    with pytest.raises(ValueError, match="positive"):
        ChunkGovernor.from_model_limits(0)


def test_both_budgets_is_an_error() -> None:
    with pytest.raises(ValueError, match="not both"):
        ChunkerSettings(max_chunk_tokens=10, max_chunk_chars=100)


def test_survives_cloudpickle_with_a_lambda_counter() -> None:
    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=9), token_counter=lambda s: len(s) // 2)
    back = pickle.loads(cloudpickle.dumps(gov))
    assert back.size("abcdef") == 3
    assert back.fingerprint() == gov.fingerprint()
    assert back.settings == gov.settings


def test_fingerprint_changes_with_what_changes_boundaries() -> None:
    base = ChunkGovernor(ChunkerSettings(max_chunk_chars=100)).fingerprint()
    assert ChunkGovernor(ChunkerSettings(max_chunk_chars=101)).fingerprint() != base
    assert (
        ChunkGovernor(ChunkerSettings(max_chunk_chars=100, packing="greedy")).fingerprint() != base
    )
    assert (
        ChunkGovernor(ChunkerSettings(max_chunk_chars=100, min_chunk_chars=0)).fingerprint() != base
    )
    # Concurrency does not change chunks, so it does not change the fingerprint.
    settings = ChunkerSettings(max_chunk_chars=100, concurrency={"executor": "thread"})  # type: ignore[arg-type]
    assert ChunkGovernor(settings).fingerprint() == base


def test_fingerprint_names_the_chunker_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new chunker (other boundaries for the same input) re-chunks an existing index."""
    from codeweaver.engine.chunker import governor

    base = ChunkGovernor(ChunkerSettings(max_chunk_chars=100)).fingerprint()
    assert f"chunker={governor.CHUNKER_VERSION};" in base
    monkeypatch.setattr(governor, "CHUNKER_VERSION", governor.CHUNKER_VERSION + 1)
    assert ChunkGovernor(ChunkerSettings(max_chunk_chars=100)).fingerprint() != base


def test_keyword_overrides() -> None:
    gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=100), max_chunk_chars=200)
    assert gov.budget == 200


def test_the_counter_is_asked_for_its_overhead_once_per_governor_not_per_file() -> None:
    from codeweaver.engine.chunker.file_chunker import chunk_text

    asked: list[str] = []

    def counter(text: str) -> int:
        asked.append(text)
        return 2 + len(text.split())  # [CLS] and [SEP], then a word a token

    g = ChunkGovernor(ChunkerSettings(max_chunk_tokens=40), token_counter=counter)
    for i in range(5):
        source = "".join(f"def f{i}_{k}(x):\n    return x + {k}\n\n" for k in range(30))
        chunks = chunk_text(source, "python", g)
        assert all(counter(c.content) <= 40 for c in chunks)
    assert asked.count("") == 1
    assert g.counter_overhead() == 2


def test_a_counter_that_cannot_size_an_empty_text_has_no_overhead() -> None:
    def counter(text: str) -> int:
        if not text:
            raise ValueError("nothing to count")
        return len(text.split())

    g = ChunkGovernor(ChunkerSettings(max_chunk_tokens=40), token_counter=counter)
    assert g.counter_overhead() == 0


def test_a_counter_that_fails_on_code_is_named_in_the_error() -> None:
    from codeweaver.core.errors import ConfigError
    from codeweaver.engine.chunker.guards import check_token_counter

    def picky_counter(text: str) -> int:
        raise RuntimeError("no tokenizer here")

    g = ChunkGovernor(ChunkerSettings(max_chunk_tokens=40), token_counter=picky_counter)
    with pytest.raises(ConfigError, match="picky_counter") as caught:
        check_token_counter(g)
    assert "no tokenizer here" in str(caught.value)
    assert g.counter_name in g.fingerprint()
