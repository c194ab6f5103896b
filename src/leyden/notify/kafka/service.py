"""The Kafka service and handler: one aiokafka producer per ``[[kafka]]`` cluster, kept open.

As Kapacitor's services/kafka: a message's key is the alert ID and its value the alert-data
JSON (Go's encoder: one document and a newline), or the handler's ``template`` rendered over
the alert data; it goes to the handler's topic on the named cluster, to the partition
:mod:`leyden.notify.kafka.partition` picks for the key.  The producer identifies itself with
the cluster's id, waits for the leader's acknowledgement (sarama's default), and uses the
cluster's TLS and SASL settings (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER with a static token or
OAuth2 client credentials).

Kapacitor hands messages to an asynchronous producer and only counts failures; Leyden makes one
attempt per :meth:`KafkaHandler.send` and waits for the broker's answer: up to ``batch-size``
queued alerts go in one send (one produce request), a connection or a broker that cannot take
them now is retried by the dispatcher, a refusal that cannot pass (authorisation, a record too
large, an invalid topic, failed authentication) is permanent.  The producer is started on the
first message and after a failure, and stopped by :meth:`KafkaService.close` or when the config
API changes its cluster.  SASL secrets are never in a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka import errors as kafka_errors
from aiokafka.abc import AbstractTokenProvider  # type: ignore[import-untyped]
from aiokafka.conn import create_conn  # type: ignore[import-untyped]

from leyden.go.template import Template, TemplateError, TemplateExecError
from leyden.model.alert import Event
from leyden.notify._http import DeliveryResult
from leyden.notify._service import ConfiguredService
from leyden.notify.base import (
    HandlerConfigError,
    HandlerContext,
    HandlerError,
    IntegrationError,
)
from leyden.notify.kafka.config import SECTION, KafkaConfig
from leyden.notify.kafka.partition import ALGORITHMS, choose
from leyden.notify.post import AlertData
from leyden.tls import TLSConfigError, build_ssl_context

__all__ = ["KafkaHandler", "KafkaService"]

log = logging.getLogger("leyden.notify.kafka")

#: errors no retry gets past
_PERMANENT = (
    kafka_errors.AuthenticationFailedError,
    kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.SaslAuthenticationFailed,
    kafka_errors.AuthenticationMethodNotSupported,
    kafka_errors.KafkaConfigurationError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.UnsupportedCodecError,
)


class _OAuthTokens(AbstractTokenProvider):
    """OAUTHBEARER tokens: the static ``sasl-access-token``, or OAuth2 client credentials
    fetched from the token URL (AzureAD's for ``azuread``) and reused until the expiry margin."""

    def __init__(self, config: KafkaConfig) -> None:
        self._config = config
        self._token = config.sasl_access_token
        self._expires = float("inf") if self._token else 0.0

    def _url(self) -> str:
        c = self._config
        if c.sasl_oauth_service.lower() == "azuread":
            return f"https://login.microsoftonline.com/{c.sasl_oauth_tenant_id}/oauth2/v2.0/token"
        return c.sasl_oauth_token_url

    async def token(self) -> str:
        if self._token and time.monotonic() < self._expires:
            return self._token
        c = self._config
        form = {
            "grant_type": "client_credentials",
            "client_id": c.sasl_oauth_client_id,
            "client_secret": c.sasl_oauth_client_secret,
            **c.sasl_oauth_parameters,
        }
        if c.sasl_oauth_scopes:
            form["scope"] = " ".join(c.sasl_oauth_scopes)
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    self._url(), data=form, timeout=aiohttp.ClientTimeout(total=30)
                ) as answer,
            ):
                status = answer.status
                body = await answer.json(content_type=None) if status // 100 == 2 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise kafka_errors.KafkaConnectionError(
                f"OAuth2 token endpoint: {type(exc).__name__}"
            ) from None
        if status in (400, 401, 403):  # the client's id or secret refused
            raise kafka_errors.AuthenticationFailedError(
                f"OAuth2 token endpoint answered HTTP {status}"
            )
        if status // 100 != 2 or not isinstance(body, dict) or not body.get("access_token"):
            raise kafka_errors.KafkaConnectionError(f"OAuth2 token endpoint answered HTTP {status}")
        self._token = str(body.get("access_token", ""))
        lifetime = float(body.get("expires_in", 3600))
        self._expires = time.monotonic() + lifetime - c.sasl_oauth_token_expiry_margin / 1e9
        return self._token

    def extensions(self) -> dict[str, str]:
        return dict(self._config.sasl_extensions)


def _connection_settings(config: KafkaConfig) -> dict[str, Any]:
    """What every connection to the cluster's brokers uses: identity, timeout, TLS, SASL."""
    context = None
    if config.use_ssl:
        context = build_ssl_context(
            config.ssl_ca, config.ssl_cert, config.ssl_key, config.insecure_skip_verify
        )
        if context is None:
            context = ssl.create_default_context()  # the system's roots, as Go's default
    mechanism = config.sasl_mechanism or ("PLAIN" if config.sasl_username else "")
    protocol = {
        (False, False): "PLAINTEXT",
        (True, False): "SSL",
        (False, True): "SASL_PLAINTEXT",
        (True, True): "SASL_SSL",
    }[(config.use_ssl, bool(mechanism))]
    return dict(
        client_id=config.id,
        request_timeout_ms=int(config.timeout_seconds() * 1000),
        security_protocol=protocol,
        ssl_context=context,
        sasl_mechanism=mechanism or "PLAIN",
        sasl_plain_username=config.sasl_username or None,
        sasl_plain_password=config.sasl_password or None,
        sasl_oauth_token_provider=_OAuthTokens(config) if mechanism == "OAUTHBEARER" else None,
    )


def _producer(config: KafkaConfig) -> AIOKafkaProducer:
    """A producer for one cluster (not started): the leader's acknowledgement, no lingering."""
    return AIOKafkaProducer(
        bootstrap_servers=list(config.brokers),
        acks=1,
        linger_ms=0,
        **_connection_settings(config),
    )


async def _refusal(config: KafkaConfig) -> BaseException | None:
    """Why the brokers refused a SASL login, if they did.

    aiokafka reports every failed bootstrap as "unable to bootstrap"; one connection of our own
    says whether the credentials were refused (permanent) rather than the broker unreachable.
    """
    settings = _connection_settings(config)
    if settings["security_protocol"] not in ("SASL_PLAINTEXT", "SASL_SSL"):
        return None
    for broker in config.brokers:
        host, _, port = broker.rpartition(":")
        try:
            conn = await create_conn(host, int(port), **settings)
        except _PERMANENT as exc:
            return exc
        except (OSError, kafka_errors.KafkaError, TimeoutError):
            continue
        conn.close()
    return None


class _Cluster:
    """One cluster's producer: started on demand, dropped after a failure."""

    def __init__(self, config: KafkaConfig) -> None:
        self.config = config
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = _producer(self.config)
            try:
                await producer.start()
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                if isinstance(exc, kafka_errors.KafkaConnectionError):
                    refused = await _refusal(self.config)
                    if refused is not None:
                        raise refused from None
                raise
            self._producer = producer
        return self._producer

    async def write(
        self, topic: str, messages: Sequence[tuple[bytes, bytes]], algorithm: str, by_id: bool
    ) -> list[int]:
        """Produce ``(key, value)`` messages in order, one request; their partitions."""
        async with self._lock:
            try:
                producer = await self._started()
                ids = sorted(await producer.partitions_for(topic))
                partitions = []
                futures = []
                for key, value in messages:
                    index = choose(algorithm if by_id else "fnv-1a", key, len(ids))
                    partition = ids[index] if index is not None else None
                    futures.append(
                        await producer.send(topic, value=value, key=key, partition=partition)
                    )
                for future in futures:
                    partitions.append((await future).partition)
                return partitions
            except BaseException:
                await self._drop()
                raise

    async def _drop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, _PERMANENT):
        return "permanent"
    if isinstance(exc, kafka_errors.BrokerResponseError) and not exc.retriable:
        return "permanent"
    return "retry"


class KafkaService(ConfiguredService[KafkaConfig]):
    """``[[kafka]]`` clusters by id and their producers."""

    kind = "kafka"
    section = SECTION
    element = "cluster"
    element_key = "id"

    def __init__(self, configs: Sequence[KafkaConfig]) -> None:
        self._clusters: dict[str, _Cluster] = {}
        self._retired: list[_Cluster] = []
        super().__init__(configs)

    def update(self, sections: list[Any]) -> None:
        """New clusters at once; a changed or removed cluster's producer is stopped."""
        super().update(sections)
        current = {c.id: c for c in self._configs}
        for name, cluster in list(self._clusters.items()):
            if current.get(name) != cluster.config:
                self._retired.append(self._clusters.pop(name))

    async def _close_retired(self) -> None:
        retired, self._retired = self._retired, []
        for cluster in retired:
            await cluster.close()

    async def write(
        self,
        cluster: str,
        topic: str,
        messages: Sequence[tuple[bytes, bytes]],
        *,
        algorithm: str = "",
        by_id: bool = True,
    ) -> tuple[DeliveryResult, list[int]]:
        """One attempt to produce ``messages`` (Kapacitor's Cluster.WriteMessage)."""
        await self._close_retired()
        if not topic:
            return DeliveryResult("permanent", None, "topic must not be empty"), []
        try:
            config = self.resolve(cluster)
        except IntegrationError as exc:
            return DeliveryResult("permanent", None, str(exc)), []
        conn = self._clusters.get(config.id)
        if conn is None:
            conn = self._clusters[config.id] = _Cluster(config)
        where = f'kafka cluster "{config.id}" topic "{topic}"'
        try:
            partitions = await asyncio.wait_for(
                conn.write(topic, messages, algorithm, by_id), config.timeout_seconds() * 3
            )
        except TLSConfigError as exc:
            return DeliveryResult("permanent", None, f"{where}: {exc}"), []
        except (kafka_errors.KafkaError, OSError, TimeoutError) as exc:
            text = str(exc) or type(exc).__name__
            reason = f"failed to write message to {where}: {type(exc).__name__}: {text}"
            outcome = _outcome(exc)
            return DeliveryResult(
                "permanent" if outcome == "permanent" else "retry", None, reason
            ), []
        return DeliveryResult("delivered"), partitions

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions."""
        return {
            "cluster": "example",
            "topic": "test",
            "key": "key",
            "message": "test kafka message",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        defaults = self.default_test_options()
        unknown = sorted(str(k) for k in options if k not in defaults)
        if unknown:
            return False, (
                f"unknown kafka test option(s): {', '.join(unknown)}; valid options: "
                + ", ".join(defaults)
            )
        merged = {**defaults, **options}
        bad = [k for k in defaults if not isinstance(merged[k], str)]
        if bad:
            return False, f"kafka test option {bad[0]!r} must be a string"
        config = self.configured(merged["cluster"])
        if config is None or not config.enabled:
            return False, f'unknown cluster "{merged["cluster"]}"'
        result, _ = await self.write(
            merged["cluster"],
            merged["topic"],
            [(merged["key"].encode(), merged["message"].encode())],
            by_id=False,
        )
        return (True, "") if result.delivered else (False, result.reason)

    async def close(self) -> None:
        await self._close_retired()
        clusters, self._clusters = list(self._clusters.values()), {}
        for cluster in clusters:
            await cluster.close()


class KafkaHandler:
    """``.kafka().cluster().kafkaTopic()`` / ``kind: kafka``: each alert one message."""

    kind = "kafka"
    paced = False
    rate_limits = ()

    def __init__(
        self,
        service: KafkaService,
        ctx: HandlerContext,
        *,
        cluster: str,
        topic: str,
        template: str = "",
        algorithm: str = "",
        by_id: bool = True,
    ) -> None:
        if algorithm not in ("", *ALGORITHMS):
            raise HandlerConfigError(f"invalid partition algorithm: {algorithm!r}")
        self._service = service
        self._ctx = ctx
        self.cluster = cluster
        self.topic = topic
        self.algorithm = algorithm
        self.by_id = by_id
        self._template: Template | None = None
        if template:
            try:
                self._template = Template.parse(template, name="kafka alert template")
            except TemplateError as exc:
                raise HandlerConfigError(f"failed to parse template: {exc}") from None
        config = service.configured(cluster)
        name = config.id if config is not None else cluster
        self.destination = f"kafka:{name}/{topic}"
        identity = "\x00".join((name, topic, template, algorithm, str(by_id)))
        self.coalesce_key = "kafka:" + hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.max_batch = config.batch_messages() if config is not None else 1
        #: the partitions of the last send's messages, in order (tests, logs)
        self.last_partitions: list[int] = []

    def body(self, event: Event) -> bytes:
        json_text = self._ctx.alert_json(event)
        if self._template is None:
            return json_text.encode()
        return self._template.execute(AlertData(event, json_text)).encode()

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        messages = []
        for event in events:
            try:
                messages.append((event.state.id.encode(), self.body(event)))
            except (TemplateExecError, TemplateError) as exc:
                return DeliveryResult("permanent", None, f"failed to execute alert template: {exc}")
        result, self.last_partitions = await self._service.write(
            self.cluster, self.topic, messages, algorithm=self.algorithm, by_id=self.by_id
        )
        return result

    async def handle(self, event: Event) -> None:
        result = await self.send([event])
        if not result.delivered:
            raise HandlerError(result.reason or result.describe())

    async def close(self) -> None:
        return None  # the service owns the producers
