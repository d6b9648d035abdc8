"""Worker functions: per-file outcomes, the compact wire form, the per-process initializer."""

from __future__ import annotations

import dataclasses
import io
import pickle
from pathlib import Path

import cloudpickle
import pytest

from codeweaver.config.chunker import ChunkerSettings
from codeweaver.core.chunks import CodeChunk, Span
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.engine.chunker import worker
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.worker import (
    chunk_batch,
    decode_result,
    encode_result,
    failure_from_exception,
    init_worker,
    process_file,
    process_file_compact,
)

PY_SOURCE = '''"""A module."""
import os


def first(a, b):
    """Add."""
    return a + b


class Thing:
    def method(self):
        return "héllo wörld"
'''


class _BuiltinsOnly(pickle.Unpickler):
    """Refuses every class reference: what it loads is tuples, lists and scalars only."""

    def find_class(self, module: str, name: str) -> object:
        raise AssertionError(f"the wire form references {module}.{name}")


def _file(path: Path, language: str = "python") -> DiscoveredFile:
    st = path.stat()
    return DiscoveredFile(str(path), path.name, language, st.st_size, st.st_mtime_ns)


@pytest.fixture
def governor() -> ChunkGovernor:
    return ChunkGovernor(max_chunk_chars=120, min_chunk_chars=0)  # every tiny definition apart


@pytest.fixture
def corpus(tmp_path: Path) -> dict[str, DiscoveredFile]:
    (tmp_path / "ok.py").write_text(PY_SOURCE, encoding="utf-8")
    (tmp_path / "crlf.py").write_bytes(PY_SOURCE.replace("\n", "\r\n").encode())
    (tmp_path / "empty.py").write_bytes(b"")
    (tmp_path / "bin.py").write_bytes(b"\x00\x01\x02binary" * 10)
    (tmp_path / "notes.txt").write_text("plain text\n\nsecond paragraph\n", encoding="utf-8")
    files = {name: _file(tmp_path / name) for name in ("ok.py", "crlf.py", "empty.py", "bin.py")}
    files["notes.txt"] = _file(tmp_path / "notes.txt", "text")
    files["gone.py"] = DiscoveredFile(str(tmp_path / "gone.py"), "gone.py", "python", 10, 0)
    return files


def test_process_file_chunks_a_file(
    corpus: dict[str, DiscoveredFile], governor: ChunkGovernor
) -> None:
    result = process_file(corpus["ok.py"], governor)
    assert result.status == "chunked"
    assert result.skip is None and result.failure is None
    assert "".join(c.content for c in result.chunks) == PY_SOURCE
    assert all(c.path == "ok.py" for c in result.chunks)
    assert result.file_hash is not None and len(result.file_hash) == 32
    assert result.seconds >= 0


def test_process_file_accounts_for_every_outcome(
    corpus: dict[str, DiscoveredFile], governor: ChunkGovernor
) -> None:
    binary = process_file(corpus["bin.py"], governor)
    assert binary.status == "skipped" and binary.skip is not None
    assert binary.skip.reason == "binary" and binary.chunks == []
    assert binary.file_hash is not None  # the bytes were read before the skip

    gone = process_file(corpus["gone.py"], governor)  # deleted since it was found
    assert gone.status == "skipped" and gone.skip is not None
    assert gone.skip.reason == "vanished"
    assert gone.skip.path == corpus["gone.py"].path
    assert gone.file_hash is None

    beneath = corpus["ok.py"].path + "/inner.py"  # a folder in its path is a file
    unreadable = process_file(DiscoveredFile(beneath, "inner.py", "python", 1, 0), governor)
    assert unreadable.status == "failed" and unreadable.failure is not None
    assert unreadable.failure.stage == "read"
    assert "NotADirectoryError" in unreadable.failure.message

    empty = process_file(corpus["empty.py"], governor)
    assert empty.status == "chunked" and empty.chunks == []


def test_a_token_counter_that_raises_fails_only_that_file(
    corpus: dict[str, DiscoveredFile],
) -> None:
    def counter(text: str) -> int:
        if "wörld" in text:
            raise ValueError("the tokenizer choked")
        return len(text) // 3

    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=200), token_counter=counter)
    result = process_file(corpus["ok.py"], gov)
    assert result.status == "failed" and result.failure is not None
    assert result.failure.stage == "chunk"
    assert result.failure.error_type == "ValueError"
    assert "the tokenizer choked" in result.failure.message
    assert "counter" in result.failure.traceback  # formatted where it happened
    assert process_file(corpus["notes.txt"], gov).status == "chunked"


def test_a_zero_timeout_is_reported_with_stage_timeout(corpus: dict[str, DiscoveredFile]) -> None:
    gov = ChunkGovernor(max_chunk_chars=120)
    result = process_file(corpus["ok.py"], gov, timeout=-1.0)
    assert result.status == "failed" and result.failure is not None
    assert result.failure.stage == "timeout"
    assert result.failure.error_type == "ChunkTimeoutError"


@pytest.mark.parametrize("name", ["ok.py", "crlf.py", "empty.py", "bin.py", "notes.txt", "gone.py"])
def test_encode_decode_round_trip_is_exact(
    corpus: dict[str, DiscoveredFile], governor: ChunkGovernor, name: str
) -> None:
    result = process_file(corpus[name], governor)
    compact = encode_result(result)
    # Only builtins cross the pipe: plain pickle, no codeweaver classes inside.
    payload = pickle.dumps(compact)
    assert decode_result(_BuiltinsOnly(io.BytesIO(payload)).load(), corpus[name]) == result


@pytest.mark.parametrize("name", ["ok.py", "crlf.py", "empty.py", "bin.py", "notes.txt", "gone.py"])
def test_the_compact_result_a_worker_ships_is_the_encoded_result(
    corpus: dict[str, DiscoveredFile], governor: ChunkGovernor, name: str
) -> None:
    """Workers ship rows made without CodeChunk objects: the same wire form, seconds aside."""
    file = corpus[name]
    compact = process_file_compact(file, governor)
    expected = encode_result(process_file(file, governor))
    # (status, rows) and (file_hash, skip, failure); language and chunker matter with rows only
    assert compact[:2] == expected[:2] and compact[4:7] == expected[4:7]
    back = decode_result(_BuiltinsOnly(io.BytesIO(pickle.dumps(compact))).load(), file)
    assert dataclasses.replace(back, seconds=0.0) == dataclasses.replace(
        decode_result(expected, file), seconds=0.0
    )
    assert back.chunks == process_file(file, governor).chunks
    if name in ("ok.py", "crlf.py"):
        assert len(back.chunks) > 2 and compact[2:4] == ("python", "semantic")
        assert [c.ordinal for c in back.chunks] == list(range(len(back.chunks)))
        assert {c.path for c in back.chunks} == {file.rel_path}


def test_encode_result_refuses_chunks_that_are_not_one_files_in_order(
    corpus: dict[str, DiscoveredFile], governor: ChunkGovernor
) -> None:
    """The wire form keeps a chunk's path, ordinal, language and chunker once per file: a result
    whose chunks disagree with that is refused, not shipped wrong."""
    result = process_file(corpus["ok.py"], governor)
    swapped = [result.chunks[1], result.chunks[0], *result.chunks[2:]]
    with pytest.raises(ValueError, match="wire form"):
        encode_result(dataclasses.replace(result, chunks=swapped))
    other = [dataclasses.replace(c, path="elsewhere.py") for c in result.chunks]
    with pytest.raises(ValueError, match="wire form"):
        encode_result(dataclasses.replace(result, chunks=other))


def test_failure_record_survives_an_unpicklable_exception() -> None:
    class Unpicklable(Exception):
        def __init__(self) -> None:
            super().__init__("cannot travel")
            self.handle = lambda: None

        def __reduce__(self) -> object:
            raise TypeError("no pickling")

    try:
        raise Unpicklable()
    except Unpicklable as exc:
        record = failure_from_exception("/x.py", exc)
    assert record.error_type == "Unpicklable"
    assert record.message == "cannot travel"
    assert pickle.loads(pickle.dumps(record)) == record


def test_init_worker_installs_a_governor_with_a_lambda(
    corpus: dict[str, DiscoveredFile], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "_governor", None)
    monkeypatch.setattr(worker, "_governor_digest", None)
    with pytest.raises(RuntimeError, match="init_worker"):
        worker.current_governor()
    gov = ChunkGovernor(ChunkerSettings(max_chunk_tokens=50), token_counter=lambda s: len(s) // 2)
    blob = cloudpickle.dumps(gov)
    init_worker(blob)
    installed = worker.current_governor()
    init_worker(blob)  # idempotent: the same object stays
    assert worker.current_governor() is installed
    batch = [corpus["ok.py"], corpus["bin.py"], corpus["gone.py"]]
    started: list[int] = []
    results = chunk_batch(batch, on_start=started.append)
    assert started == [0, 1, 2]
    assert [r[0] for r in results] == ["chunked", "skipped", "skipped"]  # gone.py vanished
    expected = [encode_result(process_file(f, gov)) for f in batch]
    assert [r[:5] for r in results] == [e[:5] for e in expected]


def test_init_worker_rejects_something_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_governor", None)
    monkeypatch.setattr(worker, "_governor_digest", None)
    with pytest.raises(TypeError, match="ChunkGovernor"):
        init_worker(cloudpickle.dumps({"not": "a governor"}))


def test_decoded_chunks_equal_the_chunks_the_worker_made(
    corpus: dict[str, DiscoveredFile], governor: ChunkGovernor
) -> None:
    """The trusted row decoder builds exactly what a validated constructor builds."""
    seen = 0
    for file in corpus.values():
        direct = process_file(file, governor).chunks
        decoded = decode_result(encode_result(process_file(file, governor)), file).chunks
        for made, back in zip(direct, decoded, strict=True):
            rebuilt = CodeChunk(
                made.path,
                made.language,
                made.content,
                Span(made.start_byte, made.end_byte, made.start_line, made.end_line),
                made.kinds,
                made.symbol_path,
                made.ordinal,
                made.oversized,
                made.chunker,
            )
            assert back == made == rebuilt and repr(back) == repr(rebuilt)
            assert back.content_hash == rebuilt.content_hash and back.chunk_id == rebuilt.chunk_id
            seen += 1
    assert seen > 5
