"""Line protocol: values, escapes, precisions, per-line errors, fast path == exact path."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leyden import lineprotocol as lp
from leyden.lineprotocol import PRECISIONS, LineError, UInt, WirePoint, format_point, parse

NOW = 1_700_000_000_123_456_789


def one(line: str | bytes, **kw: object) -> WirePoint:
    result = parse(line, now_ns=NOW, **kw)  # type: ignore[arg-type]
    assert result.errors == [], result.errors
    assert len(result.points) == 1
    return result.points[0]


def err(line: str | bytes, **kw: object) -> LineError:
    result = parse(line, now_ns=NOW, **kw)  # type: ignore[arg-type]
    assert result.points == []
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


@contextmanager
def exact_only() -> Iterator[None]:
    """Send every line through the exact scanner by making the fast path refuse all keys."""
    with mock.patch.object(lp, "_fast_key", lambda key: None), mock.patch.dict(lp._KEY_CACHE):
        lp._KEY_CACHE.clear()
        yield


def parse_exact(body: str | bytes, **kw: object) -> lp.ParseResult:
    with exact_only():
        return parse(body, now_ns=NOW, **kw)  # type: ignore[arg-type]


# --- values ---------------------------------------------------------------------------------


def test_simple_line() -> None:
    p = one("cpu,host=serverA,region=us value=97.1,count=3i 1000000000")
    assert p == WirePoint(
        "cpu", {"host": "serverA", "region": "us"}, {"value": 97.1, "count": 3}, 10**9
    )
    assert type(p.fields["value"]) is float
    assert type(p.fields["count"]) is int


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1.0),
        ("-1.5", -1.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("1e3", 1000.0),
        ("1E3", 1000.0),
        ("1.5e+3", 1500.0),
        ("-2.5e-3", -0.0025),
        ("007", 7.0),
        ("1e-400", 0.0),
    ],
)
def test_float_values(text: str, value: float) -> None:
    v = one(f"m f={text}").fields["f"]
    assert type(v) is float and v == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("3i", 3), ("-3i", -3), ("0i", 0), ("007i", 7), ("9223372036854775807i", 2**63 - 1)],
)
def test_int_values(text: str, value: int) -> None:
    v = one(f"m f={text}").fields["f"]
    assert type(v) is int and v == value


def test_int_min() -> None:
    assert one("m f=-9223372036854775808i").fields["f"] == -(2**63)


@pytest.mark.parametrize(
    ("text", "value"), [("0u", 0), ("42u", 42), ("18446744073709551615u", 2**64 - 1)]
)
def test_unsigned_values(text: str, value: int) -> None:
    v = one(f"m f={text}").fields["f"]
    assert type(v) is UInt and v == value
    assert repr(v) == f"UInt({value})"


@pytest.mark.parametrize("text", ["t", "T", "true", "True", "TRUE"])
def test_true_values(text: str) -> None:
    assert one(f"m f={text}").fields["f"] is True


@pytest.mark.parametrize("text", ["f", "F", "false", "False", "FALSE"])
def test_false_values(text: str) -> None:
    assert one(f"m f={text}").fields["f"] is False


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"hello"', "hello"),
        ('""', ""),
        ('"a b,c=d"', "a b,c=d"),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"ends\\"', "ends\\"),
        (r'"\n stays"', r"\n stays"),
        ('"caf\u00e9 \u2603"', "caf\u00e9 \u2603"),
    ],
)
def test_string_values(text: str, value: str) -> None:
    assert one(f"m s={text},n=1").fields == {"s": value, "n": 1.0}


def test_string_may_span_lines() -> None:
    result = parse('m s="two\nlines" 5\nm v=1 6\n', now_ns=NOW)
    assert result.errors == []
    assert [p.fields for p in result.points] == [{"s": "two\nlines"}, {"v": 1.0}]


def test_duplicate_field_last_wins() -> None:
    assert one("m v=1,v=2i").fields == {"v": 2}


def test_uint_range_is_checked() -> None:
    with pytest.raises(ValueError):
        UInt(-1)
    with pytest.raises(ValueError):
        UInt(2**64)


# --- escapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name", "tags", "fields"),
    [
        (r"c\ pu v=1", "c pu", {}, {"v": 1.0}),
        (r"c\,pu v=1", "c,pu", {}, {"v": 1.0}),
        (r"c\=pu v=1", r"c\=pu", {}, {"v": 1.0}),  # '=' needs no escape in a measurement
        ("c=pu v=1", "c=pu", {}, {"v": 1.0}),
        (r"m,a\ b=c\ d v=1", "m", {"a b": "c d"}, {"v": 1.0}),
        (r"m,a\,b=c\,d v=1", "m", {"a,b": "c,d"}, {"v": 1.0}),
        (r"m,a\=b=c\=d v=1", "m", {"a=b": "c=d"}, {"v": 1.0}),
        (r"m f\ k=1", "m", {}, {"f k": 1.0}),
        (r"m f\,k=1", "m", {}, {"f,k": 1.0}),
        (r"m f\=k=1", "m", {}, {"f=k": 1.0}),
        ('m "q"=1', "m", {}, {'"q"': 1.0}),
        ("m,t=\u00e9 v=1", "m", {"t": "\u00e9"}, {"v": 1.0}),
    ],
)
def test_escapes(line: str, name: str, tags: dict[str, str], fields: dict[str, float]) -> None:
    p = one(line)
    assert (p.name, p.tags, p.fields) == (name, tags, fields)


def test_tags_are_sorted_and_shared_per_series() -> None:
    a, b = parse("m,z=1,a=2 v=1 1\nm,z=1,a=2 v=2 2", now_ns=NOW).points
    assert list(a.tags) == ["a", "z"]
    assert a.tags is b.tags  # one dict per series: nothing may modify it in place


def test_debug_mode_refuses_changes_to_shared_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lp, "FREEZE_SHARED_TAGS", True)
    monkeypatch.setattr(lp, "_KEY_CACHE", {})
    (p,) = parse("frozen,h=a v=1 1", now_ns=NOW).points
    assert p.tags == {"h": "a"}
    with pytest.raises(lp.SharedTagsMutated):
        p.tags["x"] = "changed"
    with pytest.raises(lp.SharedTagsMutated):
        p.tags.pop("h")
    assert dict(p.tags) == {"h": "a"}


# --- precision and time ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("precision", "mult"),
    [
        ("", 1),
        ("n", 1),
        ("ns", 1),
        ("u", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ],
)
def test_precisions(precision: str, mult: int) -> None:
    assert PRECISIONS[precision] == mult
    assert one("m v=1 7", precision=precision).time == 7 * mult
    assert one("m v=1 -7", precision=precision).time == -7 * mult
    # A missing timestamp is the call's clock, truncated to the precision like InfluxDB.
    assert one("m v=1", precision=precision).time == NOW - NOW % mult


def test_bad_precision() -> None:
    with pytest.raises(
        ValueError, match=r'invalid precision "x": use one of n, ns, u, ms, s, m, h'
    ):
        parse("m v=1", precision="x")


def test_missing_timestamp_is_now_read_once() -> None:
    with mock.patch.object(lp._time, "time_ns", side_effect=[111, 222]) as clock:
        points = parse("m v=1\nm v=2\nm v=3 9").points
    assert [p.time for p in points] == [111, 111, 9]
    assert clock.call_count == 1


def test_leading_zero_timestamps_from_recordings() -> None:
    assert one("cpu,type=idle,host=serverA value=97.1 0000000001", precision="s").time == 10**9


def test_time_range_limits() -> None:
    assert one("m v=1 9223372036854775806").time == 2**63 - 2
    assert one("m v=1 -9223372036854775806").time == -(2**63) + 2
    assert "outside the representable time range" in err("m v=1 9223372036854775807").message
    assert "outside the representable time range" in err("m v=1 9223372037", precision="s").message
    assert "int64 range" in err("m v=1 99999999999999999999").message


# --- body handling ---------------------------------------------------------------------------


def test_comments_blank_lines_and_crlf() -> None:
    body = b"# a comment\n\n   \n  # indented comment\r\nm v=1 1\r\n\r\nm v=2\r\n"
    result = parse(body, now_ns=NOW)
    assert result.errors == []
    assert [(p.fields["v"], p.time) for p in result.points] == [(1.0, 1), (2.0, NOW)]


def test_whitespace_between_sections() -> None:
    assert one("  m,a=b   v=1   5   ") == WirePoint("m", {"a": "b"}, {"v": 1.0}, 5)
    assert one("\tm v=1").name == "m"


def test_empty_body() -> None:
    assert parse(b"") == lp.ParseResult([], [])
    assert parse("\n\n# only comments\n") == lp.ParseResult([], [])


def test_str_and_bytes_agree() -> None:
    body = 'm,t=\u00e9 s="\u2603" 1\nm v=1 2\n'
    assert parse(body, now_ns=NOW) == parse(body.encode(), now_ns=NOW)


def test_mixed_good_and_bad_lines() -> None:
    body = "m v=1 1\nm v=oops 2\n# c\nm v=3 3\nm,a= v=1\nm v=5 5\n"
    result = parse(body, now_ns=NOW)
    assert [p.fields["v"] for p in result.points] == [1.0, 3.0, 5.0]
    assert [(e.line, e.column) for e in result.errors] == [(2, 5), (5, 5)]
    assert result.errors[0].text == "m v=oops 2"


def test_unterminated_string_does_not_swallow_the_body() -> None:
    body = 'm s="open 1\nm v=2 2\nm v=3 3\n'
    result = parse(body, now_ns=NOW)
    assert [p.fields["v"] for p in result.points] == [2.0, 3.0]
    assert [(e.line, e.column) for e in result.errors] == [(1, 5)]
    assert "unterminated string" in result.errors[0].message


def test_invalid_utf8_is_reported_on_its_line() -> None:
    result = parse(b"m v=1 1\nm,t=\xff\xfe v=1 2\nm v=3 3", now_ns=NOW)
    assert [p.time for p in result.points] == [1, 3]
    (e,) = result.errors
    assert (e.line, e.column) == (2, 5)
    assert "UTF-8" in e.message


def test_long_line_text_is_truncated() -> None:
    e = err("m v=" + "x" * 500)
    assert len(e.text) <= 120 and e.text.endswith("...")


# --- bad lines: message, line number, byte column ---------------------------------------------


@pytest.mark.parametrize(
    ("line", "column", "fragment"),
    [
        ("m v=12x", 5, 'invalid number "12x" for field "v"'),
        ("m v=1.2.3", 5, 'invalid number "1.2.3"'),
        ("m v=+1", 5, 'invalid field value "+1"'),
        ("m v=1_000", 5, 'invalid number "1_000"'),
        ("m v=NaN", 5, "NaN and Inf are not allowed"),
        ("m v=-inf", 5, "NaN and Inf are not allowed"),
        ("m v=1e400", 5, "out of range"),
        ("m v=9223372036854775808i", 5, "out of int64 range"),
        ("m v=-9223372036854775809i", 5, "out of int64 range"),
        ("m v=18446744073709551616u", 5, "out of uint64 range"),
        ("m v=-1u", 5, "cannot be negative"),
        ("m v=1.5i", 5, 'invalid number "1.5i"'),
        ("m v=tru", 5, 'invalid boolean "tru"'),
        ("m v=yes", 5, "strings must be double-quoted"),
        ('m v="abc', 5, "unterminated string value"),
        ('m v="a"b', 8, "unexpected text after the string value"),
        ("m", 2, "missing fields"),
        ("m ", 3, "missing fields"),
        ("m,a=b", 6, "missing fields"),
        ("m v", 3, "missing '=' after field key \"v\""),
        ("m v=", 5, 'missing value for field "v"'),
        ("m v=,w=1", 5, 'missing value for field "v"'),
        ("m =1", 3, "missing field key"),
        ("m v=1,", 7, "missing field after ','"),
        ("m v=1 12x", 7, 'invalid timestamp "12x"'),
        ("m v=1 1.5", 7, 'invalid timestamp "1.5"'),
        ("m v=1 -", 7, 'invalid timestamp "-"'),
        ("m v=1 5 extra", 9, 'unexpected text "extra" after the timestamp'),
        (",a=b v=1", 1, "missing measurement"),
        ("m,=b v=1", 3, "missing tag key"),
        ("m,a= v=1", 5, 'missing tag value for tag "a"'),
        ("m,a v=1", 3, 'missing tag value for tag "a"'),
        ("m,a=b=c v=1", 6, "'=' inside a value needs"),
        ("m,a=1,a=2 v=1", 7, 'duplicate tag "a"'),
        ("m,t=\u00e9\u00e9 v=1 x", 14, 'invalid timestamp "x"'),  # columns count bytes
    ],
)
def test_bad_lines(line: str, column: int, fragment: str) -> None:
    body = f"ok v=1 1\n{line}\nok v=2 2\n"
    result = parse(body, now_ns=NOW)
    assert [p.fields["v"] for p in result.points] == [1.0, 2.0]
    (e,) = result.errors
    assert fragment in e.message
    assert (e.line, e.column) == (2, column)
    assert e.message.startswith("line 2: ")
    assert e.message.endswith(f"(column {column})")
    assert e.text == line


def test_key_length_limit() -> None:
    assert "over 65535" in err("m,t=" + "x" * 65535 + " v=1").message


# --- formatting -------------------------------------------------------------------------------


def test_format_point_canonical() -> None:
    p = WirePoint(
        "c pu,x",
        {"z": "1", "a b": "c=d"},
        {"f": 1.5, "i": 3, "u": UInt(4), "b": True, "s": 'q"\\'},
        1_000_000_000,
    )
    line = format_point(p)
    assert line == r'c\ pu\,x,a\ b=c\=d,z=1 f=1.5,i=3i,u=4u,b=true,s="q\"\\" 1000000000'
    assert one(line) == p
    assert format_point(p, "s").endswith(" 1")
    assert format_point(WirePoint("m", {}, {"v": 1.0}, -1_500_000_000), "s").endswith(" -1")


def test_format_point_drops_empty_tags() -> None:
    assert format_point(WirePoint("m", {"a": "", "b": "x"}, {"v": 1.0}, 1)) == "m,b=x v=1.0 1"


@pytest.mark.parametrize(
    "p",
    [
        WirePoint("m", {}, {}, 1),
        WirePoint("", {}, {"v": 1.0}, 1),
        WirePoint("#m", {}, {"v": 1.0}, 1),
        WirePoint("m", {"k\\": "v"}, {"v": 1.0}, 1),
        WirePoint("m", {"k": "v\n"}, {"v": 1.0}, 1),
        WirePoint("m", {}, {"v": math.nan}, 1),
        WirePoint("m", {}, {"v": math.inf}, 1),
        WirePoint("m", {}, {"v": 2**63}, 1),
        WirePoint("m", {}, {"v": [1]}, 1),  # type: ignore[dict-item]
    ],
)
def test_format_point_rejects_what_line_protocol_cannot_say(p: WirePoint) -> None:
    with pytest.raises(ValueError):
        format_point(p)


def test_format_point_bad_precision() -> None:
    with pytest.raises(ValueError, match="invalid precision"):
        format_point(WirePoint("m", {}, {"v": 1.0}, 1), "d")


def test_point_equality_is_typed() -> None:
    assert WirePoint("m", {}, {"v": 1.0}, 1) != WirePoint("m", {}, {"v": 1}, 1)
    assert WirePoint("m", {}, {"v": 1}, 1) != WirePoint("m", {}, {"v": UInt(1)}, 1)
    assert WirePoint("m", {}, {"v": 1}, 1) != WirePoint("m", {}, {"v": True}, 1)


# --- fast path == exact path --------------------------------------------------------------------

CORPUS = [
    "cpu,host=serverA,region=us value=97.1,count=3i 1000000000",
    "cpu value=1",
    "cpu value=1 ",
    "cpu value=1  5",
    "cpu  value=1",
    " cpu value=1",
    "\tcpu value=1",
    "cpu\tx value=1",
    "cpu value=1\t5",
    "cpu value=\t1",
    "cpu \tvalue=1",
    "cpu \x00value=1",
    "cpu value=1 \t5",
    "cpu,a=b,a=c value=1",
    "cpu,b=2,a=1 value=1",
    "cpu,a==b value=1",
    "cpu,a=b=c value=1",
    "cpu,,a=b value=1",
    "cpu, value=1",
    "cpu,a value=1",
    "c=pu value=1",
    "#cpu value=1",
    "cpu value=1e3,b=.5,c=-1.5,d=1.,e=1E+2,f=007",
    "cpu value=1e,b=1",
    "cpu value=.",
    "cpu value=-",
    "cpu value=-.",
    "cpu value=1-2",
    "cpu value=0x10",
    "cpu value=1_0",
    "cpu value=1_0i",
    "cpu value=nan",
    "cpu value=inf",
    "cpu value=-inf",
    "cpu value=Infinity",
    "cpu value=1e999",
    "cpu value=3i,b=-3i,c=-0i,d=007i",
    "cpu value=-i",
    "cpu value=i",
    "cpu value=ii",
    "cpu value=9223372036854775807i",
    "cpu value=9223372036854775808i",
    "cpu value=3u,b=0u",
    "cpu value=-3u",
    "cpu value=u",
    "cpu value=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE",
    "cpu value=tRUE",
    "cpu value=yes",
    "cpu value=1,value=2",
    "cpu value=1,,b=2",
    "cpu value=1,",
    "cpu ,value=1",
    "cpu =1",
    "cpu value==1",
    "cpu value=1=2",
    "cpu a=1 b=2 3",
    "cpu value=1 0000000001",
    "cpu value=1 -5",
    "cpu value=1 +5",
    "cpu value=1 5_0",
    "cpu value=1 --5",
    "cpu value=1 -",
    "cpu value=1 1e9",
    "cpu value=1 9223372036854775806",
    "cpu value=1 9223372036854775807",
    "cpu value=1 \u0661",
    "cpu value=\u0661",
    "cpu value=\u0661i",
    "cpu,t=\u00e9 value=1",
    "cpu value=1\r",
    "cpu",
    "cpu ",
    "",
    "cpu value=1 5 6",
    "cpu value=1\x00",
    "\x00cpu value=1",
]


@pytest.mark.parametrize("precision", ["ns", "s"])
def test_fast_path_equals_exact_on_corpus(precision: str) -> None:
    for line in CORPUS:
        fast = parse(line, precision=precision, now_ns=NOW)
        exact = parse_exact(line, precision=precision)
        assert fast == exact, line


def test_fast_path_really_handles_simple_lines() -> None:
    lp._KEY_CACHE.clear()
    with mock.patch.object(lp, "_parse_line", side_effect=AssertionError("exact path used")):
        p = one("cpu,host=serverA,region=us value=97.1,count=3i,b=t 1000000000")
    assert p.fields == {"value": 97.1, "count": 3, "b": True}


def test_large_body_fast_equals_exact() -> None:
    body = "\n".join(CORPUS * 30)  # over 1,000 lines: exercises the collector pause too
    assert parse(body, now_ns=NOW) == parse_exact(body)


_LP_CHARS = 'ab=, "\\\t\x00#_+0123456789.-eEiuTtrfalsN\r\n\u00e9'


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=_LP_CHARS, max_size=30), max_size=6))
def test_fuzz_fast_equals_exact(lines: list[str]) -> None:
    body = "\n".join(lines)
    assert parse(body, now_ns=NOW) == parse_exact(body)


_NUMBER_CHARS = "0123456789-.eEinfatyINFAYux"


@settings(max_examples=500)
@given(
    st.text(alphabet=_NUMBER_CHARS, min_size=1, max_size=8),
    st.text(alphabet=_NUMBER_CHARS, max_size=8),
    st.text(alphabet=_NUMBER_CHARS, min_size=1, max_size=8),
)
def test_fuzz_plain_number_bodies_fast_equals_exact(a: str, b: str, t: str) -> None:
    """Bodies without "+", "_" or whitespace skip the per-number checks: same results."""
    body = f"m v={a},w={b}i {t}\nm v={b} {t}\nm v={a}\nm v=1 {a}"
    assert parse(body, now_ns=NOW) == parse_exact(body)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_never_raise(body: bytes) -> None:
    result = parse(body, now_ns=NOW)
    n_lines = body.count(b"\n") + 1
    for e in result.errors:
        assert 1 <= e.line <= n_lines
        assert e.column >= 0
        assert e.message.startswith(f"line {e.line}: ")
        assert len(e.text) <= 120


# --- round trip ---------------------------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\\"), min_size=1
)
_names = _text.filter(lambda s: s[0] not in "#\t\x00")
_field_keys = _text.filter(lambda s: s[0] not in "\t\x00")
_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=0, max_value=2**64 - 1).map(UInt),
    st.booleans(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
)


@st.composite
def points(draw: st.DrawFn) -> WirePoint:
    tags = draw(st.dictionaries(_text, _text, max_size=4))
    return WirePoint(
        draw(_names),
        dict(sorted(tags.items())),
        draw(st.dictionaries(_field_keys, _values, min_size=1, max_size=5)),
        draw(st.integers(min_value=-(2**63) + 2, max_value=2**63 - 2)),
    )


@settings(max_examples=400)
@given(points())
def test_round_trip(p: WirePoint) -> None:
    result = parse(format_point(p), now_ns=NOW)
    assert result.errors == []
    assert result.points == [p]


@settings(max_examples=100)
@given(st.lists(points(), min_size=1, max_size=10), st.sampled_from(["u", "ms", "s", "h"]))
def test_round_trip_body_with_precision(ps: list[WirePoint], precision: str) -> None:
    mult = PRECISIONS[precision]
    for p in ps:
        p.time = p.time // mult * mult if abs(p.time // mult * mult) < 2**63 - 2 else 0
    body = "\r\n".join(format_point(p, precision) for p in ps) + "\n"
    result = parse(body.encode(), precision=precision, now_ns=NOW)
    assert result.errors == []
    assert result.points == ps


# --- numbers too long for Python's int() (issue 16) -------------------------------------------


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        ("m v=" + "9" * 5000 + "i 2", 'integer value "999'),
        ("m v=-" + "9" * 5000 + "i 2", 'integer value "-999'),
        ("m v=" + "9" * 5000 + "u 2", 'unsigned value "999'),
        ("m v=2 " + "1" * 5000, 'timestamp "111'),
        ("m v=2 -" + "1" * 5000, 'timestamp "-111'),
    ],
)
def test_a_5000_digit_number_costs_only_its_line(bad: str, what: str) -> None:
    result = parse(f"m v=1i 1\n{bad}\nm v=3i 3", now_ns=NOW)
    assert [p.fields["v"] for p in result.points] == [1, 3]
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.line == 2
    assert what in error.message
    assert "(5000 digits)" in error.message
    assert "value out of range" in error.message
    assert len(error.message) < 200  # the number is shortened, not repeated whole


def test_leading_zeros_do_not_count_against_the_range() -> None:
    assert one("m v=" + "0" * 6000 + "5i " + "0" * 5000 + "7").fields == {"v": 5}
    assert one("m v=" + "0" * 6000 + "5i " + "0" * 5000 + "7").time == 7
    assert one("m v=" + "0" * 6000 + "5u").fields == {"v": UInt(5)}
    assert one("m v=-" + "0" * 6000 + "i").fields == {"v": 0}


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    digits=st.text(alphabet="0123456789", min_size=1, max_size=6000),
    sign=st.sampled_from(["", "-"]),
    form=st.sampled_from(["{}i", "{}u", "1 {}", "{}"]),
)
def test_any_digit_string_is_a_value_or_one_line_error(digits: str, sign: str, form: str) -> None:
    number = sign + digits
    text = form.format(number)
    result = parse(f"ok v=1i 1\nm v={text}\nok v=2i 2", now_ns=NOW)
    assert [p.fields["v"] for p in result.points if p.name == "ok"] == [1, 2]
    mine = [p for p in result.points if p.name == "m"]
    assert len(mine) + len(result.errors) == 1
    if result.errors:
        assert result.errors[0].line == 2
        assert len(result.errors[0].message) < 250


def test_a_long_number_with_a_bad_tail_is_refused_at_once() -> None:
    # Found by `make fuzz`: the float pattern backtracked quadratically, so a 5,000-digit value
    # ending in a letter took seconds (this one would take hours); it is linear now.
    result = parse(b"m v=" + b"9" * 100_000 + b"x\nm v=1", now_ns=1)
    assert [p.fields for p in result.points] == [{"v": 1.0}]
    assert "invalid number" in result.errors[0].message


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1.", 1.0), (".5", 0.5), ("-1.5e3", -1500.0), ("12", 12.0), ("1e-2", 0.01), ("-0.", -0.0)],
)
def test_float_spellings_kept_by_the_linear_pattern(raw: str, value: float) -> None:
    assert parse(f"m v={raw}", now_ns=1).points[0].fields == {"v": value}
