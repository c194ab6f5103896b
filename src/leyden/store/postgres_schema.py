"""PostgreSQL's migrations: step for step the schema of :data:`leyden.store.sqlite._MIGRATIONS`.

Entry ``i`` brings the schema from version ``i`` to ``i + 1``, as SQLite's does, so one
version number means the same tables in both stores.  Append, never edit; a step added to
SQLite's list gets its PostgreSQL twin here (``tests/store`` checks the counts agree).
Times stay integers (nanoseconds, ``BIGINT``) and JSON stays text, as in SQLite, so a row
reads back byte for byte the same.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            dbrps TEXT NOT NULL,
            tickscript TEXT NOT NULL,
            vars TEXT NOT NULL,
            status TEXT NOT NULL,
            template_id TEXT NOT NULL,
            created BIGINT NOT NULL,
            modified BIGINT NOT NULL,
            last_enabled BIGINT,
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
            time BIGINT NOT NULL,
            duration BIGINT NOT NULL,
            PRIMARY KEY (topic, event_id)
        )""",
        """CREATE TABLE config_overrides (
            position BIGSERIAL PRIMARY KEY,
            section TEXT NOT NULL,
            element TEXT NOT NULL,
            options TEXT NOT NULL,
            created BOOLEAN NOT NULL,
            UNIQUE (section, element)
        )""",
    ),
    (
        """CREATE TABLE outbox (
            id BIGSERIAL PRIMARY KEY,
            handler TEXT NOT NULL,
            kind TEXT NOT NULL,
            destination TEXT NOT NULL,
            alert_id TEXT NOT NULL,
            event TEXT NOT NULL,
            previous_level INTEGER NOT NULL,
            context TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('queued', 'in-flight', 'dead')),
            attempts INTEGER NOT NULL,
            next_attempt DOUBLE PRECISION NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            last_error TEXT NOT NULL
        )""",
        "CREATE INDEX outbox_ready ON outbox (state, next_attempt)",
        "CREATE INDEX outbox_order ON outbox (destination, alert_id, id)",
    ),
    (
        """CREATE TABLE breakers (
            destination TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            status INTEGER,
            code INTEGER,
            reason TEXT NOT NULL,
            opened DOUBLE PRECISION NOT NULL
        )""",
    ),
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
            pinged BOOLEAN NOT NULL,
            started BIGINT NOT NULL,
            PRIMARY KEY (scope, alert_id)
        )""",
    ),
    ("CREATE TABLE server_ids (name TEXT PRIMARY KEY, value TEXT NOT NULL)",),
    (
        """CREATE TABLE templates (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            tickscript TEXT NOT NULL,
            created BIGINT NOT NULL,
            modified BIGINT NOT NULL
        )""",
        """CREATE TABLE template_tasks (
            template_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            PRIMARY KEY (template_id, task_id)
        )""",
    ),
)
