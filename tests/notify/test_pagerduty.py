"""``[pagerduty]``, ``.pagerDuty()`` and ``kind: pagerduty`` (Kapacitor's services/pagerduty):
the section and its API shape, the request, outcomes, secrets, the service test."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from rest_capture import capture, close, config, context, event, no_secret

from leyden.config import ConfigError
from leyden.model.alert import Level
from leyden.notify import pagerduty, pagerduty2
from leyden.notify._single import kapacitor_url
from leyden.notify.base import HandlerConfigError
from leyden.replay import parse_dbrp, replay
from leyden.runtime import Runtime
from leyden.server.app import create_app

KEY = "sErViCeKeY-0123456789abcdef"


def _conf(url: str, extra: str = "") -> str:
    return f'[pagerduty]\n  enabled = true\n  url = "{url}"\n  service-key = "{KEY}"\n{extra}'


def test_section_defaults_and_env_override(tmp_path: Path) -> None:
    (section,) = config(tmp_path, "").sections(pagerduty.SECTION)
    assert section.to_options() == {
        "enabled": False,
        "url": "https://events.pagerduty.com/generic/2010-04-15/create_event.json",
        "service-key": False,
        "global": False,
    }
    cfg = config(tmp_path, "", {"KAPACITOR_PAGERDUTY_SERVICE_KEY": KEY})
    (section,) = cfg.sections(pagerduty.SECTION)
    assert section.service_key == KEY
    assert section.to_options()["service-key"] is True
    assert KEY not in repr(section)


def test_section_refuses_a_url_that_is_not_http(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[pagerduty\]: url: must be an http"):
        config(tmp_path, '[pagerduty]\n  url = "events.pagerduty.com"\n')
    with pytest.raises(ConfigError, match=r"\[pagerduty\]: url: cannot be empty"):
        config(tmp_path, '[pagerduty]\n  url = ""\n')


async def test_trigger_and_resolve_as_kapacitor_sends_them(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url + "/create")))
        handler = pagerduty.from_tick({}, ctx)
        assert (await handler.send([event(Level.CRITICAL)])).delivered
        assert (await handler.send([event(Level.OK, message="cpu ok")])).delivered
        await close(ctx)
    first, second = cap.seen
    assert first.path == "/create"
    assert first.headers["Content-Type"] == "application/json"
    assert first.json == {
        "service_key": KEY,
        "event_type": "trigger",
        "description": "cpu is high",
        "incident_key": "cpu:host=a",
        "client": "kapacitor",
        "client_url": "http://127.0.0.1:9092/kapacitor/v1",
        "details": "details",
    }
    assert first.raw.endswith(b"}\n")  # Go's json.Encoder
    assert second.json["event_type"] == "resolve"
    assert second.json["description"] == "cpu ok"


async def test_handler_key_overrides_and_info_is_refused(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url)))
        handler = pagerduty.from_options({"service-key": "other-key"}, ctx)
        assert (await handler.send([event(Level.WARNING)])).delivered
        info = await handler.send([event(Level.INFO)])
        await close(ctx)
    assert [s.json["service_key"] for s in cap.seen] == ["other-key"]
    assert info.outcome == "permanent"
    assert "AlertLevel 'info' is currently ignored by the PagerDuty service" in info.reason


async def test_disabled_service_and_unknown_options(tmp_path: Path) -> None:
    ctx = context(config(tmp_path, "[pagerduty]\n  enabled = false\n"))
    result = await pagerduty.from_tick({}, ctx).send([event()])
    assert result.outcome == "permanent"
    assert result.reason == (
        "pagerduty: service is not enabled (set enabled = true in [pagerduty])"
    )
    assert await ctx.services["pagerduty"].test({}) == (False, "service is not enabled")
    with pytest.raises(HandlerConfigError, match="invalid pagerduty handler option"):
        pagerduty.from_options({"routing-key": "x"}, ctx)
    await close(ctx)


async def test_errors_retry_and_never_show_the_key(tmp_path: Path) -> None:
    async with capture() as cap:
        cap.reply(429, '{"message": "slow down"}', {"Retry-After": "7"})
        cap.reply(400, json.dumps({"message": f"bad key {KEY}"}))
        ctx = context(config(tmp_path, _conf(cap.url)))
        handler = pagerduty.from_tick({}, ctx)
        limited = await handler.send([event()])
        refused = await handler.send([event()])
        await close(ctx)
    assert (limited.outcome, limited.retry_after) == ("retry", 7.0)
    assert refused.outcome == "permanent"
    assert "bad key" in refused.reason
    no_secret(refused.reason, KEY)
    no_secret(handler.destination + repr(handler.rate_limits), KEY)
    (limit,) = handler.rate_limits
    assert (limit.limit, limit.window) == (120, 60.0)
    # one budget per integration key, whichever API version uses it
    v2 = pagerduty2.from_tick({"routingKey": KEY}, ctx)
    assert v2.rate_limits == handler.rate_limits


async def test_service_test_defaults_and_run(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url)))
        service = ctx.services["pagerduty"]
        assert service.default_test_options() == {
            "incident-key": "testIncidentKey",
            "description": "test pagerduty message",
            "details": "",
            "level": "CRITICAL",
        }
        assert await service.test({"details": "d"}) == (True, "")
        assert await service.test({"level": "LOUD"}) == (
            False,
            "pagerduty test option 'level': unknown level 'LOUD'; must be one of OK, INFO, "
            "WARNING, CRITICAL",
        )
        await close(ctx)
    (seen,) = cap.seen
    assert seen.json["incident_key"] == "testIncidentKey"
    assert seen.json["details"] == "d"


async def test_config_api_shows_and_redacts_like_kapacitor(
    tmp_path: Path,
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(config(tmp_path, f'[pagerduty]\n  service-key = "{KEY}"\n'))
    client = await aiohttp_client(create_app(runtime))
    resp = await client.get("/kapacitor/v1/config/pagerduty")
    text = await resp.text()
    no_secret(text, KEY)
    body: dict[str, Any] = json.loads(text)
    assert body["elements"] == [
        {
            "link": {"rel": "self", "href": "/kapacitor/v1/config/pagerduty/"},
            "options": {
                "enabled": False,
                "url": pagerduty.DEFAULT_URL,
                "service-key": True,
                "global": False,
            },
            "redacted": ["service-key"],
        }
    ]
    resp = await client.post(
        "/kapacitor/v1/config/pagerduty/", json={"set": {"service-key": "", "enabled": True}}
    )
    assert resp.status == 204, await resp.text()
    resp = await client.get("/kapacitor/v1/config/pagerduty/")
    options = (await resp.json())["options"]
    assert (options["service-key"], options["enabled"]) == (False, True)
    assert runtime.integrations["pagerduty"].config().enabled is True


async def test_global_gives_every_alert_node_a_handler(tmp_path: Path) -> None:
    """``global = true``: an alert node without ``.pagerDuty()`` sends to PagerDuty (Kapacitor's
    alert node adds the service's handler when ``Global()``)."""
    script = tmp_path / "task.tick"
    script.write_text(
        "stream\n  |from()\n    .measurement('cpu')\n    .where(lambda: \"host\" == 'serverA')\n"
        "  |alert()\n    .id('{{ .Name }}')\n    .crit(lambda: \"value\" > 90)\n"
    )
    data = tmp_path / "data.srpl"
    data.write_text("dbname\nrpname\ncpu,host=serverA value=97 0000000001\n")
    async with capture() as cap:
        cfg = config(tmp_path, _conf(cap.url, "  global = true\n"))
        await replay(
            script, [data], config=cfg, name="t", dbrps=[parse_dbrp("dbname.rpname")], until=None
        )
    (seen,) = cap.seen
    assert (seen.json["incident_key"], seen.json["event_type"]) == ("cpu", "trigger")


def test_client_url_is_the_servers_api_url(tmp_path: Path) -> None:
    assert kapacitor_url(config(tmp_path, "")) == "http://127.0.0.1:9092/kapacitor/v1"
    wildcard = config(tmp_path, 'hostname = "kap.example"\n[http]\n  bind-address = ":9093"\n')
    assert kapacitor_url(wildcard) == "http://kap.example:9093/kapacitor/v1"
    v6 = config(tmp_path, '[http]\n  bind-address = "[::1]:9092"\n')
    assert kapacitor_url(v6) == "http://[::1]:9092/kapacitor/v1"
