"""File discovery: which files under a root get chunked, as a stream of plain records.

:func:`discover_files` walks a directory and yields one :class:`DiscoveredFile` per text file to
chunk; :func:`iter_discovery` yields the same files and, in their place in the walk, one
:class:`~codeweaver.core.chunks.SkipRecord` per file it deliberately leaves out, so nothing is
dropped silently. Both are lazy: the first file comes out long before a large walk ends.

What is walked (the ripgrep rules, through ``rignore``, the ``ignore`` crate):

- ``.gitignore`` (nested ones too, with negations), ``.ignore`` and ``.codeweaverignore`` files,
  ``.git/info/exclude`` and the global git excludes file, whether or not the root is a git
  repository; like ripgrep, ignore files in the root's parent directories count as well;
- hidden files and folders are left out unless ``hidden=True``; VCS folders (``.git``, ``.hg``,
  ``.svn``, ...) always are, and so is compiled Python (``__pycache__`` folders, ``.pyc`` and
  ``.pyo`` files): binary by construction, they are not even opened;
- ``include``/``exclude`` globs match the POSIX path relative to the root: ``*`` stays within a
  path segment, ``**`` spans segments, ``{a,b}`` alternates, a pattern without ``/`` matches the
  name at any depth (``*.py``), and a pattern that names a folder covers what is inside it
  (``tests``, ``tests/**`` and ``tests/`` alike); an excluded folder is not descended into;
- every file is found once, under its own path: a symbolic link to a file or folder inside the
  root is not followed (its target is walked where it lies), except into a hidden folder the walk
  does not enter; a link out of the root is never followed; so cycles end, and a folder linked
  from elsewhere in the tree (``serde/src/core -> ../../serde_core/src``) is indexed once.

Each directory's entries are visited in sorted (code point) order, depth first (``a/b/c.py``
before ``a/b.py``), so two runs over the same tree give the same sequence. The walk is not a
snapshot: a file created during it is found if its folder has not been listed yet.

Each candidate costs one ``stat`` and one read of at most :data:`HEAD_BYTES` bytes, used to
detect binary files and to sniff the language. Every text file is yielded: a file no rule names
gets the language ``text`` (the delimiter chunker's kind).

Skip reasons (``SkipRecord.reason``), the complete set:

``binary``        the first :data:`HEAD_BYTES` bytes hold a NUL byte (UTF-16/32 text counts too)
``too_large``     bigger than ``max_file_bytes``
``unreadable``    a permission error or an I/O error
``vanished``      the file or folder was deleted between listing and reading
``bad_filename``  the name is not valid UTF-8 (a folder's contents are skipped with it); the
                  record's path shows the undecodable bytes as ``\\xNN``
``symlink``       a link not followed: outside the root, broken, to a file or folder walked
                  under its own path, back into a walked folder, or ``follow_symlinks=False``
``not_regular``   a FIFO, socket or device file (reading one could block); files are opened
                  without blocking and checked again once open, so one that becomes a FIFO after
                  it was listed is caught too (:func:`codeweaver.core.fileio.open_regular`)
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from codeweaver.core.chunks import SkipRecord
from codeweaver.core.errors import DiscoveryError
from codeweaver.core.fileio import NotRegularFileError, open_regular
from codeweaver.core.languages import TEXT, language_for_path

if TYPE_CHECKING:
    from codeweaver.config.settings import CodeWeaverSettings, DiscoverySettings

__all__ = [
    "BYTECODE_DIRS",
    "BYTECODE_SUFFIXES",
    "HEAD_BYTES",
    "IGNORE_FILENAME",
    "SKIP_REASONS",
    "VCS_DIRS",
    "DiscoveredFile",
    "DiscoveryItem",
    "DiscoverySummary",
    "discover_files",
    "iter_discovery",
    "summarize_discovery",
]

log = logging.getLogger(__name__)

HEAD_BYTES: Final = 8192
"""How much of each file discovery reads (binary detection and language sniffing)."""

IGNORE_FILENAME: Final = ".codeweaverignore"
"""A gitignore-syntax file read like ``.ignore``, for rules meant only for codeweaver."""

VCS_DIRS: Final = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", ".jj", ".pijul", "CVS"})
BYTECODE_DIRS: Final = frozenset({"__pycache__"})
BYTECODE_SUFFIXES: Final = (".pyc", ".pyo")
"""Compiled Python, never walked or read (like VCS folders, they produce no skip record)."""
"""Version-control folders, never walked, even with ``hidden=True``."""

SKIP_REASONS: Final = frozenset(
    {"binary", "too_large", "unreadable", "vanished", "bad_filename", "symlink", "not_regular"}
)
"""Every value ``SkipRecord.reason`` takes in discovery (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class DiscoveredFile:
    """One file to chunk. Plain data: picklable by plain ``pickle``, cheap to ship to workers.

    ``path`` is absolute; ``rel_path`` is POSIX-style and relative to the discovery root (it is what
    chunks, ids and the index use, so they do not change when a checkout moves).
    ``content_hash`` is set by :meth:`from_path` only: discovery does not read whole files (the
    worker that chunks a file hashes the bytes it read: ``FileResult.file_hash``).
    """

    path: str
    rel_path: str
    language: str
    size: int
    mtime_ns: int
    content_hash: str | None = None

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike[str],
        root: str | os.PathLike[str] | None = None,
        *,
        max_file_bytes: int | None = None,
        hash_content: bool = True,
    ) -> DiscoveredFile:
        """Describe one file as discovery would: language (by name, then by its first bytes),
        size, mtime and, unless ``hash_content`` is False, the hash of its content.

        ``rel_path`` is relative to ``root`` (default: the working directory), or the absolute
        POSIX path when the file is not under it.

        Example:
            >>> f = DiscoveredFile.from_path("src/app.py")  # doctest: +SKIP
            >>> f.language, f.rel_path  # doctest: +SKIP
            ('python', 'src/app.py')

        Raises:
            DiscoveryError: the file is missing, unreadable or not a regular file.
            FileSkippedError: it is binary or larger than ``max_file_bytes`` (default:
                ``ChunkerSettings.max_file_bytes``), as discovery would skip it.
        """
        from codeweaver.core.chunks import content_hash
        from codeweaver.core.errors import FileSkippedError

        abs_path = os.path.abspath(os.fspath(path))
        base = os.path.abspath(os.fspath(root)) if root is not None else os.getcwd()
        rel = os.path.relpath(abs_path, base) if _is_within(abs_path, base) else abs_path
        rel_path = Path(rel).as_posix()
        try:
            st = os.stat(abs_path)
        except OSError as exc:
            raise DiscoveryError(f"cannot read {abs_path}: {exc.strerror or exc}") from None
        opts = _resolve_options(
            None,
            include=None,
            exclude=None,
            hidden=None,
            respect_ignore_files=None,
            follow_symlinks=None,
            max_file_bytes=max_file_bytes,
        )
        found = _examine(abs_path, rel_path, st, opts)
        if isinstance(found, SkipRecord):
            if found.reason in ("binary", "too_large"):
                raise FileSkippedError(found.reason, found.detail)
            raise DiscoveryError(f"cannot read {abs_path}: {found.reason} ({found.detail})")
        if not hash_content:
            return found
        try:
            fh, _ = open_regular(abs_path)
            with fh:
                digest = content_hash(fh.read())
        except OSError as exc:
            raise DiscoveryError(f"cannot read {abs_path}: {exc.strerror or exc}") from None
        return cls(found.path, found.rel_path, found.language, found.size, found.mtime_ns, digest)


DiscoveryItem = DiscoveredFile | SkipRecord
"""What :func:`iter_discovery` yields."""


@dataclass(slots=True)
class DiscoverySummary:
    """Counts over one discovery run: files by language, skips by reason, bytes to chunk.

    Feed it items with :meth:`add` while streaming, or build it with :func:`summarize_discovery`.
    """

    root: str
    files_by_language: Counter[str] = field(default_factory=Counter)
    skips_by_reason: Counter[str] = field(default_factory=Counter)
    total_bytes: int = 0

    @property
    def files(self) -> int:
        """How many files discovery yields for chunking."""
        return sum(self.files_by_language.values())

    @property
    def skipped(self) -> int:
        """How many files (or folders, for ``unreadable``/``bad_filename``) were skipped."""
        return sum(self.skips_by_reason.values())

    def add(self, item: DiscoveredFile | SkipRecord) -> None:
        """Count one item from :func:`iter_discovery`."""
        if isinstance(item, SkipRecord):
            self.skips_by_reason[item.reason] += 1
        else:
            self.files_by_language[item.language] += 1
            self.total_bytes += item.size


# --------------------------------------------------------------------------------------------
# public entry points


def discover_files(
    root: str | os.PathLike[str],
    *,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    hidden: bool | None = None,
    respect_ignore_files: bool | None = None,
    follow_symlinks: bool | None = None,
    max_file_bytes: int | None = None,
    settings: DiscoverySettings | CodeWeaverSettings | None = None,
    on_skip: Callable[[SkipRecord], None] | None = None,
) -> Iterator[DiscoveredFile]:
    """Yield the files under ``root`` to chunk, lazily, in a reproducible order.

    Args:
        root: the folder to walk; a single file yields just that file (ignore rules and globs
            are not applied to a file named explicitly).
        include: globs; when given, only files matching one of them.
        exclude: globs left out (folders matching are not descended into).
        hidden: walk hidden files and folders (default False).
        respect_ignore_files: honour ``.gitignore``, ``.ignore`` and ``.codeweaverignore``
            (default True).
        follow_symlinks: follow links that stay inside the root (default True).
        max_file_bytes: larger files are skipped (default ``ChunkerSettings.max_file_bytes``).
        settings: where the arguments left as None come from; a ``CodeWeaverSettings`` also
            supplies ``chunker.max_file_bytes``. Explicit arguments win over it.
        on_skip: called with each :class:`SkipRecord`; without it skips are logged at DEBUG.

    Raises:
        DiscoveryError: ``root`` does not exist, cannot be listed or is not a folder or file.
            Raised by the call itself, before the first file.

    Example:
        >>> for f in discover_files("src", include=["**/*.py"]):  # doctest: +SKIP
        ...     print(f.rel_path, f.language, f.size)
    """
    items = iter_discovery(
        root,
        include=include,
        exclude=exclude,
        hidden=hidden,
        respect_ignore_files=respect_ignore_files,
        follow_symlinks=follow_symlinks,
        max_file_bytes=max_file_bytes,
        settings=settings,
    )
    return _only_files(items, on_skip)


def iter_discovery(
    root: str | os.PathLike[str],
    *,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    hidden: bool | None = None,
    respect_ignore_files: bool | None = None,
    follow_symlinks: bool | None = None,
    max_file_bytes: int | None = None,
    settings: DiscoverySettings | CodeWeaverSettings | None = None,
    paths: Iterable[str] | None = None,
) -> Iterator[DiscoveredFile | SkipRecord]:
    """Like :func:`discover_files`, but also yields a :class:`SkipRecord` for each file left out.

    Skip records carry the absolute path (``bad_filename`` ones with ``\\xNN`` escapes).
    Files excluded by ignore files, globs, the hidden rule or VCS folders produce no record:
    they are not candidates.

    ``paths`` limits the walk to these POSIX paths relative to the root (files or folders, which
    need not exist): only the folders on the way to them are listed, and only items at or under
    them are yielded, decided by the same rules as in a full walk (a path under an ignored or
    hidden folder yields nothing). ``""`` or ``"."`` among them means the whole tree.
    """
    opts = _resolve_options(
        settings,
        include=include,
        exclude=exclude,
        hidden=hidden,
        respect_ignore_files=respect_ignore_files,
        follow_symlinks=follow_symlinks,
        max_file_bytes=max_file_bytes,
    )
    abs_root, st = _check_root(root)
    if stat.S_ISDIR(st.st_mode):
        scope = None if paths is None else _Scope.of(paths)
        return _Walker(abs_root, (st.st_dev, st.st_ino), opts, scope).walk()
    return _single_file(abs_root, opts)


def summarize_discovery(
    root: str | os.PathLike[str],
    *,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    hidden: bool | None = None,
    respect_ignore_files: bool | None = None,
    follow_symlinks: bool | None = None,
    max_file_bytes: int | None = None,
    settings: DiscoverySettings | CodeWeaverSettings | None = None,
) -> DiscoverySummary:
    """Walk ``root`` (same arguments as :func:`discover_files`) and count what discovery found."""
    items = iter_discovery(  # first: it checks ``root`` and raises DiscoveryError
        root,
        include=include,
        exclude=exclude,
        hidden=hidden,
        respect_ignore_files=respect_ignore_files,
        follow_symlinks=follow_symlinks,
        max_file_bytes=max_file_bytes,
        settings=settings,
    )
    summary = DiscoverySummary(root=os.path.abspath(os.fspath(root)))
    for item in items:
        summary.add(item)
    return summary


def _only_files(
    items: Iterator[DiscoveredFile | SkipRecord], on_skip: Callable[[SkipRecord], None] | None
) -> Iterator[DiscoveredFile]:
    for item in items:
        if isinstance(item, SkipRecord):
            if on_skip is not None:
                on_skip(item)
            else:
                log.debug("skipped %s: %s %s", item.path, item.reason, item.detail)
        else:
            yield item


# --------------------------------------------------------------------------------------------
# options


@dataclass(frozen=True, slots=True)
class _Options:
    include: Callable[[str], bool] | None
    exclude: Callable[[str], bool] | None
    hidden: bool
    respect_ignore_files: bool
    follow_symlinks: bool
    max_file_bytes: int


def _resolve_options(
    settings: DiscoverySettings | CodeWeaverSettings | None,
    *,
    include: Iterable[str] | None,
    exclude: Iterable[str] | None,
    hidden: bool | None,
    respect_ignore_files: bool | None,
    follow_symlinks: bool | None,
    max_file_bytes: int | None,
) -> _Options:
    """Explicit arguments > ``settings`` > defaults."""
    from codeweaver.config.chunker import ChunkerSettings
    from codeweaver.config.settings import CodeWeaverSettings, DiscoverySettings

    if isinstance(settings, CodeWeaverSettings):
        disc = settings.discovery
        size_limit = settings.chunker.max_file_bytes
    else:
        disc = settings if settings is not None else DiscoverySettings()
        size_limit = ChunkerSettings.model_fields["max_file_bytes"].default
    if max_file_bytes is not None:
        if max_file_bytes < 1:
            raise ValueError(f"max_file_bytes must be positive, got {max_file_bytes}")
        size_limit = max_file_bytes
    inc = tuple(disc.include if include is None else _as_patterns(include, "include"))
    exc = tuple(disc.exclude if exclude is None else _as_patterns(exclude, "exclude"))
    return _Options(
        include=_compile_globs(inc),
        exclude=_compile_globs(exc),
        hidden=disc.hidden if hidden is None else hidden,
        respect_ignore_files=(
            disc.respect_ignore_files if respect_ignore_files is None else respect_ignore_files
        ),
        follow_symlinks=disc.follow_symlinks if follow_symlinks is None else follow_symlinks,
        max_file_bytes=size_limit,
    )


def _as_patterns(patterns: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(patterns, str):  # a lone string would be iterated character by character
        return (patterns,)
    out = tuple(patterns)
    for p in out:
        if not isinstance(p, str):
            raise TypeError(f"{what} patterns must be strings, got {p!r}")
    return out


def _compile_globs(patterns: tuple[str, ...]) -> Callable[[str], bool] | None:
    """One matcher for all ``patterns`` (None when there are none)."""
    parts = [_glob_to_regex(p) for p in patterns if p.strip()]
    if not parts:
        return None
    rx = re.compile("|".join(f"(?:{p})" for p in parts), re.DOTALL)

    def matches(rel_path: str) -> bool:
        return rx.fullmatch(rel_path) is not None

    return matches


def _glob_to_regex(pattern: str) -> str:
    """Translate a glob to a regex over POSIX relative paths (see the module docstring)."""
    pat = pattern.strip()
    if pat.startswith("./"):
        pat = pat[1:]  # "./src" is "/src": relative to the root
    anchored = pat.startswith("/")
    pat = pat.strip("/")
    body = _translate(pat)
    if not anchored and "/" not in pat:
        body = "(?:.*/)?" + body  # a bare name matches at any depth
    return body + "(?:/.*)?"  # a folder covers what is inside it


def _translate(pat: str) -> str:
    out: list[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "*":
            if pat.startswith("**", i):
                j = i + 2
                at_segment_start = i == 0 or pat[i - 1] == "/"
                if at_segment_start and j < n and pat[j] == "/":
                    out.append("(?:.*/)?")  # "**/" is zero or more folders
                    i = j + 1
                else:
                    out.append(".*")
                    i = j
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            negated = pat.startswith(("[!", "[^"), i)
            end = pat.find("]", i + 2 if negated else i + 1)  # "[]]" holds a literal "]"
            if end == -1:
                out.append(re.escape(c))
            else:
                inner = pat[i + 1 : end]
                if inner[:1] in ("!", "^"):
                    inner = "^" + inner[1:]
                out.append("[" + inner.replace("\\", "\\\\") + "]")
                i = end
        elif c == "{":
            end = pat.find("}", i)
            if end == -1:
                out.append(re.escape(c))
            else:
                alternatives = pat[i + 1 : end].split(",")
                out.append("(?:" + "|".join(_translate(a) for a in alternatives) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------------------------
# the walk


def _check_root(root: str | os.PathLike[str]) -> tuple[str, os.stat_result]:
    """The absolute root and its one ``stat`` (the walk reuses it: no second look that could
    fail after the call returned)."""
    try:
        raw = os.fspath(root)
    except TypeError as exc:
        raise DiscoveryError(f"discovery root must be a path, got {root!r}") from exc
    abs_root = os.path.abspath(raw)
    if _bad_name(abs_root):
        raise DiscoveryError(f"discovery root is not valid UTF-8: {_printable(abs_root)}")
    try:
        st = os.stat(abs_root)
    except OSError as exc:
        raise DiscoveryError(f"discovery root does not exist: {abs_root}") from exc
    if stat.S_ISDIR(st.st_mode):
        try:
            with os.scandir(abs_root):
                pass
        except OSError as exc:
            raise DiscoveryError(f"cannot list discovery root {abs_root}: {exc.strerror}") from exc
    elif not stat.S_ISREG(st.st_mode):
        raise DiscoveryError(f"discovery root is not a folder or a regular file: {abs_root}")
    return abs_root, st


def _single_file(abs_path: str, opts: _Options) -> Iterator[DiscoveredFile | SkipRecord]:
    try:
        st = os.stat(abs_path)
    except OSError as exc:
        yield _unreadable(abs_path, exc)
        return
    yield _examine(abs_path, os.path.basename(abs_path), st, opts)


def _examine(
    abs_path: str, rel_path: str, st: os.stat_result, opts: _Options
) -> DiscoveredFile | SkipRecord:
    """Decide one regular-or-not file: size, readability, binary, language."""
    if not stat.S_ISREG(st.st_mode):
        return SkipRecord(abs_path, "not_regular", "not a regular file")
    if st.st_size > opts.max_file_bytes:
        return SkipRecord(abs_path, "too_large", f"{st.st_size} bytes > {opts.max_file_bytes}")
    try:
        fh, st = open_regular(abs_path)  # it may have become a FIFO since it was listed
        with fh:
            head = fh.read(HEAD_BYTES)
    except NotRegularFileError:
        return SkipRecord(abs_path, "not_regular", "not a regular file")
    except OSError as exc:
        return _unreadable(abs_path, exc)
    if b"\0" in head:
        return SkipRecord(abs_path, "binary", f"NUL byte in the first {len(head)} bytes")
    language = language_for_path(rel_path, head) or TEXT
    return DiscoveredFile(abs_path, rel_path, language, st.st_size, st.st_mtime_ns)


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

_RULE_FILES: Final = frozenset({".gitignore", ".ignore", IGNORE_FILENAME})
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


class _Scope:
    """The part of the tree a limited walk covers: ``targets`` and everything under them, reached
    through the folders in ``ways`` (every proper ancestor of a target)."""

    __slots__ = ("targets", "ways")

    def __init__(self, targets: set[str], ways: set[str]) -> None:
        self.targets = targets
        self.ways = ways

    @classmethod
    def of(cls, paths: Iterable[str]) -> _Scope | None:
        """The scope of ``paths`` (None when one of them is the root: the whole tree)."""
        targets: set[str] = set()
        ways: set[str] = set()
        for raw in _as_patterns(paths, "paths"):
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


class _Walker:
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
        self, abs_root: str, root_key: tuple[int, int], opts: _Options, scope: _Scope | None = None
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
            ruled = any(e.name in _RULE_FILES for e in entries) or _has_git_excludes(entries)
        scope = self._scope
        inside = scope is None or scope.covers(rel_dir)
        allowed: set[str] | None = None
        if ruled:
            if block is None or not block.covers(in_block):
                block, in_block = self._listing(abs_dir, rel_dir, inside), ""
            allowed = block.names.get(in_block, set())
        for entry in entries:
            name = entry.name
            if (
                name in VCS_DIRS
                or name in BYTECODE_DIRS
                or name.endswith(BYTECODE_SUFFIXES)
                or (not opts.hidden and name.startswith("."))
            ):
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
        if any(p in VCS_DIRS or (not self._opts.hidden and p.startswith(".")) for p in parts):
            return None
        return rel

    def _selected(self, rel: str) -> bool:
        """The include/exclude globs, for a file."""
        opts = self._opts
        if opts.exclude is not None and opts.exclude(rel):
            return False
        return opts.include is None or opts.include(rel)


def _on_the_way(scope: _Scope | None, rel: str, entry: os.DirEntry[str]) -> bool:
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
        if any(os.path.exists(os.path.join(current, name)) for name in _RULE_FILES):
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


# --------------------------------------------------------------------------------------------
# small helpers


def _bad_name(name: str) -> bool:
    """True for a name holding surrogate escapes (bytes that are not UTF-8)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _printable(path: str) -> str:
    """``path`` with undecodable bytes shown as ``\\xNN``: safe to log, print and store."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _unreadable(path: str, exc: OSError) -> SkipRecord:
    """The skip for a file or folder that could not be read: ``vanished`` when it is gone."""
    reason = "vanished" if isinstance(exc, FileNotFoundError) else "unreadable"
    return SkipRecord(path, reason, _describe(exc))


def _describe(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"
