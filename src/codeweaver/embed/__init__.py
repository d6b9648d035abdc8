"""Embedders: the :class:`Embedder` interface, its three providers, and model-sized budgets.

===================================  ==============================================================
``StaticEmbedder`` (model2vec)       static token vectors; thousands of chunks/s on a CPU
``TransformerEmbedder``              any sentence-transformers model (torch)
``OpenAIEmbedder``                   any OpenAI-compatible ``/v1/embeddings`` endpoint (httpx)
===================================  ==============================================================

:func:`load_embedder` builds the one the settings name; :func:`governor_for` sizes chunks for it.
The providers import their libraries (the ``embed`` extra) only when built, so importing this
package needs numpy alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codeweaver.config.embedding import EmbeddingSettings
from codeweaver.core.errors import EmbeddingError
from codeweaver.embed.base import Embedder, Vectors, normalize_rows

if TYPE_CHECKING:
    from codeweaver.embed.budget import HeaderFitter, governor_for
    from codeweaver.embed.remote import OpenAIEmbedder
    from codeweaver.embed.static import StaticEmbedder
    from codeweaver.embed.transformer import TransformerEmbedder

__all__ = [
    "Embedder",
    "EmbeddingError",
    "HeaderFitter",
    "OpenAIEmbedder",
    "StaticEmbedder",
    "TransformerEmbedder",
    "Vectors",
    "embedder_spec",
    "governor_for",
    "load_embedder",
    "normalize_rows",
]

_LAZY = {
    "HeaderFitter": "codeweaver.embed.budget",
    "governor_for": "codeweaver.embed.budget",
    "OpenAIEmbedder": "codeweaver.embed.remote",
    "StaticEmbedder": "codeweaver.embed.static",
    "TransformerEmbedder": "codeweaver.embed.transformer",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codeweaver.embed' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def load_embedder(settings: EmbeddingSettings, *, chars_per_token: float = 3.0) -> Embedder:
    """The embedder ``settings`` describe (``auto`` means the model2vec default model).

    Example:
        >>> emb = load_embedder(EmbeddingSettings(provider="model2vec"))  # doctest: +SKIP

    Raises:
        EmbeddingError: embeddings are off (``provider = "none"``), the provider's library is
            not installed, or the model cannot be loaded (``transient`` when the hub was out of
            reach).
    """
    provider = settings.resolved_provider
    model = settings.resolved_model
    if provider == "none" or model is None:
        raise EmbeddingError("embeddings are off ([embedding] provider = 'none')")
    common: dict[str, Any] = {
        "query_prefix": settings.query_prefix,
        "document_prefix": settings.document_prefix,
        "max_input_tokens": settings.max_input_tokens,
    }
    if provider == "model2vec":
        from codeweaver.embed.static import StaticEmbedder

        return StaticEmbedder(model, batch_size=settings.batch_size, **common)
    if provider == "sentence-transformers":
        from codeweaver.embed.transformer import TransformerEmbedder

        return TransformerEmbedder(
            model,
            device=settings.device,
            batch_size=settings.batch_size,
            trust_remote_code=settings.trust_remote_code,
            **common,
        )
    from codeweaver.embed.remote import OpenAIEmbedder

    return OpenAIEmbedder(
        model,
        url=settings.url,
        api_key_env=settings.api_key_env,
        dimensions=settings.dimensions,
        inputs_per_request=settings.batch_size or 64,
        max_in_flight=settings.max_in_flight,
        max_batch_tokens=settings.max_batch_tokens,
        max_retries=settings.max_retries,
        retry_backoff_seconds=settings.retry_backoff_seconds,
        timeout_seconds=settings.timeout_seconds,
        tokenizer=settings.tokenizer,
        chars_per_token=chars_per_token,
        **common,
    )


def embedder_spec(embedder: Embedder) -> dict[str, Any]:
    """The settings that rebuild an embedder giving the same vectors (what the index records, so
    ``codeweaver search`` can embed queries with the model the index was built with).

    Endpoint URLs are kept; API keys never are (only the name of their variable).
    """
    spec: dict[str, Any] = {"provider": embedder.provider, "model": embedder.model}
    if embedder.query_prefix:
        spec["query_prefix"] = embedder.query_prefix
    if embedder.document_prefix:
        spec["document_prefix"] = embedder.document_prefix
    for attr, key in (
        ("endpoint", "url"),
        ("requested_dimensions", "dimensions"),
        ("api_key_env", "api_key_env"),
    ):
        value = getattr(embedder, attr, None)
        if value is not None:
            spec[key] = value
    return spec
