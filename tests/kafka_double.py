"""A Kafka broker double: enough of the Kafka wire protocol for aiokafka's producer.

No Kafka broker can run on this machine, so handler tests talk to this one-node "cluster" on a
loopback port, as Kapacitor's own tests talk to its ``kafkatest`` server.  It answers
ApiVersions (v0–v2), SaslHandshake v1 and SaslAuthenticate (v0–v1: PLAIN users and OAUTHBEARER tokens it is given),
Metadata (v0–v1: one broker, every asked topic with ``partitions``
partitions numbered 1…n like kafkatest's, so Kapacitor's expected partition numbers hold) and
Produce (v3–v7, record batches of magic 2, acks 0 or 1), and records every message: topic,
partition, offset, key, value, timestamp, and the client id of its connection.  Frames are read
and written here; request and response bodies are decoded and encoded with aiokafka's protocol
structs, and record batches with its record reader.  ``produce_error`` makes every Produce
answer carry that Kafka error code (29: topic authorisation failed …) to test refusals.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from io import BytesIO
from typing import Any

from aiokafka.protocol.admin import (
    ApiVersionResponse_v0,
    ApiVersionResponse_v1,
    SaslAuthenticateRequest_v0,
    SaslAuthenticateResponse_v0,
    SaslAuthenticateResponse_v1,
    SaslHandShakeRequest_v1,
    SaslHandShakeResponse_v1,
)
from aiokafka.protocol.metadata import (
    MetadataRequest_v0,
    MetadataRequest_v1,
    MetadataResponse_v0,
    MetadataResponse_v1,
)
from aiokafka.protocol.produce import (
    ProduceRequest_v3,
    ProduceRequest_v4,
    ProduceRequest_v5,
    ProduceRequest_v6,
    ProduceRequest_v7,
    ProduceResponse_v3,
    ProduceResponse_v4,
    ProduceResponse_v5,
    ProduceResponse_v6,
    ProduceResponse_v7,
)
from aiokafka.record.default_records import DefaultRecordBatch

#: (api key, min, max): Produce, Metadata, SaslHandshake, ApiVersions, SaslAuthenticate
API_VERSIONS = [(0, 3, 7), (3, 0, 1), (17, 1, 1), (18, 0, 2), (36, 0, 1)]
SASL_AUTHENTICATION_FAILED = 58
_PRODUCE = {
    3: (ProduceRequest_v3, ProduceResponse_v3),
    4: (ProduceRequest_v4, ProduceResponse_v4),
    5: (ProduceRequest_v5, ProduceResponse_v5),
    6: (ProduceRequest_v6, ProduceResponse_v6),
    7: (ProduceRequest_v7, ProduceResponse_v7),
}
_METADATA = {
    0: (MetadataRequest_v0, MetadataResponse_v0),
    1: (MetadataRequest_v1, MetadataResponse_v1),
}


class KafkaDouble:
    """One node; ``addr`` is ``127.0.0.1:<port>``; ``messages`` what was produced to it."""

    def __init__(
        self,
        *,
        partitions: int = 3,
        node_id: int = 1,
        produce_error: int = 0,
        users: dict[str, str] | None = None,
        tokens: tuple[str, ...] = (),
    ) -> None:
        #: SASL: PLAIN accepts ``users`` (name → password), OAUTHBEARER accepts ``tokens``
        self.users = users or {}
        self.tokens = tokens
        #: (mechanism, user name or token) of each accepted authentication
        self.authenticated: list[tuple[str, str]] = []
        self.partitions = partitions
        self.node_id = node_id
        self.produce_error = produce_error
        self.messages: list[dict[str, Any]] = []
        self.requests: list[tuple[int, int]] = []  # (api key, version), in arrival order
        self.errors: list[str] = []
        self._offsets: dict[tuple[str, int], int] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> KafkaDouble:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()  # the connection's read ends; no task is cancelled
            for task in list(self._connections):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        state = {"mechanism": ""}  # this connection's SASL mechanism
        try:
            while True:
                try:
                    (size,) = struct.unpack(">i", await reader.readexactly(4))
                    frame = await reader.readexactly(size)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                answer = self._answer(frame, state)
                if answer is not None:
                    writer.write(struct.pack(">i", len(answer)) + answer)
                    await writer.drain()
        except Exception as exc:  # recorded: a test sees what the double could not read
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self._connections.discard(task)
            self._writers.discard(writer)
            writer.close()

    def _answer(self, frame: bytes, state: dict[str, str]) -> bytes | None:
        api_key, version, correlation = struct.unpack(">hhi", frame[:8])
        (client_len,) = struct.unpack(">h", frame[8:10])
        client_id = frame[10 : 10 + client_len].decode() if client_len >= 0 else ""
        body = BytesIO(frame[10 + max(client_len, 0) :])
        self.requests.append((api_key, version))
        head = struct.pack(">i", correlation)
        if api_key == 18:
            cls = ApiVersionResponse_v0 if version == 0 else ApiVersionResponse_v1
            fields: tuple[Any, ...] = (0, API_VERSIONS) if version == 0 else (0, API_VERSIONS, 0)
            return head + cls(*fields).encode()
        if api_key == 17:
            state["mechanism"] = SaslHandShakeRequest_v1.decode(body).mechanism
            enabled = ["PLAIN", "OAUTHBEARER"]
            error = 0 if state["mechanism"] in enabled else 33  # UNSUPPORTED_SASL_MECHANISM
            return head + SaslHandShakeResponse_v1(error, enabled).encode()
        if api_key == 36:
            token = bytes(SaslAuthenticateRequest_v0.decode(body).sasl_auth_bytes)
            error, message = self._authenticate(state["mechanism"], token)
            if version == 0:
                return head + SaslAuthenticateResponse_v0(error, message, b"").encode()
            return head + SaslAuthenticateResponse_v1(error, message, b"", 0).encode()
        if api_key == 3 and version in _METADATA:
            request_cls, response_cls = _METADATA[version]
            topics = request_cls.decode(body).topics or []
            return head + self._metadata(response_cls, version, topics).encode()
        if api_key == 0 and version in _PRODUCE:
            request_cls, response_cls = _PRODUCE[version]
            request = request_cls.decode(body)
            answer = self._produce(request, response_cls, version, client_id)
            return None if request.required_acks == 0 else head + answer.encode()
        raise ValueError(f"unsupported request: api key {api_key} version {version}")

    def _authenticate(self, mechanism: str, token: bytes) -> tuple[int, str | None]:
        """PLAIN's ``authzid NUL user NUL password`` or OAUTHBEARER's ``auth=Bearer <token>``."""
        if mechanism == "PLAIN":
            _, user, password = token.decode().split("\x00")
            if self.users.get(user) == password:
                self.authenticated.append(("PLAIN", user))
                return 0, None
        elif mechanism == "OAUTHBEARER":
            fields = dict(f.split("=", 1) for f in token.decode().split("\x01") if "=" in f)
            bearer = fields.get("auth", "").removeprefix("Bearer ")
            if bearer in self.tokens:
                self.authenticated.append(("OAUTHBEARER", bearer))
                return 0, None
        return SASL_AUTHENTICATION_FAILED, f"invalid credentials for SASL {mechanism}"

    def _metadata(self, cls: Any, version: int, topics: list[str]) -> Any:
        ids = range(1, self.partitions + 1)
        node = [self.node_id]
        if version == 0:
            brokers = [(self.node_id, "127.0.0.1", self.port)]
            parts = [(0, p, self.node_id, node, node) for p in ids]
            return cls(brokers, [(0, t, parts) for t in topics])
        brokers = [(self.node_id, "127.0.0.1", self.port, None)]
        parts = [(0, p, self.node_id, node, node) for p in ids]
        return cls(brokers, self.node_id, [(0, t, False, parts) for t in topics])

    def _produce(self, request: Any, cls: Any, version: int, client_id: str) -> Any:
        topics = []
        for topic, partitions in request.topics:
            answers = []
            for partition, data in partitions:
                base = self._offsets.get((topic, partition), 0)
                count = 0
                if not self.produce_error:
                    batch = DefaultRecordBatch(bytes(data))
                    for record in batch:
                        self.messages.append(
                            {
                                "topic": topic,
                                "partition": partition,
                                "offset": base + count,
                                "key": None if record.key is None else bytes(record.key).decode(),
                                "value": None
                                if record.value is None
                                else bytes(record.value).decode(),
                                "timestamp_ms": record.timestamp,
                                "client_id": client_id,
                            }
                        )
                        count += 1
                    self._offsets[(topic, partition)] = base + count
                entry: tuple[Any, ...] = (partition, self.produce_error, base, -1)
                if version >= 5:
                    entry += (0,)
                answers.append(entry)
            topics.append((topic, answers))
        return cls(topics, 0)
