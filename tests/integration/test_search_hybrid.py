"""Hybrid search on a real index embedded with the real MiniLM model (in-process)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from codeweaver.config import load_settings
from codeweaver.index import IndexStore, index_project
from codeweaver.search import search
from codeweaver.search.fusion import FusionParams
from codeweaver.search.hybrid import HybridParams, hybrid_search

FILES = {
    "conversions.py": """
        def celsius_to_fahrenheit(degrees):
            return degrees * 9 / 5 + 32
        """,
    "mail.py": """
        def send_email(address, body):
            smtp = connect_smtp_server()
            smtp.deliver(address, body)
        """,
    "stack.py": """
        class HandlerStack:
            def push(self, handler):
                self.handlers.append(handler)
        """,
    "uses.py": """
        def wire():
            stack = HandlerStack()
            stack.push(HandlerStack.default())
            return HandlerStack.wrap(stack)
        """,
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, minilm: Any) -> tuple[Path, Any]:
    root = tmp_path_factory.mktemp("hybrid")
    for rel, text in FILES.items():
        (root / rel).write_text(textwrap.dedent(text))
    settings = load_settings(root, chunker={"concurrency": {"executor": "serial"}})
    report = index_project(root, settings, embedder=minilm)
    assert report.ok and report.embedding.embedded >= len(FILES)
    return root, minilm


def test_hybrid_finds_by_meaning_and_keeps_exact_names_first(indexed: tuple[Path, Any]) -> None:
    root, minilm = indexed
    with IndexStore.open(root / ".codeweaver" / "index.db", create=False) as store:
        by_meaning = hybrid_search(store, "convert temperature units", minilm, limit=3)
        assert by_meaning[0].path == "conversions.py"
        assert by_meaning[0].scores["keyword"] == 0 and by_meaning[0].scores["semantic"] > 0
        assert set(by_meaning[0].scores) == {"keyword", "semantic", "hybrid"}
        by_name = hybrid_search(store, "HandlerStack", minilm, limit=3)
        assert by_name[0].path == "stack.py"  # the definition, above the file that uses it
        assert by_name[0].score == by_name[0].scores["hybrid"]


def test_semantic_weight_zero_is_keyword_order(indexed: tuple[Path, Any]) -> None:
    root, minilm = indexed
    with IndexStore.open(root / ".codeweaver" / "index.db", create=False) as store:
        keyword = [r.chunk_id for r in search(store, "push handler", mode="keyword")]
        hybrid = hybrid_search(
            store, "push handler", minilm, params=HybridParams(semantic_weight=0.0)
        )
        assert [r.chunk_id for r in hybrid][: len(keyword)] == keyword


def test_reciprocal_rank_fusion_is_still_available(indexed: tuple[Path, Any]) -> None:
    root, minilm = indexed
    with IndexStore.open(root / ".codeweaver" / "index.db", create=False) as store:
        fused = search(
            store, "email delivery", mode="hybrid", embedder=minilm, fusion=FusionParams()
        )
        assert fused[0].path == "mail.py" and "hybrid" in fused[0].scores


def test_an_identifier_query_is_ranked_by_its_keywords(indexed: tuple[Path, Any]) -> None:
    root, minilm = indexed
    params = HybridParams(semantic_weight=0.9, symbol_weight=0.0)
    with IndexStore.open(root / ".codeweaver" / "index.db", create=False) as store:
        keyword = search(store, "HandlerStack", mode="keyword")
        hybrid = hybrid_search(store, "HandlerStack", minilm, params=params)
        # one identifier: meaning brings candidates but no share of the score
        assert [r.chunk_id for r in hybrid][: len(keyword)] == [r.chunk_id for r in keyword]
        assert [r.score for r in hybrid][: len(keyword)] == pytest.approx(
            [r.score for r in keyword]
        )
        # words: meaning weighs as configured
        phrase = hybrid_search(store, "push a handler on the stack", minilm, params=params)
        plain = search(store, "push a handler on the stack", mode="keyword")
        by_id = {r.chunk_id: r.score for r in plain}
        assert any(r.score != pytest.approx(by_id.get(r.chunk_id, 0.0)) for r in phrase)


def test_auto_with_a_model_the_index_has_no_vectors_of_says_it_went_keyword_only(
    tmp_path: Path, minilm: Any, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "stack.py").write_text(textwrap.dedent(FILES["stack.py"]))
    settings = load_settings(tmp_path, chunker={"concurrency": {"executor": "serial"}})
    serial = {"concurrency": {"executor": "serial"}}
    index_project(tmp_path, load_settings(tmp_path, chunker=serial, embedding={"provider": "none"}))
    with (
        IndexStore.open(tmp_path / ".codeweaver" / "index.db", create=False) as store,
        caplog.at_level("WARNING", logger="codeweaver.search.api"),
    ):
        results = search(store, "HandlerStack", mode="auto", embedder=minilm, settings=settings)
    assert results[0].path == "stack.py" and set(results[0].scores) == {"keyword"}
    assert "keyword search only: the index holds no vectors of" in caplog.text
