"""``.pushover()`` / ``kind: pushover``: Kapacitor's form, priorities, config API, secrets."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from aiohttp.test_utils import TestClient

from leyden.config import ConfigError, load_config
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.pushover import (
    DEFAULT_URL,
    PushoverConfig,
    PushoverService,
    from_options,
    from_tick,
    priority,
)
from leyden.runtime import Runtime
from leyden.server.app import create_app
from webhook_capture import Answer, webhook_capture

TOKEN = "azGDORePKggMaC0QOYAMyEEuzJnyUi"
USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
OTHER_USER = "gznej3rKEVAvPUxu9vvNnqpmZpokzF"


def event(level: Level = Level.CRITICAL, message: str = "cpu is hot & high") -> Event:
    return Event(
        topic="t",
        state=EventState("cpu", message, "", Time(0), Duration(0), level),
        data=EventData(name="cpu"),
    )


def service(url: str) -> PushoverService:
    return PushoverService([PushoverConfig(enabled=True, token=TOKEN, user_key=USER, url=url)])


def ctx(svc: PushoverService) -> HandlerContext:
    return HandlerContext(services={"pushover": svc})


def test_priority_by_level() -> None:
    assert [priority(level) for level in Level] == [-2, -1, 0, 1]


async def test_a_handler_posts_kapacitors_form() -> None:
    async with webhook_capture() as server:
        svc = service(server.url + "/1/messages.json")
        full = from_tick(
            {
                "device": "mydev",
                "title": "my title",
                "uRL": "http://example.com/?a=b",
                "uRLTitle": "t",
                "sound": "siren",
                "userKey": OTHER_USER,
            },
            ctx(svc),
        )
        assert (await full.send([event()])).delivered
        plain = from_options({}, ctx(svc))
        assert (await plain.send([event(Level.OK, "ok")])).delivered
        await svc.close()
    first, second = server.requests
    assert first["path"] == ("/1/messages.json")
    assert first["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    # Go's url.Values.Encode: keys sorted, spaces as +
    assert first["body"] == (
        "device=mydev&message=cpu+is+hot+%26+high&priority=1&sound=siren"
        f"&title=my+title&token={TOKEN}&url=http%3A%2F%2Fexample.com%2F%3Fa%3Db"
        f"&url_title=t&user={OTHER_USER}"
    )
    assert parse_qs(second["body"]) == {
        "message": ["ok"],
        "priority": ["-2"],
        "token": [TOKEN],
        "user": [USER],
    }


async def test_secrets_are_scrubbed_from_reasons_and_destinations() -> None:
    echo = f'{{"user":"invalid","errors":["user key {USER} is invalid, token {TOKEN}"]}}'
    async with webhook_capture() as server:
        server.responses = [Answer(400, echo), Answer(500, "oops")]
        svc = service(server.url)
        handler = from_options({}, ctx(svc))
        bad = await handler.send([event()])
        later = await handler.send([event()])
        ok, message = await svc.test({})
        await svc.close()
    assert bad.outcome == "permanent" and later.outcome == "retry"
    assert not ok
    for text in (bad.reason, later.reason, message, handler.destination, repr(svc.configs[0])):
        assert TOKEN not in text and USER not in text
    assert "is invalid" in bad.reason


async def test_a_disabled_service_fails_permanently() -> None:
    svc = PushoverService([PushoverConfig(token=TOKEN, user_key=USER)])
    result = await from_options({}, ctx(svc)).send([event()])
    assert result.outcome == "permanent" and "pushover is not enabled" in result.reason


def test_handler_options_are_checked() -> None:
    svc = service("http://127.0.0.1:1")
    with pytest.raises(HandlerConfigError, match="url_title"):
        from_options({"url_title": "x"}, ctx(svc))
    with pytest.raises(HandlerConfigError, match="'sound' must be str"):
        from_options({"sound": 1}, ctx(svc))


def test_section_defaults_validation_and_environment(tmp_path: Path) -> None:
    sections = INTEGRATIONS.sections()
    [default] = load_config(None, {}, integrations=sections).integrations["pushover"]
    assert default == PushoverConfig() and default.url == DEFAULT_URL
    env = {"KAPACITOR_PUSHOVER_USER_KEY": USER, "KAPACITOR_PUSHOVER_TOKEN": TOKEN}
    [from_env] = load_config(None, env, integrations=sections).integrations["pushover"]
    assert (from_env.user_key, from_env.token) == (USER, TOKEN)
    path = tmp_path / "kapacitor.conf"
    path.write_text(f'[pushover]\nenabled = true\ntoken = "{TOKEN}"\n')
    with pytest.raises(ConfigError, match="user-key: must specify user key") as info:
        load_config(str(path), {}, integrations=sections)
    assert TOKEN not in str(info.value)


ClientFactory = Callable[..., Awaitable[TestClient]]


async def test_config_api_and_service_test_listing_as_kapacitor(
    aiohttp_client: ClientFactory, make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    path = tmp_path / "kapacitor.conf"
    path.write_text('[pushover]\nurl = "http://pushover.example.com"\n')
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    client = await aiohttp_client(create_app(make_runtime(config)))
    options = {"enabled": False, "token": False, "user-key": False}
    options["url"] = "http://pushover.example.com"
    got = await (await client.get("/kapacitor/v1/config/pushover")).json()
    assert got["elements"] == [
        {
            "link": {"rel": "self", "href": "/kapacitor/v1/config/pushover/"},
            "options": options,
            "redacted": ["token", "user-key"],
        }
    ]
    update = {"set": {"token": TOKEN, "user-key": USER}}
    assert (await client.post("/kapacitor/v1/config/pushover/", json=update)).status == 204
    answer = await client.get("/kapacitor/v1/config/pushover/")
    text = await answer.text()
    assert TOKEN not in text and USER not in text
    assert (await answer.json())["options"] == {**options, "token": True, "user-key": True}
    listed = await (await client.get("/kapacitor/v1/service-tests/pushover")).json()
    assert listed["options"] == {
        "user-key": "",
        "message": "test pushover message",
        "device": "",
        "title": "",
        "url": "",
        "url-title": "",
        "sound": "",
        "level": "CRITICAL",
    }


async def test_service_test_sends_its_message_at_its_level() -> None:
    async with webhook_capture() as server:
        svc = service(server.url)
        assert await svc.test({"level": "WARNING", "title": "hi"}) == (True, "")
        ok, message = await svc.test({"level": "LOUD"})
        await svc.close()
    assert not ok and "LOUD" in message
    [request] = server.requests
    assert parse_qs(request["body"]) == {
        "message": ["test pushover message"],
        "priority": ["0"],
        "title": ["hi"],
        "token": [TOKEN],
        "user": [USER],
    }


def test_pushover_has_no_global_handler() -> None:
    integration = INTEGRATIONS.get("pushover")
    assert integration is not None and integration.global_handler is None


async def test_a_topic_handlers_user_key_is_redacted_in_the_api(
    aiohttp_client: ClientFactory, make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    path = tmp_path / "kapacitor.conf"
    path.write_text(f'[pushover]\nenabled = true\ntoken = "{TOKEN}"\nuser-key = "{USER}"\n')
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    client = await aiohttp_client(create_app(make_runtime(config)))
    spec = {"id": "p", "kind": "pushover", "options": {"user-key": OTHER_USER, "sound": "x"}}
    created = await client.post("/kapacitor/v1/alerts/topics/t/handlers", json=spec)
    assert created.status == 200, await created.text()
    for answer in (created, await client.get("/kapacitor/v1/alerts/topics/t/handlers/p")):
        text = await answer.text()
        assert OTHER_USER not in text
        options = json.loads(text)["options"]
        assert options == {"user-key": "[REDACTED]", "sound": "x"}
