"""Chunking and concurrency settings: plain pydantic models, nested inside ``CodeWeaverSettings``.

These are ordinary models so a library user can build them directly
(``ChunkerSettings(max_chunk_tokens=512)``); reading them from the environment and config files is
``CodeWeaverSettings``' job (see :mod:`codeweaver.config.settings`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DEFAULT_MAX_CHUNK_TOKENS",
    "DEFAULT_MIN_CHUNK_CHARS",
    "ChunkerSettings",
    "ConcurrencySettings",
    "ExecutorKind",
    "PackingMode",
    "StartMethod",
]

ExecutorKind = Literal["auto", "process", "thread", "serial", "dask"]
StartMethod = Literal["fork", "forkserver", "spawn"]
PackingMode = Literal["definition", "greedy"]

DEFAULT_MAX_CHUNK_TOKENS = 512
"""Sized for common embedding models (512-token inputs)."""

DEFAULT_MIN_CHUNK_CHARS = 20
"""Crumbs below this many non-whitespace characters merge into a neighbour: a lone ``}``, a bare
``return x``, a divider comment, whitespace. Measured on semble's code-search benchmark (38
repositories, ``python -m benchmarks search``): keyword NDCG@10 0.8513 with 0, 0.8502 with 20,
0.8488 with 30, 0.8466 with 50; a dense retriever (all-MiniLM-L6-v2, 18 of its repositories)
was flat from 0 to 120 (0.750-0.754). 20 removes the crumbs a reader notices at no measurable
cost; merging small definitions hurts keyword search."""


class ConcurrencySettings(BaseModel):
    """How files are spread over workers.

    ``executor``: ``"auto"`` picks serial for one usable CPU or little work (a few MB of source,
    where starting workers costs more than they save), threads on a free-threaded interpreter
    and processes otherwise; ``"dask"`` needs the ``distributed`` extra. More workers than
    usable CPUs is warned about.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    executor: ExecutorKind = "auto"
    max_parallel_files: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="worker count; default: the CPUs this process may use",
    )
    batch_size: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="files per task sent to a worker; default: adaptive",
    )
    start_method: StartMethod | None = Field(
        default=None,
        description=(
            "multiprocessing start method for the process executor; default: the platform's"
        ),
    )
    scheduler_address: str | None = Field(
        default=None,
        description="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (executor='dask')",
    )
    ship_file_bytes: bool = Field(
        default=False,
        description=(
            "dask: the client reads each batch's files and sends their bytes to the worker"
            " (for clusters without a shared filesystem)"
        ),
    )


class ChunkerSettings(BaseModel):
    """The chunk budget, the per-file limits and the concurrency settings.

    The budget is in tokens (``max_chunk_tokens``, default 512) or in characters
    (``max_chunk_chars``); give one, not both.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_chunk_tokens: int | None = Field(default=None, ge=8, le=1_000_000)
    max_chunk_chars: int | None = Field(default=None, ge=16, le=10_000_000)
    chars_per_token: float = Field(
        default=3.0,
        gt=0.5,
        le=16.0,
        description="ratio used by the built-in token estimate when no token counter is given",
    )
    packing: PackingMode = Field(
        default="definition",
        description=(
            "'definition': one function/method per chunk;"
            " 'greedy': pack definitions up to the budget"
        ),
    )
    min_chunk_chars: int = Field(
        default=DEFAULT_MIN_CHUNK_CHARS,
        ge=0,
        le=10_000,
        description=(
            "a chunk with fewer non-whitespace characters (a lone '}', a one-line getter, a"
            " divider comment) joins a neighbour in the same scope when the pair fits the"
            " budget; 0 merges only whitespace-only chunks"
        ),
    )
    max_file_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    file_timeout_seconds: float = Field(default=60.0, gt=0, le=86_400)
    max_chunks_per_file: int = Field(default=100_000, ge=1)
    concurrency: ConcurrencySettings = Field(default_factory=ConcurrencySettings)

    @model_validator(mode="after")
    def _one_budget(self) -> ChunkerSettings:
        if self.max_chunk_tokens is not None and self.max_chunk_chars is not None:
            raise ValueError("give max_chunk_tokens or max_chunk_chars, not both")
        return self

    @property
    def budget_unit(self) -> Literal["tokens", "chars"]:
        return "chars" if self.max_chunk_chars is not None else "tokens"

    @property
    def budget(self) -> int:
        """The budget in its unit (tokens unless ``max_chunk_chars`` is set)."""
        if self.max_chunk_chars is not None:
            return self.max_chunk_chars
        if self.max_chunk_tokens is not None:
            return self.max_chunk_tokens
        return DEFAULT_MAX_CHUNK_TOKENS
