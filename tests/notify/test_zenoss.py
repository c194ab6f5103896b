"""``.zenoss()`` / ``kind: zenoss``: the router call, ``[zenoss]`` and its severity map, the test."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leyden.config import ConfigError, load_config
from leyden.model.alert import Event, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.zenoss import (
    DEFAULT_URL,
    SECTION,
    SeverityMap,
    ZenossConfig,
    ZenossService,
    from_options,
    from_tick,
)

PASSWORD = "z3n-SECRET-pw"
Make = Callable[..., Event]


def _service(url: str, **keys: Any) -> ZenossService:
    return ZenossService([ZenossConfig(enabled=True, url=url, **keys)])


def _ctx(service: ZenossService) -> HandlerContext:
    return HandlerContext(services={"zenoss": service})


async def test_default_handler_call(rest_capture: Any, alert_event: Make) -> None:
    url = rest_capture.url + "/zport/dmd/evconsole_router"
    service = _service(url, username="dev", password=PASSWORD)
    assert (await from_tick({}, _ctx(service)).send([alert_event()])).delivered
    (req,) = rest_capture.requests
    assert (req.method, req.path) == ("POST", "/zport/dmd/evconsole_router")
    pair = base64.b64encode(f"dev:{PASSWORD}".encode()).decode()
    assert req.headers["Authorization"] == f"Basic {pair}"
    assert req.json == {
        "action": "EventsRouter",
        "method": "add_event",
        "data": [
            {
                "summary": "cpu/serverA is CRITICAL",
                "device": "",
                "component": "",
                "severity": "Critical",
                "evclasskey": "",
                "evclass": "",
                "collector": "Kapacitor",
            }
        ],
        "type": "rpc",
        "tid": 1,
    }
    assert list(req.json) == ["action", "method", "data", "type", "tid"]  # Go's struct order
    await service.close()


@pytest.mark.parametrize(
    ("level", "severity"),
    [(Level.OK, "Clear"), (Level.INFO, "Info"), (Level.WARNING, "Warning"), (Level.CRITICAL, 5)],
)
async def test_severity_map(
    rest_capture: Any, alert_event: Make, level: Level, severity: object
) -> None:
    service = _service(rest_capture.url, severity_map=SeverityMap(critical=5))
    assert (await from_tick({}, _ctx(service)).send([alert_event(level)])).delivered
    assert rest_capture.requests[0].json["data"][0]["severity"] == severity
    await service.close()


async def test_templates_and_custom_fields(rest_capture: Any, alert_event: Make) -> None:
    service = _service(rest_capture.url, tid=7)
    props = {
        "action": "ScriptsRouter",
        "method": "kapa_handler",
        "summary": "{{ .Level }}: {{ .Message }}",
        "device": '{{ index .Tags "host" }}',
        "component": "{{ .Name }}",
        "eventClassKey": "{{ .TaskName }}",
        "eventClass": "/App",
        "collector": "c-{{ .ID }}",
        "message": "{{ .Details }} {{ .Recoverable }} {{ .Duration }} {{ .Time }}",
        "customFields": {
            "json": '{"id":"{{ .ID }}","n":1}',
            "list": "[1, 2]",
            "broken": "{not json",
            "ticks": 33,
        },
    }
    assert (await from_tick(props, _ctx(service)).send([alert_event(Level.WARNING)])).delivered
    body = rest_capture.requests[0].json
    assert (body["action"], body["method"], body["type"], body["tid"]) == (
        "ScriptsRouter",
        "kapa_handler",
        "rpc",
        7,
    )
    assert body["data"] == [
        {
            "summary": "WARNING: cpu/serverA is WARNING",
            "device": "serverA",
            "component": "cpu",
            "severity": "Warning",
            "evclasskey": "task",
            "evclass": "/App",
            "collector": "c-cpu/serverA",
            "message": "d true 0s 1971-01-01 00:00:10 +0000 UTC",
            "json": {"id": "cpu/serverA", "n": 1},
            "list": [1, 2],
            "broken": "{not json",
            "ticks": 33,
        }
    ]
    await service.close()


async def test_handler_file_options(rest_capture: Any, alert_event: Make) -> None:
    service = _service(rest_capture.url, collector="")
    handler = from_options(
        {"TID": 3, "Type": "x", "evclass": "/E", "customField": {"k": "v"}}, _ctx(service)
    )
    assert (await handler.send([alert_event()])).delivered
    body = rest_capture.requests[0].json
    assert (body["tid"], body["type"]) == (3, "x")
    assert body["data"] == [
        {
            "summary": "cpu/serverA is CRITICAL",
            "device": "",
            "component": "",
            "severity": "Critical",
            "evclasskey": "",
            "evclass": "/E",
            "k": "v",
        }
    ]
    with pytest.raises(HandlerConfigError, match=r"invalid zenoss handler option\(s\): devise"):
        from_options({"devise": "d"}, _ctx(service))
    with pytest.raises(HandlerConfigError, match="'tid' must be an integer"):
        from_options({"tid": "one"}, _ctx(service))
    with pytest.raises(HandlerConfigError, match="invalid summary template"):
        from_options({"summary": "{{ if }}"}, _ctx(service))
    await service.close()


async def test_failures_keep_the_password_secret(rest_capture: Any, alert_event: Make) -> None:
    service = _service(rest_capture.url, username="dev", password=PASSWORD)
    handler = from_tick({}, _ctx(service))
    rest_capture.status, rest_capture.body = 500, f'{{"error": "{PASSWORD}"}}'
    result = await handler.send([alert_event()])
    assert result.outcome == "retry" and PASSWORD not in result.reason
    assert PASSWORD not in repr(service.config())
    service.update([ZenossConfig(url=rest_capture.url)])
    result = await handler.send([alert_event()])
    assert result.outcome == "permanent" and "service is not enabled" in result.reason
    await service.close()


def test_section_defaults_severity_map_env_and_redaction(tmp_path: Path) -> None:
    config = load_config(
        None,
        {"KAPACITOR_ZENOSS_PASSWORD": PASSWORD, "KAPACITOR_ZENOSS_SEVERITY_MAP_OK": "Cleared"},
        integrations=INTEGRATIONS.sections(),
    )
    (section,) = config.sections(SECTION)
    assert section.to_options() == {
        "enabled": False,
        "url": DEFAULT_URL,
        "username": "",
        "password": True,
        "action": "EventsRouter",
        "method": "add_event",
        "type": "rpc",
        "tid": 1,
        "collector": "Kapacitor",
        "severity-map": {
            "ok": "Cleared",
            "info": "Info",
            "warning": "Warning",
            "critical": "Critical",
        },
        "global": False,
        "state-changes-only": False,
    }
    path = tmp_path / "kapacitor.conf"
    path.write_text(
        "[zenoss]\n  enabled = true\n  global = true\n  state-changes-only = true\n"
        "[zenoss.severity-map]\n  OK = 0\n  Critical = 5\n"
    )
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    (section,) = config.sections(SECTION)
    assert section.severity_map == SeverityMap(ok=0, critical=5)
    service = INTEGRATIONS.build_services(config)["zenoss"]
    integration = INTEGRATIONS.get("zenoss")
    assert integration is not None and integration.global_handler is not None
    assert integration.global_handler(service)
    assert integration.global_state_changes_only is not None
    assert integration.global_state_changes_only(service)
    path.write_text("[zenoss.severity-map]\n  OK = true\n")
    with pytest.raises(ConfigError, match="severity-map: ok: expected a string or a number"):
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    path.write_text("[zenoss.severity-map]\n  Fine = 1\n")
    with pytest.raises(ConfigError, match="Fine: unknown key"):
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())


async def test_service_test(rest_capture: Any) -> None:
    service = _service(rest_capture.url, action="A", collector="C")
    assert service.default_test_options() == {
        "alert_id": "1001",
        "level": "CRITICAL",
        "message": "test zenoss message",
        "action": "A",
        "method": "add_event",
        "type": "rpc",
        "tid": 1,
        "summary": "",
        "device": "",
        "component": "",
        "eventclasskey": "",
        "eventclass": "",
        "collector": "C",
        "custom_fields": {},
    }
    assert await service.test({"device": "{{ .ID }}", "custom_fields": {"x": 1}}) == (True, "")
    body = rest_capture.requests[0].json
    assert body["action"] == "A"
    assert body["data"] == [
        {
            "summary": "test zenoss message",
            "device": "1001",
            "component": "",
            "severity": "Critical",
            "evclasskey": "",
            "evclass": "",
            "collector": "C",
            "x": 1,
        }
    ]
    service.update([ZenossConfig()])
    assert await service.test({}) == (False, "service is not enabled")
    await service.close()
