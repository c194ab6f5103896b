"""SNMP traps: ``[snmptrap]``, the trap Kapacitor sends (against a real snmptrapd), its types,
define-time checks and the service test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_handlers import make_event

from leyden.config import ConfigError, load_config
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.snmptrap import SNMPTrapConfig, SNMPTrapService, check, from_options, from_tick
from leyden.notify.snmptrap.config import SECTION
from leyden.notify.snmptrap.service import SNMPData, TrapError, varbind
from leyden.server.app import create_app
from message_brokers import SnmpTrapd


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> SNMPTrapConfig:
    path = tmp_path / "kapacitor.conf"
    path.write_text(text, encoding="utf-8")
    config = load_config(str(path), env or {}, integrations=INTEGRATIONS.sections())
    (section,) = config.sections(SECTION)
    return section  # type: ignore[no-any-return]


@pytest.fixture
async def trapd() -> AsyncIterator[SnmpTrapd]:
    receiver = await SnmpTrapd().start()
    try:
        yield receiver
    finally:
        await receiver.stop()


def enabled(addr: str, community: str = "public") -> SNMPTrapService:
    return SNMPTrapService([SNMPTrapConfig(enabled=True, addr=addr, community=community)])


def test_defaults_redaction_and_environment(tmp_path: Path) -> None:
    section = load(tmp_path, "")
    assert section.to_options() == {
        "enabled": False,
        "addr": "localhost:162",
        "community": True,
        "retries": 1,
    }
    assert "kapacitor" not in repr(section)
    section = load(tmp_path, "", {"KAPACITOR_SNMPTRAP_RETRIES": "2"})
    assert section.retries == 2
    section = load(tmp_path, '[snmptrap]\ncommunity = "test"\nretries = 2\n')
    assert (section.community, section.retries, section.addr) == ("test", 2, "localhost:162")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[snmptrap]\nenabled = true\naddr = ""\n', "addr: must specify addr"),
        ('[snmptrap]\naddr = "nohost"\n', "addr: must be host:port"),
        ("[snmptrap]\nretries = -1\n", "retries: must not be negative"),
    ],
)
def test_invalid_section(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"\[snmptrap\]") as info:
        load(tmp_path, text)
    assert message in str(info.value)


async def test_trap_as_kapacitor_sends_it(trapd: SnmpTrapd) -> None:
    svc = enabled(trapd.addr)
    handler = from_tick(
        {
            "trapOid": "1.3.6.1.4.1.1",
            "data": [
                {"oid": "1.3.6.1.4.1.1.5", "type": "s", "value": "{{ .Level }}"},
                {"oid": "1.3.6.1.4.1.1.6", "type": "i", "value": "-50"},
                {"oid": "1.3.6.1.4.1.1.7", "type": "c", "value": '{{ index .Tags "host" | len }}'},
                {"oid": "1.3.6.1.4.1.1.8", "type": "t", "value": "4294967297"},
                {"oid": "1.3.6.1.4.1.1.9", "type": "n", "value": ""},
            ],
        },
        HandlerContext(services={"snmptrap": svc}),
    )
    first = await handler.send([make_event()])
    second = await handler.send([make_event()])
    await trapd.flush()
    await svc.close()
    assert first.delivered and second.delivered
    assert handler.destination == f"snmptrap:{trapd.addr}"
    assert len(trapd.traps) == 2
    assert trapd.traps[0] == {
        "pdu": "TRAP2",
        "version": "SNMP v2c",
        "community": "public",
        "varbinds": [
            {"oid": "1.3.6.1.2.1.1.3.0", "type": "TimeTicks", "value": "1000"},
            {"oid": "1.3.6.1.6.3.1.1.4.1.0", "type": "Oid", "value": "1.3.6.1.4.1.1"},
            {"oid": "1.3.6.1.4.1.1.5", "type": "OctetString", "value": "CRITICAL"},
            {"oid": "1.3.6.1.4.1.1.6", "type": "Integer", "value": "-50"},
            {"oid": "1.3.6.1.4.1.1.7", "type": "Counter64", "value": "7"},
            {"oid": "1.3.6.1.4.1.1.8", "type": "TimeTicks", "value": "1"},
            {"oid": "1.3.6.1.4.1.1.9", "type": "Null", "value": ""},
        ],
    }


def test_types_follow_go_conversions_and_refusals() -> None:
    assert int(varbind(SNMPData("1.1", "i", "2147483648"))[1]) == -2147483648
    assert int(varbind(SNMPData("1.1", "c", "-1"))[1]) == 2**64 - 1
    with pytest.raises(TrapError, match=r'strconv.ParseInt: parsing "ten": invalid syntax'):
        varbind(SNMPData("1.1", "i", "ten"))
    with pytest.raises(TrapError, match="Snmptrap Datatype 'IP address' not supported"):
        varbind(SNMPData("1.1", "a", "127.0.0.1"))
    with pytest.raises(TrapError, match="unsupported data type 'q'"):
        varbind(SNMPData("1.1", "q", ""))


async def test_value_that_is_not_a_number_is_permanent(trapd: SnmpTrapd) -> None:
    svc = enabled(trapd.addr)
    handler = from_options(
        {"trap-oid": "1.1", "data-list": [{"oid": "1.1.1", "type": "i", "value": "{{.Message}}"}]},
        HandlerContext(services={"snmptrap": svc}),
    )
    result = await handler.send([make_event()])
    await svc.close()
    assert result.outcome == "permanent"
    assert "invalid syntax" in result.reason


async def test_disabled_service_is_permanent_and_names_the_section() -> None:
    svc = SNMPTrapService([SNMPTrapConfig()])
    handler = from_options({"trap-oid": "1.1"}, HandlerContext(services={"snmptrap": svc}))
    result = await handler.send([make_event()])
    assert result.outcome == "permanent"
    assert "[snmptrap]" in result.reason


def test_handler_file_options_are_checked() -> None:
    ctx = HandlerContext(services={"snmptrap": SNMPTrapService([SNMPTrapConfig()])})
    with pytest.raises(HandlerConfigError, match="invalid snmptrap handler option"):
        from_options({"trap-oid": "1.1", "oid": "x"}, ctx)
    with pytest.raises(HandlerConfigError, match="element 0: unknown key"):
        from_options({"trap-oid": "1.1", "data-list": [{"oid": "1", "kind": "s"}]}, ctx)


def test_definition_refuses_what_can_never_be_sent() -> None:
    svc = SNMPTrapService([SNMPTrapConfig()])
    problem = check(
        {"trapOid": "1.1", "data": [{"oid": "1.1.1", "type": "x", "value": ""}]}, svc, True
    )
    assert problem is not None
    assert problem.message == (
        "invalid SNMP trap '1.1': Snmptrap Datatype 'Hexadecimal string' not supported"
    )
    assert (problem.prop, problem.value) == ("data", "1.1.1")
    assert check({"trap-oid": ""}, svc, False) is not None
    assert check({"trap-oid": "1.x"}, svc, False) is not None
    bad_template = {"trap-oid": "1.1", "data-list": [{"oid": "1.2", "type": "s", "value": "{{"}]}
    assert check(bad_template, svc, False) is not None
    fine = {"trap-oid": "1.1", "data-list": [{"oid": "1.2", "type": "s", "value": "{{.ID}}"}]}
    assert check(fine, svc, False) is None


async def test_service_test(trapd: SnmpTrapd) -> None:
    assert await SNMPTrapService([SNMPTrapConfig()]).test({}) == (False, "service is not enabled")
    svc = enabled(trapd.addr, community="kapacitor")
    assert svc.default_test_options() == {
        "trap-oid": "1.1.1.1",
        "data-list": [{"oid": "1.1.1.1.2", "type": "s", "value": "test snmptrap message"}],
    }
    assert await svc.test({}) == (True, "")
    assert (await svc.test({"trap-oid": 5}))[0] is False
    await trapd.flush()
    await svc.close()
    assert [t["community"] for t in trapd.traps] == ["kapacitor"]
    assert trapd.traps[0]["varbinds"][2] == {
        "oid": "1.1.1.1.2",
        "type": "OctetString",
        "value": "test snmptrap message",
    }


async def test_config_api_as_kapacitors_update_config(
    tmp_path: Path, aiohttp_client: Any, make_runtime: Any
) -> None:
    """TestServer_UpdateConfig's snmptrap entry: one element at ``/config/snmptrap/``."""
    path = tmp_path / "kapacitor.conf"
    path.write_text('[snmptrap]\ncommunity = "test"\nretries = 2\n', encoding="utf-8")
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    runtime = make_runtime(config)
    client = await aiohttp_client(create_app(runtime))
    got = await (await client.get("/kapacitor/v1/config/snmptrap")).json()
    assert got == {
        "link": {"rel": "self", "href": "/kapacitor/v1/config/snmptrap"},
        "elements": [
            {
                "link": {"rel": "self", "href": "/kapacitor/v1/config/snmptrap/"},
                "options": {
                    "addr": "localhost:162",
                    "enabled": False,
                    "community": True,
                    "retries": 2,
                },
                "redacted": ["community"],
            }
        ],
    }
    update = {
        "set": {
            "enabled": True,
            "addr": "snmptrap.example.com:162",
            "community": "public",
            "retries": 1,
        }
    }
    answer = await client.post("/kapacitor/v1/config/snmptrap/", json=update)
    assert answer.status == 204, await answer.text()
    element = await (await client.get("/kapacitor/v1/config/snmptrap/")).json()
    assert element["options"] == {
        "addr": "snmptrap.example.com:162",
        "enabled": True,
        "community": True,
        "retries": 1,
    }
    service = runtime.integrations["snmptrap"]
    assert service.default().addr == "snmptrap.example.com:162"
    listed = await (await client.get("/kapacitor/v1/service-tests/snmptrap")).json()
    assert listed["options"] == service.default_test_options()
