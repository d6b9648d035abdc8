"""``HFTokenCounter``: counts tokens the way a model's fast tokenizer does, cheaply and picklably.

The chunker calls a token counter on many candidate pieces, in worker processes: the counter must
be fast (a Rust ``tokenizers`` call, no Python tokenizer), count only the text (no special tokens:
the model adds those itself, and the budget keeps room for them), never truncate, and survive
cloudpickle under ``spawn``. ``tokenizers.Tokenizer`` does all of that once truncation and padding
are switched off (a model's ``tokenizer.json`` often turns both on).

The chunker measures many overlapping pieces (a class, then the class less its last method, ...),
so the same lines are counted again and again. For tokenizers where a newline always ends a token
(a whitespace-splitting pre-tokenizer after a character-wise normalizer: BERT's WordPiece and
the like) the count of a text is exactly the sum of the counts of its lines, and lines are
counted once and remembered. Other tokenizers (byte-level BPE merges whitespace runs across
lines) count each text whole.

BERT's own pipeline (``BertNormalizer``, ``BertPreTokenizer``, ``WordPiece``) goes further: a
line's count is the sum of its words' counts, a word being a run of letters and digits or one
punctuation character. So a new line of plain ASCII is cut into words here and each word is
counted once per process and remembered: about 8x faster than the tokenizer on code, where the
same names come back on every line. A line the cut could get wrong (anything outside printable
ASCII, tabs and carriage returns; a special token's text such as ``[CLS]``) goes to the tokenizer.

Added tokens the tokenizer matches in the normalized text (model2vec adds a code model's mined
multi-word tokens so: ``self.assert``, which ``Self.Assert`` matches too) are found as the
tokenizer finds them, the leftmost and then the longest, by one trie-shaped regex; each is one
token and the text between is cut into words. One that holds what the normalizer makes of a
newline (``return self``: BERT's makes it a space) can join two lines, and then nothing is
counted by lines.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeweaver.core.errors import EmbeddingError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["HFTokenCounter", "load_tokenizer"]

log = logging.getLogger(__name__)

MAX_CACHED_LINES = 200_000
"""Remembered line counts per counter (per worker process) before the memory is cleared."""

MAX_CACHED_WORDS = 500_000
"""Remembered words (their counts, their ids) per counter (BERT-style tokenizers) before the
memory is cleared."""
# Words the quick lookup of a new word is checked on before it is used (runs of letters and
# digits, and single symbols: what the word cut gives).
_CHECK_WORDS = (
    "parse", "Config", "HTTPServer", "x1", "42", "a" * 101, "unaffable", "QqQ123abc", "_", "#",
    "(", "~", "ZZZZZZZZZZ", "serve", "forever", "CLS",
)  # fmt: skip

_SPLIT_AT_WHITESPACE = {"BertPreTokenizer", "Whitespace", "WhitespaceSplit"}
# BertPreTokenizer on printable ASCII: runs of letters and digits, and each other character
# that is not whitespace on its own (every ASCII symbol is punctuation to BERT).
_BERT_ASCII_WORD = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9 \t\r\n]")
# What the word cut leaves to the tokenizer: anything but printable ASCII, tab, CR and newline
# (BERT drops control characters, so they would join the words around them).
_NOT_PLAIN_ASCII = re.compile(r"[^\t\r\n\x20-\x7e]")


class _Encoded(dict[str, Any]):
    """word -> what ``make(word)`` gives, made on first sight; ``map(cache.__getitem__, words)``
    then runs the loop over a text's words in C."""

    __slots__ = ("make",)

    def __init__(self, make: Any) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, word: str) -> Any:
        found = self[word] = self.make(word)
        return found


_CHARACTER_WISE = {
    "BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents", "Strip",
}  # fmt: skip


class HFTokenCounter:
    """``counter(text) -> int``: the number of tokens ``tokenizer`` makes of ``text``.

    ``fingerprint`` names the tokenizer (the chunk governor records it, so changing the model
    re-chunks the index).

    Example:
        >>> counter = HFTokenCounter(load_tokenizer("path/to/model"), "my-model")  # doctest: +SKIP
        >>> counter("def parse(text): ...")  # doctest: +SKIP
        7
    """

    __slots__ = (
        "_added",
        "_by_line",
        "_by_word",
        "_lines",
        "_lower",
        "_norm_added",
        "_norm_ids",
        "_norm_wait",
        "_normalize",
        "_not_plain",
        "_tokenizer",
        "_word_ids",
        "fingerprint",
    )

    def __init__(self, tokenizer: Tokenizer, name: str) -> None:
        from tokenizers import Tokenizer

        # A private copy: switching off truncation must not change the model's own tokenizer.
        spec = tokenizer.to_str()  # (serialised once: a model's tokenizer is ~0.7 MB of JSON)
        tok = Tokenizer.from_str(spec)
        tok.no_truncation()
        tok.no_padding()
        self._tokenizer = tok
        self.fingerprint = f"hf-tokenizer:{name}"
        parsed = json.loads(spec)
        added = parsed.get("added_tokens") or ()
        normalize = self._normalize = _plain_normalizer(tok.normalizer)
        raw = {t["content"] for t in added if not t.get("normalized")}
        # As the tokenizer matches them: in the normalized text, by their normalized content.
        normalized: dict[str, int] = {}
        splittable = True  # cut a text at them here (see _split_ids)
        for t in added:
            if not t.get("normalized"):
                continue
            content = t["content"]
            if normalize is not None:
                plain = not _NOT_PLAIN_ASCII.search(content)
                content = normalize(content) if plain else tok.normalizer.normalize_str(content)
            if not content:
                continue
            if normalized.get(content, t["id"]) != t["id"] or any(
                t.get(flag) for flag in ("single_word", "lstrip", "rstrip", "special")
            ):
                splittable = False
            normalized[content] = t["id"]
        self._added = (tuple(sorted(raw)), tuple(sorted(normalized.items())), splittable)
        self._by_line = _spec_splits_at_newlines(parsed) and not _added_may_span_lines(
            raw, set(normalized), normalize
        )
        self._by_word = self._by_line and _spec_is_bert_wordpiece(parsed)
        self._lower = bool((parsed.get("normalizer") or {}).get("lowercase", False))
        self._setup_added()
        self._new_caches()

    def _setup_added(self) -> None:
        raw, normalized, splittable = self._added
        found = _finder(raw)
        # Not plain: outside printable ASCII, or holding an added token matched as it is; one scan.
        self._not_plain = (
            re.compile(f"{_NOT_PLAIN_ASCII.pattern}|{found.pattern}") if found else _NOT_PLAIN_ASCII
        )
        # Compiling the finder of a code model's mined tokens takes ~1.6 s at 43,000 of them:
        # the first texts (a search query, a small update) go to the tokenizer instead, and it
        # is built once this counter has been asked about enough of them to pay for it.
        self._norm_wait = len(normalized) // _TEXTS_PER_FINDER_TOKEN
        self._norm_added = _finder(tuple(c for c, _ in normalized)) if not self._norm_wait else None
        self._norm_ids = dict(normalized) if splittable and normalized else None

    def _new_caches(self) -> None:
        self._lines: dict[str, int] = {}
        self._word_ids = _Encoded(self._word_ids_maker())

    def _plain(self, text: str) -> bool:
        """Whether ``text`` can be cut here: plain ASCII holding no added token the tokenizer
        matches in the text as it is (``[CLS]``)."""
        return not self._not_plain.search(text)

    def prepare_finder(self) -> None:
        """Build the finder of the normalized added tokens now (a self-check must run the path
        that cuts at them, not wait for :meth:`_plain_ids` to build it)."""
        if self._norm_added is None and self._added[1]:
            self._norm_added = _finder(tuple(c for c, _ in self._added[1]))
            self._norm_wait = 0

    def added_token_samples(self, count: int = 3) -> list[str]:
        """Lines holding some of the normalized added tokens, in capitals and glued to words
        (``xSELF.ASSERT(self.assert)y``): what a self-check of the cut should see."""
        contents = [c for c, _ in self._added[1]][:count]
        return [f"x{c.upper()}({c}) -> {c}y\n" for c in contents]

    def _plain_ids(self, text: str, ids_of: Callable[[str], tuple[int, ...]]) -> list[int] | None:
        """The ids of ``text`` cut here, or None when the tokenizer must see it."""
        if self._not_plain.search(text):
            return None
        finder = self._norm_added
        if finder is None and self._norm_wait:
            self._norm_wait -= 1  # (a race between threads only moves the moment)
            if self._norm_wait > 0:
                return None
            finder = self._norm_added = _finder(tuple(c for c, _ in self._added[1]))
        if finder is not None:
            normalized = self._normalize(text) if self._normalize is not None else text
            first = finder.search(normalized)
            if first is not None:
                return self._split_ids(text, normalized, first, ids_of)
        return list(chain.from_iterable(map(ids_of, _BERT_ASCII_WORD.findall(text))))

    def _split_ids(
        self,
        text: str,
        normalized: str,
        first: re.Match[str],
        ids_of: Callable[[str], tuple[int, ...]],
    ) -> list[int] | None:
        """The ids of a plain text holding added tokens the tokenizer matches in the normalized
        text (a code model's multi-word tokens, ``self.assert``, so ``Self.Assert`` too): cut
        where it finds them (leftmost, then longest; ``first`` is the first), each one token,
        and the text between cut into words, each part on its own as the tokenizer does. None
        (the tokenizer must see it) when normalizing moved characters, a token has options that
        change the cut, or the finder could not be built (it then finds every character)."""
        ids_by_content = self._norm_ids
        if ids_by_content is None or len(normalized) != len(text):
            return None
        words = _BERT_ASCII_WORD.findall
        ids: list[int] = []
        pos = 0
        for match in chain((first,), first.re.finditer(normalized, first.end())):
            token = ids_by_content.get(match.group())
            if token is None:
                return None
            ids.extend(chain.from_iterable(map(ids_of, words(text, pos, match.start()))))
            ids.append(token)
            pos = match.end()
        ids.extend(chain.from_iterable(map(ids_of, words(text, pos))))
        return ids

    def _word_ids_maker(self) -> Any:
        """How a new word's ids are found: the WordPiece model on the (lowercased) word, ~4x
        quicker than a whole ``encode`` call (a plain-ASCII word needs no other step of BERT's
        pipeline), when that gives ``encode``'s ids on :data:`_CHECK_WORDS`; else ``encode``."""
        encode = self._tokenizer.encode

        def exact(word: str) -> tuple[int, ...]:
            return tuple(encode(word, add_special_tokens=False).ids)

        if not self._by_word:
            return exact
        tokenize = self._tokenizer.model.tokenize
        lower = self._lower

        def quick(word: str) -> tuple[int, ...]:
            return tuple([t.id for t in tokenize(word.lower() if lower else word)])

        raw, normalized, _ = self._added
        added = {i for _, i in normalized} | {self._tokenizer.token_to_id(c) for c in raw}
        try:
            # (a check word the tokenizer reads as an added token is never a word here: the
            # text is cut at added tokens first)
            pairs = [(quick(w), exact(w)) for w in _CHECK_WORDS]
            same = all(q == e for q, e in pairs if added.isdisjoint(e))
        except Exception as exc:  # a model without tokenize(): the whole pipeline it is
            log.debug("%s: new words go through encode() (%s: %s)", self, type(exc).__name__, exc)
            return exact
        if not same:
            log.debug("%s: new words go through encode() (the model alone differs)", self)
        return quick if same else exact

    def __call__(self, text: str) -> int:
        if not self._by_line or (not self._by_word and text.count("\n") < 2):
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        cache = self._lines
        lines = text.split("\n")
        try:
            return sum(map(cache.__getitem__, lines))  # the usual case: every line seen before
        except KeyError:
            pass
        if len(cache) > MAX_CACHED_LINES:
            cache.clear()
        missing = [line for line in set(lines) if line not in cache]
        fresh: dict[str, int] = {}
        if self._by_word:
            ids_of = self._known_words().__getitem__
            whole = []
            simple = not self._added[1]  # no normalized added token: a count needs no ids
            for line in missing:
                if simple:
                    if self._plain(line):
                        fresh[line] = sum(map(len, map(ids_of, _BERT_ASCII_WORD.findall(line))))
                        continue
                else:
                    ids = self._plain_ids(line, ids_of)
                    if ids is not None:
                        fresh[line] = len(ids)
                        continue
                whole.append(line)
            missing = whole
        if missing:
            encoded = self._tokenizer.encode_batch(missing, add_special_tokens=False)
            fresh.update((line, len(enc.ids)) for line, enc in zip(missing, encoded, strict=True))
        cache.update(fresh)
        total = 0
        for line in lines:  # read what this call counted first: another thread may clear
            n = fresh.get(line)
            if n is None:
                n = cache.get(line)
            total += (
                len(self._tokenizer.encode(line, add_special_tokens=False).ids) if n is None else n
            )
        return total

    @property
    def counts_by_words(self) -> bool:
        """True for BERT's pipeline: plain lines are cut into words here (see the module doc)."""
        return self._by_word

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The ids the tokenizer gives each text without special tokens or truncation (what a
        static model averages), word by word where the counter counts by words: each word's
        ids are looked up once per process."""
        if not self._by_word:
            return [e.ids for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]
        encode = self._tokenizer.encode
        ids_of = self._known_words().__getitem__
        plain_ids = self._plain_ids
        out: list[list[int]] = []
        for text in texts:
            whole = plain_ids(text, ids_of)
            if whole is not None:
                out.append(whole)
                continue
            if self._plain(text):  # plain, but not cut here (yet): whole, not line by line
                out.append(encode(text, add_special_tokens=False).ids)
                continue
            ids: list[int] = []
            for line in text.split("\n"):
                part = plain_ids(line, ids_of)
                ids.extend(encode(line, add_special_tokens=False).ids if part is None else part)
            out.append(ids)
        return out

    def _known_words(self) -> _Encoded:
        """Each word's ids, looked up on first sight (emptied when it holds too many)."""
        words = self._word_ids
        if len(words) > MAX_CACHED_WORDS:
            words.clear()
        return words

    def special_tokens(self) -> int:
        """How many tokens the tokenizer's post-processor adds to one input (e.g. [CLS], [SEP])."""
        return len(self._tokenizer.encode("", add_special_tokens=True).ids)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "json": self._tokenizer.to_str(),
            "fingerprint": self.fingerprint,
            "by_line": self._by_line,
            "by_word": self._by_word,
            "added": self._added,
            "lower": self._lower,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(state["json"])
        self.fingerprint = state["fingerprint"]
        self._by_line = state["by_line"]
        self._by_word = state.get("by_word", False)
        self._added = state.get("added", ((), (), False))
        self._lower = state.get("lower", False)
        self._normalize = _plain_normalizer(self._tokenizer.normalizer)
        self._setup_added()
        self._new_caches()

    def __repr__(self) -> str:
        return f"HFTokenCounter({self.fingerprint!r})"


def _added_may_span_lines(
    raw: set[str], normalized: set[str], normalize: Callable[[str], str] | None
) -> bool:
    """Whether an added token can match across a line break (the tokenizer matches added tokens
    before it splits at whitespace): one whose text holds a newline, or, matched in the
    normalized text, what the normalizer makes of one (BERT's: a space, so ``return self``
    is one token in ``return\nself``). Then counts do not add up line by line."""
    if any("\n" in t for t in raw):
        return True
    if not normalized:
        return False
    newline = normalize("\n") if normalize is not None else "\n"
    return not newline or any(newline in t for t in normalized)


# Texts the tokenizer is given whole per normalized added token before they are looked for here.
_TEXTS_PER_FINDER_TOKEN = 8
_PLAIN_CHARS = "\t\n\r" + "".join(map(chr, range(0x20, 0x7F)))


def _plain_normalizer(normalizer: Any) -> Callable[[str], str] | None:
    """The tokenizer's normalizer on plain text (what :meth:`HFTokenCounter._plain` lets
    through): a ``str.translate`` table of what it makes of each character (0.2 us a line
    against 5-12 us for ``normalize_str``), kept only where both agree on every such character
    in a row; else ``normalize_str`` itself."""
    if normalizer is None:
        return None
    norm: Callable[[str], str] = normalizer.normalize_str
    table = {ord(c): norm(c) for c in _PLAIN_CHARS}

    def plain(text: str) -> str:
        return text.translate(table)

    probe = _PLAIN_CHARS + " Self.Assert(x)\r\n\tHTTPServer  x\n"
    return plain if plain(probe) == norm(probe) else norm


@lru_cache(maxsize=16)
def _finder(texts: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex finding ``texts`` as the tokenizer finds added tokens: the leftmost, and of
    those starting there the longest (a trie whose ends are greedy optional steps: the text
    decides the one path through it); None for none. Searching a line costs 1-2 us with
    43,000 texts, where testing each in turn cost 265 us with 5,000."""
    trie: dict[str, Any] = {}
    for text in texts:
        if text:
            node = trie
            for ch in text:
                node = node.setdefault(ch, {})
            node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        steps = []
        for first, below in sorted(node.items()):
            if not first:
                continue
            run, at = [first], below
            while len(at) == 1 and "" not in at:  # a chain: literal text, no nesting
                ((ch, at),) = at.items()
                run.append(ch)
            steps.append(re.escape("".join(run)) + pattern(at))
        if not steps:
            return ""
        step = steps[0] if len(steps) == 1 else "(?:" + "|".join(steps) + ")"
        return f"(?:{step})?" if "" in node else step

    if not trie:
        return None
    try:
        return re.compile(pattern(trie))
    except (RecursionError, re.error, OverflowError):  # nested too deep for re: to the tokenizer
        log.debug("added tokens too deeply nested to find here: texts go to the tokenizer")
        return _EVERY_CHARACTER


_EVERY_CHARACTER = re.compile(r"[\s\S]")


def _spec_splits_at_newlines(spec: dict[str, Any]) -> bool:
    """True when no token can span a newline, so counts add up line by line: the
    pre-tokenizer splits at every whitespace character and the normalizer before it works
    character by character (it may turn a newline into a space, never join lines). Anything
    else, or anything unknown, is False. ``spec``: the tokenizer's JSON, parsed."""
    pre, norm = spec.get("pre_tokenizer") or {}, spec.get("normalizer")
    pres = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    if not pres or pres[0].get("type") not in _SPLIT_AT_WHITESPACE:
        return False
    if norm is None:
        return True
    norms = norm.get("normalizers", []) if norm.get("type") == "Sequence" else [norm]
    return all(n.get("type") in _CHARACTER_WISE for n in norms)


def _spec_is_bert_wordpiece(spec: dict[str, Any]) -> bool:
    """True for BERT's pipeline as it is (a count is the sum of the counts of its words):
    ``BertNormalizer`` (or none), ``BertPreTokenizer`` alone, and a ``WordPiece`` model."""
    norm = spec.get("normalizer")
    return (
        (norm is None or norm.get("type") == "BertNormalizer")
        and (spec.get("pre_tokenizer") or {}).get("type") == "BertPreTokenizer"
        and (spec.get("model") or {}).get("type") == "WordPiece"
    )


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
