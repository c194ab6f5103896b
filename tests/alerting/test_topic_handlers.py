"""Topic handlers: aggregate (on a simulated clock), publish, match expressions, the registry."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from leyden.alerting import handlers
from leyden.alerting.handlers.aggregate import AggregateHandler, parse_interval
from leyden.alerting.match import MatchError, compile_match
from leyden.alerting.service import AlertService
from leyden.alerting.topic_handlers import (
    HandlerSpecError,
    PatternError,
    RegistrationError,
    TopicHandlers,
    path_match,
    validate_spec,
)
from leyden.clock import SimulatedClock
from leyden.delivery.dispatcher import Dispatcher
from leyden.delivery.outbox import MemoryOutbox
from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.model.records import HandlerRecord
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.discord.config import DiscordConfig
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.service import DiscordService

S = 1_000_000_000
DAY = 86_400 * S
START = 1_700_000_000 * S


def event(
    topic: str,
    level: Level,
    *,
    id: str = "errors:500",
    time_s: int = 0,
    duration_s: int = 0,
    tags: dict[str, str] | None = None,
    message: str | None = None,
    series: list[Any] | None = None,
) -> Event:
    return Event(
        topic=topic,
        state=EventState(
            id=id,
            message=message if message is not None else f"{id} is {level}",
            details="",
            time=Time(START + time_s * S),
            duration=Duration(duration_s * S),
            level=level,
        ),
        data=EventData(
            name="errors",
            task_name="500_errors",
            tags=dict(tags if tags is not None else {"host": "web1"}),
            result={"series": series} if series else {},
        ),
    )


async def no_sleep(seconds: float) -> None:
    return None


class MemoryHandlerStore:
    def __init__(self) -> None:
        self.specs: dict[tuple[str, str], HandlerRecord] = {}

    def put_handler(self, spec: HandlerRecord, *, replaces: str | None = None) -> None:
        if replaces is not None:
            self.specs.pop((spec.topic, replaces), None)
        self.specs[(spec.topic, spec.id)] = spec

    def list_handlers(self, topic: str | None = None) -> list[HandlerRecord]:
        return [s for k, s in sorted(self.specs.items()) if topic is None or k[0] == topic]

    def delete_handler(self, topic: str, handler_id: str) -> bool:
        return self.specs.pop((topic, handler_id), None) is not None


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator(rate_limit=50)
    await emu.start()
    yield emu
    await emu.stop()


class Setup:
    def __init__(self, discord_configs: list[DiscordConfig] | None = None) -> None:
        self.clock = SimulatedClock(START)
        discord = DiscordService(
            discord_configs or [], sender=DiscordSender(sleep=no_sleep, trust_env=False)
        )
        self.alerts = AlertService(
            services={"discord": discord}, dispatcher=Dispatcher(MemoryOutbox())
        )
        self.store = MemoryHandlerStore()
        self.registry = TopicHandlers(self.alerts, self.store, clock=self.clock)
        self.collected: list[Event] = []
        original = self.alerts.collect

        def spy(e: Event) -> Event:
            out = original(e)
            self.collected.append(out)
            return out

        self.alerts.collect = spy  # type: ignore[method-assign]

    def define(
        self, topic: str, id: str, kind: str, options: dict[str, Any], match: str = ""
    ) -> None:
        self.registry.register(
            HandlerRecord(topic=topic, id=id, kind=kind, options=options, match=match)
        )

    def collect(self, e: Event) -> Event:
        return self.alerts.collect(e)

    async def close(self) -> None:
        await self.alerts.close()
        await self.alerts.services["discord"].close()


@pytest.fixture
async def setups() -> AsyncIterator[list[Setup]]:
    made: list[Setup] = []
    yield made
    for s in made:
        await s.close()


def make(setups: list[Setup], discord_configs: list[DiscordConfig] | None = None) -> Setup:
    s = Setup(discord_configs)
    setups.append(s)
    return s


def log_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- the seed's flow ---------------------------------------------------------------------------


async def test_seed_500_errors_aggregated_daily_into_discord_guild_errors(
    setups: list[Setup], emulator: DiscordEmulator
) -> None:
    s = make(
        setups,
        [
            DiscordConfig(
                enabled=True,
                default=True,
                workspace="guild-alerts",
                username="AlertBot",
                url=emulator.webhook_url("1", "t1"),
            ),
            DiscordConfig(
                enabled=True,
                workspace="guild-errors",
                username="StatsBot",
                embed_title="Errors",
                url=emulator.webhook_url("2", "t2"),
            ),
        ],
    )
    # 500_errors_24h.yaml and discord_500_errors_daily.yaml from the seed
    s.define(
        "500-errors",
        "500-errors-24h",
        "aggregate",
        {
            "interval": "24h",
            "topic": "500-errors-24h",
            "message": "{{ .Count }} 500 errors last 24 hours.",
        },
    )
    s.define("500-errors-24h", "discord-500-errors-daily", "discord", {"workspace": "guild-errors"})
    for i in range(3):
        s.collect(event("500-errors", Level.INFO, id=f"errors:500,host=web{i}", time_s=60 * i))
    await s.alerts.drain()
    assert emulator.messages == []  # nothing before the day is over
    s.clock.advance_to(START + DAY - 1)
    await s.alerts.drain()
    assert emulator.messages == []
    s.clock.advance_to(START + DAY)
    await s.alerts.drain()
    [message] = emulator.messages
    assert message.webhook_id == "2"
    assert message.payload["username"] == "StatsBot"
    embed = message.payload["embeds"][0]
    assert embed["description"] == "3 500 errors last 24 hours."
    assert embed["title"] == "Errors"
    # The next day without errors sends nothing.
    s.clock.advance_to(START + 2 * DAY)
    await s.alerts.drain()
    assert len(emulator.messages) == 1


# --- aggregate ---------------------------------------------------------------------------------


async def test_aggregate_event_contents(setups: list[Setup]) -> None:
    s = make(setups)
    s.define("src", "agg", "aggregate", {"interval": 60 * S, "topic": "dst"})
    row = {"name": "errors", "columns": ["time", "count"], "values": [["t", 1]]}
    s.collect(
        event("src", Level.WARNING, id="a", time_s=5, duration_s=10, message="m1", series=[row])
    )
    s.collect(
        event(
            "src", Level.CRITICAL, id="b", time_s=3, duration_s=30, message="m2", series=[row, row]
        )
    )
    s.collect(event("src", Level.INFO, id="c", time_s=4, duration_s=0, message="m3"))
    await s.alerts.drain()
    s.clock.advance_to(START + 60 * S)
    await s.alerts.drain()
    [agg] = [e for e in s.collected if e.topic == "dst"]
    assert agg.state.id == "agg"  # defaults to the handler ID (Kapacitor: empty)
    assert agg.state.message == "Received 3 events in the last 1m0s."
    assert agg.state.level == Level.CRITICAL
    assert agg.state.time == START + 5 * S
    assert agg.state.duration == 30 * S
    assert agg.state.details == "m1\nm2\nm3"
    assert agg.data.result == {"series": [row, row, row]}
    assert agg.previous_level == Level.OK
    topic = s.alerts.topics.get("dst")
    assert topic is not None and topic.state().level == Level.CRITICAL


async def test_aggregate_explicit_id_and_previous_level_in_destination(setups: list[Setup]) -> None:
    s = make(setups)
    s.define("src", "agg", "aggregate", {"interval": "1m", "topic": "dst", "id": "daily"})
    s.collect(event("src", Level.WARNING))
    await s.alerts.drain()
    s.clock.advance_to(START + 60 * S)
    s.collect(event("src", Level.CRITICAL))
    await s.alerts.drain()
    s.clock.advance_to(START + 120 * S)
    first, second = [e for e in s.collected if e.topic == "dst"]
    assert (first.state.id, second.state.id) == ("daily", "daily")
    assert (first.previous_level, second.previous_level) == (Level.OK, Level.WARNING)


async def test_aggregate_ticks_skip_over_clock_jumps(setups: list[Setup]) -> None:
    s = make(setups)
    s.define("src", "agg", "aggregate", {"interval": "10s", "topic": "dst"})
    s.clock.advance_to(START + 95 * S)  # nine idle ticks: nothing collected
    assert not [e for e in s.collected if e.topic == "dst"]
    s.collect(event("src", Level.INFO))
    await s.alerts.drain()
    s.clock.advance_to(START + 99 * S)
    assert not [e for e in s.collected if e.topic == "dst"]
    s.clock.advance_to(START + 100 * S)
    assert len([e for e in s.collected if e.topic == "dst"]) == 1


async def test_aggregate_flushes_on_delete(setups: list[Setup]) -> None:
    s = make(setups)
    s.define("src", "agg", "aggregate", {"interval": "24h", "topic": "dst"})
    s.collect(event("src", Level.WARNING))
    s.collect(event("src", Level.WARNING, id="other"))
    await s.alerts.drain()
    s.registry.deregister("src", "agg")
    await s.alerts.drain()
    [agg] = [e for e in s.collected if e.topic == "dst"]
    assert agg.state.message == "Received 2 events in the last 24h0m0s."
    s.clock.advance_to(START + 2 * DAY)  # the ticker stopped with the handler
    assert len([e for e in s.collected if e.topic == "dst"]) == 1


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        ("24h", DAY),
        ("1h30m", 5400 * S),
        ("10s", 10 * S),
        (60_000_000_000, 60 * S),
        (1.5e9, 1_500_000_000),
    ],
)
def test_aggregate_interval_forms(value: Any, ns: int) -> None:
    assert parse_interval(value) == ns


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "must be positive, got 0s"),
        ("0s", "must be positive, got 0s"),
        ("-1m", "must be positive, got -1m0s"),
        (-5, "must be positive"),
        ("10x", "unknown unit"),
        ("soon", "'interval' 'soon'"),
        (None, "'interval' is required"),
        (True, "'interval' is required"),
        ([1], "must be a duration"),
    ],
)
def test_aggregate_bad_intervals(value: Any, text: str) -> None:
    with pytest.raises(HandlerConfigError, match="interval") as info:
        parse_interval(value)
    assert text in str(info.value)


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"interval": "1m"}, "'topic' must name a topic"),
        ({"interval": "1m", "topic": "a/b"}, "must contain only letters"),
        (
            {"interval": "1m", "topic": "dst", "bogus": 1},
            "invalid aggregate handler option(s): bogus",
        ),
        ({"interval": "1m", "topic": "dst", "message": "{{ .Count"}, "'message'"),
        ({"interval": "1m", "topic": "dst", "message": "{{ .Nope }}"}, "aggregate message data"),
        ({"interval": 0, "topic": "dst"}, "must be positive"),
        ({"interval": "1m", "topic": "src"}, "into itself"),
    ],
)
async def test_aggregate_option_errors(
    setups: list[Setup], options: dict[str, Any], text: str
) -> None:
    s = make(setups)
    with pytest.raises(RegistrationError) as info:
        s.define("src", "agg", "aggregate", options)
    assert text in str(info.value)
    assert s.registry.specs("src") == []
    assert s.store.specs == {}


def test_aggregate_and_publish_need_a_topic_handler_context() -> None:
    for kind, options in (
        ("aggregate", {"interval": "1s", "topic": "x"}),
        ("publish", {"topics": ["x"]}),
    ):
        with pytest.raises(HandlerConfigError, match="only as topic handlers"):
            handlers.from_options(kind, options, HandlerContext())


async def test_aggregate_without_running_loop_starts_ticking_on_first_event() -> None:
    class LoopClock:
        def __init__(self) -> None:
            self.calls: list[int] = []
            self.ready = False

        def now(self) -> int:
            return 0

        def call_at(self, when: int, callback: Any) -> Any:
            if not self.ready:
                raise RuntimeError("no running event loop")
            self.calls.append(when)
            return lambda: None

    clock = LoopClock()
    from leyden.go.template import Template

    handler = AggregateHandler(
        interval=5,
        topic="dst",
        event_id="x",
        message=Template.parse("m"),
        collect=lambda e: None,
        clock=clock,
    )
    assert clock.calls == []
    clock.ready = True
    await handler.handle(event("src", Level.INFO))
    assert clock.calls == [5]


# --- publish -----------------------------------------------------------------------------------


async def test_publish_into_each_topic_with_its_own_state(
    setups: list[Setup], tmp_path: Path
) -> None:
    s = make(setups)
    s.define("cpu", "fanout", "publish", {"topics": ["ops", "audit"]})
    s.define("ops", "log", "log", {"path": str(tmp_path / "ops.log")})
    s.collect(event("audit", Level.WARNING, id="x"))  # audit has already seen x
    s.collect(event("cpu", Level.CRITICAL, id="x"))
    await s.alerts.drain()
    ops = [e for e in s.collected if e.topic == "ops"]
    audit = [e for e in s.collected if e.topic == "audit"]
    assert [e.previous_level for e in ops] == [Level.OK]
    assert [e.previous_level for e in audit] == [Level.OK, Level.WARNING]
    [line] = log_lines(tmp_path / "ops.log")
    assert line["level"] == "CRITICAL" and line["previousLevel"] == "OK"


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({}, "'topics' must be a list of topics"),
        ({"topics": "ops"}, "'topics' must be a list of topics"),
        ({"topics": ["ops", ""]}, "'topics' must name a topic"),
        ({"topics": ["cpu"]}, "into itself"),
        ({"topics": ["ops"], "topic": "x"}, "invalid publish handler option(s): topic"),
    ],
)
async def test_publish_option_errors(
    setups: list[Setup], options: dict[str, Any], text: str
) -> None:
    s = make(setups)
    with pytest.raises(RegistrationError) as info:
        s.define("cpu", "fanout", "publish", options)
    assert text in str(info.value)


# --- match -------------------------------------------------------------------------------------


async def test_match_changed_uses_the_topic_state(setups: list[Setup], tmp_path: Path) -> None:
    s = make(setups)
    path = tmp_path / "changes.log"
    s.define("cpu", "changes", "log", {"path": str(path)}, match="changed()")
    for level in (Level.OK, Level.CRITICAL, Level.CRITICAL, Level.WARNING, Level.WARNING, Level.OK):
        s.collect(event("cpu", level))
    await s.alerts.drain()
    assert [(x["previousLevel"], x["level"]) for x in log_lines(path)] == [
        ("OK", "CRITICAL"),
        ("CRITICAL", "WARNING"),
        ("WARNING", "OK"),
    ]


async def test_match_levels_tags_and_functions(setups: list[Setup], tmp_path: Path) -> None:
    s = make(setups)
    path = tmp_path / "web.log"
    s.define(
        "cpu",
        "web",
        "log",
        {"path": str(path)},
        match="level() >= WARNING AND \"host\" =~ /^web/ AND name() == 'errors' AND taskName() == '500_errors'",
    )
    s.collect(event("cpu", Level.CRITICAL, id="a", tags={"host": "web1"}))
    s.collect(event("cpu", Level.INFO, id="b", tags={"host": "web1"}))
    s.collect(event("cpu", Level.CRITICAL, id="c", tags={"host": "db1"}))
    s.collect(event("cpu", Level.WARNING, id="d", tags={"host": "web2"}))
    await s.alerts.drain()
    assert [x["id"] for x in log_lines(path)] == ["a", "d"]


async def test_match_missing_tag_skips_the_event_and_logs(
    setups: list[Setup], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = make(setups)
    path = tmp_path / "dc.log"
    s.define("cpu", "dc", "log", {"path": str(path)}, match="\"dc\" == 'east'")
    s.collect(event("cpu", Level.CRITICAL, id="a", tags={"host": "web1"}))
    s.collect(event("cpu", Level.CRITICAL, id="b", tags={"dc": "east"}))
    with caplog.at_level(logging.ERROR, logger="leyden.alert"):
        await s.alerts.drain()
    assert [x["id"] for x in log_lines(path)] == ["b"]
    [record] = [r for r in caplog.records if r.getMessage() == "alert handler failed"]
    fields = record.__dict__["fields"]
    assert fields["reason"] == "failed to evaluate match expression: no tag exists for dc"
    assert fields["handler_id"] == "dc" and fields["topic"] == "cpu"


def test_match_expressions_evaluate() -> None:
    def ev(level: Level, previous: Level = Level.OK, duration_s: int = 0) -> Event:
        e = event("t", level, duration_s=duration_s)
        e.previous_level = previous
        return e

    cases = {
        "changed() == TRUE": [(ev(Level.OK), False), (ev(Level.INFO), True)],
        "level() == CRITICAL OR level() == OK": [(ev(Level.OK), True), (ev(Level.WARNING), False)],
        "duration() > 5s": [
            (ev(Level.INFO, duration_s=6), True),
            (ev(Level.INFO, duration_s=5), False),
        ],
        "alertDuration() >= 5s": [(ev(Level.INFO, duration_s=5), True)],
        "duration(5, 1s) == 5s": [(ev(Level.INFO), True)],  # the builtin, with arguments
        "!changed()": [(ev(Level.INFO, Level.INFO), True)],
        "strLength(name()) == 6": [(ev(Level.INFO), True)],
    }
    for text, checks in cases.items():
        m = compile_match(text)
        for e, want in checks:
            assert m.matches(e) is want, (text, e.state.level)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("foo", 'unknown identifier "foo"'),
        ("level() > WARN", 'unknown identifier "WARN"'),
        ("level(1) > 1", "invalid match expression: level takes no arguments"),
        ("changed(", "invalid match expression: match:1:9: parser: unexpected EOF"),
        ("bogus()", 'invalid match expression: undefined function: "bogus"'),
    ],
)
def test_match_compile_errors(text: str, error: str) -> None:
    with pytest.raises(MatchError) as info:
        compile_match(text)
    assert str(info.value).startswith(error)


def test_match_evaluation_errors() -> None:
    m = compile_match('"host" > 1')
    with pytest.raises(MatchError, match="mismatched type"):
        m.matches(event("t", Level.INFO))


async def test_bad_match_refuses_the_handler(setups: list[Setup], tmp_path: Path) -> None:
    s = make(setups)
    with pytest.raises(RegistrationError, match='unknown identifier "nope"'):
        s.define("cpu", "x", "log", {"path": str(tmp_path / "x")}, match="nope")


# --- registry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (
            HandlerRecord(topic="a/b", id="h", kind="log"),
            "handler topic must contain only letters, numbers, '-', '.' and '_'. \"h\"",
        ),
        (
            HandlerRecord(topic="cpu", id="h:1", kind="log"),
            "handler ID must contain only letters, numbers, '-', '.' and '_'. \"h:1\"",
        ),
        (HandlerRecord(topic="cpu", id="", kind="log"), "handler ID must contain only"),
        (HandlerRecord(topic="cpu", id="h", kind=""), "handler Kind must not be empty"),
    ],
)
def test_validate_spec(spec: HandlerRecord, error: str) -> None:
    with pytest.raises(HandlerSpecError) as info:
        validate_spec(spec)
    assert str(info.value).startswith(error)


def test_validate_spec_accepts_kapacitor_ids() -> None:
    validate_spec(HandlerRecord(topic="main:task:alert2", id="Überwachung_1.x-y", kind="log"))


async def test_register_update_deregister(setups: list[Setup], tmp_path: Path) -> None:
    s = make(setups)
    one, two = tmp_path / "one.log", tmp_path / "two.log"
    s.define("cpu", "h", "log", {"path": str(one)})
    with pytest.raises(RegistrationError, match='handler with ID "h" already exists'):
        s.define("cpu", "h", "log", {"path": str(one)})
    s.define("mem", "h", "log", {"path": str(one)})  # IDs are per topic
    old = s.registry.get("cpu", "h")
    assert old is not None
    with pytest.raises(RegistrationError, match="cannot change topic in update"):
        s.registry.update(
            old, HandlerRecord(topic="mem", id="h", kind="log", options={"path": str(two)})
        )
    new = HandlerRecord(topic="cpu", id="h2", kind="log", options={"path": str(two)})
    s.registry.update(old, new)
    assert [x.id for x in s.registry.specs("cpu")] == ["h2"]
    assert sorted(s.store.specs) == [("cpu", "h2"), ("mem", "h")]
    s.collect(event("cpu", Level.CRITICAL))
    await s.alerts.drain()
    assert not one.exists() and len(log_lines(two)) == 1
    s.registry.deregister("cpu", "h2")
    s.registry.deregister("cpu", "absent")  # not an error
    assert s.registry.specs("cpu") == [] and sorted(s.store.specs) == [("mem", "h")]


async def test_unknown_kind_and_unknown_options(setups: list[Setup]) -> None:
    s = make(
        setups,
        [DiscordConfig(enabled=True, default=True, workspace="w", url="http://127.0.0.1:9/x")],
    )
    with pytest.raises(RegistrationError, match='unsupported action kind "nosuch"'):
        s.define("cpu", "x", "nosuch", {})
    with pytest.raises(RegistrationError, match=r"invalid discord handler option.*: colour"):
        s.define("cpu", "x", "discord", {"colour": "red"})
    with pytest.raises(RegistrationError, match=r"invalid log handler option.*: paht"):
        s.define("cpu", "x", "log", {"paht": "/tmp/x"})


async def test_discord_workspace_must_be_configured(setups: list[Setup]) -> None:
    s = make(
        setups,
        [
            DiscordConfig(
                enabled=True, default=True, workspace="guild-alerts", url="http://127.0.0.1:9/a"
            ),
            DiscordConfig(enabled=True, workspace="guild-errors", url="http://127.0.0.1:9/b"),
        ],
    )
    with pytest.raises(RegistrationError) as info:
        s.define("cpu", "d", "discord", {"workspace": "guild-typo"})
    assert str(info.value) == (
        'discord workspace "guild-typo" is not configured; configured workspaces: '
        "guild-alerts, guild-errors"
    )
    s.define("cpu", "d", "discord", {"workspace": "guild-errors"})
    s.define("cpu", "default", "discord", {})


async def test_discord_without_any_workspace_is_refused(setups: list[Setup]) -> None:
    s = make(setups)
    with pytest.raises(RegistrationError, match=r"no discord workspace is configured"):
        s.define("cpu", "d", "discord", {})


async def test_load_restores_specs_even_unbuildable_ones(
    setups: list[Setup], tmp_path: Path
) -> None:
    s = make(setups)
    s.store.put_handler(
        HandlerRecord(topic="cpu", id="log", kind="log", options={"path": str(tmp_path / "l")})
    )
    s.store.put_handler(HandlerRecord(topic="cpu", id="gone", kind="pagerduty", options={}))
    s.registry.load()
    assert [x.id for x in s.registry.specs("cpu")] == ["gone", "log"]
    assert s.registry.handler("cpu", "log") is not None
    assert s.registry.handler("cpu", "gone") is None  # cannot be built: logged, kept listed
    s.collect(event("cpu", Level.CRITICAL))
    await s.alerts.drain()
    assert len(log_lines(tmp_path / "l")) == 1


async def test_delete_topic_keeps_handlers_attached(setups: list[Setup], tmp_path: Path) -> None:
    s = make(setups)
    path = tmp_path / "l"
    s.define("cpu", "log", "log", {"path": str(path)})
    s.collect(event("cpu", Level.CRITICAL))
    await s.alerts.drain()
    s.registry.delete_topic("cpu")
    await s.alerts.drain()
    topic = s.alerts.topics.get("cpu")
    assert topic is not None and topic.events == {} and topic.collected == 0
    s.collect(event("cpu", Level.CRITICAL))
    await s.alerts.drain()
    assert [x["previousLevel"] for x in log_lines(path)] == ["OK", "OK"]


@pytest.mark.parametrize(
    ("pattern", "name", "matched"),
    [
        ("", "anything", True),
        ("*", "cpu", True),
        ("cpu*", "cpu_alert", True),
        ("cpu*", "mem", False),
        ("*", "a/b", False),
        ("c?u", "cpu", True),
        ("[a-c]pu", "cpu", True),
        ("[^a-c]pu", "cpu", False),
        ("\\*", "*", True),
        ("main:*", "main:task:alert2", True),
    ],
)
def test_path_match(pattern: str, name: str, matched: bool) -> None:
    assert path_match(pattern, name) is matched


@pytest.mark.parametrize("pattern", ["[", "[]", "a\\", "[a-]", "[z"])
def test_path_match_bad_patterns(pattern: str) -> None:
    with pytest.raises(PatternError, match="syntax error in pattern"):
        path_match(pattern, "x")
