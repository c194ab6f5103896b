"""Go's scalar parsers (``strconv.ParseBool``/``ParseInt``, ``time.ParseDuration``)."""

from __future__ import annotations

import pytest

from leyden.go.strconv import parse_go_bool, parse_go_duration, parse_go_int


@pytest.mark.parametrize("text", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_bool_true(text: str) -> None:
    assert parse_go_bool(text) is True


@pytest.mark.parametrize("text", ["0", "f", "F", "FALSE", "false", "False"])
def test_go_bool_false(text: str) -> None:
    assert parse_go_bool(text) is False


@pytest.mark.parametrize("text", ["", "yes", "no", "on", "tRUE", " true", "2"])
def test_go_bool_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_bool(text)


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("0", 0),
        ("10s", 10 * 10**9),
        ("1h30m", 5400 * 10**9),
        ("1.5h", 5400 * 10**9),
        ("100ms", 100 * 10**6),
        ("1us", 1000),
        ("1µs", 1000),
        ("1μs", 1000),
        ("1ns", 1),
        ("-1m", -60 * 10**9),
        ("+2s", 2 * 10**9),
        (".5s", 5 * 10**8),
        ("1.s", 10**9),
        ("1h2m3s4ms5us6ns", 3723004005006),
        ("1.0000000001s", 10**9),  # fractions of a nanosecond are truncated, as in Go
        ("2562047h47m16.854775807s", 2**63 - 1),
    ],
)
def test_go_duration(text: str, nanoseconds: int) -> None:
    assert parse_go_duration(text) == nanoseconds


@pytest.mark.parametrize(
    "text", ["", "10", "1x", "s", ".s", "1d", "- 1s", "1s ", "2562047h47m16.854775808s", "++1s"]
)
def test_go_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("-7", -7),
        ("0x10", 16),
        ("0X10", 16),
        ("0o17", 15),
        ("017", 15),
        ("0b101", 5),
        ("0", 0),
        ("1_000", 1000),
    ],
)
def test_go_int(text: str, value: int) -> None:
    assert parse_go_int(text) == value


@pytest.mark.parametrize("text", ["", " 1", "08", "1.0", "0x", "9223372036854775808", "abc"])
def test_go_int_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_int(text)
