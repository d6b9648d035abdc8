"""Opening source files without ever blocking: the one place discovery and the chunker open them.

A path that was a regular file when it was listed can be a FIFO, a socket or a device by the time
it is opened (a build step, a hostile tree). A plain ``open()`` of a FIFO waits for a writer for
ever, so files are opened with ``O_NONBLOCK`` (which regular files ignore) and the type is checked
again on the open descriptor, where it can no longer change.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

__all__ = ["NotRegularFileError", "open_regular"]

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


class NotRegularFileError(OSError):
    """The path is a FIFO, socket, device or folder, not a regular file."""


def open_regular(path: str | os.PathLike[str]) -> tuple[BinaryIO, os.stat_result]:
    """Open ``path`` for binary reading, never blocking; return the file and its ``fstat``.

    The stat describes the file actually opened (a later rename or replacement of ``path`` does
    not change it).

    Raises:
        NotRegularFileError: ``path`` is not a regular file (nothing was read from it).
        OSError: it cannot be opened (``FileNotFoundError`` when it is gone).
    """
    fd = os.open(path, _FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFileError(f"not a regular file: {os.fsdecode(path)}")
        # O_NONBLOCK stays: reads of a regular file ignore it (and clearing it costs 2 syscalls)
        return os.fdopen(fd, "rb"), st
    except BaseException:
        os.close(fd)
        raise
