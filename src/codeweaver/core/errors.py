"""The codeweaver exception tree.

Every error codeweaver raises on purpose derives from :class:`CodeWeaverError`, and each also
derives from the builtin it is closest to, so ``except ValueError`` keeps working for callers who
do not know about codeweaver::

    CodeWeaverError
    ├── ConfigError (ValueError)            a bad setting: names the field, the value and the source
    ├── DiscoveryError (OSError)            the root to walk is missing or unreadable
    ├── UnsupportedLanguageError (LookupError)
    ├── FileSkippedError                    deliberately not chunked (binary, too large)
    ├── ChunkingError (RuntimeError)        chunking one file failed
    │   ├── ChunkTimeoutError (TimeoutError)  it ran past the per-file time limit
    │   └── RepeatedFailureError            a run's first files all failed the same way: stopped
    ├── ExecutorError (RuntimeError)        an executor cannot start (missing extra, no scheduler)
    ├── EmbeddingError (RuntimeError)       an embedder cannot load, or a batch cannot be embedded
    ├── IndexStoreError (RuntimeError)      the SQLite index cannot be used
    │   └── IndexVersionError               the index was written by an incompatible version
    └── SearchError (ValueError)            a search that cannot run as asked (no vectors, ...)
"""

from __future__ import annotations

__all__ = [
    "ChunkTimeoutError",
    "ChunkingError",
    "CodeWeaverError",
    "ConfigError",
    "DiscoveryError",
    "EmbeddingError",
    "ExecutorError",
    "FileSkippedError",
    "IndexStoreError",
    "IndexVersionError",
    "RepeatedFailureError",
    "SearchError",
    "UnsupportedLanguageError",
]


class CodeWeaverError(Exception):
    """Base of every error codeweaver raises on purpose."""


class ConfigError(CodeWeaverError, ValueError):
    """A setting has a bad value.

    The message is one line a person can act on: the field, the value and where it came from.
    ``also`` holds the other problems found at the same time (the message lists them all);
    ``field``, ``value``, ``source`` and ``reason`` describe the first.
    """

    def __init__(
        self,
        field: str,
        value: object,
        source: str,
        reason: str,
        *,
        also: tuple[ConfigError, ...] = (),
    ) -> None:
        self.field = field
        self.value = value
        self.source = source
        self.reason = reason
        self.also = also
        message = f"invalid setting {field}={value!r} (from {source}): {reason}"
        super().__init__("; ".join([message, *(str(e) for e in also)]))


class DiscoveryError(CodeWeaverError, OSError):
    """The root directory cannot be walked."""


class UnsupportedLanguageError(CodeWeaverError, LookupError):
    """No grammar or fallback is known for the requested language."""


class FileSkippedError(CodeWeaverError):
    """A file is deliberately not chunked (binary, over the size limit); carries a short reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class ChunkingError(CodeWeaverError, RuntimeError):
    """Chunking one file failed; ``stage`` says where (read, parse, chunk, timeout)."""

    def __init__(self, message: str, *, stage: str = "chunk") -> None:
        self.stage = stage
        super().__init__(message)


class ChunkTimeoutError(ChunkingError, TimeoutError):
    """Chunking one file ran past the per-file time limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message, stage="timeout")


class RepeatedFailureError(ChunkingError):
    """A run stopped because its first files all failed the same way (the cause is not in them:
    a token counter with a bug, workers that cannot start)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, stage="worker")


class ExecutorError(CodeWeaverError, RuntimeError):
    """An executor cannot be started or used (a missing extra, an unreachable scheduler)."""


class EmbeddingError(CodeWeaverError, RuntimeError):
    """An embedder cannot be loaded, or a batch of texts cannot be embedded.

    ``transient`` is True when trying again later may succeed (an endpoint down, rate limits,
    timeouts after every retry); False when the input or the configuration is at fault.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)


class IndexStoreError(CodeWeaverError, RuntimeError):
    """The index database cannot be opened or written."""


class IndexVersionError(IndexStoreError):
    """The index database was written by an incompatible version of codeweaver."""


class SearchError(CodeWeaverError, ValueError):
    """A search cannot run as asked (say, semantic search on an index without vectors)."""
