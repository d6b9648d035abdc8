"""``Embedder``: the one small interface every embedding provider implements.

An embedder turns texts into unit-length float32 vectors (cosine similarity is then a dot
product) and says what the chunker must know to never have an input truncated: its input limit
in tokens, how many special tokens it adds, and a token counter that counts like its tokenizer.
"""

from __future__ import annotations

import importlib
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from codeweaver.core.errors import EmbeddingError

if TYPE_CHECKING:
    from codeweaver.engine.chunker.governor import TokenCounter

__all__ = ["Embedder", "Vectors", "describe_load_error", "normalize_rows"]

Vectors = np.ndarray[Any, np.dtype[np.float32]]
"""A C-contiguous float32 array of shape ``(n, dimension)`` (one unit-length row per text)."""


class Embedder(ABC):
    """Turns texts into vectors.

    Subclasses implement :meth:`_embed` and :attr:`dimension`, and set ``provider``. What they
    share: ``model`` (hub name, folder or endpoint model), ``batch_size`` (texts per
    :meth:`embed` call the index feeds it), ``max_input_tokens`` (the model's input limit,
    special tokens included), ``document_prefix``/``query_prefix`` (instruction models), and
    :attr:`name`, the identity the index stores vectors under (two embedders with the same name
    must give the same vectors).

    Example:
        >>> emb = StaticEmbedder("minishlab/potion-code-16M")  # doctest: +SKIP
        >>> emb.embed(["def add(a, b): return a + b"]).shape  # doctest: +SKIP
        (1, 256)
    """

    provider: ClassVar[str] = ""
    embeds_beside_chunker: ClassVar[bool] = False
    """Whether indexing should embed in the chunk workers: the embedder is local, pickles, and
    costs about what chunking does per chunk (a static model), so embedding in the indexing
    process alone would hold the run back."""

    def __init__(
        self,
        model: str,
        *,
        batch_size: int,
        max_input_tokens: int,
        token_counter: TokenCounter | None = None,
        special_tokens: int = 0,
        chars_per_token: float = 3.0,
        query_prefix: str = "",
        document_prefix: str = "",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if max_input_tokens < 1:
            raise ValueError("max_input_tokens must be positive")
        self.model = model
        self.batch_size = batch_size
        self.max_input_tokens = max_input_tokens
        self.token_counter = token_counter
        self.special_tokens = special_tokens
        self.chars_per_token = chars_per_token
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix

    # -- identity and sizes ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """``provider:model`` plus whatever else changes the vectors (the index's key)."""
        name = f"{self.provider}:{self.model}"
        if self.document_prefix:
            from codeweaver.core.chunks import content_hash

            name += f";doc-prefix={content_hash(self.document_prefix)[:8]}"
        return name

    @property
    @abstractmethod
    def dimension(self) -> int:
        """The length of every vector."""

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` without special tokens (an estimate when there is no tokenizer)."""
        if self.token_counter is not None:
            return int(self.token_counter(text))
        return math.ceil(len(text) / self.chars_per_token)

    # -- embedding -------------------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length float32 row per text, in order (``document_prefix`` prepended).

        Raises:
            EmbeddingError: the batch cannot be embedded (``transient`` says whether a retry
                later may succeed).
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prefix = self.document_prefix
        items = [prefix + t for t in texts] if prefix else list(texts)
        return self._checked(self._embed(items), len(items))

    def embed_query(self, query: str) -> Vectors:
        """The vector of one search query (``query_prefix`` prepended), shape ``(dimension,)``."""
        row: Vectors = self._checked(self._embed([self.query_prefix + query]), 1)[0]
        return row

    @abstractmethod
    def _embed(self, texts: list[str]) -> np.ndarray[Any, Any]:
        """Embed ``texts`` as given (prefixes already applied); any float array of shape (n, d)."""

    def close(self) -> None:  # noqa: B027 - optional hook, not every provider holds anything
        """Release what the embedder holds (connections, thread pools); the default does nothing."""

    def __enter__(self) -> Embedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def _checked(self, out: np.ndarray[Any, Any], n: int) -> Vectors:
        arr = np.asarray(out, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[0] != n:
            raise EmbeddingError(f"{self.name} returned shape {arr.shape} for {n} texts")
        if not np.isfinite(arr).all():
            raise EmbeddingError(f"{self.name} returned non-finite values")
        return normalize_rows(arr)


def normalize_rows(arr: np.ndarray[Any, Any]) -> Vectors:
    """``arr`` as C-contiguous float32 with each row scaled to unit length (zero rows stay zero)."""
    out = np.ascontiguousarray(arr, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(out / norms, dtype=np.float32)


def describe_load_error(exc: BaseException) -> str:
    """The first line of an error, with a hint when a model was not cached and the hub was out of
    reach (the usual cause on a machine without network)."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    blob = f"{type(exc).__name__} {exc}".lower()
    if any(s in blob for s in ("localentrynotfound", "offline", "connect", "resolve")):
        text += (
            " (not in the local cache and the hub is out of reach: download it once with"
            " network access, or point the model setting at a local folder)"
        )
    return text


def model_source(model: str) -> str:
    """What a model is loaded from: the resolved folder when ``model`` names a local one, else
    ``model`` itself (a hub name)."""
    local = Path(model).expanduser()
    return str(local.resolve()) if local.exists() else model


def import_extra(module: str, missing: str) -> ModuleType:
    """An embedding package (``model2vec``, ``sentence_transformers``), or an EmbeddingError
    saying ``missing`` (how to install it). Tokenizers' own threads are switched off first: the
    chunk workers are forked after the model loads."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return importlib.import_module(module)
    except ImportError:  # (it or what it needs: sentence-transformers without torch)
        raise EmbeddingError(missing) from None
