"""AlertService: alert nodes' handlers and topics, global Discord wiring, restore, lifecycle."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from leyden.alerting.service import AlertService, anonymous_topic
from leyden.alerting.topics import MemoryTopicStore
from leyden.config import AlertConfig, Config
from leyden.delivery.dispatcher import Dispatcher
from leyden.delivery.outbox import DeliveryState, MemoryOutbox
from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.engine.node import NodeStats
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Inhibitor, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError
from leyden.notify.discord.config import DiscordConfig
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.service import DiscordService
from leyden.tick.builder import build_pipeline


def make_event(level: Level, id: str = "cpu/serverA", time_s: int = 10) -> Event:
    return Event(
        topic="",
        state=EventState(
            id=id,
            message=f"{id} is {level}",
            details="",
            time=Time(time_s * 1_000_000_000),
            duration=Duration(0),
            level=level,
        ),
        data=EventData(name="cpu", task_name="task", tags={"host": "serverA"}),
    )


def stub_json(event: Event) -> str:
    return json.dumps(
        {
            "id": event.state.id,
            "level": str(event.state.level),
            "previousLevel": str(event.previous_level),
        }
    )


def alert_handlers(script: str) -> list[Any]:
    """The handler specs of the (only) alert node of a TICKscript body after ``|alert()``."""
    pipeline = build_pipeline(
        "stream|from().measurement('cpu')|alert().crit(lambda: TRUE)" + script
    )
    [node] = [n for n in pipeline.nodes if n.kind == "alert"]
    return list(node.handlers)


async def no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator(rate_limit=50)
    await emu.start()
    yield emu
    await emu.stop()


def discord_service(*configs: DiscordConfig) -> DiscordService:
    return DiscordService(list(configs), sender=DiscordSender(sleep=no_sleep, trust_env=False))


@pytest.fixture
async def services() -> AsyncIterator[list[AlertService]]:
    made: list[AlertService] = []
    yield made
    for service in made:
        await service.close()
        for integration in service.services.values():
            await integration.close()


def make_service(
    made: list[AlertService],
    *,
    discord: DiscordService | None = None,
    config: Config | None = None,
    **kwargs: Any,
) -> AlertService:
    """The caller owns the integrations' services, as the server does: built here from
    ``config`` unless ``discord`` is given, closed by the fixture."""
    kwargs.setdefault("serializer", stub_json)
    kwargs.setdefault("dispatcher", Dispatcher(MemoryOutbox()))
    services = INTEGRATIONS.build_services(config)
    if discord is not None:
        services["discord"] = discord
    service = AlertService(services=services, config=config, **kwargs)
    made.append(service)
    return service


def log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_tickscript_handlers_share_the_anonymous_topic(
    services: list[AlertService], tmp_path: Path
) -> None:
    alerts = make_service(services)
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    publisher = alerts.register_alert_node(
        task="cpu",
        node="alert2",
        handlers=alert_handlers(f".log('{a}').log('{b}').mode(0644)"),
    )
    assert publisher.anon_topic == anonymous_topic("cpu", "alert2") == "main:cpu:alert2"
    assert [h.kind for h in publisher.handlers] == ["log", "log"]
    for level in (Level.WARNING, Level.CRITICAL, Level.OK):
        publisher.publish(make_event(level))
    await alerts.drain()
    expected = [
        {"id": "cpu/serverA", "level": "WARNING", "previousLevel": "OK"},
        {"id": "cpu/serverA", "level": "CRITICAL", "previousLevel": "WARNING"},
        {"id": "cpu/serverA", "level": "OK", "previousLevel": "CRITICAL"},
    ]
    assert log_lines(a) == expected
    assert log_lines(b) == expected


async def test_named_topic_without_handlers(services: list[AlertService]) -> None:
    alerts = make_service(services)
    publisher = alerts.register_alert_node(task="cpu", node="alert2", topic="cpu")
    assert publisher.anon_topic is None
    publisher.publish(make_event(Level.CRITICAL))
    assert alerts.topics.ids() == ["cpu"]
    topic = alerts.topics.get("cpu")
    assert topic is not None and topic.max_level() == Level.CRITICAL


async def test_listeners_see_each_published_event_once(services: list[AlertService]) -> None:
    alerts = make_service(services)
    seen: list[Event] = []
    alerts.add_listener(seen.append)
    alerts.add_listener(lambda event: 1 / 0)  # a broken listener changes nothing
    both = alerts.register_alert_node(
        task="t", node="alert2", topic="named", handlers=alert_handlers(".tcp('127.0.0.1:1')")
    )
    bare = alerts.register_alert_node(task="t", node="alert3")
    both.publish(make_event(Level.CRITICAL))
    bare.publish(make_event(Level.WARNING, id="x"))
    bare.publish(make_event(Level.OK, id="x"))
    assert [(e.topic, e.state.level, e.previous_level) for e in seen] == [
        ("main:t:alert2", Level.CRITICAL, Level.OK),
        ("", Level.WARNING, Level.OK),
        ("", Level.OK, Level.WARNING),
    ]
    await alerts.drain()  # the TCP handler fails (nothing listens) and is only logged


async def test_a_failing_handler_does_not_stop_the_others(
    services: list[AlertService], tmp_path: Path
) -> None:
    alerts = make_service(services)
    path = tmp_path / "ok.log"
    publisher = alerts.register_alert_node(
        task="t",
        node="alert2",
        handlers=alert_handlers(f".post('http://127.0.0.1:1/x').log('{path}')"),
    )
    publisher.publish(make_event(Level.CRITICAL))
    publisher.publish(make_event(Level.OK))
    await alerts.drain()
    assert [line["level"] for line in log_lines(path)] == ["CRITICAL", "OK"]
    # the refused POST is retried later (issue 10): its CRITICAL waits, its OK behind it
    counters = alerts.dispatcher.counters
    assert sum(n for (kind, _), n in counters.failed.items() if kind == "post") == 1
    queued = alerts.dispatcher.outbox.find()
    assert [(row.kind, row.attempts) for row in queued] == [("post", 1), ("post", 0)]


async def test_bad_handler_options_name_the_handler(services: list[AlertService]) -> None:
    alerts = make_service(services)
    with pytest.raises(HandlerConfigError, match="failed to create log alert handler: log path"):
        alerts.register_alert_node(task="t", node="alert2", handlers=alert_handlers(".log('x')"))


async def test_discord_two_workspaces_and_username_fallback(
    services: list[AlertService], emulator: DiscordEmulator
) -> None:
    """TestStream_AlertDiscord: ``.discord().workspace('company_private').discord().username()``."""
    discord = discord_service(
        DiscordConfig(enabled=True, default=True, url=emulator.webhook_url("1", "t1")),
        DiscordConfig(
            enabled=True,
            workspace="company_private",
            username="comp testy",
            url=emulator.webhook_url("2", "t2"),
        ),
    )
    alerts = make_service(services, discord=discord)
    publisher = alerts.register_alert_node(
        task="TestStream_Alert",
        node="alert5",
        handlers=alert_handlers(
            ".discord().workspace('company_private').discord().username('testy')"
        ),
    )
    publisher.publish(make_event(Level.CRITICAL))
    await alerts.drain()
    got = sorted((m.webhook_id, m.payload["username"]) for m in emulator.messages)
    assert got == [("1", "testy"), ("2", "comp testy")]
    for message in emulator.messages:
        assert message.payload["embeds"][0]["description"] == "cpu/serverA is CRITICAL"
        assert message.payload["embeds"][0]["color"] == 0xF95F53


@pytest.mark.parametrize(
    ("global_", "state_changes_only", "explicit", "discord_handlers", "sco"),
    [
        (False, False, "", 0, False),
        (True, False, "", 1, False),  # documented: global alone does not force it
        (True, True, "", 1, True),
        (True, True, ".discord().username('x')", 1, True),  # explicit one replaces the global
        (False, True, "", 0, False),  # state-changes-only only applies with global
    ],
)
async def test_global_discord_handler(
    services: list[AlertService],
    emulator: DiscordEmulator,
    global_: bool,
    state_changes_only: bool,
    explicit: str,
    discord_handlers: int,
    sco: bool,
) -> None:
    discord = discord_service(
        DiscordConfig(
            enabled=True,
            default=True,
            url=emulator.webhook_url(),
            global_=global_,
            state_changes_only=state_changes_only,
        )
    )
    alerts = make_service(services, discord=discord)
    publisher = alerts.register_alert_node(
        task="t", node="alert2", handlers=alert_handlers(explicit)
    )
    assert [h.kind for h in publisher.handlers] == ["discord"] * discord_handlers
    assert alerts.global_state_changes_only() is sco
    assert publisher.state_changes_only is sco
    publisher.publish(make_event(Level.CRITICAL))
    await alerts.drain()
    assert len(emulator.messages) == discord_handlers


async def test_service_builds_discord_from_config(
    services: list[AlertService], emulator: DiscordEmulator
) -> None:
    config = Config(
        integrations={
            "discord": [DiscordConfig(enabled=True, default=True, url=emulator.webhook_url())]
        }
    )
    alerts = make_service(services, config=config)
    publisher = alerts.register_alert_node(
        task="t", node="alert2", handlers=alert_handlers(".discord()")
    )
    publisher.publish(make_event(Level.CRITICAL))
    await alerts.drain()
    assert len(emulator.messages) == 1


async def test_restart_restores_state_and_delete_forgets_it(
    services: list[AlertService], tmp_path: Path
) -> None:
    store = MemoryTopicStore()
    alerts = make_service(services, store=store)
    path = tmp_path / "a.log"
    handlers = alert_handlers(f".log('{path}')")
    first = alerts.register_alert_node(task="t", node="alert2", handlers=handlers)
    first.publish(make_event(Level.CRITICAL, time_s=10))
    first.close()  # task stop: in-memory state goes, stored state stays
    assert "main:t:alert2" not in alerts.topics
    second = alerts.register_alert_node(task="t", node="alert2", handlers=handlers)
    restored = second.restore_event("cpu/serverA")
    assert restored is not None and restored.level == Level.CRITICAL
    assert restored.time == Time(10_000_000_000)
    second.publish(make_event(Level.OK, time_s=20))
    await alerts.drain()
    assert [line["previousLevel"] for line in log_lines(path)] == ["OK", "CRITICAL"]
    second.publish(make_event(Level.WARNING))
    second.delete()
    assert store.topics == {}
    third = alerts.register_alert_node(task="t", node="alert2", handlers=handlers)
    assert third.restore_event("cpu/serverA") is None


async def test_persist_topics_false_disables_the_store(services: list[AlertService]) -> None:
    store = MemoryTopicStore()
    config = Config(alert=AlertConfig(persist_topics=False))
    alerts = make_service(services, config=config, store=store)
    alerts.register_alert_node(task="t", node="a", topic="x").publish(make_event(Level.CRITICAL))
    assert store.topics == {}


async def test_restore_prefers_the_anonymous_topic_and_aligns_the_other(
    services: list[AlertService], tmp_path: Path
) -> None:
    alerts = make_service(services)
    publisher = alerts.register_alert_node(
        task="t",
        node="alert2",
        topic="named",
        handlers=alert_handlers(f".log('{tmp_path / 'x.log'}')"),
    )
    anon = publisher.anon_topic
    assert anon is not None
    alerts.topics.update_event("named", make_event(Level.WARNING).state)
    # Only the named topic knows the ID: the anonymous topic is brought in line.
    assert publisher.restore_event("cpu/serverA").level == Level.WARNING  # type: ignore[union-attr]
    assert alerts.topics.event_state(anon, "cpu/serverA").level == Level.WARNING  # type: ignore[union-attr]
    alerts.topics.update_event(anon, make_event(Level.CRITICAL).state)
    assert publisher.restore_event("cpu/serverA").level == Level.CRITICAL  # type: ignore[union-attr]
    assert alerts.topics.event_state("named", "cpu/serverA").level == Level.CRITICAL  # type: ignore[union-attr]
    assert publisher.restore_event("unknown") is None


async def test_inhibitors_are_shared_and_removed_on_close(services: list[AlertService]) -> None:
    alerts = make_service(services)
    system = alerts.register_alert_node(
        task="sys", node="alert2", category="system", inhibitors=[("system", "host")]
    )
    cpu = alerts.register_alert_node(task="cpu", node="alert2", category="system")
    # The node brings its own inhibitor objects (any with category and inhibits()) …
    mine = Inhibitor("system", {"host": "a"})
    system.add_inhibitor(mine)
    mine.set(True)
    assert cpu.is_inhibited("system", {"host": "a"})
    # … or asks the publisher to make them from its .inhibit() specs.
    [made] = system.group_inhibitors({"host": "b", "dc": "x"})
    assert made.tags == {"host": "b"}
    made.set(True)
    assert cpu.is_inhibited("system", {"host": "b"})
    system.close()
    assert not cpu.is_inhibited("system", {"host": "a"})
    assert not cpu.is_inhibited("system", {"host": "b"})


async def test_inhibitor_specs_accept_every_spelling(services: list[AlertService]) -> None:
    alerts = make_service(services)
    publisher = alerts.register_alert_node(
        task="t",
        node="a",
        inhibitors=[
            ("c1", "host", "dc"),
            ("c2", ["host"]),
            {"category": "c3", "equalTags": ["dc"]},
            ("c4",),
        ],
    )
    assert publisher.inhibitor_specs == [
        ("c1", ("host", "dc")),
        ("c2", ("host",)),
        ("c3", ("dc",)),
        ("c4", ()),
    ]


async def test_lost_deliveries_count_as_the_nodes_errors(services: list[AlertService]) -> None:
    """Issue 10: ``leyden show TASK`` must not say errors="0" after a loss."""
    alerts = make_service(services)
    publisher = alerts.register_alert_node(
        task="t", node="alert2", handlers=alert_handlers(".exec('/nonexistent/program')")
    )
    stats = NodeStats()
    publisher.count_errors_in(stats)
    publisher.publish(make_event(Level.CRITICAL))
    await alerts.drain()
    assert stats.errors == 1
    [row] = alerts.dispatcher.outbox.find()
    assert row.state == DeliveryState.DEAD and "failed to start" in row.last_error


async def test_deleting_a_task_dead_letters_its_queued_deliveries(
    services: list[AlertService],
) -> None:
    alerts = make_service(services)
    publisher = alerts.register_alert_node(
        task="t", node="alert2", handlers=alert_handlers(".tcp('127.0.0.1:1')")
    )
    publisher.publish(make_event(Level.CRITICAL))
    publisher.publish(make_event(Level.OK))
    await alerts.drain()  # the CRITICAL's connection is refused: both wait
    publisher.delete()
    rows = alerts.dispatcher.outbox.find()
    assert [r.state for r in rows] == [DeliveryState.DEAD, DeliveryState.DEAD]
    assert all(r.last_error == "task t was deleted" for r in rows)
