"""One small adapter per chunker, all behind :class:`Peer`.

Every adapter takes the same character budget and turns one file's text into a list of chunk
strings; the harness measures everything else (time, memory, sizes, coverage) the same way for all.

Adding a peer: a module here with a ``Peer`` subclass named ``ADAPTER``, and its name in ``PEERS``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import ClassVar, NamedTuple

__all__ = ["PEERS", "BatchFile", "Peer", "load_peer"]

# name -> module under benchmarks.peers; the order is the order of the tables.
PEERS: dict[str, str] = {
    "codeweaver": "codeweaver_serial",
    "codeweaver-process": "codeweaver_process",
    "chonkie": "chonkie_code",
    "astchunk": "astchunk_cast",
    "llama-index": "llama_index_code",
    "semantic-text-splitter": "semantic_text_splitter",
    "langchain": "langchain_recursive",
    "semchunk": "semchunk_chars",
    "lines": "lines",
    "parse-only": "parse_only",
}


class BatchFile(NamedTuple):
    """A file for :meth:`Peer.chunk_batch`: absolute path, path relative to the corpus, language."""

    path: str
    rel_path: str
    language: str


class Peer(ABC):
    """A chunker under test, configured with a budget in characters.

    Subclasses set the class attributes and implement :meth:`chunk`. ``languages`` is ``None``
    when any language works. ``ast_based`` marks peers that parse the code (the speed comparison
    the issue asks for is against these). ``batch`` peers chunk a whole list of files in one call
    (:meth:`chunk_batch`) and are timed per call, not per file.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    packages: ClassVar[tuple[str, ...]] = ()  # distributions whose versions the results report
    modules: ClassVar[tuple[str, ...]] = ()  # import names that must be present
    languages: ClassVar[frozenset[str] | None] = None
    ast_based: ClassVar[bool] = False
    produces_chunks: ClassVar[bool] = True
    batch: ClassVar[bool] = False
    wants_text: ClassVar[bool] = True  # False: chunk() reads only ``data`` (no decode is timed)
    budget_note: ClassVar[str] = "characters"

    def __init__(self, budget_chars: int) -> None:
        self.budget_chars = budget_chars

    @classmethod
    def missing(cls) -> str | None:
        """Why this peer cannot run here (a module is not installed), or ``None``."""
        for module in cls.modules:
            try:
                found = importlib.util.find_spec(module) is not None
            except ImportError:  # a parent package is missing
                found = False
            if not found:
                return f"{module} is not installed (pip install 'codeweaver[bench]')"
        return None

    @classmethod
    def versions(cls) -> dict[str, str]:
        out: dict[str, str] = {}
        for dist in cls.packages:
            try:
                out[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                out[dist] = "not installed"
        return out

    def supports(self, language: str) -> bool:
        return self.languages is None or language in self.languages

    @abstractmethod
    def chunk(self, text: str, data: bytes, language: str, path: str) -> list[str]:
        """Chunk one file. ``text`` is ``data`` decoded as UTF-8 with replacement."""

    def chunk_batch(
        self, files: Sequence[BatchFile]
    ) -> Iterator[tuple[str, list[str] | BaseException]]:
        """Chunk many files in one call; yields ``(rel_path, chunks or the error)``."""
        raise NotImplementedError


def load_peer(name: str) -> type[Peer]:
    """The adapter class for ``name`` (importing the adapter module, not the peer's package).

    ``name`` is a key of :data:`PEERS`, or ``"module:attribute"`` for an adapter defined
    elsewhere (your own chunker, or a test double).
    """
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        found: type[Peer] = getattr(importlib.import_module(module_name), attribute)
        return found
    if name not in PEERS:
        raise KeyError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    module = importlib.import_module(f"benchmarks.peers.{PEERS[name]}")
    adapter: type[Peer] = module.ADAPTER
    return adapter
