"""``[[slack]]``, ``.slack()`` and ``kind: slack`` against a real loopback server: Kapacitor's
request, its config rules and API shapes, secrets kept out of sight, and a storm paced at
Slack's one message per second."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from leyden.alerting.service import AlertService
from leyden.alerting.topics import HandlerLabel, Topics
from leyden.config import Config, ConfigError, load_config
from leyden.delivery.dispatcher import DeliverySettings, Dispatcher
from leyden.delivery.outbox import DeliveryState, MemoryOutbox
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext, RateLimit
from leyden.notify.slack import SECTION, SlackConfig, SlackHandler, SlackOptions, SlackService
from leyden.runtime import Runtime
from leyden.server.app import create_app
from leyden.tick.builder import build_pipeline
from webhook_capture import Answer, webhook_capture

TOKEN = "xoxb-SeCrEt-0123456789"
HOOK_SECRET = "T000/B000/HoOkSeCrEt0123"

ClientFactory = Callable[..., Awaitable[TestClient]]
MakeRuntime = Callable[..., Runtime]


def make_event(
    level: Level = Level.CRITICAL, id: str = "cpu/serverA", n: int = 0, topic: str = "t"
) -> Event:
    return Event(
        topic=topic,
        state=EventState(
            id=id,
            message=f"{id} is {level}",
            details="",
            time=Time(n * 1_000_000_000),
            duration=Duration(0),
            level=level,
        ),
        data=EventData(name="cpu", task_name="task", tags={"host": "serverA"}),
    )


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    path = tmp_path / "kapacitor.conf"
    path.write_text(text)
    return load_config(str(path), env or {}, integrations=INTEGRATIONS.sections())


def service(*configs: SlackConfig) -> SlackService:
    return SlackService(list(configs))


def workspace(url: str, **changes: Any) -> SlackConfig:
    values: dict[str, Any] = {"enabled": True, "default": True, "url": url, "username": "kapacitor"}
    values.update(changes)
    return SlackConfig(**values)


# --- configuration -----------------------------------------------------------------------


def test_without_a_section_there_is_kapacitors_built_in_default_workspace() -> None:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    [default] = config.sections(SECTION)
    assert (default.enabled, default.default, default.workspace) == (False, True, "")
    assert default.username == "kapacitor"


def test_the_environment_configures_the_built_in_workspace() -> None:
    config = load_config(
        None,
        {"KAPACITOR_SLACK_0_ENABLED": "true", "KAPACITOR_SLACK_0_URL": "https://hooks.x/a/b"},
        integrations=INTEGRATIONS.sections(),
    )
    [default] = config.sections(SECTION)
    assert default.enabled and default.url == "https://hooks.x/a/b"
    assert default.username == "kapacitor"


def test_a_file_section_starts_from_zero_values_as_in_kapacitor(tmp_path: Path) -> None:
    config = load(tmp_path, '[[slack]]\n  enabled = true\n  url = "https://hooks.x/1"\n')
    [only] = config.sections(SECTION)
    assert only.default  # the only one is the default
    assert only.username == ""  # listmap decodes into a zero Config: no "kapacitor"


def test_config_api_options_are_kapacitors_with_url_and_token_redacted() -> None:
    """TestServer_UpdateConfig's slack element (its setDefaults adds global = true)."""
    options = SlackConfig(default=True, global_=True, username="kapacitor").to_options()
    assert options == {
        "workspace": "",
        "default": True,
        "channel": "",
        "enabled": False,
        "global": True,
        "icon-emoji": "",
        "state-changes-only": False,
        "token": False,
        "url": False,
        "username": "kapacitor",
        "ssl-ca": "",
        "ssl-cert": "",
        "ssl-key": "",
        "insecure-skip-verify": False,
    }
    secret = SlackConfig(url=f"https://hooks.slack.com/services/{HOOK_SECRET}", token=TOKEN)
    assert secret.to_options()["url"] is True and secret.to_options()["token"] is True
    assert HOOK_SECRET not in repr(secret) and TOKEN not in repr(secret)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[slack]]\n enabled = true\n", r"\[\[slack\]\] #0: url: must specify url"),
        (
            f'[[slack]]\n url = "hooks.slack.com/{HOOK_SECRET}"\n',
            r"url: must be an http:// or https:// URL with a host",
        ),
        (
            '[[slack]]\n workspace = "a"\n default = true\n[[slack]]\n',
            r"\[\[slack\]\] #1: workspace: must not be empty",
        ),
        (
            '[[slack]]\n workspace = "a"\n[[slack]]\n workspace = "b"\n',
            r"default: at least one Slack config must be set as default",
        ),
        (
            '[[slack]]\n workspace = "a"\n default = true\n'
            '[[slack]]\n workspace = "b"\n default = true\n',
            r'#0 \(workspace "a"\), \[\[slack\]\] #1 \(workspace "b"\): default: only one',
        ),
        (
            '[[slack]]\n workspace = "a"\n default = true\n[[slack]]\n workspace = "a"\n',
            r'#0 and #1: workspace "a" is used twice',
        ),
        (
            '[[slack]]\n workspace = "a"\n default = true\n'
            '[[slack]]\n workspace = "b"\n global = true\n',
            r'#1 \(workspace "b"\): global: only the default config may be assigned as global',
        ),
        (
            "[[slack]]\n state-changes-only = true\n",
            r"state-changes-only: may only be set when the config is both default and global",
        ),
        ("[[slack]]\n icon_emoji = ':x:'\n", r"icon_emoji: unknown key; did you mean icon-emoji"),
    ],
)
def test_configuration_mistakes_name_the_section_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load(tmp_path, text)
    assert HOOK_SECRET not in str(info.value)


def test_an_unreadable_tls_file_is_refused_when_the_service_is_built(tmp_path: Path) -> None:
    config = load(tmp_path, f'[[slack]]\n ssl-ca = "{tmp_path / "nope.pem"}"\n')
    with pytest.raises(Exception, match=r"slack workspace: ssl-ca: cannot read"):
        INTEGRATIONS.build_services(config)


def test_global_and_state_changes_only_come_from_the_enabled_default_workspace() -> None:
    on = service(workspace("http://x/", global_=True, state_changes_only=True))
    assert on.global_enabled() and on.state_changes_only()
    assert not service(workspace("http://x/", global_=True, enabled=False)).global_enabled()
    plain = service(workspace("http://x/", global_=True))
    assert plain.global_enabled() and not plain.state_changes_only()
    assert not service(workspace("http://x/")).global_enabled()


# --- the request -------------------------------------------------------------------------


async def test_the_request_is_kapacitors_and_carries_the_token_as_bearer() -> None:
    async with webhook_capture() as hook:
        slack = service(
            workspace(f"{hook.url}/api/chat.postMessage", token=TOKEN, channel="#general"),
        )
        handler = SlackHandler(slack, SlackOptions())
        result = await handler.send([make_event(Level.WARNING)])
        await slack.close()
    assert result.delivered
    [got] = hook.requests
    assert got["path"] == "/api/chat.postMessage"
    assert got["headers"]["Content-Type"] == "application/json"
    assert got["headers"]["Authorization"] == f"Bearer {TOKEN}"
    # a Go map: keys sorted; Go's encoder ends the document with a newline
    assert got["body"] == (
        '{"attachments":[{"fallback":"cpu/serverA is WARNING","color":"warning",'
        '"text":"cpu/serverA is WARNING","mrkdwn_in":["text"]}],"channel":"#general",'
        '"icon_emoji":"","text":"","username":"kapacitor"}\n'
    )


@pytest.mark.parametrize(
    ("level", "color"),
    [
        (Level.OK, "good"),
        (Level.INFO, "good"),
        (Level.WARNING, "warning"),
        (Level.CRITICAL, "danger"),
    ],
)
async def test_colour_by_level_and_the_handlers_settings_win(level: Level, color: str) -> None:
    async with webhook_capture() as hook:
        slack = service(
            workspace(f"{hook.url}/services/{HOOK_SECRET}", channel="#c", icon_emoji=":a:")
        )
        opts = SlackOptions(channel="@jim", username="bot", icon_emoji=":fire:")
        assert (await SlackHandler(slack, opts).send([make_event(level)])).delivered
        assert (await SlackHandler(slack, SlackOptions()).send([make_event(level)])).delivered
        await slack.close()
    first, second = (r["json"] for r in hook.requests)
    assert first["attachments"][0]["color"] == color
    assert (first["channel"], first["username"], first["icon_emoji"]) == ("@jim", "bot", ":fire:")
    assert (second["channel"], second["username"], second["icon_emoji"]) == (
        "#c",
        "kapacitor",
        ":a:",
    )
    assert "Authorization" not in hook.requests[0]["headers"]  # no token: a legacy webhook


async def test_answers_become_outcomes_without_secrets() -> None:
    async with webhook_capture() as hook:
        url = f"{hook.url}/services/{HOOK_SECRET}"
        hook.responses = [
            Answer(500, f"oops {url} {TOKEN}"),
            Answer(429, "rate_limited", {"Retry-After": "7"}),
            Answer(404, "channel_not_found"),
        ]
        slack = service(workspace(url, token=TOKEN))
        handler = SlackHandler(slack, SlackOptions())
        results = [await handler.send([make_event()]) for _ in range(3)]
        await slack.close()
    assert [r.outcome for r in results] == ["retry", "retry", "permanent"]
    assert results[1].retry_after == 7.0
    assert "channel_not_found" in results[2].reason
    for result in results:
        assert HOOK_SECRET not in result.reason and TOKEN not in result.reason
    assert HOOK_SECRET not in handler.destination and TOKEN not in handler.destination
    for limit in handler.rate_limits:
        assert HOOK_SECRET not in limit.key and TOKEN not in limit.key


async def test_an_ok_false_answer_is_not_delivered() -> None:
    """chat.postMessage's 200 with ok=false did not post: permanent, or retried when Slack says
    the error is transient; an incoming webhook's plain ``ok`` is delivered."""
    async with webhook_capture() as hook:
        hook.responses = [
            Answer(200, '{"ok": false, "error": "channel_not_found"}'),
            Answer(200, '{"ok": false, "error": "service_unavailable"}'),
            Answer(200, '{"ok": true, "channel": "C1"}'),
            Answer(200, "ok"),
        ]
        slack = service(workspace(f"{hook.url}/api/chat.postMessage", token=TOKEN))
        handler = SlackHandler(slack, SlackOptions())
        results = [await handler.send([make_event()]) for _ in range(4)]
        await slack.close()
    assert [r.outcome for r in results] == ["permanent", "retry", "delivered", "delivered"]
    assert "channel_not_found" in results[0].reason and TOKEN not in results[0].reason


async def test_a_disabled_or_missing_workspace_is_a_permanent_failure() -> None:
    slack = service(workspace("http://127.0.0.1:9/", enabled=False))
    result = await SlackHandler(slack, SlackOptions()).send([make_event()])
    assert result.outcome == "permanent"
    assert "slack is not enabled" in result.reason
    result = await SlackHandler(slack, SlackOptions(workspace="x")).send([make_event()])
    assert result.reason == (
        'slack workspace "x" is not configured; '
        "configured workspaces: the unnamed default (used when the name is left empty)"
    )


def test_rate_limits_per_webhook_and_per_token_and_channel() -> None:
    hook = service(workspace(f"https://hooks.slack.com/services/{HOOK_SECRET}"))
    a = SlackHandler(hook, SlackOptions(channel="#a"))
    b = SlackHandler(hook, SlackOptions(channel="#b"))
    assert a.rate_limits == b.rate_limits  # one webhook, one limit, whatever the channel
    assert a.destination != b.destination
    [limit] = a.rate_limits
    assert (limit.limit, limit.window) == (1, 1.0)
    api = service(workspace("https://slack.com/api/chat.postMessage", token=TOKEN))
    c = SlackHandler(api, SlackOptions(channel="#a"))
    d = SlackHandler(api, SlackOptions(channel="#b"))
    assert c.rate_limits != d.rate_limits  # chat.postMessage: per channel


# --- handlers from scripts and handler files ---------------------------------------------


def _ctx(slack: SlackService) -> HandlerContext:
    return HandlerContext(services={"slack": slack})


def test_tick_and_handler_file_options() -> None:
    slack = service(workspace("http://x/", workspace="ops"))
    integration = INTEGRATIONS.get("slack")
    assert integration is not None and integration.from_tick is not None
    tick = integration.from_tick(
        {"workspace": "ops", "channel": "#a", "username": "u", "iconEmoji": ":e:"}, _ctx(slack)
    )
    assert isinstance(tick, SlackHandler)
    assert tick.options == SlackOptions("ops", "#a", "u", ":e:")
    file = integration.from_options(
        {"workspace": "ops", "channel": "#a", "username": "u", "icon-emoji": ":e:"}, _ctx(slack)
    )
    assert isinstance(file, SlackHandler) and file.options == tick.options
    with pytest.raises(HandlerConfigError, match=r"invalid slack handler option.*iconEmoji"):
        integration.from_options({"iconEmoji": ":e:"}, _ctx(slack))
    with pytest.raises(HandlerConfigError, match="'channel' must be str"):
        integration.from_options({"channel": 5}, _ctx(slack))


def test_an_unknown_workspace_is_refused_at_definition_naming_the_configured() -> None:
    slack = service(
        workspace("http://x/", workspace="ops"),
        workspace("http://y/", workspace="dev", default=False),
    )
    integration = INTEGRATIONS.get("slack")
    assert integration is not None and integration.check is not None
    problem = integration.check({"workspace": "opz"}, slack, True)
    assert problem is not None
    assert problem.message == (
        'slack workspace "opz" is not configured; configured workspaces: "ops", "dev"'
    )
    assert (problem.prop, problem.value) == ("workspace", "opz")
    assert integration.check({"workspace": "dev"}, slack, False) is None
    assert integration.check({}, slack, True) is None


CONF = """
[[slack]]
  enabled = true
  default = true
  workspace = "ops"
  url = "http://127.0.0.1:9/services/T0/B0/x"
"""


@pytest.fixture
async def api(
    aiohttp_client: ClientFactory, tmp_path: Path, make_runtime: MakeRuntime
) -> TestClient:
    runtime = make_runtime(load(tmp_path, CONF))
    client: TestClient = await aiohttp_client(create_app(runtime))
    return client


async def test_a_task_naming_an_unknown_workspace_is_refused_where_it_names_it(
    api: TestClient,
) -> None:
    script = (
        'dbrp "telegraf"."autogen"\nstream\n    |from()\n        .measurement(\'cpu\')\n'
        "    |alert()\n        .crit(lambda: TRUE)\n        .slack()\n"
        "            .workspace('private')\n"
    )
    resp = await api.post(
        "/kapacitor/v1/tasks", json={"id": "t", "type": "stream", "script": script}
    )
    body = await resp.json()
    assert resp.status == 400
    assert body["error"] == (
        'invalid TICKscript: t:8:24: slack workspace "private" is not configured; '
        'configured workspaces: "ops"'
    )
    ok = script.replace("'private'", "'ops'")
    resp = await api.post("/kapacitor/v1/tasks", json={"id": "t", "type": "stream", "script": ok})
    assert resp.status == 200, await resp.text()


async def test_a_topic_handler_naming_an_unknown_workspace_is_refused(api: TestClient) -> None:
    resp = await api.post(
        "/kapacitor/v1/alerts/topics/cpu/handlers",
        json={"id": "h", "kind": "slack", "options": {"workspace": "private"}},
    )
    assert resp.status == 400  # Kapacitor answers 500 for a handler it cannot create
    assert (await resp.json())["error"] == (
        'failed to create handler: slack workspace "private" is not configured; '
        'configured workspaces: "ops"'
    )


async def test_config_api_shows_the_section_redacted(api: TestClient) -> None:
    resp = await api.get("/kapacitor/v1/config/slack")
    text = await resp.text()
    assert "T0/B0" not in text
    [element] = json.loads(text)["elements"]
    assert element["options"]["url"] is True and element["options"]["token"] is False
    assert sorted(element["redacted"]) == ["token", "url"]
    assert element["link"]["href"] == "/kapacitor/v1/config/slack/ops"


# --- service test ------------------------------------------------------------------------


async def test_service_test_options_are_kapacitors_and_send_one_message(api: TestClient) -> None:
    resp = await api.get("/kapacitor/v1/service-tests/slack")
    assert (await resp.json())["options"] == {
        "workspace": "ops",
        "channel": "",
        "icon-emoji": "",
        "level": "CRITICAL",
        "message": "test slack message",
        "username": "",
    }
    async with webhook_capture() as hook:
        slack = service(workspace(f"{hook.url}/x", channel="#ops"))
        assert slack.default_test_options()["channel"] == "#ops"
        assert await slack.test({"level": "WARNING", "message": "hi"}) == (True, "")
        ok, message = await slack.test({"colour": "red"})
        assert not ok and message.startswith("unknown slack test option(s): colour")
        ok, message = await slack.test({"level": "LOUD"})
        assert not ok and "unknown level 'LOUD'" in message
        hook.responses = [Answer(403, "invalid_token")]
        ok, message = await slack.test({})
        assert not ok and "403" in message and "invalid_token" in message
        await slack.close()
    body = hook.requests[0]["json"]
    assert body["attachments"][0] == {
        "fallback": "hi",
        "color": "warning",
        "text": "hi",
        "mrkdwn_in": ["text"],
    }
    assert body["channel"] == "#ops"


# --- a storm, paced ----------------------------------------------------------------------


class SimClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_storm_to_one_webhook_arrives_at_one_per_second_none_lost() -> None:
    """60 alerts for one Slack webhook, through the dispatcher on a simulated clock, reach a
    real loopback server one per simulated second, in order per alert, nothing dead."""
    clock = SimClock()
    dispatcher = Dispatcher(MemoryOutbox(clock), clock=clock, settings=DeliverySettings())
    topics = Topics(dispatcher=dispatcher)
    async with webhook_capture() as hook:
        arrivals: list[float] = []
        hook.on_request = lambda: arrivals.append(clock.now)
        slack = service(workspace(f"{hook.url}/services/{HOOK_SECRET}"))
        handler = SlackHandler(slack, SlackOptions(channel="#storm"))
        assert handler.rate_limits == (RateLimit(handler.rate_limits[0].key, 1, 1.0),)
        topics.register_handler("t", handler, HandlerLabel("slack", task="t", node="alert2"))
        for i in range(60):
            topics.collect(make_event(Level.CRITICAL, id=f"host{i}", n=i))
        topics.flush()
        start = clock.now
        while dispatcher.outbox.find(state=DeliveryState.QUEUED):
            assert clock.now - start < 300, "still busy after 300 simulated seconds"
            next_at = await dispatcher.step()
            clock.now = max(clock.now, next_at)
        await slack.close()
    assert len(hook.requests) == 60
    assert sorted(r["json"]["attachments"][0]["text"] for r in hook.requests) == sorted(
        f"host{i} is CRITICAL" for i in range(60)
    )
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= 1.0  # never faster than Slack allows
    assert arrivals[-1] - arrivals[0] < 90  # paced, not backed off
    assert sum(dispatcher.counters.dead.values()) == 0


async def test_a_429_retry_after_holds_the_webhook_then_everything_arrives() -> None:
    clock = SimClock()
    dispatcher = Dispatcher(MemoryOutbox(clock), clock=clock, settings=DeliverySettings())
    topics = Topics(dispatcher=dispatcher)
    async with webhook_capture() as hook:
        arrivals: list[float] = []
        hook.on_request = lambda: arrivals.append(clock.now)
        hook.responses = [Answer(429, "rate_limited", {"Retry-After": "30"}), Answer()]
        slack = service(workspace(f"{hook.url}/services/{HOOK_SECRET}"))
        topics.register_handler(
            "t", SlackHandler(slack, SlackOptions()), HandlerLabel("slack", task="t", node="a")
        )
        for i in range(5):
            topics.collect(make_event(id=f"h{i}", n=i))
        topics.flush()
        start = clock.now
        while dispatcher.outbox.find(state=DeliveryState.QUEUED):
            assert clock.now - start < 300
            clock.now = max(clock.now, await dispatcher.step())
        await slack.close()
    assert len(hook.requests) == 6  # the refused one again, then the rest
    assert min(arrivals[1:]) >= arrivals[0] + 30
    assert sum(dispatcher.counters.dead.values()) == 0


@pytest.mark.parametrize(
    ("global_", "state_changes_only", "explicit", "slack_handlers", "sco"),
    [
        (False, False, "", 0, False),
        (True, False, "", 1, False),
        (True, True, "", 1, True),
        (True, True, ".slack().channel('#x')", 1, True),  # an explicit one replaces the global
    ],
)
async def test_a_global_default_workspace_gives_every_alert_node_a_handler(
    global_: bool, state_changes_only: bool, explicit: str, slack_handlers: int, sco: bool
) -> None:
    async with webhook_capture() as hook:
        conf = workspace(f"{hook.url}/hook", global_=global_, state_changes_only=state_changes_only)
        config = Config(integrations={"slack": [conf]})
        services = INTEGRATIONS.build_services(config)
        alerts = AlertService(
            services=services, config=config, dispatcher=Dispatcher(MemoryOutbox())
        )
        pipeline = build_pipeline(
            "stream|from().measurement('cpu')|alert().crit(lambda: TRUE)" + explicit
        )
        [node] = [n for n in pipeline.nodes if n.kind == "alert"]
        publisher = alerts.register_alert_node(task="t", node="alert2", handlers=node.handlers)
        assert [h.kind for h in publisher.handlers] == ["slack"] * slack_handlers
        assert publisher.state_changes_only is sco
        publisher.publish(make_event(Level.CRITICAL, topic="main:t:alert2"))
        await alerts.drain()
        await alerts.close()
        for service in services.values():
            await service.close()
    assert len(hook.requests) == slack_handlers
