"""Go's ``strconv.ParseBool``/``ParseInt`` and ``time.ParseDuration``, exactly as Kapacitor reads
config keys, environment overrides and handler options with them.

The one owner of Go's boolean spellings (:data:`GO_TRUE`, :data:`GO_FALSE`): the config, the
TICKscript ``bool()`` function and the handlers all ask here.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["GO_FALSE", "GO_TRUE", "parse_go_bool", "parse_go_duration", "parse_go_int"]


GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(text: str | bool) -> bool:
    """Go's ``strconv.ParseBool``: exactly the twelve spellings it accepts, nothing else."""
    if isinstance(text, bool):
        return text
    if text in GO_TRUE:
        return True
    if text in GO_FALSE:
        return False
    raise ValueError("expected a boolean (1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)")


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_GO_OCTAL = re.compile(r"[+-]?0[0-7]+")


def parse_go_int(text: str | int) -> int:
    """Go's ``strconv.ParseInt(s, 0, 64)``: decimal, 0x / 0o / 0b prefixes, leading-0 octal."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    elif not isinstance(text, str) or not text or text != text.strip():
        raise ValueError("expected an integer")
    elif _GO_OCTAL.fullmatch(text):
        value = int(text, 8)
    else:
        try:
            value = int(text, 0)
        except ValueError:
            raise ValueError(
                "expected an integer (decimal, or 0x, 0o, 0b or leading-0 octal)"
            ) from None
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError("integer out of range for a 64-bit integer")
    return value


_NS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_NUMBER = re.compile(r"([0-9]*)(?:\.([0-9]*))?")
_DURATION_UNIT = re.compile(r"[^0-9.]*")


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration``, returning integer nanoseconds ("1h30m", "1.5h", "100ms", "1µs")."""
    if not isinstance(text, str):
        raise ValueError('expected a duration string such as "10s" or "1h30m"')
    rest = text
    negative = rest[:1] == "-"
    if rest[:1] in ("-", "+"):
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise ValueError("invalid duration: empty")
    total = Fraction(0)
    pos = 0
    while pos < len(rest):
        number = _DURATION_NUMBER.match(rest, pos)
        assert number is not None  # the pattern matches the empty string
        whole, frac = number.group(1), number.group(2)
        if not whole and not frac:
            raise ValueError("invalid duration: expected a number")
        pos = number.end()
        unit_match = _DURATION_UNIT.match(rest, pos)
        assert unit_match is not None
        unit = unit_match.group()
        pos = unit_match.end()
        if not unit:
            raise ValueError("invalid duration: missing unit (ns, us, µs, ms, s, m or h)")
        if unit not in _NS_PER_UNIT:
            raise ValueError(
                f"invalid duration: unknown unit {unit[:10]!r} (ns, us, µs, ms, s, m or h)"
            )
        value = Fraction(int(whole or "0"))
        if frac:
            value += Fraction(int(frac), 10 ** len(frac))
        total += value * _NS_PER_UNIT[unit]
    nanoseconds = int(total)  # Go truncates fractions of a nanosecond
    if nanoseconds > _INT64_MAX + (1 if negative else 0):
        raise ValueError("invalid duration: out of range")
    return -nanoseconds if negative else nanoseconds
