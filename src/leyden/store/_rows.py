"""The rows of the store's tables, turned into records and back: one owner for both stores.

:class:`leyden.store.sqlite.Store` and :class:`leyden.store.postgres.PostgresStore` keep the
same tables (their migrations mirror each other step for step) and answer the same
repositories, so a row means the same thing on both: the JSON columns, the ``dbrps`` shape,
the level numbers.  Each store keeps its own SQL (placeholders, upserts and collations
differ); what a row holds and how a bad one is reported live here.  ``where`` is the store's
location (the SQLite file, or the PostgreSQL URL without its password): every
:class:`StoreError` names it and the record the row belongs to.
"""

from __future__ import annotations

import json
from typing import Any

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

#: the columns read back for templates, overrides, topic events and incident messages (in
#: the tables' order; ``SELECT *`` for tasks and handlers)
TEMPLATE_COLUMNS = "id, type, tickscript, created, modified"
OVERRIDE_COLUMNS = "section, element, options, created"
EVENT_COLUMNS = "event_id, level, message, details, time, duration"
INCIDENT_COLUMNS = (
    "scope, alert_id, message_id, channel_id, thread_id, guild_id, level, peak, pinged, started"
)


def dumps(value: Any) -> str:
    """The JSON text of a JSON column: compact, Unicode kept, no NaN."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads(text: str, where: str, what: str) -> Any:
    """A JSON column's value; a StoreError naming ``where`` and ``what`` if unreadable."""
    try:
        return json.loads(text)
    except ValueError:
        raise StoreError(f"{where}: {what}: stored JSON is unreadable") from None


def task_row(task: TaskRecord) -> tuple[Any, ...]:
    return (
        task.id,
        task.type,
        dumps([{"db": db, "rp": rp} for db, rp in task.dbrps]),
        task.tickscript,
        dumps(dict(task.vars)),
        task.status,
        task.template_id,
        int(task.created),
        int(task.modified),
        None if task.last_enabled is None else int(task.last_enabled),
        task.error,
    )


def task(row: tuple[Any, ...], where: str) -> TaskRecord:
    (tid, ttype, dbrps, script, vars_, status, template_id, created, modified, last, err) = row
    what = f"task {tid!r}"
    decoded = loads(dbrps, where, what)
    try:
        pairs = tuple((str(d["db"]), str(d["rp"])) for d in decoded)
    except (TypeError, KeyError):
        raise StoreError(f"{where}: {what}: stored dbrps are unreadable") from None
    return TaskRecord(
        id=tid,
        type=ttype,
        dbrps=pairs,
        tickscript=script,
        vars=loads(vars_, where, what),
        status=status,
        created=created,
        modified=modified,
        last_enabled=last,
        error=err,
        template_id=template_id,
    )


def template_row(template: TemplateRecord) -> tuple[Any, ...]:
    return (
        template.id,
        template.type,
        template.tickscript,
        int(template.created),
        int(template.modified),
    )


def template(row: tuple[Any, ...]) -> TemplateRecord:
    """A row of :data:`TEMPLATE_COLUMNS`."""
    tid, ttype, script, created, modified = row
    return TemplateRecord(tid, ttype, script, created, modified)


def handler_row(spec: HandlerRecord) -> tuple[Any, ...]:
    return (spec.topic, spec.id, spec.kind, spec.match, dumps(dict(spec.options)))


def handler(row: tuple[Any, ...], where: str) -> HandlerRecord:
    topic, hid, kind, match, options = row
    decoded = loads(options, where, f"handler {hid!r} of topic {topic!r}")
    return HandlerRecord(topic=topic, id=hid, kind=kind, options=decoded, match=match)


def override_row(override: OverrideRecord) -> tuple[Any, ...]:
    return (override.section, override.element, dumps(dict(override.options)), override.create)


def override(row: tuple[Any, ...], where: str) -> OverrideRecord:
    """A row of :data:`OVERRIDE_COLUMNS`."""
    section, element, options, create = row
    decoded = loads(options, where, f"config override {section}/{element}")
    return OverrideRecord(section=section, element=element, options=decoded, create=bool(create))


def event_row(topic: str, state: EventState) -> tuple[Any, ...]:
    return (
        topic,
        state.id,
        int(state.level),
        state.message,
        state.details,
        int(state.time),
        int(state.duration),
    )


def event_state(topic: str, row: tuple[Any, ...], where: str) -> EventState:
    """A row of :data:`EVENT_COLUMNS` of ``topic``; an unknown level is a StoreError."""
    event_id, level, message, details, at, duration = row
    try:
        parsed = Level(level)
    except ValueError:
        raise StoreError(
            f"{where}: event {event_id!r} of topic {topic!r}: unknown level {level!r}"
        ) from None
    return EventState(
        id=event_id,
        message=message,
        details=details,
        time=Time(at),
        duration=Duration(duration),
        level=parsed,
    )


def incident_row(record: IncidentMessage) -> tuple[Any, ...]:
    # ``pinged`` is a BOOLEAN on PostgreSQL; SQLite stores a bool as the integer 0 or 1
    return (
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


def incident(row: tuple[Any, ...]) -> IncidentMessage:
    """A row of :data:`INCIDENT_COLUMNS`."""
    scope, alert, message, channel, thread, guild, level, peak, pinged, started = row
    return IncidentMessage(
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
