"""The outbox: one suite run against both twins (memory and SQLite), the ordering rule as a
property, and kill -9 with a real process."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leyden.delivery.outbox import (
    DEFAULT_MAX_AGE,
    Delivery,
    DeliveryState,
    DestinationStats,
    MemoryOutbox,
    NewDelivery,
    Outbox,
    SqliteOutbox,
    task_handler_key,
    topic_handler_key,
)
from leyden.delivery.pg_outbox import PostgresOutbox
from leyden.go.types import Duration, GoStruct, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.model.alertdata import event_to_json
from leyden.store import Store, StoreError
from leyden.store.postgres import PostgresStore

T0 = 1_750_000_000.0
HOOK_A = "https://discord.com/api/v10/webhooks/111/***"
HOOK_B = "https://discord.com/api/v10/webhooks/222/***"


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _event(alert_id: str, level: Level, previous: Level = Level.OK, *, time: int = 5) -> Event:
    return Event(
        topic="main:cpu:alert2",
        state=EventState(
            id=alert_id,
            message=f"{alert_id} is {level} <now>",
            details="<b>d</b>",
            time=Time(1_700_000_000_123_456_789 + time),
            duration=Duration(60_000_000_000),
            level=level,
        ),
        data=EventData(
            name="cpu",
            task_name="cpu",
            category="",
            group="host=a",
            tags={"host": "a"},
            fields={"usage_idle": 3.5, "n": 10},
            recoverable=True,
            result={
                "series": [
                    GoStruct(  # as the engine builds a row (leyden.engine.result)
                        {
                            "name": "cpu",
                            "tags": {"host": "a"},
                            "columns": ["time", "usage_idle"],
                            "values": [[Time(1_700_000_000_000_000_000), 10.0]],
                        },
                        type_name="models.Row",
                    )
                ]
            },
        ),
        previous_level=previous,
    )


def _new(
    alert_id: str,
    level: Level = Level.CRITICAL,
    *,
    destination: str = HOOK_A,
    handler: str = topic_handler_key("cpu", "discord"),
    kind: str = "discord",
) -> NewDelivery:
    return NewDelivery.of(
        _event(alert_id, level), handler=handler, kind=kind, destination=destination
    )


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def twin(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Outbox, FakeClock]]:
    clock = FakeClock()
    if request.param == "memory":
        yield MemoryOutbox(clock), clock
        return
    if request.param == "postgres":
        cluster = request.getfixturevalue("postgres")
        with PostgresStore(cluster.database()) as pg:
            outbox = PostgresOutbox(pg, clock)
            yield outbox, clock
            # what the journal wrote is what the outbox holds
            assert pg.wait_written(timeout=60)
            assert PostgresOutbox(pg, clock).find() == outbox.find()
        return
    with Store(tmp_path / "leyden.db") as store:
        yield SqliteOutbox(store, clock), clock


def _ids(rows: list[Delivery]) -> list[int]:
    return [row.id for row in rows]


# --- the suite both twins answer ---------------------------------------------------------------


def test_added_rows_are_queued_and_due_now(twin: tuple[Outbox, FakeClock]) -> None:
    outbox, _ = twin
    assert outbox.add([_new("a"), _new("b", Level.WARNING)]) == [1, 2]
    assert outbox.add([]) == []
    row = outbox.get(2)
    assert row is not None
    assert row == Delivery(
        id=2,
        handler="topic:cpu:discord",
        kind="discord",
        destination=HOOK_A,
        alert_id="b",
        event=_new("b", Level.WARNING).event,
        previous_level=Level.OK,
        context=row.context,
        state=DeliveryState.QUEUED,
        attempts=0,
        next_attempt=T0,
        created=T0,
        last_error="",
    )
    assert outbox.get(99) is None


def test_an_ok_never_overtakes_its_critical(twin: tuple[Outbox, FakeClock]) -> None:
    outbox, _ = twin
    outbox.add(
        [
            _new("a", Level.CRITICAL),  # 1
            _new("a", Level.OK),  # 2: waits for 1
            _new("b", Level.CRITICAL),  # 3: another alert, free
            _new("a", Level.CRITICAL, destination=HOOK_B),  # 4: another destination, free
        ]
    )
    claimed = outbox.claim(10)
    assert _ids(claimed) == [1, 3, 4]
    assert {r.state for r in claimed} == {DeliveryState.IN_FLIGHT}
    assert {r.attempts for r in claimed} == {1}
    assert outbox.claim(10) == []  # 2 still waits: 1 is in flight
    assert outbox.mark_sent(1) is True
    assert outbox.get(1) is None  # sent rows are deleted
    assert _ids(outbox.claim(10)) == [2]
    assert outbox.mark_sent(1) is False


def test_a_row_waiting_out_a_backoff_still_holds_back_its_successors(
    twin: tuple[Outbox, FakeClock],
) -> None:
    outbox, clock = twin
    outbox.add([_new("a"), _new("a", Level.OK)])
    assert _ids(outbox.claim(10)) == [1]
    assert outbox.retry_at(1, T0 + 30, "HTTP 500 from Discord") is True
    row = outbox.get(1)
    assert row is not None
    assert (row.state, row.next_attempt, row.last_error) == (
        DeliveryState.QUEUED,
        T0 + 30,
        "HTTP 500 from Discord",
    )
    clock.advance(29.9)
    assert outbox.claim(10) == []
    clock.advance(0.1)
    again = outbox.claim(10)
    assert _ids(again) == [1]
    assert again[0].attempts == 2


def test_a_dead_row_no_longer_holds_back(twin: tuple[Outbox, FakeClock]) -> None:
    outbox, _ = twin
    outbox.add([_new("a"), _new("a", Level.OK)])
    outbox.claim(10)
    assert outbox.mark_dead(1, "HTTP 404: Unknown Webhook") is True
    assert outbox.mark_dead(1, "again") is False  # already dead
    assert outbox.retry_at(1, T0, "x") is False
    dead = outbox.get(1)
    assert dead is not None
    assert (dead.state, dead.last_error) == (DeliveryState.DEAD, "HTTP 404: Unknown Webhook")
    assert _ids(outbox.claim(10)) == [2]


def test_claim_by_destination_skip_and_limit(twin: tuple[Outbox, FakeClock]) -> None:
    outbox, _ = twin
    outbox.add([_new(f"x{i}", destination=HOOK_A if i % 2 else HOOK_B) for i in range(6)])
    assert _ids(outbox.claim(2, destination=HOOK_A)) == [2, 4]
    assert _ids(outbox.claim(10, skip={HOOK_B})) == [6]
    assert _ids(outbox.claim(2)) == [1, 3]
    assert _ids(outbox.claim(0)) == []
    assert _ids(outbox.claim(5)) == [5]


def test_requeue_in_flight_after_a_crash(twin: tuple[Outbox, FakeClock]) -> None:
    outbox, clock = twin
    outbox.add([_new("a"), _new("b"), _new("c")])
    outbox.claim(2)
    clock.advance(5)
    assert outbox.requeue_in_flight() == 2
    assert [(r.state, r.next_attempt, r.attempts) for r in outbox.find()] == [
        (DeliveryState.QUEUED, T0 + 5, 1),
        (DeliveryState.QUEUED, T0 + 5, 1),
        (DeliveryState.QUEUED, T0, 0),
    ]
    assert outbox.requeue_in_flight() == 0


def test_expire_dead_letters_old_queued_rows_with_a_reason(
    twin: tuple[Outbox, FakeClock],
) -> None:
    outbox, clock = twin
    outbox.add([_new("old"), _new("flying")])
    outbox.claim(1, destination=HOOK_A, skip=())  # "old" is in flight…
    outbox.retry_at(1, T0 + DEFAULT_MAX_AGE * 2, "HTTP 503")  # …then waits far ahead
    outbox.claim(1)  # "flying" is in flight: its request is under way, it is not expired
    clock.advance(3600)
    outbox.add([_new("young")])
    clock.advance(DEFAULT_MAX_AGE - 3600 + 1)
    expired = outbox.expire()
    assert _ids(expired) == [1]
    assert expired[0].state == DeliveryState.DEAD
    assert expired[0].last_error == "expired: not delivered within 24h0m0s"
    assert outbox.get(1) == expired[0]
    assert outbox.expire() == []
    assert _ids(outbox.expire(max_age=60)) == [3]
    assert outbox.get(3).last_error == "expired: not delivered within 1m0s"  # type: ignore[union-attr]


def test_find_by_glob_and_state(twin: tuple[Outbox, FakeClock]) -> None:
    outbox, _ = twin
    outbox.add(
        [
            _new("serverA"),
            _new("serverB", destination=HOOK_B),
            _new("db1", handler=task_handler_key("disk", "alert3", 0), kind="post"),
        ]
    )
    outbox.claim(1)
    assert _ids(outbox.find()) == [1, 2, 3]
    assert _ids(outbox.find("server*")) == [1, 2]
    assert _ids(outbox.find("*/222/*")) == [2]
    assert _ids(outbox.find("task:disk:*")) == [3]
    assert _ids(outbox.find(state=DeliveryState.IN_FLIGHT)) == [1]
    assert _ids(outbox.find("server*", state=DeliveryState.QUEUED)) == [2]
    assert outbox.find("nothing") == []
    # at most ``limit`` rows, the first by id, with or without a state or a pattern
    assert _ids(outbox.find(limit=2)) == [1, 2]
    assert _ids(outbox.find(state=DeliveryState.QUEUED, limit=1)) == [2]
    assert _ids(outbox.find("*/222/*", limit=1)) == [2]
    assert _ids(outbox.find("task:*", state=DeliveryState.QUEUED, limit=5)) == [3]
    assert outbox.find(limit=0) == []


def test_operator_retry_and_delete(twin: tuple[Outbox, FakeClock]) -> None:
    outbox, clock = twin
    outbox.add([_new("a"), _new("b"), _new("c"), _new("d")])
    outbox.claim(4)
    outbox.mark_dead(1, "HTTP 400")
    outbox.mark_dead(2, "HTTP 400")
    outbox.retry_at(3, T0 + 600, "HTTP 500")
    clock.advance(10)
    assert outbox.retry(3) is True  # waiting: due now
    assert outbox.get(3).next_attempt == T0 + 10  # type: ignore[union-attr]
    assert outbox.retry(4) is False  # in flight: already being tried
    assert outbox.retry(99) is False
    assert outbox.retry(1) is True
    assert outbox.get(1).state == DeliveryState.QUEUED  # type: ignore[union-attr]
    assert outbox.get(1).last_error == "HTTP 400"  # type: ignore[union-attr]
    assert outbox.retry_all() == 1
    assert outbox.retry_all() == 0
    assert outbox.delete(2) is True
    assert outbox.delete(2) is False
    assert _ids(outbox.find()) == [1, 3, 4]


def test_mark_handler_dead(twin: tuple[Outbox, FakeClock]) -> None:
    outbox, _ = twin
    gone = topic_handler_key("cpu", "old")
    outbox.add([_new("a", handler=gone), _new("b", handler=gone), _new("c")])
    outbox.claim(1)  # 1 is in flight: its outcome still comes back
    assert outbox.mark_handler_dead(gone, "handler deleted") == 1
    assert [(r.id, r.state) for r in outbox.find()] == [
        (1, DeliveryState.IN_FLIGHT),
        (2, DeliveryState.DEAD),
        (3, DeliveryState.QUEUED),
    ]


def test_stats_per_kind_and_destination(twin: tuple[Outbox, FakeClock]) -> None:
    outbox, clock = twin
    outbox.add([_new("a"), _new("b")])
    clock.advance(5)
    outbox.add([_new("c"), _new("d", destination=HOOK_B), _new("e", kind="post")])
    outbox.claim(1)
    outbox.mark_dead(outbox.claim(1, destination=HOOK_B)[0].id, "HTTP 404")
    clock.advance(2)
    assert outbox.stats() == [
        DestinationStats("discord", HOOK_A, queued=2, in_flight=1, dead=0, oldest_queued_age=7.0),
        DestinationStats("discord", HOOK_B, queued=0, in_flight=0, dead=1, oldest_queued_age=0.0),
        DestinationStats("post", HOOK_A, queued=1, in_flight=0, dead=0, oldest_queued_age=2.0),
    ]


def test_the_stored_event_rebuilds_the_event(twin: tuple[Outbox, FakeClock]) -> None:
    outbox, _ = twin
    original = _event("a", Level.CRITICAL, previous=Level.WARNING)
    outbox.add([NewDelivery.of(original, handler="h", kind="discord", destination=HOOK_A)])
    row = outbox.get(1)
    assert row is not None
    assert row.previous_level == Level.WARNING
    event = row.to_event()
    assert event_to_json(event) == event_to_json(original)
    assert event.topic == original.topic
    assert event.state == original.state
    assert event.previous_level == Level.WARNING
    assert event.template_data() == original.template_data()
    assert (event.data.category, event.data.recoverable) == ("", True)


def test_unreadable_event_is_a_clear_error() -> None:
    outbox = MemoryOutbox()
    outbox.add([_new("a")])
    row = outbox.get(1)
    assert row is not None
    broken = Delivery(**{**{f: getattr(row, f) for f in row.__slots__}, "event": "{"})
    with pytest.raises(ValueError, match="delivery 1: the stored event is unreadable"):
        broken.to_event()


def test_handler_keys_are_stable_and_unambiguous() -> None:
    assert topic_handler_key("cpu", "discord-1") == "topic:cpu:discord-1"
    assert topic_handler_key("main:cpu:alert2", "x") == "topic:main%3Acpu%3Aalert2:x"
    assert topic_handler_key("a:b", "c") != topic_handler_key("a", "b:c")
    assert task_handler_key("cpu", "alert2", 1) == "task:cpu:alert2:1"


# --- both twins give the same answers; the ordering rule holds ---------------------------------

_OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.lists(
                st.tuples(st.sampled_from("xyz"), st.sampled_from([HOOK_A, HOOK_B])),
                max_size=3,
            ),
        ),
        st.tuples(st.just("claim"), st.integers(0, 4)),
        st.tuples(st.just("sent"), st.integers(1, 12)),
        st.tuples(st.just("retry_at"), st.integers(1, 12)),
        st.tuples(st.just("dead"), st.integers(1, 12)),
        st.tuples(st.just("tick"), st.integers(0, 20)),
        st.tuples(st.just("requeue"), st.none()),
    ),
    max_size=40,
)


def _apply(outbox: Outbox, clock: FakeClock, op: str, arg: Any) -> Any:
    if op == "add":
        return outbox.add([_new(alert, destination=dest) for alert, dest in arg])
    if op == "claim":
        return outbox.claim(arg)
    if op == "sent":
        return outbox.mark_sent(arg)
    if op == "retry_at":
        return outbox.retry_at(arg, clock.now + 10, "HTTP 500")
    if op == "dead":
        return outbox.mark_dead(arg, "HTTP 400")
    if op == "tick":
        clock.advance(arg)
        return None
    return outbox.requeue_in_flight()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_OPS)
def test_memory_and_sqlite_give_the_same_answers(ops: list[tuple[str, Any]]) -> None:
    memory_clock, sqlite_clock = FakeClock(), FakeClock()
    memory = MemoryOutbox(memory_clock)
    with Store(":memory:") as store:
        sqlite = SqliteOutbox(store, sqlite_clock)
        for op, arg in ops:
            assert _apply(memory, memory_clock, op, arg) == _apply(sqlite, sqlite_clock, op, arg)
            assert memory.find() == sqlite.find()
            assert memory.stats() == sqlite.stats()


@pytest.fixture(scope="module")
def pg_outbox_db(postgres: Any) -> str:
    return str(postgres.database())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_OPS)
def test_postgres_outbox_reads_back_what_it_journaled(
    pg_outbox_db: str, ops: list[tuple[str, Any]]
) -> None:
    """Whatever the operations, the rows the PostgreSQL outbox wrote behind read back as the
    rows it holds, and new IDs continue after the stored ones."""
    clock = FakeClock()
    with PostgresStore(pg_outbox_db) as store:
        store.write_behind("DELETE FROM outbox")  # the previous example's rows
        assert store.wait_written(timeout=60)
        outbox = PostgresOutbox(store, clock)
        assert outbox.find() == []
        for op, arg in ops:
            _apply(outbox, clock, op, arg)
        assert store.wait_written(timeout=60)
        again = PostgresOutbox(store, clock)
        assert again.find() == outbox.find()
        assert again.stats() == outbox.stats()
        assert again.add([_new("after")]) == [outbox._next_id]  # never an ID given before


@settings(max_examples=200, deadline=None)
@given(_OPS)
def test_rows_of_one_destination_and_alert_are_sent_in_the_order_added(
    ops: list[tuple[str, Any]],
) -> None:
    """Whatever fails, waits or crashes, what is sent per (destination, alert ID) keeps the
    order the rows were added in, and nothing is ever in flight twice at once per pair."""
    clock = FakeClock()
    outbox = MemoryOutbox(clock)
    sent: dict[tuple[str, str], list[int]] = {}
    for op, arg in ops:
        if op == "sent":
            row = outbox.get(arg)
            if row is None or row.state != DeliveryState.IN_FLIGHT:
                continue  # only a request in flight can be confirmed
            sent.setdefault((row.destination, row.alert_id), []).append(row.id)
        _apply(outbox, clock, op, arg)
        flying = [(r.destination, r.alert_id) for r in outbox.find(state=DeliveryState.IN_FLIGHT)]
        assert len(flying) == len(set(flying))
    for ids in sent.values():
        assert ids == sorted(ids)


# --- SQLite: one transaction with the topic state, kill -9 --------------------------------------


def test_topic_state_and_rows_commit_together(tmp_path: Path) -> None:
    with Store(tmp_path / "leyden.db") as store:
        outbox = SqliteOutbox(store)
        event = _event("a", Level.CRITICAL)
        with outbox.transaction():
            store.save_event_state("cpu", event.state)
            outbox.add([_new("a")])
        assert list(store.load_event_states("cpu")) == ["a"]
        with pytest.raises(RuntimeError), outbox.transaction():
            store.save_event_state("cpu", _event("b", Level.CRITICAL).state)
            outbox.add([_new("b")])
            raise RuntimeError("the event loop turn failed")
        assert list(store.load_event_states("cpu")) == ["a"]
        assert [r.alert_id for r in outbox.find()] == ["a"]


def test_store_errors_name_the_file(tmp_path: Path) -> None:
    store = Store(tmp_path / "leyden.db")
    outbox = SqliteOutbox(store)
    store.close()
    with pytest.raises(StoreError, match="the store is closed"):
        outbox.add([_new("a")])


def _run_child(db: Path, body: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a fresh interpreter with ``store`` and ``outbox`` open on ``db``."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from leyden.delivery.outbox import *
        from leyden.store import Store
        from leyden.model.alert import *
        from leyden.go.types import *
        store = Store({str(db)!r})
        outbox = SqliteOutbox(store)
        def new(alert, level):
            state = EventState(alert, alert, "", Time(0), Duration(0), level)
            event = Event("cpu", state, EventData(task_name="cpu"))
            return NewDelivery.of(event, handler="topic:cpu:d", kind="discord", destination="D")
        """
    )
    script += textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)


def test_kill_9_loses_nothing_and_keeps_the_order(tmp_path: Path) -> None:
    db = tmp_path / "leyden.db"
    done = _run_child(
        db,
        """
        for i in range(50):
            with outbox.transaction():
                state = EventState(f"a{i}", "", "", Time(0), Duration(0), Level.CRITICAL)
                store.save_event_state("cpu", state)
                outbox.add([new(f"a{i}", Level.CRITICAL)])
        outbox.add([new(f"a{i}", Level.OK) for i in range(50)])
        flying = outbox.claim(10)
        assert len(flying) == 10, flying
        outbox.mark_sent(flying[0].id)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    with Store(db) as store:
        outbox = SqliteOutbox(store)
        assert len(store.load_event_states("cpu")) == 50
        assert outbox.requeue_in_flight() == 9  # sent again: the only possible duplicates
        rows = outbox.find()
        assert len(rows) == 99
        assert {r.state for r in rows} == {DeliveryState.QUEUED}
        order: list[tuple[str, Level]] = []
        while batch := outbox.claim(7):
            for row in batch:
                order.append((row.alert_id, row.to_event().state.level))
                outbox.mark_sent(row.id)
    assert len(order) == 99
    for i in range(1, 50):  # every CRITICAL before its OK
        assert order.index((f"a{i}", Level.CRITICAL)) < order.index((f"a{i}", Level.OK))


def test_kill_9_inside_a_unit_of_work_leaves_neither_state_nor_rows(tmp_path: Path) -> None:
    db = tmp_path / "leyden.db"
    done = _run_child(
        db,
        """
        outbox.add([new("before", Level.CRITICAL)])
        with outbox.transaction():
            store.save_event_state(
                "cpu", EventState("x", "", "", Time(0), Duration(0), Level.CRITICAL)
            )
            outbox.add([new("x", Level.CRITICAL)])
            os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    with Store(db) as store:
        assert store.load_event_states("cpu") == {}
        assert [r.alert_id for r in SqliteOutbox(store).find()] == ["before"]
