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

A bad value raises one :class:`~codeweaver.core.errors.ConfigError` naming the field, the value and
the source it came from.
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

from codeweaver.config.chunker import ChunkerSettings, ConcurrencySettings
from codeweaver.config.embedding import EmbeddingSettings
from codeweaver.core.errors import ConfigError

__all__ = ["CodeWeaverSettings", "DiscoverySettings", "IndexSettings", "load_settings"]

ENV_PREFIX = "CODEWEAVER_"
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
        env_prefix=ENV_PREFIX,
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
        ("environment", EnvSettingsSource(settings_cls)),
        (str(base / ".env"), DotEnvSettingsSource(settings_cls, env_file=base / ".env")),
        (
            str(base / CONFIG_FILE),
            TomlConfigSettingsSource(settings_cls, toml_file=base / CONFIG_FILE),
        ),
        (
            f"{base / 'pyproject.toml'} [tool.codeweaver]",
            PyprojectTomlConfigSettingsSource(settings_cls, toml_file=base / "pyproject.toml"),
        ),
    ]


def load_settings(project_dir: str | Path | None = None, **overrides: Any) -> CodeWeaverSettings:
    """Resolve settings for ``project_dir`` (default: the working directory).

    ``overrides`` are explicit arguments and win over every other source; nested values are dicts,
    e.g. ``load_settings(".", chunker={"max_chunk_chars": 1500})``.

    Raises:
        ConfigError: a value is invalid; the message names the field, the value and its source.
    """
    base = Path(project_dir).resolve() if project_dir is not None else Path.cwd()
    token = _project_dir.set(base)
    try:
        return CodeWeaverSettings(**overrides)
    except ValidationError as exc:
        raise _config_error(exc, overrides) from None
    except ValueError as exc:  # a config file that is not valid TOML, say
        raise _file_error(base, exc) from None
    finally:
        _project_dir.reset(token)


def _file_error(base: Path, exc: ValueError) -> ConfigError:
    """A config file could not be read at all: name the file."""
    import tomllib

    for path in (base / CONFIG_FILE, base / "pyproject.toml"):
        try:
            with path.open("rb") as fh:
                tomllib.load(fh)
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError) as err:
            return ConfigError("<file>", path.name, str(path), f"cannot read it: {err}")
    return ConfigError("<file>", "", str(base), str(exc))


def _config_error(exc: ValidationError, overrides: dict[str, Any]) -> ConfigError:
    err = exc.errors()[0]
    loc = tuple(str(p) for p in err["loc"])
    field = ".".join(loc) or "<settings>"
    value = err.get("input")
    source = _find_source(loc, overrides, whole_model=isinstance(value, dict))
    reason = str(err.get("msg", "invalid value"))
    if len(exc.errors()) > 1:
        reason += f" (and {len(exc.errors()) - 1} more problem(s))"
    return ConfigError(field, value, source, reason)


def _find_source(loc: tuple[str, ...], overrides: dict[str, Any], *, whole_model: bool) -> str:
    """Name the source(s) of the value at ``loc``.

    For one value: the highest-precedence source that sets it. For a whole model (a validator
    that checks several fields together): every source that sets something inside it, since the
    conflict may span them (e.g. a budget in tokens from the environment and one in characters
    from ``codeweaver.toml``).
    """
    init = _InitProbe(overrides)
    found: list[str] = []
    for name, source in _sources(CodeWeaverSettings, init):
        try:
            data: Any = source()
        except Exception:  # a source that cannot even be read cannot be the culprit
            continue
        for part in loc:
            if not isinstance(data, dict) or part not in data:
                data = _MISSING
                break
            data = data[part]
        if data is _MISSING:
            continue
        if name == "environment":
            leaves = _leaf_paths(data) if whole_model and isinstance(data, dict) else [()]
            found.extend(
                f"environment variable {ENV_PREFIX}{'__'.join(loc + leaf).upper()}"
                for leaf in leaves
            )
        else:
            found.append(name)
        if not whole_model:
            break
    if not found:
        return "defaults"
    return " and ".join(found)


def _leaf_paths(data: dict[str, Any]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.extend((key, *rest) for rest in _leaf_paths(value))
        else:
            out.append((key,))
    return out or [()]


_MISSING = object()


class _InitProbe(PydanticBaseSettingsSource):
    """Stands in for the init source when looking up where a bad value came from."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(CodeWeaverSettings)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)
