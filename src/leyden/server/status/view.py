"""What the status page shows, read from the owners of each fact at request time.

Nothing here counts or decides anything of its own: tasks, their throughput and node
statistics come from the engine snapshot ``/metrics`` reads
(:func:`leyden.server.metrics.engine_snapshot`, :mod:`leyden.tasks.metrics`); topics and their
events from the alert service's :class:`~leyden.alerting.topics.Topics`, as the topics API
reads them; deliveries from the outbox's ``stats()``, the dispatcher's counters and breakers
(what ``leyden_deliveries_*`` shows) and dead letters as the deliveries API shows a row
(:func:`leyden.server.deliveries_api.delivery_json`).  This module only picks, orders and
formats them for people: short durations, ages, levels as CSS classes.

Everything is read in memory except the outbox (SQLite, like the deliveries API's handlers): its
``stats()`` (what ``/metrics`` reads: one ``GROUP BY`` over the rows, so it grows with the
queue) and at most :data:`DEAD_SHOWN` dead rows.  Topics are ordered by the counts the engine
snapshot already made, and only the :data:`TOPICS_SHOWN` most severe are read further, so a
page's size and cost stay bounded with thousands of topics.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leyden.alerting.topics import Topic, Topics
from leyden.delivery.breaker import OpenBreaker
from leyden.delivery.metrics import DeliveryCounters
from leyden.delivery.outbox import DeliveryState, Outbox
from leyden.go.types import Duration, Time
from leyden.model.alert import EventState, Level
from leyden.server.deliveries_api import DELIVERIES_PATH, delivery_json
from leyden.tasks.metrics import EngineSnapshot, NodeSnapshot, TopicSnapshot

__all__ = [
    "DEAD_SHOWN",
    "EVENTS_SHOWN",
    "TOPICS_SHOWN",
    "Deliveries",
    "EventRow",
    "Selection",
    "TaskRow",
    "TopicOrder",
    "TopicRow",
    "ago",
    "deliveries",
    "latest_event",
    "order_topics",
    "tasks",
    "topics",
]

#: the latest events shown per topic (the rest are counted)
EVENTS_SHOWN = 10
#: topics shown, the most severe first (the rest are counted)
TOPICS_SHOWN = 50
#: dead letters shown (the rest are counted)
DEAD_SHOWN = 25

_NS = 1_000_000_000
#: the node statistics shown first, in this order; a kind's own follow by name
_FIRST_STATS = ("collected", "emitted", "errors", "working_cardinality", "avg_exec_time_ns")


def ago(seconds: float) -> str:
    """``12s``, ``4m 20s``, ``3h 5m``, ``2d 1h``: an age for people (two largest units)."""
    left = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count or (unit == "s" and not parts):
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


def _stat_text(name: str, value: Any) -> str:
    if name == "avg_exec_time_ns" and isinstance(value, int | float):
        return str(Duration(int(value)))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --- tasks -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeRow:
    name: str
    kind: str
    #: (statistic, shown value), Kapacitor's names
    stats: tuple[tuple[str, str], ...]
    errors: int


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: str
    type: str
    #: enabled, disabled, or failed (enabled but not executing: its start failed)
    status: str
    executing: bool
    error: str
    #: points (batches) per second into its sources; None when not executing
    throughput: float | None
    dbrps: str
    nodes: tuple[NodeRow, ...]
    #: alert events its alert nodes raised, by level name (Kapacitor's ``*_triggered``)
    alerts: Mapping[str, int]


_TRIGGERED = (
    ("CRITICAL", "crits_triggered"),
    ("WARNING", "warns_triggered"),
    ("INFO", "infos_triggered"),
    ("OK", "oks_triggered"),
)


def _node_row(node: NodeSnapshot) -> NodeRow:
    stats = node.stats
    names = [s for s in _FIRST_STATS if s in stats]
    names += sorted(s for s in stats if s not in _FIRST_STATS)
    errors = stats.get("errors", 0)
    return NodeRow(
        name=node.node,
        kind=node.kind,
        stats=tuple((s, _stat_text(s, stats[s])) for s in names),
        errors=errors if isinstance(errors, int) else 0,
    )


def tasks(snap: EngineSnapshot) -> list[TaskRow]:
    """Every task by ID, with its status as ``list tasks`` shows it (``failed`` for an
    enabled task whose start failed) and the statistics of its nodes in graph order."""
    nodes: dict[str, list[NodeSnapshot]] = {}
    for node in snap.nodes:
        nodes.setdefault(node.task, []).append(node)
    rows = []
    for record in sorted(snap.tasks, key=lambda r: r.id):
        mine = nodes.get(record.id, [])
        alerts: dict[str, int] = {}
        for level, stat in _TRIGGERED:
            count = sum(int(n.stats.get(stat, 0)) for n in mine)
            if count:
                alerts[level] = count
        rows.append(
            TaskRow(
                id=record.id,
                type=record.type,
                status="failed" if snap.failed(record) else record.status,
                executing=snap.executing(record.id),
                error=record.error,
                throughput=snap.throughput.get(record.id),
                dbrps=", ".join(f'"{db}"."{rp}"' for db, rp in record.dbrps),
                nodes=tuple(_node_row(n) for n in mine),
                alerts=alerts,
            )
        )
    return rows


# --- topics and events -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selection:
    """The event whose Discord message is previewed: a topic's event, or a delivery's."""

    topic: str = ""
    event: str = ""
    delivery: int | None = None

    def matches(self, topic: str, event: str) -> bool:
        return self.delivery is None and (self.topic, self.event) == (topic, event)


@dataclass(frozen=True, slots=True)
class EventRow:
    topic: str
    id: str
    level: str
    message: str
    #: RFC 3339, whole seconds
    time: str
    #: seconds since the event's time (negative for a time ahead of the server's clock)
    age: float
    #: seconds since the alert left OK (for an OK event: how long the incident lasted)
    duration: float
    selected: bool


@dataclass(frozen=True, slots=True)
class TopicRow:
    id: str
    level: str
    collected: int
    #: this topic's deliveries lost for good (dead-lettered) since start
    delivery_errors: int
    #: how many events are at each level now, most severe first, zero levels left out
    levels: tuple[tuple[str, int], ...]
    events: tuple[EventRow, ...]
    #: events not shown (older than the shown ones)
    more: int


def _event_row(topic: str, state: EventState, now_ns: int, selection: Selection) -> EventRow:
    return EventRow(
        topic=topic,
        id=state.id,
        level=str(state.level),
        message=state.message,
        time=Time(state.time).rfc3339(),
        age=(now_ns - int(state.time)) / _NS,
        duration=int(state.duration) / _NS,
        selected=selection.matches(topic, state.id),
    )


def _latest(topic: Topic, count: int) -> list[EventState]:
    """The newest ``count`` events; of one time, the most severe first, then by ID."""
    newest = heapq.nsmallest(
        count, topic.events.values(), key=lambda s: (-int(s.time), -s.level, s.id)
    )
    return newest


@dataclass(frozen=True, slots=True)
class TopicOrder:
    """The topics the page lists (the most severe first, at most :data:`TOPICS_SHOWN`), with
    the counts of all of them."""

    shown: list[tuple[Topic, TopicSnapshot, Level]]
    total: int
    #: topics whose most severe event is above OK
    firing: int


def order_topics(store: Topics, counted: Iterable[TopicSnapshot]) -> TopicOrder:
    """The listed topics (a deleted one whose handlers stay is not, as in the topics API) by
    severity, from the counts the engine snapshot already made: no pass over their events."""
    ranked = []
    for c in counted:
        level = max((Level[name] for name, n in c.events.items() if n), default=Level.OK)
        ranked.append((c, level))
    ranked.sort(key=lambda r: (-r[1], r[0].id))
    shown: list[tuple[Topic, TopicSnapshot, Level]] = []
    total = firing = 0
    for c, level in ranked:
        topic = store.listed(c.id)
        if topic is None:
            continue
        total += 1
        firing += level > Level.OK
        if len(shown) < TOPICS_SHOWN:
            shown.append((topic, c, level))
    return TopicOrder(shown, total, firing)


def topics(order: TopicOrder, selection: Selection, now: float | None = None) -> list[TopicRow]:
    """The shown topics: level, how many events at each level, and the latest
    :data:`EVENTS_SHOWN` events, newest first."""
    now_ns = int((time.time() if now is None else now) * _NS)
    rows = []
    for topic, c, level in order.shown:
        latest = _latest(topic, EVENTS_SHOWN)
        levels = sorted(((Level[name], n) for name, n in c.events.items() if n), reverse=True)
        rows.append(
            TopicRow(
                id=topic.id,
                level=str(level),
                collected=c.collected,
                delivery_errors=topic.delivery_errors,
                levels=tuple((str(lv), n) for lv, n in levels),
                events=tuple(_event_row(topic.id, s, now_ns, selection) for s in latest),
                more=len(topic.events) - len(latest),
            )
        )
    return rows


def latest_event(order: TopicOrder) -> Selection:
    """The newest event of the shown topics (what the preview shows when none is chosen); an
    empty selection when none has one."""
    best: tuple[int, str, str] | None = None
    for topic, _, _ in order.shown:
        for state in _latest(topic, 1):
            key = (int(state.time), topic.id, state.id)
            if best is None or key > best:
                best = key
    return Selection() if best is None else Selection(topic=best[1], event=best[2])


# --- deliveries ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DestinationRow:
    kind: str
    destination: str
    queued: int
    in_flight: int
    dead: int
    #: seconds the oldest queued row has waited (0 when none)
    oldest: float
    sent: int
    failed: int
    retried: int
    rate_limited: int
    #: why its rows are held (its breaker is open); empty when it is not
    broken: str


@dataclass
class Deliveries:
    destinations: list[DestinationRow] = field(default_factory=list)
    #: the first :data:`DEAD_SHOWN` dead letters as the deliveries API shows them
    dead: list[Mapping[str, Any]] = field(default_factory=list)
    breakers: list[OpenBreaker] = field(default_factory=list)
    queued: int = 0
    in_flight: int = 0
    dead_total: int = 0
    held: int = 0
    sent: int = 0
    failed: int = 0
    #: 1 while requests to Discord pause (the invalid-request guard spent its budget)
    guard_engaged: bool = False

    @property
    def empty(self) -> bool:
        return not self.destinations and not self.breakers


def deliveries(
    outbox: Outbox,
    counters: DeliveryCounters,
    breakers: Iterable[OpenBreaker],
    *,
    guard_engaged: bool = False,
) -> Deliveries:
    """The outbox now and the dispatcher's totals since start, per (kind, destination), with
    the broken webhooks and the first dead letters."""
    broken = {b.destination: b for b in breakers}
    stats = {(s.kind, s.destination): s for s in outbox.stats()}
    keys = sorted(
        counters.keys() | stats.keys() | {(b.kind, b.destination) for b in broken.values()}
    )
    out = Deliveries(breakers=sorted(broken.values(), key=lambda b: b.destination))
    out.guard_engaged = guard_engaged
    for key in keys:
        row = stats.get(key)
        breaker = broken.get(key[1])
        queued = row.queued if row is not None else 0
        out.destinations.append(
            DestinationRow(
                kind=key[0],
                destination=key[1],
                queued=queued,
                in_flight=row.in_flight if row is not None else 0,
                dead=row.dead if row is not None else 0,
                oldest=row.oldest_queued_age if row is not None else 0.0,
                sent=counters.sent[key],
                failed=counters.failed[key],
                retried=counters.retried[key],
                rate_limited=counters.rate_limited[key],
                broken=breaker.reason if breaker is not None else "",
            )
        )
        out.queued += queued
        out.in_flight += row.in_flight if row is not None else 0
        out.dead_total += row.dead if row is not None else 0
        out.held += queued if breaker is not None else 0
        out.sent += counters.sent[key]
        out.failed += counters.failed[key]
    out.dead = [
        delivery_json(row, breaker=broken.get(row.destination))
        for row in outbox.find(state=DeliveryState.DEAD, limit=DEAD_SHOWN)
    ]
    return out


def retry_path(delivery_id: str | int) -> str:
    """The deliveries API's retry of one row (what the page's button posts to)."""
    return f"{DELIVERIES_PATH}/{delivery_id}/retry"
