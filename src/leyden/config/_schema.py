"""The schema engine behind every section of kapacitor.conf: one key table per section.

One table (:class:`Key` tuples on each :class:`Section`) drives TOML decoding, environment
overrides (:mod:`leyden.config._env`) and ``to_options``/``from_options`` (the config API), so
the three can never disagree about a key's name, as Kapacitor's struct tags keep its TOML,
environment and API names together.  Sections subclass :class:`Section` for the shared
``to_options``/``from_options`` instead of copying them; integrations describe their section
with a :class:`SectionSpec` the loader is handed.

Messages never echo a value (it may be a secret): they name the key, its expected type and the
type found.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from leyden.go.strconv import parse_go_duration
from leyden.go.types import Duration

__all__ = [
    "SCALAR_KINDS",
    "ConfigError",
    "Key",
    "Section",
    "SectionSpec",
    "as_table_list",
    "build",
    "convert",
    "element_label",
    "options_of",
    "quote",
    "short",
    "suggest",
    "toml_type",
]


class ConfigError(Exception):
    """A user mistake in the configuration; ``str(e)`` is one line naming where and what."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.splitlines()))


@dataclass(frozen=True, slots=True)
class Key:
    name: str  # Kapacitor's key name
    attr: str  # Python attribute name
    kind: (
        str  # bool | int | str | scalar | duration | str_list | str_map | str_list_map | struct
        # | table_list; scalar: a string or a number (Go's interface{}: Zenoss' severity-map)
    )
    cls: Any = None  # for struct / table_list: the dataclass of the nested table


SCALAR_KINDS = frozenset({"bool", "int", "str", "scalar", "duration", "str_list"})


def toml_type(value: object) -> str:
    if value is None:
        return "null"  # from JSON, through from_options
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "table"
    return "date/time"


def suggest(name: str, candidates: list[str] | set[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def short(name: str) -> str:
    """A user-written key name, shortened so a pasted value cannot fill the message."""
    return name if len(name) <= 60 else name[:57] + "..."


def convert(key: Key, value: object, where: str) -> Any:
    """Check a decoded TOML/JSON value against the key's kind; never echoes the value."""

    def mismatch(expected: str) -> ConfigError:
        return ConfigError(f"{where}: {key.name}: expected {expected}, got {toml_type(value)}")

    kind = key.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise mismatch("a boolean (true or false)")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise mismatch("an integer")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise mismatch("a string")
        return value
    if kind == "scalar":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise mismatch("a string or a number")
        return value
    if kind == "duration":
        if value == 0 and type(value) is int:
            return 0  # Kapacitor's shipped kapacitor.conf writes ``timeout = 0``: Go reads "0"
        if not isinstance(value, str):
            raise mismatch('a duration string such as "10s"')
        try:
            return parse_go_duration(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {key.name}: {exc}") from None
    if kind == "str_list":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise mismatch("an array of strings")
        return list(value)
    if kind == "str_map":
        if not isinstance(value, Mapping):
            raise mismatch("a table of strings")
        for name, item in value.items():
            if not isinstance(item, str):
                raise ConfigError(
                    f"{where}: {key.name}.{short(name)}: expected a string, got {toml_type(item)}"
                )
        return dict(value)
    if kind == "str_list_map":  # [influxdb.subscriptions]: database = ["rp", …]
        if not isinstance(value, Mapping):
            raise mismatch("a table of string arrays")
        for name, item in value.items():
            if not isinstance(item, list) or not all(isinstance(i, str) for i in item):
                raise ConfigError(
                    f"{where}: {key.name}.{short(name)}: expected an array of strings, "
                    f"got {toml_type(item)}"
                )
        return {name: list(item) for name, item in value.items()}
    if kind == "struct":
        if not isinstance(value, Mapping):
            raise mismatch("a table")
        return build(key.cls, value, f"{where}: {key.name}")
    raise AssertionError(f"unhandled kind {kind}")  # pragma: no cover


def build(cls: Any, table: Mapping[str, Any], where: str, notes: list[str] | None = None) -> Any:
    """Make ``cls`` from one TOML table: unknown keys and wrong types are errors."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table, got {toml_type(table)}")
    schema: dict[str, Key] = {key.name: key for key in cls._SCHEMA}
    if getattr(cls, "_FOLD_CASE", False):  # Go's TOML and mapstructure match names so
        schema.update({name: key for key in cls._SCHEMA for name in _folded(table, key.name)})
    ignored: frozenset[str] = getattr(cls, "_KAPACITOR_ONLY", frozenset())
    kwargs: dict[str, Any] = {}
    skipped: list[str] = []
    for name, value in table.items():
        key = schema.get(name)
        if key is None:
            if name in ignored:
                skipped.append(name)
                continue
            hint = suggest(name, set(schema) | ignored)
            raise ConfigError(f"{where}: {short(name)}: unknown key{hint}")
        if key.kind == "table_list":
            # A nested list such as [[auth.users]] is named by its full dotted path.
            outer, _, parent = where.rpartition(": ")
            section = f"{parent.strip('[]')}.{key.name}"
            kwargs[key.attr] = [
                build(key.cls, item, f"{outer}: {element_label(section, i, item, key.cls)}")
                for i, item in enumerate(as_table_list(value, f"{outer}: [[{section}]]"))
            ]
        else:
            kwargs[key.attr] = convert(key, value, where)
    if skipped and notes is not None:
        label = where.rsplit(": ", 1)[-1]
        notes.append(f"ignoring {label} {', '.join(sorted(skipped))}: not supported by Leyden")
    return cls(**kwargs)


def _folded(table: Mapping[str, Any], name: str) -> list[str]:
    """The keys of ``table`` that name ``name`` in another case (``OK`` for ``ok``)."""
    return [k for k in table if isinstance(k, str) and k != name and k.lower() == name.lower()]


def as_table_list(value: object, where: str) -> list[Mapping[str, Any]]:
    """Kapacitor's listmap: an array of tables, or one table meaning a one-element list."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
        return value
    raise ConfigError(f"{where}: expected a table or an array of tables, got {toml_type(value)}")


def element_label(section: str, index: int, table: object, cls: Any) -> str:
    label = f"[[{section}]] #{index}"
    element_key = getattr(cls, "_ELEMENT_KEY", None)
    if element_key and isinstance(table, Mapping):
        name = table.get(element_key)
        if isinstance(name, str) and name:
            label += f" ({element_key} {quote(name)})"
    return label


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def options_of(obj: Any, redact: frozenset[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key in obj._SCHEMA:
        value = getattr(obj, key.attr)
        if key.name in redact:
            options[key.name] = bool(value) if not hasattr(value, "_SCHEMA") else value.is_set()
        elif key.kind == "struct":
            options[key.name] = options_of(value, frozenset())
        elif key.kind == "table_list":
            options[key.name] = [options_of(item, redact) for item in value]
        elif key.kind == "str_list_map":
            options[key.name] = {name: list(item) for name, item in value.items()}
        elif key.kind == "duration":
            options[key.name] = str(Duration(value))  # as Kapacitor's API shows toml.Duration
        elif isinstance(value, (list, dict)):
            options[key.name] = type(value)(value)
        else:
            options[key.name] = value
    return options


class Section:
    """A table of kapacitor.conf: its keys (``_SCHEMA``) and what every section can do with them.

    ``_ELEMENT_KEY`` names the key that identifies an element of a ``[[list]]`` section (its
    label in messages, its name in the config API); ``_KAPACITOR_ONLY`` lists keys Kapacitor
    has and Leyden skips with a note; ``_FOLD_CASE`` accepts key names in any case (Go's TOML
    decoder matches fields so: ``[zenoss.severity-map] OK = …`` is ``ok``); ``REDACTED_KEYS`` are secrets that ``to_options`` shows as
    "is it set" booleans.
    """

    _SCHEMA: ClassVar[tuple[Key, ...]] = ()
    _ELEMENT_KEY: ClassVar[str] = ""
    _KAPACITOR_ONLY: ClassVar[frozenset[str]] = frozenset()
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset()

    def to_options(self, *, redact: bool = True) -> dict[str, Any]:
        """Kapacitor's option names and order; secrets become booleans unless redact=False."""
        return options_of(self, self.REDACTED_KEYS if redact else frozenset())

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, where: str) -> Self:
        """Strict: an unknown key or a wrong type is a ConfigError naming it; missing keys default."""
        section: Self = build(cls, options, where)
        return section

    def copy(self) -> Self:
        """A shallow copy, as ``dataclasses.replace`` makes one (lists are shared)."""
        return copy.copy(self)

    def validate(self) -> list[str]:
        """Rules for one section, each message starting with the key it is about."""
        return []

    def warnings(self) -> list[str]:
        """Things that are allowed but probably not what the user meant."""
        return []

    @classmethod
    def check_all(cls, sections: Sequence[Self], *, where: str) -> None:
        """Rules across the elements of a ``[[list]]`` section; raises ConfigError."""


@dataclass(frozen=True, slots=True)
class SectionSpec:
    """How an integration's section appears in kapacitor.conf (its Kapacitor name, ``[x]`` or
    ``[[x]]``), with the elements it has when the file has none."""

    name: str
    cls: type[Section]
    multiple: bool = True
    #: raw tables standing in for a missing section (environment overrides can then reach them)
    defaults: tuple[Mapping[str, Any], ...] = field(default=())

    def label(self, index: int, section: Section) -> str:
        """``[[discord]] #1 (workspace "ops")`` or ``[x]``: how messages name one element."""
        if not self.multiple:
            return f"[{self.name}]"
        table = {section._ELEMENT_KEY: getattr(section, section._ELEMENT_KEY, "")}
        return element_label(self.name, index, table, type(section))

    def default_sections(self) -> list[Section]:
        return [self.cls.from_options(table, where=f"[{self.name}]") for table in self.defaults]
