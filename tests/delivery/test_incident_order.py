"""Edit-in-place through the outbox and the dispatcher (issue 12): an alert's events go one at
a time and in order, so the first POST has answered with the message id before the edit is
sent, even when that POST had to be retried; incident handlers are never coalesced."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from delivery_support import START, Clock

from leyden.alerting.topics import HandlerLabel, Topics
from leyden.delivery.dispatcher import Dispatcher
from leyden.delivery.outbox import DeliveryState, MemoryOutbox
from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify.discord.config import DiscordConfig
from leyden.notify.discord.handler import DiscordHandler
from leyden.notify.discord.payload import LEVEL_COLORS, validate_payload
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.service import DiscordHandlerOptions, DiscordService


async def _no_sleep(seconds: float) -> None:
    return None


def event(alert: str, level: Level, at: int, since: int) -> Event:
    return Event(
        topic="t",
        state=EventState(
            id=alert,
            message=f"{alert} is {level}",
            details="",
            time=Time(at * 1_000_000_000),
            duration=Duration((at - since) * 1_000_000_000),
            level=level,
        ),
        data=EventData(name="cpu", task_name="task", tags={"host": alert}),
    )


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[DiscordEmulator, Clock]]:
    clock = Clock()
    emulator = DiscordEmulator(clock=clock, wall_clock=clock)  # Discord's limits
    await emulator.start("127.0.0.1", 0)
    try:
        yield emulator, clock
    finally:
        await emulator.stop()


async def run(dispatcher: Dispatcher, clock: Clock, limit: float) -> None:
    while clock.now - START <= limit:
        next_at = await dispatcher.step()
        if not dispatcher.outbox.find(state=DeliveryState.QUEUED):
            return
        clock.now = max(clock.now, next_at)
    raise AssertionError(f"still busy after {limit} simulated seconds")


def setup(emulator: DiscordEmulator, clock: Clock) -> tuple[Topics, Dispatcher, DiscordService]:
    service = DiscordService(
        [DiscordConfig(enabled=True, default=True, url=emulator.webhook_url())],
        sender=DiscordSender(clock=clock, sleep=_no_sleep, trust_env=False),
    )
    dispatcher = Dispatcher(MemoryOutbox(clock), clock=clock)
    topics = Topics(dispatcher=dispatcher)
    handler = DiscordHandler(service, DiscordHandlerOptions(edit_in_place=True))
    topics.register_handler("t", handler, HandlerLabel("discord", task="t", node="alert2"))
    return topics, dispatcher, service


async def test_a_retried_first_post_still_comes_before_the_edit(
    emulator: tuple[DiscordEmulator, Clock],
) -> None:
    emu, clock = emulator
    emu.inject_fault(status=503, count=1)
    topics, dispatcher, service = setup(emu, clock)
    topics.collect(event("a", Level.CRITICAL, 100, 100))
    topics.collect(event("a", Level.OK, 160, 100))  # queued behind the CRITICAL
    topics.flush()
    try:
        await run(dispatcher, clock, limit=120)
    finally:
        await service.close()
    assert [(r.method, r.status) for r in emu.requests] == [
        ("POST", 503),
        ("POST", 200),
        ("PATCH", 200),
    ]
    [message] = emu.messages
    assert message.payload["embeds"][0]["color"] == LEVEL_COLORS[Level.OK]
    assert message.payload["embeds"][0]["fields"][-1]["value"] == "1m"


async def test_a_storm_of_incidents_is_one_message_each_never_coalesced(
    emulator: tuple[DiscordEmulator, Clock],
) -> None:
    emu, clock = emulator
    topics, dispatcher, service = setup(emu, clock)
    for i in range(20):
        topics.collect(event(f"a{i:02}", Level.CRITICAL, 100, 100))
    for i in range(20):
        topics.collect(event(f"a{i:02}", Level.OK, 200, 100))
    topics.flush()
    try:
        await run(dispatcher, clock, limit=300)
    finally:
        await service.close()
    assert len(emu.messages) == 20
    assert all(len(m.payload["embeds"]) == 1 for m in emu.messages)
    assert all(m.payload["embeds"][0]["color"] == LEVEL_COLORS[Level.OK] for m in emu.messages)
    assert all(validate_payload(m.payload) == [] for m in emu.messages)
    assert sorted(m.payload["embeds"][0]["description"] for m in emu.messages) == [
        f"a{i:02} is OK" for i in range(20)
    ]
    assert sum(emu.rate_limited.values()) <= 3
