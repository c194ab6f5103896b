"""The machinery of the language tables: signatures, property setters, node and handler types.

Kapacitor discovers a node's chaining methods and properties by reflecting over Go structs
(``pipeline/*.go``, read by ``tick/eval.go``). We spell them out instead, one table per node
family (the sibling modules), so that the valid vocabulary of every node can be read, listed in
error messages and checked before anything runs. This module holds only what those tables are
made of; it knows no node kind.

Names are matched as Kapacitor matches them: the first letter is upper-cased and compared with
the Go name, so ``.avatarURL()`` and ``.AvatarURL()`` are the same property and the Pushover URL
is ``.uRL()``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from leyden.tick.pipeline.graph import NodeSpec

# Argument type tokens, and how Kapacitor's Go signatures spell them in messages.
GO_TYPES: dict[str, str] = {
    "string": "string",
    "int": "int64",
    "float": "float64",
    "bool": "bool",
    "duration": "time.Duration",
    "lambda": "*ast.LambdaNode",
    "regex": "*regexp.Regexp",
    "star": "*ast.StarNode",
    "node": "pipeline.Node",
    "any": "interface {}",
}


def capitalize_first(name: str) -> str:
    """Kapacitor's method lookup key: ``embedTitle`` and ``EmbedTitle`` are the same method."""
    return name[:1].upper() + name[1:]


@dataclass(frozen=True, slots=True)
class Sig:
    """An argument list: fixed parameters, then optionally any number of ``variadic`` ones.

    A type is a token from :data:`GO_TYPES` or several joined by ``|`` (``"string|star"``).
    """

    params: tuple[str, ...] = ()
    variadic: str | None = None
    max_args: int | None = None  # a cap on the total when Go's variadic is really "optional"

    def describe(self) -> str:
        parts = list(self.params)
        if self.variadic:
            parts.append(self.variadic + "...")
        return ", ".join(parts)

    def arity_ok(self, n: int) -> bool:
        if n < len(self.params):
            return False
        if self.variadic is None:
            return n == len(self.params)
        return self.max_args is None or n <= self.max_args

    def type_at(self, i: int) -> str:
        return self.params[i] if i < len(self.params) else (self.variadic or "any")


def sig(*params: str, variadic: str | None = None, max_args: int | None = None) -> Sig:
    return Sig(tuple(params), variadic, max_args)


NO_ARGS = Sig()

#: how a call's arguments land in a spec's ``properties`` dict
Setter = Callable[[dict[str, Any], list[Any]], None]
#: chaining-method (or handler) arguments land in properties as property arguments do
Init = Setter
#: a node's own consistency check, run once the whole script is built: None or the problem
Validator = Callable[[NodeSpec], str | None]


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """A property method (``.period(10s)``).

    ``field`` marks properties that Kapacitor sets straight into a struct field: those take
    exactly one argument and report arity errors with the Go field name (``go_name``).
    """

    name: str
    sig: Sig
    apply: Setter
    field: bool = False
    go_name: str = ""


# -- setters: how a property call lands in a spec's ``properties`` dict ------------------------


def set_(key: str) -> Setter:
    def apply(props: dict[str, Any], args: list[Any]) -> None:
        props[key] = args[0]

    return apply


def set_true(key: str) -> Setter:
    def apply(props: dict[str, Any], args: list[Any]) -> None:
        props[key] = True

    return apply


def set_list(key: str) -> Setter:
    def apply(props: dict[str, Any], args: list[Any]) -> None:
        props[key] = list(args)

    return apply


def extend(key: str) -> Setter:
    def apply(props: dict[str, Any], args: list[Any]) -> None:
        props.setdefault(key, []).extend(args)

    return apply


def put_map(key: str) -> Setter:
    def apply(props: dict[str, Any], args: list[Any]) -> None:
        props.setdefault(key, {})[args[0]] = args[1]

    return apply


def init_keys(*keys: str) -> Init:
    """Positional arguments into the named properties (``|query(q)`` → ``query``)."""

    def init(p: dict[str, Any], args: list[Any]) -> None:
        for k, v in zip(keys, args, strict=False):
            p[k] = v

    return init


# -- property constructors, as the tables write them --------------------------------------------


def field(name: str, typ: str, key: str | None = None) -> PropertySpec:
    """A struct-field property: ``.name(value)``, stored under ``key`` (default ``name``)."""
    return PropertySpec(
        name, sig(typ), set_(key or name), field=True, go_name=capitalize_first(name)
    )


def strings(*names: str) -> list[PropertySpec]:
    """Several string struct fields at once."""
    return [field(n, "string") for n in names]


def method(name: str, s: Sig, apply: Setter) -> PropertySpec:
    """A property method with its own signature (``.groupBy(*)``, ``.header(k, v)``)."""
    return PropertySpec(name, s, apply)


def flag(name: str, key: str | None = None) -> PropertySpec:
    """A no-argument property that sets ``key`` (default ``name``) to true (``.align()``)."""
    return PropertySpec(name, NO_ARGS, set_true(key or name))


def props(*specs: PropertySpec) -> dict[str, PropertySpec]:
    """A property table, keyed as Kapacitor looks names up."""
    return {capitalize_first(p.name): p for p in specs}


# -- node and handler types ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeType:
    """One kind of pipeline node, as created by the chaining method ``kind``.

    ``desc`` is Kapacitor's description, which names the node (``http_out3``); ``wants`` and
    ``provides`` are edge types (``PARENT`` = whatever the parent provides).
    """

    kind: str
    desc: str
    go_type: str
    args: Sig
    init: Init | None
    wants: str
    provides: str
    chains: frozenset[str]
    properties: dict[str, PropertySpec]
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    validate: Validator | None = None


@dataclass(frozen=True, slots=True)
class HandlerType:
    """An alert handler created by the property method ``kind`` on an alert (``.discord()``)."""

    kind: str
    go_type: str
    args: Sig
    init: Init | None
    properties: dict[str, PropertySpec]
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
