"""Chunk budgets from the model: a governor that never lets the embedder truncate a chunk.

The input an embedder sees is ``document_prefix + header + content`` plus the special tokens the
model adds (``[CLS]``, ``[SEP]``). :func:`governor_for` gives the content what is left of the
model's input limit after all of those; :func:`fitted_text` keeps the header inside the room kept
for it (shortening the path and symbol of the rare chunk whose header is longer), so::

    special_tokens + tokens(document_prefix) + tokens(fitted_text(chunk)) <= max_input_tokens

holds up to ``BOUNDARY_SLACK`` tokens of tokenizer merges across the joins, which the budget
also keeps free.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from codeweaver.config.chunker import DEFAULT_MAX_CHUNK_TOKENS, ChunkerSettings
from codeweaver.core.chunks import CodeChunk, embedding_header
from codeweaver.embed.base import Embedder
from codeweaver.engine.chunker.governor import ChunkGovernor

__all__ = ["BOUNDARY_SLACK", "HeaderFitter", "governor_for"]

log = logging.getLogger(__name__)

BOUNDARY_SLACK = 2
"""Tokens kept free for merges where the prefix, header and content meet."""


def governor_for(
    embedder: Embedder,
    settings: ChunkerSettings | None = None,
    *,
    header_tokens: int = 32,
) -> ChunkGovernor:
    """A governor whose budget is the embedder's input limit less everything but the content.

    With a real tokenizer the budget is in the model's tokens and counted with it; without one
    (an HTTP endpoint with no ``tokenizer`` setting) it is the character estimate with a 10%
    margin. A smaller ``max_chunk_tokens`` in ``settings`` still wins (the default 512 too: a
    model with a long context does not get longer chunks); ``max_chunk_chars`` is ignored, since
    only the model's tokens can promise no truncation.

    Example:
        >>> gov = governor_for(embedder)  # doctest: +SKIP
        >>> gov.budget, gov.unit  # doctest: +SKIP
        (220, 'tokens')
    """
    base = settings or ChunkerSettings()
    cap = DEFAULT_MAX_CHUNK_TOKENS
    if base.max_chunk_chars is not None:
        log.warning(
            "max_chunk_chars is ignored with embeddings: chunks are sized in %s tokens",
            embedder.name,
        )
        base = ChunkerSettings.model_validate(base.model_dump() | {"max_chunk_chars": None})
    elif base.max_chunk_tokens is not None:
        cap = base.max_chunk_tokens
    exact = embedder.token_counter is not None
    reserved = header_tokens + embedder.count_tokens(embedder.document_prefix) + BOUNDARY_SLACK
    governor = ChunkGovernor.from_model_limits(
        max(1, embedder.max_input_tokens - embedder.special_tokens),
        token_counter=embedder.token_counter,
        safety_margin=0.0 if exact else 0.1,
        header_tokens=reserved,
        settings=base,
    )
    if governor.budget > cap:
        data = base.model_dump() | {"max_chunk_tokens": cap, "max_chunk_chars": None}
        governor = ChunkGovernor(
            ChunkerSettings.model_validate(data), token_counter=embedder.token_counter
        )
    return governor


class HeaderFitter:
    """``fitter(chunk)``: the chunk's ``embedding_text()`` with a header of at most
    ``header_tokens`` tokens.

    Counting is cached per header line (a file's path line repeats for each of its chunks), so
    the check costs a dictionary lookup for most chunks.
    """

    def __init__(self, embedder: Embedder, header_tokens: int = 32) -> None:
        self.header_tokens = header_tokens
        self._count = lru_cache(maxsize=65_536)(embedder.count_tokens)

    def __call__(self, chunk: CodeChunk) -> str:
        header = embedding_header(chunk.path, chunk.symbol_path)
        if self._tokens(header) > self.header_tokens:
            header = self._shortened(chunk)
        return header + chunk.content

    def _tokens(self, header: str) -> int:
        return sum(self._count(line) for line in header.splitlines(keepends=True))

    def _shortened(self, chunk: CodeChunk) -> str:
        """The longest header that fits: innermost symbols and trailing path parts first."""
        parts = chunk.path.split("/")
        symbols = chunk.symbol_path
        for keep_symbols in range(len(symbols), -1, -1):
            for keep_parts in range(len(parts), 0, -1):
                path = "/".join(parts[-keep_parts:])
                if keep_parts < len(parts):
                    path = ".../" + path
                header = embedding_header(path, symbols[len(symbols) - keep_symbols :])
                if self._tokens(header) <= self.header_tokens:
                    return header
        return ""
