"""``CodeWeaverSettings``: every setting, resolved once, from every source, in a declared order.

Precedence, highest first (declared in :meth:`CodeWeaverSettings.settings_customise_sources`):

1. explicit arguments (``load_settings(chunker={...})`` or CLI flags),
2. environment variables ``CODEWEAVER_<FIELD>``, nested with ``__``
   (``CODEWEAVER_CHUNKER__MAX_CHUNK_TOKENS=256``,
   ``CODEWEAVER_CHUNKER__CONCURRENCY__EXECUTOR=thread``),
3. a ``.env`` file in the project directory,
4. ``codeweaver.toml`` in the project directory,
5. ``[tool.codeweaver]`` in the project directory's ``pyproject.toml``,
6. defaults.

The chunk budget is one setting in two units: a ``max_chunk_tokens`` or ``max_chunk_chars`` from a
source replaces either one from the sources below it (one source giving both is an error).

Bad values raise one :class:`~codeweaver.core.errors.ConfigError` listing every problem, each with
the field, the value and the source it came from; a misspelt key gets a "did you mean".
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from codeweaver.config import _explain
from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
from codeweaver.config.embedding import EmbeddingSettings
from codeweaver.core.errors import ConfigError

__all__ = [
    "CodeWeaverSettings",
    "DiscoverySettings",
    "IndexSettings",
    "find_project_dir",
    "load_settings",
]

CONFIG_FILE = "codeweaver.toml"

# The directory whose config files are read; set by load_settings() for the duration of one load.
_project_dir: ContextVar[Path | None] = ContextVar("codeweaver_project_dir", default=None)


class DiscoverySettings(BaseModel):
    """What ``discover_files`` walks and what it leaves out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    include: tuple[str, ...] = Field(default=(), description="glob patterns; if given, only these")
    exclude: tuple[str, ...] = Field(default=(), description="glob patterns left out")
    hidden: bool = Field(default=False, description="walk hidden files and folders")
    respect_ignore_files: bool = Field(default=True, description="honour .gitignore and .ignore")
    follow_symlinks: bool = Field(
        default=True, description="follow links that stay inside the root"
    )


class IndexSettings(BaseModel):
    """Where the SQLite index lives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    db_path: Path | None = Field(default=None, description="default: <root>/.codeweaver/index.db")


class CodeWeaverSettings(BaseSettings):
    """All codeweaver settings. Build with :func:`load_settings` to read a project's files."""

    model_config = SettingsConfigDict(
        env_prefix=_explain.ENV_PREFIX,
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
        pyproject_toml_table_header=("tool", "codeweaver"),
    )

    chunker: ChunkerSettings = Field(default_factory=ChunkerSettings)
    discovery: DiscoverySettings = Field(default_factory=DiscoverySettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)

    @property
    def concurrency(self) -> ConcurrencySettings:
        return self.chunker.concurrency

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return tuple(source for _, source in _sources(settings_cls, init_settings))


def _sources(
    settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource
) -> list[tuple[str, PydanticBaseSettingsSource]]:
    """The sources in precedence order, each with the name a person would recognise."""
    base = _project_dir.get() or Path.cwd()
    return [
        ("argument", init_settings),
        ("environment", _GatedEnvSource(settings_cls)),
        (str(base / ".env"), _GatedDotEnvSource(settings_cls, env_file=base / ".env")),
        (
            str(base / CONFIG_FILE),
            _GatedTomlSource(settings_cls, toml_file=base / CONFIG_FILE),
        ),
        (
            f"{base / 'pyproject.toml'} [tool.codeweaver]",
            _GatedPyprojectSource(settings_cls, toml_file=base / "pyproject.toml"),
        ),
    ]


_BUDGET_KEYS = ("max_chunk_tokens", "max_chunk_chars")


class _BudgetGivesWay:
    """Mixed into every source below the arguments: its chunk budget gives way to a budget
    from a source above it.

    The budget is one setting in two units: ``CODEWEAVER_CHUNKER__MAX_CHUNK_TOKENS=256`` must
    override ``max_chunk_chars = 1500`` in ``codeweaver.toml``, not clash with it. pydantic-settings
    hands each source the merged values of the sources above it (``current_state``).
    """

    current_state: dict[str, Any]

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = super().__call__()  # type: ignore[misc]  # the source's own
        chunker = data.get("chunker")
        if not isinstance(chunker, dict) or not _sets_budget(self.current_state):
            return data
        kept = {k: v for k, v in chunker.items() if k not in _BUDGET_KEYS}
        return {**data, "chunker": kept}


class _GatedEnvSource(_BudgetGivesWay, EnvSettingsSource):
    pass


class _GatedDotEnvSource(_BudgetGivesWay, DotEnvSettingsSource):
    pass


class _GatedTomlSource(_BudgetGivesWay, TomlConfigSettingsSource):
    pass


class _GatedPyprojectSource(_BudgetGivesWay, PyprojectTomlConfigSettingsSource):
    pass


def _sets_budget(state: dict[str, Any]) -> bool:
    chunker = state.get("chunker")
    if isinstance(chunker, BaseModel):  # a whole ChunkerSettings given as an argument
        return True
    return isinstance(chunker, dict) and any(k in chunker for k in _BUDGET_KEYS)


def load_settings(project_dir: str | Path | None = None, **overrides: Any) -> CodeWeaverSettings:
    """Resolve settings for ``project_dir`` (default: the working directory).

    ``overrides`` are explicit arguments and win over every other source; nested values are dicts,
    e.g. ``load_settings(".", chunker={"max_chunk_chars": 1500})``. A budget set by a source
    replaces one set by a source below it, whatever the unit (``max_chunk_tokens`` or
    ``max_chunk_chars``); one source that sets both is an error.

    Raises:
        ConfigError: a value is invalid or a key unknown; the message lists every problem, each
            with the field, the value and its source (the variable or the file).
    """
    base = Path(project_dir).resolve() if project_dir is not None else Path.cwd()
    token = _project_dir.set(base)
    try:
        known = set(CodeWeaverSettings.model_fields)
        nested = {
            name: set(getattr(field.annotation, "model_fields", {}))
            for name, field in CodeWeaverSettings.model_fields.items()
        }
        # pydantic would drop an unknown keyword silently (load_settings(concurrency=...))
        _explain.unknown_sections(base, [("argument", overrides)], known, nested)
        settings = CodeWeaverSettings(**overrides)
        _explain.unknown_sections(base, _file_tables(), known, nested)
        return settings
    except ValidationError as exc:
        raise _explain.config_error(exc, overrides, CodeWeaverSettings, _sources_for) from None
    except ConfigError:
        raise
    except ValueError as exc:  # a file that is not TOML or UTF-8, a list that is not JSON
        problem = _explain.parse_error(base, exc)
        raise problem or _explain.file_error(base, (CONFIG_FILE, "pyproject.toml"), exc) from None
    finally:
        _project_dir.reset(token)


def find_project_dir(start: str | Path) -> Path:
    """The project a file or folder belongs to: the nearest folder at or above ``start`` holding
    codeweaver settings (``codeweaver.toml``, or a ``pyproject.toml`` with
    ``[tool.codeweaver]``), else the nearest holding ``.git`` or a ``pyproject.toml``, else
    ``start`` itself (a folder)."""
    here = Path(start).resolve()
    if not here.is_dir():
        here = here.parent
    chain = [here, *here.parents]
    for folder in chain:
        if (folder / CONFIG_FILE).is_file() or _has_tool_table(folder / "pyproject.toml"):
            return folder
    for folder in chain:
        if (folder / ".git").exists() or (folder / "pyproject.toml").is_file():
            return folder
    return here


def _has_tool_table(pyproject: Path) -> bool:
    try:
        text = pyproject.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "[tool.codeweaver" in text


def _sources_for(init: PydanticBaseSettingsSource) -> list[tuple[str, PydanticBaseSettingsSource]]:
    return _sources(CodeWeaverSettings, init)


def _file_tables() -> list[tuple[str, Any]]:
    """``(source name, top-level table)`` of each config file (what ``[chunkr]`` typos hide in)."""
    out = []
    for name, source in _sources_for(_explain.InitProbe(CodeWeaverSettings, {})):
        data = getattr(source, "toml_data", None)
        if data:
            out.append((name, data))
    return out
