"""The delivery outbox: every event bound for a handler, durable before anything is sent.

Kapacitor hands events to each handler through an in-memory channel and forgets them once
tried: a failed POST, a full buffer (``topic-buffer-length``) or a restart loses them (its
issues #1607, #828, #1131). Leyden writes one row per (event, handler) first, in the same
transaction as the topic's new state, and a dispatcher sends from the rows. So:

* **At least once.** A row leaves the table only when its handler confirmed the send
  (:meth:`Outbox.mark_sent` deletes it). After ``kill -9``, :meth:`Outbox.requeue_in_flight`
  puts back what was being sent; only those can arrive twice.
* **Order per (destination, alert ID).** :meth:`Outbox.claim` hands out a row only when no
  earlier row (lower id) for the same destination and alert ID is still queued or in flight,
  so an OK never overtakes its CRITICAL, not even while the CRITICAL waits out a backoff.
  Different alerts and different destinations do not wait for each other.  Discord's
  ``edit-in-place`` relies on it: an incident's edit is only sent once its first post has
  answered with the message id (:mod:`leyden.notify.discord.incidents`).
* **Nothing dropped silently.** A row ends sent (deleted), or ``dead`` with a reason
  (:meth:`Outbox.mark_dead` for permanent failures, :meth:`Outbox.expire` past the maximum age,
  24 h by default); dead rows stay visible and can be retried or deleted by an operator.

Choices worth knowing:

* **Handler identity** is a stable string, so rows re-bind to their handler after a restart:
  :func:`topic_handler_key` (topic + handler ID) and :func:`task_handler_key` (task + node +
  the handler's index in the node). Parts are percent-encoded, so ``main:cpu:alert2`` as a
  topic name cannot be confused with a separator.
* **No secret is stored twice.** ``destination`` is redacted display text (a webhook URL
  without its token, a host and port); it groups rows for ordering, metrics and the CLI. The
  real target (URL with token, TLS settings) is re-derived from the handler's configuration at
  send time, which also means a rotated webhook token applies to what is still queued.
* **The event** is stored as Kapacitor's alert-data document (:mod:`leyden.model.alertdata`:
  the fields and value formats ``.post()`` sends, times as RFC3339Nano text) plus the previous
  level and a small ``context``: the topic, task, category and group, which alert data leaves
  out, and the name, tags and fields in the shape handler templates read them.  It is written
  with the standard library's C encoder rather than the Go-exact one: a storm commits hundreds
  of thousands of rows, and Go's byte layout is only needed when a handler sends (``.post()``
  renders it then).  :meth:`Delivery.to_event` rebuilds the
  :class:`~leyden.model.alert.Event`, whose Go alert-data JSON is the original's.
* **Times** are wall-clock seconds (``time.time()``), taken from the clock given to the outbox,
  so backoff and age survive a restart and tests run on a fake clock.
* **Attempts** count claims: a request that was started counts, whether or not it came back.

Two implementations answer every question the same way (one test suite runs against both):
:class:`MemoryOutbox` for tests and storeless runs, :class:`SqliteOutbox` on the server's
:class:`~leyden.store.Store` (table ``outbox``, schema version 2). Group commit: inside
``with outbox.transaction():`` (for SQLite, ``store.unit_of_work()``) call
``store.save_event_state(...)`` and ``outbox.add(...)``; both join the one transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import json
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote

from leyden.go.types import Duration, GoStruct, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.model.alertdata import level_text
from leyden.store import Store, StoreError

__all__ = [
    "DEFAULT_MAX_AGE",
    "Delivery",
    "DeliveryState",
    "DestinationStats",
    "MemoryOutbox",
    "NewDelivery",
    "Outbox",
    "SqliteOutbox",
    "task_handler_key",
    "topic_handler_key",
]

#: how long a row may wait to be delivered before it is dead-lettered (issue 10: 24 h)
DEFAULT_MAX_AGE = 24 * 3600.0


class DeliveryState(StrEnum):
    """Where a row is; a sent row is deleted, so there is no ``sent`` state in the table."""

    QUEUED = "queued"
    IN_FLIGHT = "in-flight"
    DEAD = "dead"


def topic_handler_key(topic: str, handler_id: str) -> str:
    """The stable identity of a topic handler: ``topic:<topic>:<handler id>``."""
    return f"topic:{quote(topic, safe='')}:{quote(handler_id, safe='')}"


def task_handler_key(task: str, node: str, index: int) -> str:
    """The stable identity of a TICKscript handler: ``task:<task>:<node>:<index>``, where
    ``index`` counts the node's handlers in script order (``.post()`` then ``.discord()``…)."""
    return f"task:{quote(task, safe='')}:{quote(node, safe='')}:{index}"


def _value(value: Any) -> Any:
    return value.rfc3339nano() if isinstance(value, Time) else value


def _event_text(event: Event) -> str:
    """The alert-data document of ``event`` (see the module docstring), one JSON text."""
    state = event.state
    result = event.data.result
    series = result.get("series") or None
    if series:
        series = [
            {**row, "values": [[_value(v) for v in values] for values in row.get("values") or ()]}
            if isinstance(row, dict)
            else row
            for row in series
        ]
    data: dict[str, Any] = {"series": series}
    if result.get("error"):
        data["error"] = result["error"]
    return json.dumps(
        {
            "id": state.id,
            "message": state.message,
            "details": state.details,
            "time": Time(state.time).rfc3339nano(),
            "duration": int(state.duration),
            "level": level_text(state.level),
            "data": data,
            "previousLevel": level_text(event.previous_level),
            "recoverable": bool(event.data.recoverable),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _context(event: Event) -> str:
    data = event.data
    return json.dumps(
        {
            "topic": event.topic,
            "name": data.name,
            "task": data.task_name,
            "category": data.category,
            "group": data.group,
            "tags": data.tags,
            "fields": data.fields,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A row to add: one event for one handler."""

    handler: str  # topic_handler_key(...) or task_handler_key(...)
    kind: str  # the handler kind: discord, post, tcp, log, exec …
    destination: str  # redacted display text; the ordering key together with alert_id
    alert_id: str
    event: str  # the alert-data document as JSON (see the module docstring)
    previous_level: Level
    context: str  # JSON: topic, name, task, category, group, tags, fields

    @classmethod
    def of(cls, event: Event, *, handler: str, kind: str, destination: str) -> NewDelivery:
        """The row for ``event`` bound for ``handler``."""
        return cls(
            handler=handler,
            kind=kind,
            destination=destination,
            alert_id=event.state.id,
            event=_event_text(event),
            previous_level=event.previous_level,
            context=_context(event),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """A row of the outbox."""

    id: int
    handler: str
    kind: str
    destination: str
    alert_id: str
    event: str
    previous_level: Level
    context: str
    state: DeliveryState
    attempts: int
    next_attempt: float  # wall-clock seconds
    created: float  # wall-clock seconds
    last_error: str  # safe to show: no URL, no token

    def to_event(self) -> Event:
        """The event as the handler saw it when the row was added."""
        try:
            data = json.loads(self.event)
            context = json.loads(self.context)
            state = EventState(
                id=data["id"],
                message=data["message"],
                details=data["details"],
                time=Time.parse_rfc3339(data["time"]),
                duration=Duration(data["duration"]),
                level=Level.parse(data["level"]),
            )
            result = data.get("data") or {}
            event_data = EventData(
                name=context["name"],
                task_name=context["task"],
                category=context["category"],
                group=context["group"],
                tags=context["tags"],
                fields=context["fields"],
                recoverable=bool(data["recoverable"]),
                result=_stored_result(result),
            )
            return Event(context["topic"], state, event_data, Level(self.previous_level))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"delivery {self.id}: the stored event is unreadable ({exc})"
            ) from None


def _stored_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """The stored ``models.Result`` with Go's field order again: its rows are structs
    (``name``, ``tags``, ``columns``, ``values``), not maps, so a handler that sends the
    alert-data JSON byte for byte (Kafka, TCP, log) writes them as Kapacitor does."""
    out: dict[str, Any] = GoStruct(type_name="models.Result")
    for key in ("series", "error"):
        value = result.get(key)
        if value is None:
            continue
        if key == "series" and isinstance(value, list):
            value = [
                GoStruct(row, type_name="models.Row") if isinstance(row, dict) else row
                for row in value
            ]
        out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class DestinationStats:
    """What ``/metrics`` shows per (kind, destination)."""

    kind: str
    destination: str
    queued: int
    in_flight: int
    dead: int
    oldest_queued_age: float  # seconds since the oldest queued row was added; 0 when none


class Outbox(Protocol):
    """The outbox as the dispatcher, the CLI and the API see it."""

    def transaction(self) -> contextlib.AbstractContextManager[object]:
        """A block whose writes commit together (and with the store's, for SQLite)."""
        ...

    def add(self, deliveries: Iterable[NewDelivery]) -> list[int]:
        """Queue rows, ready now, in one transaction; their ids, in order."""
        ...

    def claim(
        self,
        limit: int,
        *,
        destination: str | None = None,
        skip: Collection[str] = (),
    ) -> list[Delivery]:
        """Up to ``limit`` ready rows (due, and first of their (destination, alert ID) pair),
        oldest first, now in flight; only ``destination``'s when given, none of ``skip``'s."""
        ...

    def claim_following(self, head: Delivery, *, before: float, limit: int) -> list[Delivery]:
        """With ``head`` in flight: up to ``limit`` later queued rows of the same handler and
        (destination, alert ID), added before ``before``, oldest first, now in flight too
        (a backlog's intermediate states, sent in the same request as a digest)."""
        ...

    def mark_sent(self, delivery_id: int) -> bool:
        """The handler confirmed it: the row is deleted. False if it was already gone."""
        ...

    def release(self, delivery_ids: Iterable[int]) -> int:
        """Claimed rows that were not tried after all (they did not fit the batch) are queued
        again as they were, their claim not counted as an attempt; how many."""
        ...

    def retry_at(self, delivery_id: int, when: float, error: str) -> bool:
        """Back to queued, due at ``when``, with the reason of the failed attempt."""
        ...

    def mark_dead(self, delivery_id: int, reason: str) -> bool:
        """Dead-lettered: kept for the operator, never sent unless retried."""
        ...

    def mark_handler_dead(self, handler: str, reason: str) -> int:
        """Dead-letter every queued row of ``handler`` (deleted or redefined); how many."""
        ...

    def requeue_in_flight(self) -> int:
        """At start: rows a killed process was sending are queued again (due now)."""
        ...

    def expire(
        self, max_age: float = DEFAULT_MAX_AGE, *, notes: Mapping[str, str] | None = None
    ) -> list[Delivery]:
        """Queued rows older than ``max_age`` seconds become dead; the rows, as dead.
        ``notes`` adds a destination's own words to its rows' reason (why they waited)."""
        ...

    def get(self, delivery_id: int) -> Delivery | None: ...

    def find(
        self,
        pattern: str | None = None,
        *,
        state: DeliveryState | None = None,
        limit: int | None = None,
    ) -> list[Delivery]:
        """Rows by id; ``pattern`` is a glob over handler, destination and alert ID; at most
        ``limit`` rows (None: all), the first by id (the status page shows a few)."""
        ...

    def retry(self, delivery_id: int) -> bool:
        """A dead or waiting row is due now (``leyden retry-delivery ID``)."""
        ...

    def retry_all(self) -> int:
        """Every dead row is queued again, due now (``leyden retry-delivery -all``)."""
        ...

    def delete(self, delivery_id: int) -> bool: ...

    def stats(self) -> list[DestinationStats]:
        """Counts per (kind, destination), sorted; destinations with no row are absent."""
        ...


def _matches(delivery: Delivery, pattern: str | None) -> bool:
    if pattern is None:
        return True
    return any(
        fnmatch.fnmatchcase(text, pattern)
        for text in (delivery.handler, delivery.destination, delivery.alert_id)
    )


def _expired_reason(max_age: float, note: str = "") -> str:
    reason = f"expired: not delivered within {Duration(int(max_age * 1e9))}"
    return f"{reason} ({note})" if note else reason


def _stats(rows: Iterable[Delivery], now: float) -> list[DestinationStats]:
    grouped: dict[tuple[str, str], list[Delivery]] = {}
    for row in rows:
        grouped.setdefault((row.kind, row.destination), []).append(row)
    out = []
    for (kind, destination), group in sorted(grouped.items()):
        queued = [r.created for r in group if r.state == DeliveryState.QUEUED]
        out.append(
            DestinationStats(
                kind=kind,
                destination=destination,
                queued=len(queued),
                in_flight=sum(r.state == DeliveryState.IN_FLIGHT for r in group),
                dead=sum(r.state == DeliveryState.DEAD for r in group),
                oldest_queued_age=max(0.0, now - min(queued)) if queued else 0.0,
            )
        )
    return out


# --- in memory --------------------------------------------------------------------------------


class MemoryOutbox:
    """The outbox in a dict: for tests and runs without a store. Not crash-safe, by nature;
    :meth:`transaction` groups nothing of its own (there is nothing to roll back to after a
    crash) but opens ``unit_of_work`` when given one: a store that holds the topic states
    but not the outbox (PostgreSQL, for now) still commits each turn's states together."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        unit_of_work: Callable[[], contextlib.AbstractContextManager[object]] | None = None,
    ) -> None:
        self._clock = clock
        self._rows: dict[int, Delivery] = {}
        self._next_id = 1
        self._unit_of_work = unit_of_work

    @contextlib.contextmanager
    def transaction(self) -> Iterator[object]:
        if self._unit_of_work is None:
            yield self
            return
        with self._unit_of_work():
            yield self

    def add(self, deliveries: Iterable[NewDelivery]) -> list[int]:
        now = self._clock()
        ids = []
        for new in deliveries:
            row = Delivery(
                id=self._next_id,
                handler=new.handler,
                kind=new.kind,
                destination=new.destination,
                alert_id=new.alert_id,
                event=new.event,
                previous_level=Level(new.previous_level),
                context=new.context,
                state=DeliveryState.QUEUED,
                attempts=0,
                next_attempt=now,
                created=now,
                last_error="",
            )
            self._rows[row.id] = row
            ids.append(row.id)
            self._next_id += 1
        return ids

    def claim(
        self,
        limit: int,
        *,
        destination: str | None = None,
        skip: Collection[str] = (),
    ) -> list[Delivery]:
        now = self._clock()
        blocked: set[tuple[str, str]] = set()
        claimed: list[Delivery] = []
        for row in sorted(self._rows.values(), key=lambda r: r.id):
            if len(claimed) >= limit:
                break
            pair = (row.destination, row.alert_id)
            if row.state == DeliveryState.DEAD:
                continue
            first = pair not in blocked
            blocked.add(pair)
            if (
                first
                and row.state == DeliveryState.QUEUED
                and row.next_attempt <= now
                and (destination is None or row.destination == destination)
                and row.destination not in skip
            ):
                taken = dataclasses.replace(
                    row, state=DeliveryState.IN_FLIGHT, attempts=row.attempts + 1
                )
                self._rows[row.id] = taken
                claimed.append(taken)
        return claimed

    def claim_following(self, head: Delivery, *, before: float, limit: int) -> list[Delivery]:
        taken: list[Delivery] = []
        for row in sorted(self._rows.values(), key=lambda r: r.id):
            if len(taken) >= limit:
                break
            if (
                row.id > head.id
                and row.state == DeliveryState.QUEUED
                and row.handler == head.handler
                and row.destination == head.destination
                and row.alert_id == head.alert_id
                and row.created < before
            ):
                row = dataclasses.replace(
                    row, state=DeliveryState.IN_FLIGHT, attempts=row.attempts + 1
                )
                self._rows[row.id] = row
                taken.append(row)
        return taken

    def _update(self, delivery_id: int, allowed: Collection[DeliveryState], **changes: Any) -> bool:
        row = self._rows.get(delivery_id)
        if row is None or row.state not in allowed:
            return False
        self._rows[delivery_id] = dataclasses.replace(row, **changes)
        return True

    def mark_sent(self, delivery_id: int) -> bool:
        return self._rows.pop(delivery_id, None) is not None

    def release(self, delivery_ids: Iterable[int]) -> int:
        count = 0
        for delivery_id in delivery_ids:
            row = self._rows.get(delivery_id)
            if row is not None and row.state == DeliveryState.IN_FLIGHT:
                self._rows[delivery_id] = dataclasses.replace(
                    row, state=DeliveryState.QUEUED, attempts=max(0, row.attempts - 1)
                )
                count += 1
        return count

    def retry_at(self, delivery_id: int, when: float, error: str) -> bool:
        return self._update(
            delivery_id,
            (DeliveryState.IN_FLIGHT, DeliveryState.QUEUED),
            state=DeliveryState.QUEUED,
            next_attempt=when,
            last_error=error,
        )

    def mark_dead(self, delivery_id: int, reason: str) -> bool:
        return self._update(
            delivery_id,
            (DeliveryState.IN_FLIGHT, DeliveryState.QUEUED),
            state=DeliveryState.DEAD,
            last_error=reason,
        )

    def mark_handler_dead(self, handler: str, reason: str) -> int:
        ids = [
            r.id
            for r in self._rows.values()
            if r.handler == handler and r.state == DeliveryState.QUEUED
        ]
        for delivery_id in ids:
            self.mark_dead(delivery_id, reason)
        return len(ids)

    def requeue_in_flight(self) -> int:
        now = self._clock()
        ids = [r.id for r in self._rows.values() if r.state == DeliveryState.IN_FLIGHT]
        for delivery_id in ids:
            self._update(
                delivery_id,
                (DeliveryState.IN_FLIGHT,),
                state=DeliveryState.QUEUED,
                next_attempt=now,
            )
        return len(ids)

    def expire(
        self, max_age: float = DEFAULT_MAX_AGE, *, notes: Mapping[str, str] | None = None
    ) -> list[Delivery]:
        cutoff = self._clock() - max_age
        notes = notes or {}
        expired = []
        for row in sorted(self._rows.values(), key=lambda r: r.id):
            if row.state == DeliveryState.QUEUED and row.created < cutoff:
                self.mark_dead(row.id, _expired_reason(max_age, notes.get(row.destination, "")))
                expired.append(self._rows[row.id])
        return expired

    def get(self, delivery_id: int) -> Delivery | None:
        return self._rows.get(delivery_id)

    def find(
        self,
        pattern: str | None = None,
        *,
        state: DeliveryState | None = None,
        limit: int | None = None,
    ) -> list[Delivery]:
        rows = [
            row
            for row in sorted(self._rows.values(), key=lambda r: r.id)
            if (state is None or row.state == state) and _matches(row, pattern)
        ]
        return rows if limit is None else rows[: max(limit, 0)]

    def retry(self, delivery_id: int) -> bool:
        return self._update(
            delivery_id,
            (DeliveryState.DEAD, DeliveryState.QUEUED),
            state=DeliveryState.QUEUED,
            next_attempt=self._clock(),
        )

    def retry_all(self) -> int:
        ids = [r.id for r in self._rows.values() if r.state == DeliveryState.DEAD]
        for delivery_id in ids:
            self.retry(delivery_id)
        return len(ids)

    def delete(self, delivery_id: int) -> bool:
        return self._rows.pop(delivery_id, None) is not None

    def stats(self) -> list[DestinationStats]:
        return _stats(self._rows.values(), self._clock())


# --- SQLite -----------------------------------------------------------------------------------

_COLUMNS = (
    "id, handler, kind, destination, alert_id, event, previous_level, context, state, "
    "attempts, next_attempt, created, last_error"
)
_INSERT = (
    "INSERT INTO outbox (handler, kind, destination, alert_id, event, previous_level, context, "
    "state, attempts, next_attempt, created, last_error) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, '')"
)
# Ready: queued, due, and no earlier row of its (destination, alert ID) still to be sent.
_READY = (
    "SELECT " + _COLUMNS + " FROM outbox AS o "
    "WHERE o.state = 'queued' AND o.next_attempt <= ? {where}"
    "AND NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.destination = o.destination "
    "AND p.alert_id = o.alert_id AND p.id < o.id AND p.state IN ('queued', 'in-flight')) "
    "ORDER BY o.id LIMIT ?"
)


# The same for one destination, as a loose index scan over outbox_order: one hop per alert ID
# to its first row still to be sent, so a claim costs O(alerts · log rows), not a scan of a
# storm's whole backlog (500,000 rows for ten alert IDs made every claim half a second).
_HEADS = (
    "WITH RECURSIVE a(alert) AS ("
    "SELECT MIN(alert_id) FROM outbox WHERE destination = :d "
    "UNION ALL SELECT (SELECT MIN(alert_id) FROM outbox WHERE destination = :d "
    "AND alert_id > a.alert) FROM a WHERE a.alert IS NOT NULL) "
    "SELECT " + ", ".join(f"h.{c.strip()}" for c in _COLUMNS.split(",")) + " FROM a "
    "JOIN outbox AS h ON h.id = (SELECT id FROM outbox WHERE destination = :d "
    "AND alert_id = a.alert AND state IN ('queued', 'in-flight') ORDER BY id LIMIT 1) "
    "WHERE h.state = 'queued' AND h.next_attempt <= :now ORDER BY h.id LIMIT :limit"
)


class SqliteOutbox:
    """The outbox in the store's SQLite file (table ``outbox``); see the module docstring.

    Every method is one transaction, or joins the store's open unit of work.
    """

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def transaction(self) -> contextlib.AbstractContextManager[object]:
        return self._store.unit_of_work("commit alert events and deliveries")

    def _row(self, row: Sequence[Any]) -> Delivery:
        rid, handler, kind, dest, alert_id, event, prev, context, state, attempts, *rest = row
        nxt, made, err = rest
        try:
            return Delivery(
                id=rid,
                handler=handler,
                kind=kind,
                destination=dest,
                alert_id=alert_id,
                event=event,
                previous_level=Level(prev),
                context=context,
                state=DeliveryState(state),
                attempts=attempts,
                next_attempt=nxt,
                created=made,
                last_error=err,
            )
        except ValueError:
            raise StoreError(f"{self._store.path}: delivery {rid}: unreadable row") from None

    def _select(self, doing: str, sql: str, params: Sequence[Any] = ()) -> list[Delivery]:
        with self._store.unit_of_work(doing) as conn:
            rows = conn.execute(sql, params).fetchall()
        return [self._row(row) for row in rows]

    def _change(self, doing: str, sql: str, params: Sequence[Any]) -> int:
        with self._store.unit_of_work(doing) as conn:
            return conn.execute(sql, params).rowcount

    def _take(self, conn: sqlite3.Connection, rows: list[Delivery]) -> list[Delivery]:
        """``rows`` (read in ``conn``'s transaction) are in flight now: the claim counts as an
        attempt."""
        conn.executemany(
            "UPDATE outbox SET state = 'in-flight', attempts = attempts + 1 WHERE id = ?",
            [(row.id,) for row in rows],
        )
        return [
            dataclasses.replace(row, state=DeliveryState.IN_FLIGHT, attempts=row.attempts + 1)
            for row in rows
        ]

    def add(self, deliveries: Iterable[NewDelivery]) -> list[int]:
        now = self._clock()
        ids = []
        with self._store.unit_of_work("queue deliveries") as conn:
            for new in deliveries:
                cursor = conn.execute(
                    _INSERT,
                    (
                        new.handler,
                        new.kind,
                        new.destination,
                        new.alert_id,
                        new.event,
                        int(new.previous_level),
                        new.context,
                        now,
                        now,
                    ),
                )
                assert cursor.lastrowid is not None
                ids.append(cursor.lastrowid)
        return ids

    def claim(
        self,
        limit: int,
        *,
        destination: str | None = None,
        skip: Collection[str] = (),
    ) -> list[Delivery]:
        if destination is not None:
            if destination in skip:
                return []
            with self._store.unit_of_work("claim deliveries") as conn:
                rows = [
                    self._row(r)
                    for r in conn.execute(
                        _HEADS, {"d": destination, "now": self._clock(), "limit": limit}
                    )
                ]
                return self._take(conn, rows)
        where = ""
        params: list[Any] = [self._clock()]
        if skip:
            where += f"AND o.destination NOT IN ({','.join('?' * len(skip))}) "
            params.extend(skip)
        params.append(limit)
        with self._store.unit_of_work("claim deliveries") as conn:
            rows = [self._row(r) for r in conn.execute(_READY.format(where=where), params)]
            return self._take(conn, rows)

    def claim_following(self, head: Delivery, *, before: float, limit: int) -> list[Delivery]:
        with self._store.unit_of_work("claim deliveries") as conn:
            rows = [
                self._row(r)
                for r in conn.execute(
                    f"SELECT {_COLUMNS} FROM outbox WHERE destination = ? AND alert_id = ? "
                    "AND id > ? AND handler = ? AND state = 'queued' AND created < ? "
                    "ORDER BY id LIMIT ?",
                    (head.destination, head.alert_id, head.id, head.handler, before, limit),
                )
            ]
            return self._take(conn, rows)

    def mark_sent(self, delivery_id: int) -> bool:
        return (
            self._change(
                f"mark delivery {delivery_id} sent",
                "DELETE FROM outbox WHERE id = ?",
                (delivery_id,),
            )
            > 0
        )

    def release(self, delivery_ids: Iterable[int]) -> int:
        with self._store.unit_of_work("release deliveries") as conn:
            return sum(
                conn.execute(
                    "UPDATE outbox SET state = 'queued', attempts = MAX(0, attempts - 1) "
                    "WHERE id = ? AND state = 'in-flight'",
                    (delivery_id,),
                ).rowcount
                for delivery_id in delivery_ids
            )

    def retry_at(self, delivery_id: int, when: float, error: str) -> bool:
        return (
            self._change(
                f"reschedule delivery {delivery_id}",
                "UPDATE outbox SET state = 'queued', next_attempt = ?, last_error = ? "
                "WHERE id = ? AND state IN ('queued', 'in-flight')",
                (when, error, delivery_id),
            )
            > 0
        )

    def mark_dead(self, delivery_id: int, reason: str) -> bool:
        return (
            self._change(
                f"dead-letter delivery {delivery_id}",
                "UPDATE outbox SET state = 'dead', last_error = ? "
                "WHERE id = ? AND state IN ('queued', 'in-flight')",
                (reason, delivery_id),
            )
            > 0
        )

    def mark_handler_dead(self, handler: str, reason: str) -> int:
        return self._change(
            "dead-letter the deliveries of a handler",
            "UPDATE outbox SET state = 'dead', last_error = ? "
            "WHERE handler = ? AND state = 'queued'",
            (reason, handler),
        )

    def requeue_in_flight(self) -> int:
        return self._change(
            "requeue deliveries in flight",
            "UPDATE outbox SET state = 'queued', next_attempt = ? WHERE state = 'in-flight'",
            (self._clock(),),
        )

    def expire(
        self, max_age: float = DEFAULT_MAX_AGE, *, notes: Mapping[str, str] | None = None
    ) -> list[Delivery]:
        cutoff = self._clock() - max_age
        notes = notes or {}
        with self._store.unit_of_work("expire deliveries") as conn:
            rows = [
                self._row(row)
                for row in conn.execute(
                    f"SELECT {_COLUMNS} FROM outbox WHERE state = 'queued' AND created < ? "
                    "ORDER BY id",
                    (cutoff,),
                ).fetchall()
            ]
            dead = [
                dataclasses.replace(
                    row,
                    state=DeliveryState.DEAD,
                    last_error=_expired_reason(max_age, notes.get(row.destination, "")),
                )
                for row in rows
            ]
            conn.executemany(
                "UPDATE outbox SET state = 'dead', last_error = ? WHERE id = ?",
                [(row.last_error, row.id) for row in dead],
            )
        return dead

    def get(self, delivery_id: int) -> Delivery | None:
        rows = self._select(
            f"read delivery {delivery_id}",
            f"SELECT {_COLUMNS} FROM outbox WHERE id = ?",
            (delivery_id,),
        )
        return rows[0] if rows else None

    def find(
        self,
        pattern: str | None = None,
        *,
        state: DeliveryState | None = None,
        limit: int | None = None,
    ) -> list[Delivery]:
        where, params = ("", []) if state is None else ("WHERE state = ? ", [str(state)])
        # a pattern is matched here, after the query, so only without one can SQL stop early
        bounded = limit is not None and pattern is None
        sql = f"SELECT {_COLUMNS} FROM outbox {where}ORDER BY id" + (" LIMIT ?" if bounded else "")
        rows = self._select("list deliveries", sql, [*params, limit] if bounded else params)
        rows = [row for row in rows if _matches(row, pattern)]
        return rows if limit is None else rows[: max(limit, 0)]

    def retry(self, delivery_id: int) -> bool:
        return (
            self._change(
                f"retry delivery {delivery_id}",
                "UPDATE outbox SET state = 'queued', next_attempt = ? "
                "WHERE id = ? AND state IN ('queued', 'dead')",
                (self._clock(), delivery_id),
            )
            > 0
        )

    def retry_all(self) -> int:
        return self._change(
            "retry dead deliveries",
            "UPDATE outbox SET state = 'queued', next_attempt = ? WHERE state = 'dead'",
            (self._clock(),),
        )

    def delete(self, delivery_id: int) -> bool:
        return (
            self._change(
                f"delete delivery {delivery_id}",
                "DELETE FROM outbox WHERE id = ?",
                (delivery_id,),
            )
            > 0
        )

    def stats(self) -> list[DestinationStats]:
        now = self._clock()
        with self._store.unit_of_work("count deliveries") as conn:
            rows = conn.execute(
                "SELECT kind, destination, "
                "SUM(state = 'queued'), SUM(state = 'in-flight'), SUM(state = 'dead'), "
                "MIN(CASE WHEN state = 'queued' THEN created END) "
                "FROM outbox GROUP BY kind, destination ORDER BY kind, destination"
            ).fetchall()
        return [
            DestinationStats(
                kind=kind,
                destination=destination,
                queued=queued,
                in_flight=in_flight,
                dead=dead,
                oldest_queued_age=0.0 if oldest is None else max(0.0, now - oldest),
            )
            for kind, destination, queued, in_flight, dead, oldest in rows
        ]
