"""Environment overrides of kapacitor.conf: ``KAPACITOR_*`` and ``LEYDEN_*``.

Kapacitor's naming: ``KAPACITOR_`` + the key path upper-cased, ``-`` → ``_``, list sections
indexed (``KAPACITOR_DISCORD_0_URL``, ``KAPACITOR_HTTP_BIND_ADDRESS``).  ``LEYDEN_`` is the same
prefix and wins when both are set; empty values do not count.  Values are written into the
decoded TOML before it is decoded, so one path validates the file and the environment alike.
They can only override list elements that exist (from the file, or a section's built-in
default element), as in Kapacitor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from leyden.config._schema import SCALAR_KINDS, ConfigError, Key
from leyden.go.strconv import parse_go_bool, parse_go_duration, parse_go_int

__all__ = ["ENV_SOURCE", "apply_env"]

ENV_SOURCE = "environment"


def _env_part(name: str) -> str:
    return name.replace("-", "_").upper()


_INDEX = re.compile(r"(0|[1-9][0-9]*)_(.+)")


def _env_target(schema: tuple[Key, ...], rest: str) -> tuple[list[str | int], Key] | None:
    """Resolve ``HTTP_BIND_ADDRESS`` / ``DISCORD_0_URL`` against the schema; None if unknown."""
    for key in schema:
        part = _env_part(key.name)
        if key.kind in SCALAR_KINDS:
            if rest == part:
                return [key.name], key
            continue
        if not rest.startswith(part + "_"):
            continue
        tail = rest[len(part) + 1 :]
        if key.kind == "str_map":
            return [key.name, tail], Key(tail, tail, "str")
        if key.kind == "struct":
            found = _env_target(key.cls._SCHEMA, tail)
            if found:
                return [key.name, *found[0]], found[1]
        elif key.kind == "table_list":
            indexed = _INDEX.fullmatch(tail)
            if indexed:
                found = _env_target(key.cls._SCHEMA, indexed.group(2))
                if found:
                    return [key.name, int(indexed.group(1)), *found[0]], found[1]
    return None


def _env_value(key: Key, text: str) -> Any:
    if key.kind == "bool":
        return parse_go_bool(text)
    if key.kind == "int":
        return parse_go_int(text)
    if key.kind == "duration":
        parse_go_duration(text)
        return text  # decoded again, like a TOML string, when the section is built
    if key.kind == "str_list":
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _collect_env(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """suffix → (variable name, value); LEYDEN_ beats KAPACITOR_, empty values do not count."""
    chosen: dict[str, tuple[str, str]] = {}
    for prefix in ("KAPACITOR_", "LEYDEN_"):  # later prefixes win
        for name, value in env.items():
            if name.startswith(prefix) and value != "":
                chosen[name[len(prefix) :]] = (name, value)
    return chosen


def apply_env(raw: dict[str, Any], env: Mapping[str, str], schema: tuple[Key, ...]) -> list[str]:
    """Write environment values into the decoded TOML, so one path validates both."""
    applied: list[str] = []
    for suffix, (variable, text) in sorted(_collect_env(env).items()):
        target = _env_target(schema, suffix)
        if target is None:
            continue  # Kapacitor-only or unknown key: ignored, like its section
        path, key = target
        try:
            value = _env_value(key, text)
        except ValueError as exc:
            raise ConfigError(f"{ENV_SOURCE}: {variable}: {exc}") from None
        container = _descend(raw, path, variable)
        name = path[-1]
        assert isinstance(name, str)  # paths end with a key name, never a list index
        if container is not None:  # None: the file has a wrong type there; decoding says so
            container[name] = value
            applied.append(variable)
    return applied


def _descend(raw: dict[str, Any], path: list[str | int], variable: str) -> dict[str, Any] | None:
    """The table that holds ``path[-1]``, creating plain tables but never list elements."""
    container: Any = raw
    i = 0
    while i < len(path) - 1:
        step = path[i]
        if not isinstance(container, dict):
            return None
        index = path[i + 1]
        if isinstance(index, int):
            items = container.get(step)
            if isinstance(items, Mapping):
                items = container[step] = [items]
            if items is not None and not isinstance(items, list):
                return None
            count = len(items) if items else 0
            if index >= count:
                raise ConfigError(
                    f"{ENV_SOURCE}: {variable}: there is no [[{step}]] #{index} to override "
                    f"(the configuration has {count}); environment variables can only override "
                    "sections that exist"
                )
            assert items is not None  # index >= count raised above when there are none
            container = items[index]
            i += 2
        else:
            container = container.setdefault(step, {})
            i += 1
    return container if isinstance(container, dict) else None
