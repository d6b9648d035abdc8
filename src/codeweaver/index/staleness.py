"""How far an index is behind its directory: files new, modified or deleted since, and whether
the chunking settings changed (what ``codeweaver status`` reports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeweaver.config import CodeWeaverSettings
from codeweaver.core.chunks import SkipRecord
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.index.pipeline import (
    UNWALKED_REASONS,
    IndexReport,
    _Run,
    gone_paths,
    same_file,
    skip_changed,
)
from codeweaver.index.store import IndexStore

__all__ = ["Staleness", "check_staleness"]


@dataclass(slots=True)
class Staleness:
    """How far an index is behind its directory.

    Size and mtime decide, except that a file whose size is the same and whose mtime moved is
    hashed: merely touched, it is not modified (as ``index_project`` would find).
    """

    new: int = 0
    modified: int = 0
    deleted: int = 0
    settings_changed: bool = False
    examples: list[str] = field(default_factory=list)

    @property
    def is_stale(self) -> bool:
        return bool(self.new or self.modified or self.deleted or self.settings_changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stale": self.is_stale,
            "new": self.new,
            "modified": self.modified,
            "deleted": self.deleted,
            "settings_changed": self.settings_changed,
            "examples": self.examples,
        }


def check_staleness(
    root: str | Path,
    settings: CodeWeaverSettings,
    store: IndexStore,
    *,
    governor: ChunkGovernor | None = None,
    fingerprint: str | None = None,
    max_examples: int = 10,
) -> Staleness:
    """Compare ``root`` with what ``store`` holds: files new, modified or deleted since.

    ``fingerprint``, when given, is the chunking fingerprint a run would use (instead of
    ``governor``'s): ``codeweaver status`` knows it without loading the embedding model.
    """
    root_path = Path(root).resolve()
    if governor is None:  # (with ``fingerprint`` given, only for the probe's discovery settings)
        governor = ChunkGovernor(settings.chunker)
    out = Staleness()
    states = store.file_states()
    probe = _Run(
        root_path,
        settings,
        governor,
        store,
        IndexReport(root_path, store.db_path),
        full=False,
        progress=None,
    )
    stored = store.fingerprint
    if fingerprint is not None:
        probe.fingerprint = fingerprint
    out.settings_changed = stored is not None and stored != probe.fingerprint
    seen: set[str] = set()
    unwalked: list[str] = []

    def note(rel: str) -> None:
        if len(out.examples) < max_examples:
            out.examples.append(rel)

    for item in probe._discover():
        rel = probe._rel(item.path) if isinstance(item, SkipRecord) else item.rel_path
        if rel is None or probe._is_ours(rel):
            continue
        seen.add(rel)
        if isinstance(item, SkipRecord) and item.reason in UNWALKED_REASONS:
            unwalked.append(rel + "/")
        old = states.get(rel)
        if old is None:
            out.new += 1
            note(f"new: {rel}")
        elif (
            old.status == "failed" or not same_file(old, item)
            if isinstance(item, DiscoveredFile)
            # a file discovery now skips (it became binary, too large...): as index would see it
            else skip_changed(old, item)
        ):
            out.modified += 1
            note(f"modified: {rel}")
    for rel in gone_paths(states, seen, unwalked):  # as index would delete them
        out.deleted += 1
        note(f"deleted: {rel}")
    return out
