"""Embedding settings: which model turns chunks into vectors, and how to reach it.

A plain pydantic model nested in ``CodeWeaverSettings`` as ``embedding`` (``[embedding]`` in
``codeweaver.toml``, ``CODEWEAVER_EMBEDDING__MODEL=...`` in the environment, ``--embed-*`` flags).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_MODELS",
    "EmbeddingProvider",
    "EmbeddingSettings",
]

EmbeddingProvider = Literal["auto", "none", "model2vec", "sentence-transformers", "openai"]

DEFAULT_MODELS: dict[str, str] = {
    # A static (token-lookup) model trained for code: thousands of chunks per second on a CPU.
    "model2vec": "minishlab/potion-code-16M",
    "sentence-transformers": "sentence-transformers/all-MiniLM-L6-v2",
    "openai": "text-embedding-3-small",
}
"""The model each provider uses when ``model`` is not set (``auto`` means ``model2vec``)."""


class EmbeddingSettings(BaseModel):
    """Which embedder ``codeweaver index`` uses, and the knobs of each provider.

    ``provider``:

    - ``auto`` (default): the ``model2vec`` default model when the ``embed`` extra is installed
      and the model can be loaded; otherwise the index is keyword-only (with a one-line notice).
    - ``none``: keyword-only, no model is loaded.
    - ``model2vec``: a static model (hub name or local folder).
    - ``sentence-transformers``: any sentence-transformers model (hub name or local folder).
    - ``openai``: any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, Ollama, LM Studio,
      vLLM, TEI, ...) at ``url``, with the API key read from the variable ``api_key_env``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: EmbeddingProvider = "auto"
    model: str | None = Field(
        default=None, description="hub name or local folder; default: the provider's default"
    )
    device: str | None = Field(
        default=None, description="sentence-transformers device ('cpu', 'cuda', ...)"
    )
    batch_size: int | None = Field(
        default=None, ge=1, le=100_000, description="texts per embed call; default per provider"
    )
    max_input_tokens: int | None = Field(
        default=None,
        ge=16,
        le=1_000_000,
        description="the model's input limit in tokens; default: read from the model",
    )
    header_tokens: int = Field(
        default=32,
        ge=0,
        le=4096,
        description="room kept in every input for the file/symbol header of embedding_text()",
    )
    query_prefix: str = Field(default="", description="prepended to queries (instruction models)")
    document_prefix: str = Field(default="", description="prepended to every chunk text")
    trust_remote_code: bool = Field(
        default=False, description="sentence-transformers: run model code shipped with the model"
    )
    url: str | None = Field(
        default=None,
        description="openai: base URL (e.g. http://localhost:11434/v1); default: OpenAI's",
    )
    api_key_env: str = Field(
        default="OPENAI_API_KEY", description="openai: the environment variable holding the key"
    )
    dimensions: int | None = Field(
        default=None, ge=1, le=65_536, description="openai: ask the endpoint for this many dims"
    )
    tokenizer: str | None = Field(
        default=None,
        description=(
            "openai: a tokenizer.json file, folder or hub name to count tokens with"
            " (default: an estimate of chars_per_token)"
        ),
    )
    max_in_flight: int = Field(default=4, ge=1, le=256, description="openai: requests at once")
    max_batch_tokens: int = Field(
        default=16_384, ge=16, le=10_000_000, description="openai: tokens per request at most"
    )
    max_retries: int = Field(default=5, ge=0, le=100, description="openai: retries per request")
    retry_backoff_seconds: float = Field(
        default=0.5, ge=0, le=600, description="openai: first retry delay (doubles each time)"
    )
    timeout_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="openai: time limit per request"
    )

    @property
    def resolved_provider(self) -> Literal["none", "model2vec", "sentence-transformers", "openai"]:
        """``auto`` read as ``model2vec`` (whether it can load is found out when loading)."""
        return "model2vec" if self.provider == "auto" else self.provider

    @property
    def resolved_model(self) -> str | None:
        """The model name or folder (the provider's default when unset); None when off."""
        provider = self.resolved_provider
        if provider == "none":
            return None
        return self.model or DEFAULT_MODELS[provider]
