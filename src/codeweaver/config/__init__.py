"""Settings: ``CodeWeaverSettings`` (all sources) and the models it nests."""

from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
from codeweaver.config.embedding import EmbeddingSettings
from codeweaver.config.settings import (
    CodeWeaverSettings,
    DiscoverySettings,
    IndexSettings,
    load_settings,
)

__all__ = [
    "ChunkerSettings",
    "CodeWeaverSettings",
    "ConcurrencySettings",
    "DiscoverySettings",
    "EmbeddingSettings",
    "IndexSettings",
    "load_settings",
]
