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
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from codeweaver.core.chunks import SkipRecord
from codeweaver.core.errors import DiscoveryError
from codeweaver.core.fileio import NotRegularFileError, open_regular
from codeweaver.core.globs import as_patterns, compile_globs
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
    "never_walked",
    "summarize_discovery",
]

log = logging.getLogger(__name__)

HEAD_BYTES: Final = 8192
"""How much of each file discovery reads (binary detection and language sniffing)."""

IGNORE_FILENAME: Final = ".codeweaverignore"
"""A gitignore-syntax file read like ``.ignore``, for rules meant only for codeweaver."""

VCS_DIRS: Final = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", ".jj", ".pijul", "CVS"})
"""Version-control folders, never walked, even with ``hidden=True``."""
BYTECODE_DIRS: Final = frozenset({"__pycache__"})
BYTECODE_SUFFIXES: Final = (".pyc", ".pyo")
"""Compiled Python, never walked or read (like VCS folders, they produce no skip record)."""


def never_walked(name: str, hidden: bool = False) -> bool:
    """Whether discovery leaves out an entry of this name wherever it stands: version-control
    folders, bytecode (``__pycache__``, ``*.pyc``) and, unless ``hidden``, dotted names. The
    walk, the watcher and link resolution all ask here."""
    return (
        name in VCS_DIRS
        or name in BYTECODE_DIRS
        or name.endswith(BYTECODE_SUFFIXES)
        or (not hidden and name.startswith("."))
    )


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
        from codeweaver.core.walk import Walker, WalkScope  # it builds on this module

        scope = None if paths is None else WalkScope.of(paths)
        return Walker(abs_root, (st.st_dev, st.st_ino), opts, scope).walk()
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
    inc = tuple(disc.include if include is None else as_patterns(include, "include"))
    exc = tuple(disc.exclude if exclude is None else as_patterns(exclude, "exclude"))
    return _Options(
        include=compile_globs(inc),
        exclude=compile_globs(exc),
        hidden=disc.hidden if hidden is None else hidden,
        respect_ignore_files=(
            disc.respect_ignore_files if respect_ignore_files is None else respect_ignore_files
        ),
        follow_symlinks=disc.follow_symlinks if follow_symlinks is None else follow_symlinks,
        max_file_bytes=size_limit,
    )


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
