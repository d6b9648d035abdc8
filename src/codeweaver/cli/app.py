"""The cyclopts app and its commands; each command is a thin layer over the library.

Heavy imports (the engine, tree-sitter, the index) happen inside the commands.
"""

from __future__ import annotations

import contextlib
import json as _json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from cyclopts import App, CycloptsError, Group, Parameter, validators

from codeweaver import __version__
from codeweaver.core.errors import CodeWeaverError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "app", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # as if killed by SIGPIPE, like other Unix tools

Executor = Literal["auto", "process", "thread", "serial", "dask"]
MAX_LIMIT = 10_000
"""``search --limit`` at most (SQLite takes 64-bit integers; nobody reads more results)."""
EmbedProvider = Literal["auto", "none", "model2vec", "sentence-transformers", "openai"]

app = App(
    name="codeweaver",
    help="Cut source trees into syntax-aware chunks and keep them in a searchable index.",
    version=__version__,
    result_action="return_value",
)

_budget = Group("Chunk budget", validator=validators.MutuallyExclusive())  # type: ignore[no-untyped-call]


def _whole_number(type_: object, tokens: Sequence[Any]) -> int:
    """cyclopts rounds "2.6" to 3; a count given as a fraction is a mistake to point out."""
    text = str(tokens[0].value).strip()
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None


MaxTokens = Annotated[
    int | None,
    Parameter(group=_budget, converter=_whole_number, help="chunk budget in tokens (default 512)"),
]
MaxChars = Annotated[
    int | None,
    Parameter(group=_budget, converter=_whole_number, help="chunk budget in characters"),
]
Workers = Annotated[
    int | None,
    Parameter(converter=_whole_number, help="worker processes/threads (default: the CPUs)"),
]
ExecutorFlag = Annotated[Executor | None, Parameter(help="how files are spread")]
Verbose = Annotated[
    bool, Parameter(name=["--verbose", "-v"], negative="", help="log more; list skipped files")
]
Quiet = Annotated[
    bool, Parameter(name=["--quiet", "-q"], negative="", help="no progress bar, errors only")
]
JsonFlag = Annotated[bool, Parameter(name="--json", negative="", help="print JSON to stdout")]
DbPath = Annotated[
    Path | None, Parameter(help="index database (default: PATH/.codeweaver/index.db)")
]
_embed = Group("Embeddings")
EmbedModel = Annotated[
    str | None,
    Parameter(group=_embed, help="embedding model: a hub name or a local folder"),
]
EmbedProviderFlag = Annotated[
    EmbedProvider | None,
    Parameter(group=_embed, help="who embeds (default auto: model2vec when it can load)"),
]
EmbedUrl = Annotated[
    str | None,
    Parameter(
        group=_embed,
        help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (implies openai)",
    ),
]
NoEmbed = Annotated[
    bool, Parameter(group=_embed, negative="", help="keyword index only: load no model")
]


class UsageError(CodeWeaverError):
    """A command-line mistake the user can fix (exit code 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    tokens = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(tokens, exit_on_error=False)
    except CycloptsError:
        return EXIT_USAGE  # cyclopts has already printed the problem
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except BrokenPipeError:
        # The reader went away (``codeweaver search x | head``): no traceback, and no second
        # error when Python flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return result if isinstance(result, int) else EXIT_OK


def _err(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {message}", soft_wrap=True)


def _guard(fn: Callable[[], int]) -> int:
    """Run a command body, turning user errors into a one-line message and exit code 2."""
    try:
        return fn()
    except CodeWeaverError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        # Pages damaged in a part of the index the opening checks did not read. (sqlite3 is
        # looked up, not imported: `codeweaver --help` stays light.)
        sqlite3 = sys.modules.get("sqlite3")
        if sqlite3 is None or not isinstance(exc, sqlite3.DatabaseError):
            raise
        _err(
            f"the index cannot be read ({exc}): rebuild it with `codeweaver index --full`, "
            "or delete it"
        )
        return EXIT_USAGE


def _setup_logging(verbose: bool, quiet: bool) -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    handler = RichHandler(console=Console(stderr=True), show_path=False, show_time=verbose)
    root = logging.getLogger("codeweaver")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _chunker_overrides(
    max_tokens: int | None,
    max_chars: int | None,
    workers: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
) -> dict[str, Any]:
    chunker: dict[str, Any] = {}
    # Setting one budget clears the other, so a flag beats a budget set in a config file.
    if max_tokens is not None:
        chunker.update(max_chunk_tokens=max_tokens, max_chunk_chars=None)
    if max_chars is not None:
        chunker.update(max_chunk_chars=max_chars, max_chunk_tokens=None)
    concurrency: dict[str, Any] = {}
    if workers is not None:
        concurrency["max_parallel_files"] = workers
    if scheduler is not None:
        # A scheduler address means the dask executor unless another one is asked for.
        if executor not in (None, "dask"):
            raise UsageError(f"--scheduler needs --executor dask (not {executor})")
        executor = "dask"
        concurrency["scheduler_address"] = scheduler
    if executor is not None:
        concurrency["executor"] = executor
    if concurrency:
        chunker["concurrency"] = concurrency
    return chunker


def _embedding_overrides(
    model: str | None, provider: str | None, url: str | None, no_embed: bool
) -> dict[str, Any]:
    if no_embed:
        if model or provider or url:
            raise UsageError("--no-embed cannot be combined with other --embed-* flags")
        return {"provider": "none"}
    out: dict[str, Any] = {}
    if url is not None:
        if provider not in (None, "openai"):
            raise UsageError(f"--embed-url needs --embed-provider openai (not {provider})")
        out.update(url=url, provider="openai")
    if provider is not None:
        out["provider"] = provider
    if model is not None:
        out["model"] = model
    return out


Include = Annotated[
    list[str] | None,
    Parameter(help="only files matching this glob (repeatable), e.g. 'src/**'", negative=""),
]
Exclude = Annotated[
    list[str] | None,
    Parameter(help="leave out files matching this glob (repeatable), e.g. '**/*.md'", negative=""),
]


def _settings_from_flags(
    root: Path,
    *,
    chunker: dict[str, Any] | None = None,
    db: Path | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    embedding: dict[str, Any] | None = None,
) -> Any:
    """The project's settings for ``root`` with what the command's flags set on top."""
    from codeweaver.config import load_settings

    overrides: dict[str, Any] = {}
    if chunker:
        overrides["chunker"] = chunker
    if db is not None:
        overrides["index"] = {"db_path": db.expanduser().resolve()}
    discovery = {k: tuple(v) for k, v in (("include", include), ("exclude", exclude)) if v}
    if discovery:
        overrides["discovery"] = discovery
    if embedding:
        overrides["embedding"] = embedding
    return load_settings(root, **overrides)


def _existing_dir(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"no such directory: {path}")
    if not path.is_dir():
        raise UsageError(f"not a directory: {path}")
    return path.resolve()


# -- index -----------------------------------------------------------------------------------------
@app.command
def index(
    path: Path = Path("."),
    *,
    workers: Workers = None,
    executor: ExecutorFlag = None,
    scheduler: Annotated[
        str | None,
        Parameter(help="Dask scheduler address, e.g. tcp://host:8786 (implies --executor dask)"),
    ] = None,
    max_tokens: MaxTokens = None,
    max_chars: MaxChars = None,
    db: DbPath = None,
    include: Include = None,
    exclude: Exclude = None,
    full: Annotated[bool, Parameter(negative="", help="re-chunk every file")] = False,
    embed_model: EmbedModel = None,
    embed_provider: EmbedProviderFlag = None,
    embed_url: EmbedUrl = None,
    no_embed: NoEmbed = False,
    json: JsonFlag = False,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> int:
    """Index PATH (default: the current directory): chunk new and changed files, drop deleted ones.

    Unchanged files are skipped cheaply (size and mtime, then content hash); a change of chunking
    settings re-chunks everything. The index lives in PATH/.codeweaver/index.db unless --db says
    otherwise. With an embedding model (the default model2vec one when the embed extra is
    installed and the model loads; see [embedding] in codeweaver.toml) chunks are sized for the
    model and embedded as they are written; a chunk whose text has a vector is never embedded
    again. Exit code 0: clean; 1: some files failed or some chunks could not be embedded
    (listed; retried next run); 2: usage or config error. -v also lists the files skipped,
    with why.

    Parameters
    ----------
    path
        the directory to index
    """

    def body() -> int:
        from codeweaver.cli.render import IndexProgressBar, print_index_report
        from codeweaver.index import index_project

        _setup_logging(verbose, quiet)
        root = _existing_dir(path)
        settings = _settings_from_flags(
            root,
            chunker=_chunker_overrides(max_tokens, max_chars, workers, executor, scheduler),
            db=db,
            include=include,
            exclude=exclude,
            embedding=_embedding_overrides(embed_model, embed_provider, embed_url, no_embed),
        )
        try:
            with IndexProgressBar(enabled=not (quiet or json)) as bar:
                report = index_project(root, settings, full=full, progress=bar.update)
        except KeyboardInterrupt:
            _err(
                "interrupted: the index keeps every file stored so far; "
                "run the same command again to carry on"
            )
            return EXIT_INTERRUPTED
        if json:
            data = report.to_dict()
            data["ok"] = report.ok
            print(_json.dumps(data, indent=2))
        elif not quiet or not report.ok:
            print_index_report(report, quiet=quiet, verbose=verbose)
        return EXIT_OK if report.ok else EXIT_FAILED

    return _guard(body)


# -- watch -----------------------------------------------------------------------------------------
@app.command
def watch(
    path: Path = Path("."),
    *,
    workers: Workers = None,
    executor: ExecutorFlag = None,
    max_tokens: MaxTokens = None,
    max_chars: MaxChars = None,
    db: DbPath = None,
    include: Include = None,
    exclude: Exclude = None,
    embed_model: EmbedModel = None,
    embed_provider: EmbedProviderFlag = None,
    embed_url: EmbedUrl = None,
    no_embed: NoEmbed = False,
    settle: Annotated[
        int, Parameter(help="ms without a new change before a batch is indexed")
    ] = 100,
    max_delay: Annotated[
        int, Parameter(help="ms a batch waits at most while changes keep coming")
    ] = 2000,
    rescan_above: Annotated[
        int | None,
        Parameter(help="a batch of this many changes rescans the tree (default: queue size / 8)"),
    ] = None,
    poll: Annotated[
        bool, Parameter(negative="", help="poll instead of OS events (network file systems)")
    ] = False,
    json: Annotated[
        bool, Parameter(name="--json", negative="", help="one JSON event per line on stdout")
    ] = False,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> int:
    """Index PATH, then keep the index current as files change, until Ctrl-C.

    Files created, modified, deleted or renamed are re-indexed in batches (an editor's save is
    one; a checkout of thousands of files is one run of the parallel engine), and so are files a
    changed .gitignore/.ignore ignores or lets through. `codeweaver search` and `status` see each
    update as soon as it is written. A line on stderr reports each update (-q: errors only);
    --json prints one event per line instead. Exit code 130 after Ctrl-C or SIGTERM (the index
    is consistent); 2 for usage or config errors, or when PATH vanishes.

    Parameters
    ----------
    path
        the directory to watch
    """

    def body() -> int:
        from codeweaver.cli.render import WatchLog
        from codeweaver.index.watch import watch_project

        _setup_logging(verbose, quiet)
        if settle < 1 or max_delay < settle:
            raise UsageError("--settle must be at least 1 and --max-delay at least --settle")
        root = _existing_dir(path)
        settings = _settings_from_flags(
            root,
            chunker=_chunker_overrides(max_tokens, max_chars, workers, executor),
            db=db,
            include=include,
            exclude=exclude,
            embedding=_embedding_overrides(embed_model, embed_provider, embed_url, no_embed),
        )
        log = WatchLog(root, json=json, quiet=quiet)
        events = watch_project(
            root,
            settings,
            settle_ms=settle,
            max_delay_ms=max_delay,
            rescan_above=rescan_above,
            force_polling=poll,
            progress=log.progress,
        )
        try:
            with _sigterm_as_interrupt():
                log.starting()
                for event in events:
                    log.event(event)
        except KeyboardInterrupt:
            log.close()
            events.close()  # stops the watcher and releases the writer lock
            log.stopped()
            return EXIT_INTERRUPTED
        finally:
            log.close()
        return EXIT_OK

    return _guard(body)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a service manager) stops a long-running command as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- search ----------------------------------------------------------------------------------------
SearchModeFlag = Literal["auto", "keyword", "semantic", "hybrid"]


@app.command
def search(
    query: str,
    path: Path = Path("."),
    *,
    limit: Annotated[
        int,
        Parameter(name=["--limit", "-n"], converter=_whole_number, help="results to show"),
    ] = 10,
    mode: Annotated[
        SearchModeFlag,
        Parameter(help="keyword (BM25), semantic (vectors), hybrid (both) or auto"),
    ] = "auto",
    db: DbPath = None,
    json: JsonFlag = False,
) -> int:
    """Search the index of PATH for chunks that answer QUERY, best first.

    Keyword search ranks chunks by BM25 over their text, symbol names and file path; chunks
    holding every word come first, then chunks holding some. Semantic search (an index built
    with embeddings) ranks by meaning; hybrid fuses both; auto picks hybrid when the index holds
    vectors, keyword otherwise.

    Parameters
    ----------
    query
        what to look for: words, identifiers or a question
    path
        the indexed directory
    """

    def body() -> int:
        from codeweaver.cli.render import print_search_results
        from codeweaver.index.store import IndexStore
        from codeweaver.search import search as run_search

        if not 1 <= limit <= MAX_LIMIT:
            raise UsageError(f"--limit must be between 1 and {MAX_LIMIT:,}")
        db_path = _db_for(path, db)
        with IndexStore.open(db_path, read_only=True) as store:
            results = run_search(store, query, mode=mode, limit=limit)
        if json:
            print(_json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
        else:
            print_search_results(results, query)
        return EXIT_OK

    return _guard(body)


def _db_for(path: Path, db: Path | None) -> Path:
    if db is not None:
        return db.expanduser().resolve()
    from codeweaver.config import load_settings
    from codeweaver.index.pipeline import resolve_db_path

    root = _existing_dir(path)
    return resolve_db_path(root, load_settings(root))


# -- status ----------------------------------------------------------------------------------------
@app.command
def status(
    path: Path = Path("."),
    *,
    db: DbPath = None,
    json: JsonFlag = False,
) -> int:
    """Show what the index of PATH holds and whether it is stale (files changed since).

    Exit code 0: up to date; 1: stale (files new, modified or deleted since, failed files to
    retry, or other chunking settings): run `codeweaver index`; 2: no index, or a usage error.

    Parameters
    ----------
    path
        the indexed directory
    """

    def body() -> int:
        from codeweaver.cli.render import print_status
        from codeweaver.index import check_staleness
        from codeweaver.index.store import IndexStore

        root = _existing_dir(path)
        settings = _settings_from_flags(root, db=db)
        from codeweaver.index.pipeline import resolve_db_path
        from codeweaver.index.vectors import embedding_status

        with IndexStore.open(resolve_db_path(root, settings), read_only=True) as store:
            stats = store.stats()
            embedding = embedding_status(store)
            governor, fingerprint = None, None
            if embedding["current_model"]:
                from codeweaver.index.embedding import known_fingerprint

                fingerprint = known_fingerprint(store, settings)
                if fingerprint is None:
                    governor = _index_governor(settings, store)
            stale = check_staleness(
                root, settings, store, governor=governor, fingerprint=fingerprint
            )
            failed = [(p, r or "", n) for p, st, r, n in store.iter_files() if st == "failed"]
        if json:
            data = {
                "index": _stats_dict(stats),
                "stale": stale.to_dict(),
                "failed": [{"path": p, "reason": r, "stale_chunks": n} for p, r, n in failed],
                "embedding": embedding,
            }
            print(_json.dumps(data, indent=2))
        else:
            print_status(stats, stale, failed, embedding)
        return EXIT_FAILED if stale.is_stale else EXIT_OK

    return _guard(body)


def _index_governor(settings: Any, store: Any) -> Any:
    """The governor `codeweaver index` would use now (sized for the embedding model), so status
    compares like with like; None when the model cannot load (index would go keyword-only).
    When the model cannot load, that is said (at warning level where the comparison then finds
    other chunking settings), so a "chunking settings differ" has its reason next to it."""
    from codeweaver.core.errors import EmbeddingError
    from codeweaver.index.embedding import prepare_embedding

    log = logging.getLogger("codeweaver")
    try:
        embedder, governor, report = prepare_embedding(settings, None, None, store.db_path)
    except EmbeddingError as exc:
        log.warning(
            "cannot load the embedding model (%s): compared with keyword-only chunking", exc
        )
        return None
    if embedder is not None:
        embedder.close()
    elif report.notice and store.fingerprint not in (None, governor.fingerprint()):
        # ("auto": the load failure is a notice, and index would go keyword-only too)
        log.warning("%s: compared with keyword-only chunking", report.notice)
    return governor


def _stats_dict(stats: Any) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(stats)
    data["db_path"] = str(stats.db_path)
    return data


# -- chunk -----------------------------------------------------------------------------------------
@app.command
def chunk(
    file: Path,
    *,
    max_tokens: MaxTokens = None,
    max_chars: MaxChars = None,
    language: Annotated[str | None, Parameter(help="override language detection")] = None,
    json: JsonFlag = False,
) -> int:
    """Chunk one FILE and show its chunks (spans, symbol paths, sizes); nothing is stored.

    Parameters
    ----------
    file
        the file to chunk
    """

    def body() -> int:
        from dataclasses import replace

        from codeweaver.cli.render import print_chunks
        from codeweaver.config.settings import find_project_dir
        from codeweaver.core.discovery import DiscoveredFile
        from codeweaver.core.errors import DiscoveryError
        from codeweaver.core.languages import resolve_language
        from codeweaver.engine.chunker.file_chunker import chunk_file
        from codeweaver.engine.chunker.governor import ChunkGovernor

        if not file.exists():
            raise UsageError(f"no such file: {file}")
        if not file.is_file():
            raise UsageError(f"not a file: {file}")
        lang = None
        if language is not None:
            lang = resolve_language(language)
            if lang is None:
                raise UsageError(
                    f"unknown language {language!r}: `codeweaver languages` lists the names"
                )
        target = file.resolve()
        project = find_project_dir(target.parent)  # its settings, not the working directory's
        settings = _settings_from_flags(project, chunker=_chunker_overrides(max_tokens, max_chars))
        governor = ChunkGovernor(settings.chunker)
        try:
            found = DiscoveredFile.from_path(
                target, project, max_file_bytes=governor.max_file_bytes, hash_content=False
            )
            chunks = chunk_file(found if lang is None else replace(found, language=lang), governor)
        except DiscoveryError as exc:
            raise UsageError(str(exc)) from None
        except CodeWeaverError as exc:
            _err(f"{file}: {exc}")
            return EXIT_FAILED
        if json:
            print(_json.dumps([c.to_dict() for c in chunks], indent=2, ensure_ascii=False))
        else:
            print_chunks(chunks, governor)
        return EXIT_OK

    return _guard(body)


# -- languages -------------------------------------------------------------------------------------
@app.command
def languages(*, json: JsonFlag = False) -> int:
    """List the languages codeweaver recognises, with their extensions and file names."""

    def body() -> int:
        from codeweaver.cli.render import print_languages
        from codeweaver.core.languages import iter_languages

        infos = list(iter_languages())
        if json:
            print(
                _json.dumps(
                    [
                        {
                            "name": i.name,
                            "grammar": i.grammar,
                            "extensions": list(i.extensions),
                            "filenames": list(i.filenames),
                        }
                        for i in infos
                    ],
                    indent=2,
                )
            )
        else:
            print_languages(infos)
        return EXIT_OK

    return _guard(body)
