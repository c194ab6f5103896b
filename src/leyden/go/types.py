"""Go values and the way Go prints them.

Kapacitor users see Go's formatting everywhere: ``{{ .Time }}`` in a message template, floats in
``{{ index .Fields "v" }}``, the JSON bodies posted to HTTP endpoints.  Reproducing it byte for
byte is what lets existing templates and JSON consumers keep working, so the rules live here, in
one place, shared by templates, JSON output and lambda functions.

Go kinds are mapped onto Python types as follows:

* ``bool`` → bool, ``int`` → int64, ``float`` → float64, ``str`` → string, ``None`` → nil;
* ``dict`` → ``map[string]interface{}`` (printed and encoded with sorted keys);
  :class:`StringMap` → ``map[string]string`` (a missing key reads as ``""``);
* ``list``/``tuple`` → ``[]interface{}``;
* :class:`GoStruct` (an insertion-ordered dict) or any object defining ``__go_json__`` → a struct
  whose fields keep their declaration order;
* :class:`Duration` → ``time.Duration``, :class:`Time` → ``time.Time`` (UTC).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "Duration",
    "GoStruct",
    "StringMap",
    "Time",
    "format_float",
    "format_float_f",
    "format_value",
    "go_json",
    "go_quote",
    "go_type_name",
    "shortest_digits",
    "sprint",
    "sprintf",
    "sprintln",
]

_NS_PER_S = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _trimmed_fraction(nanos: int, width: int = 9) -> str:
    """Go's ``.999999999`` layout element: the fraction without trailing zeros, or nothing."""
    if nanos == 0:
        return ""
    return "." + str(nanos).rjust(width, "0").rstrip("0")


class Duration(int):
    """A Go ``time.Duration``: integer nanoseconds whose ``str`` is ``Duration.String()``."""

    __slots__ = ()

    def __str__(self) -> str:
        d = int(self)
        if d == 0:
            return "0s"
        sign = "-" if d < 0 else ""
        u = -d if d < 0 else d
        if u < _NS_PER_S:
            if u < 1_000:
                return f"{sign}{u}ns"
            if u < 1_000_000:
                whole, frac = divmod(u, 1_000)
                return f"{sign}{whole}{_trimmed_fraction(frac, 3)}µs"
            whole, frac = divmod(u, 1_000_000)
            return f"{sign}{whole}{_trimmed_fraction(frac, 6)}ms"
        secs, frac = divmod(u, _NS_PER_S)
        text = f"{secs % 60}{_trimmed_fraction(frac)}s"
        mins = secs // 60
        if mins:
            text = f"{mins % 60}m{text}"
            hours = mins // 60
            if hours:
                text = f"{hours}h{text}"
        return sign + text

    def __repr__(self) -> str:
        return f"Duration({int(self)})"


_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)


class Time(int):
    """A Go ``time.Time`` in UTC: integer nanoseconds since the Unix epoch."""

    __slots__ = ()

    def _parts(self) -> tuple[datetime, int]:
        secs, nanos = divmod(int(self), _NS_PER_S)
        return _EPOCH + timedelta(seconds=secs), nanos

    def _layout(self, sep: str, fraction: bool) -> str:
        # the year always has four digits, as Go writes it (strftime's %Y does not pad on Linux)
        dt, nanos = self._parts()
        text = (
            f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}{sep}"
            f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
        )
        return text + _trimmed_fraction(nanos) if fraction else text

    def __str__(self) -> str:
        return self._layout(" ", True) + " +0000 UTC"

    def __repr__(self) -> str:
        return f"Time({int(self)})"

    def rfc3339(self) -> str:
        """Go's ``time.RFC3339`` layout: whole seconds, ``Z`` for UTC."""
        return self._layout("T", False) + "Z"

    def rfc3339nano(self) -> str:
        """Go's ``time.RFC3339Nano`` layout, which trims trailing zeros of the fraction."""
        return self._layout("T", True) + "Z"

    @classmethod
    def parse_rfc3339(cls, text: str) -> Time:
        """Parse RFC 3339 with an optional fraction of up to 9 digits and any UTC offset."""
        m = _RFC3339_RE.match(text)
        if m is None:
            raise ValueError(f"invalid RFC 3339 time {text!r}")
        year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
        try:
            dt = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError as exc:
            raise ValueError(f"invalid RFC 3339 time {text!r}: {exc}") from None
        secs = (dt - _EPOCH) // timedelta(seconds=1)
        if m.group(9):
            offset = int(m.group(10)) * 3600 + int(m.group(11)) * 60
            secs -= offset if m.group(9) == "+" else -offset
        nanos = int((m.group(7) or "").ljust(9, "0"))
        return cls(secs * _NS_PER_S + nanos)


class StringMap(dict[str, str]):
    """A Go ``map[string]string`` (Kapacitor's ``.Tags``): ``index`` of a missing key is ``""``."""

    __slots__ = ()


class GoStruct(dict[str, Any]):
    """A Go struct: fields in declaration (insertion) order, not sorted like a map.

    Templates treat a missing field as an execution error rather than ``<no value>``, JSON keeps
    the field order, and ``%v`` prints ``{v1 v2}`` as Go does.  ``type_name`` names the struct in
    error messages (``can't evaluate field X in type alert.TemplateData``).
    """

    __slots__ = ("type_name",)

    def __init__(self, *args: Any, type_name: str = "struct", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type_name = type_name


# --- numbers -------------------------------------------------------------------------------


def shortest_digits(f: float) -> tuple[str, int]:
    """The shortest round-trip decimal digits of a finite ``abs(f)`` and its decimal point.

    The value is ``0.DIGITS × 10**dp``, strconv's representation; ``(\"0\", 1)`` for zero.
    """
    r = repr(abs(f))
    mantissa, _, exp_text = r.partition("e")
    exp = int(exp_text) if exp_text else 0
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    dp = len(int_part) + exp
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return "0", 1
    return digits, dp


def _exp_text(exp: int) -> str:
    """Go's exponent suffix: sign and at least two digits (``e+06``, ``e-05``)."""
    return ("e-" if exp < 0 else "e+") + str(abs(exp)).rjust(2, "0")


def _format_digits_e(digits: str, dp: int) -> str:
    head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return head + _exp_text(dp - 1)


def _format_digits_f(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def format_float(f: float) -> str:
    """Go ``%v`` of a float64: shortest digits, exponent form when the exponent is < -4 or >= 6."""
    if f != f:
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    digits, dp = shortest_digits(f)
    sign = "-" if f < 0 else ""
    exp = dp - 1
    # strconv's 'g' with the shortest precision decides on the exponent form with eprec = 6.
    if exp < -4 or exp >= 6:
        return sign + _format_digits_e(digits, dp)
    return sign + _format_digits_f(digits, dp)


def format_float_f(f: float) -> str:
    """Go ``strconv.FormatFloat(f, 'f', -1, 64)``: shortest digits, never an exponent."""
    if f != f:
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    return sign + _format_digits_f(*shortest_digits(f))


# --- %v ------------------------------------------------------------------------------------


def go_type_name(v: Any) -> str:
    """The Go type name of a value, as ``%!d(TYPE=value)`` and error messages show it."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Duration):
        return "time.Duration"
    if isinstance(v, Time):
        return "time.Time"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, StringMap):
        return "map[string]string"
    if isinstance(v, GoStruct):
        return v.type_name
    if isinstance(v, Mapping):
        return "map[string]interface {}"
    if isinstance(v, list | tuple):
        return "[]interface {}"
    return type(v).__name__


def _struct_items(v: Any) -> list[tuple[str, Any]] | None:
    """The (field, value) pairs of a struct-like value, or None when it is not one."""
    if isinstance(v, GoStruct):
        return list(v.items())
    fields = getattr(type(v), "__dataclass_fields__", None)
    if fields is not None:
        return [(name, getattr(v, name)) for name in fields]
    return None


def format_value(v: Any, plus: bool = False) -> str:
    """Go ``%v`` (``%+v`` when ``plus``) of any value Leyden hands to Go-style printing."""
    if isinstance(v, str):
        return v
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        # Duration, Time and enum levels are Stringers in Go; their __str__ matches.
        return int.__repr__(v) if type(v) is int else str(v)
    if isinstance(v, float):
        return format_float(v)
    struct = _struct_items(v)
    if struct is not None:
        if plus:
            return "{" + " ".join(f"{k}:{format_value(x, plus)}" for k, x in struct) + "}"
        return "{" + " ".join(format_value(x, plus) for _, x in struct) + "}"
    if isinstance(v, Mapping):
        items = sorted(v.items(), key=lambda kv: _sort_key(kv[0]))
        return (
            "map[" + " ".join(f"{format_value(k)}:{format_value(x, plus)}" for k, x in items) + "]"
        )
    if isinstance(v, list | tuple):
        return "[" + " ".join(format_value(x, plus) for x in v) + "]"
    if isinstance(v, bytes):
        return "[" + " ".join(str(b) for b in v) + "]"
    return str(v)


def _sort_key(k: Any) -> tuple[int, Any]:
    """Go's fmtsort order for map keys of one kind; mixed kinds fall back to their type name."""
    if isinstance(k, bool):
        return (0, k)
    if isinstance(k, int | float):
        return (1, k)
    if isinstance(k, str):
        return (2, k)
    return (3, repr(k))


# --- JSON ----------------------------------------------------------------------------------

_JSON_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_JSON_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def _build_json_escapes(escape_html: bool) -> dict[int, str]:
    table: dict[int, str] = {c: f"\\u{c:04x}" for c in range(0x20)}
    for ch, esc in _JSON_SHORT_ESCAPES.items():
        table[ord(ch)] = esc
    if escape_html:
        for ch, esc in _JSON_HTML.items():
            table[ord(ch)] = esc
    table[0x2028] = "\\u2028"
    table[0x2029] = "\\u2029"
    return table


_JSON_ESCAPES_HTML = _build_json_escapes(True)
_JSON_ESCAPES_PLAIN = _build_json_escapes(False)
_JSON_NEEDS_ESCAPE_HTML = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_JSON_NEEDS_ESCAPE_PLAIN = re.compile('[\x00-\x1f"\\\\\u2028\u2029\ud800-\udfff]')
_SURROGATES = re.compile("[\ud800-\udfff]")


def _json_string(s: str, escape_html: bool) -> str:
    needs = _JSON_NEEDS_ESCAPE_HTML if escape_html else _JSON_NEEDS_ESCAPE_PLAIN
    if needs.search(s) is None:
        return '"' + s + '"'
    # Lone surrogates cannot be valid UTF-8; Go replaces invalid bytes with U+FFFD.
    s = _SURROGATES.sub("\ufffd", s)
    return '"' + s.translate(_JSON_ESCAPES_HTML if escape_html else _JSON_ESCAPES_PLAIN) + '"'


def _json_float(f: float) -> str:
    if f != f or math.isinf(f):
        raise ValueError(f"json: unsupported value: {format_float(f)}")
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    digits, dp = shortest_digits(f)
    sign = "-" if f < 0 else ""
    a = abs(f)
    if a < 1e-6 or a >= 1e21:
        text = _format_digits_e(digits, dp)
        # encoding/json shortens a two-digit negative exponent: 1e-07 becomes 1e-7.
        if text[-4:-1] == "e-0":
            text = text[:-2] + text[-1]
        return sign + text
    return sign + _format_digits_f(digits, dp)


class _JSONEncoder:
    __slots__ = ("escape_html", "indent", "parts")

    def __init__(self, escape_html: bool, indent: str | None) -> None:
        self.escape_html = escape_html
        self.indent = indent
        self.parts: list[str] = []

    def _newline(self, depth: int) -> None:
        if self.indent is not None:
            self.parts.append("\n" + self.indent * depth)

    def _object(self, items: list[tuple[str, Any]], depth: int) -> None:
        out = self.parts
        if not items:
            out.append("{}")
            return
        out.append("{")
        colon = ": " if self.indent is not None else ":"
        for i, (k, v) in enumerate(items):
            if i:
                out.append(",")
            self._newline(depth + 1)
            out.append(_json_string(str(k), self.escape_html))
            out.append(colon)
            self.encode(v, depth + 1)
        self._newline(depth)
        out.append("}")

    def encode(self, v: Any, depth: int = 0) -> None:
        out = self.parts
        if isinstance(v, str):
            out.append(_json_string(v, self.escape_html))
        elif v is None:
            out.append("null")
        elif isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, Time):
            out.append('"' + v.rfc3339nano() + '"')
        elif isinstance(v, int):
            out.append(int.__repr__(v))
        elif isinstance(v, float):
            out.append(_json_float(v))
        elif isinstance(v, GoStruct):
            self._object(list(v.items()), depth)
        elif hasattr(v, "__go_json__"):
            self.encode(_as_struct(v.__go_json__()), depth)
        elif isinstance(v, Mapping):
            items = sorted(((str(k), x) for k, x in v.items()), key=lambda kv: kv[0])
            self._object(items, depth)
        elif isinstance(v, list | tuple):
            if not v:
                out.append("[]")
                return
            out.append("[")
            for i, x in enumerate(v):
                if i:
                    out.append(",")
                self._newline(depth + 1)
                self.encode(x, depth + 1)
            self._newline(depth)
            out.append("]")
        else:
            raise TypeError(f"json: unsupported type: {type(v).__name__}")


def _as_struct(v: Any) -> Any:
    """``__go_json__`` may return (key, value) pairs as a list: that is an ordered struct."""
    if isinstance(v, list) and all(isinstance(p, tuple) and len(p) == 2 for p in v):
        return GoStruct(v)
    return v


def go_json(obj: Any, *, escape_html: bool = True, indent: str | None = None) -> str:
    """Encode like Go's ``encoding/json`` (``Marshal``/``Encoder``), without a trailing newline.

    Objects control their encoding with ``__go_json__(self)``, returning either a
    :class:`GoStruct` / a list of ``(key, value)`` pairs (a struct: key order kept), a plain
    dict (a map: keys sorted), or any other encodable value.  NaN and infinities raise
    ``ValueError`` as Go's encoder refuses them.
    """
    enc = _JSONEncoder(escape_html, indent)
    enc.encode(obj)
    return "".join(enc.parts)


#: The signature of ``__go_json__`` implementations, for type hints elsewhere.
GoJSONHook = Callable[[], Any]


# --- fmt.Sprintf and friends -----------------------------------------------------------------


def go_json_body(obj: Any) -> bytes:
    """What Go's ``json.NewEncoder(w).Encode(obj)`` writes: the document, a newline, UTF-8 (the
    request body of most of Kapacitor's handlers)."""
    return (go_json(obj) + "\n").encode()


def go_quote(s: str) -> str:
    """Go ``strconv.Quote``: double-quoted, Go escapes, printable Unicode kept as is."""
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch in _GO_QUOTE_ESCAPES:
            out.append(_GO_QUOTE_ESCAPES[ch])
        elif 0xD800 <= c <= 0xDFFF:
            out.append("\\ufffd")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif c < 0x20 or c == 0x7F:
            out.append(f"\\x{c:02x}")
        elif c < 0x10000:
            out.append(f"\\u{c:04x}")
        else:
            out.append(f"\\U{c:08x}")
    out.append('"')
    return "".join(out)


_GO_QUOTE_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _is_go_string(v: Any) -> bool:
    return isinstance(v, str)


def sprint(*args: Any) -> str:
    """Go ``fmt.Sprint``: operands in ``%v``, a space between two operands that are not strings."""
    parts: list[str] = []
    prev_string = False
    for i, a in enumerate(args):
        is_string = _is_go_string(a)
        if i and not is_string and not prev_string:
            parts.append(" ")
        parts.append(format_value(a))
        prev_string = is_string
    return "".join(parts)


def sprintln(*args: Any) -> str:
    """Go ``fmt.Sprintln``: operands in ``%v`` separated by spaces, then a newline."""
    return " ".join(format_value(a) for a in args) + "\n"


class _Spec:
    """One parsed ``%`` directive: flags, width and precision."""

    __slots__ = ("minus", "plus", "prec", "sharp", "space", "width", "zero")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.zero = self.space = False
        self.width: int | None = None
        self.prec: int | None = None

    def pad(self, text: str, numeric: bool = False) -> str:
        w = self.width
        if w is None or len(text) >= w:
            return text
        if self.minus:
            return text.ljust(w)
        if self.zero:
            if numeric and text[:1] in "+- ":
                return text[0] + text[1:].rjust(w - 1, "0")
            return text.rjust(w, "0")
        return text.rjust(w)

    def pyflags(self) -> str:
        flags = ("-" if self.minus else "") + ("+" if self.plus else "")
        flags += " " if self.space and not self.plus else ""
        flags += "0" if self.zero and not self.minus else ""
        width = "" if self.width is None else str(self.width)
        prec = "" if self.prec is None else f".{self.prec}"
        return flags + width + prec


def _bad_verb(verb: str, v: Any) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(v)}={format_value(v)})"


def _fmt_int(verb: str, v: int, spec: _Spec) -> str | None:
    if verb in "dv":
        text = f"%{spec.pyflags()}d" % v
        return text
    if verb in "xXo":
        if spec.sharp and verb == "o":
            sign = "-" if v < 0 else ("+" if spec.plus else "")
            return spec.pad(f"{sign}0{abs(v):o}", numeric=True)
        return f"%{'#' if spec.sharp else ''}{spec.pyflags()}{verb}" % v
    if verb == "b":
        body = format(abs(v), "b")
        sign = "-" if v < 0 else ("+" if spec.plus else "")
        return spec.pad(sign + body, numeric=True)
    if verb == "O":
        sign = "-" if v < 0 else ("+" if spec.plus else "")
        return spec.pad(sign + "0o" + format(abs(v), "o"), numeric=True)
    if verb == "c":
        return spec.pad(chr(v) if 0 <= v <= 0x10FFFF else "\ufffd")
    if verb == "q":
        ch = chr(v) if 0 <= v <= 0x10FFFF else "\ufffd"
        inner = go_quote(ch)[1:-1].replace("\\'", "'")
        return spec.pad("'" + ("\\'" if ch == "'" else inner.replace('\\"', '"')) + "'")
    if verb == "U":
        return spec.pad(f"U+{v:04X}")
    return None


def _fmt_float(verb: str, v: float, spec: _Spec) -> str | None:
    if verb not in "vbeEfFgGxX" or verb in "bxX":
        return None
    if v != v or math.isinf(v):
        if v != v:
            text = "+NaN" if spec.plus else (" NaN" if spec.space else "NaN")
        else:
            text = "-Inf" if v < 0 else "+Inf"
        saved, spec.zero = spec.zero, False
        try:
            return spec.pad(text)
        finally:
            spec.zero = saved
    if verb in "vgG" and spec.prec is None:
        text = format_float(v)
        if verb == "G":
            text = text.upper()
        if spec.plus and not text.startswith("-"):
            text = "+" + text
        elif spec.space and not text.startswith("-"):
            text = " " + text
        return spec.pad(text, numeric=True)
    conv = "g" if verb == "v" else ("f" if verb == "F" else verb)
    if spec.sharp:
        return f"%#{spec.pyflags()}{conv}" % v
    return f"%{spec.pyflags()}{conv}" % v


def _fmt_arg(verb: str, v: Any, spec: _Spec) -> str:
    """Format one operand for one verb the way Go's fmt does, or Go's ``%!verb(...)`` text."""
    if verb == "T":
        return spec.pad(go_type_name(v))
    if v is None:
        return spec.pad("<nil>") if verb == "v" else _bad_verb(verb, v)
    if isinstance(v, bool):
        if verb in "vt":
            return spec.pad("true" if v else "false")
        return _bad_verb(verb, v)
    if isinstance(v, int):
        # Stringers (Duration, Time, levels) print their String() for %v and %s (and %q).
        if type(v) is not int and type(v).__str__ is not int.__str__:
            if verb in "vs":
                shown = str(v)
                return spec.pad(
                    shown[: spec.prec] if verb == "s" and spec.prec is not None else shown
                )
            if verb == "q":
                return spec.pad(go_quote(str(v)))
            if isinstance(v, Time):
                return _bad_verb(verb, v)
        if verb == "v" and spec.plus:
            return spec.pad(("+" if v >= 0 else "") + str(int(v)), numeric=True)
        text = _fmt_int(verb, int(v), spec)
        return text if text is not None else _bad_verb(verb, v)
    if isinstance(v, float):
        text = _fmt_float(verb, v, spec)
        return text if text is not None else _bad_verb(verb, v)
    if isinstance(v, str):
        if verb in "vs":
            return spec.pad(v if spec.prec is None else v[: spec.prec])
        if verb == "q":
            if spec.sharp and "`" not in v and all(c.isprintable() or c == "\t" for c in v):
                return spec.pad("`" + v + "`")
            return spec.pad(go_quote(v if spec.prec is None else v[: spec.prec]))
        if verb in "xX":
            data = v.encode("utf-8", "replace")
            if spec.prec is not None:
                data = data[: spec.prec]
            text = data.hex()
            if spec.space:
                text = " ".join(f"{b:02x}" for b in data)
            return spec.pad(text.upper() if verb == "X" else text)
        return _bad_verb(verb, v)
    struct = _struct_items(v)
    if struct is not None:
        if verb == "v":
            return spec.pad(format_value(v, plus=spec.plus))
        inner = []
        for name, x in struct:
            text = _fmt_arg(verb, x, spec)
            inner.append(f"{name}:{text}" if spec.plus else text)
        return "{" + " ".join(inner) + "}"
    if isinstance(v, Mapping):
        if verb == "v":
            return spec.pad(format_value(v, plus=spec.plus))
        items = sorted(v.items(), key=lambda kv: _sort_key(kv[0]))
        inner = [f"{_fmt_arg(verb, k, spec)}:{_fmt_arg(verb, x, spec)}" for k, x in items]
        return "map[" + " ".join(inner) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(_fmt_arg(verb, x, spec) for x in v) + "]"
    if verb in "vs":
        return spec.pad(str(v))
    return _bad_verb(verb, v)


#: fmt's tooLarge: a width or precision beyond a million is refused (found by fuzzing: Python
#: would try to pad to it and run out of memory)
_FMT_MAX = 1_000_000


def _parsenum(fmt: str, i: int, n: int) -> tuple[int | None, int]:
    """fmt's parsenum: the number at ``fmt[i:]`` and the index after it; a number past
    :data:`_FMT_MAX` gives up on the rest of the format (``None``, ``n``), as Go does."""
    num: int | None = None
    while i < n and "0" <= fmt[i] <= "9":
        if num is not None and num > _FMT_MAX:
            return None, n
        num = (num or 0) * 10 + ord(fmt[i]) - 48
        i += 1
    return num, i


def sprintf(fmt: str, *args: Any) -> str:
    """Go ``fmt.Sprintf`` for the verbs templates use, including Go's error text.

    Wrong types print ``%!d(string=x)``, missing operands ``%!d(MISSING)`` and surplus ones
    ``%!(EXTRA int=1)``, exactly as Go writes them into the output instead of failing.
    """
    out: list[str] = []
    i, n, argi = 0, len(fmt), 0
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = _Spec()
        while i < n and fmt[i] in "-+# 0":
            c = fmt[i]
            if c == "-":
                spec.minus = True
            elif c == "+":
                spec.plus = True
            elif c == "#":
                spec.sharp = True
            elif c == "0":
                spec.zero = True
            else:
                spec.space = True
            i += 1
        if i < n and fmt[i] == "*":
            i += 1
            if (
                argi < len(args)
                and isinstance(args[argi], int)
                and not isinstance(args[argi], bool)
                and -_FMT_MAX <= args[argi] <= _FMT_MAX
            ):
                spec.width = int(args[argi])
                if spec.width < 0:
                    spec.minus, spec.width = True, -spec.width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        else:
            width, i = _parsenum(fmt, i, n)
            if width is not None:
                spec.width = width
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if (
                    argi < len(args)
                    and isinstance(args[argi], int)
                    and not isinstance(args[argi], bool)
                    and -_FMT_MAX <= args[argi] <= _FMT_MAX
                ):
                    spec.prec = max(int(args[argi]), 0)
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                prec, i = _parsenum(fmt, i, n)
                spec.prec = prec or 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_fmt_arg(verb, arg, spec))
    if argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type_name(a)}={format_value(a)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
