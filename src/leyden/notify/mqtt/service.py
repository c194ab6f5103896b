"""The MQTT service and handler: one client per ``[[mqtt]]`` broker, kept open between alerts.

As Kapacitor's services/mqtt: the handler renders its ``topic`` as a Go template over the
alert's template data (``test/{{.TaskName}}``), and publishes the alert's *message* as the
payload to that topic on the named broker (``broker-name``, else the default one), with the
handler's QoS and retained flag.  The client connects with a clean session, the client ID
``client-id`` or the broker's name, and the broker's username, password and TLS settings.

Leyden keeps one connection per broker (Kapacitor connects at start); it is opened on the first
publish and after a lost connection, and closed by :meth:`MQTTService.close` or when the config
API changes the broker.  Each :meth:`MQTTHandler.send` is one attempt: a connection that cannot
be made or is lost is retried by the dispatcher; a broker refusing the client's credentials or
identity, a topic that cannot be rendered or published to, are permanent.  The password is
never in a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from leyden.go.template import Template, TemplateError, TemplateExecError
from leyden.model.alert import Event
from leyden.notify._http import DeliveryResult, Outcome
from leyden.notify._service import ConfiguredService
from leyden.notify.base import HandlerConfigError, IntegrationError, SingleSend
from leyden.notify.mqtt.config import SECTION, MQTTConfig, broker_address
from leyden.tls import TLSConfigError, build_ssl_context

__all__ = ["QOS_NAMES", "MQTTHandler", "MQTTService", "parse_qos"]

#: Kapacitor's QoS names (its handler files spell exactly-once "exactly-one"; both are taken)
QOS_NAMES = {"at-most-once": 0, "at-least-once": 1, "exactly-once": 2, "exactly-one": 2}
_QOS_TEXT = ("at-most-once", "at-least-once", "exactly-once")
TEST_MESSAGE = "test MQTT message"
CONNECT_TIMEOUT = 30.0
#: CONNACK codes that no retry fixes (3.1.1: bad protocol, identifier, credentials, not
#: authorised; 5: their reason codes): a connection refused with one is permanent.  Errors while
#: publishing (paho's codes, where 4 means "no connection") are retried.
_REFUSALS = frozenset({1, 2, 4, 5, 128, 129, 130, 132, 133, 134, 135, 138, 140, 144, 149, 153})

log = logging.getLogger("leyden.notify.mqtt")


def parse_qos(value: Any, where: str) -> int:
    """A QoS from a handler file (``"at-least-once"``) or a TICKscript (``1``)."""
    if isinstance(value, str) and value in QOS_NAMES:
        return QOS_NAMES[value]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2:
        return value
    raise HandlerConfigError(
        f"{where} qos {value!r} is invalid: must be one of at-most-once, at-least-once, "
        "exactly-once (or 0, 1, 2)"
    )


def topic_problem(topic: str) -> str:
    """Why MQTT forbids publishing to ``topic`` ("" when it may)."""
    if not topic:
        return "missing MQTT topic"
    if "+" in topic or "#" in topic:
        return f"MQTT topic {topic!r} has a wildcard (+ or #); a message is published to one topic"
    if "\x00" in topic or len(topic.encode()) > 65535:
        return f"MQTT topic {topic[:60]!r} is not a valid topic name"
    return ""


class _Connection:
    """One broker's client: connected on demand, reconnected after a failure."""

    def __init__(self, config: MQTTConfig) -> None:
        self.config = config
        self._client: aiomqtt.Client | None = None
        self._lock = asyncio.Lock()

    def _new_client(self) -> aiomqtt.Client:
        c = self.config
        transport, host, port, tls, path = broker_address(c.url)
        context = build_ssl_context(c.ssl_ca, c.ssl_cert, c.ssl_key, c.insecure_skip_verify)
        if tls and context is None:
            context = ssl.create_default_context()  # the system's roots, as Go's default
        return aiomqtt.Client(
            host,
            port,
            username=c.username or None,
            password=c.password or None,
            identifier=c.identifier(),
            clean_session=True,
            transport=transport,  # type: ignore[arg-type]
            websocket_path=path or None,
            tls_context=context,
            tls_insecure=c.insecure_skip_verify if context is not None else None,
            timeout=CONNECT_TIMEOUT,
            logger=log,
        )

    async def publish(self, topic: str, payload: bytes, qos: int, retained: bool) -> None:
        async with self._lock:
            if self._client is None:
                client = self._new_client()
                await client.__aenter__()
                self._client = client
            try:
                await self._client.publish(
                    topic, payload, qos=qos, retain=retained, timeout=CONNECT_TIMEOUT
                )
            except BaseException:
                await self._drop()
                raise

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


class MQTTService(ConfiguredService[MQTTConfig]):
    """``[[mqtt]]`` brokers by name and their open connections."""

    kind = "mqtt"
    section = SECTION
    element = "broker"
    element_key = "name"

    def __init__(self, configs: Sequence[MQTTConfig]) -> None:
        self._connections: dict[str, _Connection] = {}
        self._retired: list[_Connection] = []
        self._templates: dict[str, Template] = {}
        super().__init__(configs)

    def update(self, sections: list[Any]) -> None:
        """New brokers at once; a changed or removed broker's connection is closed."""
        super().update(sections)
        current = {c.name: c for c in self._configs}
        for name, conn in list(self._connections.items()):
            if current.get(name) != conn.config:
                self._retired.append(self._connections.pop(name))

    def _connection(self, config: MQTTConfig) -> _Connection:
        conn = self._connections.get(config.name)
        if conn is None:
            conn = self._connections[config.name] = _Connection(config)
        return conn

    async def _close_retired(self) -> None:
        retired, self._retired = self._retired, []
        for conn in retired:
            await conn.close()

    def template(self, text: str) -> Template:
        template = self._templates.get(text)
        if template is None:
            try:
                template = Template.parse(text, name="topic")
            except TemplateError as exc:
                raise HandlerConfigError(f"mqtt handler: invalid topic template: {exc}") from None
            self._templates[text] = template
        return template

    def destination(self, broker: str) -> str:
        config = self.configured(broker)
        return f"mqtt:{config.name if config is not None else broker}"

    async def publish(
        self, broker: str, topic: str, qos: int, retained: bool, message: str
    ) -> DeliveryResult:
        """One attempt to publish ``message`` (Kapacitor's Service.Alert)."""
        await self._close_retired()
        problem = topic_problem(topic)
        if problem:
            return DeliveryResult("permanent", None, problem)
        try:
            config = self.resolve(broker)
        except IntegrationError as exc:
            return DeliveryResult("permanent", None, str(exc))
        where = f'MQTT broker "{config.name}"'
        try:
            await self._connection(config).publish(topic, message.encode(), qos, retained)
        except TLSConfigError as exc:
            return DeliveryResult("permanent", None, f"{where}: {exc}")
        except MqttConnectError as exc:
            code = exc.rc if isinstance(exc.rc, int) else getattr(exc.rc, "value", None)
            outcome: Outcome = "permanent" if code in _REFUSALS else "retry"
            return DeliveryResult(outcome, None, f"{where} refused the connection: {exc}")
        except aiomqtt.MqttError as exc:
            return DeliveryResult("retry", None, f"failed to publish to {where}: {exc}")
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "timed out"
            return DeliveryResult("retry", None, f"failed to connect to {where}: {reason}")
        return DeliveryResult("delivered")

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions: the default broker, an empty topic, its test message."""
        default = self.default()
        return {
            "broker-name": default.name if default is not None else "",
            "topic": "",
            "message": TEST_MESSAGE,
            "qos": _QOS_TEXT[0],
            "retained": False,
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        merged = {**self.default_test_options(), **options}
        unknown = sorted(str(k) for k in options if k not in self.default_test_options())
        if unknown:
            return False, (
                f"unknown mqtt test option(s): {', '.join(unknown)}; valid options: "
                + ", ".join(self.default_test_options())
            )
        try:
            qos = parse_qos(merged["qos"], "mqtt test option")
        except HandlerConfigError as exc:
            return False, str(exc)
        for key in ("broker-name", "topic", "message"):
            if not isinstance(merged[key], str):
                return False, f"mqtt test option {key!r} must be a string"
        if not isinstance(merged["retained"], bool):
            return False, "mqtt test option 'retained' must be true or false"
        broker = merged["broker-name"]
        config = self.configured(broker)
        if not merged["topic"]:
            return False, "missing MQTT topic"
        if config is None or not config.enabled:
            return False, f'unknown MQTT broker "{broker}"'
        result = await self.publish(
            broker, merged["topic"], qos, merged["retained"], merged["message"]
        )
        return (True, "") if result.delivered else (False, result.reason)

    async def close(self) -> None:
        await self._close_retired()
        connections, self._connections = list(self._connections.values()), {}
        for conn in connections:
            await conn.close()


class MQTTHandler(SingleSend):
    """``.mqtt('topic')`` / ``kind: mqtt``: the alert message published to the topic."""

    kind = "mqtt"

    def __init__(
        self, service: MQTTService, *, broker: str, topic: str, qos: int, retained: bool
    ) -> None:
        self._service = service
        self.broker = broker
        self.topic = topic
        self.qos = qos
        self.retained = retained
        self._template = service.template(topic)
        self._static = topic if "{{" not in topic else None
        self.destination = service.destination(broker)

    def _topic(self, event: Event) -> str:
        if self._static is not None:
            return self._static
        return self._template.execute(event.template_data())

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        try:
            topic = self._topic(event)
        except (TemplateExecError, TemplateError) as exc:
            return DeliveryResult(
                "permanent", None, f"failed to create MQTT topic from template: {exc}"
            )
        return await self._service.publish(
            self.broker, topic, self.qos, self.retained, event.state.message
        )

    async def close(self) -> None:
        return None  # the service owns the connections
