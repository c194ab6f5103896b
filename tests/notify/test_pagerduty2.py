"""``[pagerduty2]``, ``.pagerDuty2()`` and ``kind: pagerduty2`` (Kapacitor's
services/pagerduty2): the Events API v2 body, links, outcomes, secrets, the service test."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from rest_capture import NS, capture, close, config, context, event, no_secret

from leyden.go.types import go_json
from leyden.model.alert import Level
from leyden.notify import pagerduty2
from leyden.notify.base import HandlerConfigError
from leyden.runtime import Runtime
from leyden.server.app import create_app

KEY = "rOuTiNgKeY-0123456789abcdef"


def _conf(url: str) -> str:
    return f'[pagerduty2]\n  enabled = true\n  url = "{url}"\n  routing-key = "{KEY}"\n'


def test_section_defaults(tmp_path: Path) -> None:
    (section,) = config(tmp_path, "").sections(pagerduty2.SECTION)
    assert section.to_options() == {
        "enabled": False,
        "url": "https://events.pagerduty.com/v2/enqueue",
        "routing-key": False,
        "global": False,
    }


def test_timestamp_has_nine_fractional_digits() -> None:
    assert pagerduty2.timestamp(0) == "1970-01-01T00:00:00.000000000Z"
    assert pagerduty2.timestamp(1_415_792_726_371_000_000) == "2014-11-12T11:45:26.371000000Z"


async def test_trigger_links_and_resolve(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url)))
        handler = pagerduty2.from_tick(
            {
                "links": [
                    {"href": "http://example.com/{{.TaskName}}", "text": ""},
                    {"href": "http://example.com", "text": '{{ .Level }} {{ index .Tags "host" }}'},
                ]
            },
            ctx,
        )
        assert (await handler.send([event(Level.WARNING, time=NS + 5)])).delivered
        assert (await handler.send([event(Level.OK, tags={})])).delivered
        await close(ctx)
    trigger, resolve = cap.seen
    assert trigger.headers["Accept"] == "application/vnd.pagerduty+json;version=2"
    assert trigger.json == {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "cpu:host=a",
        "payload": {
            "summary": "cpu is high",
            "source": "a",
            "severity": "warning",
            "timestamp": "1970-01-01T00:00:01.000000005Z",
            "class": "cpu_alert",
            "component": "",
            "group": "",
            "custom_details": {
                "result": {
                    "series": [
                        {
                            "name": "cpu",
                            "tags": {"host": "a"},
                            "columns": ["time", "value"],
                            "values": [["1971-01-01T00:00:10Z", 97.5]],
                        }
                    ]
                }
            },
        },
        "images": None,
        "links": [
            {"href": "http://example.com/cpu_alert", "text": "http://example.com/cpu_alert"},
            {"href": "http://example.com", "text": "WARNING a"},
        ],
        "client": "kapacitor",
        "client_url": "http://127.0.0.1:9092/kapacitor/v1",
    }
    # the fields in Kapacitor's struct order
    assert trigger.raw.decode().startswith('{"routing_key":')
    assert resolve.json["event_action"] == "resolve"
    assert resolve.json["payload"]["severity"] == "info"
    assert resolve.json["payload"]["source"] == "unknown"


async def test_handler_options_and_bad_links(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url)))
        handler = pagerduty2.from_options(
            {"routing-key": "team-key", "links": [{"href": "http://x/{{.ID}}", "text": "t"}]}, ctx
        )
        assert (await handler.send([event(Level.INFO)])).delivered
        with pytest.raises(HandlerConfigError, match="unknown key"):
            pagerduty2.from_options({"links": [{"href": "x", "alt": "y"}]}, ctx)
        with pytest.raises(HandlerConfigError, match="invalid link template"):
            pagerduty2.from_options({"links": [{"href": "{{ .ID "}]}, ctx)
        with pytest.raises(HandlerConfigError, match="invalid pagerduty2 handler option"):
            pagerduty2.from_options({"service-key": "x"}, ctx)
        await close(ctx)
    (seen,) = cap.seen
    assert seen.json["routing_key"] == "team-key"
    assert seen.json["payload"]["severity"] == "info"
    assert seen.json["event_action"] == "trigger"
    assert seen.json["links"] == [{"href": "http://x/cpu:host=a", "text": "t"}]


async def test_routing_keys_share_a_rate_limit_and_stay_secret(tmp_path: Path) -> None:
    async with capture() as cap:
        cap.reply(400, json.dumps({"status": "invalid", "message": f"key {KEY} unknown"}))
        ctx = context(config(tmp_path, _conf(cap.url)))
        one = pagerduty2.from_tick({}, ctx)
        two = pagerduty2.from_tick({"links": []}, ctx)
        other = pagerduty2.from_tick({"routingKey": "another-routing-key"}, ctx)
        refused = await one.send([event()])
        await close(ctx)
    assert one.rate_limits == two.rate_limits != other.rate_limits
    assert (one.rate_limits[0].limit, one.rate_limits[0].window) == (120, 60.0)
    assert refused.outcome == "permanent" and "unknown" in refused.reason
    for text in (refused.reason, one.destination, repr(one.rate_limits)):
        no_secret(text, KEY)


async def test_service_test(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url)))
        service = ctx.services["pagerduty2"]
        # Kapacitor's TestServer_ListServiceTests entry, as the API encodes it
        assert json.loads(go_json(service.default_test_options())) == {
            "alert_id": "testAlertID",
            "description": "test pagerduty2 message",
            "level": "CRITICAL",
            "event_data": {
                "Fields": {},
                "Result": {"series": None},
                "Name": "testPagerDuty2",
                "TaskName": "",
                "Group": "",
                "Tags": {},
                "Recoverable": False,
                "Category": "",
            },
            "timestamp": "2014-11-12T11:45:26.371Z",
            "links": [
                {"href": "https://example.com/a", "text": "a"},
                {"href": "https://example.com/b", "text": "b"},
            ],
        }
        assert await service.test({"level": "OK"}) == (True, "")
        assert await service.test({"timestamp": "yesterday"}) == (
            False,
            "pagerduty2 test option 'timestamp': invalid RFC 3339 time 'yesterday'",
        )
        await close(ctx)
    (seen,) = cap.seen
    assert seen.json["event_action"] == "resolve"
    assert seen.json["dedup_key"] == "testAlertID"
    assert seen.json["payload"]["timestamp"] == "2014-11-12T11:45:26.371000000Z"
    assert seen.json["links"] == [
        {"href": "https://example.com/a", "text": "a"},
        {"href": "https://example.com/b", "text": "b"},
    ]
    disabled = context(config(tmp_path, ""))
    assert await disabled.services["pagerduty2"].test({}) == (False, "service is not enabled")
    await close(disabled)


async def test_config_api_redacts_the_routing_key(
    tmp_path: Path,
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(config(tmp_path, f'[pagerduty2]\n  routing-key = "{KEY}"\n'))
    client = await aiohttp_client(create_app(runtime))
    resp = await client.get("/kapacitor/v1/config/pagerduty2/")
    text = await resp.text()
    no_secret(text, KEY)
    assert json.loads(text)["options"]["routing-key"] is True
    assert json.loads(text)["redacted"] == ["routing-key"]
    resp = await client.get("/kapacitor/v1/service-tests/pagerduty2")
    assert (await resp.json())["options"]["alert_id"] == "testAlertID"


async def test_topics_api_shows_a_handlers_routing_key_redacted(
    tmp_path: Path,
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(config(tmp_path, _conf("http://127.0.0.1:9")))
    client = await aiohttp_client(create_app(runtime))
    spec = {"id": "pd", "kind": "pagerduty2", "options": {"routing-key": KEY}}
    resp = await client.post("/kapacitor/v1/alerts/topics/cpu/handlers", json=spec)
    text = await resp.text()
    assert resp.status == 200, text
    no_secret(text, KEY)
    resp = await client.get("/kapacitor/v1/alerts/topics/cpu/handlers/pd")
    text = await resp.text()
    no_secret(text, KEY)
    assert json.loads(text)["options"] == {"routing-key": "[REDACTED]"}
    assert runtime.store.list_handlers("cpu")[0].options == {"routing-key": KEY}
