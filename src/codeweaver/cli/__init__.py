"""The ``codeweaver`` command line: ``index``, ``search``, ``status``, ``chunk``, ``languages``.

Importing this package is cheap (no tree-sitter, no engine): each command imports what it needs
when it runs, so ``codeweaver --help`` starts instantly.

Exit codes: 0 success, 1 some files failed (they are listed; for ``status``: the index is
stale), 2 a usage or configuration error (bad flag, missing path, bad setting, unusable or
damaged index), 130 interrupted.
"""

from __future__ import annotations

from codeweaver.cli.app import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, app, main

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "app", "main"]
