"""What every alert handler shares: the handler protocol, its errors, context and options.

A handler turns events into one delivery (a POST, a TCP message, a log line, a Discord message
of up to ten embeds).  It never runs on the per-point path: the events bound for it are rows of
the durable outbox (:mod:`leyden.delivery.outbox`), and the dispatcher
(:mod:`leyden.delivery.dispatcher`) calls :meth:`AlertHandler.send` with a batch of them.
``send`` makes ONE attempt and reports what became of it as a
:class:`~leyden.notify._http.DeliveryResult` (delivered, retry, permanent) instead of raising:
the dispatcher owns retries, backoff, pacing and dead-lettering, the same for every kind
(Kapacitor tries each handler once and forgets the event, its issue #1607).

``destination`` is secret-free display text (a webhook without its token, a host and port): the
dispatcher keeps one request in flight per destination and orders rows per (destination, alert
ID).  ``max_batch`` is how many events one ``send`` may carry (Discord: 10 embeds; others 1);
``coalesce_key`` says which rows may share a message (same webhook identity); ``paced`` asks
for Discord's rate limits (:mod:`leyden.delivery.pacing`).

``handle(event)`` stays for callers that want one event sent now (service tests, unit tests):
one ``send`` whose failure is raised as :class:`HandlerError`, a text safe to log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from leyden.config import Config
from leyden.model.alert import Event
from leyden.model.alertdata import event_to_json
from leyden.notify._http import DeliveryResult

#: Turns an event into Kapacitor's alert-data JSON (``alert.Data``), one JSON document.
Serializer = Callable[[Event], str]

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``limit`` requests per ``window`` seconds for everything sharing ``key``.

    A handler declares the limits its service documents (Slack: one message per second per
    webhook; Telegram: one per second per chat and 30 per second per bot) in its
    ``rate_limits``; the dispatcher holds a destination's next send until every limit has room
    (:class:`leyden.delivery.pacing.Throttle`), so a storm is paced instead of answered with
    429s.  ``key`` is secret-free (it names the limit in no log, but is kept in memory only).
    A 429's ``Retry-After`` holds every limit of the request that got it unless ``held`` is
    false: Telegram's 429 for one chat says nothing of the bot's other chats.
    """

    key: str
    limit: int
    window: float
    held: bool = True

    def __post_init__(self) -> None:
        if self.limit < 1 or not self.window > 0:
            raise ValueError(f"rate limit {self.key}: {self.limit} per {self.window}s")


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
    """One configured handler: ``.post(url)``, ``.log(path)``, ``.discord()`` …

    Handlers that route events back into topics (``publish``, ``aggregate``) have ``route``
    instead of ``send`` and are called when the turn's events are committed; a handler with
    only ``handle`` (a test double) gets one attempt per event through it.
    """

    kind: str

    async def handle(self, event: Event) -> None:
        """Deliver one event; raise :class:`HandlerError` when it could not be delivered."""
        ...

    async def close(self) -> None:
        """Release connections and sessions; called once, after the last ``handle``."""
        ...


class DeliveringHandler(AlertHandler, Protocol):
    """A handler behind the outbox: one attempt per :meth:`send`, never raising for a failure."""

    #: secret-free; one request in flight and the order per (destination, alert ID) by it
    destination: str
    #: how many events one send may carry (Discord: 10 embeds in one message)
    max_batch: int
    #: rows with the same key (and destination) may share one send
    coalesce_key: str
    #: whether the dispatcher paces this destination at Discord's limits
    paced: bool
    #: the service's own limits the dispatcher keeps to (optional: ``()`` without)
    rate_limits: tuple[RateLimit, ...]

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        """One attempt for ``events`` (at most ``max_batch``, in order)."""
        ...


class SingleSend:
    """Mixin for handlers that carry one event per request: ``max_batch`` 1, no pacing,
    ``handle`` as one ``send`` whose failure raises :class:`HandlerError`, and nothing to close
    (the integration's service owns the connections)."""

    max_batch = 1
    paced = False
    destination = ""
    rate_limits: tuple[RateLimit, ...] = ()

    @property
    def coalesce_key(self) -> str:
        return self.destination

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        raise NotImplementedError

    async def handle(self, event: Event) -> None:
        result = await self.send([event])
        if not result.delivered:
            raise HandlerError(result.reason or result.describe())

    async def close(self) -> None:
        return None


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


def service_of(ctx: HandlerContext, kind: str, cls: type[S], name: str) -> S:
    """The running service of ``kind`` a handler sends through (``ctx.services[kind]``, an
    instance of ``cls``), or an error naming the kind and the service (``name``: ``Slack``)."""
    service = ctx.services.get(kind)
    if not isinstance(service, cls):
        raise HandlerConfigError(f"{kind} handler: no {name} service is configured")
    return service


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
        # the type, never the value: a mistyped option may be a key (an unquoted number)
        got = type(options.get(key)).__name__
        raise HandlerConfigError(f"{kind} handler option {key!r} must be {names}, got {got}")
    return value


def str_list(value: Any, where: str) -> list[str]:
    """A list of strings from a handler option or property (``teams-list``, ``.handlers()``),
    ``[]`` when absent; the error starts with ``where`` (``opsgenie handler option 'teams-list'``)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise HandlerConfigError(f"{where} must be a list of strings, got {value!r}")
    return list(value)


def check_keys(options: Mapping[str, Any], kind: str, known: tuple[str, ...]) -> None:
    """Reject keys a handler does not have, as Kapacitor's strict option decoding does."""
    unknown = sorted(str(k) for k in options if k not in known)
    if unknown:
        raise HandlerConfigError(
            f"invalid {kind} handler option(s): {', '.join(unknown)}; "
            f"valid options: {', '.join(known)}"
        )
