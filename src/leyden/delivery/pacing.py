"""When may a destination send next: pacing at Discord's real limits, pure and clock-injected.

(:class:`Throttle`, at the end, keeps the simpler documented limits of the other services.)

Discord limits webhooks three ways (``reference/discord-and-peers.md`` §1.6), and a sender that
only reacts to 429s loses to all three: Kapacitor and Alertmanager ignore them, Apprise retries
once. :class:`Pacer` keeps every destination under them *before* sending:

* **Per-webhook bucket, learned from the headers.** ``X-RateLimit-Remaining`` and
  ``X-RateLimit-Reset-After`` of the last answer say how many requests are left and when the
  bucket refills; ``X-RateLimit-Limit`` how many it then holds. Until a destination has
  answered, it is assumed to have Discord's observed 5 per 2 s. ``Reset-After`` is used rather
  than ``Reset``, which is an epoch time and so depends on the two hosts' clocks agreeing. The
  bucket is kept per destination: Discord's bucket ids leave the webhook id out (#6753), so two
  webhooks with the same ``X-RateLimit-Bucket`` still have separate budgets.
* **A 429's ``retry_after`` holds back only what it names.** ``user`` scope: that webhook;
  ``shared`` (the channel's write limit, code 20028): every webhook of that channel;
  ``global`` (``X-RateLimit-Global``): the host. Nothing is refused: the dispatcher simply gets
  a later :meth:`Pacer.next_send` and the outbox rows wait their turn (Leyden's sender today
  refuses every alert while a ``retry_after`` runs, issue 10). The body's ``retry_after``
  (exact) wins over the ``Retry-After`` header (whole seconds).
* **Per-channel budget**, default 30 messages per 60 s, configurable: Discord's unannounced
  channel limit (#367, #1454) appears in no header, so the pacer keeps its own log of request
  starts per channel and never lets more than the budget into any window of that length; a
  sliding window is never over the budget inside Discord's fixed one. By default each
  destination is its own channel; :meth:`Pacer.set_channel` groups webhooks of one channel.
* **Host-wide cap**, default 50 requests per second: webhook requests carry no Authorization
  header, so Discord applies its global limit per IP.
* **One request in flight per destination**, so the headers of one answer are the truth for
  the next request, and requests to one webhook arrive in the order they were sent.

Every request that starts counts against the channel and the host, whatever its answer:
a failed request is not free on Discord either, and counting it keeps a retry storm paced.

The dispatcher's side of the contract (clock times are the injected clock's, ``time.monotonic``
by default)::

    when = pacer.next_send(dest)        # now or later; math.inf while a request is in flight
    pacer.started(dest)                 # the request is about to go out
    pacer.finished(dest, status=429, headers=resp.headers, retry_after=body["retry_after"])
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["DEFAULT_PACING", "Pacer", "PacingConfig", "RateLimitLike", "Throttle"]


class RateLimitLike(Protocol):
    """What :class:`Throttle` reads of a limit (:class:`leyden.notify.base.RateLimit`)."""

    @property
    def key(self) -> str: ...
    @property
    def limit(self) -> int: ...
    @property
    def window(self) -> float: ...
    @property
    def held(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class PacingConfig:
    """Discord's limits as the pacer assumes them; the defaults are Discord's observed ones."""

    bucket_limit: int = 5  # per webhook, until its headers say otherwise
    bucket_window: float = 2.0
    channel_limit: int = 30  # messages per channel (the unannounced limit)
    channel_window: float = 60.0
    host_limit: int = 50  # requests per host (Discord's global limit, per IP for webhooks)
    host_window: float = 1.0

    def __post_init__(self) -> None:
        for name in ("bucket_limit", "channel_limit", "host_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("bucket_window", "channel_window", "host_window"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be more than 0 seconds, got {getattr(self, name)}")


DEFAULT_PACING = PacingConfig()


@dataclass(slots=True)
class _Bucket:
    limit: int
    remaining: int
    reset_at: float  # clock time at which ``remaining`` is back to ``limit``
    blocked_until: float = -math.inf  # a user-scope 429's retry_after
    in_flight: bool = False


@dataclass(slots=True)
class _Log:
    """Request starts in the last ``window`` seconds: at most ``limit`` of them."""

    limit: int
    window: float
    starts: deque[float] = field(default_factory=deque)
    blocked_until: float = -math.inf  # a shared- or global-scope 429's retry_after

    def ready_at(self, now: float) -> float:
        while self.starts and self.starts[0] <= now - self.window:
            self.starts.popleft()
        free = now if len(self.starts) < self.limit else self.starts[0] + self.window
        return max(free, self.blocked_until)


def _number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


class Pacer:
    """Per-destination pacing; see the module docstring. Not thread-safe (one event loop)."""

    def __init__(
        self,
        config: PacingConfig = DEFAULT_PACING,
        *,
        channels: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._channel_of: dict[str, str] = dict(channels or {})
        self._buckets: dict[str, _Bucket] = {}
        self._channels: dict[str, _Log] = {}
        self._host = _Log(config.host_limit, config.host_window)

    def set_channel(self, destination: str, channel: str) -> None:
        """``destination`` posts into ``channel``: destinations of one channel share its budget."""
        self._channel_of[destination] = channel

    def _bucket(self, destination: str) -> _Bucket:
        bucket = self._buckets.get(destination)
        if bucket is None:
            limit = self.config.bucket_limit
            bucket = self._buckets[destination] = _Bucket(limit, limit, -math.inf)
        return bucket

    def _channel(self, destination: str) -> _Log:
        key = self._channel_of.get(destination, destination)
        log = self._channels.get(key)
        if log is None:
            log = self._channels[key] = _Log(self.config.channel_limit, self.config.channel_window)
        return log

    def next_send(self, destination: str) -> float:
        """The earliest clock time a request to ``destination`` may start (``now`` when it may
        start now); ``math.inf`` while one is in flight (ask again after :meth:`finished`)."""
        bucket = self._bucket(destination)
        if bucket.in_flight:
            return math.inf
        now = self._clock()
        bucket_at = now if bucket.remaining > 0 or now >= bucket.reset_at else bucket.reset_at
        return max(
            now,
            bucket_at,
            bucket.blocked_until,
            self._channel(destination).ready_at(now),
            self._host.ready_at(now),
        )

    def delay(self, destination: str) -> float:
        """Seconds to wait before a request to ``destination`` (``math.inf`` while in flight)."""
        return max(0.0, self.next_send(destination) - self._clock())

    def ready(self, destination: str) -> bool:
        return self.next_send(destination) <= self._clock()

    def in_flight(self, destination: str) -> bool:
        return self._bucket(destination).in_flight

    def started(self, destination: str) -> None:
        """A request to ``destination`` starts now: it takes a slot everywhere.

        Raises :class:`RuntimeError` if one is already in flight (a dispatcher bug: requests to
        one webhook would race and arrive out of order)."""
        bucket = self._bucket(destination)
        if bucket.in_flight:
            raise RuntimeError(f"a request to {destination} is already in flight")
        now = self._clock()
        if now >= bucket.reset_at:  # a new window: assume it until the answer says otherwise
            bucket.remaining = bucket.limit
            bucket.reset_at = now + self.config.bucket_window
        bucket.remaining = max(0, bucket.remaining - 1)
        bucket.in_flight = True
        self._channel(destination).starts.append(now)
        self._host.starts.append(now)

    def finished(
        self,
        destination: str,
        *,
        status: int | None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        """The request to ``destination`` ended: ``status`` None for no answer (timeout,
        connection refused); ``headers`` as received (a case-insensitive mapping such as
        aiohttp's, or exact names); ``retry_after`` the 429 body's value, if it had one."""
        bucket = self._bucket(destination)
        bucket.in_flight = False
        if headers is None:
            return
        now = self._clock()
        limit = _number(headers, "X-RateLimit-Limit")
        remaining = _number(headers, "X-RateLimit-Remaining")
        reset_after = _number(headers, "X-RateLimit-Reset-After")
        if limit is not None and limit >= 1:
            bucket.limit = int(limit)
        if remaining is not None:
            bucket.remaining = int(remaining)
        if reset_after is not None:
            bucket.reset_at = now + reset_after
        if status != 429:
            return
        wait = retry_after if retry_after is not None and retry_after >= 0 else None
        if wait is None:
            wait = _number(headers, "Retry-After")
        if wait is None:  # a 429 that says nothing: the bucket's reset, or one window
            wait = reset_after if reset_after is not None else self.config.bucket_window
        scope = headers.get("X-RateLimit-Scope", "").lower()
        if scope == "global" or headers.get("X-RateLimit-Global", "").lower() == "true":
            self._host.blocked_until = max(self._host.blocked_until, now + wait)
        elif scope == "shared":
            channel = self._channel(destination)
            channel.blocked_until = max(channel.blocked_until, now + wait)
        else:
            bucket.blocked_until = max(bucket.blocked_until, now + wait)


#: the longest a 429 holds a limit (seconds): then the service is asked again
HOLD_MAX = 3600.0

#: a throttled destination whose next slot is further away than this is not waited for by
#: ``Dispatcher.drain`` (a PagerDuty backlog past its 120 a minute, a long ``Retry-After``):
#: its rows stay queued for the dispatcher's loop
DRAIN_WAIT_MAX = 2.0


class Throttle:
    """The limits other services document, kept before sending (Slack, Telegram, PagerDuty …).

    A handler names its limits as :class:`leyden.notify.base.RateLimit` values (a key, a
    count, a window): one sliding log of request starts per key, shared by every destination
    that names the same key (two tasks posting to one Slack webhook share its one message per
    second).  A 429 with a ``Retry-After`` holds every key of the request that got it until
    then, so the other destinations of that webhook or bot wait too.  Clock-injected, pure,
    one event loop.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._logs: dict[str, _Log] = {}

    def _log(self, key: str, limit: int, window: float) -> _Log:
        log = self._logs.get(key)
        if log is None or log.limit != limit or log.window != window:
            old = log
            log = self._logs[key] = _Log(limit, window)
            if old is not None:  # the limit changed (config update): keep what was sent
                log.starts, log.blocked_until = old.starts, old.blocked_until
        return log

    def next_send(self, limits: Iterable[RateLimitLike]) -> float:
        """The earliest clock time a request under ``limits`` may start (now if it may)."""
        now = self._clock()
        at = now
        for limit in limits:
            at = max(at, self._log(limit.key, limit.limit, limit.window).ready_at(now))
        return at

    def started(self, limits: Iterable[RateLimitLike]) -> None:
        """A request under ``limits`` starts now: it takes a slot in each."""
        now = self._clock()
        for limit in limits:
            self._log(limit.key, limit.limit, limit.window).starts.append(now)

    def hold(self, limits: Iterable[RateLimitLike], seconds: float) -> None:
        """The service answered 429 with ``Retry-After: seconds``: nothing under those of
        ``limits`` that are ``held`` starts before then."""
        if not seconds > 0 or not math.isfinite(seconds):
            return
        until = self._clock() + min(seconds, HOLD_MAX)
        for limit in limits:
            if not limit.held:
                continue
            log = self._log(limit.key, limit.limit, limit.window)
            log.blocked_until = max(log.blocked_until, until)
