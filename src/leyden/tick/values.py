"""Runtime value model of TICKscript lambdas.

A lambda value is a plain Python object, chosen so the per-point path needs no wrapping:

=========  =====================================  ==============================
TICK type  Python value                           Go type (for error texts)
=========  =====================================  ==============================
int        ``int`` (exactly; never bool)          int64
float      ``float``                              float64
string     ``str``                                string
boolean    ``bool``                               bool
duration   :class:`leyden.gotypes.Duration`       time.Duration
time       :class:`leyden.gotypes.Time`           time.Time
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
import math
import re
from decimal import Decimal
from typing import Any

from leyden.gotypes import Duration, Time

__all__ = [
    "MISSING",
    "GoInt",
    "Missing",
    "format_duration_go",
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
# Floats


def _shortest_digits(v: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of a finite, non-negative float and its exponent.

    Returns (digits, dp) meaning 0.<digits> x 10**dp, the way Go's strconv reasons about it.
    """
    if v == 0:
        return "0", 1
    _sign, digits, exp = Decimal(repr(v)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    # repr may pad with zeros (e.g. '100.0'); count them back into the exponent.
    dp = len(digits) + int(exp)
    return ds, dp


def format_float_f(v: float) -> str:
    """Go ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    neg = math.copysign(1.0, v) < 0
    ds, dp = _shortest_digits(abs(v))
    if ds == "0":
        body = "0"
    elif dp <= 0:
        body = "0." + "0" * (-dp) + ds
    elif dp >= len(ds):
        body = ds + "0" * (dp - len(ds))
    else:
        body = ds[:dp] + "." + ds[dp:]
    return ("-" if neg else "") + body


def format_float_v(v: float) -> str:
    """Go ``%v`` of a float64: ``%g`` with the shortest digits (2, 1.5, 123456, 1e+06, 1e-05)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    neg = math.copysign(1.0, v) < 0
    ds, dp = _shortest_digits(abs(v))
    exp = dp - 1
    if ds != "0" and (exp < -4 or exp >= 6):
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        body = f"{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    else:
        body = format_float_f(abs(v))
    return ("-" if neg else "") + body


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


def format_duration_go(ns: int) -> str:
    """Go ``time.Duration.String()``: ``1m0s``, ``1.5s``, ``15ns``, ``1h30m0s``."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < _S:
        if u < _US:
            body = f"{u}ns"
        elif u < _MS:
            body = _frac(u, 3) + "µs"
        else:
            body = _frac(u, 6) + "ms"
    else:
        secs = _frac(u % _M, 9) + "s"
        mins = u // _M
        if mins == 0:
            body = secs
        elif mins < 60:
            body = f"{mins}m{secs}"
        else:
            body = f"{mins // 60}h{mins % 60}m{secs}"
    return ("-" if neg else "") + body


def _frac(v: int, prec: int) -> str:
    """``v / 10**prec`` printed with trailing fractional zeros dropped."""
    whole, frac = divmod(v, 10**prec)
    if frac == 0:
        return str(whole)
    return f"{whole}.{str(frac).rjust(prec, '0').rstrip('0')}"


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
            return f"{int(ns / unit) if abs(ns) < 2**52 else _go_quo(ns, unit)}{suffix}"
    return f"{ns}ns"


def _go_quo(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


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


def format_time_go(t: int) -> str:
    """Go's ``time.Time.String()`` for a UTC time (``2019-01-02 03:04:05 +0000 UTC``)."""
    secs, ns = divmod(int(t), _S)
    base = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=secs)
    frac = ("." + str(ns).rjust(9, "0").rstrip("0")) if ns else ""
    return base.strftime("%Y-%m-%d %H:%M:%S") + frac + " +0000 UTC"


def go_v(value: Any) -> str:
    """Go's ``%v`` of the value Kapacitor would hold."""
    t = type(value)
    if t is bool:
        return "true" if value else "false"
    if t is int or t is GoInt:
        return str(int(value))
    if t is float:
        return format_float_v(value)
    if t is str:
        return value
    if t is Duration:
        return format_duration_go(value)
    if t is Time:
        return format_time_go(value)
    if t is re.Pattern:
        return go_pattern(value)
    if value is None:
        return "<nil>"
    if t is Missing:
        return "&{}"
    if isinstance(value, list):
        return "[" + " ".join(go_v(v) for v in value) + "]"
    return str(value)


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
    """Compile a Go RE2 pattern with the parser's translator when present, else a minimal one."""
    try:
        from leyden.tick.regex import compile_go
    except ImportError:  # pragma: no cover - the translator ships with the parser
        compiled = re.compile(_minimal_re2_to_python(pattern))
    else:
        compiled = compile_go(pattern)
    register_go_pattern(compiled, pattern)
    return compiled


def _minimal_re2_to_python(pattern: str) -> str:
    """The few RE2 spellings Python's ``re`` reads differently: ``(?<name>``, ``\\z``, ``\\Q…\\E``."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "z":
                out.append(r"\Z")
            elif nxt == "Q":
                end = pattern.find("\\E", i + 2)
                lit = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(re.escape(lit))
                i = n if end < 0 else end + 2
                continue
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


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
        secs, ns = divmod(int(v), _S)
        base = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=secs)
        frac = ("." + str(ns).rjust(9, "0").rstrip("0")) if ns else ""
        return {"type": "time", "value": base.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"}
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
