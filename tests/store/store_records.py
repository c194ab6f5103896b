"""The records the store tests write and read back, shared by ``test_repositories.py`` (every
store) and ``test_sqlite.py`` (what only SQLite does)."""

from __future__ import annotations

from leyden.go.types import Duration, Time
from leyden.model.alert import EventState, Level
from leyden.model.records import HandlerRecord, IncidentMessage, TaskRecord

TASK = TaskRecord(
    id="cpu_alert",
    type="stream",
    dbrps=(("telegraf", "autogen"), ("telegraf", "")),
    tickscript="stream\n    |from()\n        .measurement('cpu')\n",
    vars={"crit": {"type": "float", "value": 80.5, "description": "é"}},
    status="enabled",
    created=1_700_000_000_000_000_001,
    modified=1_700_000_000_000_000_002,
    last_enabled=1_700_000_000_000_000_003,
    error="",
)
HANDLER = HandlerRecord(
    topic="cpu",
    id="discord-cpu",
    kind="discord",
    options={"workspace": "ops", "embed-title": "{{ .Level }}"},
    match="changed()",
)
INCIDENT = IncidentMessage(
    scope="discord:abc",
    alert_id="cpu:host=a",
    message_id="111",
    channel_id="222",
    thread_id="",
    guild_id="333",
    level=3,
    peak=3,
    pinged=True,
    started=1_700_000_000_000_000_000,
)


def state(event_id: str, level: Level, time: int = 10) -> EventState:
    """An event state of ``level`` with a message naming both."""
    return EventState(
        id=event_id,
        message=f"{event_id} is {level}",
        details="<b>d</b>",
        time=Time(time),
        duration=Duration(60_000_000_000),
        level=level,
    )
