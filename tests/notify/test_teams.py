"""``[teams]``, ``.teams()`` and ``kind: teams`` against a real loopback server: Kapacitor's
MessageCard, the single section through the config API (its URL redacted), the service test."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from leyden.config import ConfigError, load_config
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.teams import SECTION, TeamsConfig, TeamsHandler, TeamsService, card
from leyden.runtime import Runtime
from leyden.server.app import create_app
from webhook_capture import Answer, webhook_capture

SECRET = "webhookb2/0a1b2c3d-SeCrEt@x/IncomingWebhook/f00d"
ClientFactory = Callable[..., Awaitable[TestClient]]
MakeRuntime = Callable[..., Runtime]


def make_event(level: Level = Level.CRITICAL, id: str = "cpu/serverA", topic: str = "t") -> Event:
    return Event(
        topic=topic,
        state=EventState(
            id=id,
            message=f"{id} is {level}",
            details="",
            time=Time(0),
            duration=Duration(0),
            level=level,
        ),
        data=EventData(name="cpu", task_name="task", tags={}),
    )


def test_the_card_is_kapacitors() -> None:
    body = card(alert_topic="t", alert_id="id", message="message", level=Level.CRITICAL)
    assert body == (
        b'{"@type":"MessageCard","@context":"http://schema.org/extensions",'
        b'"title":"CRITICAL: [id]","text":"message","summary":"CRITICAL: [id] - message...",'
        b'"themeColor":"CC4A31"}'
    )


@pytest.mark.parametrize(
    ("topic", "alert_id", "level", "title", "summary", "color"),
    [
        ("", "", Level.OK, "OK", "OK: m...", "34CC25"),
        ("top", "", Level.WARNING, "WARNING: [top]", "WARNING: [top] - m...", "FFA533"),
        ("top", "a", Level.INFO, "INFO: [a]", "INFO: [a] - m...", "34CC25"),
    ],
)
def test_title_summary_and_colour(
    topic: str, alert_id: str, level: Level, title: str, summary: str, color: str
) -> None:
    got = json.loads(card(alert_topic=topic, alert_id=alert_id, message="m", level=level))
    assert (got["title"], got["summary"], got["themeColor"]) == (title, summary, color)


def test_the_summary_is_cut_at_70_bytes() -> None:
    got = json.loads(card(alert_topic="", alert_id="x", message="y" * 100, level=Level.CRITICAL))
    assert got["summary"] == ("CRITICAL: [x] - " + "y" * 100)[:70] + "..."
    assert got["text"] == "y" * 100
    # a character cut in two becomes U+FFFD, as Go's encoder writes the broken byte
    wide = json.loads(card(alert_topic="", alert_id="", message="x" + "é" * 40, level=Level.OK))
    assert wide["summary"].endswith("\ufffd...")


def test_built_in_section_environment_and_validation(tmp_path: Path) -> None:
    [default] = load_config(None, {}, integrations=INTEGRATIONS.sections()).sections(SECTION)
    assert default == TeamsConfig()
    env = {"KAPACITOR_TEAMS_ENABLED": "true", "KAPACITOR_TEAMS_CHANNEL_URL": "https://t.x/h"}
    [configured] = load_config(None, env, integrations=INTEGRATIONS.sections()).sections(SECTION)
    assert configured.enabled and configured.channel_url == "https://t.x/h"
    path = tmp_path / "kapacitor.conf"
    path.write_text("[teams]\n enabled = true\n")
    with pytest.raises(ConfigError, match=r"\[teams\]: channel-url: must specify Teams channel"):
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    path.write_text(f'[teams]\n channel-url = "outlook.office.com/{SECRET}"\n')
    with pytest.raises(ConfigError, match=r"channel-url: must be an http") as info:
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    assert SECRET not in str(info.value)
    assert SECRET not in repr(TeamsConfig(channel_url=SECRET))


async def test_handler_posts_the_card_and_its_channel_url_wins() -> None:
    async with webhook_capture() as hook:
        teams = TeamsService([TeamsConfig(enabled=True, channel_url=f"{hook.url}/{SECRET}")])
        hook.responses = [Answer(200), Answer(204), Answer(500, f"down {SECRET}")]
        assert (await TeamsHandler(teams).send([make_event()])).delivered
        other = TeamsHandler(teams, f"{hook.url}/other")
        assert (await other.send([make_event(Level.WARNING)])).delivered
        failed = await TeamsHandler(teams).send([make_event()])
        await teams.close()
    assert [r["path"] for r in hook.requests] == [f"/{SECRET}", "/other", f"/{SECRET}"]
    assert hook.requests[0]["headers"]["Content-Type"] == "application/json"
    assert hook.requests[1]["json"]["title"] == "WARNING: [cpu/serverA]"
    assert failed.outcome == "retry" and SECRET not in failed.reason
    handler = TeamsHandler(teams)
    assert SECRET not in handler.destination and SECRET not in repr(handler)
    [limit] = handler.rate_limits
    assert (limit.limit, limit.window) == (4, 1.0) and SECRET not in limit.key


async def test_a_delivery_failure_reported_in_a_200_is_not_delivered() -> None:
    """Office 365 connectors answer 200 with "Webhook message delivery failed …" when they
    dropped the message: a 429 inside is retried after a wait, a 400 is permanent."""
    failed = "Webhook message delivery failed with error: Microsoft Teams endpoint returned "
    async with webhook_capture() as hook:
        teams = TeamsService([TeamsConfig(enabled=True, channel_url=f"{hook.url}/{SECRET}")])
        hook.responses = [
            Answer(200, failed + "HTTP error 429 with contextId tcid=0,server=msgapi"),
            Answer(200, failed + "HTTP error 400 with contextId tcid=1"),
            Answer(200, "1"),
        ]
        results = [await TeamsHandler(teams).send([make_event()]) for _ in range(3)]
        await teams.close()
    assert [r.outcome for r in results] == ["retry", "permanent", "delivered"]
    assert results[0].retry_after is not None and results[0].retry_after > 0
    assert all(SECRET not in r.reason for r in results)


async def test_a_disabled_section_is_a_permanent_failure_even_with_a_handler_url() -> None:
    teams = TeamsService([TeamsConfig(enabled=False)])
    result = await TeamsHandler(teams, "http://127.0.0.1:9/x").send([make_event()])
    assert result.outcome == "permanent"
    assert result.reason == "teams is not enabled: set enabled = true in its [teams] section"


def test_tick_and_handler_file_options() -> None:
    teams = TeamsService([TeamsConfig(enabled=True, channel_url="http://x/y")])
    ctx = HandlerContext(services={"teams": teams})
    integration = INTEGRATIONS.get("teams")
    assert integration is not None and integration.from_tick is not None
    tick = integration.from_tick({"channelURL": "http://z/w"}, ctx)
    assert isinstance(tick, TeamsHandler) and tick.channel_url == "http://z/w"
    file = integration.from_options({"channel-url": "http://z/w"}, ctx)
    assert isinstance(file, TeamsHandler) and file.channel_url == "http://z/w"
    with pytest.raises(HandlerConfigError, match=r"invalid teams handler option\(s\): url"):
        integration.from_options({"url": "http://z"}, ctx)
    with pytest.raises(HandlerConfigError, match="channel-url must be an http"):
        integration.from_options({"channel-url": "z"}, ctx)


def test_global_and_state_changes_only() -> None:
    on = TeamsService(
        [TeamsConfig(enabled=True, channel_url="http://x/", global_=True, state_changes_only=True)]
    )
    assert on.global_enabled() and on.state_changes_only()
    assert not TeamsService([TeamsConfig(global_=True)]).global_enabled()


async def test_service_test() -> None:
    async with webhook_capture() as hook:
        teams = TeamsService([TeamsConfig(enabled=True, channel_url=f"{hook.url}/conf")])
        assert teams.default_test_options() == {
            "channel_url": "",
            "alert_topic": "test kapacitor alert topic",
            "alert_id": "foo/bar/bat",
            "message": "test teams message",
            "level": "CRITICAL",
        }
        assert await teams.test({}) == (True, "")
        assert await teams.test({"channel_url": f"{hook.url}/given"}) == (True, "")
        ok, message = await teams.test({"color": "red"})
        assert not ok and message.startswith("unknown teams test option(s): color")
        await teams.close()
    assert [r["path"] for r in hook.requests] == ["/conf", "/given"]
    assert hook.requests[0]["json"]["title"] == "CRITICAL: [foo/bar/bat]"


@pytest.fixture
async def api(
    aiohttp_client: ClientFactory, tmp_path: Path, make_runtime: MakeRuntime
) -> TestClient:
    path = tmp_path / "kapacitor.conf"
    path.write_text('[teams]\n channel-url = "http://teams.example.com/abcde"\n')
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    client: TestClient = await aiohttp_client(create_app(make_runtime(config)))
    return client


async def test_config_api_serves_the_single_section_with_its_url_redacted(api: TestClient) -> None:
    """TestServer_UpdateConfig's teams steps; channel-url is redacted (Kapacitor shows it)."""
    resp = await api.get("/kapacitor/v1/config/teams")
    text = await resp.text()
    assert "abcde" not in text
    [element] = json.loads(text)["elements"]
    assert element["link"]["href"] == "/kapacitor/v1/config/teams/"
    assert element["options"] == {
        "enabled": False,
        "channel-url": True,
        "global": False,
        "state-changes-only": False,
    }
    assert element["redacted"] == ["channel-url"]
    resp = await api.post(
        "/kapacitor/v1/config/teams/",
        json={
            "set": {
                "global": True,
                "state-changes-only": True,
                "channel-url": "http://teams.example.com/12345",
            }
        },
    )
    assert resp.status == 204, await resp.text()
    resp = await api.get("/kapacitor/v1/config/teams/")
    options = (await resp.json())["options"]
    assert (options["global"], options["state-changes-only"]) == (True, True)
    resp = await api.post("/kapacitor/v1/config/teams", json={"add": {"enabled": True}})
    assert resp.status == 400
    assert "single section" in (await resp.json())["error"]
    resp = await api.get("/kapacitor/v1/service-tests/teams")
    assert (await resp.json())["options"]["channel_url"] == ""


async def test_a_bad_channel_url_is_refused_at_definition_and_a_handlers_url_is_hidden(
    api: TestClient,
) -> None:
    script = "stream\n    |from()\n    |alert()\n        .teams().channelURL('ftp://teams/x')\n"
    resp = await api.post(
        "/kapacitor/v1/tasks",
        json={"id": "t", "type": "stream", "dbrps": [{"db": "d", "rp": "r"}], "script": script},
    )
    body = await resp.json()
    assert resp.status == 400 and "channelURL must be an http:// or https:// URL" in body["error"]
    secret_url = f"https://outlook.office.com/webhook/{SECRET}"
    spec = {"id": "h", "kind": "teams", "options": {"channel-url": secret_url}}
    resp = await api.post("/kapacitor/v1/alerts/topics/cpu/handlers", json=spec)
    text = await resp.text()
    assert resp.status == 200 and SECRET not in text and "[REDACTED]" in text
