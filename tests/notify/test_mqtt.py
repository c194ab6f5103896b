"""MQTT: the ``[[mqtt]]`` section, ``.mqtt()`` / ``kind: mqtt`` against a real mosquitto, the
service test, define-time checks and what becomes of a failed publish."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from test_handlers import make_event

from leyden.config import ConfigError, load_config
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.mqtt import MQTTConfig, MQTTService, from_options, from_tick
from leyden.notify.mqtt import check as mqtt_check
from leyden.notify.mqtt.config import SECTION
from leyden.server.app import create_app
from message_brokers import Mosquitto, free_port

SECRET = "s3cret-mqtt-pass"


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[MQTTConfig]:
    path = tmp_path / "kapacitor.conf"
    path.write_text(text, encoding="utf-8")
    config = load_config(str(path), env or {}, integrations=INTEGRATIONS.sections())
    return config.sections(SECTION)


def service(url: str, **extra: object) -> MQTTService:
    return MQTTService([MQTTConfig(enabled=True, name="test", url=url, **extra)])  # type: ignore[arg-type]


@pytest.fixture
async def broker() -> AsyncIterator[Mosquitto]:
    server = await Mosquitto().start()
    await server.subscribe()
    try:
        yield server
    finally:
        await server.stop()


# --- configuration -------------------------------------------------------------------------


def test_defaults_and_redaction_as_kapacitor_config_api(tmp_path: Path) -> None:
    (only,) = load(tmp_path, '[[mqtt]]\nurl = "tcp://mqtt.example.com:1883"\n')
    assert only.to_options() == {
        "enabled": False,
        "name": "default",
        "default": False,
        "url": "tcp://mqtt.example.com:1883",
        "ssl-ca": "",
        "ssl-cert": "",
        "ssl-key": "",
        "insecure-skip-verify": False,
        "client-id": "",
        "username": "",
        "password": False,
    }
    only.password = SECRET
    assert only.to_options()["password"] is True
    assert SECRET not in repr(only)


def test_builtin_default_broker_takes_environment(tmp_path: Path) -> None:
    (only,) = load(
        tmp_path,
        "",
        {"KAPACITOR_MQTT_0_URL": "tcp://127.0.0.1:1883", "KAPACITOR_MQTT_0_ENABLED": "true"},
    )
    assert (only.name, only.enabled, only.url) == ("default", True, "tcp://127.0.0.1:1883")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[mqtt]]\nenabled = true\n", "must specify a url for mqtt service"),
        ('[[mqtt]]\nname = ""\n', "must specify a name for the mqtt broker"),
        ('[[mqtt]]\nurl = "http://x:1"\n', 'scheme "http" is not one of'),
        (
            '[[mqtt]]\nname = "a"\n[[mqtt]]\nname = "b"\n',
            "no configuration is marked as the default",
        ),
        (
            '[[mqtt]]\nname = "a"\ndefault = true\n[[mqtt]]\nname = "b"\ndefault = true\n',
            "more than one configuration is marked as the default",
        ),
        ('[[mqtt]]\nname = "a"\ndefault = true\n[[mqtt]]\nname = "a"\n', '"a" is used twice'),
    ],
)
def test_invalid_sections_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="mqtt") as info:
        load(tmp_path, text)
    assert message in str(info.value)


# --- handlers ------------------------------------------------------------------------------


async def test_topic_handler_publishes_message_with_qos_and_retained(broker: Mosquitto) -> None:
    svc = service(broker.url)
    ctx = HandlerContext(services={"mqtt": svc})
    handler = from_options(
        {"topic": "alerts/{{.Name}}", "qos": "exactly-once", "retained": True}, ctx
    )
    first = await handler.send([make_event()])
    connection = svc._connections["test"]._client
    second = await handler.send([make_event(id="cpu/serverB")])
    await broker.flush()
    await svc.close()
    assert first.delivered and second.delivered
    assert connection is not None  # one connection carried both messages
    assert broker.messages == [
        {"topic": "alerts/cpu", "payload": "cpu/serverA is CRITICAL", "qos": 2, "retained": True},
        {"topic": "alerts/cpu", "payload": "cpu/serverB is CRITICAL", "qos": 2, "retained": True},
    ]
    assert svc._connections == {}


async def test_tick_handler_with_broker_name_and_numeric_qos(broker: Mosquitto) -> None:
    svc = MQTTService(
        [
            MQTTConfig(enabled=True, name="a", default=True, url="tcp://127.0.0.1:1"),
            MQTTConfig(enabled=True, name="b", url=broker.url, client_id="leyden-b"),
        ]
    )
    handler = from_tick(
        {"topic": "t", "brokerName": "b", "qos": 1}, HandlerContext(services={"mqtt": svc})
    )
    assert handler.destination == "mqtt:b"
    result = await handler.send([make_event()])
    await broker.flush()
    await svc.close()
    assert result.delivered, result.reason
    assert broker.messages == [
        {"topic": "t", "payload": "cpu/serverA is CRITICAL", "qos": 1, "retained": False}
    ]


async def test_unreachable_broker_is_retried_and_names_no_password() -> None:
    svc = service(f"tcp://127.0.0.1:{free_port()}", username="u", password=SECRET)
    handler = from_options({"topic": "t"}, HandlerContext(services={"mqtt": svc}))
    result = await handler.send([make_event()])
    await svc.close()
    assert result.outcome == "retry"
    assert 'MQTT broker "test"' in result.reason
    assert SECRET not in result.reason


async def test_refused_credentials_are_permanent(tmp_path: Path) -> None:
    passwords = tmp_path / "passwd"
    passwords.write_text("", encoding="utf-8")
    subprocess.run(
        ["/usr/bin/mosquitto_passwd", "-b", str(passwords), "kapacitor", "right"],
        check=True,
        capture_output=True,
    )
    passwords.chmod(0o600)
    server = await Mosquitto(password_file=str(passwords)).start()
    try:
        svc = service(server.url, username="kapacitor", password=SECRET)
        handler = from_options({"topic": "t"}, HandlerContext(services={"mqtt": svc}))
        result = await handler.send([make_event()])
        await svc.close()
    finally:
        await server.stop()
    assert result.outcome == "permanent", result
    assert SECRET not in result.reason


async def test_topic_that_cannot_be_published_to_is_permanent() -> None:
    svc = service("tcp://127.0.0.1:1")
    ctx = HandlerContext(services={"mqtt": svc})
    for topic in ("", "a/#"):
        result = await from_options({"topic": topic}, ctx).send([make_event()])
        assert result.outcome == "permanent"
    result = await from_options({"topic": "{{.Nope}}"}, ctx).send([make_event()])
    assert result.outcome == "permanent"
    assert "failed to create MQTT topic from template" in result.reason


def test_handler_options_are_checked() -> None:
    ctx = HandlerContext(services={"mqtt": service("tcp://127.0.0.1:1")})
    with pytest.raises(HandlerConfigError, match="invalid mqtt handler option"):
        from_options({"topic": "t", "topic-template": "x"}, ctx)
    with pytest.raises(HandlerConfigError, match="qos 'twice' is invalid"):
        from_options({"topic": "t", "qos": "twice"}, ctx)
    with pytest.raises(HandlerConfigError, match="retained"):
        from_options({"topic": "t", "retained": "yes"}, ctx)


def test_unknown_broker_is_refused_at_definition_naming_the_configured() -> None:
    svc = MQTTService([MQTTConfig(name="a", url="tcp://x:1"), MQTTConfig(name="b")])
    problem = mqtt_check({"topic": "t", "brokerName": "c"}, svc, True)
    assert problem is not None
    assert problem.message == 'mqtt broker "c" is not configured; configured brokers: "a", "b"'
    assert (problem.prop, problem.value) == ("brokerName", "c")
    assert mqtt_check({"topic": "t", "broker-name": "c"}, svc, False) is not None
    assert mqtt_check({"topic": "t", "broker-name": "a"}, svc, False) is None
    assert mqtt_check({"topic": "{{.Bad"}, svc, False) is not None
    assert mqtt_check({"topic": "t", "qos": 3}, svc, True) is not None


# --- service test --------------------------------------------------------------------------


async def test_service_test_options_and_results(broker: Mosquitto) -> None:
    assert MQTTService([]).default_test_options() == {
        "broker-name": "",
        "topic": "",
        "message": "test MQTT message",
        "qos": "at-most-once",
        "retained": False,
    }
    disabled = MQTTService([MQTTConfig(name="default", url="tcp://x:1")])
    assert await disabled.test({"broker-name": "default", "topic": "test"}) == (
        False,
        'unknown MQTT broker "default"',
    )
    svc = service(broker.url)
    assert svc.default_test_options()["broker-name"] == "test"
    assert await svc.test({"topic": "tests", "qos": "at-least-once"}) == (True, "")
    assert (await svc.test({"topic": "x", "nope": 1}))[0] is False
    await broker.flush()
    await svc.close()
    assert broker.messages == [
        {"topic": "tests", "payload": "test MQTT message", "qos": 1, "retained": False}
    ]


async def test_config_update_closes_a_changed_brokers_connection(broker: Mosquitto) -> None:
    svc = service(broker.url)
    handler = from_options({"topic": "t"}, HandlerContext(services={"mqtt": svc}))
    assert (await handler.send([make_event()])).delivered
    old = svc._connections["test"]
    svc.update([MQTTConfig(enabled=True, name="test", url=broker.url, client_id="other")])
    assert svc._connections == {} and svc._retired == [old]
    assert (await handler.send([make_event()])).delivered
    assert svc._retired == [] and old._client is None
    await svc.close()


async def test_config_api_as_kapacitors_update_config(
    tmp_path: Path, aiohttp_client: Any, make_runtime: Any
) -> None:
    """TestServer_UpdateConfig's mqtt entry: set client-id and password; the password redacted."""
    path = tmp_path / "kapacitor.conf"
    path.write_text('[[mqtt]]\nname = "default"\nurl = "tcp://mqtt.example.com:1883"\n', "utf-8")
    config = load_config(str(path), {}, integrations=INTEGRATIONS.sections())
    runtime = make_runtime(config)
    client = await aiohttp_client(create_app(runtime))
    update = {"set": {"client-id": "kapacitor-default", "password": SECRET}}
    answer = await client.post("/kapacitor/v1/config/mqtt/default", json=update)
    assert answer.status == 204, await answer.text()
    text = await (await client.get("/kapacitor/v1/config/mqtt/default")).text()
    assert SECRET not in text
    element = json.loads(text)
    assert element["link"] == {"rel": "self", "href": "/kapacitor/v1/config/mqtt/default"}
    assert element["redacted"] == ["password"]
    assert element["options"] == {
        "enabled": False,
        "name": "default",
        "default": False,
        "url": "tcp://mqtt.example.com:1883",
        "ssl-ca": "",
        "ssl-cert": "",
        "ssl-key": "",
        "insecure-skip-verify": False,
        "client-id": "kapacitor-default",
        "username": "",
        "password": True,
    }
    answer = await client.post(
        "/kapacitor/v1/service-tests/mqtt", json={"broker-name": "default", "topic": "test"}
    )
    assert await answer.json() == {"success": False, "message": 'unknown MQTT broker "default"'}


async def test_ssl_broker_with_ssl_ca_or_insecure_skip_verify(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    leaf.private_key_pem.write_to_path(str(key_file))
    cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    server = await Mosquitto(tls=(str(cert_file), str(key_file))).start()
    await server.subscribe()
    url = f"ssl://127.0.0.1:{server.tls_port}"
    try:
        results = []
        for extra in ({"ssl_ca": str(ca_file)}, {"insecure_skip_verify": True}, {}):
            svc = service(url, **extra)
            handler = from_options({"topic": "tls"}, HandlerContext(services={"mqtt": svc}))
            results.append(await handler.send([make_event()]))
            await svc.close()
        await server.flush()
    finally:
        await server.stop()
    assert [r.outcome for r in results] == ["delivered", "delivered", "retry"]  # unknown CA
    assert [m["topic"] for m in server.messages] == ["tls", "tls"]
