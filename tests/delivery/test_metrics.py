"""The delivery counters and their Prometheus exposition (issue 10 item 5)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from leyden.delivery.metrics import DeliveryCounters, metrics_registry
from leyden.delivery.outbox import MemoryOutbox, NewDelivery
from leyden.model.alert import Level

HOOK = "https://discord.com/api/webhooks/123/…"


def _new(alert_id: str, destination: str = HOOK, kind: str = "discord") -> NewDelivery:
    return NewDelivery(
        handler="topic:cpu:h",
        kind=kind,
        destination=destination,
        alert_id=alert_id,
        event="{}",
        previous_level=Level.OK,
        context="{}",
    )


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _labels(kind: str = "discord", destination: str = HOOK) -> tuple[tuple[str, str], ...]:
    return (("destination", destination), ("kind", kind))


def test_counters_and_outbox_gauges_per_kind_and_destination() -> None:
    now = [1000.0]
    outbox = MemoryOutbox(clock=lambda: now[0])
    outbox.add([_new("a"), _new("b")])
    now[0] = 1030.0
    outbox.add([_new("c", destination="localhost:9000", kind="tcp")])
    claimed = outbox.claim(1, destination="localhost:9000")
    outbox.mark_dead(outbox.claim(1, destination=HOOK)[0].id, "400 Bad Request")
    counters = DeliveryCounters()
    counters.sent["discord", HOOK] += 3
    counters.retried["discord", HOOK] += 2
    counters.rate_limited["discord", HOOK] += 1
    counters.failed["discord", HOOK] += 3
    counters.dead["discord", HOOK] += 1
    counters.requests["discord", HOOK] += 4
    assert claimed

    got = _samples(metrics_registry(counters, outbox))
    d, t = _labels(), _labels("tcp", "localhost:9000")
    assert got["leyden_deliveries_sent_total", d] == 3
    assert got["leyden_deliveries_retried_total", d] == 2
    assert got["leyden_deliveries_rate_limited_total", d] == 1
    assert got["leyden_deliveries_failed_total", d] == 3
    assert got["leyden_deliveries_dead_lettered_total", d] == 1
    assert got["leyden_delivery_requests_total", d] == 4
    assert got["leyden_deliveries_queued", d] == 1
    assert got["leyden_deliveries_dead", d] == 1
    assert got["leyden_deliveries_in_flight", d] == 0
    assert got["leyden_deliveries_oldest_queued_age_seconds", d] == 30
    # a destination only the outbox knows gets zero counters, and the reverse
    assert got["leyden_deliveries_sent_total", t] == 0
    assert got["leyden_deliveries_in_flight", t] == 1
    assert got["leyden_deliveries_queued", t] == 0


def test_a_drained_destination_keeps_its_series_at_zero() -> None:
    outbox = MemoryOutbox()
    (row_id,) = outbox.add([_new("a")])
    outbox.claim(1)
    outbox.mark_sent(row_id)
    counters = DeliveryCounters()
    counters.sent["discord", HOOK] += 1
    got = _samples(metrics_registry(counters, outbox))
    assert got["leyden_deliveries_queued", _labels()] == 0
    assert got["leyden_deliveries_sent_total", _labels()] == 1


def test_nothing_yet_exposes_the_families_without_series() -> None:
    text = generate_latest(metrics_registry(DeliveryCounters(), MemoryOutbox())).decode()
    assert "# TYPE leyden_deliveries_sent_total counter" in text
    assert "# TYPE leyden_deliveries_queued gauge" in text
    assert "{" not in text


def test_registries_are_separate() -> None:
    a, b = DeliveryCounters(), DeliveryCounters()
    a.sent["post", "http://x/"] += 1
    got = _samples(metrics_registry(b, MemoryOutbox()))
    assert not any(name == "leyden_deliveries_sent_total" for name, _ in got)
