"""The servers a handler case sends to, each recording what it received as plain dicts.

Kapacitor's handler tests stand a ``<kind>test`` server up for each service (``slacktest``,
``smtptest``, ``mqtttest`` …) and compare what it recorded.  Here each kind of server is a
class with ``start()`` (returning the placeholders it fills in the case's ``kapacitor.conf``,
``task.tick`` and handler options), ``stop()`` and ``received()``; :data:`SERVERS` names them
for ``case.json``'s ``servers``.  A record is a dict whose keys the case's expectations name
(an HTTP request: ``method``, ``path``, ``headers``, and ``json``, ``form`` or ``text`` for
its body).
"""

from __future__ import annotations

import contextlib
import json
import warnings
from typing import Any, Protocol
from urllib.parse import parse_qs

from aiohttp import web


class CaptureServer(Protocol):
    async def start(self, options: dict[str, Any]) -> dict[str, str]:
        """Start on loopback; the placeholders (``HTTP_URL`` …) and their values."""
        ...

    async def stop(self) -> None: ...

    def received(self) -> list[dict[str, Any]]: ...


def _body(content_type: str, raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8", "replace")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(text, keep_blank_values=True)
        return {"form": {k: v[0] if len(v) == 1 else v for k, v in form.items()}, "text": text}
    try:
        return {"json": json.loads(text), "text": text}
    except ValueError:
        return {"text": text}


class HTTPServer:
    """``{{HTTP_URL}}``: records every request; answers ``response`` (status, body, headers),
    by default 200 with ``{}`` — or the n-th of ``responses`` for the n-th request."""

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self._options: dict[str, Any] = {}

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        record: dict[str, Any] = {
            "method": request.method,
            "path": request.path_qs,
            "headers": dict(request.headers),
        }
        record.update(_body(request.headers.get("Content-Type", ""), raw))
        self._records.append(record)
        responses = self._options.get("responses")
        answer = (
            responses[min(len(self._records), len(responses)) - 1]
            if responses
            else self._options.get("response", {})
        )
        body = answer.get("body", {})
        return web.Response(
            status=int(answer.get("status", 200)),
            text=body if isinstance(body, str) else json.dumps(body),
            headers=answer.get("headers", {"Content-Type": "application/json"}),
        )

    async def start(self, options: dict[str, Any]) -> dict[str, str]:
        self._options = options
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return {"HTTP_URL": f"http://127.0.0.1:{port}"}

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def received(self) -> list[dict[str, Any]]:
        return list(self._records)


#: ``case.json``'s ``servers`` keys → the server class
SERVERS: dict[str, type[CaptureServer]] = {"http": HTTPServer}


class SMTPServer:
    """``{{SMTP_HOST}}``/``{{SMTP_PORT}}``: a real SMTP server (aiosmtpd) on loopback, as
    Kapacitor's ``smtptest``.  Each mail is a record: ``from`` and ``to`` (the envelope),
    ``headers`` (each header's decoded value; a repeated one as a list), ``subject``, and
    ``body`` as Go's ``mail.ReadMessage`` leaves it (still quoted-printable, lines ending in
    ``\\n``).  ``options``: ``auth`` ``{"username", "password"}`` makes AUTH required (PLAIN
    and LOGIN offered on the plain connection); ``reply`` ``{"code", "text"}`` answers every
    DATA with it (a 4xx or 5xx) instead of taking the mail; ``tls_context`` (an
    ``ssl.SSLContext``, from unit tests) offers STARTTLS with it, and ``tls`` in a record says
    whether the mail came over it."""

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []
        self._server: Any = None
        #: connections accepted, and how many said QUIT
        self.connections = 0
        self.logins: list[str] = []
        self._sessions: list[Any] = []

    async def start(self, options: dict[str, Any]) -> dict[str, str]:
        import asyncio

        from aiosmtpd.smtp import SMTP, AuthResult

        owner = self
        reply = options.get("reply")
        auth = options.get("auth")

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if reply:
                    return f"{reply['code']} {reply.get('text', 'refused')}"
                record = _mail_record(envelope)
                record["tls"] = session.ssl is not None
                owner._records.append(record)
                return "250 OK"

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            good = (
                auth is not None
                and data.login.decode() == auth["username"]
                and data.password.decode() == auth["password"]
            )
            if good:
                owner.logins.append(data.login.decode())
            return AuthResult(success=good, handled=False)

        def factory() -> SMTP:
            owner.connections += 1
            with warnings.catch_warnings():  # AUTH without TLS: on loopback, on purpose
                warnings.simplefilter("ignore")
                session = SMTP(
                    Handler(),
                    hostname="smtptest",
                    authenticator=authenticator if auth else None,
                    auth_required=bool(auth),
                    auth_require_tls=False,
                    tls_context=options.get("tls_context"),
                )
            owner._sessions.append(session)
            return session

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(factory, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}

    def drop_connections(self) -> None:
        """Close every open connection, as a server does with idle clients."""
        for session in self._sessions:
            if session.transport is not None:
                session.transport.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def received(self) -> list[dict[str, Any]]:
        return list(self._records)


def _mail_record(envelope: Any) -> dict[str, Any]:
    from email.header import decode_header, make_header
    from email.parser import BytesHeaderParser

    raw: bytes = envelope.original_content or envelope.content
    text = raw.replace(b"\r\n", b"\n")
    head, _, body = text.partition(b"\n\n")
    parsed = BytesHeaderParser().parsebytes(head + b"\n\n")
    headers: dict[str, Any] = {}
    for name in dict.fromkeys(parsed.keys()):
        values = [str(make_header(decode_header(v))) for v in parsed.get_all(name, [])]
        headers[name] = values[0] if len(values) == 1 else values
    if body and not body.endswith(b"\n"):
        body += b"\n"  # Go's DotReader ends the last line
    return {
        "from": envelope.mail_from,
        "to": list(envelope.rcpt_tos),
        "headers": headers,
        "subject": headers.get("Subject"),
        "body": body.decode("utf-8", "replace"),
    }


class SensuServer:
    """``{{SENSU_ADDR}}``: the Sensu client socket (TCP) as Kapacitor's ``sensutest``: one JSON
    check result per connection, recorded whole (``json``, keys as sent); answers ``ok`` as the
    real client socket does (``options``: ``answer`` another text)."""

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []
        self._server: Any = None

    async def start(self, options: dict[str, Any]) -> dict[str, str]:
        import asyncio

        answer = str(options.get("answer", "ok")).encode()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                line = await reader.readline()
                text = line.decode("utf-8", "replace")
                record: dict[str, Any] = {"text": text}
                with contextlib.suppress(ValueError):
                    record["json"] = json.loads(text)
                self._records.append(record)
                writer.write(answer)
                await writer.drain()
            finally:
                writer.close()

        self._server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return {"SENSU_ADDR": f"127.0.0.1:{port}"}

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def received(self) -> list[dict[str, Any]]:
        return list(self._records)


SERVERS.update({"smtp": SMTPServer, "sensu": SensuServer})
# --- message brokers (mqtt, snmp, kafka): real mosquitto and snmptrapd, a Kafka double -----


class MQTTServer:
    """``{{MQTT_URL}}``: a real mosquitto; records ``topic``, ``payload``, ``qos``, ``retained``
    of every message published to it (Kapacitor's mqtttest records the same of each Publish)."""

    def __init__(self) -> None:
        from message_brokers import Mosquitto

        self._broker = Mosquitto()

    async def start(self, options: dict[str, Any]) -> dict[str, str]:
        await self._broker.start()
        await self._broker.subscribe()
        return {"MQTT_URL": self._broker.url}

    async def stop(self) -> None:
        try:
            await self._broker.flush()
        finally:
            await self._broker.stop()

    def received(self) -> list[dict[str, Any]]:
        return list(self._broker.messages)


SERVERS["mqtt"] = MQTTServer


class SNMPServer:
    """``{{SNMP_ADDR}}``: a real snmptrapd; records each trap's ``pdu`` (``TRAP2``), ``version``,
    ``community`` and ``varbinds`` (``oid``, ``type``, ``value`` as snmptraptest names them)."""

    def __init__(self) -> None:
        from message_brokers import SnmpTrapd

        self._receiver = SnmpTrapd()

    async def start(self, options: dict[str, Any]) -> dict[str, str]:
        await self._receiver.start()
        return {"SNMP_ADDR": self._receiver.addr}

    async def stop(self) -> None:
        try:
            await self._receiver.flush()
        finally:
            await self._receiver.stop()

    def received(self) -> list[dict[str, Any]]:
        return list(self._receiver.traps)


SERVERS["snmp"] = SNMPServer


class KafkaServer:
    """``{{KAFKA_ADDR}}``: the Kafka double (no Kafka broker runs here; see kafka_double.py);
    records ``topic``, ``partition``, ``offset``, ``key``, ``message`` and ``client_id`` of each
    produced message, as Kapacitor's kafkatest records them (its ``Time`` is not compared)."""

    def __init__(self) -> None:
        from kafka_double import KafkaDouble

        self._double = KafkaDouble()

    async def start(self, options: dict[str, Any]) -> dict[str, str]:
        await self._double.start()
        return {"KAFKA_ADDR": self._double.addr}

    async def stop(self) -> None:
        await self._double.stop()
        assert not self._double.errors, self._double.errors

    def received(self) -> list[dict[str, Any]]:
        return [
            {
                "topic": m["topic"],
                "partition": m["partition"],
                "offset": m["offset"],
                "key": m["key"],
                "message": m["value"],
                "client_id": m["client_id"],
            }
            for m in self._double.messages
        ]


SERVERS["kafka"] = KafkaServer
