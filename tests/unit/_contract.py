"""The chunk contract as one assertion, shared by the chunker tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from codeweaver.core.chunks import CodeChunk


def assert_contract(
    data: bytes,
    chunks: Sequence[CodeChunk],
    budget: int,
    size: Callable[[str], int] = len,
) -> None:
    """Ordered, non-overlapping, covering, lossless, offsets match content, lines right, in budget."""
    text = data.decode("utf-8", "replace")
    assert "".join(c.content for c in chunks) == text, "joined chunks must give the file back"
    pos = 0
    line = 1  # the line chunk i starts on
    for i, c in enumerate(chunks):
        assert c.ordinal == i
        assert c.start_byte == pos, f"chunk {i} starts at {c.start_byte}, expected {pos}"
        assert c.end_byte > c.start_byte, f"chunk {i} is empty"
        assert c.content == data[c.start_byte : c.end_byte].decode("utf-8", "replace")
        assert c.start_line == line, f"chunk {i} starts on line {c.start_line}, expected {line}"
        body = data[c.start_byte : c.end_byte]
        assert c.end_line == c.start_line + body[:-1].count(b"\n")
        line += body.count(b"\n")
        if not c.oversized:
            assert size(c.content) <= budget, (
                f"chunk {i} is over budget: {size(c.content)} > {budget}"
            )
        pos = c.end_byte
    assert pos == len(data)
