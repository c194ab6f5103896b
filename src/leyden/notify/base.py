"""What every alert handler shares: the handler protocol, its errors, context and options.

A handler turns one event into one delivery (a POST, a TCP message, a log line …).  It runs
off the per-point path, in its own queue (see :mod:`leyden.alerting.topics`), so ``handle`` may
take its time; it reports failure by raising :class:`HandlerError` with a text that is safe to
log (no webhook URL, no password), and the queue logs it with the handler kind and task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from leyden.config import Config
from leyden.model.alert import Event
from leyden.model.alertdata import event_to_json

#: Turns an event into Kapacitor's alert-data JSON (``alert.Data``), one JSON document.
Serializer = Callable[[Event], str]


class HandlerError(Exception):
    """A delivery that failed; the text is safe for logs (secrets already removed)."""


class HandlerConfigError(ValueError):
    """A handler that cannot be built from what the script or handler file says."""


class IntegrationError(Exception):
    """An integration's configuration or options a user can fix; the text never holds a secret.

    ``section`` names the configuration section when the error came from building the
    integration's service from it (``[[discord]]``), so a caller can say where.
    """

    section: str = ""


class AlertHandler(Protocol):
    """One configured handler: ``.post(url)``, ``.log(path)``, ``.discord()`` …"""

    kind: str

    async def handle(self, event: Event) -> None:
        """Deliver one event; raise :class:`HandlerError` when it could not be delivered."""
        ...

    async def close(self) -> None:
        """Release connections and sessions; called once, after the last ``handle``."""
        ...


@dataclass(slots=True)
class HandlerContext:
    """What handler factories may need besides their own options."""

    config: Config | None = None
    #: each integration's running service by kind (``"discord"`` → its ``DiscordService``)
    services: Mapping[str, Any] = field(default_factory=dict)
    serializer: Serializer = event_to_json
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("leyden.alert"))

    def alert_json(self, event: Event) -> str:
        """The alert-data JSON as Go's ``json.Encoder`` writes it: one document and a newline."""
        body = self.serializer(event)
        return body if body.endswith("\n") else body + "\n"


def option(
    options: Mapping[str, Any], kind: str, key: str, expected: type | tuple[type, ...], default: Any
) -> Any:
    """One option of a handler, type-checked; the error names the handler kind and the key."""
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool) and bool not in (
        expected if isinstance(expected, tuple) else (expected,)
    ):
        value = None  # True is an int in Python, never in a handler option
    if value is None or not isinstance(value, expected):
        names = (
            " or ".join(t.__name__ for t in expected)
            if isinstance(expected, tuple)
            else expected.__name__
        )
        raise HandlerConfigError(
            f"{kind} handler option {key!r} must be {names}, got {options.get(key)!r}"
        )
    return value


def check_keys(options: Mapping[str, Any], kind: str, known: tuple[str, ...]) -> None:
    """Reject keys a handler does not have, as Kapacitor's strict option decoding does."""
    unknown = sorted(str(k) for k in options if k not in known)
    if unknown:
        raise HandlerConfigError(
            f"invalid {kind} handler option(s): {', '.join(unknown)}; "
            f"valid options: {', '.join(known)}"
        )
