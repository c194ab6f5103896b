"""``[snmptrap]``: where SNMP traps go (Kapacitor's services/snmptrap Config).

One section; Kapacitor's defaults (``addr = "localhost:162"``, ``community = "kapacitor"``,
``retries = 1``), which Leyden keeps as a built-in default section so ``KAPACITOR_SNMPTRAP_*``
overrides work without a file.  An enabled service needs ``addr`` (host:port).  The community is
the SNMPv2c shared secret: redacted in the config API, never in a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from leyden.config import Key, Section, SectionSpec

__all__ = ["SECTION", "SNMPTrapConfig", "split_addr"]


def split_addr(addr: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``; ValueError naming what is wrong."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("addr: must be host:port with a port from 1 to 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "localhost", int(port)


@dataclass
class SNMPTrapConfig(Section):
    """``[snmptrap]`` (Kapacitor's NewConfig defaults)."""

    enabled: bool = False
    addr: str = "localhost:162"
    community: str = field(default="kapacitor", repr=False)
    retries: int = 1

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("addr", "addr", "str"),
        Key("community", "community", "str"),
        Key("retries", "retries", "int"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"community"})

    def validate(self) -> list[str]:
        problems: list[str] = []
        if self.enabled and not self.addr:
            problems.append("addr: must specify addr")
        elif self.addr:
            try:
                split_addr(self.addr)
            except ValueError as exc:
                problems.append(str(exc))
        if self.retries < 0:
            problems.append("retries: must not be negative")
        return problems


#: ``[snmptrap]`` for the loader; without one in the file, Kapacitor's disabled defaults.
SECTION = SectionSpec("snmptrap", SNMPTrapConfig, multiple=False, defaults=({},))
