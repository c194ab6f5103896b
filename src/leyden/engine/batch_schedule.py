"""When a ``batch|query()`` node runs, and which time range each run asks for.

Kapacitor (``batch.go``: ``newQueryNode``, ``timeTicker``, ``cronTicker``, ``doQuery``):

* ``.every(d)``: a ticker started with the task; without ``.align()`` the first run is ``d``
  after the start, then every ``d``; with ``.align()`` runs fall on multiples of ``d`` (the
  first at the start truncated to ``d`` plus ``d``).  A run that finds the next tick already
  past does not queue a burst: as Go's ticker, at most one late run, then back on the beat.
* ``.cron('…')``: runs at each time the expression matches (:mod:`leyden.engine.cron`);
  ``.align()`` does not apply.
* each run at time ``t`` queries ``[t - offset - period, t - offset)``.

Refused as Kapacitor refuses them: both ``every`` and ``cron``, neither, a negative ``every``,
a cron expression that does not parse.  Leyden differs in one place: without ``.period()``
Kapacitor queries an empty range (``time >= t AND time < t``) and so never finds data; here
``period`` defaults to ``every``, and a ``cron`` schedule without a ``period`` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from leyden.engine.cron import CronError, CronExpr, parse_cron
from leyden.go import time as gotime

__all__ = ["Schedule", "ScheduleError", "schedule_from_properties"]


class ScheduleError(ValueError):
    """A ``query`` node's schedule that cannot run; Kapacitor's message where it has one."""


@dataclass(frozen=True, slots=True)
class Schedule:
    every: int = 0  # ns; 0 with a cron expression
    period: int = 0
    offset: int = 0
    align: bool = False
    cron: CronExpr | None = None
    tz: tzinfo | None = UTC  # the zone cron expressions are read in (None: local)

    def first(self, now: int) -> int | None:
        """The first run time for a node started at ``now`` (None: a cron that never matches)."""
        if self.cron is not None:
            return self.cron.next(now, self.tz)
        if self.align:
            return gotime.truncate(now, self.every) + self.every
        return now + self.every

    def after(self, tick: int, now: int | None = None) -> int | None:
        """The run after the one at ``tick``; with ``now`` (when the run finished), ticks
        missed meanwhile collapse into one late run, as Go's ticker drops them."""
        if self.cron is not None:
            return self.cron.next(tick if now is None else max(tick, now - 1), self.tz)
        nxt = tick + self.every
        if now is not None and nxt + self.every <= now:
            nxt += (now - nxt) // self.every * self.every
        return nxt

    def windows_between(self, start: int, stop: int, now: int) -> list[tuple[int, int]]:
        """The ``[start, stop)`` of each run between ``start`` and ``stop`` that has already
        happened by ``now``: what Kapacitor's ``QueryNode.Queries`` gives ``record batch``
        (its ticker's ``Next``: ``every`` later, rounded to ``every`` when aligned)."""
        out: list[tuple[int, int]] = []
        current: int | None = start
        while True:
            if self.cron is not None:
                current = self.cron.next(current, self.tz) if current is not None else None
            elif current is not None:
                current = current + self.every
                if self.align:
                    current = gotime.round_(current, self.every)
            if current is None or current > stop:
                return out
            if current - self.offset > now:
                return out
            out.append(self.window(current))

    def window(self, tick: int) -> tuple[int, int]:
        """``[start, stop)`` queried by the run at ``tick``."""
        stop = tick - self.offset
        return stop - self.period, stop


def schedule_from_properties(props: dict[str, Any], *, tz: tzinfo | None = UTC) -> Schedule:
    """The schedule of a ``query`` node from its TICKscript properties."""
    every = int(props.get("every") or 0)
    cron_text = str(props.get("cron") or "")
    period = int(props.get("period") or 0)
    offset = int(props.get("offset") or 0)
    if every != 0 and cron_text:
        raise ScheduleError("must not set both 'every' and 'cron' properties")
    cron: CronExpr | None = None
    if every > 0:
        pass
    elif cron_text:
        try:
            cron = parse_cron(cron_text)
        except CronError as exc:
            raise ScheduleError(str(exc)) from None
        if period <= 0:
            raise ScheduleError(
                "a 'cron' schedule needs a 'period': the length of time each run queries"
            )
    elif every < 0:
        raise ScheduleError("'every' duration must must non-negative")
    else:
        raise ScheduleError("must define one of 'every' or 'cron'")
    if period < 0:
        raise ScheduleError("'period' must not be negative")
    return Schedule(
        every=every,
        period=period or every,
        offset=offset,
        align=bool(props.get("align")) and cron is None,
        cron=cron,
        tz=tz,
    )
