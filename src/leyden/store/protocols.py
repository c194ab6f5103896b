"""What Leyden asks of a store, one protocol per repository (issue 17; the review's P6).

Each part of Leyden already names the slice it uses, next to its domain, and the stores
satisfy those structurally: ``leyden.tasks.manager.TaskStore`` and ``TemplateLinks``,
``leyden.alerting.topics.TopicStore``, ``leyden.alerting.topic_handlers.HandlerStore``,
``leyden.notify.discord.incidents.IncidentStore`` (this package may not import them: the
layering puts the store below alerting and notify).  The protocols here are the store's own
side of those seams, with every method a store must have; :class:`StateStore` is all of them,
what :func:`leyden.runtime.open_store` hands out.  Every method is synchronous: the SQLite
store commits before it returns; the PostgreSQL store answers topic-state calls from memory
and writes them behind (see :mod:`leyden.store.postgres`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from leyden.model.alert import EventState
from leyden.model.records import (
    HandlerRecord,
    IncidentMessage,
    OverrideRecord,
    TaskRecord,
    TemplateRecord,
)

__all__ = [
    "HandlerRepository",
    "IncidentRepository",
    "OverrideRepository",
    "ServerIdentity",
    "StateStore",
    "TaskRepository",
    "TemplateRepository",
    "TopicStateRepository",
]


class TaskRepository(Protocol):
    """Task definitions (``/kapacitor/v1/tasks``)."""

    def put_task(self, task: TaskRecord, *, replaces: str | None = None) -> None: ...

    def get_task(self, task_id: str) -> TaskRecord | None: ...

    def list_tasks(self) -> list[TaskRecord]: ...

    def delete_task(self, task_id: str) -> bool: ...


class TemplateRepository(Protocol):
    """Task templates and which tasks each made."""

    def put_template(self, template: TemplateRecord, *, replaces: str | None = None) -> None: ...

    def get_template(self, template_id: str) -> TemplateRecord | None: ...

    def list_templates(self) -> list[TemplateRecord]: ...

    def delete_template(self, template_id: str) -> bool: ...

    def associate_task(self, template_id: str, task_id: str) -> None: ...

    def disassociate_task(self, template_id: str, task_id: str) -> None: ...

    def template_tasks(self, template_id: str) -> list[str]: ...


class HandlerRepository(Protocol):
    """Topic handler specs (``/kapacitor/v1/alerts/topics/<topic>/handlers``)."""

    def put_handler(self, spec: HandlerRecord, *, replaces: str | None = None) -> None: ...

    def get_handler(self, topic: str, handler_id: str) -> HandlerRecord | None: ...

    def list_handlers(self, topic: str | None = None) -> list[HandlerRecord]: ...

    def delete_handler(self, topic: str, handler_id: str) -> bool: ...


class TopicStateRepository(Protocol):
    """The non-OK alert states of each topic (an OK state deletes the stored one)."""

    def load_topic(self, topic: str) -> dict[str, EventState]: ...

    def save_event(self, topic: str, state: EventState) -> None: ...

    def delete_event(self, topic: str, event_id: str) -> None: ...

    def delete_topic(self, topic: str) -> None: ...

    def event_state_topics(self) -> list[str]: ...


class OverrideRepository(Protocol):
    """Config overrides (``/kapacitor/v1/config``), in the order they were first made."""

    def put_override(self, override: OverrideRecord) -> None: ...

    def update_overrides(
        self, put: list[OverrideRecord], delete: list[tuple[str, str]]
    ) -> None: ...

    def get_override(self, section: str, element: str) -> OverrideRecord | None: ...

    def list_overrides(self, section: str | None = None) -> list[OverrideRecord]: ...

    def delete_override(self, section: str, element: str) -> bool: ...


class IncidentRepository(Protocol):
    """Discord's incident messages (``edit-in-place``, ``forum-thread``)."""

    def get_incident(self, scope: str, alert_id: str) -> IncidentMessage | None: ...

    def put_incident(self, record: IncidentMessage) -> None: ...

    def delete_incident(self, scope: str, alert_id: str) -> bool: ...


class ServerIdentity(Protocol):
    """The cluster and server IDs, made once and kept (InfluxDB subscriptions' names)."""

    def server_id(self, name: str) -> str: ...


class StateStore(
    TaskRepository,
    TemplateRepository,
    HandlerRepository,
    TopicStateRepository,
    OverrideRepository,
    IncidentRepository,
    ServerIdentity,
    Protocol,
):
    """Every repository, and the store's life: what a running server holds."""

    def unit_of_work(self, doing: str = "write") -> AbstractContextManager[object]:
        """The writes made inside (topic states at least) commit together or not at all."""
        ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...
