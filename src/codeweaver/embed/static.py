"""``StaticEmbedder``: model2vec static embeddings (a token-vector lookup and a mean; no network
of layers), thousands of chunks per second on one CPU core."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from codeweaver.config.embedding import DEFAULT_MODELS
from codeweaver.core.errors import EmbeddingError
from codeweaver.embed.base import Embedder, describe_load_error, import_extra, model_source
from codeweaver.embed.tokens import HFTokenCounter

__all__ = ["StaticEmbedder"]

log = logging.getLogger(__name__)

DEFAULT_BATCH = 1024


class StaticEmbedder(Embedder):
    """A model2vec ``StaticModel`` from the hub (cached after the first download) or a folder.

    A static model has no hard input limit; ``max_input_tokens`` (default: the model's
    ``max_length``, else 512) sizes the chunks, and inputs are never truncated.
    """

    provider = "model2vec"
    embeds_beside_chunker = True

    def __init__(
        self,
        model: str = DEFAULT_MODELS["model2vec"],
        *,
        batch_size: int | None = None,
        max_input_tokens: int | None = None,
        query_prefix: str = "",
        document_prefix: str = "",
    ) -> None:
        model2vec = import_extra(
            "model2vec",
            "model2vec embeddings need the embed extra: pip install 'codeweaver[embed]'",
        )
        source = model_source(model)
        try:
            static = model2vec.StaticModel.from_pretrained(source, force_download=False)
        except Exception as exc:  # hub errors, missing files, bad layouts: all mean "cannot load"
            reason = describe_load_error(exc)
            raise EmbeddingError(
                f"cannot load the model2vec model {model!r}: {reason}", transient=True
            ) from None
        self._model: Any = static
        counter = HFTokenCounter(static.tokenizer, source)
        if counter.counts_by_words:
            _tokenize_by_words(static, counter)
        super().__init__(
            source,
            batch_size=batch_size or DEFAULT_BATCH,
            max_input_tokens=max_input_tokens or static.max_length or 512,
            token_counter=counter,
            special_tokens=0,
            query_prefix=query_prefix,
            document_prefix=document_prefix,
        )

    @property
    def dimension(self) -> int:
        return int(self._model.dim)

    def _embed(self, texts: list[str]) -> np.ndarray[Any, Any]:
        # max_length=None: no truncation (model2vec would otherwise cut long inputs, even by
        # characters); the chunk budget already keeps inputs to max_input_tokens.
        out: np.ndarray[Any, Any] = self._model.encode(
            texts, max_length=None, batch_size=self.batch_size, use_multiprocessing=False
        )
        return out


# Code with what the word-by-word path must get right: names, symbols, long words, tabs, CRLF,
# control and non-ASCII characters, special tokens' text.
_CHECK_TEXTS = (
    "def parse_config(path: str) -> dict:\r\n\treturn tomllib.load(open(path, 'rb'))  # [CLS]\n",
    "HTTPServer.serve_forever(poll_interval=0.5)\n\nx = a" + "b" * 120 + "\n",
    "the\x1cre \x00 naïve café 漢字 \u2028 [SEP]x [MASK] ##ing unaffable\n",
)


def _tokenize_by_words(static: Any, counter: HFTokenCounter) -> None:
    """Give ``static`` (a model2vec ``StaticModel``) a ``tokenize`` that looks each word's ids
    up once (:meth:`HFTokenCounter.token_ids`) instead of running the tokenizer over every
    chunk, which was most of the embedding time (~3 MB/s of code). It replaces the model's own
    only where both give the same ids for texts that exercise the differences, and only while
    the model's tokenizer does not truncate (the embedder never asks it to)."""
    original = static.tokenize
    tokenizer = static.tokenizer
    unk = getattr(static, "unk_token_id", None)

    def tokenize(sentences: Any) -> list[list[int]]:
        if tokenizer.truncation is not None:
            return original(sentences)  # type: ignore[no-any-return]
        ids = counter.token_ids(list(sentences))
        if unk is not None:  # as model2vec does: an unknown token has no vector of its own
            ids = [[t for t in one if t != unk] for one in ids]
        return ids

    # The checks run the cut at added tokens too (a code model's mined ones), not the
    # tokenizer it falls back to while its finder waits to be built.
    counter.prepare_finder()
    texts = [*_CHECK_TEXTS, *counter.added_token_samples()]
    saved = tokenizer.truncation
    try:
        tokenizer.no_truncation()
        same = tokenize(texts) == original(texts)
    except Exception as exc:  # an unexpected model2vec or tokenizers: keep the model as it is
        log.debug("model2vec tokenizes as it does (%s: %s)", type(exc).__name__, exc)
        return
    finally:
        if saved is not None:
            tokenizer.enable_truncation(**saved)
    if same:
        static.tokenize = tokenize
    else:
        log.debug("model2vec tokenizes as it does: the word-by-word ids differ on the checks")
