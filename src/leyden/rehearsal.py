"""A replay is a rehearsal: what it would have sent is written down, not sent to production.

Kapacitor's ``replay`` really sends (its handlers are the server's): replaying a month of data
through a task whose ``.discord()`` names the production webhook posts a month of 1971-dated
alerts to the channel.  ``leyden replay`` decides per delivery instead, at the one place every
alert delivery passes (the dispatcher's ``attempt``, :mod:`leyden.delivery.dispatcher`):

* ``send``: every delivery is sent (``--send``);
* ``no-send``: none is; each is written as one JSON line (``--no-send``);
* ``auto`` (the default): deliveries to a loopback address (127.0.0.0/8, ``::1``,
  ``localhost``: a capture server, the Discord emulator) and local ones (the log handler's
  file, exec's command) are sent; any other host (discord.com, hooks.slack.com) is written
  down instead.  A destination that names no host (SMTP, Sensu, Kafka, PagerDuty show only a
  digest) is sent only when every URL and ``host:port`` of the configuration is loopback.

A line holds the handler kind, its secret-free destination (the dispatcher's, never a token),
the event's id, level and message, and its alert data (what ``.post()`` sends).  The
:class:`Tally` counts what the replay read, published and delivered for its one-line summary.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal, TextIO

from leyden.delivery.dispatcher import Binding
from leyden.model.alert import Event
from leyden.model.alertdata import event_to_json
from leyden.notify._http import DeliveryResult

Mode = Literal["auto", "send", "no-send"]


_URL_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(\[[^\]]*\]|[^/\s:'\"#]+)")
_HOST_PORT = re.compile(r"^(?:[a-z0-9]+:)?(\[[^\]]*\]|[A-Za-z0-9.-]+):\d+$")
#: kinds that deliver on this machine (a file, a command)
LOCAL_KINDS = frozenset({"log", "exec"})


def destination_host(destination: str) -> str:
    """The host a dispatcher destination names (``post:https://discord.com/… #1a2b`` →
    ``discord.com``; ``snmptrap:10.0.0.5:162`` → ``10.0.0.5``), ``""`` when it names none
    (a file, a command, or an opaque digest)."""
    text = destination.split(" #", 1)[0].strip()
    match = _URL_HOST.search(text) or _HOST_PORT.match(text)
    return match.group(1).strip("[]").lower() if match else ""


def host_is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_is_local(texts: Iterable[str]) -> bool:
    """Whether every URL and ``host:port`` in ``texts`` (the configuration file, the
    ``KAPACITOR_*`` variables) is a loopback one: then handlers whose destination names no host
    (SMTP, Sensu, Kafka, PagerDuty …) send to a local double."""
    for text in texts:
        for match in _URL_HOST.finditer(text):
            if not host_is_local(match.group(1).strip("[]").lower()):
                return False
        for quoted in re.findall(r"[\"']([^\"'\s]+:\d+)[\"']", text):
            found = _HOST_PORT.match(quoted)
            if found and not host_is_local(found.group(1).strip("[]").lower()):
                return False
    return True


def is_local(kind: str, destination: str, config_local: bool) -> bool:
    """Whether a delivery stays on this machine: a loopback host, a local kind, or no host in
    the destination and only loopback addresses in the configuration."""
    host = destination_host(destination)
    if host:
        return host_is_local(host)
    return kind in LOCAL_KINDS or config_local


class Tally:
    """What a replay read, published and delivered, for its summary line."""

    def __init__(self) -> None:
        self.points = 0
        self.levels: Counter[str] = Counter()
        #: per handler kind: "sent", "failed", "not sent"
        self.deliveries: dict[str, Counter[str]] = {}

    def event(self, event: Event) -> None:
        self.levels[str(event.state.level)] += 1

    def count(self, kind: str, outcome: str, n: int) -> None:
        if n:
            self.deliveries.setdefault(kind or "?", Counter())[outcome] += n

    @property
    def failed(self) -> int:
        return sum(c["failed"] for c in self.deliveries.values())

    def summary(self) -> str:
        levels = ", ".join(f"{n} {lvl}" for lvl, n in sorted(self.levels.items())) or "none"
        parts = []
        for kind in sorted(self.deliveries):
            c = self.deliveries[kind]
            said = [f"{c[o]} {o}" for o in ("sent", "failed", "not sent") if c[o]]
            parts.append(
                f"{kind} {' '.join(said)}" if len(said) == 1 else f"{kind} ({', '.join(said)})"
            )
        return (
            f"replay: {self.points} points read; events: {levels}; "
            f"deliveries: {', '.join(parts) or 'none'}"
        )


class Rehearsal:
    """The dispatcher's ``attempt`` for a replay: send, or write down, per :data:`Mode`."""

    def __init__(self, mode: Mode, out: TextIO, tally: Tally, config_local: bool = True) -> None:
        self.mode = mode
        self.config_local = config_local
        self.out = out
        self.tally = tally

    def sends(self, kind: str, destination: str) -> bool:
        return self.mode == "send" or (
            self.mode == "auto" and is_local(kind, destination, self.config_local)
        )

    async def attempt(self, binding: Binding, events: Sequence[Event]) -> DeliveryResult:
        if self.sends(binding.kind, binding.destination):
            return await binding.send(events)
        for event in events:
            line = {
                "kind": binding.kind,
                "destination": binding.destination,
                "id": event.state.id,
                "level": str(event.state.level),
                "message": event.state.message,
                "data": json.loads(event_to_json(event)),
            }
            self.out.write(json.dumps(line) + "\n")
        self.out.flush()
        self.tally.count(binding.kind, "not sent", len(events))
        # "delivered" for the dispatcher: nothing is retried; the tally tells the difference
        return DeliveryResult("delivered")
