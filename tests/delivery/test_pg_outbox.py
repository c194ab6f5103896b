"""The outbox on PostgreSQL (:mod:`leyden.delivery.pg_outbox`): a turn's topic states and
its delivery rows reach the database in one transaction (same ``xmin``), a failed turn
leaves nothing, rows left in flight by a dead process are sent again after a restart, and
breakers survive a restart."""

from __future__ import annotations

from typing import Any

import pytest

from leyden.delivery.breaker import OpenBreaker
from leyden.delivery.outbox import DeliveryState, NewDelivery
from leyden.delivery.pg_outbox import PostgresBreakerStore, PostgresOutbox
from leyden.go.types import Duration, Time
from leyden.model.alert import EventState, Level
from leyden.store.postgres import PostgresStore


def _state(event_id: str, level: Level = Level.CRITICAL) -> EventState:
    return EventState(event_id, "m", "d", Time(1), Duration(2), level)


def _row(alert_id: str) -> NewDelivery:
    return NewDelivery(
        handler="topic:cpu:h",
        kind="discord",
        destination="https://discord.com/api/webhooks/1/***",
        alert_id=alert_id,
        event="{}",
        previous_level=Level.OK,
        context="{}",
    )


def test_states_and_rows_of_a_turn_commit_in_one_transaction(postgres: Any) -> None:
    url = postgres.database()
    with PostgresStore(url) as store:
        outbox = PostgresOutbox(store)
        with outbox.transaction():
            store.save_event("cpu", _state("a"))
            outbox.add([_row("a"), _row("a")])
        with pytest.raises(RuntimeError), outbox.transaction():
            store.save_event("cpu", _state("b"))
            raise RuntimeError("the turn failed")
        assert store.wait_written(timeout=60)
        xmins = store.query(
            "check",
            "SELECT xmin::text FROM topic_events UNION ALL SELECT xmin::text FROM outbox",
        )
        assert len(xmins) == 3
        assert len({x for (x,) in xmins}) == 1  # one transaction wrote all three
    with PostgresStore(url) as again:
        assert list(again.load_topic("cpu")) == ["a"]
        assert [r.alert_id for r in PostgresOutbox(again).find()] == ["a", "a"]


def test_rows_in_flight_at_a_crash_are_sent_again(postgres: Any) -> None:
    url = postgres.database()
    with PostgresStore(url) as store:
        outbox = PostgresOutbox(store)
        outbox.add([_row("a"), _row("b")])
        claimed = outbox.claim(2)
        assert outbox.mark_sent(claimed[0].id)
    with PostgresStore(url) as again:
        outbox = PostgresOutbox(again)
        [left] = outbox.find()
        assert (left.alert_id, left.state, left.attempts) == ("b", DeliveryState.IN_FLIGHT, 1)
        assert outbox.requeue_in_flight() == 1  # what the dispatcher does at start
        assert [r.alert_id for r in outbox.claim(5)] == ["b"]


def test_breakers_survive_a_restart(postgres: Any) -> None:
    url = postgres.database()
    breaker = OpenBreaker(
        "https://discord.com/api/webhooks/1/***", "discord", "f1", 401, 0, "bad token", 5.0
    )
    with PostgresStore(url) as store:
        breakers = PostgresBreakerStore(store)
        breakers.save(breaker)
        breakers.save(OpenBreaker("x", "post", "f2", 404, None, "gone", 6.0))
        breakers.remove("x")
    with PostgresStore(url) as again:
        assert PostgresBreakerStore(again).load() == [breaker]
