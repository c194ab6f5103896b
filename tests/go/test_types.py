"""Go formatting tables: each expected string is what Go itself prints for the value."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leyden.go.types import (
    Duration,
    GoStruct,
    StringMap,
    Time,
    format_float,
    format_value,
    go_json,
    go_quote,
    sprint,
    sprintf,
    sprintln,
)

S = 1_000_000_000


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (999, "999ns"),
        (1_000, "1µs"),
        (1_500, "1.5µs"),
        (1_000_000, "1ms"),
        (1_234_567, "1.234567ms"),
        (100_000_000, "100ms"),
        (S, "1s"),
        (3 * S // 2, "1.5s"),
        (120 * S, "2m0s"),
        (150 * S, "2m30s"),
        (3600 * S, "1h0m0s"),
        (3723 * S + S // 2, "1h2m3.5s"),
        (-300 * S, "-5m0s"),
        (-1_500, "-1.5µs"),
        (100 * 3600 * S + 1, "100h0m0.000000001s"),
    ],
)
def test_duration_string(ns: int, text: str) -> None:
    assert str(Duration(ns)) == text


def test_duration_and_time_stay_ints() -> None:
    d, t = Duration(5), Time(7)
    assert isinstance(d, int) and isinstance(t, int)
    assert d + 1 == 6 and t - 7 == 0


@pytest.mark.parametrize(
    ("ns", "text", "rfc", "nano"),
    [
        (
            (365 * 86400 + 10) * S,
            "1971-01-01 00:00:10 +0000 UTC",
            "1971-01-01T00:00:10Z",
            "1971-01-01T00:00:10Z",
        ),
        (0, "1970-01-01 00:00:00 +0000 UTC", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
        (
            1446225252 * S + S // 2,
            "2015-10-30 17:14:12.5 +0000 UTC",
            "2015-10-30T17:14:12Z",
            "2015-10-30T17:14:12.5Z",
        ),
        (
            1446225252 * S + 123,
            "2015-10-30 17:14:12.000000123 +0000 UTC",
            "2015-10-30T17:14:12Z",
            "2015-10-30T17:14:12.000000123Z",
        ),
        (-1, "1969-12-31 23:59:59.999999999 +0000 UTC", "1969-12-31T23:59:59Z", None),
    ],
)
def test_time_formats(ns: int, text: str, rfc: str, nano: str | None) -> None:
    t = Time(ns)
    assert str(t) == text
    assert t.rfc3339() == rfc
    if nano is not None:
        assert t.rfc3339nano() == nano


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2015-10-30T17:14:12Z", 1446225252 * S),
        ("2015-10-30T17:14:12.5Z", 1446225252 * S + S // 2),
        ("2015-10-30T18:14:12.000000001+01:00", 1446225252 * S + 1),
        ("2015-10-30T16:44:12-00:30", 1446225252 * S),
        ("1970-01-01T00:00:00Z", 0),
    ],
)
def test_parse_rfc3339(text: str, ns: int) -> None:
    assert Time.parse_rfc3339(text) == ns
    assert isinstance(Time.parse_rfc3339(text), Time)


@pytest.mark.parametrize(
    "bad", ["", "2015-10-30", "2015-13-30T00:00:00Z", "2015-10-30T17:14:12.1234567890Z", "x"]
)
def test_parse_rfc3339_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        Time.parse_rfc3339(bad)


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_rfc3339nano_round_trips(ns: int) -> None:
    assert Time.parse_rfc3339(Time(ns).rfc3339nano()) == ns


@pytest.mark.parametrize(
    ("f", "text"),
    [
        (10.0, "10"),
        (97.1, "97.1"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e-05, "1e-05"),
        (0.0001, "0.0001"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1e100, "1e+100"),
        (-2.5, "-2.5"),
        (0.0, "0"),
        (-0.0, "-0"),
        (100000000.0, "1e+08"),
        (123456.7, "123456.7"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_format_float(f: float, text: str) -> None:
    assert format_float(f) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_float_round_trips(f: float) -> None:
    assert float(format_float(f)) == f


@dataclass
class _Point:
    Name: str
    Value: float


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (None, "<nil>"),
        (42, "42"),
        (2.0, "2"),
        ("as is", "as is"),
        ({"b": 2, "a": 1}, "map[a:1 b:2]"),
        (StringMap(host="a"), "map[host:a]"),
        (["a", "b", 1.5], "[a b 1.5]"),
        ({"n": None, "l": [1]}, "map[l:[1] n:<nil>]"),
        (Duration(90 * S), "1m30s"),
        (Time(0), "1970-01-01 00:00:00 +0000 UTC"),
        (GoStruct([("Z", 1), ("A", "x")]), "{1 x}"),
        (_Point("cpu", 1.5), "{cpu 1.5}"),
    ],
)
def test_format_value(value: Any, text: str) -> None:
    assert format_value(value) == text


def test_format_value_plus_names_struct_fields() -> None:
    assert format_value(GoStruct([("Z", 1), ("A", "x")]), plus=True) == "{Z:1 A:x}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (10.0, "10"),
        (1e-7, "1e-7"),  # encoding/json shortens e-07 to e-7
        (1e-6, "0.000001"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (2.5e-10, "2.5e-10"),
        (-0.5, "-0.5"),
        (3, "3"),
        (True, "true"),
        (None, "null"),
        ("<a&b>", '"\\u003ca\\u0026b\\u003e"'),
        ('q"\\', '"q\\"\\\\"'),
        ("\n\r\t\x01\x1f\x7f", '"\\n\\r\\t\\u0001\\u001f\x7f"'),
        ("\u2028\u2029é", '"\\u2028\\u2029é"'),
        ("\ud800", '"\ufffd"'),
        (Time(1446225252 * S + S // 2), '"2015-10-30T17:14:12.5Z"'),
        (Duration(5 * S), "5000000000"),
        ({"b": 1, "a": [1, 2.0, "x"]}, '{"a":[1,2,"x"],"b":1}'),
        (GoStruct([("id", "x"), ("a", 1)]), '{"id":"x","a":1}'),
        ({}, "{}"),
        ([], "[]"),
        ((1, 2), "[1,2]"),
    ],
)
def test_go_json(value: Any, text: str) -> None:
    assert go_json(value) == text


def test_go_json_without_html_escaping() -> None:
    assert go_json("<a&b>", escape_html=False) == '"<a&b>"'


def test_go_json_indent() -> None:
    assert go_json({"b": [1], "a": {}}, indent="  ") == '{\n  "a": {},\n  "b": [\n    1\n  ]\n}'


class _Event:
    def __init__(self, pairs: list[tuple[str, Any]] | dict[str, Any]) -> None:
        self.pairs = pairs

    def __go_json__(self) -> Any:
        return self.pairs


def test_go_json_hook_pairs_keep_order_and_dicts_sort() -> None:
    assert go_json(_Event([("z", 1), ("a", Time(0))])) == '{"z":1,"a":"1970-01-01T00:00:00Z"}'
    assert go_json(_Event({"z": 1, "a": 2})) == '{"a":2,"z":1}'
    assert go_json([_Event([("k", None)])]) == '[{"k":null}]'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_go_json_rejects_non_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="unsupported value"):
        go_json({"v": bad})


def test_go_json_rejects_unknown_types() -> None:
    with pytest.raises(TypeError, match="unsupported type"):
        go_json(object())


@pytest.mark.parametrize(
    ("fmt", "args", "text"),
    [
        ("%0.3f", (97.12345,), "97.123"),
        ("%.2f", (97.0,), "97.00"),
        ("%f", (1.5,), "1.500000"),
        ("%6.2f|", (3.14159,), "  3.14|"),
        ("%08.3f", (-3.14159,), "-003.142"),
        ("%e", (1234.5678,), "1.234568e+03"),
        ("%E", (1234.5678,), "1.234568E+03"),
        ("%g", (1234567.0,), "1.234567e+06"),
        ("%g", (0.5,), "0.5"),
        ("%.3g", (1234567.0,), "1.23e+06"),
        ("%v", (1.0,), "1"),
        ("%f", (math.inf,), "+Inf"),
        ("%5.1f|", (math.nan,), "  NaN|"),
        ("%d", (5,), "5"),
        ("%5d|%-5d|%05d", (1, 2, 3), "    1|2    |00003"),
        ("%+d", (5,), "+5"),
        ("%x %X %o %b", (255, 255, 8, 5), "ff FF 10 101"),
        ("%#x %#o", (255, 8), "0xff 010"),
        ("%x", ("hi",), "6869"),
        ("%c", (65,), "A"),
        ("%q", (97,), "'a'"),
        ("%U", (0x1F600,), "U+1F600"),
        ("%t", (True,), "true"),
        ("%s", ("x",), "x"),
        ("%.2s", ("abc",), "ab"),
        ("%-4s|%4s", ("a", "b"), "a   |   b"),
        ("%q", ('a"b\n',), '"a\\"b\\n"'),
        ("%v", (None,), "<nil>"),
        ("%v %v", ([1, "a"], {"k": 2}), "[1 a] map[k:2]"),
        ("%+v", (GoStruct([("A", 1)]),), "{A:1}"),
        ("%s", (Duration(S),), "1s"),
        ("%d", (Duration(S),), "1000000000"),
        ("%v", (Time(0),), "1970-01-01 00:00:00 +0000 UTC"),
        ("%T %T %T", (1, 1.5, "s"), "int float64 string"),
        ("100%%", (), "100%"),
        # Go's error text for bad verbs, missing and extra operands
        ("%d", ("x",), "%!d(string=x)"),
        ("%d", (97.1,), "%!d(float64=97.1)"),
        ("%f", (5,), "%!f(int=5)"),
        ("%s", (1,), "%!s(int=1)"),
        ("%t", (1,), "%!t(int=1)"),
        ("%d", (None,), "%!d(<nil>)"),
        ("%z", (1,), "%!z(int=1)"),
        ("%d", (), "%!d(MISSING)"),
        ("%d", (1, "a"), "1%!(EXTRA string=a)"),
        ("%d %d", (1, 2, 3, None), "1 2%!(EXTRA int=3, <nil>)"),
        ("%", (), "%!(NOVERB)"),
        ("%d", ([1, 2],), "[1 2]"),
        ("%*d|", (4, 7), "   7|"),
    ],
)
def test_sprintf(fmt: str, args: tuple[Any, ...], text: str) -> None:
    assert sprintf(fmt, *args) == text


def test_sprint_and_sprintln_spacing() -> None:
    assert sprint("a", 1, 2, "b", 3.5) == "a1 2b3.5"
    assert sprint(1, 2) == "1 2"
    assert sprint() == ""
    assert sprintln("a", 1) == "a 1\n"


@pytest.mark.parametrize(
    ("s", "q"),
    [("plain", '"plain"'), ('"\\', '"\\"\\\\"'), ("\a\x00é\u200b", '"\\a\\x00é\\u200b"')],
)
def test_go_quote(s: str, q: str) -> None:
    assert go_quote(s) == q


def test_times_before_year_1000_keep_four_year_digits() -> None:
    # Go writes "0002-02-05…"; strftime's %Y would drop the zeros on Linux.
    t = Time(-62_135_596_800 * 10**9 + 400 * 86_400 * 10**9 + 5)
    assert t.rfc3339() == "0002-02-05T00:00:00Z"
    assert t.rfc3339nano() == "0002-02-05T00:00:00.000000005Z"
    assert str(t) == "0002-02-05 00:00:00.000000005 +0000 UTC"


@pytest.mark.parametrize(
    ("fmt", "args", "text"),
    [
        # Found by `make fuzz`: Python padded to the width and ran out of memory (or refused a
        # 5,000-digit width); Go's fmt gives up on a width or precision past a million.
        ("%8899556348186544128.2f|x", (1.5,), "%!(NOVERB)%!(EXTRA float64=1.5)"),
        ("%.99999999f", (1.5,), "%!(NOVERB)%!(EXTRA float64=1.5)"),
        ("%" + "9" * 5000 + "d", (1,), "%!(NOVERB)%!(EXTRA int=1)"),
        ("%*d", (10**7, 3), "%!(BADWIDTH)3"),
        ("%.*f", (-(10**7), 1.0), "%!(BADPREC)1.000000"),
        ("%1000000d", (1,), " " * 999_999 + "1"),
    ],
)
def test_sprintf_width_and_precision_past_a_million(
    fmt: str, args: tuple[Any, ...], text: str
) -> None:
    assert sprintf(fmt, *args) == text
