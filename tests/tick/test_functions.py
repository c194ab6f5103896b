"""Built-in functions: the corpus's direct-call rows (``level: "call"``) and Go edge cases."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest

from leyden.go.types import Duration, Time
from leyden.tick.functions import (
    BUILTINS,
    FunctionError,
    available_signatures,
    call_builtin,
    go_replace_all,
    humanize_bytes,
    new_state,
)
from leyden.tick.values import (
    MISSING,
    format_duration_influxql,
    format_float_f,
    format_float_v,
    go_v,
    parse_duration_influxql,
    typed_value_from_json,
    typed_value_to_json,
)

CORPUS = Path(os.environ.get("LEYDEN_TICK_CORPUS", "/work/shared/tick-corpus"))
CASES_FILE = CORPUS / "lambdas" / "cases.json"


def _call_rows() -> list[dict[str, Any]]:
    if not CASES_FILE.exists():
        return []
    return [c for c in json.loads(CASES_FILE.read_text()) if c.get("level") == "call"]


CALL_ROWS = _call_rows()


def same_value(got: Any, want: Any) -> bool:
    if type(got) is not type(want):
        return False
    if type(got) is float and math.isnan(got):
        return math.isnan(want)
    if isinstance(got, re.Pattern):
        return got.pattern == want.pattern
    return bool(got == want)


@pytest.mark.skipif(not CALL_ROWS, reason="tick corpus not available")
@pytest.mark.parametrize("case", CALL_ROWS, ids=[c["name"] for c in CALL_ROWS])
def test_corpus_direct_call(case: dict[str, Any]) -> None:
    args = [typed_value_from_json(a) for a in case["args"]]
    fn = new_state(case["function"])
    result = case["result"]
    if "error" in result:
        with pytest.raises(FunctionError) as info:
            fn.call(*args)
        assert result.get("error_match", "exact") == "exact"
        assert str(info.value) == result["error"]
    else:
        got = fn.call(*args)
        want = typed_value_from_json(result)
        assert same_value(got, want), (got, want)


def test_corpus_has_all_call_rows() -> None:
    if not CASES_FILE.exists():
        pytest.skip("tick corpus not available")
    assert len(CALL_ROWS) == 148


@pytest.mark.parametrize(
    ("value", "v", "f"),
    [
        (2.0, "2", "2"),
        (1.5, "1.5", "1.5"),
        (1e6, "1e+06", "1000000"),
        (123456.0, "123456", "123456"),
        (1e-5, "1e-05", "0.00001"),
        (1e21, "1e+21", "1000000000000000000000"),
        (-0.25, "-0.25", "-0.25"),
        (math.inf, "+Inf", "+Inf"),
    ],
)
def test_float_formats(value: float, v: str, f: str) -> None:
    assert format_float_v(value) == v
    assert format_float_f(value) == f


@pytest.mark.parametrize(
    ("ns", "go", "influx"),
    [
        (0, "0s", "0s"),
        (15, "15ns", "15ns"),
        (1500, "1.5µs", "1500ns"),
        (2000, "2µs", "2u"),
        (60_000_000_000, "1m0s", "1m"),
        (5_400_000_000_000, "1h30m0s", "90m"),
        (-43_200_000_000_000, "-12h0m0s", "-12h"),
        (604_800_000_000_000, "168h0m0s", "1w"),
    ],
)
def test_duration_formats(ns: int, go: str, influx: str) -> None:
    assert str(Duration(ns)) == go
    assert format_duration_influxql(ns) == influx


def test_parse_duration_influxql() -> None:
    assert parse_duration_influxql("1h30m") == 5_400_000_000_000
    assert parse_duration_influxql("10ns") == 10
    assert parse_duration_influxql("1µ") == 1000
    assert parse_duration_influxql("-2s") == -2_000_000_000
    for bad in ("", "5", "2.5h", "1x", "h", "1h 2m"):
        with pytest.raises(ValueError):
            parse_duration_influxql(bad)


def test_go_v_of_values() -> None:
    assert go_v(True) == "true"
    assert go_v(Duration(60_000_000_000)) == "1m0s"
    assert go_v(None) == "<nil>"
    assert go_v(Time(1_546_398_245_000_000_000)) == "2019-01-02 03:04:05 +0000 UTC"


def test_typed_json_round_trip() -> None:
    for obj in (
        {"type": "int", "value": 5},
        {"type": "int", "value": 5, "go_type": "int"},
        {"type": "float", "value": 5.0},
        {"type": "string", "value": "a"},
        {"type": "bool", "value": False},
        {"type": "duration", "ns": 300000000000},
        {"type": "regex", "value": "^(.*)c$"},
        {"type": "time", "value": "2019-01-02T03:04:05Z"},
        {"type": "nil"},
        {"type": "missing"},
    ):
        assert typed_value_to_json(typed_value_from_json(obj)) == obj
    assert typed_value_from_json({"type": "missing"}) is MISSING
    with pytest.raises(ValueError, match="unknown typed value type"):
        typed_value_from_json({"type": "complex"})


def test_regex_replace_follows_go_empty_match_rule() -> None:
    assert go_replace_all(re.compile("a*"), "baaac", "X") == "XbXcX"
    assert go_replace_all(re.compile("(x)"), "axb", "$$-${1}") == "a$-xb"
    assert go_replace_all(re.compile("(x)"), "axb", "$") == "a$b"


def test_math_special_cases_are_go_like() -> None:
    assert math.isnan(call_builtin("sqrt", -1.0))
    assert call_builtin("log", 0.0) == -math.inf
    assert call_builtin("exp", 1000.0) == math.inf
    assert call_builtin("pow", 0.0, -1.0) == math.inf
    assert math.isnan(call_builtin("pow", -8.0, 1.0 / 3.0))
    assert call_builtin("ceil", 1.2) == 2.0 and type(call_builtin("ceil", 1.2)) is float
    assert math.isnan(call_builtin("mod", 1.0, 0.0))
    assert call_builtin("max", math.nan, math.inf) == math.inf
    assert math.isnan(call_builtin("min", math.nan, 1.0))
    assert call_builtin("pow10", 3) == 1000.0
    assert call_builtin("pow10", -400) == 0.0
    assert call_builtin("logb", 8.0) == 3.0


def test_bessel_functions_close_to_reference() -> None:
    # Reference values (Abramowitz & Stegun tables).
    assert call_builtin("j0", 1.0) == pytest.approx(0.7651976865579666, abs=1e-12)
    assert call_builtin("j1", 2.5) == pytest.approx(0.4970941024642741, abs=1e-12)
    assert call_builtin("jn", 3, 10.0) == pytest.approx(0.05837937930518666, abs=1e-12)
    assert call_builtin("y0", 1.0) == pytest.approx(0.08825696421567697, abs=1e-9)
    assert call_builtin("y1", 2.0) == pytest.approx(-0.10703243154093756, abs=1e-9)
    assert call_builtin("yn", 2, 5.0) == pytest.approx(0.3676628826055245, abs=1e-9)
    assert call_builtin("y0", 0.0) == -math.inf
    assert math.isnan(call_builtin("y0", -1.0))


def test_string_functions_count_bytes() -> None:
    assert call_builtin("strLength", "héllo") == 6
    assert call_builtin("strIndex", "héllo", "l") == 3
    assert call_builtin("strSubstring", "abcdefg", 1, 6) == "bcdef"
    assert call_builtin("strReplace", "aaa", "a", "b", 2) == "bba"
    assert call_builtin("strReplace", "ab", "", "-", -1) == "-a-b-"
    assert call_builtin("strCount", "abc", "") == 4
    assert call_builtin("strTrimSpace", "  a b \n") == "a b"


def test_conversions() -> None:
    assert call_builtin("string", 100000000.0) == "100000000"
    assert call_builtin("string", Duration(5_400_000_000_000)) == "90m"
    assert call_builtin("int", -2.9) == -2
    assert call_builtin("float", "1e3") == 1000.0
    assert call_builtin("bool", "T") is True
    with pytest.raises(
        FunctionError,
        match=r'^strconv.ParseInt: parsing "9223372036854775808": value out of range$',
    ):
        call_builtin("int", "9223372036854775808")
    with pytest.raises(FunctionError, match=r"^cannot convert 2 to boolean$"):
        call_builtin("bool", 2)
    assert call_builtin("duration", "1h30m") == 5_400_000_000_000
    assert call_builtin("duration", 1.5, Duration(60_000_000_000)) == 90_000_000_000


def test_human_bytes() -> None:
    assert humanize_bytes(1000) == "1.0 kB"
    assert humanize_bytes(82854982) == "83 MB"
    assert humanize_bytes(5) == "5 B"
    assert call_builtin("humanBytes", -1) == "18 EB"


def test_time_functions_use_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    t = Time(1_546_398_245_000_000_000)  # 2019-01-02T03:04:05Z, a Wednesday
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert [
            call_builtin(f, t) for f in ("hour", "minute", "weekday", "day", "month", "year")
        ] == [
            3,
            4,
            3,
            2,
            1,
            2019,
        ]
        monkeypatch.setenv("TZ", "America/New_York")
        time.tzset()
        assert call_builtin("hour", t) == 22
        assert call_builtin("day", t) == 1
    finally:
        monkeypatch.undo()
        time.tzset()
    assert call_builtin("unixNano", t) == 1_546_398_245_000_000_000


def test_stateful_functions() -> None:
    sigma = new_state("sigma")
    assert sigma.call(97.1) == 0.0
    assert sigma.call(92.6) == pytest.approx(0.7071067811865476)
    sigma.reset()
    assert sigma.call(5.0) == 0.0
    spread = new_state("spread")
    assert [spread.call(x) for x in (5.0, 2.0, 9.0)] == [0.0, 3.0, 7.0]
    count = new_state("count")
    other = new_state("count")
    assert [count.call(), count.call(), other.call()] == [1, 2, 1]
    rnd = new_state("rand")
    assert 0 <= rnd.call(10) < 10
    with pytest.raises(FunctionError, match=r"^value is not a float$"):
        sigma.call(True)


def test_every_builtin_has_signatures() -> None:
    for name, fn in BUILTINS.items():
        assert fn.signature, name
        assert available_signatures(fn).startswith("[(")
    assert available_signatures(BUILTINS["sqrt"]) == "[(float)]"
    assert len(BUILTINS) == 83
