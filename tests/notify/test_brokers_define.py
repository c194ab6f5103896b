"""Defining tasks and topic handlers that name an MQTT broker, a Kafka cluster or an SNMP trap
the server cannot send: refused at definition, the error pointing at the TICKscript property and
naming what is configured (Kapacitor accepts them and fails on every alert)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leyden.config import load_config
from leyden.notify import INTEGRATIONS
from leyden.server.app import create_app

CONF = """
[[mqtt]]
  enabled = true
  name = "edge"
  url = "tcp://127.0.0.1:1883"
[[kafka]]
  enabled = true
  id = "events"
  brokers = ["127.0.0.1:9092"]
"""

SCRIPT = """dbrp "telegraf"."autogen"

stream
    |from()
        .measurement('cpu')
    |alert()
        .crit(lambda: TRUE)
        HANDLER
"""


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: Any, make_runtime: Any) -> Any:
    path = tmp_path / "kapacitor.conf"
    path.write_text(CONF, encoding="utf-8")
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    return await aiohttp_client(create_app(make_runtime(config)))


@pytest.mark.parametrize(
    ("handler", "message", "column"),
    [
        (
            ".mqtt('alerts').brokerName('nope')",
            'mqtt broker "nope" is not configured; configured brokers: "edge"',
            36,
        ),
        (
            ".kafka().cluster('nope').kafkaTopic('alerts')",
            'kafka cluster "nope" is not configured; configured clusters: "events"',
            26,
        ),
        (
            ".snmpTrap('1.1.1').data('1.1.2', 's', 'x').snmpTrap('1.x')",
            "invalid SNMP trap '1.x': invalid trap Oid '1.x': must be numbers separated by dots",
            52,
        ),
    ],
)
async def test_tick_handler_refused_at_define(
    client: Any, handler: str, message: str, column: int
) -> None:
    answer = await client.post(
        "/kapacitor/v1/tasks", json={"id": "t", "script": SCRIPT.replace("HANDLER", handler)}
    )
    body = await answer.json()
    assert answer.status == 400, body
    assert body["error"] == f"invalid TICKscript: t:8:{column}: {message}"


async def test_tick_handlers_naming_what_is_configured_are_defined(client: Any) -> None:
    handlers = (
        ".mqtt('alerts/{{.ID}}').brokerName('edge').qos(2).retained(TRUE)"
        ".kafka().cluster('events').kafkaTopic('alerts').partitionHashAlgorithm('murmur2')"
        ".snmpTrap('1.1.1').data('1.1.1.2', 's', '{{.Message}}')"
    )
    answer = await client.post(
        "/kapacitor/v1/tasks", json={"id": "t", "script": SCRIPT.replace("HANDLER", handlers)}
    )
    assert answer.status == 200, await answer.text()


async def test_topic_handler_refused_at_define(client: Any) -> None:
    answer = await client.post(
        "/kapacitor/v1/alerts/topics/cpu/handlers",
        json={"id": "k", "kind": "kafka", "options": {"cluster": "nope", "topic": "t"}},
    )
    body = await answer.json()
    assert answer.status == 400, body  # Kapacitor answers 500; a user's mistake is a 400 here
    assert 'kafka cluster "nope" is not configured; configured clusters: "events"' in body["error"]
    answer = await client.post(
        "/kapacitor/v1/alerts/topics/cpu/handlers",
        json={"id": "m", "kind": "mqtt", "options": {"topic": "t", "qos": "at-least-once"}},
    )
    assert answer.status == 200, await answer.text()
