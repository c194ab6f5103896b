"""Runtime value model of TICKscript lambdas.

A lambda value is a plain Python object, chosen so the per-point path needs no wrapping:

=========  =====================================  ==============================
TICK type  Python value                           Go type (for error texts)
=========  =====================================  ==============================
int        ``int`` (exactly; never bool)          int64
float      ``float``                              float64
string     ``str``                                string
boolean    ``bool``                               bool
duration   :class:`leyden.go.types.Duration`       time.Duration
time       :class:`leyden.go.types.Time`           time.Time
regex      ``re.Pattern``                         \\*regexp.Regexp
missing    :data:`MISSING`                        \\*ast.Missing
=========  =====================================  ==============================

``None`` stands for a Go nil. Because ``Duration``, ``Time`` and ``bool`` all subclass ``int``,
every dispatch here uses ``type(x) is int``, never ``isinstance``.

Kapacitor's error texts print types with their TICK names ("boolean", "duration") in operator
errors, Go's ``%T`` names ("int64", "time.Duration") in function errors, and values with Go's
``%v``; the helpers below reproduce all three so our messages match Kapacitor's byte for byte.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from leyden.go.types import Duration, Time, format_float, format_float_f, format_value
from leyden.tick.regex import compile_go

__all__ = [
    "MISSING",
    "GoInt",
    "Missing",
    "format_duration_influxql",
    "format_float_f",
    "format_float_v",
    "go_type_name",
    "go_v",
    "parse_duration_influxql",
    "tick_type",
    "typed_value_from_json",
    "typed_value_to_json",
    "wrap_int64",
]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


class Missing:
    """Kapacitor's marker for a referenced name that is neither a field nor a tag of the point."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING = Missing()


class GoInt(int):
    """A Go ``int`` (not ``int64``): only Kapacitor's direct function-call tests produce one.

    TICKscript has no such type, so the evaluator treats it as an unsupported value; it exists so
    that ``%T`` prints ``int`` in the messages those tests assert.
    """


RegexType = re.Pattern

_TICK_TYPES: dict[type, str] = {
    int: "int",
    float: "float",
    str: "string",
    bool: "boolean",
    Duration: "duration",
    Time: "time",
    re.Pattern: "regex",
    Missing: "missing",
}

_GO_TYPES: dict[type, str] = {
    int: "int64",
    float: "float64",
    str: "string",
    bool: "bool",
    Duration: "time.Duration",
    Time: "time.Time",
    re.Pattern: "*regexp.Regexp",
    Missing: "*ast.Missing",
    GoInt: "int",
    type(None): "<nil>",
}


def tick_type(value: Any) -> str:
    """TICKscript type name of a value ("invalid type" for anything TICKscript cannot hold)."""
    return _TICK_TYPES.get(type(value), "invalid type")


def go_type_name(value: Any) -> str:
    """Go's ``%T`` of the value Kapacitor would hold."""
    name = _GO_TYPES.get(type(value))
    if name is not None:
        return name
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


def wrap_int64(v: int) -> int:
    """Two's-complement wrap, as Go's int64 arithmetic does on overflow."""
    return ((v - INT64_MIN) & 0xFFFFFFFFFFFFFFFF) + INT64_MIN


# ---------------------------------------------------------------------------------------------
# Floats: Go's own rules live in leyden.go.types; these names are the ones lambdas and the CLI use.

format_float_v = format_float


# ---------------------------------------------------------------------------------------------
# Durations

_NS = 1
_US = 1_000
_MS = 1_000_000
_S = 1_000_000_000
_M = 60 * _S
_H = 60 * _M
_D = 24 * _H
_W = 7 * _D


def format_duration_influxql(ns: int) -> str:
    """InfluxQL's duration literal: one unit, the largest that divides exactly (90m, not 1h30m)."""
    if ns == 0:
        return "0s"
    for unit, suffix in (
        (_W, "w"),
        (_D, "d"),
        (_H, "h"),
        (_M, "m"),
        (_S, "s"),
        (_MS, "ms"),
        (_US, "u"),
    ):
        if ns % unit == 0:
            return f"{ns // unit}{suffix}"
    return f"{ns}ns"


_DURATION_PART = re.compile(r"(\d+)(ns|ms|u|µ|s|m|h|d|w)")
_UNITS = {"ns": _NS, "u": _US, "µ": _US, "ms": _MS, "s": _S, "m": _M, "h": _H, "d": _D, "w": _W}


def parse_duration_influxql(text: str) -> Duration:
    """InfluxQL duration syntax as ``duration('1h30m')`` accepts it; ValueError when invalid."""
    s = text
    neg = s.startswith("-")
    if neg:
        s = s[1:]
    if len(text) < 2 or not s:
        raise ValueError(text)
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            raise ValueError(text)
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return Duration(wrap_int64(-total if neg else total))


# ---------------------------------------------------------------------------------------------
# %v


def go_v(value: Any) -> str:
    """Go's ``%v`` of the value Kapacitor would hold.

    Only what :func:`leyden.go.types.format_value` cannot know is handled here: a regex prints
    the Go pattern it was written as, and Kapacitor's missing marker is an empty struct pointer.
    """
    t = type(value)
    if t is re.Pattern:
        return go_pattern(value)
    if t is Missing:
        return "&{}"
    if isinstance(value, list):
        return "[" + " ".join(go_v(v) for v in value) + "]"
    return format_value(value)


# ---------------------------------------------------------------------------------------------
# The corpus's typed JSON encoding


class StarValue:
    """The ``*`` of TICKscript (``groupBy(*)``), as a var value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "STAR"


STAR = StarValue()


class Unsupported:
    """A Go value TICKscript has no type for (the corpus's ``unsupported``)."""

    __slots__ = ("go",)

    def __init__(self, go: str) -> None:
        self.go = go

    def __repr__(self) -> str:
        return f"Unsupported({self.go!r})"


_GO_PATTERNS: dict[re.Pattern[str], str] = {}


def register_go_pattern(compiled: re.Pattern[str], go_pattern: str) -> None:
    """Remember the Go text of a translated pattern, for ``%v`` and the typed JSON encoding."""
    if len(_GO_PATTERNS) < 100_000:
        _GO_PATTERNS[compiled] = go_pattern


def go_pattern(compiled: re.Pattern[str]) -> str:
    """The Go pattern a compiled regex came from (its Python text if unknown)."""
    return _GO_PATTERNS.get(compiled, compiled.pattern)


def compile_go_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Go RE2 pattern and remember its Go text."""
    compiled = compile_go(pattern)
    register_go_pattern(compiled, pattern)
    return compiled


def _parse_time(text: str) -> Time:
    s = text.replace("Z", "+00:00")
    frac_ns = 0
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", s)
    if m:
        s = m.group(1) + m.group(3)
        if m.group(2):
            frac_ns = int(m.group(2)[1:].ljust(9, "0")[:9])
    d = _dt.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.UTC)
    delta = d - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    secs = delta.days * 86400 + delta.seconds
    return Time(secs * _S + frac_ns)


def typed_value_from_json(obj: Any) -> Any:
    """Decode ``{"type": "int", "value": 5}`` and friends (tick-corpus README §3) to a value."""
    if not isinstance(obj, dict) or "type" not in obj:
        raise ValueError(f"typed value must be an object with a 'type' key, got {obj!r}")
    kind = obj["type"]
    if obj.get("zero"):
        return _zero_value(kind)
    if kind == "int":
        v = obj["value"]
        if type(v) is not int:
            raise ValueError(f"typed int needs an integer 'value', got {v!r}")
        return GoInt(v) if obj.get("go_type") == "int" else v
    if kind == "float":
        return float(obj["value"])
    if kind == "string":
        v = obj["value"]
        return "" if v is None else str(v)
    if kind == "bool":
        return bool(obj["value"])
    if kind == "duration":
        return Duration(int(obj["ns"]))
    if kind == "regex":
        return compile_go_regex(obj["value"])
    if kind == "time":
        return _parse_time(obj["value"])
    if kind == "nil":
        return None
    if kind == "missing":
        return MISSING
    if kind == "unsupported":
        return Unsupported(str(obj.get("go", "")))
    if kind == "star":
        return STAR
    if kind == "list":
        return [typed_value_from_json(v) for v in obj["value"]]
    raise ValueError(f"unknown typed value type {kind!r}")


def _zero_value(kind: str) -> Any:
    zeros: dict[str, Any] = {
        "int": 0,
        "float": 0.0,
        "string": "",
        "bool": False,
        "duration": Duration(0),
        "regex": None,
        "lambda": None,
        "list": None,
        "star": None,
    }
    if kind not in zeros:
        raise ValueError(f"unknown typed value type {kind!r}")
    return zeros[kind]


def typed_value_to_json(v: Any) -> dict[str, Any]:
    """Inverse of :func:`typed_value_from_json` (a Go ``int`` comes back with ``go_type``)."""
    t = type(v)
    if t is bool:
        return {"type": "bool", "value": v}
    if t is int:
        return {"type": "int", "value": v}
    if t is GoInt:
        return {"type": "int", "value": int(v), "go_type": "int"}
    if t is float:
        return {"type": "float", "value": v}
    if t is str:
        return {"type": "string", "value": v}
    if t is Duration:
        return {"type": "duration", "ns": int(v)}
    if t is Time:
        return {"type": "time", "value": v.rfc3339nano()}
    if t is re.Pattern:
        return {"type": "regex", "value": go_pattern(v)}
    if v is None:
        return {"type": "nil"}
    if t is Missing:
        return {"type": "missing"}
    if t is StarValue:
        return {"type": "star"}
    if t is Unsupported:
        return {"type": "unsupported", "go": v.go}
    if isinstance(v, list):
        return {"type": "list", "value": [typed_value_to_json(x) for x in v]}
    raise ValueError(f"value {v!r} of type {t.__name__} has no typed JSON encoding")
