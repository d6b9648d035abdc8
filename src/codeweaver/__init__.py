"""codeweaver: fast, parallel, syntax-aware code chunking for semantic code search."""

__version__ = "0.1.0"
