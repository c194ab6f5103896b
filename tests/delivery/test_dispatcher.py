"""The dispatcher on a simulated clock: outages, storms at Discord's limits, order, losses."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from delivery_support import START, Clock, event

from leyden.alerting.topics import HandlerLabel, Topics
from leyden.delivery.dispatcher import DeliverySettings, Dispatcher
from leyden.delivery.outbox import DeliveryState, MemoryOutbox, SqliteOutbox
from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.model.alert import Event, Level
from leyden.notify._http import DeliveryResult
from leyden.notify.base import RateLimit
from leyden.notify.discord.config import DiscordConfig
from leyden.notify.discord.handler import DiscordHandler
from leyden.notify.discord.payload import validate_payload
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.service import DiscordHandlerOptions, DiscordService
from leyden.store import Store


class Flaky:
    """A handler whose destination answers 500 until ``up_at``, then records what it gets."""

    kind = "post"
    max_batch = 1
    paced = False
    destination = "post:http://example/…"
    coalesce_key = destination

    def __init__(self, clock: Clock, up_at: float) -> None:
        self.clock = clock
        self.up_at = up_at
        self.attempts = 0
        self.got: list[tuple[str, Level]] = []

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        self.attempts += 1
        if self.clock.now < self.up_at:
            return DeliveryResult("retry", 500, "Internal Server Error")
        self.got.extend((e.state.id, e.state.level) for e in events)
        return DeliveryResult("delivered", 204)

    async def handle(self, event: Event) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


async def run_until_idle(dispatcher: Dispatcher, clock: Clock, limit: float) -> None:
    """Step, then jump the clock to whatever is due next, until nothing is queued."""
    while clock.now - START <= limit:
        next_at = await dispatcher.step()
        if not dispatcher.outbox.find(state=DeliveryState.QUEUED):
            return
        clock.now = max(clock.now, next_at)
    raise AssertionError(f"still busy after {limit} simulated seconds")


def make(clock: Clock, **settings: float) -> tuple[Topics, Dispatcher]:
    dispatcher = Dispatcher(MemoryOutbox(clock), clock=clock, settings=DeliverySettings(**settings))
    return Topics(dispatcher=dispatcher), dispatcher


async def test_outage_then_recovery_delivers_everything_in_order() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)
    handler = Flaky(clock, up_at=START + 60)
    topics.register_handler("t", handler, HandlerLabel("post", task="t", node="alert2"))
    for i in range(50):
        topics.collect(event(f"a{i}", Level.CRITICAL, 1))
    for i in range(50):
        topics.collect(event(f"a{i}", Level.OK, 2))
    topics.flush()
    await run_until_idle(dispatcher, clock, limit=600)
    assert len(handler.got) == 100
    for i in range(50):
        mine = [level for alert, level in handler.got if alert == f"a{i}"]
        assert mine == [Level.CRITICAL, Level.OK]
    assert dispatcher.outbox.find() == []
    assert sum(dispatcher.counters.dead.values()) == 0
    assert sum(dispatcher.counters.retried.values()) > 0


async def test_a_429_without_retry_after_backs_off_instead_of_retrying_at_once() -> None:
    """A non-Discord endpoint (``.post()``) may answer 429 with no Retry-After: the row backs
    off as after a 5xx (DeliveryResult: no hint, "the dispatcher backs off"), not a hot loop."""
    clock = Clock()
    topics, dispatcher = make(clock, backoff_base=1.0, backoff_cap=60.0)

    class Throttled(Flaky):
        async def send(self, events: Sequence[Event]) -> DeliveryResult:
            self.attempts += 1
            return DeliveryResult("retry", 429, "Too Many Requests")

    handler = Throttled(clock, up_at=0)
    topics.register_handler("t", handler, HandlerLabel("post", task="t", node="alert2"))
    topics.collect(event("a", Level.CRITICAL))
    topics.flush()
    next_at = await asyncio.wait_for(dispatcher.step(), 5)  # a hot loop never ends
    assert handler.attempts == 1
    [row] = dispatcher.outbox.find()
    assert row.next_attempt >= START + 0.5  # backoff(1) with base 1 s, jittered ±50 %
    assert next_at >= START + 0.5
    assert sum(dispatcher.counters.rate_limited.values()) == 1


async def test_permanent_failure_is_dead_lettered_once_and_counted() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)

    class Refused(Flaky):
        async def send(self, events: Sequence[Event]) -> DeliveryResult:
            return DeliveryResult("permanent", 404, "Unknown Webhook (10015)")

    handler = Refused(clock, up_at=0)
    lost: list[tuple[str, int]] = []
    dispatcher.add_loss_listener(lambda key, n: lost.append((key, n)))
    key = topics.register_handler("t", handler, HandlerLabel("post", task="t", node="alert2"))
    topics.collect(event("a", Level.CRITICAL))
    topics.flush()
    await run_until_idle(dispatcher, clock, limit=10)
    [row] = dispatcher.outbox.find()
    assert row.state == DeliveryState.DEAD and "Unknown Webhook" in row.last_error
    assert lost == [(key, 1)]
    state = topics.states()["t"]
    assert state.delivery_errors == 1  # the topic's stats count the loss too


async def test_rows_older_than_max_age_are_dead_lettered() -> None:
    clock = Clock()
    topics, dispatcher = make(clock, max_age=300.0, expire_interval=30.0)
    handler = Flaky(clock, up_at=math.inf)
    topics.register_handler("t", handler, HandlerLabel("post", task="t", node="alert2"))
    topics.collect(event("a", Level.CRITICAL))
    topics.flush()
    await run_until_idle(dispatcher, clock, limit=1000)
    [row] = dispatcher.outbox.find()
    assert row.state == DeliveryState.DEAD and row.last_error.startswith("expired")
    assert dispatcher.losses[row.handler] == 1


async def test_deleting_a_handler_dead_letters_its_rows() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)
    handler = Flaky(clock, up_at=math.inf)
    topics.register_handler("t", handler, HandlerLabel("post", topic="t", id="h1"))
    topics.collect(event("a", Level.CRITICAL))
    topics.flush()
    topics.deregister_handler("t", handler, dead_reason="topic handler t/h1 was deleted")
    [row] = dispatcher.outbox.find()
    assert row.state == DeliveryState.DEAD and row.last_error == "topic handler t/h1 was deleted"


async def test_rows_rebind_to_the_new_handler_after_a_restart() -> None:
    clock = Clock()
    outbox = MemoryOutbox(clock)
    first = Topics(dispatcher=Dispatcher(outbox, clock=clock))
    first.register_handler("t", Flaky(clock, math.inf), HandlerLabel("post", task="t", node="n"))
    first.collect(event("a", Level.CRITICAL))
    first.flush()
    outbox.claim(1)  # in flight when the process died
    # the next process: the same task, a new handler object under the same key
    dispatcher = Dispatcher(outbox, clock=clock)
    topics = Topics(dispatcher=dispatcher)
    handler = Flaky(clock, up_at=0)
    topics.register_handler("t", handler, HandlerLabel("post", task="t", node="n"))
    assert dispatcher.recover() == 1
    await run_until_idle(dispatcher, clock, limit=10)
    assert handler.got == [("a", Level.CRITICAL)]


async def test_a_row_whose_handler_did_not_come_back_is_dead_lettered() -> None:
    clock = Clock()
    outbox = MemoryOutbox(clock)
    first = Topics(dispatcher=Dispatcher(outbox, clock=clock))
    first.register_handler("t", Flaky(clock, math.inf), HandlerLabel("post", task="t", node="n"))
    first.collect(event("a", Level.CRITICAL))
    first.flush()
    dispatcher = Dispatcher(outbox, clock=clock)
    dispatcher.recover()
    await run_until_idle(dispatcher, clock, limit=10)
    [row] = outbox.find()
    assert row.state == DeliveryState.DEAD and "handler not running" in row.last_error


# --- Discord at its real limits --------------------------------------------------------------


@pytest.fixture
async def limited() -> AsyncIterator[tuple[DiscordEmulator, Clock]]:
    clock = Clock()
    emulator = DiscordEmulator(clock=clock, wall_clock=clock)  # 5/2 s, 30/min, 50/s
    await emulator.start("127.0.0.1", 0)
    try:
        yield emulator, clock
    finally:
        await emulator.stop()


async def _no_sleep(seconds: float) -> None:
    return None


async def test_a_storm_of_500_reaches_one_webhook_as_embeds_within_150s(
    limited: tuple[DiscordEmulator, Clock],
) -> None:
    emulator, clock = limited
    service = DiscordService(
        [DiscordConfig(enabled=True, default=True, url=emulator.webhook_url())],
        sender=DiscordSender(clock=clock, sleep=_no_sleep, trust_env=False),
    )
    topics, dispatcher = make(clock)
    handler = DiscordHandler(service, DiscordHandlerOptions(username="leyden"))
    topics.register_handler("t", handler, HandlerLabel("discord", task="t", node="alert2"))
    for i in range(500):
        topics.collect(event(f"a{i:03}", Level.CRITICAL, i))
    topics.flush()
    try:
        await run_until_idle(dispatcher, clock, limit=150)
    finally:
        await service.close()
    embeds = [e for m in emulator.messages for e in m.payload["embeds"]]
    assert len(embeds) == 500
    assert sorted(e["description"] for e in embeds) == sorted(
        f"a{i:03} is CRITICAL ({i})" for i in range(500)
    )
    assert all(len(m.payload["embeds"]) <= 10 for m in emulator.messages)
    assert all(validate_payload(m.payload) == [] for m in emulator.messages)
    assert sum(emulator.rate_limited.values()) <= 3
    assert clock.now - START <= 150


async def test_a_429_holds_the_webhook_without_losing_rows(
    limited: tuple[DiscordEmulator, Clock],
) -> None:
    emulator, clock = limited
    emulator.inject_fault(status=429, count=1, retry_after=5.0)
    service = DiscordService(
        [DiscordConfig(enabled=True, default=True, url=emulator.webhook_url())],
        sender=DiscordSender(clock=clock, sleep=_no_sleep, trust_env=False),
    )
    topics, dispatcher = make(clock)
    handler = DiscordHandler(service, DiscordHandlerOptions())
    topics.register_handler("t", handler, HandlerLabel("discord", task="t", node="alert2"))
    topics.collect(event("a", Level.CRITICAL, 1))
    topics.collect(event("a", Level.OK, 2))
    topics.flush()
    try:
        await run_until_idle(dispatcher, clock, limit=60)
    finally:
        await service.close()
    levels = [e["description"] for m in emulator.messages for e in m.payload["embeds"]]
    assert levels == ["a is CRITICAL (1)", "a is OK (2)"]
    assert clock.now - START >= 5.0
    assert sum(dispatcher.counters.rate_limited.values()) == 1


async def test_state_and_rows_commit_together_and_survive_kill_9(tmp_path: Path) -> None:
    """Group commit on the server's SQLite file; after kill -9 the row in flight is requeued
    and goes to the rebuilt handler; the restored state and the rows agree."""
    clock = Clock()
    path = tmp_path / "leyden.db"
    store = Store(path)
    topics = Topics(store=store, dispatcher=Dispatcher(SqliteOutbox(store, clock), clock=clock))
    label = HandlerLabel("post", task="cpu", node="alert2")
    topics.register_handler("t", Flaky(clock, math.inf), label)
    topics.collect(event("a", Level.CRITICAL))
    topics.collect(event("b", Level.WARNING))
    assert store.load_event_states("t") == {}  # nothing before the turn ends
    topics.flush()
    SqliteOutbox(store, clock).claim(1)  # "a" was being sent when the process died
    store.close()  # only releases the file's lock: no dispatcher stop, as after kill -9
    again = Store(path)
    outbox = SqliteOutbox(again, clock)
    assert set(again.load_event_states("t")) == {"a", "b"}
    assert [(r.alert_id, r.state) for r in outbox.find()] == [
        ("a", DeliveryState.IN_FLIGHT),
        ("b", DeliveryState.QUEUED),
    ]
    dispatcher = Dispatcher(outbox, clock=clock)
    restarted = Topics(store=again, dispatcher=dispatcher)
    handler = Flaky(clock, up_at=0)
    restarted.register_handler("t", handler, label)
    assert dispatcher.recover() == 1
    await run_until_idle(dispatcher, clock, limit=10)
    assert handler.got == [("a", Level.CRITICAL), ("b", Level.WARNING)]
    assert outbox.find() == []
    again.close()


class Batches(Flaky):
    """Records each delivered send's events; coalesces up to 10 (as Discord)."""

    max_batch = 10

    def __init__(self, clock: Clock, up_at: float) -> None:
        super().__init__(clock, up_at)
        self.sends: list[list[tuple[str, Level]]] = []

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        if self.clock.now < self.up_at:
            return DeliveryResult("retry", 503, "Service Unavailable")
        self.sends.append([(e.state.id, e.state.level) for e in events])
        return DeliveryResult("delivered", 204)


async def test_a_backlog_folds_an_alerts_earlier_states_into_its_send() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)
    handler = Batches(clock, up_at=START + 300)  # a 5-minute outage: a backlog
    topics.register_handler("t", handler, HandlerLabel("post", task="t", node="n"))
    for n, level in enumerate([Level.CRITICAL, Level.OK, Level.WARNING, Level.OK]):
        topics.collect(event("flappy", level, n))
    topics.collect(event("steady", Level.CRITICAL, 9))
    topics.flush()
    await run_until_idle(dispatcher, clock, limit=600)
    # one send, in order; the handler sees each alert's latest state last
    assert handler.sends == [
        [
            ("flappy", Level.CRITICAL),
            ("flappy", Level.OK),
            ("flappy", Level.WARNING),
            ("flappy", Level.OK),
            ("steady", Level.CRITICAL),
        ]
    ]
    assert dispatcher.outbox.find() == []


async def test_a_young_backlog_is_not_folded() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)
    handler = Batches(clock, up_at=START + 30)
    topics.register_handler("t", handler, HandlerLabel("post", task="t", node="n"))
    for n, level in enumerate([Level.CRITICAL, Level.OK]):
        topics.collect(event("flappy", level, n))
    topics.flush()
    await run_until_idle(dispatcher, clock, limit=600)
    assert handler.sends == [[("flappy", Level.CRITICAL)], [("flappy", Level.OK)]]


async def test_discord_shows_the_latest_state_as_its_embed_and_a_digest_line(
    limited: tuple[DiscordEmulator, Clock],
) -> None:
    emulator, clock = limited
    service = DiscordService(
        [DiscordConfig(enabled=True, default=True, url=emulator.webhook_url())],
        sender=DiscordSender(clock=clock, sleep=_no_sleep, trust_env=False),
    )
    try:
        result = await service.send(
            [
                event("a", Level.CRITICAL, 1),
                event("b", Level.WARNING, 2),
                event("a", Level.OK, 3),
                event("a", Level.CRITICAL, 4),
            ],
            DiscordHandlerOptions(),
        )
    finally:
        await service.close()
    assert result.delivered
    [message] = emulator.messages
    assert [e["description"] for e in message.payload["embeds"]] == [
        "a is CRITICAL (4)",
        "b is WARNING (2)",
    ]
    assert message.payload["content"] == (
        "Earlier states (backlog): a CRITICAL 00:00:01Z → OK 00:00:03Z"
    )


async def test_a_row_retried_by_an_operator_is_sent_again() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)

    class Once(Flaky):
        async def send(self, events: Sequence[Event]) -> DeliveryResult:
            self.attempts += 1
            if self.attempts == 1:
                return DeliveryResult("permanent", 404, "Unknown Webhook")
            self.got.extend((e.state.id, e.state.level) for e in events)
            return DeliveryResult("delivered", 204)

    handler = Once(clock, up_at=0)
    topics.register_handler("t", handler, HandlerLabel("post", task="t", node="n"))
    topics.collect(event("a", Level.CRITICAL))
    topics.flush()
    await run_until_idle(dispatcher, clock, limit=10)
    [row] = dispatcher.outbox.find()
    assert row.state == DeliveryState.DEAD
    assert dispatcher.outbox.retry(row.id)  # leyden retry-delivery ID
    dispatcher.rescan()
    await run_until_idle(dispatcher, clock, limit=10)
    assert handler.got == [("a", Level.CRITICAL)]


class Limited(Flaky):
    """A Slack-like handler: one message per second per webhook, recorded with its time."""

    kind = "slack"

    def __init__(self, clock: Clock, destination: str, webhook: str) -> None:
        super().__init__(clock, up_at=0)
        self.destination = destination
        self.coalesce_key = destination
        self.rate_limits = (RateLimit(f"slack:{webhook}", 1, 1.0),)
        self.times: list[float] = []

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        self.times.append(self.clock.now)
        return await super().send(events)


async def test_a_storm_is_paced_at_a_declared_rate_limit_shared_by_destinations() -> None:
    """Two destinations (channels) of one webhook share its limit: 40 alerts reach it one per
    second, none lost, none early."""
    clock = Clock()
    topics, dispatcher = make(clock)
    a = Limited(clock, "slack:#a", "hook")
    b = Limited(clock, "slack:#b", "hook")
    topics.register_handler("t", a, HandlerLabel("slack", task="t", node="alert2"))
    topics.register_handler("t", b, HandlerLabel("slack", task="t", node="alert3"))
    for i in range(20):
        topics.collect(event(f"a{i}", Level.CRITICAL))
    topics.flush()
    await run_until_idle(dispatcher, clock, limit=120)
    times = sorted(a.times + b.times)
    assert len(a.got) == len(b.got) == 20
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(times))
    assert times[-1] - times[0] < 45  # paced, not backed off
    assert sum(dispatcher.counters.dead.values()) == 0


async def test_a_429_retry_after_holds_every_destination_of_the_limit() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)

    class Busy(Limited):
        async def send(self, events: Sequence[Event]) -> DeliveryResult:
            if not self.times:
                self.times.append(self.clock.now)
                return DeliveryResult("retry", 429, "rate limited", retry_after=30.0)
            return await super().send(events)

    a = Busy(clock, "slack:#a", "hook")
    b = Limited(clock, "slack:#b", "hook")
    topics.register_handler("t", a, HandlerLabel("slack", task="t", node="alert2"))
    topics.collect(event("x", Level.CRITICAL))
    topics.flush()
    await dispatcher.step()
    topics.register_handler("t", b, HandlerLabel("slack", task="t", node="alert3"))
    topics.collect(event("y", Level.CRITICAL))
    topics.flush()
    await run_until_idle(dispatcher, clock, limit=120)
    assert a.got and b.got
    assert min(a.times[1:] + b.times) >= START + 30


async def test_destinations_sharing_a_limit_take_turns() -> None:
    """Two channels of one webhook with a backlog each: sends alternate, one channel's backlog
    never starves the other's (a busy Telegram chat must not hold up the bot's other chats)."""
    clock = Clock()
    topics, dispatcher = make(clock)
    a = Limited(clock, "slack:#a", "hook")
    b = Limited(clock, "slack:#b", "hook")
    topics.register_handler("t", a, HandlerLabel("slack", task="t", node="alert2"))
    topics.register_handler("t", b, HandlerLabel("slack", task="t", node="alert3"))
    for i in range(10):
        topics.collect(event(f"a{i}", Level.CRITICAL))
    topics.flush()
    await run_until_idle(dispatcher, clock, limit=120)
    order = sorted([(t, "a") for t in a.times] + [(t, "b") for t in b.times])
    first_six = [who for _, who in order[:6]]
    assert first_six.count("a") == first_six.count("b") == 3


async def test_drain_does_not_wait_out_a_long_hold() -> None:
    """A 429 asking for an hour: drain() returns, the rows stay queued for the loop."""
    clock = Clock()
    topics, dispatcher = make(clock)

    class Held(Limited):
        async def send(self, events: Sequence[Event]) -> DeliveryResult:
            self.times.append(self.clock.now)
            return DeliveryResult("retry", 429, "slow down", retry_after=3600.0)

    handler = Held(clock, "slack:#a", "hook")
    topics.register_handler("t", handler, HandlerLabel("slack", task="t", node="alert2"))
    topics.collect(event("x", Level.CRITICAL))
    topics.collect(event("y", Level.CRITICAL))
    topics.flush()
    await asyncio.wait_for(dispatcher.drain(), 5)
    assert len(handler.times) == 1
    assert len(dispatcher.outbox.find(state=DeliveryState.QUEUED)) == 2


async def test_an_event_that_cannot_be_encoded_is_dead_lettered_not_retried() -> None:
    """A NaN in the alert data: Go's json refuses it and Kapacitor sends nothing; retrying
    for a day would change nothing."""
    clock = Clock()
    topics, dispatcher = make(clock)

    class Encodes(Flaky):
        async def send(self, events: Sequence[Event]) -> DeliveryResult:
            self.attempts += 1
            raise ValueError("json: unsupported value: NaN")

    handler = Encodes(clock, up_at=0)
    topics.register_handler("t", handler, HandlerLabel("post", task="t", node="alert2"))
    topics.collect(event("a", Level.CRITICAL))
    topics.flush()
    await dispatcher.step()
    assert handler.attempts == 1
    [row] = dispatcher.outbox.find()
    assert row.state == DeliveryState.DEAD and "unsupported value: NaN" in row.last_error
