"""Settings precedence, one rule per test, and errors that name field, value and source.

Precedence, highest first: argument > environment > .env > codeweaver.toml >
pyproject.toml [tool.codeweaver] > defaults.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codeweaver.config import (
    ChunkerSettings,
    CodeWeaverSettings,
    ConcurrencySettings,
    DiscoverySettings,
    load_settings,
)
from codeweaver.core.errors import CodeWeaverError, ConfigError

TOKENS_ENV = "CODEWEAVER_CHUNKER__MAX_CHUNK_TOKENS"


@pytest.fixture
def project(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Path:
    """An empty project folder, with no CODEWEAVER_* variables in the environment."""
    return tmp_path


def write_pyproject(root: Path, tokens: int) -> None:
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "demo"\n\n[tool.codeweaver.chunker]\nmax_chunk_tokens = {tokens}\n'
    )


def write_toml(root: Path, tokens: int) -> None:
    (root / "codeweaver.toml").write_text(f"[chunker]\nmax_chunk_tokens = {tokens}\n")


def write_dotenv(root: Path, tokens: int) -> None:
    (root / ".env").write_text(f"{TOKENS_ENV}={tokens}\n")


# --- precedence: one rule per test -------------------------------------------------------------


def test_defaults_when_nothing_is_set(project: Path) -> None:
    s = load_settings(project)
    assert s.chunker == ChunkerSettings()
    assert s.chunker.max_chunk_tokens is None and s.chunker.budget == 512
    assert s.discovery == DiscoverySettings()


def test_pyproject_beats_defaults(project: Path) -> None:
    write_pyproject(project, 100)
    assert load_settings(project).chunker.max_chunk_tokens == 100


def test_codeweaver_toml_beats_pyproject(project: Path) -> None:
    write_pyproject(project, 100)
    write_toml(project, 200)
    assert load_settings(project).chunker.max_chunk_tokens == 200


def test_dotenv_beats_codeweaver_toml(project: Path) -> None:
    write_toml(project, 200)
    write_dotenv(project, 300)
    assert load_settings(project).chunker.max_chunk_tokens == 300


def test_environment_beats_dotenv(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_dotenv(project, 300)
    monkeypatch.setenv(TOKENS_ENV, "400")
    assert load_settings(project).chunker.max_chunk_tokens == 400


def test_argument_beats_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKENS_ENV, "400")
    s = load_settings(project, chunker={"max_chunk_tokens": 500})
    assert s.chunker.max_chunk_tokens == 500


def test_sources_merge_field_by_field(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A higher source overrides only the fields it sets; the rest come from lower ones."""
    (project / "pyproject.toml").write_text(
        "[tool.codeweaver.chunker]\nfile_timeout_seconds = 5\nmax_chunk_tokens = 100\n"
    )
    monkeypatch.setenv(TOKENS_ENV, "400")
    s = load_settings(project)
    assert (s.chunker.max_chunk_tokens, s.chunker.file_timeout_seconds) == (400, 5.0)


def test_files_are_read_from_the_project_dir_not_the_cwd(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path_factory.mktemp("cwd")
    write_toml(elsewhere, 999)
    write_toml(project, 200)
    monkeypatch.chdir(elsewhere)
    assert load_settings(project).chunker.max_chunk_tokens == 200
    assert load_settings().chunker.max_chunk_tokens == 999  # default: the working directory


# --- environment details -------------------------------------------------------------------------


def test_nested_environment_variable_with_double_underscore(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEWEAVER_CHUNKER__CONCURRENCY__EXECUTOR", "thread")
    monkeypatch.setenv("CODEWEAVER_CHUNKER__CONCURRENCY__MAX_PARALLEL_FILES", "3")
    monkeypatch.setenv("CODEWEAVER_DISCOVERY__EXCLUDE", '["*.md", "vendor/**"]')
    monkeypatch.setenv("CODEWEAVER_DISCOVERY__HIDDEN", "true")
    s = load_settings(project)
    assert s.concurrency == ConcurrencySettings(executor="thread", max_parallel_files=3)
    assert s.discovery.exclude == ("*.md", "vendor/**")
    assert s.discovery.hidden is True


def test_environment_variable_names_are_case_insensitive(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKENS_ENV.lower(), "66")
    assert load_settings(project).chunker.max_chunk_tokens == 66


def test_unrelated_variables_are_ignored(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEWEAVER_NOT_A_SETTING", "1")
    (project / ".env").write_text("OTHER_TOOL=1\n")
    assert load_settings(project) == load_settings(project, chunker={})


def test_settings_are_frozen(project: Path) -> None:
    s = load_settings(project)
    with pytest.raises(ValueError):
        s.chunker = ChunkerSettings()
    assert isinstance(s, CodeWeaverSettings)


# --- errors: one ConfigError naming field, value and source --------------------------------------


def test_bad_environment_value_names_the_variable(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKENS_ENV, "lots")
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    err = info.value
    assert (err.field, err.value) == ("chunker.max_chunk_tokens", "lots")
    assert err.source == f"environment variable {TOKENS_ENV}"
    assert "chunker.max_chunk_tokens='lots'" in str(err) and TOKENS_ENV in str(err)


def test_bad_nested_environment_value(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEWEAVER_CHUNKER__CONCURRENCY__EXECUTOR", "quantum")
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    assert info.value.field == "chunker.concurrency.executor"
    assert info.value.value == "quantum"
    assert info.value.source == "environment variable CODEWEAVER_CHUNKER__CONCURRENCY__EXECUTOR"


def test_bad_toml_value_names_the_file(project: Path) -> None:
    write_toml(project, 2)  # below the minimum of 8
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    err = info.value
    assert (err.field, err.value) == ("chunker.max_chunk_tokens", 2)
    assert err.source == str(project.resolve() / "codeweaver.toml")
    assert "greater than or equal to 8" in err.reason


def test_bad_pyproject_value_names_the_table(project: Path) -> None:
    write_pyproject(project, -5)
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    assert info.value.source == f"{project.resolve() / 'pyproject.toml'} [tool.codeweaver]"


def test_bad_dotenv_value_names_the_file(project: Path) -> None:
    (project / ".env").write_text(f"{TOKENS_ENV}=abc\n")
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    assert info.value.source == str(project.resolve() / ".env")


def test_bad_argument_names_the_argument(project: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(project, chunker={"concurrency": {"executor": "nope"}})
    assert (info.value.field, info.value.value, info.value.source) == (
        "chunker.concurrency.executor",
        "nope",
        "argument",
    )


def test_unknown_key_in_a_file_is_an_error(project: Path) -> None:
    (project / "codeweaver.toml").write_text("[chunker]\nmax_chunk_token = 100\n")  # typo
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    assert info.value.field == "chunker.max_chunk_token"
    assert info.value.source.endswith("codeweaver.toml")


def test_a_budget_from_a_higher_source_wins_whatever_its_unit(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "codeweaver.toml").write_text("[chunker]\nmax_chunk_chars = 1500\n")
    monkeypatch.setenv(TOKENS_ENV, "256")
    chunker = load_settings(project).chunker
    assert (chunker.max_chunk_tokens, chunker.max_chunk_chars) == (256, None)
    assert load_settings(project, chunker={"max_chunk_chars": 900}).chunker.budget == 900
    monkeypatch.delenv(TOKENS_ENV)
    assert load_settings(project).chunker.max_chunk_chars == 1500  # the file, when alone


def test_both_budgets_in_one_source_name_that_source(project: Path) -> None:
    (project / "codeweaver.toml").write_text(
        "[chunker]\nmax_chunk_chars = 1500\nmax_chunk_tokens = 256\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    err = info.value
    assert err.field == "chunker" and "not both" in err.reason
    assert err.source == str(project.resolve() / "codeweaver.toml")


def test_a_misspelt_key_gets_a_did_you_mean(project: Path) -> None:
    (project / "codeweaver.toml").write_text(
        "[chunker]\nmax_chunk_token = 100\n\n[discovry]\nexclude = []\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    text = str(info.value)
    assert "did you mean 'max_chunk_tokens'?" in text


def test_a_misspelt_table_gets_a_did_you_mean(project: Path) -> None:
    (project / "codeweaver.toml").write_text("[discovry]\nexclude = []\n")
    with pytest.raises(ConfigError, match=r"discovry.*did you mean 'discovery'\?"):
        load_settings(project)


def test_an_unknown_argument_is_refused_not_dropped(project: Path) -> None:
    # pydantic alone would ignore it, and the run would use the default executor
    with pytest.raises(ConfigError, match=r"concurrency.*argument.*belongs in 'chunker'"):
        load_settings(project, concurrency={"executor": "thread"})
    with pytest.raises(ConfigError, match=r"chunkr.*did you mean 'chunker'\?"):
        load_settings(project, chunkr={})
    settings = load_settings(project, chunker={"concurrency": {"executor": "thread"}})
    assert settings.concurrency.executor == "thread"


def test_a_section_key_at_the_top_of_a_file_is_pointed_to_its_section(project: Path) -> None:
    (project / "codeweaver.toml").write_text("[concurrency]\nexecutor = 'thread'\n")
    with pytest.raises(ConfigError, match=r"belongs in 'chunker': chunker.concurrency"):
        load_settings(project)


def test_every_problem_is_listed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKENS_ENV, "x")
    monkeypatch.setenv("CODEWEAVER_CHUNKER__FILE_TIMEOUT_SECONDS", "-1")
    (project / "codeweaver.toml").write_text("[chunker]\npacking = 'tight'\n")
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    text = str(info.value)
    for part in (TOKENS_ENV, "CODEWEAVER_CHUNKER__FILE_TIMEOUT_SECONDS", "chunker.packing"):
        assert part in text
    assert "more problem" not in text and "\n" not in text
    assert len(info.value.also) == 2


def test_a_config_file_that_is_not_utf8_names_the_file(project: Path) -> None:
    (project / "codeweaver.toml").write_bytes(b"[chunker]\nmax_chunk_chars = 1500 # \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    assert info.value.source == str(project.resolve() / "codeweaver.toml")
    assert "not UTF-8" in str(info.value)


@pytest.mark.parametrize("where", ["environment", "dotenv"])
def test_a_list_that_is_not_json_names_the_variable_and_the_field(
    project: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "environment":
        monkeypatch.setenv("CODEWEAVER_DISCOVERY__EXCLUDE", "[")
    else:
        (project / ".env").write_text("CODEWEAVER_DISCOVERY__EXCLUDE=[\n")
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    err = info.value
    assert err.field == "discovery.exclude" and err.value == "["
    assert "CODEWEAVER_DISCOVERY__EXCLUDE" in err.source
    assert "JSON" in err.reason


def test_unreadable_toml_names_the_file(project: Path) -> None:
    (project / "codeweaver.toml").write_text("[chunker\nmax_chunk_tokens = 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(project)
    assert info.value.source == str(project.resolve() / "codeweaver.toml")
    assert "codeweaver.toml" in str(info.value)


def test_config_error_is_one_value_error(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKENS_ENV, "x")
    with pytest.raises(ValueError) as info:  # callers who know only builtins can catch it
        load_settings(project)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, CodeWeaverError)
    assert "\n" not in str(info.value)


# --- the models on their own ---------------------------------------------------------------------


def test_chunker_settings_reject_two_budgets() -> None:
    with pytest.raises(ValueError, match="not both"):
        ChunkerSettings(max_chunk_tokens=100, max_chunk_chars=1000)
    assert ChunkerSettings(max_chunk_chars=1000).budget_unit == "chars"
    assert ChunkerSettings(max_chunk_tokens=100).budget == 100


def test_models_forbid_unknown_fields() -> None:
    with pytest.raises(ValueError):
        ConcurrencySettings(executor="process", workers=4)  # type: ignore[call-arg]
