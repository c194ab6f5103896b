"""Leyden's state on disk: tasks, task templates, topic handlers, alert states, config overrides, the
delivery outbox and Discord's incident messages in SQLite.

Kapacitor keeps the same things in BoltDB; Leyden keeps them in one SQLite file
(``Config.sqlite_path()``) so a restart finds tasks enabled, handlers registered and alerts in
the level they were left in.

Why it is shaped this way:

* **One connection, owned by the server's event-loop thread.** Writes are a few rows at a time,
  so every call is synchronous and commits before it returns; there is no writer thread and no
  queue to lose on a crash.  The one exception is :meth:`Store.backup`, which reads through
  the same connection from a thread of its own (the file's exclusive lock admits no other),
  one step at a time between transactions.
* **WAL mode, ``synchronous = NORMAL``.** A commit survives the process being killed
  (``kill -9``) at any point: SQLite either has the whole transaction or none of it. Only a
  power loss can take back the last few commits, and never leaves the file inconsistent.
* **Exclusive locking.** The file is locked for as long as the store is open, so a second
  server pointed at the same file fails at start with a clear message instead of both writing
  alert states behind each other's back.
* **Units of work.** :meth:`Store.unit_of_work` opens one transaction that every write made
  inside it joins (the store's own methods and the outbox's), so an alert's new state and the
  deliveries it causes commit together or not at all (issue 10: the restored state and the
  queued deliveries can never disagree).
* **Versioned schema.** ``schema_version`` holds one number; :data:`_MIGRATIONS` lists the
  steps that bring an older file forward, each applied in its own transaction. A file written
  by a newer Leyden is refused rather than guessed at.

Every failure is a :class:`StoreError` whose message names the file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import sleep as _sleep
from typing import Any, TypeVar

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

__all__ = ["SCHEMA_VERSION", "Store", "StoreError"]

_T = TypeVar("_T")


#: Each entry brings the schema from version ``index`` to ``index + 1``. Append, never edit;
#: each step gets its PostgreSQL twin in :mod:`leyden.store.postgres_schema` (tests/store checks).
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            dbrps TEXT NOT NULL,
            tickscript TEXT NOT NULL,
            vars TEXT NOT NULL,
            status TEXT NOT NULL,
            template_id TEXT NOT NULL,
            created INTEGER NOT NULL,
            modified INTEGER NOT NULL,
            last_enabled INTEGER,
            error TEXT NOT NULL
        )""",
        """CREATE TABLE topic_handlers (
            topic TEXT NOT NULL,
            id TEXT NOT NULL,
            kind TEXT NOT NULL,
            match TEXT NOT NULL,
            options TEXT NOT NULL,
            PRIMARY KEY (topic, id)
        )""",
        """CREATE TABLE topic_events (
            topic TEXT NOT NULL,
            event_id TEXT NOT NULL,
            level INTEGER NOT NULL,
            message TEXT NOT NULL,
            details TEXT NOT NULL,
            time INTEGER NOT NULL,
            duration INTEGER NOT NULL,
            PRIMARY KEY (topic, event_id)
        )""",
        """CREATE TABLE config_overrides (
            position INTEGER PRIMARY KEY AUTOINCREMENT,
            section TEXT NOT NULL,
            element TEXT NOT NULL,
            options TEXT NOT NULL,
            created INTEGER NOT NULL,
            UNIQUE (section, element)
        )""",
    ),
    # The delivery outbox (``leyden.delivery.outbox``, which owns its queries). Sent rows are
    # deleted; ``destination`` is redacted display text, the real target is re-derived from
    # the handler at send time so no secret is stored a second time.
    (
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            handler TEXT NOT NULL,
            kind TEXT NOT NULL,
            destination TEXT NOT NULL,
            alert_id TEXT NOT NULL,
            event TEXT NOT NULL,
            previous_level INTEGER NOT NULL,
            context TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('queued', 'in-flight', 'dead')),
            attempts INTEGER NOT NULL,
            next_attempt REAL NOT NULL,
            created REAL NOT NULL,
            last_error TEXT NOT NULL
        )""",
        "CREATE INDEX outbox_ready ON outbox (state, next_attempt)",
        "CREATE INDEX outbox_order ON outbox (destination, alert_id, id)",
    ),
    # Open delivery breakers (``leyden.delivery.breaker``, which owns its queries): a webhook
    # that answered 401/403/404 stays broken across a restart until its URL changes.  Keyed by
    # the outbox's redacted destination; ``fingerprint`` is a digest of the URL, never the URL.
    (
        """CREATE TABLE breakers (
            destination TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            status INTEGER,
            code INTEGER,
            reason TEXT NOT NULL,
            opened REAL NOT NULL
        )""",
    ),
    # Discord incident messages (``edit-in-place``, ``forum-thread``; issue 12): which message
    # and thread an alert's incident lives in, so a restart edits the same message.  ``scope``
    # is secret-free (a destination and a digest); no token is stored.
    (
        """CREATE TABLE incident_messages (
            scope TEXT NOT NULL,
            alert_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            thread_id TEXT NOT NULL,
            guild_id TEXT NOT NULL,
            level INTEGER NOT NULL,
            peak INTEGER NOT NULL,
            pinged INTEGER NOT NULL,
            started INTEGER NOT NULL,
            PRIMARY KEY (scope, alert_id)
        )""",
    ),
    # This server's identity (issue 13): the cluster and server IDs Kapacitor keeps in its
    # store and names its InfluxDB subscriptions after (``kapacitor-<cluster id>``), so a
    # restart finds the subscriptions it made.
    ("CREATE TABLE server_ids (name TEXT PRIMARY KEY, value TEXT NOT NULL)",),
    # Task templates (``/kapacitor/v1/templates``) and which tasks were made from each, kept
    # apart from ``tasks.template_id`` as Kapacitor keeps them: deleting a template forgets
    # its tasks (they keep running, and keep naming it) but leaves them alone.
    (
        """CREATE TABLE templates (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            tickscript TEXT NOT NULL,
            created INTEGER NOT NULL,
            modified INTEGER NOT NULL
        )""",
        """CREATE TABLE template_tasks (
            template_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            PRIMARY KEY (template_id, task_id)
        )""",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

_PUT_OVERRIDE = (
    "INSERT INTO config_overrides (section, element, options, created) VALUES (?,?,?,?) "
    "ON CONFLICT (section, element) DO UPDATE SET "
    "options = excluded.options, created = excluded.created"
)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class Store:
    """The SQLite file behind a running server; see the module docstring for the guarantees."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 2.0) -> None:
        """Open (creating if needed) and migrate the database at ``path``.

        ``busy_timeout`` is how long to wait for a lock held by another process before giving
        up with "locked"; ``":memory:"`` gives a private database that vanishes on close.
        """
        self.path = os.fspath(path)
        self._conn: sqlite3.Connection | None = None
        self._depth = 0  # open transactions, the outermost one included
        # held by each outermost transaction and by each step of a backup (see backup())
        self._tx_lock = threading.Lock()
        if self.path != ":memory:":
            parent = os.path.dirname(os.path.abspath(self.path))
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"{self.path}: cannot create the directory {parent}: {exc.strerror}"
                ) from None
            if os.path.isdir(self.path):
                raise StoreError(f"{self.path}: is a directory, not a SQLite database file")
        try:
            # check_same_thread=False only for backup(), which reads from a thread of its own
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._error("cannot open the database", exc) from None
        self._conn = conn
        try:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if self.path != ":memory:" and str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch the database to WAL mode ({mode})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
            # Take the exclusive lock now, so a second server fails here and not mid-write.
            with self._transaction():
                pass
        except sqlite3.Error as exc:
            conn.close()
            self._conn = None
            raise self._error("cannot open the database", exc) from None
        except StoreError:
            conn.close()
            self._conn = None
            raise

    # --- plumbing --------------------------------------------------------------------------

    def _error(self, doing: str, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        lowered = text.lower()
        if "locked" in lowered or "busy" in lowered:
            why = "the database is locked by another process (is another Leyden server using it?)"
        elif "not a database" in lowered or "file is encrypted" in lowered:
            why = "not a SQLite database (is [storage] sqlite pointing at the right file?)"
        elif "malformed" in lowered or "corrupt" in lowered:
            why = f"the database file is corrupt ({text})"
        elif "unable to open" in lowered:
            why = "cannot open the file (check the path and its permissions)"
        elif "readonly" in lowered or "read-only" in lowered:
            why = "the database is read-only (check the file's permissions)"
        else:
            why = text
        return StoreError(f"{self.path}: {doing}: {why}")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: the store is closed")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """All statements inside commit together or not at all (crash safety); inside an open
        transaction it joins that one, which then commits or rolls back the whole."""
        conn = self._connection()
        if self._depth:
            self._depth += 1
            try:
                yield conn
            finally:
                self._depth -= 1
            return
        with self._tx_lock:
            conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield conn
            except BaseException:
                self._depth = 0
                conn.execute("ROLLBACK")
                raise
            self._depth = 0
            conn.execute("COMMIT")

    @contextmanager
    def unit_of_work(self, doing: str = "write") -> Iterator[sqlite3.Connection]:
        """One transaction for several writes: the store's methods (and the outbox's) called
        inside join it, and it commits when the block ends, or rolls back if it raises.

        The connection is for the outbox's queries; a :class:`sqlite3.Error` becomes a
        :class:`StoreError` naming the file and ``doing``.
        """
        try:
            with self._transaction() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise self._error(doing, exc) from None

    def _write(self, doing: str, action: Callable[[sqlite3.Connection], _T]) -> _T:
        try:
            with self._transaction() as conn:
                return action(conn)
        except sqlite3.Error as exc:
            raise self._error(doing, exc) from None

    def _read(self, doing: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._error(doing, exc) from None

    def _json(self, text: str, what: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise StoreError(f"{self.path}: {what}: stored JSON is unreadable") from None

    def _migrate(self) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            rows = conn.execute("SELECT version FROM schema_version").fetchall()
            if len(rows) > 1:
                raise StoreError(f"{self.path}: schema_version has {len(rows)} rows, expected 1")
            if not rows:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = rows[0][0] if rows else 0
        if not isinstance(version, int) or version < 0:
            raise StoreError(f"{self.path}: schema_version holds {version!r}, not a version")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer Leyden (schema version {version}; this "
                f"version understands up to {SCHEMA_VERSION}); upgrade Leyden or use another file"
            )
        for step in range(version, SCHEMA_VERSION):
            with self._transaction() as tx:
                for statement in _MIGRATIONS[step]:
                    tx.execute(statement)
                tx.execute("UPDATE schema_version SET version = ?", (step + 1,))

    def backup(self, target: str | os.PathLike[str], *, pages: int = 256) -> None:
        """Copy the database, as it is at the end of the copy, into a new SQLite file at
        ``target`` (Kapacitor's ``GET /storage/backup``).  Meant for a thread of its own, so
        that the event loop goes on: SQLite's online backup copies ``pages`` at a time, each
        step holding the lock every transaction takes, so a step never sees half of one; a
        transaction committed between steps is copied too (same connection)."""
        source = self._connection()
        dest = sqlite3.connect(os.fspath(target), isolation_level=None)
        step_held = [self._tx_lock.acquire()]

        def between_steps(status: int, remaining: int, total: int) -> None:
            self._tx_lock.release()
            step_held[0] = False
            _sleep(0.001)  # the loop's transactions get their turn
            step_held[0] = self._tx_lock.acquire()
            if self._conn is None:  # closed meanwhile: the server is stopping
                raise StoreError(f"{self.path}: closed during the backup (the server is stopping)")

        try:
            source.backup(dest, pages=pages, progress=between_steps)
        except sqlite3.Error as exc:
            raise self._error(f"back up to {os.fspath(target)}", exc) from None
        finally:
            if step_held[0]:
                self._tx_lock.release()
            dest.close()

    def schema_version(self) -> int:
        return int(
            self._read("read the schema version", "SELECT version FROM schema_version")[0][0]
        )

    def close(self) -> None:
        """Close the connection and release the file lock; later calls raise StoreError."""
        if self._conn is not None:
            with self._tx_lock:  # not between a backup's steps
                conn, self._conn = self._conn, None
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise self._error("close the database", exc) from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"Store({self.path!r}, {state})"

    # --- tasks -----------------------------------------------------------------------------

    def put_task(self, task: TaskRecord, *, replaces: str | None = None) -> None:
        """Create or replace ``task``; ``replaces`` names the old ID when a task is renamed,
        so the rename is one transaction."""
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

        def action(conn: sqlite3.Connection) -> None:
            if replaces is not None and replaces != task.id:
                conn.execute("DELETE FROM tasks WHERE id = ?", (replaces,))
            conn.execute("INSERT OR REPLACE INTO tasks VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)

        self._write(f"save task {task.id!r}", action)

    def _task(self, row: tuple[Any, ...]) -> TaskRecord:
        (tid, ttype, dbrps, script, vars_, status, template_id, created, modified, last, err) = row
        what = f"task {tid!r}"
        decoded = self._json(dbrps, what)
        try:
            pairs = tuple((str(d["db"]), str(d["rp"])) for d in decoded)
        except (TypeError, KeyError):
            raise StoreError(f"{self.path}: {what}: stored dbrps are unreadable") from None
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
        rows = self._read(f"read task {task_id!r}", "SELECT * FROM tasks WHERE id = ?", (task_id,))
        return self._task(rows[0]) if rows else None

    def list_tasks(self) -> list[TaskRecord]:
        """Every task, sorted by ID."""
        rows = self._read("list tasks", "SELECT * FROM tasks ORDER BY id")
        return [self._task(row) for row in rows]

    def delete_task(self, task_id: str) -> bool:
        """Forget the task and every template link it has; False if there was none."""

        def delete(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM template_tasks WHERE task_id = ?", (task_id,))
            return conn.execute("DELETE FROM tasks WHERE id = ?", (task_id,)).rowcount > 0

        return self._write(f"delete task {task_id!r}", delete)

    # --- task templates ------------------------------------------------------------------

    def put_template(self, template: TemplateRecord, *, replaces: str | None = None) -> None:
        """Create or replace ``template``; ``replaces`` names the old ID when it is renamed
        (the old one and its task associations go in the same transaction)."""
        row = (
            template.id,
            template.type,
            template.tickscript,
            int(template.created),
            int(template.modified),
        )

        def action(conn: sqlite3.Connection) -> None:
            if replaces is not None and replaces != template.id:
                conn.execute("DELETE FROM templates WHERE id = ?", (replaces,))
                conn.execute("DELETE FROM template_tasks WHERE template_id = ?", (replaces,))
            conn.execute("INSERT OR REPLACE INTO templates VALUES (?,?,?,?,?)", row)

        self._write(f"save template {template.id!r}", action)

    def get_template(self, template_id: str) -> TemplateRecord | None:
        rows = self._read(
            f"read template {template_id!r}",
            "SELECT id, type, tickscript, created, modified FROM templates WHERE id = ?",
            (template_id,),
        )
        if not rows:
            return None
        tid, ttype, script, created, modified = rows[0]
        return TemplateRecord(tid, ttype, script, created, modified)

    def list_templates(self) -> list[TemplateRecord]:
        """Every template, sorted by ID."""
        rows = self._read(
            "list templates",
            "SELECT id, type, tickscript, created, modified FROM templates ORDER BY id",
        )
        return [TemplateRecord(*row) for row in rows]

    def delete_template(self, template_id: str) -> bool:
        """Forget the template and which tasks were made from it; False if there was none."""

        def action(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM template_tasks WHERE template_id = ?", (template_id,))
            return conn.execute("DELETE FROM templates WHERE id = ?", (template_id,)).rowcount > 0

        return self._write(f"delete template {template_id!r}", action)

    def associate_task(self, template_id: str, task_id: str) -> None:
        self._write(
            f"associate task {task_id!r} with template {template_id!r}",
            lambda conn: conn.execute(
                "INSERT OR IGNORE INTO template_tasks VALUES (?,?)", (template_id, task_id)
            ),
        )

    def disassociate_task(self, template_id: str, task_id: str) -> None:
        self._write(
            f"disassociate task {task_id!r} from template {template_id!r}",
            lambda conn: conn.execute(
                "DELETE FROM template_tasks WHERE template_id = ? AND task_id = ?",
                (template_id, task_id),
            ),
        )

    def template_tasks(self, template_id: str) -> list[str]:
        """The IDs of the tasks made from ``template_id``, sorted."""
        rows = self._read(
            f"list the tasks of template {template_id!r}",
            "SELECT task_id FROM template_tasks WHERE template_id = ? ORDER BY task_id",
            (template_id,),
        )
        return [row[0] for row in rows]

    # --- topic handlers --------------------------------------------------------------------

    def put_handler(self, spec: HandlerRecord, *, replaces: str | None = None) -> None:
        """Create or replace a handler spec; ``replaces`` is the old ID when an update renames
        it (Kapacitor allows changing the ID but not the topic)."""
        row = (spec.topic, spec.id, spec.kind, spec.match, _dumps(dict(spec.options)))

        def action(conn: sqlite3.Connection) -> None:
            if replaces is not None and replaces != spec.id:
                conn.execute(
                    "DELETE FROM topic_handlers WHERE topic = ? AND id = ?", (spec.topic, replaces)
                )
            conn.execute("INSERT OR REPLACE INTO topic_handlers VALUES (?,?,?,?,?)", row)

        self._write(f"save handler {spec.id!r} of topic {spec.topic!r}", action)

    def _handler(self, row: tuple[Any, ...]) -> HandlerRecord:
        topic, hid, kind, match, options = row
        decoded = self._json(options, f"handler {hid!r} of topic {topic!r}")
        return HandlerRecord(topic=topic, id=hid, kind=kind, options=decoded, match=match)

    def get_handler(self, topic: str, handler_id: str) -> HandlerRecord | None:
        rows = self._read(
            f"read handler {handler_id!r} of topic {topic!r}",
            "SELECT * FROM topic_handlers WHERE topic = ? AND id = ?",
            (topic, handler_id),
        )
        return self._handler(rows[0]) if rows else None

    def list_handlers(self, topic: str | None = None) -> list[HandlerRecord]:
        """The handlers of ``topic`` (all topics when None), sorted by topic then ID."""
        if topic is None:
            rows = self._read("list handlers", "SELECT * FROM topic_handlers ORDER BY topic, id")
        else:
            rows = self._read(
                f"list handlers of topic {topic!r}",
                "SELECT * FROM topic_handlers WHERE topic = ? ORDER BY id",
                (topic,),
            )
        return [self._handler(row) for row in rows]

    def delete_handler(self, topic: str, handler_id: str) -> bool:
        return self._write(
            f"delete handler {handler_id!r} of topic {topic!r}",
            lambda conn: (
                conn.execute(
                    "DELETE FROM topic_handlers WHERE topic = ? AND id = ?", (topic, handler_id)
                ).rowcount
                > 0
            ),
        )

    # --- topic event states ----------------------------------------------------------------

    def save_event_state(self, topic: str, state: EventState) -> None:
        """Remember the latest state of one event ID; an OK state deletes it, as in Kapacitor."""
        if state.level == Level.OK:
            self.delete_event_state(topic, state.id)
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
        self._write(
            f"save event {state.id!r} of topic {topic!r}",
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO topic_events VALUES (?,?,?,?,?,?,?)", row
            ),
        )

    def delete_event_state(self, topic: str, event_id: str) -> None:
        self._write(
            f"delete event {event_id!r} of topic {topic!r}",
            lambda conn: conn.execute(
                "DELETE FROM topic_events WHERE topic = ? AND event_id = ?", (topic, event_id)
            ),
        )

    def load_event_states(self, topic: str) -> dict[str, EventState]:
        """The stored (non-OK) states of ``topic`` by event ID, in event-ID order."""
        rows = self._read(
            f"read events of topic {topic!r}",
            "SELECT event_id, level, message, details, time, duration FROM topic_events "
            "WHERE topic = ? ORDER BY event_id",
            (topic,),
        )
        states: dict[str, EventState] = {}
        for event_id, level, message, details, time, duration in rows:
            try:
                parsed = Level(level)
            except ValueError:
                raise StoreError(
                    f"{self.path}: event {event_id!r} of topic {topic!r}: unknown level {level!r}"
                ) from None
            states[event_id] = EventState(
                id=event_id,
                message=message,
                details=details,
                time=Time(time),
                duration=Duration(duration),
                level=parsed,
            )
        return states

    def delete_topic_states(self, topic: str) -> None:
        self._write(
            f"delete events of topic {topic!r}",
            lambda conn: conn.execute("DELETE FROM topic_events WHERE topic = ?", (topic,)),
        )

    def event_state_topics(self) -> list[str]:
        """Topics with stored states: Kapacitor re-creates them at start."""
        rows = self._read("list topics", "SELECT DISTINCT topic FROM topic_events ORDER BY topic")
        return [row[0] for row in rows]

    # ``leyden.alerting.topics.TopicStore``: the names the topics module calls.

    def load_topic(self, topic: str) -> dict[str, EventState]:
        return self.load_event_states(topic)

    def save_event(self, topic: str, state: EventState) -> None:
        self.save_event_state(topic, state)

    def delete_event(self, topic: str, event_id: str) -> None:
        self.delete_event_state(topic, event_id)

    def delete_topic(self, topic: str) -> None:
        self.delete_topic_states(topic)

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

        def action(conn: sqlite3.Connection) -> None:
            for section, element in delete:
                conn.execute(
                    "DELETE FROM config_overrides WHERE section = ? AND element = ?",
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
            "WHERE section = ? AND element = ?",
            (section, element),
        )
        return self._override(rows[0]) if rows else None

    def server_id(self, name: str) -> str:
        """A random UUID made the first time ``name`` (``cluster`` or ``server``) is asked
        for, and the same one ever after."""
        fresh = str(uuid.uuid4())

        def get_or_make(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT INTO server_ids (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (name, fresh),
            )
            row = conn.execute("SELECT value FROM server_ids WHERE name = ?", (name,)).fetchone()
            return str(row[0])

        return self._write(f"read the {name} ID", get_or_make)

    def list_overrides(self, section: str | None = None) -> list[OverrideRecord]:
        """Overrides in the order they were first made (added elements keep that order)."""
        sql = "SELECT section, element, options, created FROM config_overrides"
        params: tuple[Any, ...] = ()
        if section is not None:
            sql += " WHERE section = ?"
            params = (section,)
        rows = self._read("list config overrides", sql + " ORDER BY position", params)
        return [self._override(row) for row in rows]

    def delete_override(self, section: str, element: str) -> bool:
        return self._write(
            f"delete config override {section}/{element}",
            lambda conn: (
                conn.execute(
                    "DELETE FROM config_overrides WHERE section = ? AND element = ?",
                    (section, element),
                ).rowcount
                > 0
            ),
        )

    # --- incident messages (Discord edit-in-place / forum-thread) ---------------------------

    def get_incident(self, scope: str, alert_id: str) -> IncidentMessage | None:
        """The message and thread of ``alert_id``'s incident under ``scope``, if any."""
        rows = self._read(
            f"read the incident message of {alert_id!r}",
            "SELECT scope, alert_id, message_id, channel_id, thread_id, guild_id, level, peak, "
            "pinged, started FROM incident_messages WHERE scope = ? AND alert_id = ?",
            (scope, alert_id),
        )
        if not rows:
            return None
        scope_, alert, message, channel, thread, guild, level, peak, pinged, started = rows[0]
        return IncidentMessage(
            scope=scope_,
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
            int(record.pinged),
            int(record.started),
        )
        self._write(
            f"save the incident message of {record.alert_id!r}",
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO incident_messages VALUES (?,?,?,?,?,?,?,?,?,?)", row
            ),
        )

    def delete_incident(self, scope: str, alert_id: str) -> bool:
        """Forget the incident message of ``alert_id`` under ``scope``; False if none."""
        return self._write(
            f"delete the incident message of {alert_id!r}",
            lambda conn: (
                conn.execute(
                    "DELETE FROM incident_messages WHERE scope = ? AND alert_id = ?",
                    (scope, alert_id),
                ).rowcount
                > 0
            ),
        )
