"""``kind: aggregate``: the events of an interval folded into one event in another topic.

As Kapacitor's aggregate handler: every ``interval`` with at least one event received, one
event is collected into ``topic`` with the ID ``id``, the rendered ``message`` (a Go template
over ``.Count`` and ``.Interval``), the highest level, the latest time, the longest duration,
the source messages joined by newlines as details, and all source series as data.

Where Leyden differs, as ``compatibility.md`` asks: ``interval`` may be a Go duration string
(``24h``) as well as integer nanoseconds, and zero or negative is refused instead of crashing
the process; ``id`` defaults to the handler's ID instead of the empty string; the interval runs
on the service clock (so tests and replays need no waiting); and events still held when the
handler closes (deleted, replaced, server shutdown) are flushed instead of dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from leyden.alerting.handlers.routing import (
    Collector,
    destination_topic,
    routing_context,
)
from leyden.clock import Clock
from leyden.go.strconv import parse_go_duration
from leyden.go.template import Template, TemplateError, TemplateExecError
from leyden.go.types import Duration, GoStruct, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify.base import HandlerConfigError, HandlerContext, check_keys, option

OPTION_KEYS = ("id", "interval", "topic", "message")
DEFAULT_MESSAGE = "Received {{ .Count }} events in the last {{.Interval}}."


def _message_data(count: int, interval: int) -> GoStruct:
    return GoStruct(
        {"Count": count, "Interval": Duration(interval)}, type_name="alert.aggregateMessageData"
    )


def parse_interval(value: Any) -> int:
    """Nanoseconds (JSON numbers, floats truncated as Go does) or a Go duration string."""
    if isinstance(value, bool) or value is None:
        raise HandlerConfigError(
            "aggregate handler option 'interval' is required: a duration such as 24h or 10m, "
            "or integer nanoseconds"
        )
    if isinstance(value, int | float):
        ns = int(value)
    elif isinstance(value, str):
        try:
            ns = parse_go_duration(value.strip())
        except ValueError as exc:
            raise HandlerConfigError(
                f"aggregate handler option 'interval' {value!r}: {exc}"
            ) from None
    else:
        raise HandlerConfigError(
            f"aggregate handler option 'interval' must be a duration such as 24h or integer "
            f"nanoseconds, got {value!r}"
        )
    if ns <= 0:
        raise HandlerConfigError(
            f"aggregate handler option 'interval' must be positive, got {Duration(ns)}"
        )
    return ns


class AggregateHandler:
    kind = "aggregate"

    def __init__(
        self,
        *,
        interval: int,
        topic: str,
        event_id: str,
        message: Template,
        collect: Collector,
        clock: Clock,
    ) -> None:
        self.interval = interval
        self.topic = topic
        self.event_id = event_id
        self.message = message
        self._collect = collect
        self._clock = clock
        self._events: list[Event] = []
        self._cancel: Callable[[], None] | None = None
        self._next = 0
        self._closed = False
        self._start_ticker()

    def _start_ticker(self) -> None:
        """Tick every interval from now; a wall clock needs a running loop, so without one the
        first event starts the ticker instead."""
        if self._cancel is not None or self._closed:
            return
        try:
            self._next = self._clock.now() + self.interval
            self._cancel = self._clock.call_at(self._next, self._tick)
        except RuntimeError:
            self._cancel = None

    def _tick(self, now: int) -> None:
        # Reschedule from the planned tick, not from ``now``, so late timers do not drift.
        self._next += self.interval
        if self._next <= now:  # the clock jumped (replay): skip the ticks it jumped over
            self._next = now + self.interval - (now - self._next) % self.interval
        self._cancel = self._clock.call_at(self._next, self._tick)
        self.flush()

    def route(self, event: Event) -> None:
        """Hold ``event`` for the next aggregate (called when the turn's events commit)."""
        if self._cancel is None:
            self._start_ticker()
        self._events.append(event)

    async def handle(self, event: Event) -> None:
        self.route(event)

    def flush(self) -> Event | None:
        """Collect the aggregate of the held events (if any) into the destination topic."""
        events, self._events = self._events, []
        if not events:
            return None
        try:
            message = self.message.execute(_message_data(len(events), self.interval))
        except TemplateExecError as exc:  # checked at creation; only data-dependent failures
            message = f"aggregate message template failed: {exc}"
        level = Level.OK
        time = 0
        duration = 0
        series: list[Any] = []
        for e in events:
            level = max(level, e.state.level)
            time = max(time, int(e.state.time))
            duration = max(duration, int(e.state.duration))
            series.extend(e.data.result.get("series") or ())
        aggregate = Event(
            topic=self.topic,
            state=EventState(
                id=self.event_id,
                message=message,
                details="\n".join(e.state.message for e in events),
                time=Time(time),
                duration=Duration(duration),
                level=level,
            ),
            # Kapacitor builds a fresh alert.Event: its data is not recoverable
            # (TestServer_Alert_Aggregate expects recoverable false)
            data=EventData(recoverable=False, result={"series": series} if series else {}),
        )
        self._collect(aggregate)
        return aggregate

    @property
    def pending(self) -> int:
        return len(self._events)

    def discard(self) -> None:
        """Stop ticking and forget held events (a handler built but never used)."""
        self._closed = True
        self._events = []
        if self._cancel is not None:
            self._cancel()
            self._cancel = None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._cancel is not None:
            self._cancel()
            self._cancel = None
        self.flush()


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> AggregateHandler:
    """From a ``kind: aggregate`` handler file's ``options``."""
    check_keys(options, "aggregate", OPTION_KEYS)
    tctx = routing_context(ctx, "aggregate")
    interval = parse_interval(options.get("interval"))
    topic = destination_topic(options, "aggregate", "topic", options.get("topic"))
    text = option(options, "aggregate", "message", str, DEFAULT_MESSAGE)
    try:
        template = Template.parse(text, name="message")
        template.execute(_message_data(0, 0))
    except TemplateError as exc:
        raise HandlerConfigError(f"aggregate handler option 'message': {exc}") from None
    except TemplateExecError as exc:
        raise HandlerConfigError(
            f"failed to evaluate message template with aggregate message data: {exc}"
        ) from None
    event_id = option(options, "aggregate", "id", str, "") or tctx.handler_id
    assert tctx.collect is not None  # routing_context checked it
    if tctx.clock is None:  # a wiring mistake, not the user's: TopicHandlers passes its clock
        raise TypeError("aggregate handlers need the topic handlers' clock")
    return AggregateHandler(
        interval=interval,
        topic=topic,
        event_id=event_id,
        message=template,
        collect=tctx.collect,
        clock=tctx.clock,
    )
