"""When batch queries run: cron expressions (gorhill/cronexpr's own tests as data) and the
``every``/``align``/``offset``/``period`` schedule of Kapacitor's ``batch.go``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leyden.engine.batch_schedule import ScheduleError, schedule_from_properties
from leyden.engine.cron import CronError, parse_cron
from leyden.go.types import Duration

S, M, H = 10**9, 60 * 10**9, 3600 * 10**9


def ns(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()) * S


# cronexpr_test.go's crontests (L, W and # cases left out: refused, see below)
CRON_NEXT = [
    ("* * * * * * *", "2013-01-01 00:00:00", "2013-01-01 00:00:01"),
    ("* * * * * * *", "2013-01-01 00:00:59", "2013-01-01 00:01:00"),
    ("* * * * * * *", "2013-01-01 00:59:59", "2013-01-01 01:00:00"),
    ("* * * * * * *", "2013-01-01 23:59:59", "2013-01-02 00:00:00"),
    ("* * * * * * *", "2013-02-28 23:59:59", "2013-03-01 00:00:00"),
    ("* * * * * * *", "2016-02-28 23:59:59", "2016-02-29 00:00:00"),
    ("* * * * * * *", "2012-12-31 23:59:59", "2013-01-01 00:00:00"),
    ("*/5 * * * * * *", "2013-01-01 00:00:00", "2013-01-01 00:00:05"),
    ("*/5 * * * * * *", "2013-01-01 00:00:59", "2013-01-01 00:01:00"),
    ("*/5 * * * * * *", "2013-01-01 00:59:59", "2013-01-01 01:00:00"),
    ("*/5 * * * * * *", "2013-01-01 23:59:59", "2013-01-02 00:00:00"),
    ("*/5 * * * * * *", "2013-02-28 23:59:59", "2013-03-01 00:00:00"),
    ("*/5 * * * * * *", "2016-02-28 23:59:59", "2016-02-29 00:00:00"),
    ("*/5 * * * * * *", "2012-12-31 23:59:59", "2013-01-01 00:00:00"),
    ("* * * * *", "2013-01-01 00:00:00", "2013-01-01 00:01:00"),
    ("* * * * *", "2013-01-01 00:00:59", "2013-01-01 00:01:00"),
    ("* * * * *", "2013-01-01 00:59:00", "2013-01-01 01:00:00"),
    ("* * * * *", "2013-01-01 23:59:00", "2013-01-02 00:00:00"),
    ("* * * * *", "2013-02-28 23:59:00", "2013-03-01 00:00:00"),
    ("* * * * *", "2016-02-28 23:59:00", "2016-02-29 00:00:00"),
    ("* * * * *", "2012-12-31 23:59:00", "2013-01-01 00:00:00"),
    ("17-43/5 * * * *", "2013-01-01 00:00:00", "2013-01-01 00:17:00"),
    ("17-43/5 * * * *", "2013-01-01 00:16:59", "2013-01-01 00:17:00"),
    ("17-43/5 * * * *", "2013-01-01 00:30:00", "2013-01-01 00:32:00"),
    ("17-43/5 * * * *", "2013-01-01 00:50:00", "2013-01-01 01:17:00"),
    ("17-43/5 * * * *", "2013-01-01 23:50:00", "2013-01-02 00:17:00"),
    ("17-43/5 * * * *", "2013-02-28 23:50:00", "2013-03-01 00:17:00"),
    ("17-43/5 * * * *", "2016-02-28 23:50:00", "2016-02-29 00:17:00"),
    ("17-43/5 * * * *", "2012-12-31 23:50:00", "2013-01-01 00:17:00"),
    ("15-30/4,55 * * * *", "2013-01-01 00:00:00", "2013-01-01 00:15:00"),
    ("15-30/4,55 * * * *", "2013-01-01 00:16:00", "2013-01-01 00:19:00"),
    ("15-30/4,55 * * * *", "2013-01-01 00:30:00", "2013-01-01 00:55:00"),
    ("15-30/4,55 * * * *", "2013-01-01 00:55:00", "2013-01-01 01:15:00"),
    ("15-30/4,55 * * * *", "2013-01-01 23:55:00", "2013-01-02 00:15:00"),
    ("15-30/4,55 * * * *", "2013-02-28 23:55:00", "2013-03-01 00:15:00"),
    ("15-30/4,55 * * * *", "2016-02-28 23:55:00", "2016-02-29 00:15:00"),
    ("15-30/4,55 * * * *", "2012-12-31 23:54:00", "2012-12-31 23:55:00"),
    ("15-30/4,55 * * * *", "2012-12-31 23:55:00", "2013-01-01 00:15:00"),
    ("0 0 * * MON", "2013-01-01 00:00:00", "2013-01-07 00:00:00"),
    ("0 0 * * MON", "2013-01-28 00:00:00", "2013-02-04 00:00:00"),
    ("0 0 * * MON", "2013-12-30 00:30:00", "2014-01-06 00:00:00"),
    ("0 0 * * friday", "2013-01-01 00:00:00", "2013-01-04 00:00:00"),
    ("0 0 * * friday", "2013-01-28 00:00:00", "2013-02-01 00:00:00"),
    ("0 0 * * friday", "2013-12-30 00:30:00", "2014-01-03 00:00:00"),
    ("0 0 * * 6,7", "2013-01-01 00:00:00", "2013-01-05 00:00:00"),
    ("0 0 * * 6,7", "2013-01-28 00:00:00", "2013-02-02 00:00:00"),
    ("0 0 * * 6,7", "2013-12-30 00:30:00", "2014-01-04 00:00:00"),
    # five fields: seconds 0, any year; six: the sixth is the year; macros; names and ranges
    ("0 12 * * *", "2013-01-01 12:00:00", "2013-01-02 12:00:00"),
    (
        "30 0 0 1-31/5 Oct-Dec * 2000,2006,2008,2013-2015",
        "2013-01-01 00:00:00",
        "2013-10-01 00:00:30",
    ),
    ("0 0 1 1 * 2050", "2013-08-31 00:00:00", "2050-01-01 00:00:00"),
    ("@hourly", "2013-01-01 00:00:00", "2013-01-01 01:00:00"),
    ("@daily", "2013-01-01 10:00:00", "2013-01-02 00:00:00"),
    ("@weekly", "2013-01-01 00:00:00", "2013-01-06 00:00:00"),
    ("@monthly", "2013-01-15 00:00:00", "2013-02-01 00:00:00"),
    ("@yearly", "2013-01-15 00:00:00", "2014-01-01 00:00:00"),
    ("@annually", "2013-01-15 00:00:00", "2014-01-01 00:00:00"),
    ("0 0 0 ? * SUN *", "2013-01-01 00:00:00", "2013-01-06 00:00:00"),
    # day-of-month and day-of-week both restricted: either matches (crontab's rule)
    ("0 0 13 * FRI", "2013-01-01 00:00:00", "2013-01-04 00:00:00"),
    ("0 0 13 * FRI", "2013-01-05 00:00:00", "2013-01-11 00:00:00"),
    ("0 0 13 * FRI", "2013-01-12 00:00:00", "2013-01-13 00:00:00"),
    ("0 0 29 2 *", "2013-08-29 09:28:00", "2016-02-29 00:00:00"),
]


@pytest.mark.parametrize(("expr", "after", "expected"), CRON_NEXT)
def test_cron_next(expr: str, after: str, expected: str) -> None:
    assert parse_cron(expr).next(ns(after)) == ns(expected)


def test_cron_next_n() -> None:
    """cronexpr's TestNextN_every5min."""
    cron = parse_cron("*/5 * * * *")
    t = ns("2013-09-02 08:44:32")
    got = []
    for _ in range(5):
        nxt = cron.next(t)
        assert nxt is not None
        got.append(nxt)
        t = nxt
    assert got == [
        ns(f"2013-09-02 {hm}:00") for hm in ("08:45", "08:50", "08:55", "09:00", "09:05")
    ]


def test_cron_never_again() -> None:
    """cronexpr's TestZero: a year already past never matches."""
    assert parse_cron("* * * * * 1980").next(ns("2013-08-31 00:00:00")) is None


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("*/60 * * * * * *", "invalid interval */60"),  # cronexpr's TestInterval_Interval60Issue
        ("*/61 * * * * *", "invalid interval */61"),
        ("2/60 * * * * *", "invalid interval 2/60"),
        ("2-20/61 * * * * *", "invalid interval 2-20/61"),
        ("* * *", "cron expression '* * *' has 3 fields, expected 5 to 7"),
        ("61 * * * *", "minute field: 61 is out of range 0-59"),
        ("* * * * FOO", "syntax error in day-of-week field: 'FOO'"),
        ("0 0 L * *", "day-of-month field: 'L': L, W and # are not supported"),
        ("0 0 * * 6#5", "day-of-week field: '6#5': L, W and # are not supported"),
        ("@reboot", "unknown cron macro '@reboot'"),
        ("1,,2 * * * *", "syntax error in minute field: ''"),
    ],
)
def test_cron_refused(expr: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        parse_cron(expr)
    assert str(info.value).startswith(message)


# --- the schedule -------------------------------------------------------------------------

T0 = ns("2020-01-01 10:00:07")


def test_every_unaligned_ticks_from_start() -> None:
    s = schedule_from_properties({"every": Duration(10 * S)})
    assert s.first(T0) == T0 + 10 * S
    assert s.after(T0 + 10 * S) == T0 + 20 * S
    # period defaults to every
    assert s.window(T0 + 10 * S) == (T0, T0 + 10 * S)


def test_every_aligned_ticks_on_multiples() -> None:
    s = schedule_from_properties({"every": Duration(M), "align": True})
    first = s.first(T0)
    assert first == ns("2020-01-01 10:01:00")
    assert first is not None and s.after(first) == ns("2020-01-01 10:02:00")


def test_period_and_offset_bound_each_run() -> None:
    """Kapacitor's doc: offset 2h, every 5m queries the window of data 2 hours ago."""
    s = schedule_from_properties(
        {
            "every": Duration(5 * M),
            "period": Duration(10 * M),
            "offset": Duration(2 * H),
            "align": True,
        }
    )
    tick = s.first(T0)
    assert tick == ns("2020-01-01 10:05:00")
    assert s.window(tick) == (ns("2020-01-01 07:55:00"), ns("2020-01-01 08:05:00"))


def test_late_runs_collapse_into_one() -> None:
    """A run that ends after several ticks passed: one late run, then back on the beat."""
    s = schedule_from_properties({"every": Duration(10 * S), "align": True})
    assert s.after(T0 - 7 * S + 10 * S, now=T0 + 45 * S) == T0 - 7 * S + 50 * S
    assert s.after(T0, now=T0 + 5 * S) == T0 + 10 * S


def test_cron_schedule_runs_at_matches() -> None:
    s = schedule_from_properties(
        {"cron": "0 */15 * * * * *", "period": Duration(15 * M), "align": True}
    )
    tick = s.first(T0)
    assert tick == ns("2020-01-01 10:15:00")
    assert s.after(tick) == ns("2020-01-01 10:30:00")
    assert s.window(tick) == (ns("2020-01-01 10:00:00"), tick)
    assert not s.align  # align does not apply to cron


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"every": Duration(S), "cron": "* * * * *"},
            "must not set both 'every' and 'cron' properties",
        ),
        ({}, "must define one of 'every' or 'cron'"),
        ({"every": Duration(-S)}, "'every' duration must must non-negative"),
        ({"cron": "* * *", "period": Duration(M)}, "cron expression '* * *' has 3 fields"),
        ({"cron": "@daily"}, "a 'cron' schedule needs a 'period'"),
    ],
)
def test_schedule_refused(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        schedule_from_properties(props)
    assert str(info.value).startswith(message)


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Any:
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_cron_in_local_time_follows_daylight_saving(new_york: Any) -> None:
    """Kapacitor reads cron in the server's zone: 09:00 is 14:00Z in winter, 13:00Z after the
    clocks moved on 2020-03-08."""
    from leyden.engine.cron import LOCAL

    cron = parse_cron("0 0 9 * * * *")
    first = cron.next(ns("2020-03-07 00:00:00"), LOCAL)
    assert first == ns("2020-03-07 14:00:00")
    assert cron.next(first, LOCAL) == ns("2020-03-08 13:00:00")


def test_windows_between_as_record_batch_asks() -> None:
    s = schedule_from_properties(
        {"every": Duration(M), "period": Duration(2 * M), "offset": Duration(10 * S), "align": True}
    )
    start, stop = ns("2020-01-01 10:00:20"), ns("2020-01-01 10:03:00")
    assert s.windows_between(start, stop, now=ns("2020-01-01 10:02:05")) == [
        (ns("2020-01-01 09:58:50"), ns("2020-01-01 10:00:50")),
        (ns("2020-01-01 09:59:50"), ns("2020-01-01 10:01:50")),
    ]
    cron = schedule_from_properties({"cron": "0 0 * * * * *", "period": Duration(H)})
    assert cron.windows_between(
        ns("2020-01-01 10:00:00"), ns("2020-01-01 12:00:00"), now=ns("2021-01-01 00:00:00")
    ) == [
        (ns("2020-01-01 10:00:00"), ns("2020-01-01 11:00:00")),
        (ns("2020-01-01 11:00:00"), ns("2020-01-01 12:00:00")),
    ]


def _matches(fields: list[set[int]], t: int) -> bool:
    dt = datetime.fromtimestamp(t // S, UTC)
    return dt.second in fields[0] and dt.minute in fields[1]


_entry = st.one_of(
    st.just("*"),
    st.integers(0, 59).map(str),
    st.tuples(st.integers(0, 59), st.integers(0, 59)).map(lambda ab: f"{min(ab)}-{max(ab)}"),
    st.integers(1, 59).map(lambda n: f"*/{n}"),
    st.tuples(st.integers(0, 59), st.integers(1, 59)).map(lambda an: f"{an[0]}/{an[1]}"),
)


def _expand(field: str) -> set[int]:
    out: set[int] = set()
    for entry in field.split(","):
        base, _, step = entry.partition("/")
        lo, hi = (0, 59) if base == "*" else (int(base.split("-")[0]), int(base.split("-")[-1]))
        if step and "-" not in base and base != "*":
            hi = 59
        out.update(range(lo, hi + 1, int(step or 1)))
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_entry, min_size=1, max_size=3).map(",".join),
    st.lists(_entry, min_size=1, max_size=3).map(",".join),
    st.integers(0, 4_000_000_000),
)
def test_cron_next_is_the_first_match(seconds: str, minutes: str, after_s: int) -> None:
    """For second and minute fields, ``next`` is the first matching second after ``after``
    (checked one second at a time over the hour that must contain it)."""
    fields = [_expand(seconds), _expand(minutes)]
    got = parse_cron(f"{seconds} {minutes} * * * * *").next(after_s * S)
    assert got is not None and got > after_s * S and _matches(fields, got)
    assert not any(_matches(fields, t * S) for t in range(after_s + 1, got // S))
