"""User token counters that misbehave: a clear error once, or a failure of one file -- never a
silently broken budget, a lost run, or the same failure printed for every file."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from codeweaver.config.chunker import ChunkerSettings
from codeweaver.core.discovery import DiscoveredFile
from codeweaver.core.errors import ConfigError, RepeatedFailureError
from codeweaver.engine.chunker.governor import ChunkGovernor, check_count
from codeweaver.engine.chunker.parallel import REPEATED_FAILURES, iter_file_results

SOURCE = "def f{i}(x):\n    return x + {i}\n\n\nclass C{i}:\n    pass\n"


@pytest.fixture
def files(tmp_path: Path) -> list[DiscoveredFile]:
    out = []
    for i in range(12):
        p = tmp_path / f"m{i:02d}.py"
        p.write_text(SOURCE.format(i=i) + ("# MARKER\n" if i == 4 else ""), encoding="utf-8")
        out.append(DiscoveredFile(str(p), p.name, "python", p.stat().st_size, 0))
    return out


def _gov(counter: object) -> ChunkGovernor:
    return ChunkGovernor(ChunkerSettings(max_chunk_tokens=64), token_counter=counter)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, None, "many", math.nan, math.inf, True])
@pytest.mark.parametrize("executor", ["serial", "thread", "process"])
def test_a_counter_returning_a_non_count_is_one_config_error_up_front(
    files: list[DiscoveredFile], bad: object, executor: str
) -> None:
    with pytest.raises(ConfigError, match=r"token_counter.*whole number of tokens"):
        iter_file_results(files, _gov(lambda s: bad), executor_type=executor)


def test_a_counter_with_a_bug_is_one_config_error_up_front(files: list[DiscoveredFile]) -> None:
    def counter(text: str) -> int:
        return len(tokenizer.encode(text))  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(ConfigError, match=r"NameError: name 'tokenizer' is not defined"):
        iter_file_results(files, _gov(counter), executor_type="serial")


def test_counts_are_whole_numbers_of_tokens() -> None:
    assert check_count(7, len) == 7
    assert check_count(np.int64(7), len) == 7
    assert check_count(10.75, len) == 10  # len(s) / 4 style counters keep working
    assert check_count(10**30, len) == 10**30
    for bad in (-1, -0.5, None, "3", math.nan, True, [3]):
        with pytest.raises(ConfigError):
            check_count(bad, len)


def test_a_bad_count_in_the_middle_of_chunking_fails_that_file(
    files: list[DiscoveredFile],
) -> None:
    gov = _gov(lambda s: None if "MARKER" in s else len(s) // 3)
    results = {r.file.rel_path: r for r in iter_file_results(files, gov, executor_type="serial")}
    bad = results["m04.py"]
    assert bad.status == "failed" and bad.failure is not None
    assert bad.failure.error_type == "ConfigError"
    assert sum(r.status == "chunked" for r in results.values()) == 11


def _exits(text: str) -> int:
    if "MARKER" in text:
        sys.exit(3)
    return len(text) // 3


def _interrupts(text: str) -> int:
    if "MARKER" in text:
        raise KeyboardInterrupt
    return len(text) // 3


@pytest.mark.parametrize("counter", [_exits, _interrupts])
@pytest.mark.parametrize("executor", ["serial", "thread"])
def test_sys_exit_or_keyboard_interrupt_in_a_counter_fails_only_its_file(
    files: list[DiscoveredFile], counter: object, executor: str
) -> None:
    results = list(iter_file_results(files, _gov(counter), executor_type=executor, max_workers=2))
    assert len(results) == len(files)  # the run went on: nothing before or after it was lost
    failed = [r for r in results if r.status == "failed"]
    assert [r.file.rel_path for r in failed] == ["m04.py"]
    assert failed[0].failure is not None
    assert failed[0].failure.error_type in ("SystemExit", "KeyboardInterrupt")


def test_a_real_ctrl_c_still_stops_a_serial_run(files: list[DiscoveredFile]) -> None:
    def counter(text: str) -> int:
        if "MARKER" in text:
            os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C during this file
        return len(text) // 3

    seen = []
    with pytest.raises(KeyboardInterrupt):
        for r in iter_file_results(files, _gov(counter), executor_type="serial"):
            seen.append(r)
    assert len(seen) == 4  # m00..m03, then the interrupt
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler put back


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_every_file_failing_the_same_way_stops_the_run_and_says_why(
    files: list[DiscoveredFile], executor: str
) -> None:
    def counter(text: str) -> int:
        if "greet" in text:  # the up-front check passes...
            return len(text) // 3
        return len(tokenizer.encode(text))  # type: ignore[name-defined]  # noqa: F821

    seen = []
    with pytest.raises(RepeatedFailureError, match=r"the first 5 files all failed.*NameError"):
        for r in iter_file_results(
            files, _gov(counter), executor_type=executor, max_workers=1, batch_size=1
        ):
            seen.append(r)
    assert len(seen) == REPEATED_FAILURES < len(files)


def test_failures_with_different_reasons_or_after_a_success_never_stop_a_run(
    files: list[DiscoveredFile],
) -> None:
    def counter(text: str) -> int:
        if "greet" in text or "f0(" in text:
            return len(text) // 3
        raise ValueError(f"cannot count {text[:8]!r}")  # a different message per file

    # m00.py (every piece of it holds a "0") chunks; then every other file fails the same way
    for gov in (_gov(counter), _gov(lambda s: 1 if "greet" in s or "0" in s else None)):
        results = list(iter_file_results(files, gov, executor_type="serial"))
        assert len(results) == len(files)


STDIN_SCRIPT = textwrap.dedent(
    """\
    import sys, threading, time
    from codeweaver import ChunkGovernor, iter_file_results
    from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
    from codeweaver.core.discovery import discover_files

    files = list(discover_files(sys.argv[1]))
    threading.Thread(target=time.sleep, args=(3,), daemon=True).start()  # as index does
    conc = ConcurrencySettings(executor="process", max_parallel_files=2,
                               start_method=sys.argv[2] if sys.argv[2] != "default" else None)
    results = list(iter_file_results(files, ChunkGovernor(ChunkerSettings(concurrency=conc))))
    print(sorted(r.status for r in results))
    """
)


@pytest.mark.parametrize("method", ["default", "spawn"])
def test_a_script_read_from_stdin_gets_working_workers_or_a_clear_error(
    tmp_path: Path, method: str
) -> None:
    for i in range(6):
        (tmp_path / f"m{i}.py").write_text(SOURCE.format(i=i))
    proc = subprocess.run(
        [sys.executable, "-", str(tmp_path), method],
        input=STDIN_SCRIPT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if method == "default":  # falls back to fork, which needs no script to re-import
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == str(["chunked"] * 6)
    else:  # spawn was asked for: one clear error, not a dying worker per file
        assert proc.returncode == 1
        assert "ExecutorError" in proc.stderr and "standard input" in proc.stderr
        assert "FileNotFoundError" not in proc.stderr
