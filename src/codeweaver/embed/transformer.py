"""``TransformerEmbedder``: any sentence-transformers model, from the hub or a local folder."""

from __future__ import annotations

from typing import Any

import numpy as np

from codeweaver.config.embedding import DEFAULT_MODELS
from codeweaver.core.errors import EmbeddingError
from codeweaver.embed.base import Embedder, describe_load_error, import_extra, model_source
from codeweaver.embed.tokens import HFTokenCounter

__all__ = ["TransformerEmbedder"]

DEFAULT_BATCH = 32


class TransformerEmbedder(Embedder):
    """A ``SentenceTransformer`` model on ``device`` (default: CPU).

    ``max_input_tokens`` defaults to the model's ``max_seq_length`` (inputs longer than that would
    be cut by the model); setting it changes the model's ``max_seq_length``.
    ``model_object`` lets a caller hand over a model it already loaded (``model`` then only
    names it).
    """

    provider = "sentence-transformers"

    def __init__(
        self,
        model: str = DEFAULT_MODELS["sentence-transformers"],
        *,
        device: str | None = None,
        batch_size: int | None = None,
        max_input_tokens: int | None = None,
        trust_remote_code: bool = False,
        query_prefix: str = "",
        document_prefix: str = "",
        model_object: Any = None,
    ) -> None:
        source = model_source(model)
        st = model_object if model_object is not None else _load(source, device, trust_remote_code)
        if max_input_tokens is not None:
            st.max_seq_length = max_input_tokens
        limit = int(st.max_seq_length or 512)
        backend = getattr(st.tokenizer, "backend_tokenizer", None)
        counter = HFTokenCounter(backend, source) if backend is not None else None
        super().__init__(
            source,
            batch_size=batch_size or DEFAULT_BATCH,
            max_input_tokens=limit,
            token_counter=counter,
            special_tokens=counter.special_tokens() if counter is not None else 2,
            query_prefix=query_prefix,
            document_prefix=document_prefix,
        )
        self._model: Any = st
        get_dimension = getattr(st, "get_embedding_dimension", None)  # the name since ST 6
        if get_dimension is None:
            get_dimension = st.get_sentence_embedding_dimension
        self._dimension = int(get_dimension())

    @property
    def dimension(self) -> int:
        return self._dimension

    def _embed(self, texts: list[str]) -> np.ndarray[Any, Any]:
        try:
            out: np.ndarray[Any, Any] = self._model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        except MemoryError:
            raise EmbeddingError(
                f"out of memory embedding {len(texts)} texts with {self.model}; "
                "lower [embedding] batch_size",
                transient=True,
            ) from None
        except RuntimeError as exc:  # torch reports out-of-memory and device errors this way
            raise EmbeddingError(
                f"{self.model} failed on {len(texts)} texts: {describe_load_error(exc)}",
                transient=True,
            ) from None
        return out


def _load(source: str, device: str | None, trust_remote_code: bool) -> Any:
    st = import_extra(
        "sentence_transformers",
        "sentence-transformers models need it installed: pip install torch==2.13.0 "
        "sentence-transformers (see the README: the CPU build of torch first)",
    )
    _quiet_transformers()
    try:
        return st.SentenceTransformer(
            source, device=device or "cpu", trust_remote_code=trust_remote_code
        )
    except Exception as exc:  # hub errors, missing files, bad configs: all mean "cannot load"
        raise EmbeddingError(
            f"cannot load the sentence-transformers model {source!r}: {describe_load_error(exc)}",
            transient=True,
        ) from None


def _quiet_transformers() -> None:
    """No weight-loading progress bars or advisory warnings on the user's terminal."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    except ImportError:  # pragma: no cover - sentence-transformers always brings transformers
        pass
