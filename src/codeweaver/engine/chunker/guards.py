"""Stopping a run before it wastes everyone's time: checks that are about the run, not a file.

- :func:`check_token_counter`: a user's token counter is called once on a sample before any file,
  so a bug in it is one error, not one failure per file;
- :class:`FailureStreak`: a run whose first files all fail the same way stops, saying why;
- :func:`main_script_importable`: ``spawn``/``forkserver`` workers cannot start when the main
  script was read from standard input.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

from codeweaver.core.errors import ConfigError, RepeatedFailureError
from codeweaver.engine.chunker.governor import ChunkGovernor
from codeweaver.engine.chunker.results import FileResult

__all__ = [
    "REPEATED_FAILURES",
    "FailureStreak",
    "check_token_counter",
    "main_script_importable",
]

REPEATED_FAILURES = 5
"""A run stops when its first this-many results are one failure (see :class:`FailureStreak`)."""
# Failures that say something about one file (unreadable, too slow to chunk), never about the
# run: they neither count towards a streak nor break one.
_PER_FILE_STAGES = frozenset({"read", "timeout"})


class FailureStreak:
    """Watches the first results of a run for one failure repeated over every file.

    When nothing has been chunked or skipped yet and :data:`REPEATED_FAILURES` files failed with
    the same stage, error type and message (the file's path taken out), the cause is not in the
    files: going on would print the same line for every file of the repository.
    """

    __slots__ = ("_count", "_done", "_key")

    def __init__(self) -> None:
        self._key: tuple[str, str, str] | None = None
        self._count = 0
        self._done = False

    def add(self, result: FileResult) -> None:
        if self._done:
            return
        f = result.failure
        if result.status != "failed" or f is None:
            self._done = True  # something works: from now on failures are per file
            return
        if f.stage in _PER_FILE_STAGES:
            return
        message = f.message.replace(result.file.path, "<file>").replace(
            result.file.rel_path, "<file>"
        )
        key = (f.stage, f.error_type, message)
        if self._key is None:
            self._key = key
        elif key != self._key:
            self._done = True  # different reasons: look at them file by file
            return
        self._count += 1
        if self._count >= REPEATED_FAILURES:
            raise RepeatedFailureError(
                f"stopped: the first {self._count} files all failed the same way, so the cause "
                f"is not in the files: [{f.stage}] {f.error_type}: {f.message} "
                f"(last: {result.file.path})"
            )


def check_token_counter(governor: ChunkGovernor) -> None:
    """Call the governor's token counter once on a short sample of code.

    So a counter with a bug (a ``NameError``, ``None`` returned) is one clear error before any
    file, not one failure per file. No-op without a counter.

    Raises:
        ConfigError: the counter raised, or returned something that is not a count.
    """
    counter = governor.token_counter
    if counter is None:
        return
    try:
        counter(_SAMPLE_CODE)
    except ConfigError:
        raise
    except (Exception, SystemExit) as exc:
        raise ConfigError(
            "token_counter",
            governor.counter_name,
            "argument",
            f"it fails on a short sample of code: {type(exc).__name__}: {exc}",
        ) from exc


_SAMPLE_CODE = 'def greet(name: str) -> str:\n    """Say hello."""\n    return f"hello {name}"\n'


def main_script_importable() -> bool:
    """False when the main module is a script that spawned children cannot find (``<stdin>``)."""
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None):
        return True  # python -m package.module: imported by name
    path = getattr(main, "__file__", None)
    if path is None:
        return True  # python -c, an interactive session: nothing to re-import
    base = multiprocessing.process.ORIGINAL_DIR or os.getcwd()  # type: ignore[attr-defined]
    return os.path.exists(os.path.join(base, path))
