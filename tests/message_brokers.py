"""Real message brokers for the MQTT and SNMP trap tests, and a Kafka double, on loopback.

* :class:`Mosquitto` runs Debian's ``mosquitto`` on a free port with a temporary config and
  records, through a subscriber of its own (MQTT 5, retain-as-published), every message
  published to it: topic, payload, QoS and retained flag.
* :class:`SnmpTrapd` runs Debian's ``snmptrapd`` in the foreground on a free UDP port
  (``disableAuthorization yes``, numeric OIDs, strings in hex) and parses each trap it prints
  into its PDU type, community and varbinds (OID, type and value as Kapacitor's snmptraptest
  records them).
* :class:`KafkaDouble` (in :mod:`kafka_double`) speaks enough of the Kafka protocol for
  aiokafka's producer; no Kafka broker runs here.

Each skips the test with a message when its program is missing.  ``flush()`` waits until
everything sent before it has been recorded, by a marker message of its own, so a test never
sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.subscribeoptions import SubscribeOptions

MOSQUITTO = "/usr/sbin/mosquitto"
SNMPTRAPD = "/usr/sbin/snmptrapd"
_WAIT = 30.0  # generous bounds for a loaded machine; never asserted on
_MARKER_TOPIC = "leyden-test/marker"
_MARKER_OID = "1.3.6.1.4.1.99999.0"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _program(path: str) -> str:
    found = path if Path(path).exists() else shutil.which(Path(path).name)
    if not found:
        pytest.skip(
            f"{Path(path).name} is not installed ({path}); apt-get install {Path(path).name}"
        )
    return found


async def _stop(proc: asyncio.subprocess.Process | None) -> None:
    if proc is None or proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), _WAIT)
    except TimeoutError:
        proc.kill()
        await proc.wait()


class Mosquitto:
    """A real MQTT broker; ``url`` is ``tcp://127.0.0.1:<port>``; ``messages`` what it got."""

    def __init__(self, *, password_file: str = "", tls: tuple[str, str] | None = None) -> None:
        self._password_file = password_file
        #: (certificate chain, key) files: a second, TLS listener on ``tls_port``
        self._tls = tls
        self.tls_port = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="leyden-mosquitto-")
        self._subscriber: aiomqtt.Client | None = None
        self._listener: asyncio.Task[None] | None = None
        self._marker = asyncio.Event()
        self.port = 0
        self.messages: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    async def start(self) -> Mosquitto:
        program = _program(MOSQUITTO)
        self.port = free_port()
        conf = Path(self._dir.name) / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr"]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to "mosquitto", who cannot read tmp files
        if self._tls is not None:
            self.tls_port = free_port()
            cert, key = self._tls
            lines += [f"listener {self.tls_port} 127.0.0.1", f"certfile {cert}", f"keyfile {key}"]
        if self._password_file:
            lines += ["allow_anonymous false", f"password_file {self._password_file}"]
        else:
            lines.append("allow_anonymous true")
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._log = Path(self._dir.name) / "mosquitto.log"
        with self._log.open("wb") as log:
            self._proc = await asyncio.create_subprocess_exec(
                program, "-c", str(conf), stdout=log, stderr=log
            )
        await self._wait_listening()
        return self

    async def _wait_listening(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _WAIT
        while True:
            try:
                _r, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                break
            except OSError:
                if loop.time() > deadline or (self._proc and self._proc.returncode is not None):
                    log = self._log.read_text("utf-8", "replace")
                    raise RuntimeError(f"mosquitto did not start listening: {log}") from None
                await asyncio.sleep(0.05)

    async def subscribe(self, username: str = "", password: str = "") -> None:
        """Record every message from now on (MQTT 5: the retained flag as published)."""
        client = aiomqtt.Client(
            "127.0.0.1",
            self.port,
            identifier="leyden-test-recorder",
            username=username or None,
            password=password or None,
            protocol=aiomqtt.ProtocolVersion.V5,
        )
        await client.__aenter__()
        await client.subscribe("#", options=SubscribeOptions(qos=2, retainAsPublished=True))
        self._subscriber = client
        self._listener = asyncio.create_task(self._listen(client))

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = str(message.topic)
            if topic == _MARKER_TOPIC:
                self._marker.set()
                continue
            payload = message.payload
            self.messages.append(
                {
                    "topic": topic,
                    "payload": payload.decode() if isinstance(payload, bytes) else str(payload),
                    "qos": message.qos,
                    "retained": bool(message.retain),
                }
            )

    async def flush(self, username: str = "", password: str = "") -> None:
        """Wait until what was published before has reached the recorder."""
        if self._subscriber is None:
            return
        self._marker.clear()
        async with aiomqtt.Client(
            "127.0.0.1", self.port, username=username or None, password=password or None
        ) as client:
            # QoS 2 like the messages it follows: a QoS 1 marker could overtake their handshakes
            await client.publish(_MARKER_TOPIC, b"", qos=2)
        await asyncio.wait_for(self._marker.wait(), _WAIT)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._listener
        if self._subscriber is not None:
            with contextlib.suppress(Exception):
                await self._subscriber.__aexit__(None, None, None)
            self._subscriber = None
        await _stop(self._proc)
        self._dir.cleanup()


#: snmptrapd's printed type → (snmpgo's type name, how the value is shown)
_SNMP_TYPES = {
    "Timeticks": "TimeTicks",
    "OID": "Oid",
    "Counter64": "Counter64",
    "Counter32": "Counter32",
    "INTEGER": "Integer",
    "Gauge32": "Gauge32",
    "STRING": "OctetString",
    "Hex-STRING": "OctetString",
    "IpAddress": "Ipaddress",
}


def parse_varbind(text: str) -> dict[str, str]:
    """``.1.1.2 = Hex-STRING: 6D 65`` → ``{"oid": "1.1.2", "type": "OctetString", "value": "me"}``."""
    oid, _, rest = text.partition(" = ")
    oid = oid.lstrip(".")
    if rest == "NULL":
        return {"oid": oid, "type": "Null", "value": ""}
    if rest == '""':
        return {"oid": oid, "type": "OctetString", "value": ""}
    kind, _, value = rest.partition(": ")
    if kind == "Hex-STRING":
        value = bytes.fromhex(value.replace(" ", "")).decode("utf-8", "replace")
    elif kind == "STRING":
        value = value[1:-1] if value.startswith('"') else value
    elif kind == "Timeticks":
        value = value.split(")")[0].lstrip("(")
    elif kind == "OID":
        value = value.lstrip(".")
    return {"oid": oid, "type": _SNMP_TYPES.get(kind, kind), "value": value}


class SnmpTrapd:
    """A real SNMP trap receiver; ``addr`` is ``127.0.0.1:<port>``; ``traps`` what it got."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="leyden-snmptrapd-")
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._marker = asyncio.Event()
        self.port = 0
        self.traps: list[dict[str, Any]] = []

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> SnmpTrapd:
        program = _program(SNMPTRAPD)
        self.port = free_port(socket.SOCK_DGRAM)
        base = Path(self._dir.name)
        (base / "conf").mkdir()
        (base / "persist").mkdir()
        conf = base / "conf" / "snmptrapd.conf"
        conf.write_text("disableAuthorization yes\n", encoding="utf-8")
        env = {
            "MIBS": "",
            "MIBDIRS": str(base / "conf"),
            "SNMPCONFPATH": str(base / "conf"),
            "SNMP_PERSISTENT_DIR": str(base / "persist"),
            "PATH": "/usr/sbin:/usr/bin:/bin",
        }
        self._proc = await asyncio.create_subprocess_exec(
            program,
            "-f",
            "-Lo",
            "-C",
            "-c",
            str(conf),
            "-n",
            "-On",
            "-Ox",
            "-F",
            "TRAP|%P|%V~%v|END\n",
            f"udp:127.0.0.1:{self.port}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._ready.wait(), _WAIT)
        return self

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        pending = ""  # a trap's text until its "|END" (long hex strings wrap over lines)
        async for raw in self._proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("NET-SNMP version"):
                self._ready.set()
            if line.startswith("TRAP|"):
                pending = line
            elif pending:
                pending += " " + line.strip()
            if pending.endswith("|END"):
                self._record(pending[: -len("|END")])
                pending = ""

    def _record(self, text: str) -> None:
        _, pdu, binds = text.split("|", 2)
        varbinds = [parse_varbind(b.strip()) for b in binds.split("~") if b.strip()]
        if any(v["value"] == _MARKER_OID for v in varbinds):
            self._marker.set()
            return
        kind, _, community = pdu.partition(", community ")
        self.traps.append(
            {
                "pdu": kind.split(",")[0],
                "version": kind.split(", ")[1] if ", " in kind else "",
                "community": community,
                "varbinds": varbinds,
            }
        )

    async def flush(self) -> None:
        """Wait until the traps sent before have been printed (a marker trap of its own)."""
        from pyasn1.codec.ber import encoder
        from pysnmp.proto import api

        mod = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
        pdu = mod.SNMPv2TrapPDU()
        mod.apiTrapPDU.set_defaults(pdu)
        mod.apiTrapPDU.set_varbinds(
            pdu,
            [
                (mod.ObjectIdentifier("1.3.6.1.2.1.1.3.0"), mod.TimeTicks(0)),
                (mod.ObjectIdentifier("1.3.6.1.6.3.1.1.4.1.0"), mod.ObjectIdentifier(_MARKER_OID)),
            ],
        )
        msg = mod.Message()
        mod.apiMessage.set_defaults(msg)
        mod.apiMessage.set_community(msg, "marker")
        mod.apiMessage.set_pdu(msg, pdu)
        self._marker.clear()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(encoder.encode(msg), ("127.0.0.1", self.port))
        await asyncio.wait_for(self._marker.wait(), _WAIT)

    async def stop(self) -> None:
        await _stop(self._proc)
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, _WAIT)
        self._dir.cleanup()
