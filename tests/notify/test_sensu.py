"""The sensu handler (``.sensu()``, ``kind: sensu``) and ``[sensu]``, against a real TCP socket.

The socket is ``kapacitor_handlers.servers.SensuServer`` (Sensu's client socket: one JSON check
per connection, answered ``ok``), the one the Kapacitor cases use.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from kapacitor_handlers.servers import SensuServer
from leyden.config import ConfigError, load_config
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.sensu import SensuConfig, SensuService, check, from_options, from_tick
from leyden.runtime import Runtime
from leyden.server.app import create_app

ClientFactory = Callable[..., Awaitable[TestClient]]
MakeRuntime = Callable[..., Runtime]


def _event(level: Level = Level.WARNING, alert_id: str = "cpu.serverA") -> Event:
    return Event(
        "t",
        EventState(id=alert_id, message="cpu is hot", details="", time=0, duration=0, level=level),
        EventData(name="cpu", tags={"host": "serverA"}),
    )


@pytest.fixture
async def sensu() -> AsyncIterator[tuple[SensuServer, str]]:
    server = SensuServer()
    holes = await server.start({})
    yield server, holes["SENSU_ADDR"]
    await server.stop()


def _service(addr: str, **changes: Any) -> SensuService:
    config = SensuConfig(enabled=True, addr=addr)
    for key, value in changes.items():
        setattr(config, key, value)
    return SensuService([config])


async def test_check_result_is_kapacitors(sensu: tuple[SensuServer, str]) -> None:
    server, addr = sensu
    service = _service(addr, handlers=["default"])
    ctx = HandlerContext(services={"sensu": service})
    handler = from_tick(
        {
            "source": '{{ index .Tags "host" }}',
            "handlers": ["pager"],
            "metadata": {"k1": "v1", "k2": 5, "name": "ignored"},
        },
        ctx,
    )
    plain = from_options({}, ctx)
    await handler.handle(_event())
    await plain.handle(_event(Level.OK))
    first, second = server.received()
    assert first["text"] == (
        '{"handlers":["pager"],"k1":"v1","k2":5,"name":"cpu.serverA","output":"cpu is hot",'
        '"source":"serverA","status":1}\n'
    )
    assert second["json"] == {
        "name": "cpu.serverA",
        "source": "Kapacitor",
        "output": "cpu is hot",
        "status": 0,
        "handlers": ["default"],
    }


@pytest.mark.parametrize(
    ("level", "status"),
    [(Level.OK, 0), (Level.INFO, 0), (Level.WARNING, 1), (Level.CRITICAL, 2)],
)
async def test_levels_map_to_sensu_status(
    sensu: tuple[SensuServer, str], level: Level, status: int
) -> None:
    server, addr = sensu
    result = await _service(addr).alert("n", "", "o", [], {}, level)
    assert result.delivered
    assert server.received()[0]["json"]["status"] == status


async def test_outcomes(sensu: tuple[SensuServer, str]) -> None:
    _server, addr = sensu
    service = _service(addr)
    bad_name = await service.alert("kapacitor/cpu", "", "o", [], {}, Level.CRITICAL)
    assert bad_name.outcome == "permanent"
    assert (
        bad_name.reason == 'invalid name "kapacitor/cpu" for sensu alert. Must match ^[\\w\\.-]+$'
    )
    off = await _service(addr, enabled=False).alert("n", "", "o", [], {}, Level.CRITICAL)
    assert off.outcome == "permanent" and "not enabled" in off.reason
    invalid = SensuServer()
    holes = await invalid.start({"answer": "invalid"})
    try:
        refused = await _service(holes["SENSU_ADDR"]).alert("n", "", "o", [], {}, Level.OK)
    finally:
        await invalid.stop()
    assert (refused.outcome, refused.reason) == ("permanent", "sensu socket error: invalid")
    down = await _service(holes["SENSU_ADDR"]).alert("n", "", "o", [], {}, Level.OK)
    assert down.outcome == "retry" and down.reason.startswith("failed to connect to sensu client")


async def test_a_failing_source_template_is_permanent(sensu: tuple[SensuServer, str]) -> None:
    server, addr = sensu
    ctx = HandlerContext(services={"sensu": _service(addr)})
    handler = from_options({"source": "{{ .Nope }}"}, ctx)
    result = await handler.send([_event()])
    assert result.outcome == "permanent"
    assert result.reason.startswith("failed to evaluate Sensu source template")
    assert server.received() == []


def test_options_and_definition_checks() -> None:
    ctx = HandlerContext(services={"sensu": SensuService([SensuConfig()])})
    with pytest.raises(HandlerConfigError, match="invalid sensu handler option"):
        from_options({"sauce": "x"}, ctx)
    with pytest.raises(HandlerConfigError, match="'metadata' must be dict"):
        from_options({"metadata": [1]}, ctx)
    with pytest.raises(HandlerConfigError, match="failed to create sensu alert handler"):
        from_options({"source": "{{ .ID "}, ctx)
    problem = check({"source": "{{ .ID "}, None, True)
    assert problem is not None and problem.prop == "source"
    assert check({"source": "{{ .ID }}"}, None, True) is None


def test_section_defaults_validation_and_environment(tmp_path: Path) -> None:
    config = load_config(
        None, {"KAPACITOR_SENSU_ADDR": "sensu:3030"}, integrations=INTEGRATIONS.sections()
    )
    (section,) = config.integrations["sensu"]
    assert section.to_options() == {
        "enabled": False,
        "addr": "sensu:3030",
        "source": "Kapacitor",
        "handlers": None,
    }
    path = tmp_path / "kapacitor.conf"
    path.write_text("[sensu]\n  enabled = true\n")
    with pytest.raises(ConfigError, match=r"\[sensu\]: addr: must specify client address"):
        load_config(str(path), {}, integrations=INTEGRATIONS.sections())


async def test_config_api_and_service_test_answer_as_kapacitor(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    make_runtime: MakeRuntime,
    sensu: tuple[SensuServer, str],
) -> None:
    server, addr = sensu
    path = tmp_path / "kapacitor.conf"
    path.write_text('[sensu]\n  addr = "sensu.example.com:3000"\n')
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    client = await aiohttp_client(create_app(make_runtime(config, db=tmp_path / "l.db")))
    resp = await client.get("/kapacitor/v1/config/sensu/")
    assert json.loads(await resp.text()) == {
        "link": {"rel": "self", "href": "/kapacitor/v1/config/sensu/"},
        "options": {
            "addr": "sensu.example.com:3000",
            "enabled": False,
            "source": "Kapacitor",
            "handlers": None,
        },
        "redacted": [],
    }
    resp = await client.get("/kapacitor/v1/service-tests/sensu")
    assert json.loads(await resp.text())["options"] == {
        "name": "testName",
        "source": "Kapacitor",
        "output": "testOutput",
        "handlers": [],
        "metadata": {},
        "level": "CRITICAL",
    }
    resp = await client.post("/kapacitor/v1/service-tests/sensu", json={})
    assert json.loads(await resp.text()) == {"success": False, "message": "service is not enabled"}
    resp = await client.post(
        "/kapacitor/v1/config/sensu/", json={"set": {"enabled": True, "addr": addr}}
    )
    assert resp.status == 204, await resp.text()
    resp = await client.post("/kapacitor/v1/service-tests/sensu", json={"metadata": {"x": 1}})
    assert json.loads(await resp.text()) == {"success": True, "message": ""}
    (check_result,) = server.received()
    assert check_result["json"] == {
        "name": "testName",
        "source": "Kapacitor",
        "output": "testOutput",
        "status": 2,
        "handlers": None,
        "x": 1,
    }
