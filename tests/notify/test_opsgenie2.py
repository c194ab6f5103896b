"""``[opsgenie2]``, ``.opsGenie2()`` and ``kind: opsgenie2`` (Kapacitor's services/opsgenie2):
GenieKey auth, aliases, priorities, responders, the recovery action, details, the service test."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from rest_capture import capture, close, config, context, event, no_secret

from leyden.model.alert import Level
from leyden.notify import opsgenie2
from leyden.notify.base import HandlerConfigError
from leyden.runtime import Runtime
from leyden.server.app import create_app

API_KEY = "gEnIeKeY2-0123456789abcdef"


def _conf(url: str, extra: str = "") -> str:
    return f'[opsgenie2]\n  enabled = true\n  url = "{url}/v2/alerts"\n  api-key = "{API_KEY}"\n{extra}'


def test_section_and_urls(tmp_path: Path) -> None:
    (section,) = config(tmp_path, "").sections(opsgenie2.SECTION)
    assert section.to_options() == {
        "enabled": False,
        "api-key": False,
        "teams": None,
        "recipients": None,
        "url": "https://api.opsgenie.com/v2/alerts",
        "recovery_action": "notes",
        "global": False,
        "details": False,
    }
    assert opsgenie2.alias("kapacitor/cpu/serverA") == "a2FwYWNpdG9yL2NwdS9zZXJ2ZXJB"
    assert opsgenie2.alias("id") == "aWQ="
    assert opsgenie2.recovery_url("https://h/v2/alerts?x=1", "aWQ=", "close") == (
        "https://h/v2/alerts/aWQ=/close?identifierType=alias"
    )
    cfg = config(tmp_path, '[opsgenie2]\n  recovery_action = "reopen"\n')
    assert any("recovery_action 'reopen'" in note for note in cfg.notes)


async def test_priorities_details_and_responders(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url, '  teams = ["ops"]\n  details = true\n')))
        handler = opsgenie2.from_tick({"recipients": ["ann", "bob"]}, ctx)
        for level in (Level.CRITICAL, Level.WARNING, Level.INFO):
            assert (await handler.send([event(level, tags={"host": "a", "dc": "x"})])).delivered
        no_details = await opsgenie2.from_options({}, ctx).send([event(details="")])
        assert no_details.delivered
        await close(ctx)
    critical, warning, info, plain = cap.seen
    assert critical.path == "/v2/alerts"
    assert critical.headers["Authorization"] == f"GenieKey {API_KEY}"
    assert critical.json == {
        "entity": "cpu:host=a",
        "alias": "Y3B1Omhvc3Q9YQ==",
        "message": "cpu is high",
        "note": "",
        "priority": "P1",
        "description": "details",
        "details": {
            "Monitoring Tool": "Kapacitor",
            "Level": "CRITICAL",
            "host": "a",
            "dc": "x",
            "Kapacitor Task Name": "cpu",
        },
        "responders": [
            {"name": "ops", "type": "team"},
            {"username": "ann", "type": "user"},
            {"username": "bob", "type": "user"},
        ],
    }
    assert [s.json["priority"] for s in (warning, info)] == ["P3", "P5"]
    # empty event details: the data as JSON, as Kapacitor falls back
    assert plain.json["description"].startswith('{"series":[{"name":"cpu"')
    assert plain.json["responders"] == [{"name": "ops", "type": "team"}]


@pytest.mark.parametrize(
    ("handler_action", "section_action", "path_end"),
    [("close", "notes", "/close"), ("", "close", "/close"), ("bogus", "also-bogus", "/notes")],
)
async def test_recovery_action(
    tmp_path: Path, handler_action: str, section_action: str, path_end: str
) -> None:
    async with capture() as cap:
        extra = f'  recovery_action = "{section_action}"\n'
        ctx = context(config(tmp_path, _conf(cap.url, extra)))
        handler = opsgenie2.from_options({"recovery_action": handler_action}, ctx)
        assert (await handler.send([event(Level.OK, message="all good")])).delivered
        await close(ctx)
    (seen,) = cap.seen
    assert seen.path == f"/v2/alerts/Y3B1Omhvc3Q9YQ=={path_end}?identifierType=alias"
    assert seen.json == {"note": "all good"}
    assert seen.headers["Authorization"] == f"GenieKey {API_KEY}"


async def test_api_key_never_shows_and_options_are_checked(tmp_path: Path) -> None:
    async with capture() as cap:
        cap.reply(401, json.dumps({"message": f"GenieKey {API_KEY} is invalid"}))
        ctx = context(config(tmp_path, _conf(cap.url)))
        handler = opsgenie2.from_tick({}, ctx)
        result = await handler.send([event()])
        with pytest.raises(HandlerConfigError, match="must be a list of strings"):
            opsgenie2.from_options({"teams-list": "ops"}, ctx)
        with pytest.raises(HandlerConfigError, match="recovery_action"):
            opsgenie2.from_options({"recoveryAction": "close"}, ctx)
        await close(ctx)
    assert result.outcome == "permanent" and "is invalid" in result.reason
    no_secret(result.reason + handler.destination + repr(handler.rate_limits), API_KEY)


async def test_service_test(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url, '  recovery_action = "close"\n')))
        service = ctx.services["opsgenie2"]
        assert service.default_test_options() == {
            "teams": None,
            "recipients": None,
            "recovery_action": "close",
            "message-type": "CRITICAL",
            "message": "test opsgenie message",
            "entity-id": "testEntityID",
        }
        assert await service.test({}) == (True, "")
        assert await service.test({"message-type": "RECOVERY"}) == (True, "")
        assert await service.test({"message-type": "SEVERE"}) == (
            False,
            "invalid level 'SEVERE'",
        )
        await close(ctx)
    trigger, recovery = cap.seen
    assert trigger.json["priority"] == "P1"
    assert trigger.json["description"] == '{"series":null}'
    assert recovery.path == "/v2/alerts/dGVzdEVudGl0eUlE/close?identifierType=alias"
    disabled = context(config(tmp_path, ""))
    assert await disabled.services["opsgenie2"].test({}) == (
        False,
        "failed to prepare API request: service is not enabled",
    )
    await close(disabled)


async def test_service_tests_api_lists_the_five_kinds(
    tmp_path: Path,
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    make_runtime: Callable[..., Runtime],
) -> None:
    """Kapacitor's TestServer_ListServiceTests entries for these kinds, default config."""
    client = await aiohttp_client(create_app(make_runtime(config(tmp_path, ""))))
    resp = await client.get("/kapacitor/v1/service-tests")
    entries = {e["name"]: e for e in (await resp.json())["services"]}
    assert entries["opsgenie"]["options"] == {
        "teams": None,
        "recipients": None,
        "message-type": "CRITICAL",
        "message": "test opsgenie message",
        "entity-id": "testEntityID",
    }
    assert entries["opsgenie2"]["options"] == {
        "teams": None,
        "recipients": None,
        "message-type": "CRITICAL",
        "message": "test opsgenie message",
        "entity-id": "testEntityID",
        "recovery_action": "notes",
    }
    assert entries["pagerduty"]["options"] == {
        "incident-key": "testIncidentKey",
        "description": "test pagerduty message",
        "level": "CRITICAL",
        "details": "",
    }
    assert entries["victorops"]["options"] == {
        "routingKey": "",
        "messageType": "CRITICAL",
        "message": "test victorops message",
        "entityID": "testEntityID",
    }
    assert entries["pagerduty2"]["link"] == {
        "rel": "self",
        "href": "/kapacitor/v1/service-tests/pagerduty2",
    }
    # TestServer_DoServiceTest: every one of them answers that it is not enabled
    for name, message in (
        ("opsgenie", "service is not enabled"),
        ("opsgenie2", "failed to prepare API request: service is not enabled"),
        ("pagerduty", "service is not enabled"),
        ("pagerduty2", "service is not enabled"),
        ("victorops", "service is not enabled"),
    ):
        resp = await client.post(f"/kapacitor/v1/service-tests/{name}", json={})
        assert await resp.json() == {"success": False, "message": message}
