"""``.alerta()`` / ``kind: alerta``: what reaches Alerta, the ``[alerta]`` section, the test."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from leyden.config import ConfigError, load_config
from leyden.model.alert import Event, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.alerta import (
    SECTION,
    AlertaConfig,
    AlertaService,
    alert_url,
    from_options,
    from_tick,
)
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.tick.pipeline.handlers import HANDLER_TYPES

TOKEN = "s3cr3t-alerta-T0KEN"
Make = Callable[..., Event]


def _service(url: str, **keys: Any) -> AlertaService:
    return AlertaService([AlertaConfig(enabled=True, url=url, **keys)])


def _ctx(service: AlertaService) -> HandlerContext:
    return HandlerContext(services={"alerta": service})


async def test_default_handler_sends_kapacitors_body(rest_capture: Any, alert_event: Make) -> None:
    service = _service(rest_capture.url, token=TOKEN, environment="prod", origin="Kapacitor")
    result = await from_tick({}, _ctx(service)).send([alert_event()])
    assert result.delivered
    (req,) = rest_capture.requests
    assert (req.method, req.path) == ("POST", "/alert")
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert req.headers["Content-Type"] == "application/json"
    assert req.json == {
        "resource": "cpu",
        "event": "cpu/serverA",
        "environment": "prod",
        "severity": "critical",
        "group": "host=serverA",
        "value": "",
        "text": "cpu/serverA is CRITICAL",
        "origin": "Kapacitor",
        "service": ["cpu"],
        "correlate": ["cpu"],
        "timeout": 86400,
        "tags": ["host=serverA"],
        "rawData": {"series": [{"name": "cpu", "columns": ["time", "value"]}]},
    }
    await service.close()


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        (Level.OK, "ok"),
        (Level.INFO, "informational"),
        (Level.WARNING, "warning"),
        (Level.CRITICAL, "critical"),
    ],
)
async def test_levels_map_to_alerta_severities(
    rest_capture: Any, alert_event: Make, level: Level, severity: str
) -> None:
    service = _service(rest_capture.url)
    assert (await from_tick({}, _ctx(service)).send([alert_event(level)])).delivered
    assert rest_capture.requests[0].json["severity"] == severity
    await service.close()


async def test_tick_properties_are_templates(rest_capture: Any, alert_event: Make) -> None:
    service = _service(rest_capture.url + "/api/", token="config-token", timeout=3600 * 10**9)
    props = {
        "token": TOKEN,
        "resource": 'res {{ index .Tags "host" }}',
        "event": "{{ .TaskName }}:{{ .Group }}",
        "environment": "{{ .Name }}-env",
        "group": "{{ .ID }}",
        "value": '{{ index .Fields "value" }}',
        "origin": "{{ not a template for Kapacitor }}",
        "services": ["a", "{{ .Name }}"],
        "correlated": ["{{ .Level }}"],
        "attributes": {"text": "{{ .Message }}", "flag": True, "number": 9001.0},
    }
    assert (await from_tick(props, _ctx(service)).send([alert_event()])).delivered
    (req,) = rest_capture.requests
    assert req.path == "/api/alert"
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    body = req.json
    assert body["resource"] == "res serverA"
    assert body["event"] == "task:host=serverA"
    assert body["environment"] == "cpu-env"
    assert body["group"] == "cpu/serverA"
    assert body["value"] == "97.5"
    assert body["origin"] == "{{ not a template for Kapacitor }}"  # never rendered, as Kapacitor
    assert body["service"] == ["a", "cpu"]
    assert body["correlate"] == ["CRITICAL"]
    assert body["attributes"] == {"text": "cpu/serverA is CRITICAL", "flag": True, "number": 9001}
    assert body["timeout"] == 3600  # the section's timeout when the handler sets none
    await service.close()


async def test_handler_file_options(rest_capture: Any, alert_event: Make) -> None:
    service = _service(rest_capture.url, token=TOKEN)
    handler = from_options(
        {"token-prefix": "Key", "timeout": "1h", "service": ["web"], "resource": "{{ .ID }}"},
        _ctx(service),
    )
    assert (await handler.send([alert_event()])).delivered
    (req,) = rest_capture.requests
    assert req.headers["Authorization"] == f"Key {TOKEN}"
    assert req.json["timeout"] == 3600
    assert req.json["service"] == ["web"]
    assert req.json["resource"] == "cpu/serverA"
    nanos = from_options({"timeout": 7200 * 10**9}, _ctx(service))
    assert (await nanos.send([alert_event()])).delivered
    assert rest_capture.requests[1].json["timeout"] == 7200
    await service.close()


def test_handler_file_refuses_unknown_options_and_bad_templates() -> None:
    ctx = _ctx(_service("http://127.0.0.1:1"))
    with pytest.raises(HandlerConfigError, match=r"invalid alerta handler option\(s\): tokn"):
        from_options({"tokn": "x"}, ctx)
    with pytest.raises(HandlerConfigError, match="invalid resource template"):
        from_options({"resource": "{{ .Name "}, ctx)
    with pytest.raises(HandlerConfigError, match="'timeout'"):
        from_options({"timeout": "soon"}, ctx)
    with pytest.raises(HandlerConfigError, match="invalid group template"):
        from_tick({"group": "{{ end }}"}, ctx)


async def test_failures_keep_the_token_secret(rest_capture: Any, alert_event: Make) -> None:
    service = _service(rest_capture.url, token=TOKEN)
    handler = from_tick({}, _ctx(service))
    rest_capture.status, rest_capture.body = 500, f'{{"message": "bad token {TOKEN}"}}'
    result = await handler.send([alert_event()])
    assert result.outcome == "retry"
    assert TOKEN not in result.reason and "bad token" in result.reason
    rest_capture.status = 401
    assert (await handler.send([alert_event()])).outcome == "permanent"
    assert TOKEN not in repr(handler) and TOKEN not in repr(service.config())
    await service.close()


async def test_disabled_service_and_missing_resource_are_permanent(
    rest_capture: Any, alert_event: Make
) -> None:
    service = AlertaService([AlertaConfig(enabled=False, url=rest_capture.url)])
    result = await from_tick({}, _ctx(service)).send([alert_event()])
    assert result.outcome == "permanent" and "service is not enabled" in result.reason
    service.update([AlertaConfig(enabled=True, url=rest_capture.url)])
    empty = from_options({"resource": ""}, _ctx(service))
    result = await empty.send([alert_event()])
    assert result.outcome == "permanent"
    assert result.reason == "Resource and Event are required to send an alert"
    assert rest_capture.requests == []
    await service.close()


def test_alert_url_joins_like_go_path_join() -> None:
    assert alert_url("http://alerta:8080") == "http://alerta:8080/alert"
    assert alert_url("http://alerta:8080/api/") == "http://alerta:8080/api/alert"
    assert alert_url("https://a.example/api?x=1") == "https://a.example/api/alert?x=1"


def test_section_defaults_env_validation_and_redaction(tmp_path: Path) -> None:
    config = load_config(
        None,
        {"KAPACITOR_ALERTA_TOKEN": TOKEN, "KAPACITOR_ALERTA_URL": "http://alerta.example.com"},
        integrations=INTEGRATIONS.sections(),
    )
    (section,) = config.sections(SECTION)
    assert section.token == TOKEN
    assert section.to_options() == {
        "enabled": False,
        "url": "http://alerta.example.com",
        "insecure-skip-verify": False,
        "token": True,
        "token-prefix": "",
        "environment": "",
        "origin": "",
        "timeout": "0s",
    }
    assert TOKEN not in repr(section)
    path = tmp_path / "kapacitor.conf"
    path.write_text("[alerta]\n  enabled = true\n")
    with pytest.raises(ConfigError, match=r"\[alerta\].*url: must specify url"):
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    path.write_text('[alerta]\n  enabled = true\n  url = "http://a"\n  timeout = "2h"\n')
    (section,) = load_config(str(path), {}, integrations=INTEGRATIONS.sections()).sections(SECTION)
    assert section.timeout == 7200 * 10**9


async def test_service_test(rest_capture: Any) -> None:
    service = _service(rest_capture.url, token=TOKEN, environment="prod", origin="kap")
    options = service.default_test_options()
    assert options == {
        "resource": "testResource",
        "event": "testEvent",
        "environment": "prod",
        "severity": "critical",
        "group": "testGroup",
        "value": "testValue",
        "message": "test alerta message",
        "origin": "kap",
        "service": ["testServiceA", "testServiceB"],
        "correlate": ["testServiceX", "testServiceY"],
        "attributes": {"testAttributeA": "A", "testAttributeB": True, "testAttributeC": 9001.0},
        "timeout": "24h0m0s",
    }
    assert await service.test({}) == (True, "")
    body = rest_capture.requests[0].json
    assert body["text"] == "test alerta message" and body["timeout"] == 86400
    assert rest_capture.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    ok, message = await service.test({"nope": 1})
    assert not ok and "unknown alerta test option(s): nope" in message
    service.update([AlertaConfig()])
    assert await service.test({}) == (False, "service is not enabled")
    await service.close()


def test_registered_under_kapacitors_names() -> None:
    integration = INTEGRATIONS.get("alerta")
    assert integration is not None and integration.service_test
    assert INTEGRATIONS.for_tick("alerta") is integration
    assert "Alerta" in HANDLER_TYPES


async def test_insecure_skip_verify(alert_event: Make) -> None:
    """A self-signed Alerta is refused unless ``insecure-skip-verify`` is set."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(status=201)

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    app = web.Application()
    app.router.add_post("/alert", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx).start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}"
    try:
        strict = _service(url)
        result = await from_tick({}, _ctx(strict)).send([alert_event()])
        assert result.outcome == "retry" and seen == []
        lax = _service(url, insecure_skip_verify=True)
        assert (await from_tick({}, _ctx(lax)).send([alert_event()])).delivered
        assert seen == ["/alert"]
        await strict.close()
        await lax.close()
    finally:
        await runner.cleanup()
