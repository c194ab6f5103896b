"""The records Leyden stores: tasks, topic handlers and config overrides.

They belong to their domains (the task master, the topic handlers, the config API), not to a
store: every store implementation (SQLite today) reads and writes these same value objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["HandlerRecord", "OverrideRecord", "TaskRecord", "TaskStatus", "TaskType"]

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
