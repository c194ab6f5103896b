"""``sideload()``: fields and tags looked up in YAML/JSON files by the point's tags (sideload.go).

``.source('file:///dir')`` names a directory whose ``.yml``/``.yaml``/``.json`` files each hold
one flat map; ``.order('host/{{.host}}.yml', 'default.yml')`` lists, per point, which files to try
in turn; ``.field('cpus', 0)`` / ``.tag('role', 'none')`` name the keys to load and their defaults.
A loaded value is converted to the type of its default (as Kapacitor's ``convertType``); one that
does not convert is an error, and the default is used.  Files are read once, when the task starts.
Only ``file://`` sources are supported (Kapacitor can also GET an http(s) URL).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from leyden.engine.model import Batch, BatchPoint, Point
from leyden.engine.node import Node, TaskContext, TaskError, register
from leyden.go.strconv import parse_go_bool
from leyden.go.template import Template, TemplateError, TemplateExecError
from leyden.go.types import StringMap

_INT64 = (-(2**63), 2**63 - 1)


def _go_atoi(s: str) -> int:
    """Go's ``strconv.Atoi``: optional sign and decimal digits only."""
    body = s[1:] if s[:1] in "+-" else s
    if not body.isascii() or not body.isdigit():
        raise ValueError(f'strconv.Atoi: parsing "{s}": invalid syntax')
    v = int(s)
    if not _INT64[0] <= v <= _INT64[1]:
        raise ValueError(f'strconv.Atoi: parsing "{s}": value out of range')
    return v


def convert(value: Any, default: Any) -> Any:
    """Kapacitor's ``convertType``: ``value`` as the type of ``default``, or ValueError."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return parse_go_bool(value)
    elif isinstance(default, int):
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            return value
        elif isinstance(value, float):
            if value.is_integer():
                return int(value)
        elif isinstance(value, str):
            return _go_atoi(value)
    elif isinstance(default, float):
        if isinstance(value, bool):
            pass
        elif isinstance(value, int | float | str):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return format(Decimal(repr(value)), "f")
        if isinstance(value, str):
            return value
    raise ValueError(f"cannot convert value of type {_go_type(value)} to type {_go_type(default)}")


def _go_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if v is None:
        return "<nil>"
    return "map[string]interface {}" if isinstance(v, dict) else "[]interface {}"


def _numbers_as_floats(v: Any) -> Any:
    """Kapacitor reads YAML through JSON, so every YAML number is a float64."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, dict):
        return {str(k): _numbers_as_floats(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_numbers_as_floats(x) for x in v]
    return v


def load_source(directory: Path) -> dict[str, dict[str, Any]]:
    """Every file under ``directory`` by its relative path: its map of values."""
    cache: dict[str, dict[str, Any]] = {}
    if not directory.is_dir():
        raise ValueError(f"sideload source {directory} is not a directory")
    for root, _, files in os.walk(directory):
        for name in sorted(files):
            path = Path(root, name)
            rel = path.relative_to(directory).as_posix()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"failed to read values file {path}: {exc}") from None
            values: Any = {}
            try:
                if path.suffix in (".yml", ".yaml"):
                    values = _numbers_as_floats(yaml.safe_load(text) or {})
                elif path.suffix == ".json":
                    values = json.loads(text)
            except (yaml.YAMLError, ValueError) as exc:
                reason = " ".join(str(exc).split())
                raise ValueError(f"failed to parse values file {path}: {reason}") from None
            if not isinstance(values, dict):
                raise ValueError(f"values file {path} does not hold a map of keys to values")
            cache[rel] = values
    return cache


@register("sideload")
class SideloadNode(Node):
    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        source: str = p.get("source", "") or ""
        self.fields: dict[str, Any] = dict(p.get("fields", {}))
        self.tags: dict[str, str] = dict(p.get("tags", {}))
        url = source
        if "://" not in source:  # an [[httppost]] endpoint name
            found = ctx.services.httppost_endpoints.get(source)
            if found is None:
                raise TaskError(f"{self.name}: sideload source endpoint {source!r} does not exist")
            url = found.url
        parts = urlsplit(url)
        if parts.scheme != "file":
            raise TaskError(
                f"{self.name}: unsupported sideload source scheme {parts.scheme!r}: "
                "only file:// sources are supported"
            )
        try:
            self.cache = load_source(Path(unquote(parts.path)))
        except ValueError as exc:
            raise TaskError(f"{self.name}: {exc}") from None
        self.order: list[Template] = []
        for i, text in enumerate(p.get("order", [])):
            try:
                self.order.append(Template.parse(text, name="order"))
            except TemplateError as exc:
                raise TaskError(f"{self.name}: .order() path {i + 1}: {exc}") from None

    def _lookup(self, paths: list[str], key: str) -> Any:
        key = os.path.normpath(key)
        for path in paths:
            values = self.cache.get(path)
            if values is not None and key in values:
                return values[key]
        return None

    def _load(
        self, fields: dict[str, Any], tags: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, str]] | None:
        paths = []
        data = StringMap(tags)
        for tmpl in self.order:
            try:
                paths.append(tmpl.execute(data))
            except TemplateExecError as exc:
                self.error("failed to evaluate order template", err=str(exc), order=tmpl.text)
                return None
        if self.fields:
            fields = dict(fields)
            for key, default in self.fields.items():
                fields[key] = self._value(paths, key, default)
        if self.tags:
            tags = dict(tags)
            for key, default in self.tags.items():
                tags[key] = self._value(paths, key, default)
        return fields, tags

    def _value(self, paths: list[str], key: str, default: Any) -> Any:
        value = self._lookup(paths, key)
        if value is None:
            return default
        try:
            return convert(value, default)
        except ValueError as exc:
            self.error("failed to load key", err=str(exc), key=key)
            return default

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        loaded = self._load(p.fields, p.tags)
        if loaded is None:  # Kapacitor forwards the point unchanged after a template error
            self.emit_point(p)
            return
        self.emit_point(p.copy(fields=loaded[0], tags=loaded[1]))

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        points = []
        for bp in b.points:
            loaded = self._load(bp.fields, bp.tags)
            points.append(bp if loaded is None else BatchPoint(bp.time, loaded[0], loaded[1]))
        self.emit_batch(b.copy(points=points))
