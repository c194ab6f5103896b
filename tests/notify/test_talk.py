"""``[talk]``, ``.talk()`` and ``kind: talk`` against a real loopback server."""

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
from leyden.notify.talk import SECTION, TalkConfig, TalkHandler, TalkService, payload
from leyden.runtime import Runtime
from leyden.server.app import create_app
from webhook_capture import Answer, webhook_capture

SECRET = "v1/services/webhook/SeCrEt0123456789"
ClientFactory = Callable[..., Awaitable[TestClient]]
MakeRuntime = Callable[..., Runtime]


def make_event() -> Event:
    return Event(
        topic="t",
        state=EventState(
            id="cpu/a",
            message="cpu/a is CRITICAL",
            details="",
            time=Time(0),
            duration=Duration(0),
            level=Level.CRITICAL,
        ),
        data=EventData(name="cpu", task_name="task", tags={}),
    )


def test_the_body_is_kapacitors() -> None:
    assert payload(title="id", text="a < b", author_name="Kapacitor") == (
        b'{"authorName":"Kapacitor","text":"a \\u003c b","title":"id"}\n'
    )


def test_built_in_section_environment_and_validation(tmp_path: Path) -> None:
    [default] = load_config(None, {}, integrations=INTEGRATIONS.sections()).sections(SECTION)
    assert default == TalkConfig()
    env = {"KAPACITOR_TALK_ENABLED": "true", "KAPACITOR_TALK_URL": "https://talk.x/h"}
    [configured] = load_config(None, env, integrations=INTEGRATIONS.sections()).sections(SECTION)
    assert configured.enabled and configured.url == "https://talk.x/h"
    path = tmp_path / "kapacitor.conf"
    path.write_text("[talk]\n enabled = true\n")
    with pytest.raises(ConfigError, match=r"\[talk\]: url: must specify url"):
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    assert TalkConfig(url=SECRET, author_name="K").to_options() == {
        "enabled": False,
        "url": True,
        "author_name": "K",
    }
    assert SECRET not in repr(TalkConfig(url=SECRET))


async def test_handler_posts_the_alert_id_as_title() -> None:
    async with webhook_capture() as hook:
        talk = TalkService([TalkConfig(enabled=True, url=f"{hook.url}/{SECRET}", author_name="K")])
        handler = TalkHandler(talk)
        assert (await handler.send([make_event()])).delivered
        hook.responses = [Answer(502, f"bad gateway {SECRET}")]
        failed = await handler.send([make_event()])
        await talk.close()
    got = hook.requests[0]
    assert got["path"] == f"/{SECRET}"
    assert got["headers"]["Content-Type"] == "application/json"
    assert got["json"] == {"authorName": "K", "text": "cpu/a is CRITICAL", "title": "cpu/a"}
    assert failed.outcome == "retry" and SECRET not in failed.reason
    assert SECRET not in handler.destination


async def test_disabled_is_permanent_and_the_handler_has_no_options() -> None:
    talk = TalkService([TalkConfig()])
    result = await TalkHandler(talk).send([make_event()])
    assert result.outcome == "permanent"
    assert result.reason == "talk is not enabled: set enabled = true in its [talk] section"
    integration = INTEGRATIONS.get("talk")
    assert integration is not None and integration.global_handler is None
    ctx = HandlerContext(services={"talk": talk})
    assert isinstance(integration.from_options({}, ctx), TalkHandler)
    with pytest.raises(HandlerConfigError, match=r"invalid talk handler option.*no options"):
        integration.from_options({"title": "x"}, ctx)


@pytest.fixture
async def api(
    aiohttp_client: ClientFactory, tmp_path: Path, make_runtime: MakeRuntime
) -> TestClient:
    path = tmp_path / "kapacitor.conf"
    path.write_text('[talk]\n author_name = "Kapacitor"\n')
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    client: TestClient = await aiohttp_client(create_app(make_runtime(config)))
    return client


async def test_config_api_and_service_test(api: TestClient) -> None:
    """TestServer_UpdateConfig's talk steps and TestServer_ListServiceTests' talk entry."""
    resp = await api.get("/kapacitor/v1/config/talk/")
    element = await resp.json()
    assert element["options"] == {"enabled": False, "url": False, "author_name": "Kapacitor"}
    assert element["redacted"] == ["url"]
    resp = await api.post(
        "/kapacitor/v1/config/talk/",
        json={"set": {"enabled": True, "url": f"http://talk.example.com/{SECRET}"}},
    )
    assert resp.status == 204, await resp.text()
    text = await (await api.get("/kapacitor/v1/config/talk")).text()
    assert SECRET not in text
    assert json.loads(text)["elements"][0]["options"]["url"] is True
    resp = await api.get("/kapacitor/v1/service-tests/talk")
    assert (await resp.json())["options"] == {"title": "testTitle", "text": "test talk text"}


async def test_service_test_posts_one_message() -> None:
    async with webhook_capture() as hook:
        talk = TalkService([TalkConfig(enabled=True, url=hook.url, author_name="K")])
        assert await talk.test({"text": "hello"}) == (True, "")
        ok, message = await talk.test({"body": "x"})
        assert not ok and message.startswith("unknown talk test option(s): body")
        await talk.close()
    assert hook.requests[0]["json"] == {"authorName": "K", "text": "hello", "title": "testTitle"}
