"""Broken-webhook protection on a simulated clock: the breaker per destination (401/403/404
hold the destination's rows until its URL changes or an operator retries, across restarts)
and the host-wide invalid-request guard (Cloudflare bans at 10,000 per 10 minutes)."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest
from delivery_support import START, Clock, event
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from leyden.alerting.topics import HandlerLabel, Topics
from leyden.delivery.breaker import (
    Breakers,
    InvalidRequestGuard,
    MemoryBreakerStore,
    SqliteBreakerStore,
    breaks,
)
from leyden.delivery.dispatcher import DeliverySettings, Dispatcher
from leyden.delivery.metrics import metrics_registry
from leyden.delivery.outbox import DeliveryState, MemoryOutbox, Outbox, SqliteOutbox
from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.model.alert import Event, Level
from leyden.notify._http import DeliveryResult, url_fingerprint
from leyden.notify.discord.config import DiscordConfig
from leyden.notify.discord.handler import DiscordHandler
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.service import DiscordHandlerOptions, DiscordService
from leyden.store import Store

URL = "https://discord.com/api/v10/webhooks/123/secret-token"
DEST = "discord https://discord.com/api/v10/webhooks/123/****"


class Webhook:
    """A Discord-like handler: answers ``status`` (with Discord's code) until healed."""

    kind = "discord"
    max_batch = 10
    paced = False
    breaker = True

    def __init__(self, status: int = 404, code: int | None = 10015, url: str = URL) -> None:
        self.status = status
        self.code = code
        self.url = url
        self.destination = DEST
        self.coalesce_key = DEST
        self.requests = 0
        self.got: list[str] = []

    @property
    def target_fingerprint(self) -> str:
        return url_fingerprint(self.url)

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        self.requests += 1
        if self.status >= 300:
            return DeliveryResult("permanent", self.status, "Unknown Webhook", code=self.code)
        self.got.extend(e.state.message for e in events)
        return DeliveryResult("delivered", 204)

    async def handle(self, event: Event) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


def make(
    clock: Clock,
    outbox: Outbox | None = None,
    breakers: MemoryBreakerStore | SqliteBreakerStore | None = None,
    **settings: float,
) -> tuple[Topics, Dispatcher]:
    dispatcher = Dispatcher(
        outbox if outbox is not None else MemoryOutbox(clock),
        clock=clock,
        settings=DeliverySettings(**settings),  # type: ignore[arg-type]
        breakers=breakers,
    )
    return Topics(dispatcher=dispatcher), dispatcher


def register(topics: Topics, handler: Webhook) -> str:
    return topics.register_handler("t", handler, HandlerLabel("discord", task="t", node="n"))


def alert(topics: Topics, name: str, level: Level = Level.CRITICAL, n: int = 0) -> None:
    topics.collect(event(name, level, n))
    topics.flush()


async def test_a_404_opens_the_breaker_and_later_alerts_make_no_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    topics, dispatcher = make(clock)
    hook = Webhook(404)
    register(topics, hook)
    with caplog.at_level(logging.ERROR, logger="leyden.alert"):
        alert(topics, "a")
        await dispatcher.step()
        assert hook.requests == 1
        for i in range(5):
            alert(topics, f"b{i}")
            clock.now += 600  # hours pass: still nothing is tried
            await dispatcher.step()
            dispatcher.rescan()
            await dispatcher.step()
    assert hook.requests == 1
    rows = dispatcher.outbox.find()
    assert len(rows) == 6
    assert all(r.state == DeliveryState.QUEUED for r in rows)  # kept, not dead-lettered
    assert [r.attempts for r in rows] == [1, 0, 0, 0, 0, 0]  # no retry budget burnt
    assert sum(dispatcher.counters.dead.values()) == 0
    assert dispatcher.counters.breaker_opened["discord", DEST] == 1
    breaker = dispatcher.breakers.get(DEST)
    assert breaker is not None
    assert (breaker.status, breaker.code) == (404, 10015)
    assert breaker.fingerprint == url_fingerprint(URL) and "secret-token" not in breaker.fingerprint
    loud = [r for r in caplog.records if "webhook is broken" in r.getMessage()]
    assert len(loud) == 1  # once, when it opens
    assert loud[0].levelno == logging.ERROR
    fields = loud[0].fields  # type: ignore[attr-defined]
    assert (fields["destination"], fields["status"], fields["code"]) == (DEST, 404, 10015)
    assert "secret-token" not in repr(fields)


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_401_403_and_any_404_open_it(status: int) -> None:
    clock = Clock()
    topics, dispatcher = make(clock)
    hook = Webhook(status, code=None)  # a bare 404 from a relay breaks it too
    register(topics, hook)
    alert(topics, "a")
    await dispatcher.step()
    alert(topics, "b")
    await dispatcher.step()
    assert hook.requests == 1
    assert dispatcher.breakers.get(DEST) is not None


async def test_other_permanent_failures_still_dead_letter() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)
    hook = Webhook(400, code=50035)
    register(topics, hook)
    alert(topics, "a")
    await dispatcher.step()
    [row] = dispatcher.outbox.find()
    assert row.state == DeliveryState.DEAD
    assert len(dispatcher.breakers) == 0


async def test_a_handler_without_a_breaker_and_a_breaker_turned_off_dead_letter_a_404() -> None:
    clock = Clock()
    topics, dispatcher = make(clock, breaker=False)
    hook = Webhook(404)
    register(topics, hook)
    alert(topics, "a")
    await dispatcher.step()
    assert dispatcher.outbox.find()[0].state == DeliveryState.DEAD

    topics, dispatcher = make(clock)
    post = Webhook(404)
    post.breaker = False  # e.g. .post(): not opted in
    register(topics, post)
    alert(topics, "a")
    await dispatcher.step()
    assert dispatcher.outbox.find()[0].state == DeliveryState.DEAD


async def test_an_operator_retry_closes_it_and_the_held_rows_go_in_order() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)
    hook = Webhook(404)
    register(topics, hook)
    alert(topics, "a", Level.CRITICAL, 1)
    await dispatcher.step()
    alert(topics, "a", Level.OK, 2)
    alert(topics, "b", Level.WARNING, 3)
    await dispatcher.step()
    assert hook.requests == 1

    first = dispatcher.outbox.find()[-1]
    hook.status = 204  # the webhook works again (recreated behind a relay, say)
    assert dispatcher.outbox.retry(first.id)  # leyden retry-delivery ID …
    assert dispatcher.reset_breaker(DEST, "retried")  # … closes the breaker (the API does)
    await dispatcher.step()
    await dispatcher.step()
    assert hook.got == ["a is CRITICAL (1)", "b is WARNING (3)", "a is OK (2)"]
    assert dispatcher.outbox.find() == []
    assert dispatcher.breakers.get(DEST) is None


async def test_a_retry_of_a_still_broken_webhook_costs_one_request() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)
    hook = Webhook(404)
    register(topics, hook)
    for name in "abc":
        alert(topics, name)
    await dispatcher.step()
    assert hook.requests == 1
    assert dispatcher.reset_breakers("retried") == 1
    await dispatcher.step()
    await dispatcher.step()
    assert hook.requests == 2
    assert dispatcher.breakers.get(DEST) is not None
    assert dispatcher.counters.breaker_opened["discord", DEST] == 2


async def test_a_changed_url_closes_it() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)
    hook = Webhook(404)
    register(topics, hook)
    alert(topics, "a")
    await dispatcher.step()
    alert(topics, "b")
    await dispatcher.step()
    assert hook.requests == 1
    hook.url = URL.replace("secret-token", "rotated-token")  # the [[discord]] url changed
    hook.status = 204
    dispatcher.rescan()  # the config API does this after an update; else the next rescan
    await dispatcher.step()
    assert hook.got == ["a is CRITICAL (0)", "b is CRITICAL (0)"]
    assert dispatcher.breakers.get(DEST) is None


async def test_it_survives_a_restart_until_the_url_changes(tmp_path: Path) -> None:
    clock = Clock()
    db = tmp_path / "leyden.db"
    with Store(db) as store:
        topics, dispatcher = make(clock, SqliteOutbox(store, clock), SqliteBreakerStore(store))
        register(topics, Webhook(404))
        alert(topics, "a")
        await dispatcher.step()
        assert dispatcher.breakers.get(DEST) is not None
    with contextlib.closing(sqlite3.connect(db)) as conn:  # what is stored: no URL, no token
        dumped = "\n".join(conn.iterdump())
    assert "secret-token" not in dumped and url_fingerprint(URL) in dumped

    # the next day, same URL: still broken, nothing is sent
    clock.now += 86_000
    with Store(db) as store:
        topics, dispatcher = make(clock, SqliteOutbox(store, clock), SqliteBreakerStore(store))
        same = Webhook(204)
        register(topics, same)
        dispatcher.recover()
        alert(topics, "b")
        await dispatcher.step()
        assert same.requests == 0
        assert [r.state for r in dispatcher.outbox.find()] == [DeliveryState.QUEUED] * 2

    # restarted with another URL: the breaker closes, the held rows are sent
    with Store(db) as store:
        topics, dispatcher = make(clock, SqliteOutbox(store, clock), SqliteBreakerStore(store))
        other = Webhook(204, url=URL.replace("secret-token", "new-token"))
        register(topics, other)
        dispatcher.recover()
        await dispatcher.step()
        assert other.got == ["a is CRITICAL (0)", "b is CRITICAL (0)"]
        assert len(dispatcher.breakers) == 0
    with Store(db) as store:
        assert len(Breakers(SqliteBreakerStore(store))) == 0


async def test_a_restart_with_a_new_webhook_sends_the_held_rows_through_it(
    tmp_path: Path,
) -> None:
    """The usual fix for a deleted webhook is a new one, and so a new destination: the
    handler of the held rows now sends through it, so the old destination's breaker closes."""
    clock = Clock()
    db = tmp_path / "leyden.db"
    with Store(db) as store:
        topics, dispatcher = make(clock, SqliteOutbox(store, clock), SqliteBreakerStore(store))
        register(topics, Webhook(404))
        alert(topics, "a")
        await dispatcher.step()
        assert dispatcher.breakers.get(DEST) is not None
    with Store(db) as store:
        topics, dispatcher = make(clock, SqliteOutbox(store, clock), SqliteBreakerStore(store))
        new = Webhook(204, url=URL.replace("secret-token", "new-token"))
        new.destination = new.coalesce_key = DEST.replace("webhooks/", "webhooks/9")
        register(topics, new)
        dispatcher.recover()
        await dispatcher.step()
        assert new.got == ["a is CRITICAL (0)"]
        assert len(dispatcher.breakers) == 0


async def test_held_rows_expire_at_max_age_with_a_reason_that_says_why() -> None:
    clock = Clock()
    topics, dispatcher = make(clock, max_age=3600.0, expire_interval=60.0)
    hook = Webhook(404)
    register(topics, hook)
    alert(topics, "a")
    await dispatcher.step()
    clock.now += 3601
    await dispatcher.step()
    [row] = dispatcher.outbox.find()
    assert row.state == DeliveryState.DEAD  # kept for the operator, never silently dropped
    assert row.last_error == (
        "expired: not delivered within 1h0m0s "
        "(held while the webhook was broken: HTTP 404: Unknown Webhook)"
    )
    assert sum(dispatcher.counters.dead.values()) == 1


async def test_the_metrics_show_the_open_breaker_and_its_held_rows() -> None:
    clock = Clock()
    topics, dispatcher = make(clock)
    register(topics, Webhook(404))
    for name in "abc":
        alert(topics, name)
    await dispatcher.step()
    registry = metrics_registry(
        dispatcher.counters, dispatcher.outbox, breakers=dispatcher.breakers, guard=dispatcher.guard
    )
    got = {
        (s.name, s.labels.get("destination", "")): s.value
        for f in text_string_to_metric_families(generate_latest(registry).decode())
        for s in f.samples
    }
    assert got["leyden_delivery_breaker_open", DEST] == 1
    assert got["leyden_deliveries_held", DEST] == 3
    assert got["leyden_delivery_breaker_opened_total", DEST] == 1
    assert got["leyden_delivery_invalid_responses_total", ""] == 0  # not paced: not counted

    dispatcher.reset_breakers("retried")
    got = {
        (s.name, s.labels.get("destination", "")): s.value
        for f in text_string_to_metric_families(generate_latest(registry).decode())
        for s in f.samples
    }
    assert got["leyden_delivery_breaker_open", DEST] == 0


# --- the invalid-request guard ---------------------------------------------------------------


def test_the_guard_counts_invalid_answers_in_a_sliding_window() -> None:
    clock = Clock()
    guard = InvalidRequestGuard(limit=3, window=600.0, clock=clock)
    assert not guard.record(DeliveryResult("delivered", 204))
    assert not guard.record(DeliveryResult("retry", 500))
    shared = DeliveryResult("retry", 429, headers={"X-RateLimit-Scope": "shared"})
    assert not guard.record(shared)  # Discord does not count shared-scope 429s against us
    assert guard.in_window() == 0 and guard.ready_at() == clock.now

    assert not guard.record(DeliveryResult("permanent", 401))
    clock.now += 100
    assert not guard.record(DeliveryResult("retry", 429))
    clock.now += 100
    assert guard.record(DeliveryResult("permanent", 404))  # the third: it engages now
    assert guard.engaged()
    assert guard.ready_at() == START + 600  # when the first leaves the window
    clock.now = START + 600
    assert not guard.engaged() and guard.in_window() == 2
    assert (guard.total, guard.engagements) == (3, 1)


def test_the_guard_refuses_a_limit_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        InvalidRequestGuard(limit=0)


class Throttled(Webhook):
    """A paced (Discord) handler whose every request is answered 429 with no wait."""

    paced = True

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        self.requests += 1
        return DeliveryResult("retry", 429, "You are being rate limited.", retry_after=0.0)


async def test_the_guard_pauses_discord_requests_until_the_window_has_room(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    topics, dispatcher = make(clock, invalid_limit=3, invalid_window=600.0)
    hook = Throttled()
    register(topics, hook)
    alert(topics, "a")
    with caplog.at_level(logging.WARNING, logger="leyden.alert"):
        next_at = START
        for _ in range(10):
            clock.now = max(clock.now, min(next_at, START + 5))
            next_at = await dispatcher.step()
        assert hook.requests == 3  # then the guard holds every Discord request back
        assert dispatcher.guard.engaged()
        for at in (START + 60, START + 300, START + 599):  # rescans find it paused still
            clock.now = at
            dispatcher.rescan()
            assert await dispatcher.step() <= START + 600
        assert hook.requests == 3
        engaged = [r for r in caplog.records if "too many invalid answers" in r.getMessage()]
        assert len(engaged) == 1
        clock.now = START + 600  # the three left the window together: three more may go
        await dispatcher.step()
        assert hook.requests == 6
        assert dispatcher.guard.engagements == 2
        assert any("requests to Discord resume" in r.getMessage() for r in caplog.records)
    [row] = dispatcher.outbox.find()
    assert row.state == DeliveryState.QUEUED  # paused, not dropped


class Ticking(Clock):
    """A clock that moves on at every reading, as the wall clock does between two calls."""

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


async def test_a_guard_with_room_lets_a_paced_request_go_on_a_moving_clock() -> None:
    """The guard's "now" is read after the round's: with room, that is no reason to wait."""
    clock = Ticking()
    topics, dispatcher = make(clock)
    hook = Webhook(204)
    hook.paced = True
    register(topics, hook)
    alert(topics, "a")
    await dispatcher.step()
    assert hook.got == ["a is CRITICAL (0)"]


async def test_discord_reports_the_404_and_a_new_url_in_the_config_closes_the_breaker() -> None:
    """The real integration over loopback HTTP: the emulator's deleted webhook answers 404
    Unknown Webhook (10015); the breaker keeps later alerts from it; a config update to
    another webhook (what the config API applies) lets the held alerts through."""
    emulator = DiscordEmulator()
    await emulator.start("127.0.0.1", 0)
    clock = Clock()
    emulator.delete_webhook("111")
    service = DiscordService(
        [DiscordConfig(enabled=True, default=True, url=emulator.webhook_url("111", "tok-a"))],
        sender=DiscordSender(trust_env=False),
    )
    try:
        topics, dispatcher = make(clock)
        handler = DiscordHandler(service, DiscordHandlerOptions())
        topics.register_handler("t", handler, HandlerLabel("discord", task="t", node="n"))
        alert(topics, "a")
        await dispatcher.step()
        alert(topics, "b")
        await dispatcher.step()
        assert [r.status for r in emulator.requests] == [404]
        [breaker] = dispatcher.breakers
        assert (breaker.status, breaker.code) == (404, 10015)
        assert "tok-a" not in repr(breaker)

        service.update(
            [DiscordConfig(enabled=True, default=True, url=emulator.webhook_url("222", "tok-b"))]
        )
        dispatcher.rescan()
        await dispatcher.step()
        assert [r.status for r in emulator.requests] == [404, 204]
        [message] = emulator.messages
        assert message.webhook_id == "222"
        assert [e["description"] for e in message.payload["embeds"]] == [
            "a is CRITICAL (0)",
            "b is CRITICAL (0)",
        ]
        assert len(dispatcher.breakers) == 0
    finally:
        await service.close()
        await emulator.stop()


@pytest.mark.parametrize(
    ("status", "code", "broken"),
    [
        *[(404, None, True), (404, 10015, True), (401, 50027, True), (403, None, True)],
        *[(404, 10003, False), (404, 10008, False), (400, None, False), (429, None, False)],
    ],
)
def test_only_answers_about_the_webhook_itself_break_it(
    status: int, code: int | None, broken: bool
) -> None:
    """A deleted thread (10003) or message (10008) fails its row; the webhook stays open for
    every other handler posting to it."""
    assert breaks(DeliveryResult("permanent", status=status, code=code)) is broken
