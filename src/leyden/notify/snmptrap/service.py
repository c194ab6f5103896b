"""The SNMP trap service and handler: SNMPv2c traps over one kept UDP socket.

As Kapacitor's services/snmptrap: each alert sends one SNMPv2-Trap PDU with the community of
``[snmptrap]``, whose varbinds are ``sysUpTime.0 = TimeTicks 1000`` (Kapacitor's fixed value),
``snmpTrapOID.0 = <trap-oid>``, then one varbind per ``data`` entry, its value a Go template
over the alert's template data, typed by Kapacitor's letters: ``c`` Counter64, ``i`` Integer
(Go's int32 conversion), ``n`` Null, ``s`` OctetString, ``t`` TimeTicks (uint32).  ``a``,
``d``, ``o``, ``u``, ``x`` are refused as Kapacitor refuses them (its texts), when the handler is
defined as well as when it sends.

Traps are not acknowledged, so a send is delivered once the datagram is handed to the network
(``retries`` has no effect on a trap, as with Kapacitor's client); a refused port reported by
the network, or a host that does not resolve, is retried by the dispatcher; a value that is not
a number for its type, or a template that fails, is permanent.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyasn1.codec.ber import encoder  # type: ignore[import-untyped]
from pysnmp.proto import api  # type: ignore[import-untyped]

from leyden.go.template import Template, TemplateError, TemplateExecError
from leyden.model.alert import Event
from leyden.notify._http import DeliveryResult
from leyden.notify._service import ConfiguredService
from leyden.notify.base import HandlerConfigError, IntegrationError, SingleSend
from leyden.notify.snmptrap.config import SECTION, SNMPTrapConfig, split_addr

__all__ = ["SNMPData", "SNMPTrapHandler", "SNMPTrapService", "data_problem"]

_V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
#: Kapacitor's refusals of the types its client cannot send
_UNSUPPORTED = {
    "a": "Snmptrap Datatype 'IP address' not supported",
    "d": "Snmptrap Datatype 'Decimal string' not supported",
    "o": "Snmptrap Datatype 'Object ID' not supported",
    "u": "Snmptrap Datatype 'Unsigned integer' not supported",
    "x": "Snmptrap Datatype 'Hexadecimal string' not supported",
}
TYPES = ("c", "i", "n", "s", "t")
_OID = re.compile(r"^\.?[0-9]+(\.[0-9]+)+$")
_GO_INT = re.compile(r"^[+-]?[0-9]+$")


class TrapError(Exception):
    """A trap that cannot be built (Kapacitor's message)."""


@dataclass(frozen=True, slots=True)
class SNMPData:
    """One ``.data(oid, type, value)`` / ``data-list`` entry."""

    oid: str
    type: str
    value: str


def oid_problem(oid: str, what: str) -> str:
    return (
        "" if _OID.match(oid) else f"invalid {what} Oid {oid!r}: must be numbers separated by dots"
    )


def data_problem(data: SNMPData) -> str:
    """Why an entry can never be sent (Kapacitor's pipeline check, and its service's texts)."""
    if data.type in _UNSUPPORTED:
        return _UNSUPPORTED[data.type]
    if data.type not in TYPES:
        return (
            f"unsupported data type {data.type!r} for data entry {data.oid!r}: must be one of "
            "c (Counter64), i (Integer), n (Null), s (String), t (TimeTicks)"
        )
    return oid_problem(data.oid, "data")


def _go_parse_int(value: str) -> int:
    """Go's ``strconv.ParseInt(value, 10, 64)`` with its error text."""
    if not _GO_INT.match(value):
        raise TrapError(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise TrapError(f'strconv.ParseInt: parsing "{value}": value out of range')
    return number


def _wrap(number: int, bits: int, signed: bool) -> int:
    number &= (1 << bits) - 1
    return number - (1 << bits) if signed and number >= 1 << (bits - 1) else number


def varbind(data: SNMPData) -> tuple[Any, Any]:
    """The varbind of one rendered entry; TrapError as Kapacitor words it."""
    problem = data_problem(data)
    if problem:
        raise TrapError(problem)
    oid = _V2C.ObjectIdentifier(data.oid.lstrip("."))
    if data.type == "c":
        return oid, _V2C.Counter64(_wrap(_go_parse_int(data.value), 64, False))
    if data.type == "i":
        return oid, _V2C.Integer(_wrap(_go_parse_int(data.value), 32, True))
    if data.type == "t":
        return oid, _V2C.TimeTicks(_wrap(_go_parse_int(data.value), 32, False))
    if data.type == "n":
        return oid, _V2C.Null("")
    return oid, _V2C.OctetString(data.value.encode())


def encode_trap(community: str, trap_oid: str, data: Sequence[SNMPData]) -> bytes:
    """The SNMPv2c message Kapacitor's client sends for one trap."""
    problem = oid_problem(trap_oid, "trap")
    if problem:
        raise TrapError(problem)
    binds = [
        (_V2C.ObjectIdentifier(SYS_UPTIME), _V2C.TimeTicks(1000)),
        (_V2C.ObjectIdentifier(SNMP_TRAP_OID), _V2C.ObjectIdentifier(trap_oid.lstrip("."))),
        *(varbind(d) for d in data),
    ]
    pdu = _V2C.SNMPv2TrapPDU()
    _V2C.apiTrapPDU.set_defaults(pdu)
    _V2C.apiTrapPDU.set_varbinds(pdu, binds)
    message = _V2C.Message()
    _V2C.apiMessage.set_defaults(message)
    _V2C.apiMessage.set_community(message, community)
    _V2C.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


class _Socket:
    """A UDP socket connected to ``[snmptrap]``'s addr, reopened after a reported error."""

    def __init__(self, addr: str) -> None:
        self.addr = addr
        self._sock: socket.socket | None = None

    async def send(self, payload: bytes) -> None:
        if self._sock is None:
            host, port = split_addr(self.addr)
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
            family, kind, proto, _, address = infos[0]
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            try:
                sock.connect(address)
            except OSError:
                sock.close()
                raise
            self._sock = sock
        try:
            self._sock.send(payload)
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


class SNMPTrapService(ConfiguredService[SNMPTrapConfig]):
    """``[snmptrap]`` and its socket."""

    kind = "snmptrap"
    section = SECTION

    def __init__(self, configs: Sequence[SNMPTrapConfig]) -> None:
        self._socket: _Socket | None = None
        self._templates: dict[str, Template] = {}
        super().__init__(configs)

    def update(self, sections: list[Any]) -> None:
        """A new ``[snmptrap]`` at once; a changed addr gets a new socket."""
        super().update(sections)
        config = self.default()
        if self._socket is not None and (config is None or config.addr != self._socket.addr):
            self._socket.close()
            self._socket = None

    def template(self, text: str) -> Template:
        template = self._templates.get(text)
        if template is None:
            try:
                template = Template.parse(text, name="data")
            except TemplateError as exc:
                raise HandlerConfigError(
                    f"snmptrap handler: invalid data template: {exc}"
                ) from None
            self._templates[text] = template
        return template

    async def trap(self, trap_oid: str, data: Sequence[SNMPData]) -> DeliveryResult:
        """One trap (Kapacitor's Service.Trap), one attempt."""
        try:
            config = self.resolve()
        except IntegrationError as exc:
            return DeliveryResult("permanent", None, str(exc))
        try:
            payload = encode_trap(config.community, trap_oid, data)
        except TrapError as exc:
            return DeliveryResult("permanent", None, str(exc))
        if self._socket is None or self._socket.addr != config.addr:
            if self._socket is not None:
                self._socket.close()
            self._socket = _Socket(config.addr)
        try:
            await self._socket.send(payload)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return DeliveryResult(
                "retry", None, f"failed to send SNMP trap to {config.addr}: {reason}"
            )
        return DeliveryResult("delivered")

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions."""
        return {
            "trap-oid": "1.1.1.1",
            "data-list": [{"oid": "1.1.1.1.2", "type": "s", "value": "test snmptrap message"}],
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        defaults = self.default_test_options()
        unknown = sorted(str(k) for k in options if k not in defaults)
        if unknown:
            return False, (
                f"unknown snmptrap test option(s): {', '.join(unknown)}; valid options: "
                + ", ".join(defaults)
            )
        config = self.default()
        if config is None or not config.enabled:
            return False, "service is not enabled"
        merged = {**defaults, **options}
        try:
            trap_oid, data = parse_data(merged["trap-oid"], merged["data-list"], "snmptrap test")
        except HandlerConfigError as exc:
            return False, str(exc)
        result = await self.trap(trap_oid, data)
        return (True, "") if result.delivered else (False, result.reason)

    async def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def parse_data(trap_oid: Any, data_list: Any, where: str) -> tuple[str, list[SNMPData]]:
    """``trap-oid`` and ``data-list`` of a handler file or test (``oid``/``type``/``value``)."""
    if not isinstance(trap_oid, str):
        raise HandlerConfigError(f"{where} option 'trap-oid' must be a string")
    if data_list is None:
        data_list = []
    if not isinstance(data_list, list):
        raise HandlerConfigError(f"{where} option 'data-list' must be a list of oid/type/value")
    out: list[SNMPData] = []
    for i, item in enumerate(data_list):
        if not isinstance(item, Mapping):
            raise HandlerConfigError(f"{where} option 'data-list' element {i} must be a table")
        unknown = sorted(str(k) for k in item if k not in ("oid", "type", "value"))
        if unknown:
            raise HandlerConfigError(
                f"{where} option 'data-list' element {i}: unknown key(s) {', '.join(unknown)}; "
                "valid keys: oid, type, value"
            )
        values = [item.get(k, "") for k in ("oid", "type", "value")]
        if not all(isinstance(v, str) for v in values):
            raise HandlerConfigError(
                f"{where} option 'data-list' element {i}: oid, type and value must be strings"
            )
        out.append(SNMPData(*values))
    return trap_oid, out


class SNMPTrapHandler(SingleSend):
    """``.snmpTrap('oid').data(…)`` / ``kind: snmptrap``: one trap per alert."""

    kind = "snmptrap"

    def __init__(self, service: SNMPTrapService, trap_oid: str, data: Sequence[SNMPData]) -> None:
        self._service = service
        self.trap_oid = trap_oid
        self.data = list(data)
        self._templates = [service.template(d.value) for d in self.data]
        config = service.default()
        self.destination = f"snmptrap:{config.addr if config is not None else ''}"

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        td = event.template_data()
        rendered: list[SNMPData] = []
        for d, template in zip(self.data, self._templates, strict=True):
            try:
                value = template.execute(td) if "{{" in d.value else d.value
            except (TemplateExecError, TemplateError) as exc:
                return DeliveryResult("permanent", None, f"failed to handle event: {exc}")
            rendered.append(SNMPData(d.oid, d.type, value))
        return await self._service.trap(self.trap_oid, rendered)

    async def close(self) -> None:
        return None  # the service owns the socket
