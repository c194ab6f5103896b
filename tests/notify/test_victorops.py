"""``[victorops]``, ``.victorOps()`` and ``kind: victorops`` (Kapacitor's services/victorops):
the keys in the URL's path and never anywhere else, the body, the service test."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from rest_capture import capture, close, config, context, event, no_secret, no_secret_logged

from leyden.model.alert import Level
from leyden.notify import victorops
from leyden.notify.base import HandlerConfigError
from leyden.runtime import Runtime
from leyden.server.app import create_app

API_KEY = "aPiKeY-0123456789abcdef"
ROUTING = "rOuTe-0123456789"


def _conf(url: str, extra: str = "") -> str:
    return (
        f'[victorops]\n  enabled = true\n  url = "{url}"\n  api-key = "{API_KEY}"\n'
        f'  routing-key = "{ROUTING}"\n{extra}'
    )


def test_post_url_joins_the_keys_to_the_path_as_go_does() -> None:
    assert victorops.post_url(victorops.DEFAULT_URL, "k", "r") == (
        "https://alert.victorops.com/integrations/generic/20131114/alert/k/r"
    )
    assert victorops.post_url("http://h:1", "k", "r") == "http://h:1/k/r"
    assert victorops.post_url("http://h:1/base/", "k", "") == "http://h:1/base/k"
    assert victorops.post_url("http://h:1", "a key", "r/x") == "http://h:1/a%20key/r/x"


def test_section_defaults_show_the_routing_key_not_the_api_key(tmp_path: Path) -> None:
    cfg = config(tmp_path, f'[victorops]\n  routing-key = "test"\n  api-key = "{API_KEY}"\n')
    (section,) = cfg.sections(victorops.SECTION)
    assert section.to_options() == {
        "enabled": False,
        "api-key": True,
        "routing-key": "test",
        "url": victorops.DEFAULT_URL,
        "global": False,
        "json-data": False,
    }


async def test_alert_and_recovery(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url + "/alert")))
        handler = victorops.from_tick({}, ctx)
        assert (await handler.send([event(Level.WARNING)])).delivered
        override = victorops.from_options({"routing-key": "other"}, ctx)
        assert (await override.send([event(Level.OK)])).delivered
        await close(ctx)
    warning, recovery = cap.seen
    assert warning.path == f"/alert/{API_KEY}/{ROUTING}"
    assert warning.json == {
        "message_type": "WARNING",
        "entity_id": "cpu:host=a",
        "state_message": "cpu is high",
        "timestamp": 31_536_010,
        "monitoring_tool": "kapacitor",
        "data": '{"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","value"],'
        '"values":[["1971-01-01T00:00:10Z",97.5]]}]}',
    }
    assert recovery.path == f"/alert/{API_KEY}/other"
    assert recovery.json["message_type"] == "RECOVERY"


async def test_json_data(tmp_path: Path) -> None:
    async with capture() as cap:
        ctx = context(config(tmp_path, _conf(cap.url, "  json-data = true\n")))
        assert (await victorops.from_tick({}, ctx).send([event()])).delivered
        await close(ctx)
    (seen,) = cap.seen
    assert seen.json["data"]["series"][0]["values"] == [["1971-01-01T00:00:10Z", 97.5]]


async def test_keys_never_leave_the_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with capture() as cap:
        cap.reply(404, "no such key")
        cap.reply(500, f"cannot route {ROUTING} for {API_KEY}")
        ctx = context(config(tmp_path, _conf(cap.url)))
        handler = victorops.from_tick({}, ctx)
        missing = await handler.send([event()])
        failed = await handler.send([event()])
        await close(ctx)
    assert (missing.outcome, missing.reason) == ("permanent", "URL or API key not found: 404")
    assert failed.outcome == "retry" and "cannot route" in failed.reason
    for text in (failed.reason, handler.destination, repr(handler)):
        no_secret(text, API_KEY, ROUTING)
    assert handler.rate_limits == ()
    no_secret_logged(caplog.records, API_KEY, ROUTING)
    with pytest.raises(HandlerConfigError, match="valid options: routing-key"):
        victorops.from_options({"routingKey": "x"}, ctx)


async def test_service_test(tmp_path: Path) -> None:
    async with capture() as cap:
        cfg = config(tmp_path, _conf(cap.url))
        service = victorops.VictorOpsService(cfg.sections(victorops.SECTION), now=lambda: 1_000.9)
        assert service.default_test_options() == {
            "routingKey": ROUTING,
            "messageType": "CRITICAL",
            "message": "test victorops message",
            "entityID": "testEntityID",
        }
        assert await service.test({"routingKey": "r2"}) == (True, "")
        await service.close()
    (seen,) = cap.seen
    assert seen.path == f"/{API_KEY}/r2"
    assert seen.json == {
        "message_type": "CRITICAL",
        "entity_id": "testEntityID",
        "state_message": "test victorops message",
        "timestamp": 1000,
        "monitoring_tool": "kapacitor",
        "data": '{"series":null}',
    }
    disabled = context(config(tmp_path, ""))
    assert disabled.services["victorops"].default_test_options()["routingKey"] == ""
    assert await disabled.services["victorops"].test({}) == (False, "service is not enabled")
    await close(disabled)


async def test_config_api(
    tmp_path: Path,
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(config(tmp_path, f'[victorops]\n  api-key = "{API_KEY}"\n'))
    client = await aiohttp_client(create_app(runtime))
    resp = await client.post(
        "/kapacitor/v1/config/victorops/",
        json={"set": {"api-key": "", "global": True, "json-data": True}},
    )
    assert resp.status == 204, await resp.text()
    resp = await client.get("/kapacitor/v1/config/victorops")
    text = await resp.text()
    no_secret(text, API_KEY)
    (element,) = json.loads(text)["elements"]
    assert element["options"]["api-key"] is False
    assert (element["options"]["global"], element["options"]["json-data"]) == (True, True)
    assert element["redacted"] == ["api-key"]


def test_reprs_hold_no_key(tmp_path: Path) -> None:
    cfg = config(tmp_path, _conf("http://127.0.0.1:9"))
    (section,) = cfg.sections(victorops.SECTION)
    service = victorops.VictorOpsService([section])
    request = service.request(
        section,
        routing_key="",
        message_type="CRITICAL",
        message="m",
        entity_id="e",
        unix_seconds=0,
        result={},
    )
    assert API_KEY in request.url and ROUTING in request.url
    no_secret(repr(section) + repr(request), API_KEY, ROUTING)
