"""``HFTokenCounter``: counts tokens the way a model's fast tokenizer does, cheaply and picklably.

The chunker calls a token counter on many candidate pieces, in worker processes: the counter must
be fast (a Rust ``tokenizers`` call, no Python tokenizer), count only the text (no special tokens:
the model adds those itself, and the budget keeps room for them), never truncate, and survive
cloudpickle under ``spawn``. ``tokenizers.Tokenizer`` does all of that once truncation and padding
are switched off (a model's ``tokenizer.json`` often turns both on).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeweaver.core.errors import EmbeddingError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["HFTokenCounter", "load_tokenizer"]


class HFTokenCounter:
    """``counter(text) -> int``: the number of tokens ``tokenizer`` makes of ``text``.

    ``fingerprint`` names the tokenizer (the chunk governor records it, so changing the model
    re-chunks the index).

    Example:
        >>> counter = HFTokenCounter(load_tokenizer("path/to/model"), "my-model")  # doctest: +SKIP
        >>> counter("def parse(text): ...")  # doctest: +SKIP
        7
    """

    __slots__ = ("_tokenizer", "fingerprint")

    def __init__(self, tokenizer: Tokenizer, name: str) -> None:
        from tokenizers import Tokenizer

        # A private copy: switching off truncation must not change the model's own tokenizer.
        tok = Tokenizer.from_str(tokenizer.to_str())
        tok.no_truncation()
        tok.no_padding()
        self._tokenizer = tok
        self.fingerprint = f"hf-tokenizer:{name}"

    def __call__(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def special_tokens(self) -> int:
        """How many tokens the tokenizer's post-processor adds to one input (e.g. [CLS], [SEP])."""
        return len(self._tokenizer.encode("", add_special_tokens=True).ids)

    def __getstate__(self) -> dict[str, Any]:
        return {"json": self._tokenizer.to_str(), "fingerprint": self.fingerprint}

    def __setstate__(self, state: dict[str, Any]) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(state["json"])
        self.fingerprint = state["fingerprint"]

    def __repr__(self) -> str:
        return f"HFTokenCounter({self.fingerprint!r})"


def load_tokenizer(name_or_path: str) -> Tokenizer:
    """A fast tokenizer from a ``tokenizer.json`` file, a folder holding one, or a hub name.

    Raises:
        EmbeddingError: ``tokenizers`` is not installed or the tokenizer cannot be found.
    """
    from codeweaver.embed.base import describe_load_error

    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise EmbeddingError(
            "counting tokens needs the 'tokenizers' package: pip install 'codeweaver[embed]'"
        ) from None
    path = Path(name_or_path).expanduser()
    try:
        if path.is_dir():
            path = path / "tokenizer.json"
        if path.is_file():
            return Tokenizer.from_file(str(path))
        return Tokenizer.from_pretrained(name_or_path)
    except Exception as exc:  # tokenizers raises plain Exceptions for missing/unreadable files
        raise EmbeddingError(
            f"cannot load the tokenizer {name_or_path!r}: {describe_load_error(exc)}"
        ) from None
