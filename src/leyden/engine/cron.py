"""Cron expressions as Kapacitor reads them for ``batch|query().cron('…')``.

Kapacitor uses github.com/gorhill/cronexpr, whose syntax differs from crontab and from most
Python libraries (croniter puts seconds last): fields are ``[seconds] minutes hours
day-of-month month day-of-week [year]``.  Five fields get seconds ``0`` and any year; six get
seconds ``0`` and the sixth is the year; seven are all given.  Values: numbers, ``*`` (``?`` is
the same), ``a-b``, ``*/n``, ``a/n`` (from a to the field's end), ``a-b/n``, lists with ``,``,
month names ``JAN``–``DEC`` and day names ``SUN``–``SAT`` (any case), day-of-week ``7`` =
Sunday.  Macros: ``@yearly`` ``@annually`` ``@monthly`` ``@weekly`` ``@daily`` ``@hourly``.
As in crontab (and cronexpr), when both day-of-month and day-of-week are restricted a day
matching either runs.

Not supported, refused with a clear error: ``L``, ``W`` and ``#`` (last day, nearest weekday,
n-th weekday) and ``@reboot``.  Times are evaluated in a given time zone (Kapacitor: the
server's local zone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["LOCAL", "CronError", "CronExpr", "parse_cron"]


#: the server's local zone (Go's ``time.Local``, in which Kapacitor reads cron expressions):
#: naive datetimes, which Python converts with the C library's rules, daylight saving included
LOCAL: tzinfo | None = None


class CronError(ValueError):
    """A cron expression that cannot be used; the message names the field and the text."""


_MACROS = {
    "@yearly": "0 0 0 1 1 * *",
    "@annually": "0 0 0 1 1 * *",
    "@monthly": "0 0 0 1 * * *",
    "@weekly": "0 0 0 * * 0 *",
    "@daily": "0 0 0 * * * *",
    "@hourly": "0 0 * * * * *",
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_FULL = {
    **{
        m: i
        for i, m in enumerate(
            [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ]
        )
    },
    **{
        d: i
        for i, d in enumerate(
            ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
        )
    },
}

# (name, min, max, names)
_FIELDS: tuple[tuple[str, int, int, list[str]], ...] = (
    ("second", 0, 59, []),
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day-of-month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
    ("year", 1970, 2099, []),
)
_ENTRY = re.compile(r"(?:(?P<star>[*?])|(?P<a>\w+)(?:-(?P<b>\w+))?)(?:/(?P<step>\d+))?\Z")


def _value(text: str, name: str, lo: int, hi: int, names: list[str], whole: str) -> int:
    t = text.lower()
    if names and (t in names or (t in _FULL and t[:3] in names)):
        v = (names.index(t) if t in names else _FULL[t]) + (1 if name == "month" else 0)
    elif t.isdigit():
        v = int(t)
    else:
        raise CronError(f"syntax error in {name} field: '{whole}'")
    if not lo <= v <= hi:
        raise CronError(f"{name} field: {v} is out of range {lo}-{hi} in '{whole}'")
    return v


def _field(text: str, name: str, lo: int, hi: int, names: list[str]) -> tuple[frozenset[int], bool]:
    """The values a field allows, and whether it is restricted (not ``*``)."""
    if any(c in text.upper() for c in "LW#") and name in ("day-of-month", "day-of-week"):
        raise CronError(
            f"{name} field: '{text}': L, W and # are not supported by Leyden's cron schedules"
        )
    values: set[int] = set()
    restricted = False
    for entry in text.split(","):
        m = _ENTRY.match(entry)
        if m is None or not entry:
            raise CronError(f"syntax error in {name} field: '{entry}'")
        step = int(m.group("step")) if m.group("step") else 1
        if m.group("step") and not 1 <= step <= hi:
            raise CronError(f"invalid interval {entry.lower()}")
        if m.group("star"):
            first, last = lo, hi
            if m.group("step"):
                restricted = True
            else:
                values.update(range(lo, hi + 1))
                continue
        else:
            restricted = True
            first = _value(m.group("a"), name, lo, hi, names, entry)
            if m.group("b"):
                last = _value(m.group("b"), name, lo, hi, names, entry)
            elif m.group("step"):
                last = hi
            else:
                last = first
        values.update(range(first, last + 1, step))
    if name == "day-of-week" and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values), restricted


@dataclass(frozen=True, slots=True)
class CronExpr:
    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    years: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def _day_ok(self, dt: datetime) -> bool:
        dom = dt.day in self.days
        dow = (dt.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        if self.days_restricted:
            return dom
        if self.weekdays_restricted:
            return dow
        return True

    def next(self, after_ns: int, tz: tzinfo | None = UTC) -> int | None:
        """The first matching time strictly after ``after_ns`` (whole seconds), or None;
        ``tz`` is the zone the fields are read in (:data:`LOCAL`: the server's)."""
        secs = after_ns // 1_000_000_000 + 1
        dt = datetime.fromtimestamp(secs, tz)
        last_year = max(self.years)
        while dt.year <= last_year:
            if dt.year not in self.years:
                dt = datetime(dt.year + 1, 1, 1, tzinfo=tz)
            elif dt.month not in self.months:
                y, mo = (dt.year + 1, 1) if dt.month == 12 else (dt.year, dt.month + 1)
                dt = datetime(y, mo, 1, tzinfo=tz)
            elif not self._day_ok(dt):
                dt = datetime(dt.year, dt.month, dt.day, tzinfo=tz) + timedelta(days=1)
            elif dt.hour not in self.hours:
                dt = dt.replace(minute=0, second=0) + timedelta(hours=1)
            elif dt.minute not in self.minutes:
                dt = dt.replace(second=0) + timedelta(minutes=1)
            elif dt.second not in self.seconds:
                dt = dt + timedelta(seconds=1)
            else:
                return int(dt.timestamp()) * 1_000_000_000
        return None


def parse_cron(text: str) -> CronExpr:
    """Parse a cronexpr expression; :class:`CronError` says which field is wrong."""
    spec = text.strip()
    if spec.startswith("@"):
        if spec.lower() not in _MACROS:
            raise CronError(f"unknown cron macro '{spec}' (known: {', '.join(_MACROS)})")
        spec = _MACROS[spec.lower()]
    parts = spec.split()
    if len(parts) == 5:
        parts = ["0", *parts, "*"]
    elif len(parts) == 6:
        parts = ["0", *parts]
    elif len(parts) != 7:
        raise CronError(
            f"cron expression '{text}' has {len(parts)} fields, expected 5 to 7 "
            "([seconds] minutes hours day-of-month month day-of-week [year])"
        )
    sets = [_field(p, *f) for p, f in zip(parts, _FIELDS, strict=True)]
    return CronExpr(
        text,
        sets[0][0],
        sets[1][0],
        sets[2][0],
        sets[3][0],
        sets[4][0],
        sets[5][0],
        sets[6][0],
        sets[3][1],
        sets[5][1],
    )
