"""Kafka: ``[[kafka]]``, Kapacitor's partitioners, ``.kafka()`` / ``kind: kafka`` against the Kafka
double (no broker runs here: tests/kafka_double.py), refusals and the service test."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from test_handlers import make_event

from kafka_double import KafkaDouble
from leyden.config import ConfigError, load_config
from leyden.model.alertdata import event_to_json
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerConfigError, HandlerContext
from leyden.notify.kafka import KafkaConfig, KafkaService, check, from_options, from_tick
from leyden.notify.kafka.config import SECTION
from leyden.notify.kafka.partition import choose
from message_brokers import free_port

SECRET = "s3cret-sasl-password"


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[KafkaConfig]:
    path = tmp_path / "kapacitor.conf"
    path.write_text(text, encoding="utf-8")
    config = load_config(str(path), env or {}, integrations=INTEGRATIONS.sections())
    return config.sections(SECTION)


@pytest.fixture
async def double() -> AsyncIterator[KafkaDouble]:
    server = await KafkaDouble().start()
    try:
        yield server
    finally:
        await server.stop()
    assert not server.errors


def cluster(addr: str, **extra: object) -> KafkaService:
    return KafkaService([KafkaConfig(enabled=True, id="default", brokers=[addr], **extra)])  # type: ignore[arg-type]


def ctx(service: KafkaService) -> HandlerContext:
    return HandlerContext(services={"kafka": service})


# --- configuration -------------------------------------------------------------------------


def test_defaults_and_redacted_sasl_secrets(tmp_path: Path) -> None:
    (only,) = load(tmp_path, "")
    options = only.to_options()
    assert options["id"] == "default" and options["enabled"] is False
    assert options["brokers"] == [] and options["batch-size"] == 0
    assert options["sasl-oauth-token-expiry-margin"] == "10s"
    assert options["sasl-version"] is None
    assert (only.timeout_seconds(), only.batch_messages()) == (10.0, 100)
    only.sasl_password = SECRET
    only.sasl_access_token = SECRET
    only.sasl_oauth_client_secret = SECRET
    shown = only.to_options()
    assert shown["sasl-password"] is True
    assert shown["sasl-access-token"] is True
    assert shown["sasl-oauth-client-secret"] is True
    assert SECRET not in repr(only) and SECRET not in str(shown)
    assert len(options) == 31  # every key of Kapacitor's Config and SASLAuth


def test_environment_configures_the_builtin_cluster(tmp_path: Path) -> None:
    (only,) = load(
        tmp_path,
        "",
        {"KAPACITOR_KAFKA_0_ENABLED": "true", "KAPACITOR_KAFKA_0_BROKERS": "a:9092, b:9092"},
    )
    assert (only.id, only.enabled, only.brokers) == ("default", True, ["a:9092", "b:9092"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[kafka]]\nenabled = true\n", "no brokers specified"),
        ('[[kafka]]\nenabled = true\nid = ""\nbrokers = ["a:1"]\n', "id must not be empty"),
        ('[[kafka]]\nenabled = true\nbrokers = ["a"]\n', '"a" is not host:port'),
        (
            '[[kafka]]\nenabled = true\nbrokers = ["a:1"]\nsasl-mechanism = "MD5"\n',
            "invalid sasl-mechanism",
        ),
        (
            '[[kafka]]\nenabled = true\nbrokers = ["a:1"]\nsasl-mechanism = "GSSAPI"\n',
            "GSSAPI (Kerberos) is not supported",
        ),
        (
            '[[kafka]]\nenabled = true\nbrokers = ["a:1"]\nsasl-mechanism = "OAUTHBEARER"\n',
            "'sasl-oauth-client-id' and 'sasl-oauth-client-secret' are required",
        ),
        ('[[kafka]]\nid = "a"\n[[kafka]]\nid = "a"\n', '"a" is used twice'),
        ("[[kafka]]\nsasl-version = 3\n", "invalid SASL version"),
    ],
)
def test_invalid_sections_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="kafka") as info:
        load(tmp_path, text)
    assert message in str(info.value)


# --- partitioners ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "key", "want"),
    [  # Kapacitor's services/kafka/hash_test.go
        ("crc32", "hello", 870),
        ("crc32", "hello2", 502),
        ("crc32", "hello5", 413),
        ("murmur2", "hello", 229),
        ("murmur2", "hello4", 299),
        ("murmur2", "", 681),
    ],
)
def test_partitioners_match_kapacitor(algorithm: str, key: str, want: int) -> None:
    assert choose(algorithm, key.encode(), 1000) == want


def test_random_partition_without_a_key_and_signed_hashes() -> None:
    assert choose("crc32", b"", 10) is None  # librdkafka: an empty key is no key
    assert choose("murmur2", None, 10) is None
    for algorithm in ("murmur3", "fnv-1a"):
        assert all(0 <= choose(algorithm, bytes([i]), 7) < 7 for i in range(256))  # type: ignore[operator]
    with pytest.raises(ValueError, match="invalid partition algorithm"):
        choose("md5", b"x", 3)


# --- handlers --------------------------------------------------------------------------------


async def test_alert_data_keyed_by_id_on_its_crc32_partition(double: KafkaDouble) -> None:
    svc = cluster(double.addr)
    handler = from_options({"cluster": "default", "topic": "alerts"}, ctx(svc))
    event = make_event()
    result = await handler.send([event])
    await svc.close()
    assert result.delivered, result.reason
    (message,) = double.messages
    assert message["key"] == "cpu/serverA"
    assert message["value"] == event_to_json(event)
    assert message["client_id"] == "default"
    assert message["partition"] == zlib.crc32(b"cpu/serverA") % 3 + 1
    assert handler.destination == "kafka:default/alerts"


async def test_a_batch_goes_in_one_produce_request_on_one_producer(double: KafkaDouble) -> None:
    svc = cluster(double.addr, batch_size=3)
    handler = from_tick(
        {
            "cluster": "default",
            "kafkaTopic": "t",
            "template": "{{.Level}} {{.ID}}",
            "partitionHashAlgorithm": "murmur2",
        },
        ctx(svc),
    )
    assert handler.max_batch == 3
    events = [make_event(id=f"a{i}") for i in range(3)]
    assert (await handler.send(events)).delivered
    assert (await handler.send([make_event(id="a0")])).delivered
    await svc.close()
    # one request carries a batch per partition; the order holds within a partition
    assert sorted(m["value"] for m in double.messages[:3]) == [
        "CRITICAL a0",
        "CRITICAL a1",
        "CRITICAL a2",
    ]
    assert double.messages[3]["value"] == "CRITICAL a0"
    produce = [r for r in double.requests if r[0] == 0]
    assert len(produce) == 2  # three messages in one request, then one
    first = next(m for m in double.messages if m["key"] == "a0")
    assert first["partition"] == double.messages[3]["partition"]


async def test_disable_partition_by_id_uses_saramas_default_hash(double: KafkaDouble) -> None:
    svc = cluster(double.addr)
    handler = from_options({"topic": "t", "disablePartitionById": True}, ctx(svc))
    assert (await handler.send([make_event()])).delivered
    await svc.close()
    assert double.messages[0]["partition"] == choose("fnv-1a", b"cpu/serverA", 3) + 1  # type: ignore[operator]


async def test_refusal_by_the_broker_is_permanent() -> None:
    refusing = await KafkaDouble(produce_error=29).start()  # TopicAuthorizationFailed
    try:
        svc = cluster(refusing.addr, sasl_password=SECRET)
        result = await from_options({"topic": "t"}, ctx(svc)).send([make_event()])
        await svc.close()
    finally:
        await refusing.stop()
    assert result.outcome == "permanent", result
    assert 'kafka cluster "default" topic "t"' in result.reason
    assert SECRET not in result.reason


async def test_unreachable_cluster_is_retried() -> None:
    svc = cluster(f"127.0.0.1:{free_port()}", sasl_username="u", sasl_password=SECRET)
    result = await from_options({"topic": "t"}, ctx(svc)).send([make_event()])
    await svc.close()
    assert result.outcome == "retry"
    assert SECRET not in result.reason


async def test_template_that_fails_is_permanent(double: KafkaDouble) -> None:
    svc = cluster(double.addr)
    result = await from_options({"topic": "t", "template": "{{.Nope}}"}, ctx(svc)).send(
        [make_event()]
    )
    await svc.close()
    assert result.outcome == "permanent"
    assert "failed to execute alert template" in result.reason
    assert double.messages == []


def test_handler_options_are_checked() -> None:
    svc = cluster("127.0.0.1:1")
    with pytest.raises(HandlerConfigError, match="invalid kafka handler option"):
        from_options({"topic": "t", "partition-algorithm": "crc32"}, ctx(svc))
    with pytest.raises(HandlerConfigError, match="invalid partition algorithm"):
        from_options({"topic": "t", "partitionAlgorithm": "md5"}, ctx(svc))
    with pytest.raises(HandlerConfigError, match="failed to parse template"):
        from_options({"topic": "t", "template": "{{"}, ctx(svc))


def test_definition_refuses_unknown_cluster_naming_the_configured() -> None:
    svc = KafkaService([KafkaConfig(id="a"), KafkaConfig(id="b")])
    problem = check({"cluster": "c", "kafkaTopic": "t"}, svc, True)
    assert problem is not None
    assert problem.message == 'kafka cluster "c" is not configured; configured clusters: "a", "b"'
    assert (problem.prop, problem.value) == ("cluster", "c")
    assert check({"cluster": "a", "topic": "t"}, svc, False) is None
    assert check({"cluster": "a"}, svc, False) is not None  # no topic
    bad = check({"cluster": "a", "kafkaTopic": "t", "partitionHashAlgorithm": "md5"}, svc, True)
    assert bad is not None and bad.prop == "partitionHashAlgorithm"


# --- service test ---------------------------------------------------------------------------


async def test_service_test(double: KafkaDouble) -> None:
    svc = cluster(double.addr)
    assert svc.default_test_options() == {
        "cluster": "example",
        "topic": "test",
        "key": "key",
        "message": "test kafka message",
    }
    assert await svc.test({}) == (False, 'unknown cluster "example"')
    assert await svc.test({"cluster": "default"}) == (True, "")
    await svc.close()
    (message,) = double.messages
    assert (message["topic"], message["key"], message["value"]) == (
        "test",
        "key",
        "test kafka message",
    )


async def test_config_update_stops_a_changed_clusters_producer(double: KafkaDouble) -> None:
    svc = cluster(double.addr)
    handler = from_options({"topic": "t"}, ctx(svc))
    assert (await handler.send([make_event()])).delivered
    old = svc._clusters["default"]
    svc.update([KafkaConfig(enabled=True, id="default", brokers=[double.addr], batch_size=5)])
    assert svc._retired == [old]
    assert (await handler.send([make_event()])).delivered
    assert svc._retired == [] and old._producer is None
    await svc.close()
    assert len(double.messages) == 2


# --- SASL --------------------------------------------------------------------------------------


async def test_sasl_plain_credentials_reach_the_broker() -> None:
    server = await KafkaDouble(users={"alerts": SECRET}).start()
    try:
        good = cluster(server.addr, sasl_username="alerts", sasl_password=SECRET)
        assert (await from_options({"topic": "t"}, ctx(good)).send([make_event()])).delivered
        await good.close()
        bad = cluster(server.addr, sasl_username="alerts", sasl_password="wrong-" + SECRET)
        refused = await from_options({"topic": "t"}, ctx(bad)).send([make_event()])
        await bad.close()
    finally:
        await server.stop()
    assert set(server.authenticated) == {("PLAIN", "alerts")}  # each connection authenticates
    assert len(server.messages) == 1
    assert refused.outcome == "permanent", refused
    assert SECRET not in refused.reason


async def test_sasl_oauthbearer_static_token_and_client_credentials(
    aiohttp_server: Any,
) -> None:
    forms: list[dict[str, str]] = []

    async def token_endpoint(request: web.Request) -> web.Response:
        forms.append(dict(await request.post()))  # type: ignore[arg-type]
        return web.json_response({"access_token": "fetched-token", "expires_in": 3600})

    app = web.Application()
    app.router.add_post("/token", token_endpoint)
    tokens = await aiohttp_server(app)
    server = await KafkaDouble(tokens=("static-token", "fetched-token")).start()
    try:
        static = cluster(
            server.addr, sasl_mechanism="OAUTHBEARER", sasl_access_token="static-token"
        )
        assert (await from_options({"topic": "t"}, ctx(static)).send([make_event()])).delivered
        await static.close()
        fetched = cluster(
            server.addr,
            sasl_mechanism="OAUTHBEARER",
            sasl_oauth_client_id="leyden",
            sasl_oauth_client_secret=SECRET,
            sasl_oauth_token_url=str(tokens.make_url("/token")),
            sasl_oauth_scopes=["kafka"],
        )
        assert (await from_options({"topic": "t"}, ctx(fetched)).send([make_event()])).delivered
        await fetched.close()
    finally:
        await server.stop()
    assert set(server.authenticated) == {
        ("OAUTHBEARER", "static-token"),
        ("OAUTHBEARER", "fetched-token"),
    }
    assert forms == [
        {
            "grant_type": "client_credentials",
            "client_id": "leyden",
            "client_secret": SECRET,
            "scope": "kafka",
        }
    ]
