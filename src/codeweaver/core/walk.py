"""The discovery walk: depth first, each folder's entries sorted, ignore rules from ``rignore``.

:func:`codeweaver.core.discovery.iter_discovery` is the way in; the rules it follows (what is
walked, links, skips) are in that module's docstring. Here: how the walk applies them without
giving up a reproducible order or streaming, and how it keeps the cost of ignore rules down
(listing several levels per ``rignore`` call, whole subtrees once rules are costly to compile,
no call at all where no ignore file can apply).
"""

from __future__ import annotations

import os
import posixpath
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from codeweaver.core.chunks import SkipRecord
from codeweaver.core.discovery import (
    IGNORE_FILENAME,
    DiscoveredFile,
    _bad_name,
    _describe,
    _examine,
    _is_within,
    _Options,
    _printable,
    _unreadable,
    never_walked,
)
from codeweaver.core.globs import as_patterns

__all__ = ["RULE_FILES", "WalkScope", "Walker"]


@dataclass(slots=True)
class _Block:
    """What one rignore call found: for each folder it listed (by path relative to the folder
    the call started from, "" for that one), the names ignore rules let through. Folders less
    than ``depth`` levels down are listed (an absent one has nothing that passes)."""

    depth: int
    names: dict[str, set[str]]

    def covers(self, in_block: str) -> bool:
        return (in_block.count("/") + 1 if in_block else 0) < self.depth


# A folder to enter: (absolute path, relative path, ignore rules in effect, the block that lists
# it or None, its path within that block, its (st_dev, st_ino)).
_Enter = tuple[str, str, bool, "_Block | None", str, tuple[int, int]]
_Step = DiscoveredFile | SkipRecord | _Enter

RULE_FILES: Final = frozenset({".gitignore", ".ignore", IGNORE_FILENAME})
_LOOKAHEAD: Final = 3
"""Levels one ``rignore`` call lists. Each call has a fixed cost (it reads and compiles the ignore
files of every ancestor), so listing a few levels at once saves most calls; a larger value only
makes the first file wait for a bigger listing. The root's call lists one level, so that the
first file of a large tree comes out quickly.

Where compiling the rules is what costs (a 100,000-line ``.gitignore``: ~0.7 s a call), every
call would pay it again; once a call takes longer than :data:`_COSTLY_LISTING_SECONDS`, each later
call lists its whole subtree (the root's, at once: two calls in all), so every path is matched
once against rules compiled once."""
_COSTLY_LISTING_SECONDS: Final = 0.05
_WHOLE_TREE: Final = 1 << 30  # a _Block depth that covers every level


class WalkScope:
    """The part of the tree a limited walk covers: ``targets`` and everything under them, reached
    through the folders in ``ways`` (every proper ancestor of a target)."""

    __slots__ = ("targets", "ways")

    def __init__(self, targets: set[str], ways: set[str]) -> None:
        self.targets = targets
        self.ways = ways

    @classmethod
    def of(cls, paths: Iterable[str]) -> WalkScope | None:
        """The scope of ``paths`` (None when one of them is the root: the whole tree)."""
        targets: set[str] = set()
        ways: set[str] = set()
        for raw in as_patterns(paths, "paths"):
            rel = posixpath.normpath(raw.replace(os.sep, "/")).strip("/")
            if rel in ("", "."):
                return None
            if rel == ".." or rel.startswith("../"):
                raise ValueError(f"path outside the root: {raw!r}")
            targets.add(rel)
            i = rel.find("/")
            while i != -1:
                ways.add(rel[:i])
                i = rel.find("/", i + 1)
        return cls(targets, ways)

    def covers(self, rel: str) -> bool:
        """True when ``rel`` is a target or lies under one."""
        while rel:
            if rel in self.targets:
                return True
            rel = rel[: max(rel.rfind("/"), 0)]
        return False


class Walker:
    """A depth-first walk, each folder's entries in sorted order, ignore rules from ``rignore``.

    ``rignore`` walks in directory order, which differs between file systems and copies of a
    tree. So the walk is ours (``os.scandir``, sorted) and ``rignore`` only says which names
    pass, a folder at a time (``max_depth``, reading every ignore file from the root down
    through ``parents``): the same decisions, in an order we choose, still streaming. Where no
    ignore file can apply (none in the folder, its ancestors or git's global excludes) the
    ``rignore`` call is skipped: the hidden and VCS rules are applied here in any case.
    """

    __slots__ = (
        "_active",
        "_costly",
        "_opts",
        "_real_root",
        "_root",
        "_root_key",
        "_scope",
        "_visited",
    )

    def __init__(
        self,
        abs_root: str,
        root_key: tuple[int, int],
        opts: _Options,
        scope: WalkScope | None = None,
    ) -> None:
        self._root = abs_root
        self._root_key = root_key
        self._real_root = os.path.realpath(abs_root)
        self._opts = opts
        self._scope = scope
        # (st_dev, st_ino) of every folder walked -> its first relative path: a link to one of
        # them is not followed, which ends symlink cycles
        self._visited: dict[tuple[int, int], str] = {}
        # the folders being walked (the current one and its ancestors): a folder reached by its
        # own path is walked even if a link led into it before, unless it is one of these (a
        # bind mount of an ancestor, a cycle)
        self._active: set[tuple[int, int]] = set()
        # set once a rignore call took long: compiling the rules costs, so list whole subtrees
        self._costly = False

    def walk(self) -> Iterator[DiscoveredFile | SkipRecord]:
        root_key = self._root_key
        self._visited[root_key] = ""
        self._active.add(root_key)
        ruled = self._opts.respect_ignore_files and (
            _global_excludes_exist() or _ancestors_have_rules(self._root)
        )
        # a stack of iterators over sorted folder entries: no recursion, any depth
        stack: list[Iterator[_Step]] = [self._entries(self._root, "", ruled, None, "")]
        keys = [root_key]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
                self._active.discard(keys.pop())
            elif isinstance(item, tuple):
                key = item[5]
                self._active.add(key)
                keys.append(key)
                stack.append(self._entries(*item[:5]))
            else:
                yield item

    def _entries(
        self, abs_dir: str, rel_dir: str, ruled: bool, block: _Block | None, in_block: str
    ) -> Iterator[_Step]:
        """Yield this folder's files and skips, and an :data:`_Enter` for each folder to walk."""
        opts = self._opts
        try:
            with os.scandir(abs_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield _unreadable(abs_dir, exc)
            return
        if opts.respect_ignore_files and not ruled:
            ruled = any(e.name in RULE_FILES for e in entries) or _has_git_excludes(entries)
        scope = self._scope
        inside = scope is None or scope.covers(rel_dir)
        allowed: set[str] | None = None
        if ruled:
            if block is None or not block.covers(in_block):
                block, in_block = self._listing(abs_dir, rel_dir, inside), ""
            allowed = block.names.get(in_block, set())
        for entry in entries:
            name = entry.name
            if never_walked(name, opts.hidden):
                continue
            abs_path = os.path.join(abs_dir, name)
            if _bad_name(name):
                if inside:
                    bad = _printable(abs_path)
                    yield SkipRecord(bad, "bad_filename", "name is not valid UTF-8")
                continue
            if allowed is not None and name not in allowed:
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if not inside and not _on_the_way(scope, rel, entry):
                continue
            for step in self._entry(entry, abs_path, rel):
                if not isinstance(step, tuple):
                    yield step
                    continue
                # a folder: it is in this block (rignore did not descend into a linked
                # folder, so that one gets a call of its own)
                if ruled and block is not None and not entry.is_symlink():
                    yield (
                        step[0],
                        step[1],
                        True,
                        block,
                        f"{in_block}/{name}" if in_block else name,
                        step[5],
                    )
                else:
                    yield (step[0], step[1], ruled, None, "", step[5])

    def _listing(self, abs_dir: str, rel_dir: str, inside: bool) -> _Block:
        """What ignore rules let through from ``abs_dir`` down: a few levels, or the whole
        subtree once rule compilation proved costly (see :data:`_LOOKAHEAD`); one level on the
        way to a limited walk's targets (``inside`` False), since nothing deeper is walked."""
        hidden = self._opts.hidden
        if not inside:
            return _ignore_listing(abs_dir, 1, hidden=hidden)
        if self._costly:
            return _ignore_listing(abs_dir, _WHOLE_TREE, hidden=hidden)
        started = time.thread_time()
        block = _ignore_listing(abs_dir, 1 if not rel_dir else _LOOKAHEAD, hidden=hidden)
        if time.thread_time() - started > _COSTLY_LISTING_SECONDS:
            self._costly = True
            if not rel_dir:  # the root: one more call now saves one per folder
                block = _ignore_listing(abs_dir, _WHOLE_TREE, hidden=hidden)
        return block

    def _entry(self, entry: os.DirEntry[str], abs_path: str, rel: str) -> Iterator[_Step]:
        opts = self._opts
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError as exc:
            yield _unreadable(abs_path, exc)
            return
        if is_link:
            yield from self._symlink(abs_path, rel)
            return
        if is_dir:
            if opts.exclude is not None and opts.exclude(rel + "/"):
                return
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                yield _unreadable(abs_path, exc)
                return
            key = (st.st_dev, st.st_ino)
            if key in self._active:  # a bind mount of a folder being walked: a cycle
                return
            self._visited.setdefault(key, rel)
            yield (abs_path, rel, False, None, "", key)
            return
        if not self._selected(rel):
            return
        try:
            st = entry.stat()
        except OSError as exc:
            yield _unreadable(abs_path, exc)
            return
        yield _examine(abs_path, rel, st, opts)

    def _symlink(self, abs_path: str, rel: str) -> Iterator[_Step]:
        """A link: followed, or one ``symlink`` record. A link to a folder is selected like a
        folder (only ``exclude`` leaves it out), so ``include`` globs naming files cannot hide
        a folder link that is not followed."""
        opts = self._opts
        try:
            st = os.stat(abs_path)
        except OSError as exc:
            if self._selected(rel):
                yield SkipRecord(abs_path, "symlink", f"broken link: {_describe(exc)}")
            return
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_dir:
            if opts.exclude is not None and opts.exclude(rel + "/"):
                return
        elif not self._selected(rel):
            return
        if not opts.follow_symlinks:
            yield SkipRecord(abs_path, "symlink", "not followed (follow_symlinks is off)")
            return
        target = os.path.realpath(abs_path)
        if not _is_within(target, self._real_root):
            yield SkipRecord(abs_path, "symlink", f"points outside the root, to {target}")
            return
        walked_as = self._walked_path(target)
        if walked_as is not None:
            # The target is walked under its own path: following the link would index it twice.
            yield SkipRecord(abs_path, "symlink", f"same as {walked_as!r}, indexed under that path")
            return
        if not is_dir:
            yield _examine(abs_path, rel, st, opts)
            return
        key = (st.st_dev, st.st_ino)
        seen = self._visited.get(key)
        if seen is not None:
            where = repr(seen) if seen else "the root"
            yield SkipRecord(abs_path, "symlink", f"leads to a folder already walked: {where}")
            return
        self._visited[key] = rel
        yield (abs_path, rel, False, None, "", key)

    def _walked_path(self, real_target: str) -> str | None:
        """The target's path relative to the root when the walk reaches it by that path itself.

        Hidden and VCS folders are not walked (unless ``hidden``), so a link into one is the
        only way in; anywhere else inside the root the target has a path of its own.
        """
        rel = os.path.relpath(real_target, self._real_root).replace(os.sep, "/")
        if rel == ".":
            return ""
        parts = rel.split("/")
        if any(never_walked(p, self._opts.hidden) for p in parts):
            return None
        return rel

    def _selected(self, rel: str) -> bool:
        """The include/exclude globs, for a file."""
        opts = self._opts
        if opts.exclude is not None and opts.exclude(rel):
            return False
        return opts.include is None or opts.include(rel)


def _on_the_way(scope: WalkScope | None, rel: str, entry: os.DirEntry[str]) -> bool:
    """In a limited walk, outside its targets: True for a target, or a folder leading to one."""
    if scope is None or rel in scope.targets:
        return True
    if rel not in scope.ways:
        return False
    try:
        return entry.is_dir()  # a folder, or a link to one: the walk decides whether to follow
    except OSError:
        return False


def _ignore_listing(abs_dir: str, depth: int, *, hidden: bool) -> _Block:
    """What ignore rules let through in ``abs_dir``, ``depth`` levels deep."""
    import rignore

    walker = rignore.walk(
        Path(abs_dir),
        max_depth=None if depth >= _WHOLE_TREE else depth,
        ignore_hidden=not hidden,
        read_ignore_files=True,
        read_parents_ignores=True,
        read_git_ignore=True,
        read_git_exclude=True,
        read_global_git_ignore=True,
        require_git=False,
        follow_links=False,
        additional_ignore_paths=[IGNORE_FILENAME],
    )
    prefix = abs_dir if abs_dir.endswith(os.sep) else abs_dir + os.sep
    block = _Block(depth, {})
    it = iter(walker)
    while True:
        try:
            path = next(it)
        except StopIteration:
            break
        except (ValueError, OSError):
            # ValueError: a name that is not UTF-8 (the caller reports it from scandir);
            # OSError: an entry that vanished or cannot be read. Either way, keep listing.
            continue
        if path is None:
            break
        rel = str(path)[len(prefix) :]
        if rel:  # "" is the folder itself
            parent, _, name = rel.rpartition(os.sep)
            block.names.setdefault(parent, set()).add(name)
    return block


def _has_git_excludes(entries: list[os.DirEntry[str]]) -> bool:
    """True if the folder holds a ``.git`` whose ``info/exclude`` has a rule (or a ``.git`` file,
    a worktree link, which is not worth resolving)."""
    for e in entries:
        if e.name != ".git":
            continue
        if not e.is_dir():
            return True
        return _has_rules(os.path.join(e.path, "info", "exclude"))
    return False


def _has_rules(path: str) -> bool:
    """True if the gitignore-syntax file at ``path`` holds a pattern (not only comments)."""
    try:
        with open(path, "rb") as fh:
            return any(line.strip() and not line.startswith(b"#") for line in fh)
    except OSError:
        return False


def _ancestors_have_rules(abs_root: str) -> bool:
    """True if an ignore file above the root applies inside it (``parents``, as ripgrep reads
    them: up to and including the enclosing git repository's top folder)."""
    current = os.path.dirname(abs_root)
    while True:
        if any(os.path.exists(os.path.join(current, name)) for name in RULE_FILES):
            return True
        git = os.path.join(current, ".git")
        if os.path.isdir(git):
            return _has_rules(os.path.join(git, "info", "exclude"))
        if os.path.exists(git):
            return True
        parent = os.path.dirname(current)
        if parent == current:
            return False
        current = parent


def _global_excludes_exist() -> bool:
    """True if git's global excludes file may hold rules (``core.excludesFile`` is set, or the
    default ``$XDG_CONFIG_HOME/git/ignore`` exists). Errs towards True: then rignore decides."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    if _has_rules(os.path.join(xdg, "git", "ignore")):
        return True
    for config in (os.path.join(home, ".gitconfig"), os.path.join(xdg, "git", "config")):
        try:
            with open(config, "rb") as fh:
                if b"excludesfile" in fh.read().lower():
                    return True
        except OSError:
            continue
    return False
