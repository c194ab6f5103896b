"""The InfluxQL a batch query sends: Kapacitor's query tests and influxql's ``String()`` as data,
and properties of the parser/renderer round trip."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leyden.engine.batch_query import BatchQueryError, build_batch_query
from leyden.engine.influxql_select import (
    _PRECEDENCE,
    KEYWORDS,
    Binary,
    BoolLit,
    Call,
    DurationLit,
    Expr,
    Field,
    InfluxQLError,
    IntegerLit,
    Measurement,
    NumberLit,
    Paren,
    RegexLit,
    Select,
    StringLit,
    SubQuery,
    VarRef,
    Wildcard,
    format_duration,
    parse_select,
    quote_ident,
)
from leyden.go.types import Duration, Time
from leyden.tick.pipeline.graph import TimeDimension
from leyden.tick.values import STAR

S, M, H = 10**9, 60 * 10**9, 3600 * 10**9
T1975 = int(Time.parse_rfc3339("1975-01-01T00:00:00Z"))
T1975b = int(Time.parse_rfc3339("1975-01-02T00:00:00Z"))
BOUNDS = "time >= '1975-01-01T00:00:00Z' AND time < '1975-01-02T00:00:00Z'"


def canon(text: str) -> str:
    parsed = parse_select(text)
    assert parsed.select is not None
    return parsed.select.render()


# Kapacitor's query_test.go (TestQuery_Clone) queries and influxql's TestParseString SELECTs:
# what String() gives back for each.
ROUND_TRIP = [
    ("SELECT usage FROM telegraf.autogen.cpu", "SELECT usage FROM telegraf.autogen.cpu"),
    (
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE host = 'serverA'",
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE host = 'serverA'",
    ),
    (
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE host = 'serverA' AND dc = 'slc' OR product = 'login'",
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE host = 'serverA' AND dc = 'slc' OR product = 'login'",
    ),
    (
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE host = 'serverA' AND (dc = 'slc' OR product = 'login')",
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE host = 'serverA' AND (dc = 'slc' OR product = 'login')",
    ),
    (
        "SELECT * from (SELECT usage FROM telegraf.autogen.cpu)",
        "SELECT * FROM (SELECT usage FROM telegraf.autogen.cpu)",
    ),
    (
        "SELECT * INTO telegraf.autogen.cpu FROM (SELECT usage FROM telegraf.autogen.cpu)",
        "SELECT * INTO telegraf.autogen.cpu FROM (SELECT usage FROM telegraf.autogen.cpu)",
    ),
    ('SELECT "cpu load" FROM myseries', 'SELECT "cpu load" FROM myseries'),
    ('SELECT "cpu load" FROM "my series"', 'SELECT "cpu load" FROM "my series"'),
    ('SELECT "cpu\\"load" FROM myseries', 'SELECT "cpu\\"load" FROM myseries'),
    ('SELECT "cpu\'load" FROM myseries', 'SELECT "cpu\'load" FROM myseries'),
    (
        'SELECT "field with spaces" FROM "\\"ugly\\" db"."\\"ugly\\" rp"."\\"ugly\\" measurement"',
        'SELECT "field with spaces" FROM "\\"ugly\\" db"."\\"ugly\\" rp"."\\"ugly\\" measurement"',
    ),
    # the pipeline docs' examples, in InfluxQL's canonical form
    (
        """SELECT mean("value")
           FROM "telegraf"."default".cpu_usage_idle
           WHERE "host" = 'serverA'""",
        "SELECT mean(value) FROM telegraf.\"default\".cpu_usage_idle WHERE host = 'serverA'",
    ),
    (
        'SELECT sum("value") as "value" FROM "telegraf"."autogen"./process_.*/',
        "SELECT sum(value) AS value FROM telegraf.autogen./process_.*/",
    ),
    (
        "select MEAN(x) * 2.0 + 1 from db..m where time > now() - 60m and x <> 3",
        "SELECT mean(x) * 2.0 + 1 FROM db..m WHERE time > now() - 1h AND x != 3",
    ),
    (
        "SELECT value FROM m WHERE a =~ /x\\/y/ AND b !~ /z/ GROUP BY host fill(previous) "
        "ORDER BY time DESC LIMIT 3 OFFSET 2 SLIMIT 1 SOFFSET 4 tz('America/Chicago')",
        "SELECT value FROM m WHERE a =~ /x\\/y/ AND b !~ /z/ GROUP BY host fill(previous) "
        "ORDER BY time DESC LIMIT 3 OFFSET 2 SLIMIT 1 SOFFSET 4 TZ('America/Chicago')",
    ),
    ("SELECT value::float, *::tag FROM m", "SELECT value::float, *::tag FROM m"),
    ("SELECT DISTINCT host FROM m", "SELECT DISTINCT host FROM m"),
    ("SELECT -x, -1.50, 3e FROM m", None),
    ("SELECT top(value, host, 3) FROM m", "SELECT top(value, host, 3) FROM m"),
    ('SELECT "select", "time" FROM "from"', 'SELECT "select", time FROM "from"'),
]


@pytest.mark.parametrize(("query", "expected"), ROUND_TRIP)
def test_influxql_string(query: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InfluxQLError):
            canon(query)
        return
    assert canon(query) == expected
    assert canon(expected) == expected  # String() is a fixed point


# (query, groupBy, fill, alignGroup, expected text for [1975-01-01, 1975-01-02))
BUILT: list[tuple[str, list[Any], Any, bool, str]] = [
    (
        "SELECT usage FROM telegraf.autogen.cpu",
        [],
        None,
        False,
        f"SELECT usage FROM telegraf.autogen.cpu WHERE {BOUNDS}",
    ),
    (
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE host = 'serverA' AND dc = 'slc'",
        [],
        None,
        False,
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE host = 'serverA' AND dc = 'slc' "
        f"AND {BOUNDS}",
    ),
    # an OR at the top of the WHERE is kept apart from the bounds (Kapacitor writes it bare)
    (
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE host = 'serverA' AND dc = 'slc' OR product = 'login'",
        [],
        None,
        False,
        "SELECT mean(usage) FROM telegraf.autogen.cpu WHERE "
        f"(host = 'serverA' AND dc = 'slc' OR product = 'login') AND {BOUNDS}",
    ),
    # query_test.go: Dimensions([]interface{}{time.Hour})
    (
        "SELECT usage FROM telegraf.autogen.cpu",
        [Duration(H)],
        None,
        False,
        f"SELECT usage FROM telegraf.autogen.cpu WHERE {BOUNDS} GROUP BY time(1h, 0s)",
    ),
    # the pipeline docs: .groupBy(time(10s), 'cpu'), tags in the order given
    (
        'SELECT mean("value") FROM "telegraf"."default".cpu_usage_idle WHERE "host" = \'serverA\'',
        [TimeDimension(Duration(10 * S)), "cpu"],
        None,
        False,
        "SELECT mean(value) FROM telegraf.\"default\".cpu_usage_idle WHERE host = 'serverA' "
        f"AND {BOUNDS} GROUP BY time(10s, 0s), cpu",
    ),
    (
        "SELECT mean(value) FROM m",
        ["host", "dc", "group", "my tag"],
        None,
        False,
        f'SELECT mean(value) FROM m WHERE {BOUNDS} GROUP BY host, dc, "group", "my tag"',
    ),
    (
        "SELECT mean(value) FROM m",
        [STAR, TimeDimension(Duration(M), Duration(-5 * S))],
        None,
        False,
        f"SELECT mean(value) FROM m WHERE {BOUNDS} GROUP BY *, time(1m, -5s)",
    ),
    # the node's groupBy replaces the query's own GROUP BY, as in Kapacitor
    (
        "SELECT mean(value) FROM m GROUP BY host",
        ["dc"],
        None,
        False,
        f"SELECT mean(value) FROM m WHERE {BOUNDS} GROUP BY dc",
    ),
    ("SELECT mean(value) FROM m", [], "null", False, f"SELECT mean(value) FROM m WHERE {BOUNDS}"),
    (
        "SELECT mean(value) FROM m",
        [Duration(M)],
        "none",
        False,
        f"SELECT mean(value) FROM m WHERE {BOUNDS} GROUP BY time(1m, 0s) fill(none)",
    ),
    (
        "SELECT mean(value) FROM m",
        [Duration(M)],
        0,
        False,
        f"SELECT mean(value) FROM m WHERE {BOUNDS} GROUP BY time(1m, 0s) fill(0)",
    ),
    (
        "SELECT mean(value) FROM m",
        [Duration(M)],
        -1.5,
        False,
        f"SELECT mean(value) FROM m WHERE {BOUNDS} GROUP BY time(1m, 0s) fill(-1.5)",
    ),
    (
        "SELECT mean(value) FROM m fill(linear)",
        [Duration(M)],
        None,
        False,
        f"SELECT mean(value) FROM m WHERE {BOUNDS} GROUP BY time(1m, 0s) fill(linear)",
    ),
    (
        "SELECT mean(value) FROM m fill(linear)",
        [Duration(M)],
        "previous",
        False,
        f"SELECT mean(value) FROM m WHERE {BOUNDS} GROUP BY time(1m, 0s) fill(previous)",
    ),
    # alignGroup: the offset makes intervals start at the query's start (midnight: 0), then the
    # time() offset is added, as QueryNode.GroupBy documents
    (
        "SELECT usage FROM telegraf.autogen.cpu",
        [TimeDimension(Duration(M), Duration(S))],
        None,
        True,
        f"SELECT usage FROM telegraf.autogen.cpu WHERE {BOUNDS} GROUP BY time(1m, 1s)",
    ),
]


@pytest.mark.parametrize(("query", "group_by", "fill", "align_group", "expected"), BUILT)
def test_built_query(
    query: str, group_by: list[Any], fill: Any, align_group: bool, expected: str
) -> None:
    q = build_batch_query(query, group_by=group_by, fill=fill, align_group=align_group)
    assert q.text(T1975, T1975b) == expected
    assert q.grouped_by_time == any(isinstance(d, int | TimeDimension) for d in group_by)


def test_align_group_follows_each_start() -> None:
    """.period(5m).every(30s).groupBy(time(1m)).alignGroup(): a run at :30 starts its
    intervals at :30 (the docs' example), one at :00 at :00."""
    q = build_batch_query("SELECT mean(v) FROM m", group_by=[Duration(M)], align_group=True)
    assert q.text(T1975 + 30 * S, T1975 + 330 * S).endswith("GROUP BY time(1m, 30s)")
    assert q.text(T1975 + 60 * S, T1975 + 360 * S).endswith("GROUP BY time(1m, 0s)")
    plain = build_batch_query("SELECT mean(v) FROM m", group_by=[Duration(M)])
    assert plain.text(T1975 + 30 * S, T1975 + 330 * S).endswith("GROUP BY time(1m, 0s)")


def test_bounds_are_rfc3339_nano_utc() -> None:
    q = build_batch_query("SELECT v FROM m")
    text = q.text(T1975 + 1_500_000, T1975 + S + 123)
    assert "time >= '1975-01-01T00:00:00.0015Z' AND time < '1975-01-01T00:00:01.000000123Z'" in text


# Kapacitor's refusals (integrations/batcher_test.go TestBatch_InvalidQuery, query.go, batch.go)
REFUSED: list[tuple[str, dict[str, Any], str | None]] = [
    (
        "SELECT value FROM db.rp.m; DROP DATABASE _internal",
        {},
        "query must be a single select statement, got 2 statements",
    ),
    ("DROP DATABASE _internal", {}, 'query is not a select statement "DROP DATABASE _internal"'),
    ("  ", {}, "query must be a single select statement, got 0 statements"),
    ("SELECT v FROM m;", {}, None),
    (
        "SELECT v FROM m",
        {"group_by": [Duration(M), TimeDimension(Duration(S))]},
        "groupBy cannot have more than one time dimension",
    ),
    ("SELECT v FROM m", {"fill": "zero"}, "unexpected fill option zero"),
    (
        "SELECT v FROM m",
        {"group_by": [1.5]},
        "invalid dimension type:float, must be string or time.Duration",
    ),
    ("SELECT v m", {}, "failed to parse InfluxQL query: found m, expected FROM at line 1, char 10"),
    (
        "SELECT v FROM m WHERE",
        {},
        "failed to parse InfluxQL query: found EOF, expected identifier, string, number, bool "
        "at line 1, char 22",
    ),
    (
        "SELECT v > 1 FROM m",
        {},
        "failed to parse InfluxQL query: invalid operator > in SELECT clause at line 1, char 8; "
        "operator is intended for WHERE clause",
    ),
    (
        "SELECT v FROM m ORDER BY host",
        {},
        "failed to parse InfluxQL query: only ORDER BY time supported at this time",
    ),
    (
        "SELECT v FROM m fill(x)",
        {},
        "failed to parse InfluxQL query: expected number argument in fill()",
    ),
    (
        "SELECT 'v FROM m",
        {},
        "failed to parse InfluxQL query: unterminated quoted string at line 1, char 8",
    ),
]


@pytest.mark.parametrize(("query", "kwargs", "message"), REFUSED)
def test_refused(query: str, kwargs: dict[str, Any], message: str | None) -> None:
    if message is None:  # a trailing semicolon is no second statement
        build_batch_query(query, **kwargs)
        return
    with pytest.raises(BatchQueryError) as info:
        build_batch_query(query, **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (2 * 7 * 24 * H, "2w"),
        (3 * 24 * H, "3d"),
        (25 * H, "25h"),
        (90 * M, "90m"),
        (-5 * S, "-5s"),
        (1_500 * 10**6, "1500ms"),
        (2_000, "2u"),
        (1_001, "1001ns"),
    ],
)
def test_format_duration(ns: int, text: str) -> None:
    assert format_duration(ns) == text


# --- properties ---------------------------------------------------------------------------

_names = st.one_of(
    st.sampled_from(["host", "value", "cpu_0", "_x", "time", "usage idle", 'a"b', "it's", "é"]),
    st.sampled_from(sorted(KEYWORDS)).map(str.lower),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8),
)

_leaves: st.SearchStrategy[Expr] = st.one_of(
    _names.map(VarRef),
    st.integers(0, 2**63 - 1).map(IntegerLit),
    st.floats(0, 1e300, allow_nan=False).map(NumberLit),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=8).map(StringLit),
    st.booleans().map(BoolLit),
    st.integers(1, 10**15).map(DurationLit),
)


def _wrap(child: Expr, prec: int, right: bool) -> Expr:
    if isinstance(child, Binary):
        cp = _PRECEDENCE[child.op]
        if cp < prec or (right and cp == prec):
            return Paren(child)
    return child


def _combine(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    def binary(op: str, lhs: Expr, rhs: Expr) -> Expr:
        p = _PRECEDENCE[op]
        return Binary(op, _wrap(lhs, p, False), _wrap(rhs, p, True))

    ops = st.sampled_from(
        ["+", "-", "*", "/", "%", "AND", "OR", "=", "!=", "<", ">=", "&", "|", "^"]
    )
    return st.one_of(
        st.builds(binary, ops, children, children),
        st.builds(lambda e: Paren(e), children),
        st.builds(
            lambda name, args: Call(name, tuple(args)),
            st.sampled_from(["mean", "sum", "now", "top"]),
            st.lists(children, max_size=3),
        ),
        st.builds(
            lambda lhs, pat: Binary("=~", lhs, RegexLit(pat)),
            _names.map(VarRef),
            st.sampled_from(["a.*", "x/y", "^$", "[0-9]+"]),
        ),
    )


_exprs = st.recursive(_leaves, _combine, max_leaves=8)
_field_exprs = st.recursive(
    _leaves,
    lambda ch: st.one_of(
        st.builds(
            lambda op, a, b: Binary(op, _wrap(a, 4, False), _wrap(b, 4, True)),
            st.sampled_from(["+", "-"]),
            ch,
            ch,
        ),
        st.builds(
            lambda name, args: Call(name, tuple(args)),
            st.sampled_from(["mean", "max"]),
            st.lists(ch, max_size=2),
        ),
    ),
    max_leaves=5,
).filter(lambda e: not (isinstance(e, Binary) and e.op in ("AND", "OR")))

_fills = st.one_of(
    st.sampled_from([("null", None), ("none", None), ("previous", None), ("linear", None)]),
    st.integers(-(2**63), 2**63 - 1).map(lambda n: ("number", n)),
)
_sources = st.one_of(
    st.builds(Measurement, st.one_of(st.just(""), _names), st.one_of(st.just(""), _names), _names),
    st.builds(
        lambda db, rp, pat: Measurement(db, rp, regex=RegexLit(pat)),
        st.one_of(st.just(""), _names),
        st.one_of(st.just(""), _names),
        st.sampled_from(["cpu.*", "^a/b$", "x"]),
    ),
)


def _select(
    fields: list[Field],
    sources: list[Measurement | SubQuery],
    cond: Expr | None,
    dims: list[Expr],
    fill: tuple[str, int | None],
    order: tuple[tuple[str, bool], ...],
    limits: list[int],
    tz: str | None,
    target: Measurement | None,
) -> Select:
    return Select(
        tuple(fields),
        tuple(sources),
        target,
        cond,
        tuple(dims),
        fill[0],
        fill[1],
        order,
        *limits,
        location=tz,
    )


_plain_selects = st.builds(
    _select,
    st.lists(
        st.builds(Field, _field_exprs, st.one_of(st.just(""), _names)), min_size=1, max_size=3
    ),
    st.lists(_sources, min_size=1, max_size=2),
    st.one_of(st.none(), _exprs),
    st.lists(
        st.one_of(
            _names.map(VarRef),
            st.just(Wildcard()),
            st.integers(1, 10**13).map(lambda n: Call("time", (DurationLit(n),))),
        ),
        max_size=3,
    ),
    _fills,
    st.sampled_from([(), (("time", True),), (("time", False),), (("", False),)]),
    st.lists(st.integers(0, 1000), min_size=4, max_size=4),
    st.one_of(st.none(), st.sampled_from(["UTC", "America/Chicago"])),
    st.one_of(st.none(), st.builds(Measurement, _names, _names, _names)),
)
_selects = st.one_of(
    _plain_selects,
    st.builds(
        lambda outer, inner: outer.replace(sources=(SubQuery(inner), *outer.sources)),
        _plain_selects,
        _plain_selects,
    ),
)


@settings(max_examples=300, deadline=None)
@given(_selects)
def test_render_parse_round_trip(stmt: Select) -> None:
    """What the renderer writes parses back to the same tree, and renders the same again."""
    text = stmt.render()
    parsed = parse_select(text)
    assert parsed.statements == 1 and parsed.select is not None
    assert parsed.select == stmt, text
    assert parsed.select.render() == text


@settings(max_examples=300, deadline=None)
@given(_names)
def test_quote_ident_round_trip(name: str) -> None:
    parsed = parse_select(f"SELECT {quote_ident(name)} FROM {quote_ident('db', '', name)}")
    assert parsed.select is not None
    assert parsed.select.fields == (Field(VarRef(name)),)
    assert parsed.select.sources == (Measurement("db", "", name),)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**62), st.integers(1, 10**12), st.lists(_names, max_size=3))
def test_bounds_always_last_in_where(start: int, length: int, tags: list[str]) -> None:
    q = build_batch_query("SELECT v FROM m WHERE a = 1 OR b = 2", group_by=tags)
    text = q.text(start, start + length)
    stmt = parse_select(text).select
    assert stmt is not None and isinstance(stmt.condition, Binary)
    # InfluxDB reads ``(a OR b) AND time >= x AND time < y`` left to right
    outer = stmt.condition
    assert outer.op == "AND" and isinstance(outer.lhs, Binary) and outer.lhs.op == "AND"
    assert isinstance(outer.lhs.lhs, Paren)
    assert stmt.dimensions == tuple(VarRef(t) for t in tags)
    assert Time(start).rfc3339nano() in text


def test_warnings_for_what_kapacitor_silently_changes() -> None:
    q = build_batch_query(
        "SELECT mean(v) FROM m WHERE host = 'a' AND time > now() - 1h GROUP BY time(1m), host"
    )
    assert q.warnings == (
        "the query's own GROUP BY time(1m), host is dropped, as Kapacitor drops it: "
        "group with the node's .groupBy() instead",
        "the query's WHERE mentions time: each run adds its own time bounds, and both apply "
        "(set the range with .period() and .offset())",
    )
    assert q.text(T1975, T1975b) == (
        f"SELECT mean(v) FROM m WHERE host = 'a' AND time > now() - 1h AND {BOUNDS}"
    )
    assert build_batch_query("SELECT v FROM m WHERE host = 'a'").warnings == ()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        # Found by `make fuzz`: a ValueError from int() and RecursionErrors, not InfluxQLError.
        ("SELECT " + "9" * 5000 + " FROM m", "unable to parse integer at line 1, char 8"),
        ("SELECT v FROM m LIMIT " + "9" * 30, 'strconv.Atoi: parsing "999'),
        ("SELECT v FROM m WHERE time > now() - " + "9" * 5000 + "s", "invalid duration"),
        ("SELECT " + "mean(" * 3000 + "v" + ")" * 3000 + " FROM m", "query nests too deeply"),
        ("SELECT " + "(" * 3000 + "v" + ")" * 3000 + " FROM m", "query nests too deeply"),
        ("SELECT v FROM m WHERE " + " = ".join(["a"] * 3000), "query nests too deeply"),
    ],
)
def test_hostile_numbers_and_nesting_are_influxql_errors(query: str, message: str) -> None:
    with pytest.raises(InfluxQLError) as info:
        parse_select(query)
    assert message in str(info.value)
