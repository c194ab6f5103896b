"""The PostgreSQL store (``[storage] url = "postgresql://..."``; issue 17 item 1).

The same repositories as :class:`leyden.store.sqlite.Store`, answered the same way (one test
suite, ``tests/store``, runs against both), on PostgreSQL through psycopg 3 and a
:class:`psycopg_pool.ConnectionPool`.  Why it is shaped this way:

* **The per-point path never waits on the network.**  Topic states are saved from the alert
  service's commit on the event loop (``leyden.alerting.topics.Topics.flush``); a round trip
  there would stall every task.  So the store keeps every stored topic state in memory
  (loaded once at open), answers :meth:`load_topic` from there, and writes
  :meth:`save_event`/:meth:`delete_event`/:meth:`delete_topic` behind: each call (or each
  :meth:`unit_of_work`, which gathers its calls into one batch) goes on a queue that one
  writer thread drains, committing everything queued in one transaction, in order (group
  commit, as the outbox does on SQLite).  A write that fails (the server went away) is
  retried with a growing pause until it commits or the store closes; :meth:`close` waits for
  the queue to drain (``close_timeout``) and logs how many writes it had to give up.
  Discord's incident messages, read and written from the dispatcher's sends, are kept and
  written behind the same way (as are the outbox and breakers: :mod:`leyden.delivery.pg_outbox`).
* **Everything else is written through** on a pooled connection and committed before the
  call returns, as in SQLite: task, template, handler and config changes come from the API,
  not from points, and a caller must read back what it wrote.
* **Migrations** (:data:`leyden.store.postgres_schema.MIGRATIONS`) mirror SQLite's step for
  step, so the schema version means the same tables; each step is one transaction under an
  advisory lock, so two servers starting together on a fresh database do not race.
* **No password anywhere.**  :attr:`location` (errors, logs, the repr) is the URL with its
  password replaced by ``***``, and a driver's message is scrubbed of the password too.

The delivery outbox and breakers own their queries (:mod:`leyden.delivery.pg_outbox`) and
write through :meth:`PostgresStore.write_behind`, so a turn's states and rows share one
transaction.  Not yet (issue 17 items 2-5): leases and sharing the work between instances,
``migrate-store``; one server per database.  API writes (tasks, handlers, config) block the
event loop for their round trip, which is acceptable off the per-point path but visible as
latency on a slow network.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import psycopg
import psycopg_pool

from leyden.config import redact_store_url
from leyden.go.types import Duration, Time
from leyden.model.alert import EventState, Level
from leyden.model.records import (
    HandlerRecord,
    IncidentMessage,
    OverrideRecord,
    TaskRecord,
    TemplateRecord,
)
from leyden.store.errors import StoreError
from leyden.store.postgres_schema import MIGRATIONS

__all__ = ["SCHEMA_VERSION", "PostgresStore"]

SCHEMA_VERSION = len(MIGRATIONS)
_T = TypeVar("_T")
_LOG = logging.getLogger("leyden.store")
#: the advisory lock that serializes migrations between servers (any fixed number)
_MIGRATION_LOCK = 0x4C6579646E
#: the advisory lock a server holds on its database for as long as its store is open
_SERVER_LOCK = 0x4C6579646F

#: one queued write: a statement and its parameters
_Op = tuple[str, tuple[Any, ...]]

_SAVE_EVENT = (
    "INSERT INTO topic_events VALUES (%s,%s,%s,%s,%s,%s,%s) "
    "ON CONFLICT (topic, event_id) DO UPDATE SET level = excluded.level, "
    "message = excluded.message, details = excluded.details, "
    "time = excluded.time, duration = excluded.duration"
)

_PUT_OVERRIDE = (
    "INSERT INTO config_overrides (section, element, options, created) VALUES (%s,%s,%s,%s) "
    "ON CONFLICT (section, element) DO UPDATE SET "
    "options = excluded.options, created = excluded.created"
)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _password(url: str) -> str:
    try:
        parts = urlsplit(url)
        found = parts.password or ""
        for name, value in parse_qsl(parts.query):
            if name.lower() == "password":
                found = found or value
    except ValueError:
        return ""
    return found


class PostgresStore:
    """A PostgreSQL database behind a running server; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
        close_timeout: float = 10.0,
        retry_cap: float = 5.0,
        exclusive: bool = True,
        lock_wait: float = 10.0,
        logger: logging.Logger | None = None,
    ) -> None:
        """Connect, migrate, and load the stored topic states; :class:`StoreError` (naming
        the URL without its password) if the database cannot be reached or read, or (with
        ``exclusive``, what a server asks for) another server still holds it after
        ``lock_wait`` seconds."""
        self.location = redact_store_url(url)
        self._secret = _password(url)
        self._log = logger or _LOG
        self._close_timeout = close_timeout
        self._retry_cap = retry_cap
        self._closed = False
        self._lock_wait = lock_wait
        # One connection first, for a clear error when the database cannot be reached (the
        # pool only retries and times out); a server keeps it to hold its lock.
        self._lock_conn: psycopg.Connection[Any] | None = self._first_connection(
            url, connect_timeout, exclusive
        )
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            open=False,
            timeout=connect_timeout,
            name="leyden-store",
            kwargs={"connect_timeout": max(1, int(connect_timeout))},
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except psycopg_pool.PoolTimeout:
            self._pool.close()
            if self._lock_conn is not None:
                self._lock_conn.close()
            raise StoreError(
                f"{self.location}: cannot open {pool_size} connections within "
                f"{connect_timeout:g} s (is max_connections too low?)"
            ) from None
        try:
            self._migrate()
            self._states = self._load_states()
            self._incidents = self._load_incidents()
        except BaseException:
            if self._lock_conn is not None:
                self._lock_conn.close()
            self._pool.close()
            raise
        self._queue: queue.Queue[list[_Op] | None] = queue.Queue()
        self._batch: list[_Op] | None = None  # the open unit of work's writes
        #: the open unit of work's (topic, event ID, state before) to put back on rollback
        self._undo: list[Callable[[], None]] | None = None
        self._pending = 0  # writes queued, not yet committed
        self._pending_lock = threading.Condition()
        self._writer = threading.Thread(
            target=self._write_behind, name="leyden-store-writer", daemon=True
        )
        self._writer.start()

    # --- plumbing --------------------------------------------------------------------------

    def _first_connection(
        self, url: str, timeout: float, exclusive: bool
    ) -> psycopg.Connection[Any] | None:
        """Connect once; with ``exclusive``, hold the database for this server, as SQLite's
        exclusive lock holds the file: a second server on it would send every queued delivery
        twice.  A session lock on a connection of its own, so it goes when this process does
        (even on ``kill -9``)."""
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)))
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise StoreError(
                f"{self.location}: cannot connect: {self._scrub(first) or type(exc).__name__}"
            ) from None
        if not exclusive:
            conn.close()
            return None
        # a server killed just before may still hold it for a moment (its backend exits
        # when it notices): wait up to ``lock_wait`` before calling the database taken
        deadline = time.monotonic() + self._lock_wait
        while True:
            try:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (_SERVER_LOCK,)).fetchone()
            except psycopg.Error as exc:
                conn.close()
                raise self._error("cannot lock the database", exc) from None
            if row and row[0]:
                return conn
            if time.monotonic() >= deadline:
                conn.close()
                raise StoreError(
                    f"{self.location}: the database is in use by another Leyden server "
                    "(sharing one between servers is not supported yet)"
                )
            time.sleep(0.1)

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _error(self, doing: str, exc: BaseException) -> StoreError:
        text = " ".join(str(exc).split()) or type(exc).__name__
        return StoreError(f"{self.location}: {doing}: {self._scrub(text)}")

    def _write(self, doing: str, action: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        if self._closed:
            raise StoreError(f"{self.location}: the store is closed")
        try:
            with self._pool.connection() as conn, conn.transaction():
                return action(conn)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self._error(doing, exc) from None

    def _read(self, doing: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self._write(doing, lambda conn: conn.execute(sql, params).fetchall())

    def query(self, doing: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` read now, on a pooled connection (for the tables other packages own
        the queries of: the outbox and breakers, read once at start)."""
        return self._read(doing, sql, params)

    def _json(self, text: str, what: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise StoreError(f"{self.location}: {what}: stored JSON is unreadable") from None

    def _migrate(self) -> None:
        def current(conn: psycopg.Connection[Any]) -> int:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            rows = conn.execute("SELECT version FROM schema_version").fetchall()
            if len(rows) > 1:
                raise StoreError(
                    f"{self.location}: schema_version has {len(rows)} rows, expected 1"
                )
            if not rows:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
                return 0
            return int(rows[0][0])

        version = self._write("create the schema", current)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.location}: written by a newer Leyden (schema version {version}; this "
                f"version understands up to {SCHEMA_VERSION}); upgrade Leyden or use another "
                "database"
            )

        def step(conn: psycopg.Connection[Any]) -> None:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            at = int(row[0]) if row else 0
            if at >= SCHEMA_VERSION:
                return
            for statement in MIGRATIONS[at]:
                conn.execute(statement)  # constant SQL
            conn.execute("UPDATE schema_version SET version = %s", (at + 1,))

        for _ in range(version, SCHEMA_VERSION):
            self._write("migrate the schema", step)

    def schema_version(self) -> int:
        return int(
            self._read("read the schema version", "SELECT version FROM schema_version")[0][0]
        )

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r}, {'closed' if self._closed else 'open'})"

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Commit what is queued (at most ``close_timeout`` seconds), then close the pool."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join(self._close_timeout)
        with self._pending_lock:
            lost = self._pending
        if lost:
            self._log.error(
                "topic states not saved at close",
                extra={"fields": {"store": self.location, "writes": lost}},
            )
        self._pool.close()
        if self._lock_conn is not None:
            # unlock first: closing only asks the backend to exit, and a server started right
            # after this one must find the database free
            with contextlib.suppress(psycopg.Error):
                self._lock_conn.execute("SELECT pg_advisory_unlock(%s)", (_SERVER_LOCK,))
            self._lock_conn.close()

    # --- write-behind of topic states -------------------------------------------------------

    def write_behind(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """Queue one statement for the writer thread: it commits in order after every write
        queued before it, in the open :meth:`unit_of_work`'s transaction if there is one.
        The outbox and breakers write through this, so they join the topic states' commit."""
        self._enqueue((sql, params))

    def _enqueue(self, op: _Op) -> None:
        if self._closed:
            raise StoreError(f"{self.location}: the store is closed")
        if self._batch is not None:
            self._batch.append(op)
            return
        with self._pending_lock:
            self._pending += 1
        self._queue.put([op])

    @contextmanager
    def unit_of_work(self, doing: str = "write") -> Iterator[None]:
        """The topic-state writes made inside go to the database in one transaction, when
        the block ends; if it raises they are dropped and the states in memory put back, as
        SQLite rolls back.  Nested blocks join the outermost one."""
        if self._batch is not None:
            yield
            return
        self._batch = []
        self._undo = []
        try:
            yield
        except BaseException:
            for undo in reversed(self._undo):
                undo()
            self._batch = None
            self._undo = None
            raise
        batch, self._batch, self._undo = self._batch, None, None
        if batch:
            with self._pending_lock:
                self._pending += len(batch)
            self._queue.put(batch)

    def wait_written(self, timeout: float | None = None) -> bool:
        """Block until every queued topic-state write is committed (tests, shutdown)."""
        with self._pending_lock:
            return self._pending_lock.wait_for(lambda: self._pending == 0, timeout)

    def _write_behind(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            ops: list[_Op] = []
            if first is None:
                stop = True
            else:
                ops.extend(first)
            while True:  # group commit: everything queued by now
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                else:
                    ops.extend(more)
            if ops:
                self._commit(ops, final=stop)

    def _commit(self, ops: list[_Op], *, final: bool) -> None:
        pause = 0.1
        while True:
            try:
                with self._pool.connection() as conn, conn.transaction():
                    self._apply(conn, ops)
                break
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                self._log.error(
                    "failed to save topic states, retrying",
                    extra={
                        "fields": {
                            "store": self.location,
                            "writes": len(ops),
                            "reason": self._scrub(" ".join(str(exc).split())),
                        }
                    },
                )
                if final or self._closed:
                    return  # close() reports them as not saved
                time.sleep(pause)
                pause = min(pause * 2, self._retry_cap)
        with self._pending_lock:
            self._pending -= len(ops)
            self._pending_lock.notify_all()

    @staticmethod
    def _apply(conn: psycopg.Connection[Any], ops: list[_Op]) -> None:
        # runs of one statement go as one executemany (pipelined: one round trip, not one
        # per row); the order of the statements is kept
        with conn.cursor() as cur:
            for sql, run in itertools.groupby(ops, key=lambda op: op[0]):
                rows = [params for _, params in run]
                if len(rows) == 1:
                    cur.execute(sql, rows[0])
                else:
                    cur.executemany(sql, rows)

    def _load_states(self) -> dict[str, dict[str, EventState]]:
        rows = self._read(
            "read topic states",
            "SELECT topic, event_id, level, message, details, time, duration FROM topic_events "
            "ORDER BY topic, event_id",
        )
        states: dict[str, dict[str, EventState]] = {}
        for topic, event_id, level, message, details, at, duration in rows:
            try:
                parsed = Level(level)
            except ValueError:
                raise StoreError(
                    f"{self.location}: event {event_id!r} of topic {topic!r}: "
                    f"unknown level {level!r}"
                ) from None
            states.setdefault(topic, {})[event_id] = EventState(
                id=event_id,
                message=message,
                details=details,
                time=Time(at),
                duration=Duration(duration),
                level=parsed,
            )
        return states

    # --- topic event states ----------------------------------------------------------------

    def save_event(self, topic: str, state: EventState) -> None:
        """Remember the latest state of one event ID; an OK state deletes it, as in Kapacitor."""
        if state.level == Level.OK:
            self.delete_event(topic, state.id)
            return
        row = (
            topic,
            state.id,
            int(state.level),
            state.message,
            state.details,
            int(state.time),
            int(state.duration),
        )
        self._enqueue((_SAVE_EVENT, row))
        stored = EventState(
            id=state.id,
            message=state.message,
            details=state.details,
            time=Time(int(state.time)),
            duration=Duration(int(state.duration)),
            level=state.level,
        )
        self._set(topic, state.id, stored)

    def _set(self, topic: str, event_id: str, state: EventState | None) -> None:
        if self._undo is not None:
            before = self._states.get(topic, {}).get(event_id)
            self._undo.append(lambda: self._remember(topic, event_id, before))
        self._remember(topic, event_id, state)

    def _remember(self, topic: str, event_id: str, state: EventState | None) -> None:
        if state is not None:
            self._states.setdefault(topic, {})[event_id] = state
            return
        states = self._states.get(topic)
        if states is not None:
            states.pop(event_id, None)
            if not states:
                del self._states[topic]

    def delete_event(self, topic: str, event_id: str) -> None:
        self._enqueue(
            ("DELETE FROM topic_events WHERE topic = %s AND event_id = %s", (topic, event_id))
        )
        self._set(topic, event_id, None)

    def load_topic(self, topic: str) -> dict[str, EventState]:
        """The stored (non-OK) states of ``topic`` by event ID, in event-ID order."""
        states = self._states.get(topic, {})
        return {event_id: states[event_id].copy() for event_id in sorted(states)}

    def delete_topic(self, topic: str) -> None:
        self._enqueue(("DELETE FROM topic_events WHERE topic = %s", (topic,)))
        for event_id in list(self._states.get(topic, {})):
            self._set(topic, event_id, None)

    def event_state_topics(self) -> list[str]:
        """Topics with stored states: Kapacitor re-creates them at start."""
        return sorted(self._states)

    # the SQLite store's longer names, for callers that use them
    def save_event_state(self, topic: str, state: EventState) -> None:
        self.save_event(topic, state)

    def delete_event_state(self, topic: str, event_id: str) -> None:
        self.delete_event(topic, event_id)

    def load_event_states(self, topic: str) -> dict[str, EventState]:
        return self.load_topic(topic)

    def delete_topic_states(self, topic: str) -> None:
        self.delete_topic(topic)

    # --- tasks -----------------------------------------------------------------------------

    def put_task(self, task: TaskRecord, *, replaces: str | None = None) -> None:
        """Create or replace ``task``; ``replaces`` names the old ID of a renamed task."""
        row = (
            task.id,
            task.type,
            _dumps([{"db": db, "rp": rp} for db, rp in task.dbrps]),
            task.tickscript,
            _dumps(dict(task.vars)),
            task.status,
            task.template_id,
            int(task.created),
            int(task.modified),
            None if task.last_enabled is None else int(task.last_enabled),
            task.error,
        )

        def action(conn: psycopg.Connection[Any]) -> None:
            if replaces is not None and replaces != task.id:
                conn.execute("DELETE FROM tasks WHERE id = %s", (replaces,))
            conn.execute("DELETE FROM tasks WHERE id = %s", (task.id,))
            conn.execute("INSERT INTO tasks VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", row)

        self._write(f"save task {task.id!r}", action)

    def _task(self, row: tuple[Any, ...]) -> TaskRecord:
        (tid, ttype, dbrps, script, vars_, status, template_id, created, modified, last, err) = row
        what = f"task {tid!r}"
        decoded = self._json(dbrps, what)
        try:
            pairs = tuple((str(d["db"]), str(d["rp"])) for d in decoded)
        except (TypeError, KeyError):
            raise StoreError(f"{self.location}: {what}: stored dbrps are unreadable") from None
        return TaskRecord(
            id=tid,
            type=ttype,
            dbrps=pairs,
            tickscript=script,
            vars=self._json(vars_, what),
            status=status,
            created=created,
            modified=modified,
            last_enabled=last,
            error=err,
            template_id=template_id,
        )

    def get_task(self, task_id: str) -> TaskRecord | None:
        rows = self._read(f"read task {task_id!r}", "SELECT * FROM tasks WHERE id = %s", (task_id,))
        return self._task(rows[0]) if rows else None

    def list_tasks(self) -> list[TaskRecord]:
        """Every task, sorted by ID."""
        rows = self._read("list tasks", 'SELECT * FROM tasks ORDER BY id COLLATE "C"')
        return [self._task(row) for row in rows]

    def delete_task(self, task_id: str) -> bool:
        """Forget the task and every template link it has; False if there was none."""

        def delete(conn: psycopg.Connection[Any]) -> bool:
            conn.execute("DELETE FROM template_tasks WHERE task_id = %s", (task_id,))
            return conn.execute("DELETE FROM tasks WHERE id = %s", (task_id,)).rowcount > 0

        return self._write(f"delete task {task_id!r}", delete)

    # --- task templates ------------------------------------------------------------------

    def put_template(self, template: TemplateRecord, *, replaces: str | None = None) -> None:
        """Create or replace ``template``; a rename drops the old ID and its task links."""
        row = (
            template.id,
            template.type,
            template.tickscript,
            int(template.created),
            int(template.modified),
        )

        def action(conn: psycopg.Connection[Any]) -> None:
            if replaces is not None and replaces != template.id:
                conn.execute("DELETE FROM templates WHERE id = %s", (replaces,))
                conn.execute("DELETE FROM template_tasks WHERE template_id = %s", (replaces,))
            conn.execute("DELETE FROM templates WHERE id = %s", (template.id,))
            conn.execute("INSERT INTO templates VALUES (%s,%s,%s,%s,%s)", row)

        self._write(f"save template {template.id!r}", action)

    def get_template(self, template_id: str) -> TemplateRecord | None:
        rows = self._read(
            f"read template {template_id!r}",
            "SELECT id, type, tickscript, created, modified FROM templates WHERE id = %s",
            (template_id,),
        )
        return TemplateRecord(*rows[0]) if rows else None

    def list_templates(self) -> list[TemplateRecord]:
        """Every template, sorted by ID."""
        rows = self._read(
            "list templates",
            'SELECT id, type, tickscript, created, modified FROM templates ORDER BY id COLLATE "C"',
        )
        return [TemplateRecord(*row) for row in rows]

    def delete_template(self, template_id: str) -> bool:
        """Forget the template and which tasks were made from it; False if there was none."""

        def action(conn: psycopg.Connection[Any]) -> bool:
            conn.execute("DELETE FROM template_tasks WHERE template_id = %s", (template_id,))
            cur = conn.execute("DELETE FROM templates WHERE id = %s", (template_id,))
            return cur.rowcount > 0

        return self._write(f"delete template {template_id!r}", action)

    def associate_task(self, template_id: str, task_id: str) -> None:
        self._write(
            f"associate task {task_id!r} with template {template_id!r}",
            lambda conn: conn.execute(
                "INSERT INTO template_tasks VALUES (%s,%s) ON CONFLICT DO NOTHING",
                (template_id, task_id),
            ),
        )

    def disassociate_task(self, template_id: str, task_id: str) -> None:
        self._write(
            f"disassociate task {task_id!r} from template {template_id!r}",
            lambda conn: conn.execute(
                "DELETE FROM template_tasks WHERE template_id = %s AND task_id = %s",
                (template_id, task_id),
            ),
        )

    def template_tasks(self, template_id: str) -> list[str]:
        """The IDs of the tasks made from ``template_id``, sorted."""
        rows = self._read(
            f"list the tasks of template {template_id!r}",
            "SELECT task_id FROM template_tasks WHERE template_id = %s "
            'ORDER BY task_id COLLATE "C"',
            (template_id,),
        )
        return [row[0] for row in rows]

    # --- topic handlers --------------------------------------------------------------------

    def put_handler(self, spec: HandlerRecord, *, replaces: str | None = None) -> None:
        """Create or replace a handler spec; ``replaces`` is the old ID of a renamed one."""
        row = (spec.topic, spec.id, spec.kind, spec.match, _dumps(dict(spec.options)))

        def action(conn: psycopg.Connection[Any]) -> None:
            if replaces is not None and replaces != spec.id:
                conn.execute(
                    "DELETE FROM topic_handlers WHERE topic = %s AND id = %s",
                    (spec.topic, replaces),
                )
            conn.execute(
                "INSERT INTO topic_handlers VALUES (%s,%s,%s,%s,%s) "
                "ON CONFLICT (topic, id) DO UPDATE SET kind = excluded.kind, "
                "match = excluded.match, options = excluded.options",
                row,
            )

        self._write(f"save handler {spec.id!r} of topic {spec.topic!r}", action)

    def _handler(self, row: tuple[Any, ...]) -> HandlerRecord:
        topic, hid, kind, match, options = row
        decoded = self._json(options, f"handler {hid!r} of topic {topic!r}")
        return HandlerRecord(topic=topic, id=hid, kind=kind, options=decoded, match=match)

    def get_handler(self, topic: str, handler_id: str) -> HandlerRecord | None:
        rows = self._read(
            f"read handler {handler_id!r} of topic {topic!r}",
            "SELECT * FROM topic_handlers WHERE topic = %s AND id = %s",
            (topic, handler_id),
        )
        return self._handler(rows[0]) if rows else None

    def list_handlers(self, topic: str | None = None) -> list[HandlerRecord]:
        """The handlers of ``topic`` (all topics when None), sorted by topic then ID."""
        if topic is None:
            rows = self._read(
                "list handlers",
                'SELECT * FROM topic_handlers ORDER BY topic COLLATE "C", id COLLATE "C"',
            )
        else:
            rows = self._read(
                f"list handlers of topic {topic!r}",
                'SELECT * FROM topic_handlers WHERE topic = %s ORDER BY id COLLATE "C"',
                (topic,),
            )
        return [self._handler(row) for row in rows]

    def delete_handler(self, topic: str, handler_id: str) -> bool:
        return self._write(
            f"delete handler {handler_id!r} of topic {topic!r}",
            lambda conn: (
                conn.execute(
                    "DELETE FROM topic_handlers WHERE topic = %s AND id = %s", (topic, handler_id)
                ).rowcount
                > 0
            ),
        )

    # --- config overrides ------------------------------------------------------------------

    def put_override(self, override: OverrideRecord) -> None:
        """Create or replace the override of one element; a replaced one keeps its position."""
        row = (override.section, override.element, _dumps(dict(override.options)), override.create)
        self._write(
            f"save config override {override.section}/{override.element}",
            lambda conn: conn.execute(_PUT_OVERRIDE, row),
        )

    def update_overrides(self, put: list[OverrideRecord], delete: list[tuple[str, str]]) -> None:
        """Delete then put several overrides in one transaction (one config-API update)."""

        def action(conn: psycopg.Connection[Any]) -> None:
            for section, element in delete:
                conn.execute(
                    "DELETE FROM config_overrides WHERE section = %s AND element = %s",
                    (section, element),
                )
            for record in put:
                conn.execute(
                    _PUT_OVERRIDE,
                    (record.section, record.element, _dumps(dict(record.options)), record.create),
                )

        self._write("save config overrides", action)

    def _override(self, row: tuple[Any, ...]) -> OverrideRecord:
        section, element, options, create = row
        decoded = self._json(options, f"config override {section}/{element}")
        return OverrideRecord(
            section=section, element=element, options=decoded, create=bool(create)
        )

    def get_override(self, section: str, element: str) -> OverrideRecord | None:
        rows = self._read(
            f"read config override {section}/{element}",
            "SELECT section, element, options, created FROM config_overrides "
            "WHERE section = %s AND element = %s",
            (section, element),
        )
        return self._override(rows[0]) if rows else None

    def list_overrides(self, section: str | None = None) -> list[OverrideRecord]:
        """Overrides in the order they were first made (added elements keep that order)."""
        if section is None:
            rows = self._read(
                "list config overrides",
                "SELECT section, element, options, created FROM config_overrides ORDER BY position",
            )
        else:
            rows = self._read(
                "list config overrides",
                "SELECT section, element, options, created FROM config_overrides "
                "WHERE section = %s ORDER BY position",
                (section,),
            )
        return [self._override(row) for row in rows]

    def delete_override(self, section: str, element: str) -> bool:
        return self._write(
            f"delete config override {section}/{element}",
            lambda conn: (
                conn.execute(
                    "DELETE FROM config_overrides WHERE section = %s AND element = %s",
                    (section, element),
                ).rowcount
                > 0
            ),
        )

    def server_id(self, name: str) -> str:
        """A random UUID made the first time ``name`` is asked for, the same one ever after."""
        fresh = str(uuid.uuid4())

        def get_or_make(conn: psycopg.Connection[Any]) -> str:
            conn.execute(
                "INSERT INTO server_ids (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (name, fresh),
            )
            row = conn.execute("SELECT value FROM server_ids WHERE name = %s", (name,)).fetchone()
            return str(row[0]) if row else fresh

        return self._write(f"read the {name} ID", get_or_make)

    # --- incident messages (Discord edit-in-place / forum-thread) ---------------------------
    # Read and written from the dispatcher's sends on the event loop: answered from memory
    # (loaded at open) and written behind, like the topic states.

    def _load_incidents(self) -> dict[tuple[str, str], IncidentMessage]:
        rows = self._read(
            "read the incident messages",
            "SELECT scope, alert_id, message_id, channel_id, thread_id, guild_id, level, peak, "
            "pinged, started FROM incident_messages",
        )
        incidents: dict[tuple[str, str], IncidentMessage] = {}
        for scope, alert, message, channel, thread, guild, level, peak, pinged, started in rows:
            incidents[(scope, alert)] = IncidentMessage(
                scope=scope,
                alert_id=alert,
                message_id=message,
                channel_id=channel,
                thread_id=thread,
                guild_id=guild,
                level=int(level),
                peak=int(peak),
                pinged=bool(pinged),
                started=int(started),
            )
        return incidents

    def _set_incident(self, key: tuple[str, str], record: IncidentMessage | None) -> None:
        if self._undo is not None:
            before = self._incidents.get(key)
            self._undo.append(lambda: self._keep_incident(key, before))
        self._keep_incident(key, record)

    def _keep_incident(self, key: tuple[str, str], record: IncidentMessage | None) -> None:
        if record is None:
            self._incidents.pop(key, None)
        else:
            self._incidents[key] = record

    def get_incident(self, scope: str, alert_id: str) -> IncidentMessage | None:
        """The message and thread of ``alert_id``'s incident under ``scope``, if any."""
        return self._incidents.get((scope, alert_id))

    def put_incident(self, record: IncidentMessage) -> None:
        """Create or replace the incident message of ``(record.scope, record.alert_id)``."""
        row = (
            record.scope,
            record.alert_id,
            record.message_id,
            record.channel_id,
            record.thread_id,
            record.guild_id,
            int(record.level),
            int(record.peak),
            bool(record.pinged),
            int(record.started),
        )
        self._enqueue(
            (
                "INSERT INTO incident_messages VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                "ON CONFLICT (scope, alert_id) DO UPDATE SET message_id = excluded.message_id, "
                "channel_id = excluded.channel_id, thread_id = excluded.thread_id, "
                "guild_id = excluded.guild_id, level = excluded.level, peak = excluded.peak, "
                "pinged = excluded.pinged, started = excluded.started",
                row,
            )
        )
        self._set_incident((record.scope, record.alert_id), record)

    def delete_incident(self, scope: str, alert_id: str) -> bool:
        """Forget the incident message of ``alert_id`` under ``scope``; False if none."""
        if (scope, alert_id) not in self._incidents:
            return False
        self._enqueue(
            (
                "DELETE FROM incident_messages WHERE scope = %s AND alert_id = %s",
                (scope, alert_id),
            )
        )
        self._set_incident((scope, alert_id), None)
        return True
