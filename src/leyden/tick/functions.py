"""Built-in lambda functions (Kapacitor ``tick/stateful/functions.go``, semantics §1.5).

Each built-in has a signature table (argument TICK types → result type), which a lambda checks
before the call, and a ``call`` that validates its arguments again the way Kapacitor's Go
``Call`` does, with Kapacitor's own messages. Calling ``call`` directly is what Kapacitor's
``functions_test.go`` does; the lambda compiler wraps its errors as ``error calling "f": …``.

``count``, ``sigma``, ``spread`` and ``rand`` keep state; :func:`new_state` makes a fresh
instance per compiled lambda (the state is looked up by name, so two ``count()`` calls in one
lambda share a counter).
"""

from __future__ import annotations

import math
import random
import re
import time as _time
from collections.abc import Callable, Iterable
from typing import Any

from leyden.go.strconv import GO_FALSE, GO_TRUE
from leyden.go.types import Duration, Time, go_quote
from leyden.tick.lexer import go_trim_space
from leyden.tick.values import (
    INT64_MAX,
    INT64_MIN,
    MISSING,
    Missing,
    format_duration_influxql,
    format_float_f,
    go_type_name,
    go_v,
    parse_duration_influxql,
    wrap_int64,
)

__all__ = [
    "BUILTINS",
    "STATEFUL",
    "Builtin",
    "FunctionError",
    "available_signatures",
    "float_to_duration",
    "new_state",
    "signature_error",
]

Domain = tuple[str, ...]
_NAN = math.nan
_INF = math.inf


class FunctionError(Exception):
    """A built-in refused its arguments; the message is the Go function's own text."""


class Builtin:
    """One built-in: its name, its signature table and its implementation."""

    __slots__ = ("func", "name", "signature")
    stateful = False

    def __init__(
        self, name: str, signature: dict[Domain, str], func: Callable[..., Any] | None = None
    ) -> None:
        self.name = name
        self.signature = signature
        self.func = func

    def call(self, *args: Any) -> Any:
        assert self.func is not None
        return self.func(*args)

    def reset(self) -> None:
        """Stateless built-ins have nothing to clear."""

    def fresh(self) -> Builtin:
        return self


def available_signatures(fn: Builtin) -> str:
    """Kapacitor's ``[(float), (int,duration)]`` listing (Go prints it in map order; we don't)."""
    return "[" + ", ".join("(" + ",".join(d) + ")" for d in fn.signature) + "]"


def signature_error(fn: Builtin, literals: Iterable[str], types: Iterable[str]) -> str:
    args = ",".join(f"{lit}: {t}" for lit, t in zip(literals, types, strict=True))
    return (
        f'Cannot call function "{fn.name}" with args ({args}), '
        f"available signatures are {available_signatures(fn)}."
    )


def _err_count(name: str, words: str) -> FunctionError:
    return FunctionError(f"{name} expects exactly {words}")


# ---------------------------------------------------------------------------------------------
# Math, with Go's special cases (NaN/±Inf where Python's math raises)


def _go_float(
    f: Callable[[float], float], on_error: Callable[[float], float]
) -> Callable[[float], float]:
    def g(x: float) -> float:
        try:
            return float(f(x))
        except (ValueError, OverflowError):
            return on_error(x)

    return g


def _nan(_x: float) -> float:
    return _NAN


def _inf_signed(x: float) -> float:
    return _INF if x > 0 else -_INF


def _log_err(x: float) -> float:
    return -_INF if x == 0 else _NAN


def _round_fn(f: Callable[[float], int]) -> Callable[[float], float]:
    def g(x: float) -> float:
        if math.isinf(x) or math.isnan(x) or x == 0:
            return x
        r = float(f(x))
        return math.copysign(r, x) if r == 0 else r

    return g


def _atanh(x: float) -> float:
    if x == 1:
        return _INF
    if x == -1:
        return -_INF
    if abs(x) > 1:
        return _NAN
    return math.atanh(x)


def _log1p(x: float) -> float:
    if x == -1:
        return -_INF
    if x < -1:
        return _NAN
    return math.log1p(x)


def _logb(x: float) -> float:
    if x == 0:
        return -_INF
    if math.isinf(x):
        return _INF
    if math.isnan(x):
        return x
    return float(math.frexp(x)[1] - 1)


def _gamma(x: float) -> float:
    try:
        return math.gamma(x)
    except ValueError:
        if x == 0:
            return math.copysign(_INF, x)
        return _NAN
    except OverflowError:
        if x > 0:
            return _INF
        return _NAN


def _go_max(x: float, y: float) -> float:
    if (math.isinf(x) and x > 0) or (math.isinf(y) and y > 0):
        return _INF
    if math.isnan(x) or math.isnan(y):
        return _NAN
    if x == 0 and x == y:
        return y if math.copysign(1, x) < 0 else x
    return x if x > y else y


def _go_min(x: float, y: float) -> float:
    if (math.isinf(x) and x < 0) or (math.isinf(y) and y < 0):
        return -_INF
    if math.isnan(x) or math.isnan(y):
        return _NAN
    if x == 0 and x == y:
        return x if math.copysign(1, x) < 0 else y
    return x if x < y else y


def _go_mod(x: float, y: float) -> float:
    if y == 0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
        return _NAN
    if math.isinf(y):
        return x
    return math.fmod(x, y)


def _is_odd_int(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and abs(y) < 2**53 and int(y) % 2 == 1


def _go_pow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except ValueError:
        if x == 0 and y < 0:
            if _is_odd_int(y):
                return math.copysign(_INF, x)
            return _INF
        return _NAN
    except OverflowError:
        if x < 0 and _is_odd_int(y):
            return -_INF
        return _INF


def _pow10(n: int) -> float:
    if n < -323:
        return 0.0
    if n > 308:
        return _INF
    return float(10**n) if n >= 0 else 1.0 / 10 ** (-n) if n > -300 else float(f"1e{n}")


def _exp2(x: float) -> float:
    try:
        return math.exp2(x)
    except OverflowError:
        return _INF


def _bessel_j(n: int, x: float) -> float:
    """J_n(x) from Bessel's integral; the trapezoid rule is spectrally exact on it."""
    if math.isnan(x):
        return x
    if math.isinf(x):
        return 0.0
    steps = max(64, int(abs(x)) + abs(n) + 64)
    h = math.pi / steps
    total = 0.5 * (math.cos(0.0) + math.cos(n * math.pi - x * math.sin(math.pi)))
    for k in range(1, steps):
        t = k * h
        total += math.cos(n * t - x * math.sin(t))
    return total * h / math.pi


def _simpson(f: Callable[[float], float], a: float, b: float, steps: int) -> float:
    steps += steps % 2
    h = (b - a) / steps
    total = f(a) + f(b)
    for k in range(1, steps):
        total += (4.0 if k % 2 else 2.0) * f(a + k * h)
    return total * h / 3.0


def _bessel_y(n: int, x: float) -> float:
    """Y_n(x) for x > 0 from its integral representation (Go: -Inf at 0, NaN below)."""
    if math.isnan(x) or x < 0:
        return _NAN
    if x == 0:
        return -_INF if n >= 0 or n % 2 == 0 else _INF
    if math.isinf(x):
        return 0.0
    sign = 1.0
    if n < 0:
        n = -n
        sign = -1.0 if n % 2 else 1.0
    # Both integrals by composite Simpson: the first integrand is not periodic at the ends, so
    # the trapezoid rule would only be second order there.
    first = _simpson(
        lambda t: math.sin(x * math.sin(t) - n * t), 0.0, math.pi, 2 * (int(x) + n + 400)
    )
    first /= math.pi
    # The second integrand decays like exp(-x sinh t); stop where it is negligible.
    upper = math.asinh((40.0 + n * 3.0) / x) + 1.0
    alt = -1.0 if n % 2 else 1.0
    second = _simpson(
        lambda t: math.exp(n * t - x * math.sinh(t)) + alt * math.exp(-n * t - x * math.sinh(t)),
        0.0,
        upper,
        2000,
    )
    second /= math.pi
    return sign * (first - second)


_F1: dict[str, Callable[[float], float]] = {
    "abs": math.fabs,
    "acos": _go_float(math.acos, _nan),
    "acosh": _go_float(math.acosh, _nan),
    "asin": _go_float(math.asin, _nan),
    "asinh": math.asinh,
    "atan": math.atan,
    "atanh": _atanh,
    "cbrt": math.cbrt,
    "ceil": _round_fn(math.ceil),
    "cos": _go_float(math.cos, _nan),
    "cosh": _go_float(math.cosh, lambda x: _INF if not math.isnan(x) else x),
    "erf": math.erf,
    "erfc": math.erfc,
    "exp": _go_float(math.exp, lambda x: _INF if x > 0 else x),
    "exp2": _exp2,
    "expm1": _go_float(math.expm1, lambda x: _INF if x > 0 else x),
    "floor": _round_fn(math.floor),
    "gamma": _gamma,
    "j0": lambda x: _bessel_j(0, x),
    "j1": lambda x: _bessel_j(1, x),
    "log": _go_float(math.log, _log_err),
    "log10": _go_float(math.log10, _log_err),
    "log1p": _log1p,
    "log2": _go_float(math.log2, _log_err),
    "logb": _logb,
    "sin": _go_float(math.sin, _nan),
    "sinh": _go_float(math.sinh, _inf_signed),
    "sqrt": _go_float(math.sqrt, _nan),
    "tan": _go_float(math.tan, _nan),
    "tanh": math.tanh,
    "trunc": _round_fn(math.trunc),
    "y0": lambda x: _bessel_y(0, x),
    "y1": lambda x: _bessel_y(1, x),
}

_F2: dict[str, Callable[[float, float], float]] = {
    "atan2": math.atan2,
    "hypot": math.hypot,
    "max": _go_max,
    "min": _go_min,
    "mod": _go_mod,
    "pow": _go_pow,
}


def _math1(name: str, f: Callable[[float], float]) -> Callable[..., Any]:
    def call(*args: Any) -> float:
        if len(args) != 1:
            raise _err_count(name, "one argument")
        a0 = args[0]
        if type(a0) is not float:
            raise FunctionError(f"cannot pass {go_type_name(a0)} to {name}, must be float64")
        return f(a0)

    return call


def _math2(name: str, f: Callable[[float, float], float]) -> Callable[..., Any]:
    def call(*args: Any) -> float:
        if len(args) != 2:
            raise _err_count(name, "two arguments")
        for a in args:
            if type(a) is not float:
                raise FunctionError(f"cannot pass {go_type_name(a)} to {name}, must be float64")
        return f(args[0], args[1])

    return call


def _pow10_call(*args: Any) -> float:
    if len(args) != 1:
        # Kapacitor's own text says "two" here.
        raise _err_count("pow10", "two arguments")
    a0 = args[0]
    if type(a0) is not int:
        raise FunctionError(f"cannot pass {go_type_name(a0)} to pow10, must be int64")
    return _pow10(a0)


def _mathif(name: str, f: Callable[[int, float], float]) -> Callable[..., Any]:
    def call(*args: Any) -> float:
        if len(args) != 2:
            raise _err_count(name, "two arguments")
        a0, a1 = args
        if type(a0) is not int:
            raise FunctionError(
                f"cannot pass {go_type_name(a0)} to {name} as first arg, must be int64"
            )
        if type(a1) is not float:
            raise FunctionError(
                f"cannot pass {go_type_name(a1)} to {name} as second arg, must be float64"
            )
        return f(a0, a1)

    return call


# ---------------------------------------------------------------------------------------------
# Strings (Go's strings package semantics)

_ORD = ("first", "second", "third", "fourth")


def _check_str(name: str, args: tuple[Any, ...]) -> None:
    for i, a in enumerate(args):
        if type(a) is not str:
            raise FunctionError(
                f"cannot pass {go_type_name(a)} as {_ORD[i]} arg to {name}, must be string"
            )


def _go_index_any(s: str, chars: str) -> int:
    for i, ch in enumerate(s):
        if ch in chars:
            return len(s[:i].encode())
    return -1


def _go_last_index_any(s: str, chars: str) -> int:
    for i in range(len(s) - 1, -1, -1):
        if s[i] in chars:
            return len(s[:i].encode())
    return -1


def _byte_index(s: str, sub: str) -> int:
    i = s.find(sub)
    return -1 if i < 0 else len(s[:i].encode())


def _byte_rindex(s: str, sub: str) -> int:
    i = s.rfind(sub)
    return -1 if i < 0 else len(s[:i].encode())


def _go_count(s: str, sub: str) -> int:
    if sub == "":
        return len(s) + 1
    return s.count(sub)


def _trim_prefix(s: str, p: str) -> str:
    return s[len(p) :] if s.startswith(p) else s


def _trim_suffix(s: str, p: str) -> str:
    return s[: len(s) - len(p)] if p and s.endswith(p) else s


_S2B: dict[str, Callable[[str, str], bool]] = {
    "strContains": lambda s, t: t in s,
    "strContainsAny": lambda s, t: any(c in s for c in t),
    "strHasPrefix": str.startswith,
    "strHasSuffix": str.endswith,
}
_S2I: dict[str, Callable[[str, str], int]] = {
    "strCount": _go_count,
    "strIndex": _byte_index,
    "strIndexAny": _go_index_any,
    "strLastIndex": _byte_rindex,
    "strLastIndexAny": _go_last_index_any,
}
_S2S: dict[str, Callable[[str, str], str]] = {
    "strTrim": lambda s, c: s.strip(c) if c else s,
    "strTrimLeft": lambda s, c: s.lstrip(c) if c else s,
    "strTrimPrefix": _trim_prefix,
    "strTrimRight": lambda s, c: s.rstrip(c) if c else s,
    "strTrimSuffix": _trim_suffix,
}
_S1S: dict[str, Callable[[str], str]] = {
    "strToLower": str.lower,
    "strToUpper": str.upper,
    "strTrimSpace": go_trim_space,
}


def _string_fn(
    name: str, f: Callable[..., Any], nargs: int, conv: Callable[[Any], Any] = lambda v: v
) -> Callable[..., Any]:
    words = "one argument" if nargs == 1 else "two arguments"

    def call(*args: Any) -> Any:
        if len(args) != nargs:
            raise _err_count(name, words)
        _check_str(name, args)
        return conv(f(*args))

    return call


def _str_length(*args: Any) -> int:
    if len(args) != 1:
        raise _err_count("strLength", "one argument")
    s = args[0]
    if type(s) is not str:
        raise FunctionError(
            f"cannot pass {go_type_name(s)} as first arg to strLength, must be string"
        )
    return len(s.encode())


def _str_replace(*args: Any) -> str:
    if len(args) != 4:
        raise _err_count("strReplace", "four arguments")
    _check_str("strReplace", args[:3])
    s, old, new, n = args
    if type(n) is not int:
        raise FunctionError(
            f"cannot pass {go_type_name(n)} as fourth arg to strReplace, must be int"
        )
    if n == 0 or old == new:
        return s
    if old == "":
        # Go inserts `new` before each rune and at the end, up to n times.
        pieces = [*s, ""]
        limit = len(pieces) if n < 0 else min(n, len(pieces))
        return "".join(new + p if i < limit else p for i, p in enumerate(pieces))
    return s.replace(old, new, -1 if n < 0 else n)


def _str_substring(*args: Any) -> str:
    if len(args) != 3:
        raise _err_count("strSubstring", "three arguments")
    s, start, stop = args
    if type(s) is not str:
        raise FunctionError(
            f"cannot pass {go_type_name(s)} as first arg to strSubstring, must be string"
        )
    if type(start) is not int:
        raise FunctionError(
            f"cannot pass {go_type_name(start)} as second arg to strSubstring, must be int"
        )
    if type(stop) is not int:
        raise FunctionError(
            f"cannot pass {go_type_name(stop)} as third arg to strSubstring, must be int"
        )
    if start < 0:
        raise FunctionError(f"found negative index for strSubstring: {start}")
    if stop < 0:
        raise FunctionError(f"found negative index for strSubstring: {stop}")
    b = s.encode()
    if stop >= len(b):
        raise FunctionError(f"stop index too large for string in strSubstring: {stop}")
    if start > stop:
        # Go panics: slice bounds out of range.
        raise FunctionError(f"runtime error: slice bounds out of range [{start}:{stop}]")
    return b[start:stop].decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------------
# regexReplace with Go's ReplaceAllString and its $-expansion


def _go_expand(template: str, m: re.Match[str]) -> str:
    out: list[str] = []
    i = 0
    n = len(template)
    ngroups = m.re.groups
    names = m.re.groupindex
    while i < n:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        i = j + 1
        if i < n and template[i] == "$":
            out.append("$")
            i += 1
            continue
        brace = i < n and template[i] == "{"
        k = i + 1 if brace else i
        start = k
        while k < n and (template[k].isalnum() or template[k] == "_"):
            k += 1
        name = template[start:k]
        if not name or (brace and (k >= n or template[k] != "}")):
            out.append("$")  # malformed: the $ is literal text
            continue
        i = k + 1 if brace else k
        num = -1
        if (
            name.isdigit()
            and name.isascii()
            and not (name[0] == "0" and len(name) > 1)
            and len(name) < 9
        ):
            num = int(name)
        if num >= 0:
            if num <= ngroups and m.group(num) is not None:
                out.append(m.group(num))
        elif name in names and m.group(name) is not None:
            out.append(m.group(name))
    return "".join(out)


def go_replace_all(pattern: re.Pattern[str], src: str, repl: str) -> str:
    """Go ``Regexp.ReplaceAllString``: an empty match right after a match is not replaced."""
    out: list[str] = []
    last = 0
    prev_end = -1
    for m in pattern.finditer(src):
        s, e = m.span()
        if s == e and s == prev_end:
            continue
        out.append(src[last:s])
        out.append(_go_expand(repl, m))
        last = e
        prev_end = e
    out.append(src[last:])
    return "".join(out)


def _regex_replace(*args: Any) -> str:
    if len(args) != 3:
        raise _err_count("regexReplace", "three arguments")
    pattern, src, repl = args
    if type(pattern) is not re.Pattern:
        raise FunctionError(
            f"cannot pass {go_type_name(pattern)} as first arg to regexReplace, must be regex"
        )
    if type(src) is not str:
        raise FunctionError(
            f"cannot pass {go_type_name(src)} as second arg to regexReplace, must be string"
        )
    if type(repl) is not str:
        raise FunctionError(
            f"cannot pass {go_type_name(repl)} as third arg to regexReplace, must be string"
        )
    return go_replace_all(pattern, src, repl)


# ---------------------------------------------------------------------------------------------
# Conversions

_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9](?:_?[0-9])*)?\.?(?:[0-9](?:_?[0-9])*)?(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)


def _bool(*args: Any) -> bool:
    if len(args) != 1:
        raise _err_count("bool", "one argument")
    a = args[0]
    t = type(a)
    if t is bool:
        return a
    if t is str:
        if a in GO_TRUE:
            return True
        if a in GO_FALSE:
            return False
        raise FunctionError(f"strconv.ParseBool: parsing {go_quote(a)}: invalid syntax")
    if t is int or t is float:
        if a == 0:
            return False
        if a == 1:
            return True
        raise FunctionError(f"cannot convert {go_v(a)} to boolean")
    raise FunctionError(f"cannot convert {go_type_name(a)} to boolean")


def _int(*args: Any) -> int:
    if len(args) != 1:
        raise _err_count("int", "one argument")
    a = args[0]
    t = type(a)
    if t is int:
        return a
    if t is float:
        if math.isnan(a) or math.isinf(a) or not (INT64_MIN <= a < 2.0**63):
            return INT64_MIN  # what amd64 produces for an out-of-range conversion
        return int(a)
    if t is str:
        if not _GO_INT.fullmatch(a):
            raise FunctionError(f"strconv.ParseInt: parsing {go_quote(a)}: invalid syntax")
        v = int(a)
        if not INT64_MIN <= v <= INT64_MAX:
            raise FunctionError(f"strconv.ParseInt: parsing {go_quote(a)}: value out of range")
        return v
    if t is bool:
        return 1 if a else 0
    if t is Duration:
        return int(a)
    raise FunctionError(f"cannot convert {go_type_name(a)} to integer")


def _float(*args: Any) -> float:
    if len(args) != 1:
        raise _err_count("float", "one argument")
    a = args[0]
    t = type(a)
    if t is float:
        return a
    if t is int:
        return float(a)
    if t is str:
        if not a or not _GO_FLOAT.fullmatch(a) or a.strip("+-.eE_") == "":
            raise FunctionError(f"strconv.ParseFloat: parsing {go_quote(a)}: invalid syntax")
        try:
            return float(a.replace("_", ""))
        except ValueError:
            raise FunctionError(
                f"strconv.ParseFloat: parsing {go_quote(a)}: invalid syntax"
            ) from None
    if t is bool:
        return 1.0 if a else 0.0
    raise FunctionError(f"cannot convert {go_type_name(a)} to float")


def _string(*args: Any) -> str:
    if len(args) != 1:
        raise _err_count("string", "one argument")
    a = args[0]
    t = type(a)
    if t is str:
        return a
    if t is int:
        return str(a)
    if t is float:
        return format_float_f(a)
    if t is bool:
        return "true" if a else "false"
    if t is Duration:
        return format_duration_influxql(a)
    raise FunctionError(f"cannot convert {go_type_name(a)} to string")


def float_to_duration(v: float) -> Duration:
    """Go's ``time.Duration(f)``: amd64 turns NaN, ±Inf and out-of-range floats into MinInt64."""
    if math.isnan(v) or math.isinf(v) or not (INT64_MIN <= v < 2.0**63):
        return Duration(INT64_MIN)
    return Duration(int(v))


def _duration(*args: Any) -> Duration:
    if len(args) not in (1, 2):
        raise FunctionError(
            "duration expects one or two arguments duration(value, unit) "
            "where unit is optional depending on the type of value."
        )

    def unit() -> int:
        if len(args) != 2:
            raise FunctionError("duration expects unit argument for int and float values")
        u = args[1]
        if type(u) is not Duration:
            raise FunctionError(f"invalid duration unit type: {go_type_name(u)}")
        return int(u)

    a = args[0]
    t = type(a)
    if t is Duration:
        return a
    if t is int:
        return Duration(wrap_int64(a * unit()))
    if t is float:
        return float_to_duration(a * float(unit()))
    if t is str:
        try:
            return parse_duration_influxql(a)
        except ValueError:
            raise FunctionError(f"invalid duration string {go_quote(a)}") from None
    raise FunctionError(f"cannot convert {go_type_name(a)} to duration")


# ---------------------------------------------------------------------------------------------
# Time, presence, humanBytes, if


def _local(t: Any) -> _time.struct_time:
    return _time.localtime(int(t) // 1_000_000_000)


def _time_fn(name: str, f: Callable[[Any], int]) -> Callable[..., Any]:
    def call(*args: Any) -> int:
        if len(args) != 1:
            raise _err_count(name, "one argument")
        a = args[0]
        if type(a) is not Time:
            raise FunctionError(f"cannot convert {go_type_name(a)} to time.Time")
        return f(a)

    return call


_TIME_FUNCS: dict[str, Callable[[Any], int]] = {
    "unixNano": lambda t: int(t),
    "minute": lambda t: _local(t).tm_min,
    "hour": lambda t: _local(t).tm_hour,
    "weekday": lambda t: (_local(t).tm_wday + 1) % 7,
    "day": lambda t: _local(t).tm_mday,
    "month": lambda t: _local(t).tm_mon,
    "year": lambda t: _local(t).tm_year,
}


def _now(*args: Any) -> Time:
    if args:
        raise FunctionError("now expects exactly zero argument")
    return Time(_time.time_ns())


def _human_bytes(*args: Any) -> str:
    if len(args) != 1:
        raise _err_count("humanBytes", "one argument")
    a = args[0]
    t = type(a)
    if t is int:
        n = a & 0xFFFFFFFFFFFFFFFF
    elif t is float:
        if math.isnan(a) or math.isinf(a) or not (-(2.0**63) <= a < 2.0**64):
            n = 1 << 63
        else:
            n = int(a) & 0xFFFFFFFFFFFFFFFF
    else:
        raise FunctionError(f"cannot convert {go_type_name(a)} to humanBytes")
    return humanize_bytes(n)


def humanize_bytes(n: int) -> str:
    """go-humanize ``Bytes``: SI units, one decimal under 10 (``1.0 kB``, ``83 MB``)."""
    if n < 10:
        return f"{n} B"
    sizes = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    e = math.floor(math.log(float(n)) / math.log(1000.0))
    val = math.floor(float(n) / math.pow(1000.0, e) * 10 + 0.5) / 10
    return f"{val:.1f} {sizes[e]}" if val < 10 else f"{val:.0f} {sizes[e]}"


def _if(*args: Any) -> Any:
    if len(args) != 3:
        raise _err_count("if", "three arguments")
    cond, a, b = args
    if type(cond) is not bool:
        raise FunctionError(
            f"first argument to if must be a condition with type of bool - got {go_type_name(cond)}"
        )
    if type(a) is not type(b):
        raise FunctionError(
            "Different return types are not supported - second argument is "
            f"{go_type_name(a)} and third argument is {go_type_name(b)}"
        )
    return a if cond else b


def _is_present(*args: Any) -> bool:
    if len(args) != 1:
        raise FunctionError("isMissing expects exactly one argument")
    return args[0] is not MISSING and type(args[0]) is not Missing


# ---------------------------------------------------------------------------------------------
# Stateful


class _Count(Builtin):
    __slots__ = ("n",)
    stateful = True

    def __init__(self) -> None:
        super().__init__("count", {(): "int"})
        self.n = 0

    def call(self, *args: Any) -> int:
        self.n = wrap_int64(self.n + 1)
        return self.n

    def reset(self) -> None:
        self.n = 0

    def fresh(self) -> Builtin:
        return _Count()


class _Sigma(Builtin):
    __slots__ = ("m2", "mean", "n")
    stateful = True

    def __init__(self) -> None:
        super().__init__("sigma", {("float",): "float"})
        self.reset()

    def reset(self) -> None:
        self.mean = 0.0
        self.m2 = 0.0
        self.n = 0.0

    def call(self, *args: Any) -> float:
        if len(args) != 1:
            raise FunctionError("sigma expects exactly one argument")
        x = args[0]
        if type(x) is not float:
            raise FunctionError("value is not a float")
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)
        if self.n < 2:
            return 0.0
        variance = self.m2 / (self.n - 1)
        if variance == 0:
            return 0.0
        return abs(x - self.mean) / math.sqrt(variance)

    def fresh(self) -> Builtin:
        return _Sigma()


class _Spread(Builtin):
    __slots__ = ("hi", "lo")
    stateful = True

    def __init__(self) -> None:
        super().__init__("spread", {("float",): "float"})
        self.reset()

    def reset(self) -> None:
        self.lo = _INF
        self.hi = -_INF

    def call(self, *args: Any) -> float:
        if len(args) != 1:
            raise FunctionError("spread expects exactly one argument")
        x = args[0]
        if type(x) is not float:
            raise FunctionError("value is not a float")
        if x < self.lo:
            self.lo = x
        if x > self.hi:
            self.hi = x
        return self.hi - self.lo

    def fresh(self) -> Builtin:
        return _Spread()


class _Rand(Builtin):
    """Kapacitor seeds zeebo/mwc; its sequence is not reproduced, only the range."""

    __slots__ = ("rng",)
    stateful = True

    def __init__(self) -> None:
        super().__init__("rand", {(): "int", ("int",): "int"})
        self.rng = random.Random()

    def call(self, *args: Any) -> int:
        if len(args) > 1:
            raise FunctionError("rand expects zero or one argument")
        if args:
            n = args[0]
            if type(n) is not int:
                raise FunctionError("value is not an int")
            bound = n & 0xFFFFFFFFFFFFFFFF
            if bound == 0:
                return 0
            return self.rng.randrange(bound) & INT64_MAX
        return self.rng.getrandbits(63)

    def fresh(self) -> Builtin:
        return _Rand()


# ---------------------------------------------------------------------------------------------
# The table: what a lambda may call. Each entry is data (signatures and implementation); the
# families above (math, strings, time) add one row per function of their own tables.

_SCALARS = ("boolean", "string", "int", "float")
_IF_TYPES = ("float", "int", "string", "boolean", "regex", "time", "duration")


def _each(domains: Iterable[str], result: str) -> dict[Domain, str]:
    """One-argument signatures: each of ``domains`` gives ``result``."""
    return {(d,): result for d in domains}


# name → (signatures: argument types → result type, implementation), in Kapacitor's order.
_STATELESS: dict[str, tuple[dict[Domain, str], Callable[..., Any]]] = {
    "bool": (_each(_SCALARS, "boolean"), _bool),
    "int": (_each(_SCALARS, "int"), _int),
    "float": (_each(_SCALARS, "float"), _float),
    "string": (_each((*_SCALARS, "duration"), "string"), _string),
    "duration": (
        {
            ("duration",): "duration",
            ("int", "duration"): "duration",
            ("float", "duration"): "duration",
            ("string", "duration"): "duration",
        },
        _duration,
    ),
    **{n: ({("float",): "float"}, _math1(n, f)) for n, f in _F1.items()},
    **{n: ({("float", "float"): "float"}, _math2(n, f)) for n, f in _F2.items()},
    "pow10": ({("int",): "float"}, _pow10_call),
    "jn": ({("int", "float"): "float"}, _mathif("jn", _bessel_j)),
    "yn": ({("int", "float"): "float"}, _mathif("yn", _bessel_y)),
    **{n: ({("string", "string"): "boolean"}, _string_fn(n, f, 2)) for n, f in _S2B.items()},
    **{n: ({("string", "string"): "int"}, _string_fn(n, f, 2)) for n, f in _S2I.items()},
    **{n: ({("string", "string"): "string"}, _string_fn(n, f, 2)) for n, f in _S2S.items()},
    **{n: ({("string",): "string"}, _string_fn(n, f, 1)) for n, f in _S1S.items()},
    "strLength": ({("string",): "int"}, _str_length),
    "strReplace": ({("string", "string", "string", "int"): "string"}, _str_replace),
    "strSubstring": ({("string", "int", "int"): "string"}, _str_substring),
    "regexReplace": ({("regex", "string", "string"): "string"}, _regex_replace),
    "isPresent": (_each(("missing", *_SCALARS), "boolean"), _is_present),
    **{n: ({("time",): "int"}, _time_fn(n, f)) for n, f in _TIME_FUNCS.items()},
    "now": ({(): "time"}, _now),
    "humanBytes": (_each(("float", "int"), "string"), _human_bytes),
    "if": ({("boolean", t, t): t for t in _IF_TYPES}, _if),
}

BUILTINS: dict[str, Builtin] = {
    **{name: Builtin(name, sigs, impl) for name, (sigs, impl) in _STATELESS.items()},
    "sigma": _Sigma(),
    "count": _Count(),
    "spread": _Spread(),
    "rand": _Rand(),
}
"""Every built-in by TICKscript name. The stateful entries are prototypes: use :func:`new_state`."""

STATEFUL: frozenset[str] = frozenset(n for n, f in BUILTINS.items() if f.stateful)


def new_state(name: str) -> Builtin:
    """A fresh instance of a stateful built-in (or the shared stateless one)."""
    return BUILTINS[name].fresh()


def call_builtin(name: str, *args: Any) -> Any:
    """Call a built-in as Kapacitor's Go ``Call`` would (no signature check); for tests and tools."""
    return BUILTINS[name].call(*args)
