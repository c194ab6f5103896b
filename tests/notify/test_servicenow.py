"""``.serviceNow()`` / ``kind: servicenow``: the event API record, ``[servicenow]``, the test."""

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
from leyden.notify.servicenow import (
    DEFAULT_URL,
    SECTION,
    ServiceNowConfig,
    ServiceNowService,
    from_options,
    from_tick,
)
from leyden.replay import parse_dbrp, replay

PASSWORD = "pa55-w0rd-SECRET"
Make = Callable[..., Event]


def _service(url: str, **keys: Any) -> ServiceNowService:
    return ServiceNowService([ServiceNowConfig(enabled=True, url=url, **keys)])


def _ctx(service: ServiceNowService) -> HandlerContext:
    return HandlerContext(services={"servicenow": service})


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_default_handler_record(rest_capture: Any, alert_event: Make) -> None:
    url = rest_capture.url + "/api/global/em/jsonv2"
    service = _service(url, source="Kapacitor", username="dev", password=PASSWORD)
    assert (await from_tick({}, _ctx(service)).send([alert_event()])).delivered
    (req,) = rest_capture.requests
    assert (req.method, req.path) == ("POST", "/api/global/em/jsonv2")
    assert req.headers["Authorization"] == _basic("dev", PASSWORD)
    assert req.headers["Content-Type"] == "application/json"
    assert req.json == {
        "records": [
            {
                "source": "Kapacitor",
                "message_key": "cpu/serverA",
                "severity": "1",
                "description": "cpu/serverA is CRITICAL",
            }
        ]
    }
    await service.close()


@pytest.mark.parametrize(
    ("level", "severity"),
    [(Level.OK, "5"), (Level.INFO, "5"), (Level.WARNING, "4"), (Level.CRITICAL, "1")],
)
async def test_levels_map_to_servicenow_severities(
    rest_capture: Any, alert_event: Make, level: Level, severity: str
) -> None:
    service = _service(rest_capture.url)
    assert (await from_tick({}, _ctx(service)).send([alert_event(level)])).delivered
    assert rest_capture.requests[0].json["records"][0]["severity"] == severity
    assert "Authorization" not in rest_capture.requests[0].headers  # no credentials set
    await service.close()


async def test_templates_additional_info_and_cutoffs(rest_capture: Any, alert_event: Make) -> None:
    service = _service("http://127.0.0.1:1/unused", source="config-source")
    props = {
        "uRL": rest_capture.url + "/other",
        "source": "tick-source",
        "node": '{{ index .Tags "host" }}',
        "type": "{{ .TaskName }}",
        "resource": "{{ .Name }}",
        "metricName": '{{ index .Fields "value" }}',
        "messageKey": "key {{ .ID }}",
        "additionalInfo": {"link": "http://x/?a=1&id={{ .ID }}", "ticks": 666, "ok": True},
    }
    long = "é" * 3000  # 6000 bytes: the description keeps 4000 bytes, whole characters
    event = alert_event(message=long)
    assert (await from_tick(props, _ctx(service)).send([event])).delivered
    (req,) = rest_capture.requests
    assert req.path == "/other"
    (record,) = req.json["records"]
    assert record == {
        "source": "tick-source",
        "node": "serverA",
        "type": "task",
        "resource": "cpu",
        "metric_name": "97.5",
        "message_key": "key cpu/serverA",
        "severity": "1",
        "description": "é" * 2000,
        # Go's json.Marshal escapes & inside additional_info
        "additional_info": '{"link":"http://x/?a=1\\u0026id=cpu/serverA","ok":"true","ticks":"666"}',
    }
    await service.close()


async def test_handler_file_options_take_kapacitors_names(
    rest_capture: Any, alert_event: Make
) -> None:
    service = _service(rest_capture.url, username="cfg", password="cfg-pass")
    handler = from_options(
        {
            "source": "S",
            "metricName": "m",
            "message_key": "mk",
            "additional_info": {"a": "{{ .Name }}"},
            "username": "u",
            "password": PASSWORD,
        },
        _ctx(service),
    )
    assert (await handler.send([alert_event()])).delivered
    (req,) = rest_capture.requests
    record = req.json["records"][0]
    assert (record["metric_name"], record["message_key"]) == ("m", "mk")
    assert record["additional_info"] == '{"a":"cpu"}'
    assert req.headers["Authorization"] == _basic("u", PASSWORD)
    with pytest.raises(HandlerConfigError, match=r"invalid servicenow handler option\(s\): nod"):
        from_options({"nod": "x"}, _ctx(service))
    with pytest.raises(HandlerConfigError, match="invalid node template"):
        from_options({"node": "{{"}, _ctx(service))
    await service.close()


async def test_failures_keep_the_password_secret(rest_capture: Any, alert_event: Make) -> None:
    service = _service(rest_capture.url, username="dev", password=PASSWORD)
    handler = from_tick({}, _ctx(service))
    rest_capture.status, rest_capture.body = 503, f'{{"error": "no {PASSWORD}"}}'
    result = await handler.send([alert_event()])
    assert result.outcome == "retry" and PASSWORD not in result.reason
    rest_capture.status = 400
    assert (await handler.send([alert_event()])).outcome == "permanent"
    assert PASSWORD not in repr(service.config()) and PASSWORD not in repr(handler)
    service.update([ServiceNowConfig(url=rest_capture.url)])
    result = await handler.send([alert_event()])
    assert result.outcome == "permanent" and "service is not enabled" in result.reason
    await service.close()


def test_section_defaults_env_global_and_redaction(tmp_path: Path) -> None:
    config = load_config(
        None, {"KAPACITOR_SERVICENOW_PASSWORD": PASSWORD}, integrations=INTEGRATIONS.sections()
    )
    (section,) = config.sections(SECTION)
    assert section.to_options() == {
        "enabled": False,
        "url": DEFAULT_URL,
        "source": "",
        "username": "",
        "password": True,
        "global": False,
        "state-changes-only": False,
    }
    path = tmp_path / "kapacitor.conf"
    path.write_text('[servicenow]\n  enabled = true\n  url = ""\n')
    with pytest.raises(ConfigError, match=r"\[servicenow\].*url: must specify events URL"):
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    path.write_text(
        "[servicenow]\n  enabled = true\n  global = true\n  state-changes-only = true\n"
    )
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    service = INTEGRATIONS.build_services(config)["servicenow"]
    integration = INTEGRATIONS.get("servicenow")
    assert integration is not None
    assert integration.global_handler is not None and integration.global_handler(service)
    assert integration.global_state_changes_only is not None
    assert integration.global_state_changes_only(service)
    assert INTEGRATIONS.for_tick("serviceNow") is integration


async def test_service_test(rest_capture: Any) -> None:
    service = _service(rest_capture.url + "/api")
    assert service.default_test_options() == {
        "alert_id": "1001",
        "message": "test servicenow message",
        "level": "CRITICAL",
        "source": "Kapacitor",
        "node": "",
        "type": "",
        "resource": "",
        "metric_name": "",
        "message_key": "",
        "additional_info": {},
    }
    assert await service.test({"node": "n1", "level": "WARNING"}) == (True, "")
    (req,) = rest_capture.requests
    assert req.path == "/api"
    assert req.json["records"] == [
        {
            "source": "Kapacitor",
            "node": "n1",
            "message_key": "1001",
            "severity": "4",
            "description": "test servicenow message",
        }
    ]
    ok, message = await service.test({"level": "LOUD"})
    assert not ok and "unknown level" in message
    service.update([ServiceNowConfig()])
    assert await service.test({}) == (False, "service is not enabled")
    await service.close()


async def test_global_handler_reaches_every_alert_node(rest_capture: Any, tmp_path: Path) -> None:
    """``global = true``: a task without ``.serviceNow()`` sends too; state changes only."""
    conf = tmp_path / "kapacitor.conf"
    conf.write_text(
        f'[servicenow]\n  enabled = true\n  url = "{rest_capture.url}/g"\n'
        "  global = true\n  state-changes-only = true\n"
    )
    script = tmp_path / "task.tick"
    script.write_text(
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .id('a')\n"
        "    .crit(lambda: TRUE)\n"
    )
    data = tmp_path / "data.srpl"
    data.write_text(
        "dbname\nrpname\ncpu value=1 0000000001\ndbname\nrpname\ncpu value=2 0000000002\n"
    )
    config = load_config(str(conf), {}, integrations=INTEGRATIONS.sections())
    dbrps = [parse_dbrp("dbname.rpname")]
    await replay(script, [data], config=config, name="g", dbrps=dbrps, until=None)
    (req,) = rest_capture.requests  # the second CRITICAL is no state change
    assert req.path == "/g"
    assert req.json["records"][0]["message_key"] == "a"
