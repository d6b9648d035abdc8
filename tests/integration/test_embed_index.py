"""End-to-end: indexing with embeddings on temp repositories, with the real MiniLM model.

An edit re-embeds exactly the changed chunks, a move re-embeds nothing, a new model re-embeds
everything; a run killed mid-embedding resumes without embedding anything twice or missing
anything; ``codeweaver search --mode semantic`` finds a function from a paraphrase sharing no
word with it; with no model available, indexing is keyword-only and says so.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from codeweaver.config import load_settings
from codeweaver.core.chunks import content_hash
from codeweaver.index import IndexReport, index_project
from codeweaver.index.store import IndexStore, default_db_path
from codeweaver.index.vectors import list_models

sys.path.insert(0, str(Path(__file__).parent))
from _embed_server import EmbeddingServer
from _procs import run_cli as _cli

TIMEOUT = 240

FILES = {
    "helpers.py": '''\
        """Small helpers."""


        def celsius_to_fahrenheit(degrees):
            return degrees * 9 / 5 + 32


        def send_email(address, body):
            smtp = connect_smtp_server()
            smtp.deliver(address, body)
            return True
        ''',
    "text.py": """\
        def parse_csv_rows(text):
            return [line.split(",") for line in text.splitlines()]


        def shout(message):
            return message.upper() + "!"
        """,
    "digest.py": """\
        import hashlib


        def compute_md5(data):
            return hashlib.md5(data).hexdigest()
        """,
}


def _repo(root: Path, files: dict[str, str] = FILES) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _hashes(repo: Path) -> set[str]:
    with IndexStore.open(default_db_path(repo), create=False) as store:
        return {r[0] for r in store.connection.execute("SELECT content_hash FROM chunks")}


def _index(repo: Path, embedder: Any) -> IndexReport:
    settings = load_settings(repo, embedding={"provider": "none"})
    report = index_project(repo, settings, embedder=embedder)
    assert report.ok and report.embedding.pending == 0, report.embedding
    return report


def test_only_changed_chunks_are_embedded_again(
    tmp_path: Path, minilm: Any, static_model_path: Path
) -> None:
    repo = _repo(tmp_path / "repo")
    (repo / "copy_of_text.py").write_text((repo / "text.py").read_text())  # same chunks twice
    first = _index(repo, minilm)
    hashes = _hashes(repo)
    assert first.embedding.embedded == len(hashes) and first.embedding.reused > 0

    assert _index(repo, minilm).embedding.embedded == 0  # nothing changed

    src = repo / "helpers.py"
    src.write_text(src.read_text().replace("return True", "return False"))
    edited = _index(repo, minilm)
    changed = _hashes(repo) - hashes
    assert edited.changed == 1 and len(changed) == 1
    assert edited.embedding.embedded == 1  # send_email; its file neighbours kept their vectors

    (repo / "moved").mkdir()
    (repo / "digest.py").rename(repo / "moved" / "digest2.py")
    moved = _index(repo, minilm)
    assert moved.new == 1 and moved.deleted == 1 and moved.embedding.embedded == 0

    with IndexStore.open(default_db_path(repo), create=False) as store:
        [model] = list_models(store)
        assert model.vectors == len(_hashes(repo))  # the replaced vector was pruned

    from codeweaver.embed.static import StaticEmbedder

    other = _index(repo, StaticEmbedder(str(static_model_path)))  # a new model re-embeds all
    assert other.embedding.embedded == len(_hashes(repo))
    with IndexStore.open(default_db_path(repo), create=False) as store:
        models = list_models(store)
        assert models[0].model.startswith("model2vec:") and len(models) == 2


def test_semantic_search_finds_a_function_from_a_paraphrase(
    tmp_path: Path, minilm_path: Path
) -> None:
    repo = _repo(tmp_path / "repo")
    flags = ["--embed-provider", "sentence-transformers", "--embed-model", str(minilm_path)]
    proc = _cli("index", str(repo), "--json", *flags)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)["embedding"]
    assert report["embedded"] == len(_hashes(repo)) and report["pending"] == 0

    query = "convert temperature units"  # no word of it is in the function
    keyword = json.loads(_cli("search", query, str(repo), "--mode", "keyword", "--json").stdout)
    assert keyword == []
    proc = _cli("search", query, str(repo), "--mode", "semantic", "--json", "-n", "3")
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert hits[0]["symbol"] == "def celsius_to_fahrenheit" and "semantic" in hits[0]["scores"]
    # auto: the index holds vectors, so it is hybrid (the model is the one the index recorded)
    hits = json.loads(_cli("search", query, str(repo), "--json").stdout)
    assert hits[0]["symbol"] == "def celsius_to_fahrenheit" and "hybrid" in hits[0]["scores"]

    status = json.loads(_cli("status", str(repo), "--json").stdout)
    assert status["embedding"]["pending"] == 0 and not status["stale"]["stale"]
    assert status["embedding"]["models"][0]["dimension"] == 384


def test_no_model_available_gives_a_keyword_index_and_a_notice(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    proc = _cli("index", str(repo))  # auto, the hub offline, nothing cached
    assert proc.returncode == 0, proc.stderr
    assert "keyword-only" in proc.stdout and "Traceback" not in proc.stderr
    hits = json.loads(_cli("search", "md5 digest", str(repo), "--json").stdout)
    assert hits[0]["symbol"] == "def compute_md5" and set(hits[0]["scores"]) == {"keyword"}
    proc = _cli("search", "md5", str(repo), "--mode", "semantic")
    assert proc.returncode == 2 and "embeddings" in proc.stderr
    proc = _cli("index", str(repo), "--embed-provider", "model2vec", "--embed-model", "x/nope")
    assert proc.returncode == 2 and "cannot load" in proc.stderr and "Traceback" not in proc.stderr
    proc = _cli("index", str(repo), "--no-embed", "--embed-model", "x")
    assert proc.returncode == 2 and "--no-embed" in proc.stderr


# -- killed mid-embedding, then resumed ----------------------------------------------------------
@pytest.fixture(scope="module")
def server(minilm: Any) -> Iterator[EmbeddingServer]:
    with EmbeddingServer(minilm) as srv:
        yield srv


def _vector_hashes(db: Path) -> set[str]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return {r[0] for r in conn.execute("SELECT content_hash FROM vectors")}
        finally:
            conn.close()
    except sqlite3.Error:
        return set()


def _content(text: str) -> str:
    """The chunk content of an embedded text (its ``# file:``/``# symbol:`` header removed)."""
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith(("# file: ", "# symbol: ")):
        lines.pop(0)
    return "".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_stopped_mid_embedding_resumes_without_embedding_twice(
    tmp_path: Path, server: EmbeddingServer, sig: signal.Signals
) -> None:
    files = {
        f"pkg/m{i:02d}.py": f"def task_{i}(x):\n    return x * {i} + {i * i}\n" for i in range(40)
    }
    repo = _repo(tmp_path / "repo", files)
    db = default_db_path(repo)
    server.delay = 0.2
    env = {
        "CODEWEAVER_EMBEDDING__PROVIDER": "openai",
        "CODEWEAVER_EMBEDDING__URL": server.url,
        "CODEWEAVER_EMBEDDING__MODEL": "minilm-test",
        "CODEWEAVER_EMBEDDING__BATCH_SIZE": "3",
        "CODEWEAVER_EMBEDDING__MAX_IN_FLIGHT": "1",
        "CODEWEAVER_EMBEDDING__MAX_INPUT_TOKENS": "256",
    }
    full = {k: v for k, v in os.environ.items() if not k.startswith("CODEWEAVER_")} | env
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver", "index", str(repo), "-q"],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    stored: set[str] = set()
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            stored = _vector_hashes(db)
            if len(stored) >= 6:
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            if sig == signal.SIGINT:
                os.kill(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C reaches the CLI
            else:
                os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert b"run the same command again" in err and b"Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    with IndexStore.open(db, create=False) as store:
        assert store.check_integrity() == []
    stored = _vector_hashes(db)
    assert len(stored) >= 6

    server.delay = 0.0
    while server.in_flight and time.monotonic() < deadline:  # the killed client's last request
        time.sleep(0.02)
    before = len(server.embedded_texts())
    conf = {k.split("__")[1].lower(): v for k, v in env.items()}
    settings = load_settings(repo, embedding=conf)
    resumed = index_project(repo, settings)
    again = server.embedded_texts()[before:]
    everything = _hashes(repo)
    assert resumed.ok and resumed.embedding.pending == 0
    assert resumed.embedding.embedded == len(everything - stored) == len(again)
    assert not {content_hash(_content(t)) for t in again} & stored  # nothing embedded twice
    assert _vector_hashes(db) == everything  # nothing missing


def _model_copy(tmp_path: Path, static_model_path: Path) -> Path:
    import shutil

    model = tmp_path / "model"
    shutil.copytree(static_model_path, model)
    return model


def _up_to_date_without(model: Path, repo: Path) -> None:
    """With the model gone, status can no longer load it, and need not: the index was chunked
    for the settings it has now, so it is up to date."""
    model.rename(model.with_name("moved"))
    proc = _cli("status", str(repo), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not json.loads(proc.stdout)["stale"]["settings_changed"]


def test_status_compares_chunking_settings_without_loading_the_model(
    tmp_path: Path, static_model_path: Path
) -> None:
    model = _model_copy(tmp_path, static_model_path)
    repo = _repo(tmp_path / "repo")
    proc = _cli("index", str(repo), "--embed-provider", "model2vec", "--embed-model", str(model))
    assert proc.returncode == 0, proc.stderr
    _up_to_date_without(model, repo)

    # Other chunking settings: status loads the model to size the chunks as index would, and
    # says the settings changed.
    (tmp_path / "moved").rename(model)
    (repo / "codeweaver.toml").write_text("[chunker]\nmin_chunk_chars = 7\n")
    proc = _cli("status", str(repo), "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["stale"]["settings_changed"]

    # The recorded model gone as well: status compares with what index would do (keyword-only
    # chunking) and says why, next to "chunking settings differ".
    model.rename(model.with_name("moved"))
    proc = _cli("status", str(repo), "--json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["stale"]["settings_changed"]
    assert "keyword-only" in proc.stderr and "compared with keyword-only chunking" in proc.stderr


def test_status_after_a_watch_needs_no_model_either(
    tmp_path: Path, static_model_path: Path
) -> None:
    from codeweaver.index.watch import watch_project

    model = _model_copy(tmp_path, static_model_path)
    repo = _repo(tmp_path / "repo")
    (repo / "codeweaver.toml").write_text(
        f'[embedding]\nprovider = "model2vec"\nmodel = "{model.as_posix()}"\n'
    )
    watch = watch_project(repo, load_settings(repo))
    ready = next(watch)  # the initial index, embedded with the model named in the file
    assert ready.kind == "ready" and ready.report is not None
    assert ready.report.embedding.embedded == len(_hashes(repo))
    proc = _cli("status", str(repo), "--json")  # while the watch holds the index
    assert proc.returncode == 0, proc.stdout + proc.stderr
    watch.close()
    _up_to_date_without(model, repo)


def test_chunks_of_a_file_deleted_before_they_were_embedded_are_not_embedded(
    tmp_path: Path, static_model_path: Path
) -> None:
    from codeweaver.embed.static import StaticEmbedder

    repo = _repo(tmp_path / "repo")
    index_project(repo, load_settings(repo, embedding={"provider": "none"}))  # keyword-only
    gone = _hashes(repo)
    (repo / "text.py").unlink()
    report = _index(repo, StaticEmbedder(str(static_model_path)))
    left = _hashes(repo)
    assert report.deleted == 1 and left < gone
    assert report.embedding.embedded == len(left)  # the deleted file's chunks were not embedded
    assert report.embedding.pruned == 0


def test_a_run_limited_to_some_paths_embeds_what_it_wrote_and_leaves_the_backlog(
    tmp_path: Path, static_model_path: Path
) -> None:
    from codeweaver.embed.static import StaticEmbedder

    repo = _repo(tmp_path / "repo")
    index_project(repo, load_settings(repo, embedding={"provider": "none"}))  # keyword-only
    (repo / "digest.py").write_text("def compute_sha1(data):\n    return data\n")
    embedder = StaticEmbedder(str(static_model_path))
    settings = load_settings(repo, embedding={"provider": "none"})
    limited = index_project(repo, settings, embedder=embedder, paths=["digest.py"])
    assert limited.ok and limited.embedding.embedded == 1  # the saved file's chunk only
    assert limited.embedding.pending == len(_hashes(repo)) - 1  # a save does not scan the rest
    whole = _index(repo, embedder)  # the next whole run embeds the backlog
    assert whole.embedding.embedded == len(_hashes(repo)) - 1


_OLD_VECTORS = """CREATE TABLE vectors (
    model        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    vector       BLOB NOT NULL,
    PRIMARY KEY (model, content_hash)
) WITHOUT ROWID"""


def _vector_rows(db: Path) -> tuple[str, set[tuple[str, str, bytes]]]:
    conn = sqlite3.connect(db)
    try:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name='vectors'").fetchone()[0]
        rows = set(conn.execute("SELECT model, content_hash, vector FROM vectors"))
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    return sql, rows


def test_an_index_with_the_old_vector_table_is_upgraded_keeping_every_vector(
    tmp_path: Path, static_model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from codeweaver.embed.static import StaticEmbedder

    repo = tmp_path / "repo"
    # Enough text that the vectors' pages dominate the file.
    _repo(
        repo,
        {
            f"m{i}/f{j}.py": f"def f{i}_{j}(x):\n    return x * {i} + {j}\n"
            for i in range(40)
            for j in range(20)
        },
    )
    model = StaticEmbedder(str(static_model_path))
    first = _index(repo, model)
    db = default_db_path(repo)
    sql, rows = _vector_rows(db)
    assert "WITHOUT ROWID" not in sql.upper() and len(rows) == first.embedding.embedded > 700
    # A second model's vectors ride along (the key is (model, hash)).
    other = [("openai:other", h, v[::-1]) for _, h, v in list(rows)[:50]]
    # The table as an older codeweaver wrote it: WITHOUT ROWID, keyed by (model, hash).
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("ALTER TABLE vectors RENAME TO v_new")
        conn.execute(_OLD_VECTORS)
        conn.execute("INSERT INTO vectors SELECT model, content_hash, vector FROM v_new")
        conn.executemany("INSERT INTO vectors VALUES (?, ?, ?)", other)
        conn.execute("DROP TABLE v_new")
    conn.execute("VACUUM")
    conn.close()
    old_sql, before = _vector_rows(db)
    assert "WITHOUT ROWID" in old_sql.upper() and before == rows | set(other)
    old_size = db.stat().st_size

    with caplog.at_level("WARNING", logger="codeweaver"):
        again = _index(repo, model)
    assert again.embedding.embedded == 0  # nothing re-embedded: the vectors were carried over
    new_sql, after = _vector_rows(db)
    assert "WITHOUT ROWID" not in new_sql.upper() and after == before
    assert db.stat().st_size < old_size * 0.75  # each vector had an overflow page to itself
    said = [r.getMessage() for r in caplog.records if "upgrad" in r.getMessage()]
    assert len(said) == 2 and said[0].startswith("upgrading") and said[1].startswith("upgraded")

    caplog.clear()
    with caplog.at_level("WARNING", logger="codeweaver"):
        _index(repo, model)  # once only
    assert not [r for r in caplog.records if "upgraded" in r.getMessage()]
    out = _cli("search", "f3_7", str(repo), "--mode", "semantic", "--json")
    assert out.returncode == 0, out.stderr


def _vectors_of(repo: Path) -> dict[str, bytes]:
    with IndexStore.open(default_db_path(repo), create=False) as store:
        return dict(store.connection.execute("SELECT content_hash, vector FROM vectors"))


def _static_parent_only() -> type[Any]:
    from codeweaver.embed.static import StaticEmbedder

    class ParentOnly(StaticEmbedder):
        """The same model, embedded by the stage's own thread (the way every other provider is)."""

        embeds_beside_chunker = False
        threads: ClassVar[set[str]] = set()

        def _embed(self, texts: list[str]) -> Any:
            self.threads.add(threading.current_thread().name)
            return super()._embed(texts)

    return ParentOnly


def _many_files(root: Path) -> Path:
    files = {
        f"pkg{i}/mod{j}.py": f'def handler_{i}_{j}(request):\n    """Serve {i}/{j}."""\n'
        f"    return request.reply({i} * {j})\n\n\nclass Store{i}{j}:\n    size = {j}\n"
        for i in range(12)
        for j in range(10)
    }
    return _repo(root, {**FILES, **files})


def _counting_static() -> type[Any]:
    from codeweaver.embed.static import StaticEmbedder

    class Counting(StaticEmbedder):
        """Notes each text it embeds in a file per process under ``tally`` (a worker's copy
        too: where it ran, and how much, is then visible from here)."""

        tally = ""

        def _embed(self, texts: list[str]) -> Any:
            note = Path(self.tally) / f"{os.getpid()}-{threading.current_thread().name}"
            with note.open("a") as fh:
                fh.write("x\n" * len(texts))
            return super()._embed(texts)

    return Counting


def _tallies(folder: Path) -> dict[str, int]:
    """Texts embedded, by "pid-thread"."""
    out = {p.name: len(p.read_text().splitlines()) for p in folder.iterdir()}
    for p in folder.iterdir():
        p.unlink()
    return out


def test_a_static_model_embeds_in_the_chunk_workers_to_the_very_same_vectors(
    tmp_path: Path, static_model_path: Path
) -> None:
    counting = _counting_static()
    tally = tmp_path / "tally"
    tally.mkdir()
    model = counting(str(static_model_path))
    model.tally = str(tally)
    beside = _many_files(tmp_path / "beside")
    settings = load_settings(
        beside,
        embedding={"provider": "none"},
        chunker={"concurrency": {"executor": "process", "max_parallel_files": 2}},
    )
    report = index_project(beside, settings, embedder=model)
    assert report.ok and report.executor == "process" and report.embedding.pending == 0
    assert report.embedding.embedded == len(_hashes(beside)) > 120
    assert report.embedding.seconds > 0  # the workers' embedder time is counted
    where = _tallies(tally)
    assert not any(k.startswith(f"{os.getpid()}-") for k in where)  # none here: all in workers
    assert sum(where.values()) >= report.embedding.embedded

    parent_only = _static_parent_only()
    stage = _many_files(tmp_path / "stage")
    again = index_project(stage, settings, embedder=parent_only(str(static_model_path)))
    assert again.ok and again.embedding.embedded == report.embedding.embedded
    assert parent_only.threads == {"codeweaver-embed"}
    assert _vectors_of(beside) == _vectors_of(stage)  # bit for bit

    # Re-chunking an embedded tree: the workers know which texts have a vector and embed only
    # the new ones.
    before = _hashes(beside)
    src = beside / "pkg3" / "mod4.py"
    src.write_text(src.read_text() + "\n\ndef added_later():\n    return 42\n")
    redo = index_project(beside, settings, embedder=model, full=True)
    fresh = _hashes(beside) - before  # the edited file's new texts
    assert redo.ok and redo.changed + redo.unchanged == report.new
    assert redo.embedding.embedded == len(fresh) > 0 and redo.embedding.pending == 0
    assert sum(_tallies(tally).values()) == len(fresh)


def test_only_chunk_worker_processes_embed_and_a_failure_there_is_retried_by_the_stage(
    tmp_path: Path, static_model_path: Path
) -> None:
    from codeweaver.core.errors import EmbeddingError
    from codeweaver.embed.static import StaticEmbedder

    class Refuses(StaticEmbedder):
        """Refuses any text with BOOM in it (for its input: not worth retrying); the copy in
        this process notes what it was asked to embed (a worker's copy has its own list)."""

        asked: ClassVar[list[str]] = []
        threads: ClassVar[set[str]] = set()

        def _embed(self, texts: list[str]) -> Any:
            self.asked.extend(texts)
            self.threads.add(threading.current_thread().name)
            if any("BOOM" in t for t in texts):
                raise EmbeddingError("refused: BOOM", transient=False)
            return super()._embed(texts)

    repo = _many_files(tmp_path / "repo")
    (repo / "bad.py").write_text("def explodes():\n    return 'BOOM'\n")
    files = len(list(repo.rglob("*.py")))
    model = Refuses(str(static_model_path))
    conc = {"executor": "process", "max_parallel_files": 2}
    settings = load_settings(repo, embedding={"provider": "none"}, chunker={"concurrency": conc})
    report = index_project(repo, settings, embedder=model)
    assert report.executor == "process"
    assert report.failed == 0 and report.new == files  # an embedder never costs a file
    assert report.embedding.failed == 1 and report.embedding.pending == 1
    [failure] = report.embedding.failures
    assert failure.path == "bad.py" and "explodes" in failure.symbol
    assert report.embedding.embedded == len(_hashes(repo)) - 1
    # The workers embedded everything but the chunk they failed on, which this process tried
    # again (once, then alone to find the culprit: it is alone).
    assert model.asked and all("BOOM" in t for t in model.asked)

    # Serial: the stage's own thread embeds (in its batches, beside the chunking), not the
    # thread that chunks.
    Refuses.asked.clear()
    Refuses.threads.clear()
    other = _many_files(tmp_path / "serial")
    conc = {"executor": "serial"}
    settings = load_settings(other, embedding={"provider": "none"}, chunker={"concurrency": conc})
    serial = index_project(other, settings, embedder=Refuses(str(static_model_path)))
    assert serial.ok and serial.embedding.embedded == len(_hashes(other))
    assert len(Refuses.asked) == serial.embedding.embedded
    assert Refuses.threads == {"codeweaver-embed"}


def test_ctrl_c_while_the_chunk_workers_embed_stops_cleanly(
    tmp_path: Path, static_model_path: Path
) -> None:
    """The workers embed with model2vec, whose (hidden) progress bar makes a process lock on
    first use: a worker stopped by Ctrl-C must not leave it for the resource tracker to report
    as a leaked semaphore on the user's terminal."""
    files = {
        f"pkg{i % 20}/m{i:03d}.py": "".join(
            f"def task_{i}_{j}(x):\n    return x * {j} + {i}\n\n\n" for j in range(30)
        )
        for i in range(1500)  # a run long enough that the Ctrl-C lands while the workers embed
    }
    repo = _repo(tmp_path / "repo", files)
    db = default_db_path(repo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeweaver", "index", str(repo), "-q", "--executor", "process",
         "--workers", "2", "--embed-provider", "model2vec", "--embed-model",
         str(static_model_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if _vector_hashes(db):  # the workers are embedding
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err.decode()[-3000:])
    assert b"run the same command again" in err
    assert b"Traceback" not in err and b"leaked" not in err, err.decode()
