"""Topics: state per event ID, previous levels, handlers behind the outbox, group commit,
persistence and inhibition."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leyden.alerting import topics as topics_module
from leyden.alerting.topics import (
    HandlerLabel,
    InhibitorLookup,
    MemoryTopicStore,
    Topics,
)
from leyden.delivery.dispatcher import Dispatcher
from leyden.delivery.outbox import MemoryOutbox
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Inhibitor, Level
from leyden.notify.base import HandlerError
from leyden.store import Store


def event(
    level: Level, id: str = "cpu:host=a", topic: str = "t", time_s: int = 1, message: str = ""
) -> Event:
    return Event(
        topic=topic,
        state=EventState(
            id=id,
            message=message or f"{id} is {level}",
            details="",
            time=Time(time_s * 1_000_000_000),
            duration=Duration(0),
            level=level,
        ),
        data=EventData(name="cpu", task_name="task", tags={"host": "a"}),
    )


class Recorder:
    """A handler that remembers what it got, optionally waiting for a gate or failing."""

    kind = "recorder"

    def __init__(self, gate: asyncio.Event | None = None, fail_on: set[str] | None = None):
        self.events: list[Event] = []
        self.gate = gate
        self.fail_on = fail_on or set()
        self.closed = False

    async def handle(self, ev: Event) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if ev.state.message in self.fail_on:
            raise HandlerError(f"could not deliver {ev.state.message}")
        if ev.state.message == "boom":
            raise RuntimeError("http://secret.example/token-in-an-unexpected-error")
        self.events.append(ev)

    async def close(self) -> None:
        self.closed = True


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def fields(self) -> list[dict[str, str]]:
        return [getattr(r, "fields", {}) for r in self.records]


@pytest.fixture
def logs() -> Iterator[Capture]:
    capture = Capture()
    logger = logging.getLogger("leyden.alert")
    old = logger.level
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    yield capture
    logger.removeHandler(capture)
    logger.setLevel(old)


LABEL = HandlerLabel("recorder", task="cpu", node="alert2")


async def test_previous_level_comes_from_the_topic() -> None:
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    seen = [
        topics.collect(event(level)).previous_level
        for level in (Level.WARNING, Level.CRITICAL, Level.CRITICAL, Level.OK, Level.INFO)
    ]
    assert seen == [Level.OK, Level.WARNING, Level.CRITICAL, Level.CRITICAL, Level.OK]
    # Other IDs have their own history.
    assert topics.collect(event(Level.INFO, id="other")).previous_level == Level.OK
    topic = topics.get("t")
    assert topic is not None and topic.collected == 6


async def test_collect_returns_a_copy_naming_the_topic() -> None:
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    original = event(Level.CRITICAL, topic="somewhere")
    original.topic = "t"
    out = topics.collect(original)
    assert out is not original and out.topic == "t"
    assert original.previous_level == Level.OK


async def test_topic_level_is_the_true_maximum() -> None:
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    # Kapacitor's comparator would report the level of whichever ID sorts first.
    topics.collect(event(Level.INFO, id="a"))
    topics.collect(event(Level.CRITICAL, id="b"))
    topics.collect(event(Level.WARNING, id="c"))
    topic = topics.get("t")
    assert topic is not None
    assert topic.max_level() == Level.CRITICAL
    assert list(topic.event_states(Level.WARNING)) == ["b", "c"]
    topics.collect(event(Level.OK, id="b"))
    assert topic.max_level() == Level.WARNING
    assert topic.event_state("b") is not None  # OK is remembered in memory
    assert topics.states() == {"t": topic.state()}
    assert topics.states(min_level=Level.CRITICAL) == {}
    assert topics.states(pattern="x*") == {}
    assert list(topics.states(pattern="t*")) == ["t"]


async def test_handlers_get_events_in_order_without_blocking_collect() -> None:
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    gate = asyncio.Event()
    slow, fast = Recorder(gate), Recorder()
    topics.register_handler("t", slow, LABEL)
    topics.register_handler("t", fast, LABEL)
    for i in range(50):
        topics.collect(event(Level.CRITICAL if i % 2 else Level.OK, message=f"m{i}"))
    # collect never waited for the gated handler.
    await asyncio.sleep(0)
    assert slow.events == []
    gate.set()
    await topics.drain()
    expected = [f"m{i}" for i in range(50)]
    assert [e.state.message for e in slow.events] == expected
    assert [e.state.message for e in fast.events] == expected
    assert slow.events[1].previous_level == Level.OK
    assert slow.events[2].previous_level == Level.CRITICAL


async def test_a_failing_handler_is_logged_and_keeps_going(logs: Capture) -> None:
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    handler = Recorder(fail_on={"m1"})
    topics.register_handler("t", handler, LABEL)
    for message in ("m0", "m1", "boom", "m3"):
        topics.collect(event(Level.CRITICAL, message=message))
    await topics.drain()
    assert [e.state.message for e in handler.events] == ["m0", "m3"]
    counters = topics.dispatcher.counters
    assert (sum(counters.sent.values()), sum(counters.dead.values())) == (2, 2)
    failures = [f for f in logs.fields() if f.get("handler") == "recorder"]
    assert [f["reason"] for f in failures] == [
        "could not deliver m1",
        "unexpected RuntimeError",
    ]
    assert failures[0]["task"] == "cpu" and failures[0]["topic"] == "t"
    assert "secret" not in repr([r.__dict__ for r in logs.records])


async def test_a_burst_is_never_dropped() -> None:
    """topic-buffer-length no longer bounds anything: every event is an outbox row."""
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    gate = asyncio.Event()
    handler = Recorder(gate)
    topics.register_handler("t", handler, LABEL)
    for i in range(20):
        topics.collect(event(Level.CRITICAL, id=f"a{i % 3}", message=f"m{i}"))
    gate.set()
    await topics.drain()
    assert sorted(e.state.message for e in handler.events) == sorted(f"m{i}" for i in range(20))
    # order per alert ID is kept
    for alert in ("a0", "a1", "a2"):
        mine = [int(e.state.message[1:]) for e in handler.events if e.state.id == alert]
        assert mine == sorted(mine)


async def test_one_commit_per_turn_holds_states_and_rows() -> None:
    store = MemoryTopicStore()
    topics = Topics(store=store, dispatcher=Dispatcher(MemoryOutbox()))
    topics.register_handler("t", Recorder(), LABEL)
    for i in range(5):
        topics.collect(event(Level.CRITICAL, id=f"a{i}"))
    assert store.topics == {} and topics.dispatcher.outbox.find() == []
    await asyncio.sleep(0)  # the turn ends: one flush
    assert set(store.topics["t"]) == {f"a{i}" for i in range(5)}
    assert len(topics.dispatcher.outbox.find()) == 5


def test_events_collected_without_a_loop_are_delivered_by_drain() -> None:
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    handler = Recorder()
    topics.register_handler("t", handler, LABEL)
    topics.collect(event(Level.CRITICAL))
    assert handler.events == []
    asyncio.run(topics.drain())
    assert len(handler.events) == 1


async def test_same_handler_twice_is_one_registration() -> None:
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    handler = Recorder()
    topics.register_handler("t", handler, LABEL)
    topics.register_handler("t", handler, LABEL)
    topics.collect(event(Level.CRITICAL))
    await topics.drain()
    assert len(handler.events) == 1


async def test_closed_topic_finishes_its_queue_then_closes_handlers() -> None:
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    gate = asyncio.Event()
    handler = Recorder(gate)
    topics.register_handler("t", handler, LABEL)
    topics.collect(event(Level.CRITICAL, message="m0"))
    topics.collect(event(Level.OK, message="m1"))
    topics.close_topic("t")
    assert "t" not in topics
    gate.set()
    await topics.drain()
    assert [e.state.message for e in handler.events] == ["m0", "m1"]
    assert handler.closed


async def test_deregistered_handler_is_closed_after_its_queue() -> None:
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    handler = Recorder()
    topics.register_handler("t", handler, LABEL)
    topics.collect(event(Level.CRITICAL))
    topics.deregister_handler("t", handler)
    topics.collect(event(Level.OK))
    await topics.drain()
    assert len(handler.events) == 1 and handler.closed


async def test_store_keeps_non_ok_states_and_ok_deletes() -> None:
    store = MemoryTopicStore()
    topics = Topics(store=store, dispatcher=Dispatcher(MemoryOutbox()))
    topics.collect(event(Level.CRITICAL, id="a"))
    topics.collect(event(Level.WARNING, id="b"))
    topics.flush()
    assert set(store.topics["t"]) == {"a", "b"}
    topics.collect(event(Level.OK, id="a"))
    topics.flush()
    assert set(store.topics["t"]) == {"b"}


async def test_topic_is_restored_from_the_store_when_reopened() -> None:
    store = MemoryTopicStore()
    topics = Topics(store=store, dispatcher=Dispatcher(MemoryOutbox()))
    topics.collect(event(Level.CRITICAL, id="a", time_s=5))
    topics.close_topic("t")
    assert "t" not in topics
    # A new process (or the task's next start) sees the stored state.
    again = Topics(store=store, dispatcher=Dispatcher(MemoryOutbox()))
    restored = again.ensure("t").event_state("a")
    assert restored is not None and restored.level == Level.CRITICAL
    assert restored.time == Time(5_000_000_000)
    assert again.collect(event(Level.OK, id="a")).previous_level == Level.CRITICAL


async def test_the_latest_event_keeps_its_data_but_not_its_result() -> None:
    """What the status page's Discord preview renders again: the alert's latest state with
    the data behind it (tags for templates and fields) and the level before it, without the
    point or batch; a state restored from the store has empty data."""
    store = MemoryTopicStore()
    topics = Topics(store=store, dispatcher=Dispatcher(MemoryOutbox()))
    first = event(Level.WARNING, id="a", time_s=1)
    first.data.result = {"series": [{"name": "cpu", "values": [[1, 2]]}]}
    topics.collect(first)
    topics.collect(event(Level.CRITICAL, id="a", time_s=2))
    topic = topics.get("t")
    assert topic is not None
    latest = topic.latest_event("a")
    assert latest is not None
    assert latest.state.level == Level.CRITICAL and latest.state.time == Time(2_000_000_000)
    assert latest.previous_level == Level.WARNING
    assert (latest.data.name, latest.data.task_name, latest.data.tags) == (
        "cpu",
        "task",
        {"host": "a"},
    )
    assert latest.data.result == {}
    assert topic.latest_event("nope") is None
    topics.close_topic("t")
    again = Topics(store=store, dispatcher=Dispatcher(MemoryOutbox()))
    restored = again.ensure("t").latest_event("a")
    assert restored is not None and restored.state.level == Level.CRITICAL
    assert restored.data == EventData() and restored.previous_level == Level.OK
    # a state set without an event (an alert node restoring its state) has no data of its own
    again.collect(event(Level.WARNING, id="a", time_s=3))
    again.update_event("t", event(Level.OK, id="a", time_s=4).state)
    restored_here = again.ensure("t").latest_event("a")
    assert restored_here is not None and restored_here.state.level == Level.OK
    assert restored_here.data == EventData() and restored_here.previous_level == Level.OK


class CountingParts:
    """Lazy event parts that count their renders (the alert node's come from its templates)."""

    def __init__(self) -> None:
        self.renders = 0

    def message(self, state: EventState, data: EventData) -> str:
        return f"{state.id} is {state.level}"

    def details(self, state: EventState, data: EventData) -> str:
        self.renders += 1
        return f"{state.message} at {int(state.time)}: {data.fields['v']}"


def lazy_event(parts: CountingParts, level: Level, i: int, id: str = "a") -> Event:
    data = EventData(name="cpu", task_name="task", fields={"v": i})
    return Event("t", EventState.derived(id, i * 1_000_000_000, 0, level, parts, data), data)


async def test_lazy_states_are_rendered_at_commit_once_per_alert(tmp_path: Path) -> None:
    """A storm of lazy states: the store renders the last state of each alert at the commit,
    and a restart restores exactly what was in memory."""
    parts = CountingParts()
    with Store(tmp_path / "leyden.db") as store:
        topics = Topics(store=store, dispatcher=Dispatcher(MemoryOutbox()))
        for i in range(200):
            topics.collect(lazy_event(parts, Level.CRITICAL, i, id="a" if i % 2 else "b"))
        assert parts.renders == 0  # nothing rendered on the per-point path
        topics.flush()
        assert parts.renders == 2  # "a" and "b": their latest states only
        live = topics.get("t")
        assert live is not None
        again = Topics(store=store, dispatcher=Dispatcher(MemoryOutbox()))
        restored = again.ensure("t")
        assert restored.event_states() == live.event_states()
        state = restored.event_state("a")
        assert state is not None
        assert (state.message, state.details) == (
            "a is CRITICAL",
            "a is CRITICAL at 199000000000: 199",
        )
        assert state.time == Time(199_000_000_000) and state.duration == Duration(0)


async def test_delete_topic_forgets_the_stored_state() -> None:
    store = MemoryTopicStore()
    topics = Topics(store=store, dispatcher=Dispatcher(MemoryOutbox()))
    topics.collect(event(Level.CRITICAL))
    topics.delete_topic("t")
    assert store.topics == {}
    assert topics.collect(event(Level.OK)).previous_level == Level.OK


async def test_a_broken_store_is_logged_not_raised(logs: Capture) -> None:
    class Broken(MemoryTopicStore):
        def save_event(self, topic: str, state: EventState) -> None:
            raise OSError("disk full")

    topics = Topics(store=Broken(), dispatcher=Dispatcher(MemoryOutbox()))
    assert topics.collect(event(Level.CRITICAL)).state.level == Level.CRITICAL
    topics.flush()
    assert any("disk full" in f.get("reason", "") for f in logs.fields())


def test_inhibitors_match_category_and_tags_while_active() -> None:
    lookup = InhibitorLookup()
    inhibitor = Inhibitor("system", {"host": "a"})
    lookup.add(inhibitor)
    assert not lookup.is_inhibited("system", {"host": "a"})
    inhibitor.set(True)
    assert lookup.is_inhibited("system", {"host": "a", "cpu": "0"})
    assert not lookup.is_inhibited("system", {"host": "b"})
    assert not lookup.is_inhibited("other", {"host": "a"})
    # A tag the inhibitor lists but the event lacks reads as "" (Go map semantics).
    empty = Inhibitor("system", {"dc": ""})
    empty.set(True)
    lookup.add(empty)
    assert lookup.is_inhibited("system", {"host": "z"})
    lookup.remove(inhibitor)
    lookup.remove(empty)
    lookup.remove(empty)  # twice is harmless
    assert not lookup.is_inhibited("system", {"host": "a"})


async def test_a_reopened_topic_waits_for_the_old_handlers() -> None:
    """A task restarted while its old handlers still deliver must not overtake them."""
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    gate = asyncio.Event()
    old, new = Recorder(gate), Recorder()
    new.events = old.events  # one shared delivery log
    topics.register_handler("t", old, LABEL)
    topics.collect(event(Level.CRITICAL, message="old"))
    topics.close_topic("t")
    topics.register_handler("t", new, LABEL)
    topics.collect(event(Level.OK, message="new"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert old.events == []
    gate.set()
    await topics.drain()
    assert [e.state.message for e in old.events] == ["old", "new"]
    assert old.closed and not new.closed


async def test_a_storm_commits_in_chunks_each_a_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop is never held for a whole storm's commit; each chunk holds its states and
    its rows together."""
    monkeypatch.setattr(topics_module, "COMMIT_CHUNK", 10)
    store = MemoryTopicStore()
    topics = Topics(store=store, dispatcher=Dispatcher(MemoryOutbox()))
    topics.register_handler("t", Recorder(gate=asyncio.Event()), LABEL)
    for i in range(25):
        topics.collect(event(Level.CRITICAL, id=f"a{i:02}"))
    committed = []
    for _ in range(3):
        await asyncio.sleep(0)
        rows = topics.dispatcher.outbox.find()
        committed.append(len(rows))
        assert {r.alert_id for r in rows} == set(store.topics.get("t", {}))
    assert committed == [10, 20, 25]


async def test_a_failed_chunk_loses_only_its_own_events(
    monkeypatch: pytest.MonkeyPatch, logs: Capture
) -> None:
    """A commit that fails loses the events it tried, says how many, and leaves the storm's
    later chunks to their own turns: they were never tried."""
    monkeypatch.setattr(topics_module, "COMMIT_CHUNK", 10)
    topics = Topics(store=MemoryTopicStore(), dispatcher=Dispatcher(MemoryOutbox()))
    topics.register_handler("t", Recorder(gate=asyncio.Event()), LABEL)
    outbox = topics.dispatcher.outbox
    add = outbox.add
    calls = []

    def fail_once(rows: list[Any]) -> None:
        calls.append(len(rows))
        if len(calls) == 1:
            raise OSError("disk I/O error")
        add(rows)

    monkeypatch.setattr(outbox, "add", fail_once)
    for i in range(25):
        topics.collect(event(Level.CRITICAL, id=f"a{i:02}"))
    for _ in range(3):
        await asyncio.sleep(0)
    assert calls == [10, 10, 5]
    assert len(outbox.find()) == 15
    [failed] = [f for f in logs.fields() if f.get("reason", "").startswith("OSError")]
    assert failed["events"] == 10
