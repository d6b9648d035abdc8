"""The library takes plain paths where it takes files, and says which settings it expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeweaver import (
    ChunkerSettings,
    ChunkGovernor,
    DiscoveredFile,
    chunk_file,
    chunk_files_parallel,
    chunk_files_parallel_dict,
    index_project,
)
from codeweaver.core.chunks import content_hash
from codeweaver.core.errors import DiscoveryError, FileSkippedError
from codeweaver.index import IndexStore

SOURCE = "def alpha(x):\n    return x + 1\n\n\nclass Beta:\n    pass\n"
GOV = ChunkGovernor(max_chunk_chars=1500)


@pytest.fixture
def src(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pkg").mkdir()
    f = tmp_path / "pkg" / "mod.py"
    f.write_text(SOURCE)
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2" * 20)
    monkeypatch.chdir(tmp_path)
    return f


def test_from_path_fills_in_what_discovery_would(src: Path) -> None:
    f = DiscoveredFile.from_path("pkg/mod.py")
    st = src.stat()
    assert (f.path, f.rel_path, f.language) == (str(src), "pkg/mod.py", "python")
    assert (f.size, f.mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert f.content_hash == content_hash(SOURCE.encode())
    assert DiscoveredFile.from_path(src, root=src.parent).rel_path == "mod.py"


def test_from_path_refuses_binary_missing_and_special_files(src: Path) -> None:
    with pytest.raises(FileSkippedError, match="binary"):
        DiscoveredFile.from_path("blob.bin")
    with pytest.raises(DiscoveryError, match="cannot read"):
        DiscoveredFile.from_path("nope.py")
    with pytest.raises(DiscoveryError, match="not_regular"):
        DiscoveredFile.from_path("pkg")


@pytest.mark.parametrize("given", ["pkg/mod.py", Path("pkg/mod.py")])
def test_chunk_file_takes_a_path(src: Path, given: str | Path) -> None:
    chunks = chunk_file(given, GOV)
    assert chunks == chunk_file(DiscoveredFile.from_path(src), GOV)
    assert "".join(c.content for c in chunks) == SOURCE
    assert {c.path for c in chunks} == {"pkg/mod.py"}


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_chunk_files_parallel_takes_paths_and_reports_bad_ones(src: Path, executor: str) -> None:
    skipped: list[str] = []
    out = dict(
        chunk_files_parallel(
            ["pkg/mod.py", Path("blob.bin"), "gone.py"],
            GOV,
            executor_type=executor,
            on_skip=lambda s: skipped.append(s.reason),
        )
    )
    assert list(out) == [str(src)]
    assert sorted(skipped) == ["binary", "vanished"]
    assert chunk_files_parallel_dict(["pkg/mod.py"], GOV) == out


def test_something_else_than_a_file_is_a_type_error(src: Path) -> None:
    with pytest.raises(TypeError, match="DiscoveredFile or a path"):
        list(chunk_files_parallel([42], GOV))  # type: ignore[list-item]


def test_index_project_takes_chunker_settings_alone(src: Path, tmp_path: Path) -> None:
    report = index_project(tmp_path, settings=ChunkerSettings(max_chunk_chars=40))
    assert report.ok and report.new == 1
    with IndexStore.open(report.db_path, read_only=True) as store:
        assert "unit=chars;budget=40;" in (store.fingerprint or "")
    with pytest.raises(TypeError, match=r"CodeWeaverSettings.*ChunkerSettings"):
        index_project(tmp_path, settings={"chunker": {}})  # type: ignore[arg-type]
