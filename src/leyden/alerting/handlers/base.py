"""What every alert handler shares: the handler protocol, its errors and the JSON body.

A handler turns one event into one delivery (a POST, a TCP message, a log line …).  It runs
off the per-point path, in its own queue (see :mod:`leyden.alerting.topics`), so ``handle`` may
take its time; it reports failure by raising :class:`HandlerError` with a text that is safe to
log (no webhook URL, no password), and the queue logs it with the handler kind and task.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from leyden.model.alert import Event

if TYPE_CHECKING:
    from leyden.config import Config, HTTPPostConfig
    from leyden.discord.service import DiscordService

#: Turns an event into Kapacitor's alert-data JSON (``alert.Data``), one JSON document.
Serializer = Callable[[Event], str]


class HandlerError(Exception):
    """A delivery that failed; the text is safe for logs (secrets already removed)."""


class HandlerConfigError(ValueError):
    """A handler that cannot be built from what the script or handler file says."""


class AlertHandler(Protocol):
    """One configured handler: ``.post(url)``, ``.log(path)``, ``.discord()`` …"""

    kind: str

    async def handle(self, event: Event) -> None:
        """Deliver one event; raise :class:`HandlerError` when it could not be delivered."""
        ...

    async def close(self) -> None:
        """Release connections and sessions; called once, after the last ``handle``."""
        ...


def _default_serializer(event: Event) -> str:
    # Imported on first use: the alert-data encoder lives in its own module.
    from leyden.model.alertdata import event_to_json

    return event_to_json(event)


@dataclass(slots=True)
class HandlerContext:
    """What handler factories may need besides their own options."""

    config: Config | None = None
    discord: DiscordService | None = None
    serializer: Serializer = _default_serializer
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


def endpoint_headers(endpoint: HTTPPostConfig) -> dict[str, str]:
    """The headers every request to an ``[[httppost]]`` endpoint carries.

    Its basic auth wins over an ``Authorization`` among its headers, as in Kapacitor; what a
    handler or node adds on top is the caller's business.  Shared by ``.post()`` and
    ``httpPost`` so both send an endpoint's credentials the same way.
    """
    headers = dict(endpoint.headers)
    auth = endpoint.basic_auth
    if auth.is_set():
        token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode("ascii")
        headers["Authorization"] = "Basic " + token
    return headers


def endpoint_template_text(text: str, path: str) -> str:
    """An endpoint template: the file's contents when ``path`` is set, else the inline ``text``.

    Raises ``OSError`` for an unreadable file; the caller names the endpoint in its error.
    """
    return Path(path).read_text(encoding="utf-8") if path else text
