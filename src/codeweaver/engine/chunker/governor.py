"""``ChunkGovernor``: the chunk budget, the token counter and the per-file limits, in one object.

The governor is what every worker receives (once, in its initializer), so it must survive
cloudpickle with a user's lambda inside; it holds only settings and the counter.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable
from typing import Any, Literal

from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
from codeweaver.core.errors import ConfigError

__all__ = ["CHUNKER_VERSION", "ChunkGovernor", "TokenCounter", "check_count"]

log = logging.getLogger("codeweaver")

TokenCounter = Callable[[str], int]

CHUNKER_VERSION = 2
"""Bumped whenever the chunker draws different boundaries for the same input and settings; it is
part of :meth:`ChunkGovernor.fingerprint`, so an index built by an older chunker re-chunks.
2: crumbs merged, headers travel with their body, doc comments split rather than orphaned."""


class ChunkGovernor:
    """Decides how big a chunk may be and how long a file may take.

    The budget is in tokens (default 512) or in characters (``max_chunk_chars``). Sizes are
    measured on the exact text that lands in a chunk (gaps and indentation included). With no
    ``token_counter`` a token budget is converted to characters with ``chars_per_token`` (a fast,
    conservative estimate: 3 characters per token for code); with one, candidate chunks are
    measured by calling it.

    Example:
        >>> from codeweaver.config.chunker import ChunkerSettings
        >>> gov = ChunkGovernor(ChunkerSettings(max_chunk_chars=1500))
        >>> gov.fits("x" * 1500), gov.fits("x" * 1501)
        (True, False)
    """

    __slots__ = ("_char_budget", "_overhead", "_user_counter", "settings", "token_counter")

    def __init__(
        self,
        settings: ChunkerSettings | None = None,
        token_counter: TokenCounter | None = None,
        **overrides: Any,
    ) -> None:
        if settings is None:
            settings = ChunkerSettings(**overrides)
        elif overrides:
            settings = settings.model_copy(update=overrides)
            settings = ChunkerSettings.model_validate(settings.model_dump())
        self.settings = settings
        # Every call the chunker makes goes through the check: a count that is not a whole
        # number >= 0 is a ConfigError naming the counter, not a silently broken budget.
        self._user_counter = token_counter
        self.token_counter = None if token_counter is None else _CheckedCounter(token_counter)
        self._overhead: int | None = None  # see counter_overhead()
        # With no real counter everything is measured in characters.
        if settings.budget_unit == "chars":
            self._char_budget: int | None = settings.budget
        elif token_counter is None:
            self._char_budget = max(1, int(settings.budget * settings.chars_per_token))
        else:
            self._char_budget = None

    @classmethod
    def from_model_limits(
        cls,
        max_input_tokens: int,
        *,
        token_counter: TokenCounter | None = None,
        safety_margin: float = 0.1,
        header_tokens: int = 32,
        settings: ChunkerSettings | None = None,
    ) -> ChunkGovernor:
        """A governor sized for an embedding model's input limit.

        ``max_input_tokens`` is the model's context window / max input; the budget keeps a
        ``safety_margin`` share free (tokenizers disagree) and ``header_tokens`` for the header
        :meth:`CodeChunk.embedding_text` adds.
        """
        if max_input_tokens <= 0:
            raise ValueError("max_input_tokens must be positive")
        if not 0 <= safety_margin < 1:
            raise ValueError("safety_margin must be in [0, 1)")
        budget = max(8, int(max_input_tokens * (1 - safety_margin)) - header_tokens)
        base = settings or ChunkerSettings()
        data = base.model_dump()
        data.update(max_chunk_tokens=budget, max_chunk_chars=None)
        return cls(ChunkerSettings.model_validate(data), token_counter=token_counter)

    # -- sizes -----------------------------------------------------------------------------------
    @property
    def unit(self) -> Literal["tokens", "chars"]:
        return self.settings.budget_unit

    @property
    def budget(self) -> int:
        """The budget in :attr:`unit`."""
        return self.settings.budget

    @property
    def char_budget(self) -> int | None:
        """The budget in characters when sizes are character counts (None with a token counter)."""
        return self._char_budget

    def size(self, text: str) -> int:
        """The size of ``text`` in the budget's unit (characters when no counter is used)."""
        if self._char_budget is not None:
            return len(text)
        assert self.token_counter is not None
        return int(self.token_counter(text))

    def limit(self) -> int:
        """The budget in the unit :meth:`size` returns."""
        return self._char_budget if self._char_budget is not None else self.settings.budget

    @property
    def counter_name(self) -> str:
        """The token counter as the fingerprint names it (``estimate`` without one)."""
        return "estimate" if self._user_counter is None else _callable_name(self._user_counter)

    def counter_overhead(self) -> int:
        """What the token counter adds to any text (special tokens such as [CLS] and [SEP]),
        asked once per governor, not once per file: 0 without a counter, and 0 for a counter
        that cannot size "" (the calls that matter judge it: a counter broken on real text
        fails the file with a reason)."""
        if self._overhead is None:
            self._overhead = 0
            if self.token_counter is not None:
                try:
                    self._overhead = max(0, int(self.token_counter("")))
                except Exception as exc:
                    log.debug("the token counter cannot size an empty text (%s): overhead 0", exc)
        return self._overhead

    def fits(self, text: str) -> bool:
        return self.size(text) <= self.limit()

    # -- the rest of the settings ----------------------------------------------------------------
    @property
    def concurrency(self) -> ConcurrencySettings:
        return self.settings.concurrency

    @property
    def max_file_bytes(self) -> int:
        return self.settings.max_file_bytes

    @property
    def file_timeout_seconds(self) -> float:
        return self.settings.file_timeout_seconds

    @property
    def max_chunks_per_file(self) -> int:
        return self.settings.max_chunks_per_file

    def fingerprint(self) -> str:
        """A string that changes whenever chunk boundaries could change (chunker version, budget,
        counter, packing, crumb size).

        The index stores it and re-chunks everything when it differs.
        """
        s = self.settings
        counter = self.counter_name
        return (
            f"chunker={CHUNKER_VERSION};unit={self.unit};budget={self.budget};"
            f"cpt={s.chars_per_token};packing={s.packing};min={s.min_chunk_chars};"
            f"counter={counter}"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings.model_dump(), "token_counter": self._user_counter}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            ChunkerSettings.model_validate(state["settings"]), token_counter=state["token_counter"]
        )

    def __repr__(self) -> str:
        return f"ChunkGovernor(budget={self.budget} {self.unit}, packing={self.settings.packing!r})"


class _CheckedCounter:
    """A user's token counter whose every answer is checked (see :func:`check_count`)."""

    __slots__ = ("fn",)

    def __init__(self, fn: TokenCounter) -> None:
        self.fn = fn

    def __call__(self, text: str) -> int:
        n = self.fn(text)
        if type(n) is int and n >= 0:
            return n
        return check_count(n, self.fn)


def check_count(value: object, counter: Callable[..., Any]) -> int:
    """``value`` (what ``counter`` returned) as a token count, or a ConfigError saying why not.

    Counts are numbers >= 0: ``int``, numpy integers, or finite floats, rounded down (a
    counter returning ``len(s) / 4`` works); ``None``, strings, booleans, NaN, infinities and
    negative numbers are not.
    """
    if isinstance(value, bool):
        pass
    elif isinstance(value, numbers.Integral):
        if int(value) >= 0:
            return int(value)
    elif isinstance(value, numbers.Real):
        number = float(value)
        if math.isfinite(number) and number >= 0:
            return int(number)
    raise ConfigError(
        "token_counter",
        value,
        f"the token counter {_callable_name(counter)}",
        "it must return a whole number of tokens >= 0",
    )


def _callable_name(fn: Callable[..., Any]) -> str:
    named = getattr(fn, "fingerprint", None)  # a counter that names its tokenizer (embed.tokens)
    if isinstance(named, str):
        return named
    module = getattr(fn, "__module__", "") or ""
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}.{name}"
