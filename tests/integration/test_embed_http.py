"""The OpenAI-compatible embedder against a real HTTP server on 127.0.0.1 (no mocked client):
retries on 429, 500, timeouts and dropped connections; requests in flight capped; batches cut by
the token limit; refused inputs found and recorded by the index, never losing a file."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codeweaver.config import load_settings
from codeweaver.core.errors import EmbeddingError
from codeweaver.embed.remote import OpenAIEmbedder
from codeweaver.index import index_project
from codeweaver.index.store import IndexStore, default_db_path
from codeweaver.index.vectors import count_pending, embedding_status

sys.path.insert(0, str(Path(__file__).parent))
from _embed_server import EmbeddingServer

pytest.importorskip("httpx", reason="needs the embed extra")

TEXTS = [f"def helper_{i}(value):\n    return value * {i}\n" for i in range(10)]


@pytest.fixture(scope="module")
def server(minilm: Any) -> Iterator[EmbeddingServer]:
    with EmbeddingServer(minilm) as srv:
        yield srv


@pytest.fixture
def fresh(server: EmbeddingServer) -> EmbeddingServer:
    deadline = time.monotonic() + 10
    while server.in_flight and time.monotonic() < deadline:  # a slow answer a test gave up on
        time.sleep(0.02)
    server.script.clear()
    server.requests.clear()
    server.answered.clear()
    server.refuse_marker = None
    server.fail_all_with = None
    server.delay = 0.0
    server.max_in_flight = 0
    return server


def _client(server: EmbeddingServer, **kw: Any) -> OpenAIEmbedder:
    opts: dict[str, Any] = {
        "url": server.url,
        "api_key": "test-key",
        "max_retries": 3,
        "retry_backoff_seconds": 0.01,
        "timeout_seconds": 1.0,
        "max_input_tokens": 256,
    }
    opts.update(kw)
    return OpenAIEmbedder("minilm-test", **opts)


def test_answers_match_the_local_model(fresh: EmbeddingServer, minilm: Any) -> None:
    with _client(fresh, inputs_per_request=4, max_in_flight=2) as emb:
        out = emb.embed(TEXTS)
        assert emb.dimension == 384 and emb.name == "openai:minilm-test"
    np.testing.assert_allclose(out, minilm.embed(TEXTS), atol=1e-5)
    assert [len(r) for r in fresh.requests] == [4, 4, 2]


def test_429_500_timeout_and_dropped_connection_are_retried(
    fresh: EmbeddingServer, minilm: Any
) -> None:
    fresh.slow_seconds = 1.5  # past the client's 1 s limit
    fresh.script.extend(["429", "500", "slow", "drop"])
    with _client(fresh, max_retries=4, inputs_per_request=64) as emb:
        out = emb.embed(TEXTS[:3])
        assert emb.requests_sent == 5
    np.testing.assert_allclose(out, minilm.embed(TEXTS[:3]), atol=1e-5)


def test_an_endpoint_down_after_every_retry_is_a_transient_error(fresh: EmbeddingServer) -> None:
    fresh.fail_all_with = 503
    with _client(fresh, max_retries=2) as emb, pytest.raises(EmbeddingError) as info:
        emb.embed(TEXTS[:2])
    assert info.value.transient and "HTTP 503" in str(info.value)
    assert len(fresh.requests) == 3


def test_a_malformed_answer_is_retried(fresh: EmbeddingServer) -> None:
    fresh.script.append("bad-json")
    with _client(fresh) as emb:
        assert emb.embed(TEXTS[:2]).shape == (2, 384)
    assert len(fresh.requests) == 2


def test_a_refused_input_fails_at_once_without_retries(fresh: EmbeddingServer) -> None:
    fresh.refuse_marker = "POISON"
    with _client(fresh) as emb, pytest.raises(EmbeddingError) as info:
        emb.embed(["fine", "POISON here"])
    assert not info.value.transient and "HTTP 400" in str(info.value)
    assert len(fresh.requests) == 1


def test_requests_in_flight_are_capped(fresh: EmbeddingServer) -> None:
    fresh.delay = 0.15
    with _client(fresh, inputs_per_request=1, max_in_flight=3) as emb:
        assert emb.batch_size == 3
        emb.embed(TEXTS * 2)  # 20 requests of one input, at most 3 at a time
    assert len(fresh.requests) == 20
    assert fresh.max_in_flight == 3


def test_requests_are_cut_by_the_token_limit(fresh: EmbeddingServer, minilm_path: Path) -> None:
    with _client(fresh, tokenizer=str(minilm_path), max_batch_tokens=60) as emb:
        per_text = [emb.count_tokens(t) + 2 for t in TEXTS]
        emb.embed(TEXTS)
    assert len(fresh.requests) > 1
    for batch in fresh.requests:
        assert sum(per_text[TEXTS.index(t)] for t in batch) <= 60


def test_missing_openai_key_is_a_one_line_error(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        OpenAIEmbedder("text-embedding-3-small")


def test_index_records_a_refused_chunk_keeps_its_file_and_retries_it(
    fresh: EmbeddingServer, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "good.py").write_text("".join(TEXTS))
    (repo / "bad.py").write_text("def poisoned():\n    return 'POISON'\n")
    fresh.refuse_marker = "POISON"
    settings = load_settings(repo, embedding={"provider": "none"})
    with _client(fresh, inputs_per_request=8, max_in_flight=1) as emb:
        report = index_project(repo, settings, embedder=emb)
    e = report.embedding
    assert report.failed == 0 and report.new == 2  # both files are in the index
    assert e.failed == 1 and e.failures[0].path == "bad.py" and "HTTP 400" in e.failures[0].error
    assert e.embedded == report.chunks - 1 and e.pending == 1 and not report.ok
    with IndexStore.open(default_db_path(repo), create=False) as store:
        status = embedding_status(store)
        assert status["pending"] == 1 and status["failed"] == 1
        assert "HTTP 400" in status["last_error"]

    fresh.refuse_marker = None  # the endpoint is fixed: the next run embeds just that chunk
    with _client(fresh) as emb:
        again = index_project(repo, settings, embedder=emb)
    assert again.unchanged == 2 and again.embedding.embedded == 1 and again.ok
    with IndexStore.open(default_db_path(repo), create=False) as store:
        assert count_pending(store, "openai:minilm-test") == 0
        assert embedding_status(store)["failed"] == 0


def test_index_survives_an_endpoint_that_is_down(fresh: EmbeddingServer, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for i in range(4):
        (repo / f"m{i}.py").write_text("".join(TEXTS))
    fresh.fail_all_with = 500
    settings = load_settings(repo, embedding={"provider": "none"})
    with _client(fresh, max_retries=1, inputs_per_request=2, max_in_flight=1) as emb:
        report = index_project(repo, settings, embedder=emb)
    e = report.embedding
    assert report.new == 4 and report.failed == 0 and report.total_chunks > 0
    assert e.embedded == 0 and e.notice and "stopped" in e.notice
    assert e.pending == report.total_chunks
    assert len(fresh.requests) == 3 * 2  # three batches, each tried twice, then it gave up
