"""``.bigPanda()`` / ``kind: bigpanda``: Kapacitor's bodies (its service_test.go as data), the
request, templates, config API, service test and the token kept secret."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from leyden.config import ConfigError, load_config
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.bigpanda import (
    DEFAULT_URL,
    BigPandaConfig,
    BigPandaService,
    alert_body,
    from_options,
    from_tick,
)
from leyden.runtime import Runtime
from leyden.server.app import create_app
from webhook_capture import Answer, webhook_capture

TOKEN = "bPtOkEn-SeCrEt-0123456789abcdef"
T1971 = 31_536_038 * 1_000_000_000  # 1971-01-01T00:00:38Z

# services/bigpanda/service_test.go TestService_SerializeEventData: fields → expected body
SERIALIZE = {
    "int field": (
        {"primitive_type": 10},
        {},
        '{"app_key":"key","check":"id","description":"message","details":"details",'
        '"primitive_type":"10","status":"ok","task":":test","timestamp":31536038}',
    ),
    "string field": (
        {"primitive_type": "string"},
        {},
        '{"app_key":"key","check":"id","description":"message","details":"details",'
        '"primitive_type":"string","status":"ok","task":":test","timestamp":31536038}',
    ),
    "boolean field": (
        {"primitive_type": True},
        {},
        '{"app_key":"key","check":"id","description":"message","details":"details",'
        '"primitive_type":"true","status":"ok","task":":test","timestamp":31536038}',
    ),
    "float field": (
        {"primitive_type": 123.45},
        {},
        '{"app_key":"key","check":"id","description":"message","details":"details",'
        '"primitive_type":"123.45","status":"ok","task":":test","timestamp":31536038}',
    ),
    "html field": (
        {"escape": "\n"},
        {},
        '{"app_key":"key","check":"id","description":"message","details":"details",'
        '"escape":"\\n","status":"ok","task":":test","timestamp":31536038}',
    ),
    "array field": (
        {"array": [10, True, "string value"]},
        {},
        '{"app_key":"key","array":"[10,true,\\"string value\\"]","check":"id",'
        '"description":"message","details":"details","status":"ok","task":":test",'
        '"timestamp":31536038}',
    ),
    "tags": (
        {},
        {"host": "localhost", "link": "http://localhost/bp"},
        '{"app_key":"key","check":"id","description":"message","details":"details",'
        '"host":"localhost","link":"http://localhost/bp","status":"ok","task":":test",'
        '"timestamp":31536038}',
    ),
}

_TAIL = '"status":"ok","task":":test","timestamp":31536038}'
# TestService_Payload: (app-key, auto-attributes, attributes) → expected body
PAYLOAD = {
    "default config": (
        "",
        "tags,fields",
        {},
        '{"app_key":"","check":"id","count":"10","description":"message","details":"details",'
        '"host":"localhost","link":"http://localhost/bp","load":"0.5",' + _TAIL,
    ),
    "no auto no attributes": (
        "key",
        "",
        {},
        '{"app_key":"key","check":"id","description":"message","details":"details",' + _TAIL,
    ),
    "no auto with attributes": (
        "key",
        "",
        {"host": "example.com", "link": "http://example.com/bp"},
        '{"app_key":"key","check":"id","description":"message","details":"details",'
        '"host":"example.com","link":"http://example.com/bp",' + _TAIL,
    ),
    "auto tags": (
        "key",
        "tags",
        {},
        '{"app_key":"key","check":"id","description":"message","details":"details",'
        '"host":"localhost","link":"http://localhost/bp",' + _TAIL,
    ),
    "auto fields": (
        "key",
        "fields",
        {},
        '{"app_key":"key","check":"id","count":"10","description":"message","details":"details",'
        '"load":"0.5",' + _TAIL,
    ),
    "auto tags and fields with attributes override": (
        "key",
        "tags,fields",
        {"host": "example.com", "link": "http://example.com/bp"},
        '{"app_key":"key","check":"id","count":"10","description":"message","details":"details",'
        '"host":"example.com","link":"http://example.com/bp","load":"0.5",' + _TAIL,
    ),
}


def _body(config: BigPandaConfig, data: EventData, attributes: dict[str, str]) -> str:
    return alert_body(
        config,
        id="id",
        message="message",
        details="details",
        level=Level.OK,
        time_ns=T1971,
        data=data,
        app_key="",
        primary_property="",
        secondary_property="",
        attributes=attributes,
    ).decode()


@pytest.mark.parametrize("name", list(SERIALIZE))
def test_kapacitors_serialize_event_data(name: str) -> None:
    fields, tags, expected = SERIALIZE[name]
    config = BigPandaConfig(enabled=True, app_key="key", auto_attributes="tags,fields")
    assert _body(config, EventData(name="test", tags=tags, fields=fields), {}) == expected


@pytest.mark.parametrize("name", list(PAYLOAD))
def test_kapacitors_payload(name: str) -> None:
    app_key, auto, attributes, expected = PAYLOAD[name]
    config = BigPandaConfig(enabled=True, app_key=app_key, auto_attributes=auto)
    tags = {"host": "localhost", "link": "http://localhost/bp"}
    data = EventData(name="test", tags=tags, fields={"count": 10, "load": 0.5})
    assert _body(config, data, attributes) == expected


def test_details_are_unescaped_and_json_details_left_out() -> None:
    config = BigPandaConfig(enabled=True, app_key="k", auto_attributes="")

    def details(text: str) -> Any:
        body = alert_body(
            config,
            id="",
            message="<b>",
            details=text,
            level=Level.WARNING,
            time_ns=0,
            data=EventData(),
            app_key="",
            primary_property="",
            secondary_property="",
            attributes={},
        )
        return body.decode()

    assert '"details":"a \\u0026 b"' in details("a &amp; b")  # Go escapes HTML in JSON
    assert '"description":"\\u003cb\\u003e"' in details("")
    assert '"details"' not in details("{&#34;id&#34;:1}")
    assert '"status":"warning"' in details("")


def event(level: Level = Level.CRITICAL) -> Event:
    return Event(
        topic="t",
        state=EventState(
            "cpu/serverA", "cpu is hot", "https://x/y", Time(T1971), Duration(0), level
        ),
        data=EventData(
            name="cpu", task_name="task", tags={"host": "serverA"}, fields={"count": 10.0}
        ),
    )


def service(url: str, **keys: Any) -> BigPandaService:
    config = BigPandaConfig(enabled=True, app_key="app", token=TOKEN, url=url, **keys)
    return BigPandaService([config], now=lambda: 1_000_000_000)


def ctx(svc: BigPandaService) -> HandlerContext:
    return HandlerContext(services={"bigpanda": svc})


async def test_a_handler_posts_with_the_bearer_token_and_rendered_attributes() -> None:
    async with webhook_capture() as server:
        server.responses = [Answer(201, "")]
        svc = service(server.url + "/data/v2/alerts", auto_attributes="tags")
        handler = from_tick(
            {
                "appKey": "mine",
                "host": "{{.Tags.host}}-1",
                "primaryProperty": "host",
                "attributes": {"lvl": "{{.Level}}", "n": 3, "v": "{{.Fields.count}}"},
            },
            ctx(svc),
        )
        result = await handler.send([event()])
        other = from_options({"url": server.url + "/other"}, ctx(svc))
        assert (await other.send([event(Level.INFO)])).delivered
        await svc.close()
    assert result.delivered
    first, second = server.requests
    assert first["path"] == ("/data/v2/alerts")
    assert first["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert first["headers"]["Content-Type"] == "application/json"
    assert first["json"] == {
        "app_key": "mine",
        "check": "cpu/serverA",
        "description": "cpu is hot",
        "details": "https://x/y",
        "host": "serverA-1",
        "lvl": "CRITICAL",
        "n": "3",
        "v": "10",
        "primary_property": "host",
        "status": "critical",
        "task": "task:cpu",
        "timestamp": 31536038,
    }
    assert second["path"] == "/other"
    assert second["json"]["status"] == "ok" and second["json"]["host"] == ""


async def test_the_token_is_never_in_a_reason_or_destination() -> None:
    async with webhook_capture() as server:
        server.responses = [Answer(401, f'{{"error":"bad token {TOKEN}"}}')]
        svc = service(server.url)
        handler = from_options({}, ctx(svc))
        result = await handler.send([event()])
        ok, message = await svc.test({})
        await svc.close()
    assert result.outcome == "permanent" and not ok
    for text in (result.reason, message, handler.destination, repr(svc.configs[0])):
        assert TOKEN not in text


def test_templates_and_options_are_checked_at_definition() -> None:
    svc = service("http://127.0.0.1:1")
    integration = INTEGRATIONS.get("bigpanda")
    check = integration.check if integration is not None else None
    assert check is not None
    problem = check({"host": "{{.Tags.host"}, svc, True)
    assert problem is not None and "invalid host template" in problem.message
    problem = check({"attributes": {"x": "{{if}}"}}, svc, False)
    assert problem is not None and "invalid x template" in problem.message
    assert check({"app-key": "a", "attributes": {"k": 1}}, svc, False) is None
    with pytest.raises(HandlerConfigError, match="invalid bigpanda handler option"):
        from_options({"appkey": "a"}, ctx(svc))
    with pytest.raises(HandlerConfigError, match="url: must be an http"):
        from_options({"url": "nope"}, ctx(svc))


async def test_service_test_sends_kapacitors_test_alert() -> None:
    async with webhook_capture() as server:
        server.responses = [Answer(201, "")]
        svc = service(server.url)
        assert await svc.test({}) == (True, "")
        ok, message = await svc.test({"app-key": "x"})  # Kapacitor's key is app_key
        assert not ok and message.startswith("unknown bigpanda test option(s): app-key;")
        ok, message = await svc.test({"timestamp": "now"})
        assert (ok, message) == (
            False,
            "bigpanda test option 'timestamp': invalid RFC 3339 time 'now'",
        )
        await svc.close()
    [request] = server.requests
    assert request["json"] == {
        "app_key": "012345",
        "description": "test bigpanda message",
        "status": "critical",
        "task": ":testBigPanda",
        "timestamp": 1,
    }


def test_section_defaults_and_validation(tmp_path: Path) -> None:
    sections = INTEGRATIONS.sections()
    [default] = load_config(None, {}, integrations=sections).integrations["bigpanda"]
    assert default == BigPandaConfig()
    assert (default.url, default.auto_attributes) == (DEFAULT_URL, "tags,fields")
    env = {"KAPACITOR_BIGPANDA_APP_KEY": "a", "KAPACITOR_BIGPANDA_AUTO_ATTRIBUTES": ""}
    env["KAPACITOR_BIGPANDA_TOKEN"] = TOKEN
    [from_env] = load_config(None, env, integrations=sections).integrations["bigpanda"]
    assert (from_env.app_key, from_env.token) == ("a", TOKEN)
    path = tmp_path / "kapacitor.conf"
    path.write_text('[bigpanda]\nenabled = true\napp-key = "a"\n')
    with pytest.raises(ConfigError, match="token: must specify BigPanda token"):
        load_config(str(path), {}, integrations=sections)
    path.write_text("[bigpanda]\nenabled = true\n")
    with pytest.raises(ConfigError, match="app-key: must specify BigPanda app-key"):
        load_config(str(path), {}, integrations=sections)


ClientFactory = Callable[..., Awaitable[TestClient]]


async def test_config_api_and_service_test_listing_as_kapacitor(
    aiohttp_client: ClientFactory, make_runtime: Callable[..., Runtime]
) -> None:
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    client = await aiohttp_client(create_app(make_runtime(config)))
    options = {
        "enabled": False,
        "global": False,
        "state-changes-only": False,
        "url": "https://api.bigpanda.io/data/v2/alerts",
        "insecure-skip-verify": False,
        "token": False,
        "app-key": "",
        "auto-attributes": "tags,fields",
    }
    got = await (await client.get("/kapacitor/v1/config/bigpanda/")).json()
    assert got == {
        "link": {"rel": "self", "href": "/kapacitor/v1/config/bigpanda/"},
        "options": options,
        "redacted": ["token"],
    }
    update = {
        "set": {
            "enabled": True,
            "url": "https://dev123456.bigpanda.io/data/v2/alerts",
            "app-key": "appkey-123",
            "token": TOKEN,
            "auto-attributes": "",
        }
    }
    assert (await client.post("/kapacitor/v1/config/bigpanda/", json=update)).status == 204
    answer = await client.get("/kapacitor/v1/config/bigpanda")
    assert TOKEN not in await answer.text()
    [element] = (await answer.json())["elements"]
    assert element["options"] == {
        **options,
        "enabled": True,
        "url": "https://dev123456.bigpanda.io/data/v2/alerts",
        "app-key": "appkey-123",
        "token": True,
        "auto-attributes": "",
    }
    listed = await (await client.get("/kapacitor/v1/service-tests/bigpanda")).json()
    opts = listed["options"]
    assert opts.pop("timestamp").endswith("Z")
    assert opts == {
        "app_key": "012345",
        "host": "serverA",
        "level": "CRITICAL",
        "message": "test bigpanda message",
        "primary_property": "",
        "secondary_property": "",
        "event_data": {
            "Fields": {},
            "Result": {"series": None},
            "Name": "testBigPanda",
            "TaskName": "",
            "Group": "",
            "Tags": {},
            "Recoverable": False,
            "Category": "",
        },
    }
    assert json.dumps(opts)  # plain JSON


def test_global_and_state_changes_only() -> None:
    integration = INTEGRATIONS.get("bigpanda")
    assert integration is not None and integration.global_handler is not None
    assert integration.tick == "bigPanda"
    on = service("http://x", global_=True, state_changes_only=True)
    assert integration.global_handler(on)
    assert integration.global_state_changes_only is not None
    assert integration.global_state_changes_only(on)
