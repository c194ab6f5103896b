"""``[opsgenie]``, ``.opsGenie()`` and ``kind: opsgenie`` (Kapacitor's services/opsgenie, the
v1 API): alerts and recovery notes, teams and recipients, the API key, the service test."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from rest_capture import capture, close, config, context, event, no_secret

from leyden.config import ConfigError
from leyden.model.alert import Level
from leyden.notify import opsgenie
from leyden.runtime import Runtime
from leyden.server.app import create_app

API_KEY = "gEnIeKeY-0123456789abcdef"


def _conf(url: str, extra: str = "") -> str:
    return (
        f'[opsgenie]\n  enabled = true\n  url = "{url}/alert"\n'
        f'  recovery_url = "{url}/note"\n  api-key = "{API_KEY}"\n{extra}'
    )


def test_section(tmp_path: Path) -> None:
    (section,) = config(tmp_path, "").sections(opsgenie.SECTION)
    assert section.to_options() == {
        "enabled": False,
        "api-key": False,
        "teams": None,
        "recipients": None,
        "url": "https://api.opsgenie.com/v1/json/alert",
        "recovery_url": "https://api.opsgenie.com/v1/json/alert/note",
        "global": False,
    }
    with pytest.raises(ConfigError, match=r"\[opsgenie\]: api-key: cannot be empty when enabled"):
        config(tmp_path, "[opsgenie]\n  enabled = true\n")


async def test_alert_recovery_teams_and_recipients(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url, '  teams = ["ops"]\n')))
        handler = opsgenie.from_tick({"recipients": ["ann"]}, ctx)
        assert (await handler.send([event(Level.CRITICAL)])).delivered
        assert (await handler.send([event(Level.OK, message="fine")])).delivered
        listed = opsgenie.from_options({"teams-list": ["db"], "recipients-list": []}, ctx)
        assert (await listed.send([event(Level.WARNING)])).delivered
        await close(ctx)
    alert, recovery, warning = cap.seen
    assert alert.path == "/alert/"
    assert alert.json == {
        "apiKey": API_KEY,
        "entity": "cpu:host=a",
        "alias": "cpu:host=a",
        "message": "cpu is high",
        "note": "",
        "monitoring_tool": "kapacitor",
        "details": {"Level": "CRITICAL", "Monitoring Tool": "Kapacitor"},
        "description": '{"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","value"],'
        '"values":[["1971-01-01T00:00:10Z",97.5]]}]}',
        "teams": ["ops"],
        "recipients": ["ann"],
    }
    assert recovery.path == "/note/"
    assert (recovery.json["note"], recovery.json["details"]["Level"]) == ("fine", "RECOVERY")
    assert (warning.json["teams"], "recipients" in warning.json) == (["db"], False)


async def test_the_api_key_stays_secret(tmp_path: Path) -> None:
    async with capture() as cap:
        cap.reply(422, json.dumps({"message": f"key {API_KEY} is not allowed"}))
        ctx = context(config(tmp_path, _conf(cap.url)))
        handler = opsgenie.from_tick({}, ctx)
        result = await handler.send([event()])
        await close(ctx)
    assert result.outcome == "permanent" and "is not allowed" in result.reason
    no_secret(result.reason + handler.destination, API_KEY)


async def test_service_test(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url, '  recipients = ["bob"]\n')))
        service = ctx.services["opsgenie"]
        assert service.default_test_options() == {
            "teams": None,
            "recipients": ["bob"],
            "message-type": "CRITICAL",
            "message": "test opsgenie message",
            "entity-id": "testEntityID",
        }
        assert await service.test({"message-type": "RECOVERY"}) == (True, "")
        assert await service.test({"teams": "ops"}) == (
            False,
            "opsgenie test option 'teams' must be a list of strings",
        )
        await close(ctx)
    (seen,) = cap.seen
    assert seen.path == "/note/"
    assert seen.json["note"] == "test opsgenie message"
    assert seen.json["recipients"] == ["bob"]
    disabled = context(config(tmp_path, ""))
    assert await disabled.services["opsgenie"].test({}) == (False, "service is not enabled")
    await close(disabled)


async def test_config_api_like_kapacitor(
    tmp_path: Path,
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(config(tmp_path, ""))
    client = await aiohttp_client(create_app(runtime))
    resp = await client.post(
        "/kapacitor/v1/config/opsgenie/",
        json={"set": {"api-key": API_KEY, "global": True, "teams": ["teamA", "teamB"]}},
    )
    assert resp.status == 204, await resp.text()
    resp = await client.get("/kapacitor/v1/config/opsgenie/")
    text = await resp.text()
    no_secret(text, API_KEY)
    assert json.loads(text)["options"] == {
        "enabled": False,
        "api-key": True,
        "teams": ["teamA", "teamB"],
        "recipients": None,
        "url": opsgenie.DEFAULT_URL,
        "recovery_url": opsgenie.DEFAULT_RECOVERY_URL,
        "global": True,
    }
    assert runtime.integrations["opsgenie"].config().api_key == API_KEY
