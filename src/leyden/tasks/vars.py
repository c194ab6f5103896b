"""Task vars as Kapacitor's API carries them (``{"x": {"type": "int", "value": 5}}``), checked.

Kapacitor decodes a task's ``vars`` in ``services/task_store`` and refuses a var whose value
does not fit its declared type; Leyden does the same when a task is defined, with texts that
name the var, and stores durations as nanoseconds as Kapacitor does.  Regexes and lambdas are
compiled here only to be refused early; the builder compiles them again for the task.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from leyden.tick.errors import TickError
from leyden.tick.parser import parse_lambda
from leyden.tick.values import compile_go_regex, parse_duration_influxql

__all__ = ["VAR_TYPES", "normalize_vars"]

VAR_TYPES = ("bool", "int", "float", "string", "regex", "duration", "lambda", "list", "star")


def normalize_vars(raw: Any) -> dict[str, dict[str, Any]]:
    """Kapacitor's vars JSON, checked, with durations as nanoseconds (the stored form).

    Raises ``ValueError`` with the text the task API answers.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError('invalid vars: expected an object {"name": {"type": …, "value": …}}')
    return {str(name): _normalize_var(str(name), spec) for name, spec in raw.items()}


def _normalize_var(name: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
        raise ValueError(f'invalid var {name}: expected an object with "type" and "value"')
    kind = spec["type"]
    if kind not in VAR_TYPES:
        raise ValueError(
            f'invalid var {name}: unknown var type "{kind}" (one of {", ".join(VAR_TYPES)})'
        )
    value = spec.get("value")
    description = spec.get("description") or ""
    if not isinstance(description, str):
        raise ValueError(f"invalid var {name}: description must be a string")

    def bad(expected: str) -> ValueError:
        return ValueError(f"invalid var {name}: expected {expected} value, got {value!r}")

    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("a bool")
    elif kind == "int":
        if type(value) is not int:
            raise bad("an int")
    elif kind == "float":
        if type(value) not in (int, float):
            raise bad("a float")
        value = float(cast("int | float", value))
    elif kind == "string":
        if not isinstance(value, str):
            raise bad("a string")
    elif kind == "regex":
        if not isinstance(value, str):
            raise bad("a regex pattern (string)")
        try:
            compile_go_regex(value)
        except (re.error, ValueError) as exc:
            raise ValueError(f"invalid var {name}: invalid regex pattern: {exc}") from None
    elif kind == "duration":
        if isinstance(value, str):
            try:
                value = int(parse_duration_influxql(value))
            except (TickError, ValueError) as exc:
                why = exc.message if isinstance(exc, TickError) else str(exc)
                raise ValueError(f"invalid var {name}: invalid duration string: {why}") from None
        elif type(value) is not int:
            raise bad("a duration (nanoseconds or a string like 10s)")
    elif kind == "lambda":
        if not isinstance(value, str):
            raise bad("a lambda expression (string, without 'lambda:')")
        try:
            parse_lambda(value, f"var {name}")
        except TickError as exc:
            raise ValueError(
                f"invalid var {name}: invalid lambda expression: {exc.message}"
            ) from None
    elif kind == "list":
        if not isinstance(value, list):
            raise bad("a list of vars")
        value = [_normalize_var(f"{name}[{i}]", item) for i, item in enumerate(value)]
    elif kind == "star":
        value = None
    return {"type": kind, "value": value, "description": description}
