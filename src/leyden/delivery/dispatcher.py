"""The dispatcher: sends the outbox's rows through their handlers, and owns every retry.

Kapacitor's handlers each try an event once, in a goroutine per handler, and forget it (its
issues #1607, #828, #1131); Leyden's old handler queues retried a little in memory and dropped
the rest.  Here the rows of :mod:`leyden.delivery.outbox` are the only queue, and this one loop
decides what is sent when, for every handler kind alike:

* **One attempt per send.**  A handler's ``send(events)`` makes one request and answers with a
  :class:`~leyden.notify._http.DeliveryResult`.  *Delivered* deletes the rows; *permanent*
  (a 4xx other than 429, after Discord's payload was already fitted to its limits; a workspace
  that is gone) dead-letters them with the reason; *retry* puts them back with a jittered
  exponential backoff (``[delivery] retry-backoff`` … ``retry-max-backoff``), or exactly the
  429's ``retry_after``.  Rows older than ``[delivery] max-age`` (24 h) are dead-lettered by
  :meth:`Dispatcher.expire`.  Every loss is counted (:class:`DeliveryCounters`, and per handler
  in :attr:`Dispatcher.losses`, which task and topic stats read) and logged once, with its
  reason.
* **Order.**  The outbox hands out only the first row of each (destination, alert ID), and the
  dispatcher keeps one request in flight per destination: an OK never overtakes its CRITICAL.
* **Pacing.**  Destinations whose handler is ``paced`` (Discord) ask the
  :class:`~leyden.delivery.pacing.Pacer` before each request and tell it the answer's headers;
  a 429 holds back only what it names, and no row is refused meanwhile.  Handlers of other
  services name the limits their service documents (``rate_limits``: Slack's one message per
  second per webhook, Telegram's per chat and per bot); the
  :class:`~leyden.delivery.pacing.Throttle` holds a destination until each has room, and a
  429's ``Retry-After`` holds every destination sharing those limits.
* **Coalescing.**  Up to ``max_batch`` ready rows of one destination whose handlers share a
  ``coalesce_key`` (Discord: one webhook identity) go in one send, in row order: ten alerts
  per Discord message.  Different alerts of one backlog thus drain ten times faster than
  Discord's 30 messages per minute per channel allow one by one.  When a row has waited
  longer than ``[delivery] digest-after`` (2 min), the later queued states of its alert (same
  handler) that are that old too go in the same send, in order, after it: a handler with
  ``max_batch`` > 1 (Discord) shows the last state of each alert as its own embed and the
  earlier ones as a digest line, so a backlog does not replay every flap one message a time.
* **Broken webhooks.**  A handler with ``breaker = True`` (Discord) whose answer is 401, 403 or
  404 opens the breaker of its destination (:mod:`leyden.delivery.breaker`): one loud log
  line, the rows kept queued and shown as *held*, no request to it until its URL changes
  (the handler's ``target_fingerprint``) or an operator retries one of its rows
  (:meth:`Dispatcher.reset_breaker`).  Open breakers are stored, so a restart keeps them.
  The host-wide :class:`~leyden.delivery.breaker.InvalidRequestGuard` counts the invalid
  answers of paced (Discord) requests and pauses all of them when its window is full.
* **Handlers by stable key.**  Rows name their handler by
  :func:`~leyden.delivery.outbox.topic_handler_key` /
  :func:`~leyden.delivery.outbox.task_handler_key`; the alert service :meth:`binds
  <Dispatcher.bind>` the live handler under that key.  A handler detached by a task stop keeps
  sending the rows it has; deleting a task or a topic handler dead-letters its queued rows with
  the reason.  After a restart, rows whose handler did not come back (its task disabled, deleted
  or redefined without it) are dead-lettered when first claimed, so ``leyden retry-delivery``
  can bring them back once the handler exists again.

The clock is injected (wall-clock seconds, as the outbox's); :meth:`Dispatcher.step` runs one
round and awaits its sends, so tests drive outages and storms on a simulated clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random as _random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leyden.delivery.breaker import (
    DEFAULT_INVALID_LIMIT,
    DEFAULT_INVALID_WINDOW,
    Breakers,
    BreakerStore,
    InvalidRequestGuard,
    breaks,
)
from leyden.delivery.metrics import DeliveryCounters
from leyden.delivery.outbox import DEFAULT_MAX_AGE, Delivery, DeliveryState, Outbox
from leyden.delivery.pacing import (
    DEFAULT_PACING,
    DRAIN_WAIT_MAX,
    Pacer,
    PacingConfig,
    Throttle,
)
from leyden.model.alert import Event
from leyden.notify._http import DeliveryResult, backoff
from leyden.notify.base import HandlerError, RateLimit

__all__ = ["Binding", "DeliverySettings", "Dispatcher"]

_LOG = logging.getLogger("leyden.alert")

#: how many rows one claim may take for a destination none of whose handlers is known yet
_DEFAULT_CLAIM = 1


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """The ``[delivery]`` knobs; the defaults are issue 10's."""

    #: rows not delivered within this many seconds are dead-lettered
    max_age: float = DEFAULT_MAX_AGE
    #: first backoff after a failed attempt (doubles per attempt, jittered ±50 %)
    backoff_base: float = 1.0
    #: the longest backoff
    backoff_cap: float = 60.0
    #: how often rows are checked against ``max_age``
    expire_interval: float = 60.0
    #: rows older than this may carry their alert's later states along (a digest)
    digest_after: float = 120.0
    #: at most this many earlier states of one alert folded into one request
    digest_limit: int = 50
    pacing: PacingConfig = DEFAULT_PACING
    #: 401/403/404 open the destination's breaker (handlers with ``breaker = True``)
    breaker: bool = True
    #: invalid answers (401, 403, 404, 429) of paced requests allowed per ``invalid_window``
    invalid_limit: int = DEFAULT_INVALID_LIMIT
    invalid_window: float = DEFAULT_INVALID_WINDOW


@dataclass(frozen=True, slots=True)
class Binding:
    """A live handler under its stable key, with what the dispatcher asks of it."""

    key: str
    handler: Any
    kind: str
    destination: str
    max_batch: int
    coalesce_key: str
    paced: bool
    #: whether 401/403/404 open the destination's breaker (leyden.delivery.breaker)
    breaker: bool
    #: who the handler belongs to, for log lines (handler kind, task, node, topic, handler_id)
    fields: Mapping[str, str]

    @classmethod
    def of(cls, key: str, handler: Any, fields: Mapping[str, str]) -> Binding:
        """A binding for ``handler``; a handler with only ``handle`` (a test double) is its
        own destination, one event per send."""
        return cls(
            key=key,
            handler=handler,
            kind=str(getattr(handler, "kind", "")),
            destination=str(getattr(handler, "destination", "") or key),
            max_batch=max(1, int(getattr(handler, "max_batch", 1))),
            coalesce_key=str(getattr(handler, "coalesce_key", key)),
            paced=bool(getattr(handler, "paced", False)),
            breaker=bool(getattr(handler, "breaker", False)),
            fields=dict(fields),
        )

    def rate_limits(self) -> tuple[RateLimit, ...]:
        """The service's documented limits as the handler states them now (Slack's one message
        per second per webhook …): a config update may have changed its token or channel."""
        return tuple(getattr(self.handler, "rate_limits", ()))

    def fingerprint(self) -> str:
        """A digest of the URL the handler sends to now (``""`` if it does not say)."""
        return str(getattr(self.handler, "target_fingerprint", "") or "")

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        send = getattr(self.handler, "send", None)
        if send is not None:
            result: DeliveryResult = await send(events)
            return result
        # handle() only: one attempt per event, a failure is final (as Kapacitor's handlers)
        for event in events:
            try:
                await self.handler.handle(event)
            except HandlerError as exc:
                return DeliveryResult("permanent", None, str(exc))
            except Exception as exc:  # its text may hold a URL: only the type is told
                return DeliveryResult("permanent", None, f"unexpected {type(exc).__name__}")
        return DeliveryResult("delivered")


LossListener = Callable[[str, int], None]


def _time_text(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class Dispatcher:
    """Sends queued rows through their bound handlers; see the module docstring."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        settings: DeliverySettings = DeliverySettings(),
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
        logger: logging.Logger = _LOG,
        breakers: BreakerStore | None = None,
    ) -> None:
        """``breakers`` keeps open breakers across restarts (the runtime's is the store's
        table); without it they live in memory."""
        self.outbox = outbox
        self.settings = settings
        #: totals since start, which ``/metrics`` reads (the dispatcher is their only writer)
        self.counters = DeliveryCounters()
        #: rows lost (dead-lettered) per handler key since start
        self.losses: Counter[str] = Counter()
        self._clock = clock
        self._random = random
        self._log = logger
        self.pacer = Pacer(settings.pacing, clock=clock)
        #: the other services' documented limits (RateLimit), by the keys handlers name
        self.throttle = Throttle(clock=clock)
        #: open breakers by destination (broken webhooks)
        self.breakers = Breakers(breakers)
        #: the host-wide budget of invalid answers (Cloudflare's ban)
        self.guard = InvalidRequestGuard(
            settings.invalid_limit, settings.invalid_window, clock=clock
        )
        self._guard_paused = False
        self._bindings: dict[str, Binding] = {}
        #: handlers detached (task stopped) that still own rows
        self._retired: dict[str, Binding] = {}
        #: per destination: the earliest time worth claiming again
        self._wake: dict[str, float] = {}
        #: per destination: times rows were rescheduled to (so an empty claim knows when next)
        self._later: dict[str, list[float]] = {}
        self._claim_limit: dict[str, int] = {}
        self._paced: set[str] = set()
        #: per destination: the rate limits its handlers declared (the latest binding's)
        self._limits: dict[str, tuple[RateLimit, ...]] = {}
        self._sending: dict[str, asyncio.Task[None]] = {}
        self._sending_keys: dict[str, set[str]] = {}
        self._loss_listeners: list[LossListener] = []
        #: rows per handler key not yet sent or dead (as far as this process saw them queued)
        self._outstanding: Counter[str] = Counter()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._next_expire = -math.inf
        self._pacing_next = math.inf
        self._started = False
        #: makes one attempt of a binding's rows; ``leyden replay`` swaps it to write a
        #: rehearsal's deliveries to a file instead of sending them (leyden.rehearsal)
        self.attempt: Callable[[Binding, Sequence[Event]], Awaitable[DeliveryResult]] = Binding.send

    # --- handlers ------------------------------------------------------------------------

    def bind(self, key: str, handler: Any, fields: Mapping[str, str] | None = None) -> Binding:
        """``handler`` sends the rows of ``key`` from now on (a rebind after a restart or a
        task restart replaces the detached one)."""
        binding = Binding.of(key, handler, fields or {})
        old = self._retired.pop(key, None)
        if old is not None and old.handler is not handler:
            self._close_soon(old)
        self._bindings[key] = binding
        self._learn(binding.destination, binding)
        return binding

    def unbind(self, key: str, handler: Any, *, dead_reason: str = "") -> None:
        """``handler`` is detached from ``key``.  With ``dead_reason`` (the handler or its task
        was deleted) its queued rows are dead-lettered; without, it keeps sending what it has."""
        binding = self._bindings.get(key)
        if binding is None or binding.handler is not handler:
            return
        del self._bindings[key]
        if dead_reason:
            self.dead_letter(key, dead_reason, binding)
            self._close_soon(binding)
        else:
            self._retired[key] = binding
            self._settled(key, 0)

    def dead_letter(self, key: str, reason: str, binding: Binding | None = None) -> int:
        """Dead-letter every queued row of handler ``key`` (its task or the topic handler was
        deleted), counted and logged once; how many."""
        binding = binding or self._binding(key)
        try:
            count = self.outbox.mark_handler_dead(key, reason)
        except Exception as exc:
            self._store_failed("dead-letter deliveries", exc)
            return 0
        if count:
            kind = binding.kind if binding is not None else ""
            destination = binding.destination if binding is not None else ""
            self._lost(key, kind, destination, count, reason, {})
        return count

    def _settled(self, key: str, count: int) -> None:
        """``count`` rows of ``key`` are sent or dead; a detached handler with nothing left
        is closed (its binding stays, in case an operator retries one of its rows)."""
        left = self._outstanding[key] - count
        if left > 0:
            self._outstanding[key] = left
            return
        self._outstanding.pop(key, None)
        retired = self._retired.get(key)
        if retired is not None and not self._sending_key(key):
            self._close_soon(retired)

    def _sending_key(self, key: str) -> bool:
        return any(key in keys for keys in self._sending_keys.values())

    def add_loss_listener(self, listener: LossListener) -> None:
        """``listener(handler_key, count)`` is called for every row lost (dead-lettered)."""
        self._loss_listeners.append(listener)

    def _binding(self, key: str) -> Binding | None:
        return self._bindings.get(key) or self._retired.get(key)

    def _learn(self, destination: str, binding: Binding) -> None:
        limit = self._claim_limit.get(destination, 0)
        self._claim_limit[destination] = max(limit, binding.max_batch)
        if binding.paced:
            self._paced.add(destination)
        limits = binding.rate_limits()
        if limits:
            self._limits[destination] = limits

    # --- intake --------------------------------------------------------------------------

    def queued(self, destinations: Mapping[str, str], keys: Mapping[str, int]) -> None:
        """Rows were committed: ``destinations`` maps each destination to one of its handler
        keys, ``keys`` counts the rows per handler key.  They are tried at the next round."""
        self._outstanding.update(keys)
        now = self._clock()
        for destination, key in destinations.items():
            binding = self._binding(key)
            if binding is not None:
                self._learn(destination, binding)
            self._wake[destination] = min(self._wake.get(destination, now), now)
        self._kick()

    def _kick(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    # --- the loop ------------------------------------------------------------------------

    def recover(self) -> int:
        """At start: rows a killed process had in flight are queued again, and every queued
        row is scheduled; the number requeued."""
        requeued = self.outbox.requeue_in_flight()
        now = self._clock()
        for row in self.outbox.find(state=DeliveryState.QUEUED):
            self._outstanding[row.handler] += 1
            binding = self._binding(row.handler)
            if binding is not None:
                self._learn(row.destination, binding)
            at = max(now, row.next_attempt)
            self._wake[row.destination] = min(self._wake.get(row.destination, at), at)
            if at > now:
                self._later.setdefault(row.destination, []).append(at)
        for breaker in self.breakers:
            self._log.warning(
                "webhook still broken since the last run: its deliveries stay held until its "
                "URL changes or a delivery is retried (leyden retry-delivery)",
                extra={
                    "fields": {
                        "destination": breaker.destination,
                        "since": _time_text(breaker.opened),
                        "reason": breaker.reason,
                    }
                },
            )
        return requeued

    def start(self) -> None:
        """Recover, then run in the background until :meth:`stop`."""
        if self._started:
            return
        self._started = True
        requeued = self.recover()
        if requeued:
            self._log.info(
                "requeued alert deliveries that were in flight at the last stop",
                extra={"fields": {"count": requeued}},
            )
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        assert self._wakeup is not None
        # Not ``while True``: Python 3.11's wait_for swallows a cancel that arrives as the
        # wakeup fires, and stop() then waited until the next age check (a minute).
        me = asyncio.current_task()
        while self._task is me:
            self._wakeup.clear()
            try:
                next_at = self._round()
            except Exception as exc:  # the store failed: try again soon, never stop sending
                self._store_failed("dispatch deliveries", exc)
                next_at = self._clock() + 1.0
            timeout = next_at - self._clock()
            if timeout <= 0:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wakeup.wait(), None if math.isinf(timeout) else timeout
                )

    def _round(self) -> float:
        """Expire when due, start every send that may start now; when to look again."""
        now = self._clock()
        if now >= self._next_expire:
            self._next_expire = now + self.settings.expire_interval
            self.expire()
            self.rescan()
        return min(self._dispatch(), self._next_expire)

    def rescan(self) -> None:
        """Look at every destination with queued rows again: rows an operator retried
        (``leyden retry-delivery``) or changed behind the dispatcher's back.  Runs with every
        age check; an API that changes rows may call it (then :meth:`_kick` wakes the loop)."""
        now = self._clock()
        for stats in self.outbox.stats():
            if stats.queued and stats.destination not in self._wake:
                self._wake[stats.destination] = now
        self._kick()

    async def step(self) -> float:
        """One round and its sends, awaited (for tests on a simulated clock): the clock time
        of the next round (a retry, pacing, or the next check of the rows' age)."""
        next_at = self._round()
        while self._sending:
            await asyncio.gather(*self._sending.values())
            next_at = self._round()
        return next_at

    async def drain(self) -> None:
        """Send until nothing is ready now: rows waiting for a retry later stay queued; waits
        for pacing (Discord's buckets, a 429's ``retry_after``), which is short."""
        while True:
            self._dispatch()
            if self._sending:
                await asyncio.wait(list(self._sending.values()))
                continue
            if math.isinf(self._pacing_next):
                if self._closing:
                    await asyncio.gather(*list(self._closing), return_exceptions=True)
                return
            await asyncio.sleep(max(0.0, self._pacing_next - self._clock()))

    def _dispatch(self) -> float:
        now = self._clock()
        next_at = math.inf
        self._pacing_next = math.inf
        loop = asyncio.get_running_loop()
        for destination in list(self._wake):
            if destination in self._sending:
                continue
            at = self._wake[destination]
            if at > now:
                next_at = min(next_at, at)
                continue
            if self._held(destination):  # woken again by a new row or a rescan
                del self._wake[destination]
                self._later.pop(destination, None)
                continue
            if destination in self._paced:
                ready = self.pacer.next_send(destination)
                if ready > max(now, self._clock()):
                    self._pacing_next = min(self._pacing_next, ready)
                    next_at = min(next_at, ready)
                    continue
                guard_at = self._guard_ready()
                if guard_at > max(now, self._clock()):  # long: drain() does not wait for it
                    next_at = min(next_at, guard_at)
                    continue
            limits = self._limits.get(destination)
            if limits:
                ready = self.throttle.next_send(limits)
                if ready > max(now, self._clock()):
                    if ready - now <= DRAIN_WAIT_MAX:  # short: drain() waits for it
                        self._pacing_next = min(self._pacing_next, ready)
                    next_at = min(next_at, ready)
                    continue
            claimed = self._claim(destination)
            if claimed is None:
                later = [t for t in self._later.get(destination, ()) if t > now]
                if later:
                    self._later[destination] = later
                    self._wake[destination] = min(later)
                    next_at = min(next_at, min(later))
                else:
                    del self._wake[destination]
                    self._later.pop(destination, None)
                continue
            binding, rows = claimed
            # the handler's limits now (a config update may have changed its token or channel);
            # started now: the next destination of this round sees the slot taken
            current = binding.rate_limits()
            if current:
                self._limits[destination] = current
                self.throttle.started(current)
            self._sending_keys[destination] = {row.handler for row in rows}
            self._sending[destination] = loop.create_task(self._send(destination, binding, rows))
        return next_at

    # --- broken webhooks -----------------------------------------------------------------

    def _held(self, destination: str) -> bool:
        """Whether ``destination``'s breaker is open; a URL that changed since closes it."""
        breaker = self.breakers.get(destination)
        if breaker is None:
            return False
        current = self._fingerprint(destination)
        if current is not None and current != breaker.fingerprint:
            self.reset_breaker(destination, "its URL changed")
            return False
        return True

    def _fingerprint(self, destination: str) -> str | None:
        """The fingerprint of ``destination``'s URL now, from a handler bound to it; when
        none is (restarted with a new webhook: its handlers have another destination now),
        from the handler of its held rows, which sends them through its current URL.  None
        when no such handler runs: then only a retry closes its breaker."""
        for binding in (*self._bindings.values(), *self._retired.values()):
            if binding.destination == destination and binding.breaker:
                return binding.fingerprint()
        for row in self.outbox.find(state=DeliveryState.QUEUED):
            if row.destination == destination:
                owner = self._binding(row.handler)
                if owner is not None and owner.breaker:
                    return owner.fingerprint()
        return None

    def reset_breaker(self, destination: str, why: str) -> bool:
        """Close ``destination``'s breaker (an operator retried, its URL changed): its rows
        are tried again now.  False if it was not open."""
        breaker = self.breakers.close(destination)
        if breaker is None:
            return False
        self._log.warning(
            "webhook breaker closed: its held deliveries are tried again",
            extra={"fields": {"destination": destination, "why": why}},
        )
        now = self._clock()
        self._wake[destination] = min(self._wake.get(destination, now), now)
        self._kick()
        return True

    def reset_breakers(self, why: str) -> int:
        """Close every open breaker (``leyden retry-delivery -all``); how many."""
        return sum(self.reset_breaker(b.destination, why) for b in self.breakers)

    def _trip(
        self, destination: str, binding: Binding, rows: list[Delivery], result: DeliveryResult
    ) -> None:
        """``result`` says the destination is broken: open its breaker, keep the rows queued
        (due now, so they go first once it closes), say so once, loudly."""
        now = self._clock()
        reason = result.describe()
        self._later.pop(destination, None)
        try:
            self.breakers.open(
                destination,
                kind=binding.kind,
                fingerprint=binding.fingerprint(),
                result=result,
                now=now,
            )
        except Exception as exc:  # open in memory all the same: never hammer a dead webhook
            self._store_failed("store a webhook breaker", exc)
        with self.outbox.transaction():
            for row in rows:
                self.outbox.retry_at(row.id, now, reason)
        self.counters.breaker_opened[(binding.kind, destination)] += 1
        fields: dict[str, Any] = {**binding.fields, "destination": destination}
        fields["status"] = result.status
        if result.code is not None:
            fields["code"] = result.code
        fields["reason"] = reason
        fields["events"] = len(rows)
        self._log.error(
            "webhook is broken: no more requests to it; its deliveries are held in the outbox "
            "until its URL changes or one is retried (leyden retry-delivery)",
            extra={"fields": fields},
        )

    def _guard_ready(self) -> float:
        """When paced requests may start as far as the invalid-request guard is concerned;
        logs when it lets them through again."""
        at = self.guard.ready_at()
        if self._guard_paused and at <= self._clock():
            self._guard_paused = False
            self._log.warning(
                "requests to Discord resume: the invalid-request window has room again",
                extra={"fields": {"invalid": self.guard.in_window(), "limit": self.guard.limit}},
            )
        return at

    def _count_invalid(self, result: DeliveryResult) -> None:
        if self.guard.record(result):
            self._guard_paused = True
            wait = self.guard.ready_at() - self._clock()
            self._log.error(
                "too many invalid answers from Discord (401, 403, 404, 429): every request "
                "to Discord pauses so the host is not banned",
                extra={
                    "fields": {
                        "invalid": self.guard.in_window(),
                        "limit": self.guard.limit,
                        "window": f"{self.guard.window:g}s",
                        "resume_in": f"{max(0.0, wait):.3g}s",
                    }
                },
            )

    # --- claims --------------------------------------------------------------------------

    def _claim(self, destination: str) -> tuple[Binding, list[Delivery]] | None:
        limit = self._claim_limit.get(destination, _DEFAULT_CLAIM)
        while True:
            rows = self.outbox.claim(limit, destination=destination)
            if not rows:
                return None
            first = self._binding(rows[0].handler)
            if first is None:
                self._gone(rows[0])
                self.outbox.release(r.id for r in rows[1:])
                continue
            batch: list[Delivery] = []
            rest: list[int] = []
            for row in rows:
                other = self._binding(row.handler)
                if (
                    len(batch) < first.max_batch
                    and other is not None
                    and other.coalesce_key == first.coalesce_key
                    and other.kind == first.kind
                ):
                    batch.append(row)
                else:
                    rest.append(row.id)
            if rest:
                self.outbox.release(rest)
            if first.max_batch > 1:
                batch = self._with_digest(batch)
            return first, batch

    def _with_digest(self, batch: list[Delivery]) -> list[Delivery]:
        """Under a backlog, each head's later (old enough) states of its alert follow it."""
        cutoff = self._clock() - self.settings.digest_after
        if min(row.created for row in batch) >= cutoff:
            return batch
        out: list[Delivery] = []
        for row in batch:
            out.append(row)
            if row.created < cutoff:
                out.extend(
                    self.outbox.claim_following(
                        row, before=cutoff, limit=self.settings.digest_limit
                    )
                )
        return out

    def _gone(self, row: Delivery) -> None:
        reason = (
            "handler not running: its task was stopped, deleted or redefined without it, "
            "or the topic handler was deleted"
        )
        if self.outbox.mark_dead(row.id, reason):
            self._lost(row.handler, row.kind, row.destination, 1, reason, {"id": row.alert_id})

    async def _send(self, destination: str, binding: Binding, rows: list[Delivery]) -> None:
        try:
            events: list[Event] = []
            readable: list[Delivery] = []
            for row in rows:
                try:
                    events.append(row.to_event())
                except ValueError as exc:
                    if self.outbox.mark_dead(row.id, str(exc)):
                        self._lost(row.handler, row.kind, destination, 1, str(exc), {})
                    continue
                readable.append(row)
            if not readable:
                return
            paced = destination in self._paced or binding.paced
            if paced:
                self._paced.add(destination)
                self.pacer.started(destination)
            limits = self._limits.get(destination, ())
            self.counters.requests[(binding.kind, destination)] += 1
            try:
                result = await self.attempt(binding, events)
            except asyncio.CancelledError:
                if paced:
                    self.pacer.finished(destination, status=None)
                raise  # the rows stay in flight: the next start requeues them
            except ValueError as exc:  # the event cannot be encoded (a NaN, as Go's json refuses)
                why = str(exc) if str(exc).startswith("json: ") else type(exc).__name__
                result = DeliveryResult("permanent", None, f"cannot encode the event: {why}")
            except Exception as exc:  # a handler bug must not stop the dispatcher
                result = DeliveryResult("retry", None, f"unexpected {type(exc).__name__}")
            if paced:
                self.pacer.finished(
                    destination,
                    status=result.status,
                    headers=result.headers,
                    retry_after=result.retry_after if result.status == 429 else None,
                )
                self._count_invalid(result)
            if limits and result.status == 429 and result.retry_after is not None:
                self.throttle.hold(limits, result.retry_after)
            try:
                self._settle(destination, binding, readable, result)
            except Exception as exc:
                self._store_failed("record a delivery", exc)
        finally:
            self._sending.pop(destination, None)
            for key in self._sending_keys.pop(destination, ()):
                retired = self._retired.get(key)
                if retired is not None and self._outstanding[key] <= 0:
                    self._outstanding.pop(key, None)
                    self._close_soon(retired)
            now = self._clock()
            # to the back of the round: destinations sharing a rate limit take turns
            self._wake[destination] = min(self._wake.pop(destination, now), now)
            self._kick()

    def _settle(
        self, destination: str, binding: Binding, rows: list[Delivery], result: DeliveryResult
    ) -> None:
        key = (binding.kind, destination)
        counters = self.counters
        if result.delivered:
            with self.outbox.transaction():
                for row in rows:
                    self.outbox.mark_sent(row.id)
            counters.sent[key] += len(rows)
            for row in rows:
                self._settled(row.handler, 1)
            return
        counters.failed[key] += len(rows)
        reason = result.describe()
        if self.settings.breaker and binding.breaker and breaks(result):
            self._trip(destination, binding, rows, result)
            return
        if result.outcome == "permanent":
            with self.outbox.transaction():
                dead = [row for row in rows if self.outbox.mark_dead(row.id, reason)]
            for row in dead:
                self._lost(row.handler, row.kind, destination, 1, reason, {"id": row.alert_id})
            return
        now = self._clock()
        if result.status == 429:
            counters.rate_limited[key] += 1
        if result.status == 429 and result.retry_after is not None:
            wait = result.retry_after
        else:  # a 429 with no hint (a .post() endpoint's) backs off too, never a hot loop
            attempts = max(row.attempts for row in rows)
            wait = backoff(
                attempts,
                base=self.settings.backoff_base,
                cap=self.settings.backoff_cap,
                random=self._random,
            )
            if result.retry_after is not None:
                wait = max(wait, result.retry_after)
        when = now + wait
        with self.outbox.transaction():
            for row in rows:
                self.outbox.retry_at(row.id, when, reason)
        counters.retried[key] += len(rows)
        self._later.setdefault(destination, []).append(when)
        self._log.warning(
            "alert delivery failed; will retry",
            extra={
                "fields": {
                    **binding.fields,
                    "destination": destination,
                    "events": len(rows),
                    "attempt": max(row.attempts for row in rows),
                    "retry_in": f"{wait:.3g}s",
                    "reason": reason,
                }
            },
        )

    # --- losses --------------------------------------------------------------------------

    def expire(self) -> int:
        """Dead-letter queued rows older than ``max_age``; how many.  Rows held by an open
        breaker expire too, and their reason says so (see :mod:`leyden.delivery.breaker`)."""
        notes = {
            b.destination: f"held while the webhook was broken: {b.reason}" for b in self.breakers
        }
        rows = self.outbox.expire(self.settings.max_age, notes=notes)
        for row in rows:
            self._lost(
                row.handler, row.kind, row.destination, 1, row.last_error, {"id": row.alert_id}
            )
        return len(rows)

    def _lost(
        self,
        key: str,
        kind: str,
        destination: str,
        count: int,
        reason: str,
        extra: Mapping[str, str],
    ) -> None:
        self.counters.dead[(kind, destination)] += count
        self.losses[key] += count
        self._settled(key, count)
        binding = self._binding(key)
        fields: dict[str, Any] = dict(binding.fields) if binding is not None else {"handler": kind}
        fields.update(extra)
        if count != 1:
            fields["events"] = count
        fields["reason"] = reason
        fields["delivery"] = "dead-lettered"
        # a handler that explains its losses itself (HipChat, gone: once) asks for no line each
        quiet = binding is not None and getattr(binding.handler, "quiet_losses", False)
        (self._log.debug if quiet else self._log.error)(
            "alert handler failed", extra={"fields": fields}
        )
        for listener in self._loss_listeners:
            listener(key, count)

    def _store_failed(self, doing: str, exc: Exception) -> None:
        self._log.error(
            f"failed to {doing}",
            extra={"fields": {"reason": f"{type(exc).__name__}: {exc}"}},
        )

    # --- shutdown ------------------------------------------------------------------------

    def close_later(self, handler: Any, fields: Mapping[str, str]) -> None:
        """Close a handler that sends nothing through the outbox (a routing one) soon;
        :meth:`drain` and :meth:`stop` wait for it."""
        self._close_soon(Binding.of("", handler, fields))

    def _close_soon(self, binding: Binding) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._close_handler(binding))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_handler(self, binding: Binding) -> None:
        try:
            await binding.handler.close()
        except Exception as exc:
            self._log.error(
                "closing alert handler failed",
                extra={"fields": {**binding.fields, "reason": type(exc).__name__}},
            )

    def busy(self) -> bool:
        """Whether a request is in flight or a destination still has rows to look at (cheap:
        no query; rows waiting for a retry keep their destination busy)."""
        return bool(self._sending) or bool(self._wake)

    def pending(self) -> int:
        """Rows not yet delivered and not dead: queued or in flight."""
        return sum(s.queued + s.in_flight for s in self.outbox.stats())

    async def stop(self, timeout: float | None = None) -> int:
        """Stop: keep sending what is ready for at most ``timeout`` seconds (None: until
        nothing is ready), then cancel what is in flight (those rows are requeued at the next
        start) and close the handlers.  The number of rows left in the outbox."""
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            self._kick()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            if timeout is None:
                await self.drain()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.drain(), timeout)
        finally:
            for task in list(self._sending.values()):
                task.cancel()
            for task in list(self._sending.values()):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._sending.clear()
        try:
            left = self.pending()
        except Exception as exc:
            self._store_failed("count deliveries", exc)
            left = 0
        bindings = [*self._bindings.values(), *self._retired.values()]
        self._bindings.clear()
        self._retired.clear()
        for binding in bindings:
            await self._close_handler(binding)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        self._started = False
        return left
