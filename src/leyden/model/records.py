"""The records Leyden stores: tasks, task templates, topic handlers, config overrides and incident messages.

They belong to their domains (the task master, the topic handlers, the config API), not to a
store: every store implementation (SQLite today) reads and writes these same value objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "HandlerRecord",
    "IncidentMessage",
    "OverrideRecord",
    "TaskRecord",
    "TaskStatus",
    "TaskType",
    "TemplateRecord",
]

TaskType = Literal["stream", "batch"]
TaskStatus = Literal["enabled", "disabled"]


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task as Kapacitor's task store keeps it; times are nanoseconds since the Unix epoch."""

    id: str
    type: TaskType
    dbrps: tuple[tuple[str, str], ...]
    tickscript: str
    #: Kapacitor's vars JSON: ``{name: {"type": ..., "value": ..., "description": ...}}``
    vars: Mapping[str, Any] = field(default_factory=dict)
    status: TaskStatus = "disabled"
    created: int = 0
    modified: int = 0
    #: None until the task has been enabled once
    last_enabled: int | None = None
    #: why the task last failed to start; empty when it did not
    error: str = ""
    template_id: str = ""


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    """A task template as Kapacitor's task store keeps it (``kapacitor define-template``);
    times are nanoseconds since the Unix epoch."""

    id: str
    type: TaskType
    tickscript: str
    created: int = 0
    modified: int = 0


@dataclass(frozen=True, slots=True)
class HandlerRecord:
    """A topic handler spec (``kapacitor define-topic-handler``), options as decoded JSON."""

    topic: str
    id: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    match: str = ""


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    """A config-API override of one element of a section (Kapacitor's ``Override``).

    ``options`` are the values set through the API, in Kapacitor's option names. ``create``
    marks an element added through the API (``{"add": …}``) rather than one from the file.
    """

    section: str
    element: str
    options: Mapping[str, Any] = field(default_factory=dict)
    create: bool = False


@dataclass(frozen=True, slots=True)
class IncidentMessage:
    """The Discord message (and thread) one alert's incident lives in, for ``edit-in-place``
    and ``forum-thread`` (issue 12): kept durably so a restart edits the same message.

    ``scope`` names the handler's destination without a secret (the webhook's outbox
    destination and a digest of the handler's identity); with ``alert_id`` it is the key.
    ``level`` is the last level shown, ``peak`` the highest of the incident (a rise above it
    posts a notice), ``started`` the first event's time (nanoseconds since the epoch).  After
    an OK the record stays (``level`` OK): a repeated OK edits the same message again, and the
    next non-OK event starts a new incident.  Levels are plain ints (the model's ``Level``).
    """

    scope: str
    alert_id: str
    #: the message edited in place; "" when only the thread is known (forum-thread alone)
    message_id: str
    #: the channel the message is in (a forum post's is its thread's id)
    channel_id: str
    #: the thread later requests go to (``?thread_id=``); "" outside threads
    thread_id: str
    #: the server the channel is in, for a link to the message; "" when unknown
    guild_id: str
    level: int
    peak: int
    pinged: bool
    started: int
