"""The delivery outbox and breakers on the PostgreSQL store (issue 17 item 1).

On SQLite the outbox runs its queries in the store's transaction (:class:`SqliteOutbox`).
On PostgreSQL a query is a network round trip, and the outbox is used from the event loop's
per-point commit (``leyden.alerting.topics.Topics.flush`` adds rows) and from the dispatcher:
neither may wait on the network.  So :class:`PostgresOutbox` is the in-memory outbox
(:class:`MemoryOutbox`: one implementation of the ordering and claiming rules) over a
journal: every row it sets or removes is also queued, as a statement, on the store's
write-behind queue (:meth:`leyden.store.postgres.PostgresStore.write_behind`).  The writer
commits the queue in order, and the rows added in a turn's unit of work commit in the same
transaction as the topic states of that turn, as on SQLite.  At open the rows are read back;
rows left in flight by a crash are put back by the dispatcher's ``requeue_in_flight`` at
start, as on SQLite.

Row IDs come from this process (one past the highest ever given, kept in the table's
sequence, so an ID is never reused), which is right while one server owns the database; sharing the outbox between instances (``FOR UPDATE SKIP LOCKED``
claims, issue 17 item 3) is not done yet.  Every row, dead ones included, is also kept in
memory, like the memory outbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from leyden.delivery.breaker import OpenBreaker
from leyden.delivery.outbox import Delivery, DeliveryState, MemoryOutbox, NewDelivery
from leyden.model.alert import Level
from leyden.store.postgres import PostgresStore

__all__ = ["PostgresBreakerStore", "PostgresOutbox"]

_COLUMNS = (
    "id, handler, kind, destination, alert_id, event, previous_level, context, state, "
    "attempts, next_attempt, created, last_error"
)
_INSERT = f"INSERT INTO outbox ({_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
_UPDATE = (
    "UPDATE outbox SET state = %s, attempts = %s, next_attempt = %s, last_error = %s WHERE id = %s"
)
_DELETE = "DELETE FROM outbox WHERE id = %s"


class _Journal(dict[int, Delivery]):
    """The memory outbox's rows; each change also becomes a statement for the database."""

    def __init__(self, write: Callable[[str, tuple[Any, ...]], None]) -> None:
        super().__init__()
        self._write = write

    def __setitem__(self, delivery_id: int, row: Delivery) -> None:
        if delivery_id in self:
            self._write(
                _UPDATE,
                (str(row.state), row.attempts, row.next_attempt, row.last_error, row.id),
            )
        else:
            self._write(
                _INSERT,
                (
                    row.id,
                    row.handler,
                    row.kind,
                    row.destination,
                    row.alert_id,
                    row.event,
                    int(row.previous_level),
                    row.context,
                    str(row.state),
                    row.attempts,
                    row.next_attempt,
                    row.created,
                    row.last_error,
                ),
            )
        super().__setitem__(delivery_id, row)

    def pop(self, delivery_id: int, default: Any = None) -> Any:
        if delivery_id in self:
            self._write(_DELETE, (delivery_id,))
        return super().pop(delivery_id, default)

    def load(self, row: Delivery) -> None:
        """A row read from the database: nothing to write."""
        super().__setitem__(row.id, row)


class PostgresOutbox(MemoryOutbox):
    """The outbox in memory, journaled to the store's ``outbox`` table; see the module."""

    def __init__(self, store: PostgresStore, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock, unit_of_work=store.unit_of_work)
        journal = _Journal(store.write_behind)
        for values in store.query(
            "read the delivery outbox", f"SELECT {_COLUMNS} FROM outbox ORDER BY id"
        ):
            (did, handler, kind, dest, alert, event, prev, context, state, att, nxt, made, err) = (
                values
            )
            journal.load(
                Delivery(
                    id=int(did),
                    handler=handler,
                    kind=kind,
                    destination=dest,
                    alert_id=alert,
                    event=event,
                    previous_level=Level(prev),
                    context=context,
                    state=DeliveryState(state),
                    attempts=int(att),
                    next_attempt=float(nxt),
                    created=float(made),
                    last_error=err,
                )
            )
        self._rows = journal
        self._store = store
        # IDs are never reused, as SQLite's AUTOINCREMENT: the sequence keeps the highest given
        (last, called) = store.query(
            "read the delivery outbox", "SELECT last_value, is_called FROM outbox_id_seq"
        )[0]
        self._next_id = max(max(journal, default=0), int(last) if called else 0) + 1

    def add(self, deliveries: Iterable[NewDelivery]) -> list[int]:
        ids = super().add(deliveries)
        if ids:
            self._store.write_behind("SELECT setval('outbox_id_seq', %s)", (ids[-1],))
        return ids


class PostgresBreakerStore:
    """Open breakers in the store's ``breakers`` table: read at start, written behind."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def load(self) -> list[OpenBreaker]:
        rows = self._store.query(
            "read the webhook breakers",
            "SELECT destination, kind, fingerprint, status, code, reason, opened "
            "FROM breakers ORDER BY destination",
        )
        return [OpenBreaker(*row) for row in rows]

    def save(self, breaker: OpenBreaker) -> None:
        self._store.write_behind(
            "INSERT INTO breakers (destination, kind, fingerprint, status, code, reason, opened) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (destination) DO UPDATE SET "
            "kind = excluded.kind, fingerprint = excluded.fingerprint, status = excluded.status, "
            "code = excluded.code, reason = excluded.reason, opened = excluded.opened",
            (
                breaker.destination,
                breaker.kind,
                breaker.fingerprint,
                breaker.status,
                breaker.code,
                breaker.reason,
                breaker.opened,
            ),
        )

    def remove(self, destination: str) -> None:
        self._store.write_behind("DELETE FROM breakers WHERE destination = %s", (destination,))
