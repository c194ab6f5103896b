"""Delivery metrics: what the dispatcher counts, and the Prometheus view of it and the outbox.

Kapacitor shows a handler's health only as ``alerts_triggered`` and ``errors`` in ``/debug/vars``
and ``show``, with no hint of what is still waiting to be sent (its issue #1607). Issue 10 asks
for more, per handler kind and (redacted) destination: what is queued, in flight and dead now,
and what was sent, retried, answered 429, failed and dead-lettered since start. Two sources hold
those facts, each the only owner of its half:

* :class:`DeliveryCounters`: totals since start, which only the dispatcher sees happen. It bumps
  a :class:`~collections.Counter` keyed by ``(kind, destination)``; nothing here is stored, so a
  restart starts from zero, as Prometheus counters expect (``rate()`` handles resets).
* the outbox's :meth:`~leyden.delivery.outbox.Outbox.stats`: rows queued, in flight and dead
  *now*, and the age of the oldest queued row. They survive a restart with the rows.

:class:`DeliveryCollector` reads both at scrape time and names them the Prometheus way
(``leyden_deliveries_sent_total{kind="discord",destination="…"}``); :func:`metrics_registry`
gives a registry of its own, so several servers in one process (tests) never share series.
Destinations are the outbox's redacted display text (a webhook URL without its token), so a
scrape never shows a secret.

Broken-webhook protection (:mod:`leyden.delivery.breaker`) adds, when the collector is given
the dispatcher's breakers and guard: ``leyden_delivery_breaker_open`` (1 while a destination's
breaker is open), ``leyden_deliveries_held`` (its queued rows, held meanwhile),
``leyden_delivery_breaker_opened_total``, and host-wide ``leyden_delivery_invalid_responses``
(invalid answers in the guard's current window), ``…_invalid_responses_total``,
``leyden_delivery_invalid_guard_engaged`` (1 while requests to Discord are paused) and
``leyden_delivery_invalid_guard_pauses_total``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from leyden.delivery.breaker import InvalidRequestGuard, OpenBreaker
from leyden.delivery.outbox import DestinationStats

__all__ = [
    "DeliveryCollector",
    "DeliveryCounters",
    "Key",
    "metrics_registry",
]

#: what every metric is labelled with: (handler kind, redacted destination)
Key = tuple[str, str]
_LABELS = ("kind", "destination")


class _Stats(Protocol):
    """The part of the outbox the collector reads."""

    def stats(self) -> list[DestinationStats]: ...


@dataclass(slots=True)
class DeliveryCounters:
    """Totals since start per ``(kind, destination)``, bumped by the dispatcher
    (``counters.sent[kind, destination] += n``)."""

    #: rows their handler confirmed
    sent: Counter[Key] = field(default_factory=Counter)
    #: rows put back for another attempt (after a 429, a 5xx, a timeout …)
    retried: Counter[Key] = field(default_factory=Counter)
    #: requests answered 429 Too Many Requests
    rate_limited: Counter[Key] = field(default_factory=Counter)
    #: attempts that did not deliver a row, whether retried or dead-lettered after
    failed: Counter[Key] = field(default_factory=Counter)
    #: rows dead-lettered: a permanent failure, too old, their handler gone, unreadable
    dead: Counter[Key] = field(default_factory=Counter)
    #: requests made (one per batch: a Discord message may carry up to 10 rows)
    requests: Counter[Key] = field(default_factory=Counter)
    #: times the destination's breaker opened (a 401, 403 or 404: the webhook is broken)
    breaker_opened: Counter[Key] = field(default_factory=Counter)

    def keys(self) -> set[Key]:
        """Every ``(kind, destination)`` any counter has seen."""
        seen: set[Key] = set()
        for counter in (
            self.sent,
            self.retried,
            self.rate_limited,
            self.failed,
            self.dead,
            self.requests,
            self.breaker_opened,
        ):
            seen.update(counter)
        return seen


#: (counter field, metric name without ``_total``, help)
_COUNTERS = (
    ("sent", "leyden_deliveries_sent", "Deliveries confirmed by their handler."),
    ("retried", "leyden_deliveries_retried", "Deliveries put back for another attempt."),
    (
        "rate_limited",
        "leyden_deliveries_rate_limited",
        "Delivery requests answered 429 Too Many Requests.",
    ),
    ("failed", "leyden_deliveries_failed", "Delivery attempts that did not deliver."),
    (
        "dead",
        "leyden_deliveries_dead_lettered",
        "Deliveries dead-lettered (permanent failure, too old, handler gone).",
    ),
    ("requests", "leyden_delivery_requests", "Delivery requests made (one per batch)."),
    (
        "breaker_opened",
        "leyden_delivery_breaker_opened",
        "Times a destination's breaker opened (it answered 401, 403 or 404).",
    ),
)


class DeliveryCollector:
    """A prometheus-client collector over :class:`DeliveryCounters` and an outbox's ``stats()``.

    Every ``(kind, destination)`` either source knows gets every series (0 when the other has
    nothing), so a destination's queue gauge goes to 0 instead of vanishing once it drains.
    """

    def __init__(
        self,
        counters: DeliveryCounters,
        outbox: _Stats,
        *,
        breakers: Iterable[OpenBreaker] = (),
        guard: InvalidRequestGuard | None = None,
    ) -> None:
        self._counters = counters
        self._outbox = outbox
        self._breakers = breakers
        self._guard = guard

    def collect(self) -> Iterator[Metric]:
        stats = {(s.kind, s.destination): s for s in self._outbox.stats()}
        broken = {(b.kind, b.destination) for b in self._breakers}
        keys = sorted(self._counters.keys() | stats.keys() | broken)
        for attr, name, doc in _COUNTERS:
            counter: Counter[Key] = getattr(self._counters, attr)
            family = CounterMetricFamily(name, doc, labels=_LABELS)
            for key in keys:
                family.add_metric(key, counter[key])
            yield family
        gauges = (
            ("leyden_deliveries_queued", "Deliveries waiting to be sent.", "queued"),
            ("leyden_deliveries_in_flight", "Deliveries claimed for sending now.", "in_flight"),
            ("leyden_deliveries_dead", "Dead-lettered deliveries kept for the operator.", "dead"),
            (
                "leyden_deliveries_oldest_queued_age_seconds",
                "Age of the oldest queued delivery (0 when none is queued).",
                "oldest_queued_age",
            ),
        )
        for name, doc, attr in gauges:
            gauge = GaugeMetricFamily(name, doc, labels=_LABELS)
            for key in keys:
                row = stats.get(key)
                gauge.add_metric(key, 0 if row is None else getattr(row, attr))
            yield gauge
        open_gauge = GaugeMetricFamily(
            "leyden_delivery_breaker_open",
            "1 while the destination's breaker is open: no request is made to it.",
            labels=_LABELS,
        )
        held = GaugeMetricFamily(
            "leyden_deliveries_held",
            "Queued deliveries held by an open breaker.",
            labels=_LABELS,
        )
        for key in keys:
            row = stats.get(key)
            open_gauge.add_metric(key, 1 if key in broken else 0)
            held.add_metric(key, row.queued if key in broken and row is not None else 0)
        yield open_gauge
        yield held
        if self._guard is not None:
            yield from self._guard_metrics(self._guard)

    @staticmethod
    def _guard_metrics(guard: InvalidRequestGuard) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "leyden_delivery_invalid_responses",
            "Invalid answers (401, 403, 404, 429) to Discord requests, host-wide.",
            value=guard.total,
        )
        yield GaugeMetricFamily(
            "leyden_delivery_invalid_responses_window",
            "Invalid answers in the guard's current window (Cloudflare bans at 10,000 per 10 m).",
            value=guard.in_window(),
        )
        yield GaugeMetricFamily(
            "leyden_delivery_invalid_guard_engaged",
            "1 while requests to Discord pause: the invalid-request budget is spent.",
            value=1 if guard.engaged() else 0,
        )
        yield CounterMetricFamily(
            "leyden_delivery_invalid_guard_pauses",
            "Times the invalid-request guard paused requests to Discord.",
            value=guard.engagements,
        )


def metrics_registry(
    counters: DeliveryCounters,
    outbox: _Stats,
    *,
    breakers: Iterable[OpenBreaker] = (),
    guard: InvalidRequestGuard | None = None,
) -> CollectorRegistry:
    """A registry of its own holding a :class:`DeliveryCollector`: what ``GET /metrics`` shows."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeliveryCollector(counters, outbox, breakers=breakers, guard=guard))
    return registry
