"""The writer lock: one indexing run per index at a time, re-entrant for its thread.

An exclusive ``flock`` on ``<db>.lock`` beside the database. Readers (``search``, ``status``) do
not take it: SQLite's WAL lets them read while a run writes. ``codeweaver watch`` holds it for
the whole watch and indexes each batch through ``index_project``, which takes it again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from codeweaver.core.errors import IndexStoreError
from codeweaver.index.store import prepare_db_dir

__all__ = ["writer_lock"]

_HELD_LOCKS: dict[str, int] = {}
"""Databases whose writer lock this process holds -> the holding thread (it may re-enter)."""

# Writer-lock descriptors this process holds. A forked child (a ``fork`` chunking worker) gets
# copies of them, and a flock lives as long as any copy: were a child to keep one, a parent killed
# with SIGKILL would leave its lock behind for as long as the child lives. So each child closes
# its copies first thing (the parent's lock is unaffected: it holds its own descriptor).
_held_lock_fds: set[int] = set()


def _close_inherited_locks() -> None:
    for fd in list(_held_lock_fds):
        with suppress(OSError):
            os.close(fd)
    _held_lock_fds.clear()
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


@contextmanager
def writer_lock(db_path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the database: one indexing run per index at a time.

    Readers (``search``, ``status``) do not take it; SQLite's WAL lets them read meanwhile.
    The thread holding it may take it again (``codeweaver watch`` holds it while it runs and
    indexes each batch of changes through :func:`index_project`). Forked child processes never
    keep it (see ``_close_inherited_locks``).
    """
    key = str(db_path)
    if _HELD_LOCKS.get(key) == threading.get_ident():
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: SQLite's own locking is all there is
        yield
        return
    prepare_db_dir(db_path.parent)
    lock_path = db_path.with_name(db_path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise IndexStoreError(f"cannot create the lock file {lock_path}: {exc}") from None
    _held_lock_fds.add(fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise IndexStoreError(
                f"another `codeweaver index` is writing {db_path} (or a `codeweaver watch` "
                "keeps it current): wait for it to finish or stop it"
            ) from None
        _HELD_LOCKS[key] = threading.get_ident()
        try:
            yield
        finally:
            del _HELD_LOCKS[key]
    finally:
        _held_lock_fds.discard(fd)
        os.close(fd)  # releases the lock
