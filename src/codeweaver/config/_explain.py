"""Turning what went wrong while loading settings into one :class:`ConfigError` a person can act on.

Every problem is listed (not "and 1 more"), each with its field, value and the source it came from
(the environment variable, the file); a misspelt key gets a "did you mean"; a file that cannot be
read (bad TOML, not UTF-8) and an environment value that is not the JSON a list needs name the file
or the variable.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from codeweaver.core.errors import ConfigError

SourceList = list[tuple[str, PydanticBaseSettingsSource]]
SourcesFor = Callable[[PydanticBaseSettingsSource], SourceList]

ENV_PREFIX = "CODEWEAVER_"


def config_error(
    exc: ValidationError,
    overrides: dict[str, Any],
    model: type[BaseSettings],
    sources_for: SourcesFor,
) -> ConfigError:
    """One error listing every problem pydantic found, each with its source."""
    problems: list[ConfigError] = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        field = ".".join(loc) or "<settings>"
        value = err.get("input")
        source = find_source(
            loc, overrides, model, sources_for, whole_model=isinstance(value, dict)
        )
        reason = str(err.get("msg", "invalid value"))
        if err.get("type") == "extra_forbidden" and loc:
            reason = "unknown setting" + _did_you_mean(loc[-1], _fields_at(model, loc[:-1]))
        problems.append(ConfigError(field, value, source, reason))
    first, *rest = problems
    return ConfigError(first.field, first.value, first.source, first.reason, also=tuple(rest))


def unknown_sections(
    base: Path,
    data_by_file: Iterable[tuple[str, Any]],
    known: set[str],
    nested: dict[str, set[str]] | None = None,
) -> None:
    """Refuse a top-level table a config file (or ``load_settings``'s arguments) has but no
    setting has (``[chunkr]``). ``nested`` maps each section to its own keys, so a key given at
    the top that belongs in a section (``concurrency``) is pointed there.

    Raises:
        ConfigError: one per unknown table, all in one.
    """
    problems = [
        ConfigError(key, value, name, "unknown setting" + _hint(key, known, nested or {}))
        for name, data in data_by_file
        if isinstance(data, dict)
        for key, value in data.items()
        if key not in known
    ]
    if problems:
        first, *rest = problems
        raise ConfigError(first.field, first.value, first.source, first.reason, also=tuple(rest))


def file_error(base: Path, files: Iterable[str], exc: Exception) -> ConfigError:
    """A config file could not be read at all (bad TOML, not UTF-8): name the file."""
    import tomllib

    for name in files:
        path = base / name
        try:
            with path.open("rb") as fh:
                tomllib.load(fh)
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as err:  # TOMLDecodeError and UnicodeDecodeError included
            why = "it is not UTF-8 text" if isinstance(err, UnicodeDecodeError) else f"{err}"
            return ConfigError("<file>", path.name, str(path), f"cannot read it: {why}")
    return ConfigError("<file>", "", str(base), str(exc))


_SETTINGS_ERROR = re.compile(r'field "(?P<field>[^"]+)" from source "(?P<source>[^"]+)"')


def parse_error(base: Path, exc: Exception) -> ConfigError | None:
    """pydantic-settings could not decode a value (a list that is not JSON: ``[``): name the
    environment variable (or ``.env`` line) and the field it sets. None when it is not that."""
    m = _SETTINGS_ERROR.search(str(exc))
    if m is None or "Env" not in m["source"]:
        return None
    if "DotEnv" not in m["source"]:
        env: dict[str, str | None] = dict(os.environ)
        where = "environment variable {}"
    else:
        from dotenv import dotenv_values

        env = dict(dotenv_values(base / ".env"))
        where = f"{base / '.env'} ({{}})"
    prefix = f"{ENV_PREFIX}{m['field']}".upper()
    for name, value in sorted(env.items()):
        if not name.upper().startswith(prefix) or value is None:
            continue
        if value.lstrip()[:1] not in ("[", "{"):
            continue
        try:
            json.loads(value)
        except ValueError as err:
            field = name[len(ENV_PREFIX) :].lower().replace("__", ".")
            return ConfigError(
                field,
                value,
                where.format(name),
                f'not valid JSON ({err}); a list is written like \'["vendor/**", "*.min.js"]\'',
            )
    return None


def find_source(
    loc: tuple[str, ...],
    overrides: dict[str, Any],
    model: type[BaseSettings],
    sources_for: SourcesFor,
    *,
    whole_model: bool,
) -> str:
    """Name the source(s) of the value at ``loc``.

    For one value: the highest-precedence source that sets it. For a whole model (a validator
    that checks several fields together): every source that sets something inside it.
    """
    init = InitProbe(model, overrides)
    found: list[str] = []
    for name, source in sources_for(init):
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


def _fields_at(model: type[BaseModel], loc: tuple[str, ...]) -> set[str]:
    """The field names of the model nested at ``loc`` (empty if ``loc`` leads elsewhere)."""
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return set()
        current = field.annotation
    return set(getattr(current, "model_fields", {}))


def _hint(name: str, known: Iterable[str], nested: dict[str, set[str]]) -> str:
    for section, keys in nested.items():
        if name in keys:
            return f"; it belongs in {section!r}: {section}.{name}"
    return _did_you_mean(name, known)


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _leaf_paths(data: dict[str, Any]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.extend((key, *rest) for rest in _leaf_paths(value))
        else:
            out.append((key,))
    return out or [()]


_MISSING = object()


class InitProbe(PydanticBaseSettingsSource):
    """Stands in for the init source when looking up where a bad value came from."""

    def __init__(self, model: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(model)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)
