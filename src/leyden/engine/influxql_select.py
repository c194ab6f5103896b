"""Just enough InfluxQL to read a batch task's ``SELECT`` and write it back as Kapacitor does.

Kapacitor parses a ``batch|query()`` text with ``influxql.ParseQuery``, changes the statement's
tree (time bounds, ``GROUP BY``, ``fill``) and sends ``SelectStatement.String()``: the user's
query comes back in the library's canonical form (keywords upper-case, identifiers quoted only
when they must be, ``<>`` as ``!=``, whole floats with ``.0``, durations in their largest exact
unit, function names lower-case).  This module is that round trip for ``SELECT`` statements:
:func:`parse_select` builds a small tree whose :meth:`Select.render` matches the library's
``String()`` (github.com/influxdata/influxql ``ast.go``, ``parser.go``, ``scanner.go``).

What it covers: fields with aliases, wildcards (``*``, ``*::field``), calls, ``DISTINCT``,
arithmetic and comparison with InfluxQL's precedence, parentheses, strings, numbers, durations,
booleans, regexes, ``::type`` casts, ``INTO``, measurements (``db.rp.m``, ``db..m``, regexes,
subqueries), ``WHERE``, ``GROUP BY``, ``fill()``, ``ORDER BY time``, ``LIMIT``/``OFFSET``/
``SLIMIT``/``SOFFSET`` and ``TZ()``.  Bound parameters are not InfluxQL a task can use.
Errors read like the library's: ``found X, expected Y at line L, char C``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from leyden.go.types import Time, format_float, format_float_f
from leyden.tick.values import parse_duration_influxql

__all__ = [
    "Binary",
    "Call",
    "DurationLit",
    "Field",
    "InfluxQLError",
    "Measurement",
    "Paren",
    "Select",
    "StringLit",
    "TimeLit",
    "VarRef",
    "Wildcard",
    "format_duration",
    "parse_select",
    "quote_ident",
    "quote_string",
]


_INT64_MAX = 2**63 - 1
_UINT64_MAX = 2**64 - 1


class InfluxQLError(ValueError):
    """A query text InfluxQL's parser would refuse; the message is the library's wording."""


# InfluxQL's keywords (token.go): an identifier spelled like one must be quoted.
KEYWORDS = frozenset(
    [
        "ALL",
        "ALTER",
        "ANALYZE",
        "ANY",
        "AS",
        "ASC",
        "BEGIN",
        "BY",
        "CARDINALITY",
        "CREATE",
        "CONTINUOUS",
        "DATABASE",
        "DATABASES",
        "DEFAULT",
        "DELETE",
        "DESC",
        "DESTINATIONS",
        "DIAGNOSTICS",
        "DISTINCT",
        "DROP",
        "DURATION",
        "END",
        "EVERY",
        "EXACT",
        "EXPLAIN",
        "FIELD",
        "FOR",
        "FROM",
        "FUTURE",
        "GRANT",
        "GRANTS",
        "GROUP",
        "GROUPS",
        "IN",
        "INF",
        "INSERT",
        "INTO",
        "KEY",
        "KEYS",
        "KILL",
        "LIMIT",
        "MEASUREMENT",
        "MEASUREMENTS",
        "NAME",
        "OFFSET",
        "ON",
        "ORDER",
        "PASSWORD",
        "PAST",
        "POLICY",
        "POLICIES",
        "PRIVILEGES",
        "QUERIES",
        "QUERY",
        "READ",
        "REPLICATION",
        "RESAMPLE",
        "RETENTION",
        "REVOKE",
        "SELECT",
        "SERIES",
        "SET",
        "SHOW",
        "SHARD",
        "SHARDS",
        "SLIMIT",
        "SOFFSET",
        "STATS",
        "SUBSCRIPTION",
        "SUBSCRIPTIONS",
        "TAG",
        "TO",
        "USER",
        "USERS",
        "VALUES",
        "VERBOSE",
        "WHERE",
        "WITH",
        "WRITE",
        "AND",
        "OR",
        "TRUE",
        "FALSE",
    ]
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NS_UNITS = (
    (7 * 86_400 * 10**9, "w"),
    (86_400 * 10**9, "d"),
    (3_600 * 10**9, "h"),
    (60 * 10**9, "m"),
    (10**9, "s"),
    (10**6, "ms"),
    (10**3, "u"),
)


def format_duration(d: int) -> str:
    """``influxql.FormatDuration``: the largest unit that divides ``d`` exactly."""
    if d == 0:
        return "0s"
    for unit, suffix in _NS_UNITS:
        if d % unit == 0:  # exact for negatives too: the quotient is then whole
            return f"{d // unit}{suffix}"
    return f"{d}ns"


def quote_string(s: str) -> str:
    """``influxql.QuoteString``."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def _needs_quotes(ident: str) -> bool:
    return ident.upper() in KEYWORDS or _IDENT.match(ident) is None


def quote_ident(*segments: str) -> str:
    """``influxql.QuoteIdent``: a segment is quoted when it is not a bare identifier, when it is
    a non-empty segment before the last, or when it is an empty first or last segment."""
    out: list[str] = []
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        quote = _needs_quotes(seg) or (i < last and seg != "") or ((i in (0, last)) and seg == "")
        text = seg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        out.append(f'"{text}"' if quote else text)
    return ".".join(out)


# --- the tree --------------------------------------------------------------------------------


class Expr:
    """An InfluxQL expression; ``render()`` is the library's ``String()``."""

    __slots__ = ()

    def render(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class VarRef(Expr):
    name: str
    type: str = ""  # "", float, integer, string, boolean, field, tag, unsigned

    def render(self) -> str:
        return quote_ident(self.name) + (f"::{self.type}" if self.type else "")


@dataclass(frozen=True, slots=True)
class Wildcard(Expr):
    type: str = ""  # "", field, tag

    def render(self) -> str:
        return f"*::{self.type}" if self.type else "*"


@dataclass(frozen=True, slots=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...] = ()

    def render(self) -> str:
        return f"{self.name}({', '.join(a.render() for a in self.args)})"


@dataclass(frozen=True, slots=True)
class Distinct(Expr):
    name: str

    def render(self) -> str:
        return f"DISTINCT {self.name}"


@dataclass(frozen=True, slots=True)
class NumberLit(Expr):
    value: float

    def render(self) -> str:
        s = format_float_f(self.value)
        if "." in s or s in ("NaN", "+Inf", "-Inf"):
            return s
        return s + ".0"


@dataclass(frozen=True, slots=True)
class IntegerLit(Expr):
    value: int

    def render(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class BoolLit(Expr):
    value: bool

    def render(self) -> str:
        return "true" if self.value else "false"


@dataclass(frozen=True, slots=True)
class StringLit(Expr):
    value: str

    def render(self) -> str:
        return quote_string(self.value)


@dataclass(frozen=True, slots=True)
class TimeLit(Expr):
    """A point in time (integer ns), written as RFC 3339 with nanoseconds in UTC."""

    ns: int

    def render(self) -> str:
        return "'" + Time(self.ns).rfc3339nano() + "'"


@dataclass(frozen=True, slots=True)
class DurationLit(Expr):
    ns: int

    def render(self) -> str:
        return format_duration(self.ns)


@dataclass(frozen=True, slots=True)
class RegexLit(Expr):
    pattern: str

    def render(self) -> str:
        return "/" + self.pattern.replace("/", "\\/") + "/"


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    op: str
    lhs: Expr
    rhs: Expr

    def render(self) -> str:
        return f"{self.lhs.render()} {self.op} {self.rhs.render()}"


@dataclass(frozen=True, slots=True)
class Paren(Expr):
    expr: Expr

    def render(self) -> str:
        return f"({self.expr.render()})"


@dataclass(frozen=True, slots=True)
class Field:
    expr: Expr
    alias: str = ""

    def render(self) -> str:
        text = self.expr.render()
        return f"{text} AS {quote_ident(self.alias)}" if self.alias else text


@dataclass(frozen=True, slots=True)
class Measurement:
    database: str = ""
    retention_policy: str = ""
    name: str = ""
    regex: RegexLit | None = None

    def render(self) -> str:
        text = ""
        if self.database:
            text += quote_ident(self.database) + "."
        if self.retention_policy:
            text += quote_ident(self.retention_policy)
        if self.database or self.retention_policy:
            text += "."
        if self.name:
            text += quote_ident(self.name)
        elif self.regex is not None:
            text += self.regex.render()
        return text


@dataclass(frozen=True, slots=True)
class SubQuery:
    statement: Select

    def render(self) -> str:
        return f"({self.statement.render()})"


#: fill options as the library names them; a number is a NUMBER fill
FILL_NULL, FILL_NONE, FILL_PREVIOUS, FILL_LINEAR, FILL_NUMBER = (
    "null",
    "none",
    "previous",
    "linear",
    "number",
)


@dataclass(frozen=True, slots=True)
class Select:
    fields: tuple[Field, ...]
    sources: tuple[Measurement | SubQuery, ...]
    target: Measurement | None = None
    condition: Expr | None = None
    dimensions: tuple[Expr, ...] = ()
    fill: str = FILL_NULL
    fill_value: int | float | None = None
    sort_ascending: tuple[tuple[str, bool], ...] = ()
    limit: int = 0
    offset: int = 0
    slimit: int = 0
    soffset: int = 0
    location: str | None = None

    def replace(self, **changes: Any) -> Select:
        return replace(self, **changes)

    def render(self) -> str:
        """``SelectStatement.String()``."""
        out = ["SELECT ", ", ".join(f.render() for f in self.fields)]
        if self.target is not None:
            out.append(" INTO " + self.target.render())
            if not self.target.name and self.target.regex is None:
                out.append(":MEASUREMENT")
        if self.sources:
            out.append(" FROM " + ", ".join(s.render() for s in self.sources))
        if self.condition is not None:
            out.append(" WHERE " + self.condition.render())
        if self.dimensions:
            out.append(" GROUP BY " + ", ".join(d.render() for d in self.dimensions))
        if self.fill == FILL_NONE:
            out.append(" fill(none)")
        elif self.fill == FILL_NUMBER:
            v = self.fill_value
            out.append(f" fill({format_float(v) if isinstance(v, float) else v})")
        elif self.fill in (FILL_LINEAR, FILL_PREVIOUS):
            out.append(f" fill({self.fill})")
        if self.sort_ascending:
            sorts = [
                (f"{n} " if n else "") + ("ASC" if a else "DESC") for n, a in self.sort_ascending
            ]
            out.append(" ORDER BY " + ", ".join(sorts))
        for word, n in (
            ("LIMIT", self.limit),
            ("OFFSET", self.offset),
            ("SLIMIT", self.slimit),
            ("SOFFSET", self.soffset),
        ):
            if n > 0:
                out.append(f" {word} {n}")
        if self.location is not None:
            out.append(f" TZ('{self.location}')")
        return "".join(out)


# --- the scanner -----------------------------------------------------------------------------

_PRECEDENCE = {
    "OR": 1,
    "AND": 2,
    **dict.fromkeys(("=", "!=", "=~", "!~", "<", "<=", ">", ">="), 3),
    **dict.fromkeys(("+", "-", "|", "^"), 4),
    **dict.fromkeys(("*", "/", "%", "&"), 5),
}
_OPS = ("::", "<=", ">=", "!=", "<>", "=~", "!~", "=", "<", ">", "+", "-", "*", "/", "%", "&", "|", "^", "(", ")", ",", ".", ";", ":")  # fmt: skip
_NUM = re.compile(
    r"(?P<dur>\d+(?:ns|ms|u|µ|s|m|h|d|w)(?:\d+(?:ns|ms|u|µ|s|m|h|d|w))*)(?![A-Za-z0-9_])"
    r"|(?P<float>\d+\.\d*|\.\d+)|(?P<int>\d+)"
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPES = frozenset({"float", "integer", "unsigned", "string", "boolean", "field", "tag"})


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # IDENT QIDENT KEYWORD STRING INT FLOAT DURATION OP EOF
    text: str
    pos: int


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # position → "line L, char C" (1-based, as the library reports)
    def where(self, pos: int) -> str:
        line = self.text.count("\n", 0, pos)
        char = pos - (self.text.rfind("\n", 0, pos) + 1)
        return f"line {line + 1}, char {char + 1}"

    def error(self, tok: _Tok, *expected: str) -> InfluxQLError:
        found = "EOF" if tok.kind == "EOF" else tok.text
        return InfluxQLError(
            f"found {found}, expected {', '.join(expected)} at {self.where(tok.pos)}"
        )

    def _skip_ws(self) -> None:
        t = self.text
        while self.pos < len(t):
            if t[self.pos].isspace():
                self.pos += 1
            elif t.startswith("--", self.pos):
                end = t.find("\n", self.pos)
                self.pos = len(t) if end < 0 else end + 1
            else:
                break

    def _quoted(self, start: int, quote: str) -> tuple[str, int]:
        t = self.text
        i = start + 1
        buf: list[str] = []
        while i < len(t):
            c = t[i]
            if c == quote:
                return "".join(buf), i + 1
            if c == "\n":
                break
            if c == "\\" and i + 1 < len(t):
                n = t[i + 1]
                if n == "n":
                    buf.append("\n")
                elif n in ("\\", '"', "'"):
                    buf.append(n)
                else:
                    raise InfluxQLError(f"bad escape at {self.where(i)}")
                i += 2
                continue
            buf.append(c)
            i += 1
        what = "string" if quote == "'" else "identifier"
        raise InfluxQLError(f"unterminated quoted {what} at {self.where(start)}")

    def peek(self) -> _Tok:
        save = self.pos
        tok = self.next()
        self.pos = save
        return tok

    def next(self) -> _Tok:
        self._skip_ws()
        t, p = self.text, self.pos
        if p >= len(t):
            return _Tok("EOF", "", p)
        c = t[p]
        if c.isascii() and (c.isalpha() or c == "_"):
            m = _WORD.match(t, p)
            assert m is not None
            word = m.group()
            self.pos = m.end()
            return _Tok("KEYWORD" if word.upper() in KEYWORDS else "IDENT", word, p)
        if c == '"':
            value, self.pos = self._quoted(p, '"')
            return _Tok("QIDENT", value, p)
        if c == "'":
            value, self.pos = self._quoted(p, "'")
            return _Tok("STRING", value, p)
        m = _NUM.match(t, p)
        if m is not None:
            self.pos = m.end()
            kind = "DURATION" if m.group("dur") else "FLOAT" if m.group("float") else "INT"
            return _Tok(kind, m.group(), p)
        for op in _OPS:
            if t.startswith(op, p):
                self.pos = p + len(op)
                return _Tok("OP", "!=" if op == "<>" else op, p)
        raise InfluxQLError(f"found {c}, expected an expression at {self.where(p)}")

    def accept(self, kind: str, text: str | None = None) -> _Tok | None:
        tok = self.peek()
        if tok.kind == kind and (text is None or tok.text.upper() == text.upper()):
            return self.next()
        return None

    def expect_kw(self, word: str) -> None:
        tok = self.next()
        if tok.kind != "KEYWORD" or tok.text.upper() != word:
            raise self.error(tok, word)

    def regex(self) -> RegexLit | None:
        """A ``/…/`` literal if one starts here (the library tries one where a regex may be)."""
        self._skip_ws()
        t, p = self.text, self.pos
        if p >= len(t) or t[p] != "/":
            return None
        i = p + 1
        buf: list[str] = []
        while i < len(t):
            c = t[i]
            if c == "/":
                self.pos = i + 1
                pattern = "".join(buf)
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise InfluxQLError(f"{exc} at {self.where(p)}") from None
                return RegexLit(pattern)
            if c == "\\" and t.startswith("\\/", i):
                buf.append("/")
                i += 2
                continue
            if c == "\n":
                break
            buf.append(c)
            i += 1
        raise InfluxQLError(f"unterminated regex at {self.where(p)}")

    def ident(self) -> str:
        tok = self.next()
        if tok.kind not in ("IDENT", "QIDENT"):
            raise self.error(tok, "identifier")
        return tok.text

    def integer(self) -> int:
        tok = self.next()
        if tok.kind != "INT":
            raise self.error(tok, "integer")
        if len(tok.text) > 19 or int(tok.text) > _INT64_MAX:  # Go's strconv.Atoi
            raise InfluxQLError(
                f'strconv.Atoi: parsing "{tok.text[:40]}": value out of range at '
                f"{self.where(tok.pos)}"
            )
        return int(tok.text)

    # --- expressions -------------------------------------------------------------------------

    def expr(self, min_prec: int = 1) -> Expr:
        lhs = self.unary()
        while True:
            tok = self.peek()
            op = tok.text.upper() if tok.kind in ("OP", "KEYWORD") else ""
            prec = _PRECEDENCE.get(op, 0)
            if prec < min_prec or prec == 0:
                return lhs
            self.next()
            rhs: Expr | None = self.regex() if op in ("=~", "!~") else None
            if rhs is None:
                rhs = self.expr(prec + 1)
            lhs = Binary(op, lhs, rhs)

    def unary(self) -> Expr:
        tok = self.next()
        if tok.kind == "OP" and tok.text == "(":
            inner = self.expr()
            close = self.next()
            if close.text != ")":
                raise self.error(close, ")")
            return Paren(inner)
        if tok.kind in ("IDENT", "QIDENT"):
            if tok.kind == "IDENT" and self.text.startswith("(", self.pos):
                self.pos += 1
                return self.call(tok.text.lower())
            return self.varref(tok.text)
        if tok.kind == "KEYWORD" and tok.text.upper() == "DISTINCT":
            if self.text.startswith("(", self.pos):
                self.pos += 1
                return self.call("distinct")
            return Distinct(self.ident())
        if tok.kind == "KEYWORD" and tok.text.upper() in ("TRUE", "FALSE"):
            return BoolLit(tok.text.upper() == "TRUE")
        if tok.kind == "STRING":
            return StringLit(tok.text)
        if tok.kind == "INT":
            # past int64 the library tries uint64, then gives up (found by fuzzing: a
            # 5,000-digit literal was a ValueError from int())
            if len(tok.text) > 20 or int(tok.text) > _UINT64_MAX:
                raise InfluxQLError(f"unable to parse integer at {self.where(tok.pos)}")
            return IntegerLit(int(tok.text))
        if tok.kind == "FLOAT":
            return NumberLit(float(tok.text))
        if tok.kind == "DURATION":
            if len(tok.text) > 40:  # ParseDuration's ParseInt overflows long before
                raise InfluxQLError("invalid duration")
            return DurationLit(int(parse_duration_influxql(tok.text)))
        if tok.kind == "OP" and tok.text == "*":
            if self.text.startswith("::", self.pos):
                self.pos += 2
                kind = self.next()
                if kind.text.lower() not in ("field", "tag"):
                    raise self.error(kind, "field", "tag")
                return Wildcard(kind.text.lower())
            return Wildcard()
        if tok.kind == "OP" and tok.text in ("+", "-"):
            inner = self.unary()
            if tok.text == "+":
                return inner
            if isinstance(inner, IntegerLit):
                return IntegerLit(-inner.value)
            if isinstance(inner, NumberLit):
                return NumberLit(-inner.value)
            if isinstance(inner, DurationLit):
                return DurationLit(-inner.ns)
            return Binary("*", IntegerLit(-1), inner)
        if tok.kind == "OP" and tok.text == "/":
            self.pos = tok.pos
            re_ = self.regex()
            assert re_ is not None
            return re_
        raise self.error(tok, "identifier", "string", "number", "bool")

    def varref(self, name: str) -> VarRef:
        if self.text.startswith("::", self.pos):
            self.pos += 2
            tok = self.next()
            if tok.text.lower() not in _TYPES:
                raise self.error(tok, *sorted(_TYPES))
            return VarRef(name, tok.text.lower())
        return VarRef(name)

    def call(self, name: str) -> Call:
        args: list[Expr] = []
        if self.accept("OP", ")"):
            return Call(name)
        while True:
            args.append(self.regex() or self.expr())
            tok = self.next()
            if tok.text == ")":
                return Call(name, tuple(args))
            if tok.text != ",":
                raise self.error(tok, ")")

    # --- the statement -----------------------------------------------------------------------

    def segmented(self) -> list[str]:
        """``a.b.c`` with empty segments (``db..m``), as ``parseSegmentedIdents``."""
        idents = [self.ident()]
        while self.text.startswith(".", self.pos) and len(idents) < 3:
            self.pos += 1
            if self.text.startswith(".", self.pos):
                idents.append("")
                continue
            nxt = self.peek()
            if nxt.kind in ("IDENT", "QIDENT"):
                idents.append(self.ident())
            else:
                break
        return idents

    def measurement(self, *, subqueries: bool) -> Measurement | SubQuery:
        re_ = self.regex()
        if re_ is not None:
            return Measurement(regex=re_)
        if subqueries and self.accept("OP", "("):
            self.expect_kw("SELECT")
            stmt = self.select()
            close = self.next()
            if close.text != ")":
                raise self.error(close, ")")
            return SubQuery(stmt)
        idents = self.segmented()
        if len(idents) == 3:
            return Measurement(idents[0], idents[1], idents[2])
        if self.text.startswith(".", self.pos - 1) or self.text.startswith("/", self.pos):
            re_ = self.regex()
        if re_ is not None:
            if len(idents) == 1:
                return Measurement(retention_policy=idents[0], regex=re_)
            return Measurement(idents[0], idents[1], regex=re_)
        if len(idents) == 1:
            return Measurement(name=idents[0])
        return Measurement(retention_policy=idents[0], name=idents[1])

    def select(self) -> Select:
        fields: list[Field] = []
        while True:
            start = self.peek()
            expr: Expr = self.regex() or self.expr()
            bad = _where_only_operator(expr)
            if bad:
                raise InfluxQLError(
                    f"invalid operator {bad} in SELECT clause at {self.where(start.pos)}; "
                    "operator is intended for WHERE clause"
                )
            alias = self.ident() if self.accept("KEYWORD", "AS") else ""
            fields.append(Field(expr, alias))
            if not self.accept("OP", ","):
                break
        target = None
        if self.accept("KEYWORD", "INTO"):
            m = self.measurement(subqueries=False)
            assert isinstance(m, Measurement)
            if self.accept("OP", ":"):
                self.expect_kw("MEASUREMENT")
            target = m
        self.expect_kw("FROM")
        sources = [self.measurement(subqueries=True)]
        while self.accept("OP", ","):
            sources.append(self.measurement(subqueries=True))
        condition = self.expr() if self.accept("KEYWORD", "WHERE") else None
        dims: list[Expr] = []
        if self.accept("KEYWORD", "GROUP"):
            self.expect_kw("BY")
            while True:
                dims.append(self.regex() or self.expr())
                if not self.accept("OP", ","):
                    break
        fill, fill_value = FILL_NULL, None
        tok = self.peek()
        if tok.kind == "IDENT" and tok.text.lower() == "fill":
            fill, fill_value = self.fill()
        sorts: list[tuple[str, bool]] = []
        if self.accept("KEYWORD", "ORDER"):
            self.expect_kw("BY")
            sorts = self.order_by()
        limit, offset, slimit, soffset = (
            self.integer() if self.accept("KEYWORD", word) else 0
            for word in ("LIMIT", "OFFSET", "SLIMIT", "SOFFSET")
        )
        location = None
        tok = self.peek()
        if tok.kind == "IDENT" and tok.text.lower() == "tz":
            call = self.expr()
            if not isinstance(call, Call) or len(call.args) != 1:
                raise InfluxQLError("tz requires exactly one argument")
            if not isinstance(call.args[0], StringLit):
                raise InfluxQLError("expected string argument in tz()")
            location = call.args[0].value
        return Select(
            tuple(fields),
            tuple(sources),
            target,
            condition,
            tuple(dims),
            fill,
            fill_value,
            tuple(sorts),
            limit,
            offset,
            slimit,
            soffset,
            location,
        )

    def fill(self) -> tuple[str, int | float | None]:
        call = self.expr()
        if not isinstance(call, Call):
            raise InfluxQLError("fill must be a function call")
        if len(call.args) != 1:
            raise InfluxQLError("fill requires an argument, e.g.: 0, null, none, previous, linear")
        arg = call.args[0]
        word = arg.render()
        if word in (FILL_NULL, FILL_NONE, FILL_PREVIOUS, FILL_LINEAR):
            return word, None
        if isinstance(arg, IntegerLit):
            return FILL_NUMBER, arg.value
        if isinstance(arg, NumberLit):
            return FILL_NUMBER, arg.value
        raise InfluxQLError("expected number argument in fill()")

    def order_by(self) -> list[tuple[str, bool]]:
        sorts: list[tuple[str, bool]] = []
        while True:
            tok = self.next()
            name = ""
            if tok.kind in ("IDENT", "QIDENT"):
                if tok.text != "time":
                    raise InfluxQLError("only ORDER BY time supported at this time")
                name = tok.text
                tok = self.peek()
                asc = True
                if tok.kind == "KEYWORD" and tok.text.upper() in ("ASC", "DESC"):
                    asc = self.next().text.upper() == "ASC"
            elif tok.kind == "KEYWORD" and tok.text.upper() in ("ASC", "DESC") and not sorts:
                asc = tok.text.upper() == "ASC"
            else:
                raise self.error(tok, "identifier", "ASC", "DESC")
            sorts.append((name, asc))
            if not self.accept("OP", ","):
                break
        if len(sorts) > 1:
            raise InfluxQLError("only ORDER BY time supported at this time")
        return sorts


def _where_only_operator(expr: Expr) -> str:
    """The first comparison or logical operator in a field (the library's ``validateField``)."""
    if isinstance(expr, Binary):
        if _PRECEDENCE[expr.op] <= 3:
            return expr.op
        return _where_only_operator(expr.lhs) or _where_only_operator(expr.rhs)
    if isinstance(expr, Paren):
        return _where_only_operator(expr.expr)
    return ""


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A query text: its first statement if that is a ``SELECT``, and how many there are."""

    select: Select | None
    statements: int
    first_text: str


def parse_select(text: str) -> ParsedQuery:
    """Parse a query text; raises :class:`InfluxQLError` for text InfluxQL would not parse.

    A statement other than ``SELECT`` is not parsed (a batch task refuses it anyway): it comes
    back with ``select=None`` and its text with whitespace collapsed.  An empty text has no
    statements."""
    try:
        parsed = _parse_select(text)
        if parsed.select is not None:
            # a long flat chain (a = b = c …) parses in a loop but renders by recursion:
            # refuse here what the task could never send
            parsed.select.render()
        return parsed
    except RecursionError:  # found by fuzzing: thousands of nested calls or parentheses
        raise InfluxQLError("query nests too deeply") from None


def _parse_select(text: str) -> ParsedQuery:
    p = _Parser(text)
    statements: list[Select | None] = []
    first_text = ""
    while True:
        while p.accept("OP", ";"):
            pass
        tok = p.peek()
        if tok.kind == "EOF":
            break
        start = tok.pos
        if tok.kind == "KEYWORD" and tok.text.upper() == "SELECT":
            p.next()
            statements.append(p.select())
        else:
            # not a SELECT: skip to the next statement separator outside quotes
            statements.append(None)
            p.pos = _statement_end(text, start)
        if len(statements) == 1:
            first_text = " ".join(text[start : p.pos].split())
        tok = p.peek()
        if tok.kind == "EOF":
            break
        if tok.text != ";":
            raise p.error(tok, ";")
    if not statements:
        return ParsedQuery(None, 0, "")
    return ParsedQuery(statements[0], len(statements), first_text)


def _statement_end(text: str, start: int) -> int:
    i, quote = start, ""
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == ";":
            return i
        i += 1
    return len(text)
