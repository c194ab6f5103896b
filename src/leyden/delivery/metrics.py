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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

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
)


class DeliveryCollector:
    """A prometheus-client collector over :class:`DeliveryCounters` and an outbox's ``stats()``.

    Every ``(kind, destination)`` either source knows gets every series (0 when the other has
    nothing), so a destination's queue gauge goes to 0 instead of vanishing once it drains.
    """

    def __init__(self, counters: DeliveryCounters, outbox: _Stats) -> None:
        self._counters = counters
        self._outbox = outbox

    def collect(self) -> Iterator[Metric]:
        stats = {(s.kind, s.destination): s for s in self._outbox.stats()}
        keys = sorted(self._counters.keys() | stats.keys())
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


def metrics_registry(counters: DeliveryCounters, outbox: _Stats) -> CollectorRegistry:
    """A registry of its own holding a :class:`DeliveryCollector`: what ``GET /metrics`` shows."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeliveryCollector(counters, outbox))
    return registry
