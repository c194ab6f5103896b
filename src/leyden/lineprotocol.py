"""InfluxDB 1.x line protocol: parse write bodies into points, format points back.

The rules follow InfluxDB 1.x's parser (``models/points.go``), which Kapacitor uses for its write
endpoint, with a few deliberate differences that only ever turn a silent surprise into a clear
error or accept what a user plainly meant:

* ``\\r\\n`` line endings are accepted (InfluxDB rejects the ``\\r`` as part of the value).
* A string field value must end at its closing quote (``v="a"b`` is an error, not ``a"``).
* An unterminated string reports that one line; InfluxDB would swallow the rest of the body
  into it. A string value that legitimately spans lines (a raw newline inside quotes) is kept.
* Bodies must be UTF-8; a line with invalid bytes is reported.
* An integer, unsigned or timestamp of any length is one bad line when out of range ("value out
  of range", InfluxDB's ``strconv`` text), its length shown instead of its digits; Python's
  ``int()`` refuses over 4,300 digits, so the range is decided from the digit count first.

Parsing has two paths that must agree exactly. The fast path handles the common line -- ASCII,
no backslash, quote, tab or NUL, single spaces -- with ``str.split`` and a cache of parsed
series keys; anything it cannot prove right goes to the exact path, a character scanner that
also produces the error messages. ``tests/test_lineprotocol.py`` asserts both give identical results on a corpus.

The C package ``line-protocol-parser`` was measured as an alternative and rejected: it is slower
than the fast path once its dicts are converted to points, it reads ``1u`` as a plain int (the
unsigned type is lost), keeps the first of duplicate fields instead of the last, and parses one
line per call, so bodies would still be split and numbered here.
"""

from __future__ import annotations

import gc
import os
import re
import time as _time
from dataclasses import dataclass

__all__ = [
    "MAX_JOINED_LINE",
    "PRECISIONS",
    "LineError",
    "ParseResult",
    "UInt",
    "WirePoint",
    "format_point",
    "parse",
]

#: Nanoseconds per unit of each precision the write endpoint accepts ("" means ns).
PRECISIONS: dict[str, int] = {
    "": 1,
    "n": 1,
    "ns": 1,
    "u": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}

_PRECISION_HELP = "use one of n, ns, u, ms, s, m, h"

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64_MAX = 2**64 - 1
# InfluxDB reserves the two lowest and the highest int64 nanoseconds as sentinels.
_MIN_NANO_TIME = _INT64_MIN + 2
_MAX_NANO_TIME = _INT64_MAX - 1
# InfluxDB's limit on measurement + tags (and on that plus a field key), in bytes.
_MAX_KEY_LENGTH = 65535
# A quoted string may hold raw newlines; stop looking for its end after this many characters.
MAX_JOINED_LINE = 1 << 20
_TEXT_LIMIT = 120
# int64 and uint64 have at most 20 digits; longer digit strings (after leading zeros) are out of
# range whatever they say, and Python's int() refuses over 4,300 digits (sys.int_info), so the
# exact parser decides their range from their length instead of converting them.
_MAX_INT_DIGITS = 20

FieldValue = float | int | bool | str


class UInt(int):
    """An unsigned field value (``12u``), kept distinct from int so it formats back with ``u``."""

    __slots__ = ()

    def __new__(cls, value: int = 0) -> UInt:
        if not 0 <= value <= _UINT64_MAX:
            raise ValueError(f"unsigned value {value} is outside 0..{_UINT64_MAX}")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"UInt({int(self)})"


class WirePoint:
    """One point of a write, as parsed; ``tags`` has its keys in sorted order.

    (The engine turns it into a task's :class:`leyden.engine.model.Point`, which also carries its
    group and database; hence the two names.)

    ``tags`` is shared by every point of the same series (and later writes of it): nothing may
    modify it in place; copy it to change it (``LEYDEN_DEBUG_SHARED_TAGS=1`` makes it raise).
    """

    __slots__ = ("fields", "name", "tags", "time")

    def __init__(
        self, name: str, tags: dict[str, str], fields: dict[str, FieldValue], time: int
    ) -> None:
        self.name = name
        self.tags = tags
        self.fields = fields
        self.time = time

    def __eq__(self, other: object) -> bool:
        # Typed comparison: 1 == 1.0 == True in Python, but they are different field values.
        if not isinstance(other, WirePoint):
            return NotImplemented
        return (
            self.name == other.name
            and self.time == other.time
            and self.tags == other.tags
            and _typed(self.fields) == _typed(other.fields)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"WirePoint({self.name!r}, {self.tags!r}, {self.fields!r}, {self.time!r})"


def _typed(fields: dict[str, FieldValue]) -> list[tuple[str, type, FieldValue]]:
    return [(k, type(v), v) for k, v in fields.items()]


@dataclass(frozen=True)
class LineError:
    """Why one line of a body was rejected; ``message`` is what the user sees."""

    line: int  # 1-based line number in the body
    column: int  # 1-based byte column where the problem starts, or 0
    message: str  # 'line 3: invalid number "12x" for field "value" (column 17)'
    text: str  # the offending line, truncated
    #: a string value still open when the lines ran out: more lines might have closed it
    #: (the write path, which parses a body in slices, then gives the line more room)
    open_string: bool = False


@dataclass
class ParseResult:
    points: list[WirePoint]
    errors: list[LineError]


class _Bad(Exception):
    """A problem found by the exact parser: character offset into the line and description."""

    def __init__(self, pos: int, what: str) -> None:
        super().__init__(what)
        self.pos = pos
        self.what = what


class _Unterminated(_Bad):
    """A string value still open at the end of the (logical) line."""


# --- parse ---------------------------------------------------------------------------------

_KEY_CACHE: dict[str, tuple[str, dict[str, str]]] = {}
_KEY_CACHE_MAX = 10_000


class SharedTagsMutated(TypeError):
    """Something modified a series' shared tags dict in place (a bug: copy it instead)."""


class _FrozenTags(dict[str, str]):
    """A shared tags dict that refuses changes: the debug mode that proves sharing is safe."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise SharedTagsMutated("a series' shared tags dict was modified in place")

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]


#: every point of a series shares one tags dict; in this mode the dict refuses changes
FREEZE_SHARED_TAGS = os.environ.get("LEYDEN_DEBUG_SHARED_TAGS", "") not in ("", "0")
_BOOLS: dict[str, bool] = {
    "t": True,
    "T": True,
    "true": True,
    "True": True,
    "TRUE": True,
    "f": False,
    "F": False,
    "false": False,
    "False": False,
    "FALSE": False,
}
_NOT_SIMPLE = ("\\", '"', "\t", "\x00")
_NUMBER_SURPRISES = ("_", "+", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")
_DIGITS = frozenset("0123456789")
_FLOAT_END = frozenset("0123456789.")
_NUM_START = frozenset("-.0123456789")
_INT_START = frozenset("-0123456789")


def parse(body: bytes | str, *, precision: str = "ns", now_ns: int | None = None) -> ParseResult:
    """Parse a whole write body. Bad lines become errors; the good lines are still returned.

    Lines without a timestamp get ``now_ns`` (read once per call when not given) truncated to
    the precision, as InfluxDB does.
    """
    mult = PRECISIONS.get(precision)
    if mult is None:
        raise ValueError(f'invalid precision "{precision}": {_PRECISION_HELP}')
    if now_ns is None:
        now_ns = _time.time_ns()
    default_time = now_ns - now_ns % mult
    text, bad_utf8 = _decode(body)
    lines = text.split("\n")
    if len(lines) < 1000 or not gc.isenabled():
        return _parse_lines(text, lines, mult, default_time, bad_utf8)
    # Every point allocates tracked objects, so a large body sets off many collections that
    # cannot free anything: the points are all still referenced. Pausing the collector for
    # this synchronous call measured 10-30% faster on 5,000-line bodies.
    gc.disable()
    try:
        return _parse_lines(text, lines, mult, default_time, bad_utf8)
    finally:
        gc.enable()


def _parse_lines(
    text: str, lines: list[str], mult: int, default_time: int, bad_utf8: bool
) -> ParseResult:
    points: list[WirePoint] = []
    errors: list[LineError] = []
    append = points.append
    cache = _KEY_CACHE
    bools = _BOOLS
    digits = _DIGITS
    float_end = _FLOAT_END
    num_start = _NUM_START
    int_start = _INT_START
    has_cr = "\r" in text
    # Checks that hold for the whole body need not be repeated on each line.
    # (tab and NUL count as whitespace between sections, which str.split would not see).
    simple_body = text.isascii() and not any(c in text for c in _NOT_SIMPLE)
    # Without these characters anywhere, int() and float() accept exactly the numbers the
    # per-value checks below would let through (no sign "+", "_" or whitespace to skip).
    plain_numbers = simple_body and not any(c in text for c in _NUMBER_SURPRISES)
    new = object.__new__
    interned: dict[str, str] = {}
    field_keys = interned.setdefault
    n = len(lines)
    i = 0
    while i < n:
        line = lines[i]
        i += 1
        # ---- fast path: ASCII; no backslash, quote, tab, NUL, comment or odd spacing ----
        if has_cr and line[-1:] == "\r":
            line = line[:-1]
        if (
            not line
            or len(line) > 60000
            or (
                not simple_body
                and (
                    "\\" in line
                    or '"' in line
                    or "\t" in line
                    or "\x00" in line
                    or not line.isascii()
                )
            )
        ):
            pass
        else:
            parts = line.split(" ")
            nparts = len(parts)
            if nparts == 2 or nparts == 3:
                key = parts[0]
                series = cache.get(key)
                if series is None:
                    series = _fast_key(key)
                if series is not None:
                    fields: dict[str, FieldValue] = {}
                    ok = True
                    for kv in parts[1].split(","):
                        k, _, v = kv.partition("=")
                        if not k or not v:
                            ok = False
                            break
                        # one string per field key: a buffered point keeps its dict's keys
                        k = field_keys(k, k)
                        c = v[-1]
                        if c in float_end:
                            if not plain_numbers and (v[0] not in num_start or "_" in v):
                                ok = False
                                break
                            try:
                                x = float(v)
                            except ValueError:
                                ok = False
                                break
                            if x - x != 0.0:  # inf or nan
                                ok = False
                                break
                            fields[k] = x
                        elif c == "i":
                            s = v[:-1]
                            if not plain_numbers and (
                                not s or s[0] not in int_start or s[-1] not in digits or "_" in s
                            ):
                                ok = False
                                break
                            try:
                                y = int(s)
                            except ValueError:
                                ok = False
                                break
                            if y < -9223372036854775808 or y > 9223372036854775807:
                                ok = False
                                break
                            fields[k] = y
                        elif v in bools:
                            fields[k] = bools[v]
                        else:  # unsigned, or something the exact path must explain
                            ok = False
                            break
                    if ok:
                        if nparts == 2:
                            ts = default_time
                        else:
                            s = parts[2]
                            if not plain_numbers and (
                                not s or s[0] not in int_start or s[-1] not in digits or "_" in s
                            ):
                                ok = False
                            else:
                                try:
                                    ts = int(s) * mult
                                except ValueError:
                                    ok = False
                                else:
                                    if ts < -9223372036854775806 or ts > 9223372036854775806:
                                        ok = False
                        if ok:
                            # object.__new__ plus slot stores is twice as fast as WirePoint(...)
                            point = new(WirePoint)
                            point.name = series[0]
                            point.tags = series[1]  # shared per series, never modified
                            point.fields = fields
                            point.time = ts
                            append(point)
                            continue
        # ---- exact path ----
        first = i - 1
        line = lines[first]
        stripped = line.lstrip(" \t\0")
        if not stripped or stripped == "\r" or stripped[0] == "#":
            continue
        if bad_utf8 and _has_surrogate(line):
            errors.append(_utf8_error(first + 1, line))
            continue
        exact, consumed, err = _exact_lines(lines, first, mult, default_time)
        if exact is not None:
            append(exact)
            i = first + consumed
        elif err is not None:
            errors.append(err)
    return ParseResult(points, errors)


def _decode(body: bytes | str) -> tuple[str, bool]:
    if isinstance(body, str):
        return body, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return body.decode("utf-8", "surrogateescape"), True


def _has_surrogate(s: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in s)


def _utf8_error(lineno: int, line: str) -> LineError:
    pos = next((i for i, ch in enumerate(line) if "\udc80" <= ch <= "\udcff"), 0)
    return _make_error(lineno, line, pos, "invalid UTF-8 bytes; the body must be UTF-8")


def _fast_key(key: str) -> tuple[str, dict[str, str]] | None:
    """Parse an escape-free series key and cache it, or None if the exact path must decide."""
    if len(key) > 60000:
        return None
    name, *pairs = key.split(",")
    if not name or name[0] in "\t\0#":
        return None
    tags: dict[str, str] = {}
    for pair in pairs:
        k, _, v = pair.partition("=")
        if not k or not v or "=" in v or k in tags:
            return None
        tags[k] = v
    if len(tags) > 1:
        tags = dict(sorted(tags.items()))
    if FREEZE_SHARED_TAGS:
        tags = _FrozenTags(tags)
    series = (name, tags)
    if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
        _KEY_CACHE.clear()
    _KEY_CACHE[key] = series
    return series


def _exact_lines(
    lines: list[str], first: int, mult: int, default_time: int
) -> tuple[WirePoint | None, int, LineError | None]:
    """Parse the line at ``first``, joining following lines while a string value is open.

    Returns the point or the error, and how many physical lines the point used.
    """
    line = _strip_cr(lines[first])
    try:
        return _parse_line(line, mult, default_time), 1, None
    except _Unterminated as exc:
        first_exc: _Bad = exc
    except _Bad as exc:
        return None, 1, _make_error(first + 1, line, exc.pos, exc.what)
    # A raw newline inside a quoted string continues the point on the next line(s).
    joined = lines[first]
    j = first + 1
    broke = False
    while j < len(lines) and len(joined) <= MAX_JOINED_LINE:
        joined += "\n" + lines[j]
        j += 1
        if '"' not in lines[j - 1]:
            continue
        try:
            return _parse_line(_strip_cr(joined), mult, default_time), j - first, None
        except _Unterminated:
            continue
        except _Bad:
            broke = True
            break
    error = _make_error(first + 1, line, first_exc.pos, first_exc.what)
    if not broke and j >= len(lines) and len(joined) <= MAX_JOINED_LINE:
        error = LineError(error.line, error.column, error.message, error.text, open_string=True)
    return None, 1, error


def _strip_cr(line: str) -> str:
    return line[:-1] if line[-1:] == "\r" else line


def _make_error(lineno: int, line: str, pos: int, what: str) -> LineError:
    column = len(line[:pos].encode("utf-8", "surrogateescape")) + 1 if pos >= 0 else 0
    where = f" (column {column})" if column else ""
    text = line if len(line) <= _TEXT_LIMIT else line[: _TEXT_LIMIT - 3] + "..."
    return LineError(lineno, column, f"line {lineno}: {what}{where}", text)


def _show(s: str, limit: int = 40) -> str:
    """Quote a piece of the input for a message, shortened so one error stays one line."""
    if len(s) > limit:
        s = s[: limit - 3] + "..."
    return '"' + s.replace("\n", "\\n") + '"'


_WS = " \t\0"
_INT_RE = re.compile(r"-?[0-9]+")
_UINT_RE = re.compile(r"[0-9]+")
# Unambiguous (``[0-9]+\.?[0-9]*`` backtracked quadratically: a 5,000-digit value with a bad
# tail took seconds; found by fuzzing).
_FLOAT_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_STRING_ESCAPE_RE = re.compile(r'\\([\\"])')


def _skip_ws(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in _WS:
        i += 1
    return i


def _parse_line(s: str, mult: int, default_time: int) -> WirePoint:
    """The exact parser: InfluxDB 1.x's scanning rules, one character at a time."""
    n = len(s)
    start = _skip_ws(s, 0)
    name, tags, i = _scan_key(s, start)
    key_len = len(s[start:i].encode("utf-8", "surrogateescape"))
    if key_len > _MAX_KEY_LENGTH:
        raise _Bad(start, f"measurement and tags are {key_len} bytes, over {_MAX_KEY_LENGTH}")
    i = _skip_ws(s, i)
    if i >= n:
        raise _Bad(i, "missing fields: a point needs at least one field, as in value=1")
    fields, i = _scan_fields(s, i, key_len)
    i = _skip_ws(s, i)
    if i >= n:
        return WirePoint(name, tags, fields, default_time)
    ts_start = i
    while i < n and s[i] != " ":
        i += 1
    raw = s[ts_start:i]
    if not _INT_RE.fullmatch(raw):
        raise _Bad(ts_start, f"invalid timestamp {_show(raw)}: it must be an integer")
    ts = _bounded_int(raw)
    if ts is None or not _INT64_MIN <= ts <= _INT64_MAX:
        raise _Bad(
            ts_start,
            f"timestamp {_show(raw)}{_digits(raw)} is out of the int64 range: value out of range",
        )
    ts *= mult
    if not _MIN_NANO_TIME <= ts <= _MAX_NANO_TIME:
        raise _Bad(
            ts_start,
            f"timestamp {_show(raw)} is outside the representable time range "
            "(1677-09-21 to 2262-04-11)",
        )
    while i < n:
        if s[i] != " ":
            raise _Bad(i, f"unexpected text {_show(s[i:])} after the timestamp")
        i += 1
    return WirePoint(name, tags, fields, ts)


def _scan_key(s: str, i: int) -> tuple[str, dict[str, str], int]:
    """Measurement and tags; a character is escaped when a backslash precedes it."""
    n = len(s)
    start = i
    if i >= n or s[i] == ",":
        raise _Bad(i, "missing measurement name")
    while True:
        i += 1
        if i >= n:
            raise _Bad(n, "missing fields: a point needs at least one field, as in value=1")
        if s[i - 1] == "\\":
            continue
        if s[i] == "," or s[i] == " ":
            break
    name = s[start:i].replace("\\,", ",").replace("\\ ", " ")
    tags: dict[str, str] = {}
    positions: dict[str, int] = {}
    while s[i] == ",":
        i += 1
        # tag key
        key_start = i
        if i >= n or s[i] in " ,=":
            raise _Bad(i, "missing tag key after ','")
        while True:
            i += 1
            if i >= n or (s[i] in " ," and s[i - 1] != "\\"):
                key = s[key_start:i]
                raise _Bad(key_start, f"missing tag value for tag {_show(_unescape_tag(key))}")
            if s[i] == "=" and s[i - 1] != "\\":
                break
        key = _unescape_tag(s[key_start:i])
        i += 1
        # tag value
        value_start = i
        if i >= n or s[i] in ", ":
            raise _Bad(value_start, f"missing tag value for tag {_show(key)}")
        while True:
            i += 1
            if i >= n:
                raise _Bad(n, "missing fields: a point needs at least one field, as in value=1")
            c = s[i]
            if s[i - 1] == "\\":
                continue
            if c == "=":
                raise _Bad(
                    i, f"invalid tag value for tag {_show(key)}: '=' inside a value needs '\\='"
                )
            if c == "," or c == " ":
                break
        if key in positions:
            raise _Bad(key_start, f"duplicate tag {_show(key)}")
        positions[key] = key_start
        tags[key] = _unescape_tag(s[value_start:i])
    if len(tags) > 1:
        tags = dict(sorted(tags.items()))
    return name, tags, i


def _unescape_tag(raw: str) -> str:
    if "\\" not in raw:
        return raw
    return raw.replace("\\,", ",").replace("\\=", "=").replace("\\ ", " ")


def _scan_fields(s: str, i: int, key_len: int) -> tuple[dict[str, FieldValue], int]:
    """Fields section; here a backslash escapes the next character (InfluxDB's scanFields)."""
    n = len(s)
    fields: dict[str, FieldValue] = {}
    while True:
        key_start = i
        while i < n:
            c = s[i]
            if c == "\\" and i + 1 < n:
                i += 2
                continue
            if c == "=" or c == "," or c == " ":
                break
            i += 1
        raw_key = s[key_start:i]
        if i >= n or s[i] != "=":
            if not raw_key:
                raise _Bad(key_start, "missing field: expected key=value")
            raise _Bad(
                key_start, f"missing '=' after field key {_show(raw_key)}: expected key=value"
            )
        if not raw_key:
            raise _Bad(key_start, "missing field key before '='")
        key = _unescape_tag(raw_key)
        if key_len + 4 + len(key.encode("utf-8", "surrogateescape")) > _MAX_KEY_LENGTH:
            raise _Bad(key_start, f"series key with field {_show(key)} is over the maximum size")
        i += 1
        value_start = i
        if i >= n or s[i] in ", ":
            raise _Bad(value_start, f"missing value for field {_show(key)}")
        if s[i] == '"':
            i += 1
            while True:
                if i >= n:
                    raise _Unterminated(
                        value_start,
                        f"unterminated string value for field {_show(key)}: missing closing '\"'",
                    )
                c = s[i]
                if c == "\\" and i + 1 < n:
                    i += 2
                    continue
                i += 1
                if c == '"':
                    break
            if i < n and s[i] not in ", ":
                raise _Bad(
                    i,
                    f"unexpected text after the string value of field {_show(key)}; "
                    "escape '\"' inside strings as '\\\"'",
                )
            fields[key] = _STRING_ESCAPE_RE.sub(r"\1", s[value_start + 1 : i - 1])
        else:
            while i < n and s[i] not in ", ":
                i += 1
            fields[key] = _field_value(s[value_start:i], key, value_start)
        if i >= n or s[i] == " ":
            return fields, i
        i += 1  # past ','
        if i >= n or s[i] == " ":
            raise _Bad(i, "missing field after ','")


def _bounded_int(text: str) -> int | None:
    """``int(text)`` for a digit string with an optional '-', or None when it has more digits
    than any int64 or uint64 (never a ValueError for a long one)."""
    negative = text[:1] == "-"
    digits = (text[1:] if negative else text).lstrip("0")
    if len(digits) > _MAX_INT_DIGITS:
        return None
    value = int(digits) if digits else 0  # int() counts leading zeros against its limit
    return -value if negative else value


def _digits(text: str) -> str:
    """`` (5000 digits)`` after a number too long to show whole, else nothing."""
    count = len(text) - (text[:1] == "-")
    return f" ({count} digits)" if len(text) > 40 else ""


def _field_value(raw: str, key: str, pos: int) -> FieldValue:
    first = raw[0]
    if first in "-.0123456789" or first in "Nn":
        last = raw[-1]
        if last == "i" and _INT_RE.fullmatch(raw, 0, len(raw) - 1):
            value = _bounded_int(raw[:-1])
            if value is None or not _INT64_MIN <= value <= _INT64_MAX:
                raise _Bad(
                    pos,
                    f"integer value {_show(raw)}{_digits(raw[:-1])} for field {_show(key)} "
                    "is out of int64 range: value out of range",
                )
            return value
        if last == "u" and len(raw) > 1:
            if raw[0] == "-" and _INT_RE.fullmatch(raw, 0, len(raw) - 1):
                raise _Bad(
                    pos, f"unsigned value {_show(raw)} for field {_show(key)} cannot be negative"
                )
            if _UINT_RE.fullmatch(raw, 0, len(raw) - 1):
                unsigned = _bounded_int(raw[:-1])
                if unsigned is None or unsigned > _UINT64_MAX:
                    raise _Bad(
                        pos,
                        f"unsigned value {_show(raw)}{_digits(raw[:-1])} for field {_show(key)} "
                        "is out of uint64 range: value out of range",
                    )
                return UInt(unsigned)
        if _FLOAT_RE.fullmatch(raw):
            number = float(raw)
            if number - number != 0.0:
                raise _Bad(pos, f"float value {_show(raw)} for field {_show(key)} is out of range")
            return number
        if raw.lower() in ("nan", "-nan", "inf", "-inf", "+inf", "infinity", "-infinity"):
            raise _Bad(
                pos,
                f"invalid number {_show(raw)} for field {_show(key)}: NaN and Inf are not allowed",
            )
        raise _Bad(
            pos,
            f"invalid number {_show(raw)} for field {_show(key)}: use 1.5 or 1e3 for floats, "
            "3i for integers, 3u for unsigned",
        )
    boolean = _BOOLS.get(raw)
    if boolean is not None:
        return boolean
    if first in "tTfF":
        raise _Bad(
            pos,
            f"invalid boolean {_show(raw)} for field {_show(key)}: "
            "use t, T, true, True, TRUE, f, F, false, False or FALSE",
        )
    raise _Bad(
        pos,
        f"invalid field value {_show(raw)} for field {_show(key)}: "
        'strings must be double-quoted, as in key="text"',
    )


# --- format --------------------------------------------------------------------------------


def format_point(p: WirePoint, precision: str = "ns") -> str:
    """The canonical line for a point (no trailing newline); ``parse`` reads it back equal.

    Raises ValueError for a point line protocol cannot express: no fields, an empty measurement
    or key, a newline in a name, key or tag, a name or key ending in a backslash, a non-finite
    float, an int outside int64. Tags with an empty value are left out, as InfluxDB does.
    The timestamp is divided by the precision, truncating toward zero like InfluxDB.
    """
    mult = PRECISIONS.get(precision)
    if mult is None:
        raise ValueError(f'invalid precision "{precision}": {_PRECISION_HELP}')
    name = p.name
    _check_name(name, "measurement")
    if name[0] in "#\t\0":
        raise ValueError(f"measurement {name!r} cannot start with {name[0]!r} in line protocol")
    out = [name.replace(",", "\\,").replace(" ", "\\ ")]
    for key in sorted(p.tags):
        tag_value = p.tags[key]
        if tag_value == "":
            continue
        _check_name(key, "tag key")
        _check_name(tag_value, f"value of tag {key!r}")
        out.append(",")
        out.append(_escape_tag(key))
        out.append("=")
        out.append(_escape_tag(tag_value))
    if not p.fields:
        raise ValueError(f"point {name!r} has no fields; line protocol needs at least one")
    sep = " "
    for key, value in p.fields.items():
        _check_name(key, "field key")
        out.append(sep)
        sep = ","
        out.append(_escape_tag(key))
        out.append("=")
        out.append(_format_value(key, value))
    t = p.time
    q = abs(t) // mult
    out.append(f" {q if t >= 0 else -q}")
    return "".join(out)


def _check_name(s: str, what: str) -> None:
    if not s:
        raise ValueError(f"empty {what} cannot be written in line protocol")
    if "\n" in s:
        raise ValueError(f"{what} {s!r} contains a newline, which line protocol cannot express")
    if s[-1] == "\\":
        raise ValueError(f"{what} {s!r} ends with a backslash, which line protocol cannot express")


def _escape_tag(s: str) -> str:
    return s.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _format_value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, UInt):
        return f"{int(value)}u"
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"integer field {key!r}={value} is outside the int64 range")
        return f"{value}i"
    if isinstance(value, float):
        if value - value != 0.0:
            raise ValueError(f"float field {key!r}={value} is not finite")
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ValueError(f"field {key!r} has unsupported type {type(value).__name__}")
