"""``python -m codeweaver``: the same as the ``codeweaver`` command."""

from codeweaver.cli import main

# Guarded: spawn/forkserver workers import the main module as ``__mp_main__``.
if __name__ == "__main__":
    raise SystemExit(main())
