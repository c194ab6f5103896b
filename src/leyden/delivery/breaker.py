"""Broken-webhook protection: a breaker per destination and a host-wide invalid-request guard.

Discord documents two things a webhook client must not do (``reference/discord-and-peers.md``
§1.5–1.6): keep using a webhook that answered 404 ``Unknown Webhook`` (10015), and send enough
invalid requests (401, 403, 429) that Cloudflare bans the whole host from Discord's API
(10,000 in 10 minutes).  Kapacitor posts every alert to a deleted webhook forever, and so do
Alertmanager and Grafana (Alertmanager #2165, the peers table in the reference); Leyden's
dispatcher so far dead-lettered each event after one 404, so a dead webhook still cost one
invalid request per alert.  Following Alertmanager's split, the integration only *reports*
the outcome (``DeliveryResult.status`` and ``code``) and this shared layer *decides*, so any
HTTP integration can opt in later (a handler with ``breaker = True`` and a
``target_fingerprint``; Discord's does):

* **The breaker** (:class:`Breakers`).  An answer of 401 (bad token), 403 (no permission, a
  disabled webhook) or 404 opens the breaker of that destination (:func:`breaks`).  Discord
  answers ``{"code": 10015}`` for a deleted webhook, but a relay or a proxy in front of it may
  answer a bare 404, and a webhook URL that is not found is broken either way; a 404 that
  names something inside a working webhook (10003, a deleted thread; 10008, a deleted
  message) fails only its row.  While it is open no request goes to
  that destination; its rows stay *queued* in the outbox (the API and ``leyden list
  deliveries`` show them as ``held``), with no attempt counted and no backoff spent.  It closes
  when the destination's URL changes (the ``[[discord]]`` URL or token, through a config
  override or a restart with another URL) or when an operator retries one of its deliveries
  (``leyden retry-delivery ID``, or ``-all``): then the queue is tried again, and one more
  broken answer opens it again after a single request.
* **Durable, without the secret.**  An open breaker is a row of the store's ``breakers`` table,
  so a webhook that was 404 yesterday is still broken after a restart.  It is keyed by the
  outbox destination (redacted display text, no token) and remembers the *fingerprint* of the
  URL it broke on: a SHA-256 digest of the full URL (:func:`~leyden.notify._http.url_fingerprint`),
  never the URL.  A webhook token is 68 random characters, so the digest tells nothing of it,
  yet a rotated token or a new URL gives another fingerprint, which is how "the config
  changed" is noticed, also across restarts.
* **Held rows and max-age.**  Held rows still expire after ``[delivery] max-age`` (24 h), with
  a reason that says the webhook was broken: max-age is the user's own statement of how old an
  alert may be and still worth posting, and a webhook fixed on Monday should not post Friday's
  storm; an open breaker must also not let a dead webhook grow the outbox without bound.
  Expired rows are dead-lettered, not dropped: counted, logged, listed with that reason, and
  ``leyden retry-delivery -all`` sends them if the operator wants them after all.
* **The guard** (:class:`InvalidRequestGuard`).  Every 401, 403, 404 and 429 a guarded
  (Discord) request gets counts in a sliding window of 10 minutes, Cloudflare's; a 429 of
  scope ``shared`` does not, as Discord does not count it against the client.  When the
  window holds ``[delivery] invalid-request-limit`` of them (default 1,000: a tenth of the ban
  threshold, leaving room for other clients on the same address), requests to Discord pause
  until the oldest falls out of the window.  404 counts although Cloudflare's list names only
  401, 403 and 429: erring on the safe side costs nothing, a ban costs every webhook.

Both take an injected clock (wall-clock seconds, as the outbox's), so tests run on a fake one.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from leyden.notify._http import DeliveryResult
from leyden.store import Store

__all__ = [
    "BREAKER_COLUMNS",
    "BREAKING_STATUSES",
    "DEFAULT_INVALID_LIMIT",
    "DEFAULT_INVALID_WINDOW",
    "INVALID_STATUSES",
    "BreakerStore",
    "Breakers",
    "InvalidRequestGuard",
    "MemoryBreakerStore",
    "OpenBreaker",
    "SqliteBreakerStore",
    "breaks",
]

#: answers that mean the webhook itself is broken: bad token, no permission, gone
BREAKING_STATUSES = frozenset({401, 403, 404})
#: answers Cloudflare counts as invalid requests (and 404, to be safe; see the docstring)
INVALID_STATUSES = frozenset({401, 403, 404, 429})
#: invalid answers allowed per window, host-wide: a tenth of Cloudflare's ban threshold
DEFAULT_INVALID_LIMIT = 1000
#: Cloudflare's window (10,000 invalid requests per 10 minutes bans the address)
DEFAULT_INVALID_WINDOW = 600.0


#: 404 codes that name something inside a working webhook (Discord's Unknown Channel, for a
#: deleted thread, and Unknown Message, for a deleted message): that row fails, the webhook
#: stays open for every other handler posting to it
_NOT_THE_WEBHOOK = frozenset({10003, 10008})


def breaks(result: DeliveryResult) -> bool:
    """Whether ``result`` says the destination is broken: 401, 403, or a 404 that does not
    name a thread or message (a bare 404, from a relay, or 10015 Unknown Webhook)."""
    if result.status == 404 and result.code in _NOT_THE_WEBHOOK:
        return False
    return result.status in BREAKING_STATUSES


#: the breakers table's columns, in its order and :class:`OpenBreaker`'s (both stores)
BREAKER_COLUMNS = "destination, kind, fingerprint, status, code, reason, opened"


@dataclass(frozen=True, slots=True)
class OpenBreaker:
    """An open breaker: which destination, why, since when (wall-clock seconds)."""

    destination: str  # the outbox's destination: redacted, no token
    kind: str  # the handler kind (for the metrics' labels)
    fingerprint: str  # digest of the URL it broke on ("" when the handler did not say)
    status: int | None
    code: int | None  # the service's own error code (Discord's 10015 …), if it sent one
    reason: str  # the answer, described; safe to show
    opened: float

    def row(self) -> tuple[str, str, str, int | None, int | None, str, float]:
        """The values of :data:`BREAKER_COLUMNS` (``OpenBreaker(*row)`` reads one back)."""
        return (
            self.destination,
            self.kind,
            self.fingerprint,
            self.status,
            self.code,
            self.reason,
            self.opened,
        )

    def describe(self) -> str:
        """One line for the API and the CLI: why its rows wait, and how to send them."""
        return (
            f"held: webhook broken ({self.reason}); no request is made until its URL "
            "changes or a delivery is retried (leyden retry-delivery)"
        )


class BreakerStore(Protocol):
    """Where open breakers survive a restart."""

    def load(self) -> list[OpenBreaker]: ...

    def save(self, breaker: OpenBreaker) -> None: ...

    def remove(self, destination: str) -> None: ...


class MemoryBreakerStore:
    """Open breakers in a dict: for tests and storeless runs (a restart forgets them)."""

    def __init__(self) -> None:
        self.rows: dict[str, OpenBreaker] = {}

    def load(self) -> list[OpenBreaker]:
        return list(self.rows.values())

    def save(self, breaker: OpenBreaker) -> None:
        self.rows[breaker.destination] = breaker

    def remove(self, destination: str) -> None:
        self.rows.pop(destination, None)


class SqliteBreakerStore:
    """Open breakers in the store's ``breakers`` table (this class owns its queries)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def load(self) -> list[OpenBreaker]:
        with self._store.unit_of_work("read the webhook breakers") as conn:
            rows = conn.execute(
                f"SELECT {BREAKER_COLUMNS} FROM breakers ORDER BY destination"
            ).fetchall()
        return [OpenBreaker(*row) for row in rows]

    def save(self, breaker: OpenBreaker) -> None:
        with self._store.unit_of_work("open a webhook breaker") as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO breakers ({BREAKER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                breaker.row(),
            )

    def remove(self, destination: str) -> None:
        with self._store.unit_of_work("close a webhook breaker") as conn:
            conn.execute("DELETE FROM breakers WHERE destination = ?", (destination,))


class Breakers:
    """The open breakers by destination, written through to a :class:`BreakerStore`."""

    def __init__(self, store: BreakerStore | None = None) -> None:
        self._store: BreakerStore = store if store is not None else MemoryBreakerStore()
        self._open: dict[str, OpenBreaker] | None = None

    def _loaded(self) -> dict[str, OpenBreaker]:
        if self._open is None:
            self._open = {b.destination: b for b in self._store.load()}
        return self._open

    def get(self, destination: str) -> OpenBreaker | None:
        return self._loaded().get(destination)

    def __iter__(self) -> Iterator[OpenBreaker]:
        return iter(list(self._loaded().values()))

    def __len__(self) -> int:
        return len(self._loaded())

    def as_map(self) -> Mapping[str, OpenBreaker]:
        """The open breakers by destination (a copy)."""
        return dict(self._loaded())

    def open(
        self,
        destination: str,
        *,
        kind: str,
        fingerprint: str,
        result: DeliveryResult,
        now: float,
    ) -> OpenBreaker:
        """Open (or re-open) ``destination``'s breaker on ``result``, then store it (if the
        store fails it raises, and the breaker is open in this process all the same)."""
        breaker = OpenBreaker(
            destination=destination,
            kind=kind,
            fingerprint=fingerprint,
            status=result.status,
            code=result.code,
            reason=result.describe(),
            opened=now,
        )
        self._loaded()[destination] = breaker
        self._store.save(breaker)
        return breaker

    def close(self, destination: str) -> OpenBreaker | None:
        """Close ``destination``'s breaker; the one closed, or None if it was not open."""
        breaker = self._loaded().get(destination)
        if breaker is None:
            return None
        del self._loaded()[destination]
        self._store.remove(destination)
        return breaker


class InvalidRequestGuard:
    """A sliding count of invalid answers, host-wide; see the module docstring.

    :meth:`record` each answer; :meth:`ready_at` is the earliest clock time a guarded request
    may start (now while the window has room).
    """

    def __init__(
        self,
        limit: int = DEFAULT_INVALID_LIMIT,
        window: float = DEFAULT_INVALID_WINDOW,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1:
            raise ValueError(f"invalid-request limit must be at least 1, got {limit}")
        if not window > 0:
            raise ValueError(f"invalid-request window must be more than 0 seconds, got {window}")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._times: deque[float] = deque()
        #: invalid answers seen since start
        self.total = 0
        #: times the guard engaged (the window filled up) since start
        self.engagements = 0

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()

    @staticmethod
    def counts(result: DeliveryResult) -> bool:
        """Whether ``result`` is an invalid request as Cloudflare counts them (and 404)."""
        if result.status not in INVALID_STATUSES:
            return False
        headers = result.headers or {}
        return not (result.status == 429 and headers.get("X-RateLimit-Scope", "") == "shared")

    def record(self, result: DeliveryResult) -> bool:
        """Count ``result`` if it is invalid; True when this answer filled the window (the
        guard engages now: log it once)."""
        if not self.counts(result):
            return False
        now = self._clock()
        self._trim(now)
        self._times.append(now)
        self.total += 1
        if len(self._times) == self.limit:
            self.engagements += 1
            return True
        return False

    def in_window(self) -> int:
        """Invalid answers in the current window."""
        self._trim(self._clock())
        return len(self._times)

    def ready_at(self) -> float:
        """The earliest clock time a guarded request may start."""
        now = self._clock()
        self._trim(now)
        if len(self._times) < self.limit:
            return now
        # the window has room again once enough of the oldest answers have left it
        return self._times[len(self._times) - self.limit] + self.window

    def engaged(self) -> bool:
        """Whether guarded requests are paused now."""
        return self.ready_at() > self._clock()
