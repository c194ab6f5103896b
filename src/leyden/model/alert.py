"""Alert events as Kapacitor models them (`alert/types.go`), shared by every handler.

An event is the state of one alert ID at one moment (``EventState``) plus the data of the
point or batch that caused it (``EventData``).  Times are integer nanoseconds since the Unix
epoch (UTC) and durations integer nanoseconds, wrapped in :mod:`leyden.go.types` so that
templates and JSON print them the way Go does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from leyden.go.types import Duration, GoStruct, StringMap, Time


class Level(IntEnum):
    """Alert levels in Kapacitor's order; ``str(level)`` is the name Kapacitor prints."""

    OK = 0
    INFO = 1
    WARNING = 2
    CRITICAL = 3

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, text: str) -> Level:
        """Parse an exact upper-case level name, as Kapacitor's ``alert.ParseLevel`` does."""
        try:
            return cls[text]
        except KeyError:
            raise ValueError(f"unknown alert level {text!r}") from None


@dataclass(slots=True)
class EventState:
    id: str
    message: str
    details: str
    time: Time
    duration: Duration
    level: Level


class EventData:
    """The point or batch behind an event.

    ``result`` (the models.Result: ``{"series": [row, ...]}``) may be given as a function
    (``make_result``) that builds it on first use: handlers and listeners need it, the alert
    node's per-point path does not, and most events are never delivered anywhere.
    """

    __slots__ = (
        "_make_result",
        "_result",
        "category",
        "fields",
        "group",
        "name",
        "recoverable",
        "tags",
        "task_name",
    )

    def __init__(
        self,
        name: str = "",
        task_name: str = "",
        category: str = "",
        group: str = "",
        tags: dict[str, str] | None = None,
        fields: dict[str, Any] | None = None,
        recoverable: bool = True,
        result: dict[str, Any] | None = None,
        *,
        make_result: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.name = name
        self.task_name = task_name
        self.category = category
        self.group = group
        self.tags = {} if tags is None else tags
        self.fields = {} if fields is None else fields
        self.recoverable = recoverable
        self._result = result if result is not None or make_result is not None else {}
        self._make_result = make_result

    @property
    def result(self) -> dict[str, Any]:
        result = self._result
        if result is None:
            make = self._make_result
            assert make is not None
            result = self._result = make()
            self._make_result = None
        return result

    @result.setter
    def result(self, value: dict[str, Any]) -> None:
        self._result = value
        self._make_result = None

    def _key(self) -> tuple[Any, ...]:
        return (
            self.name,
            self.task_name,
            self.category,
            self.group,
            self.tags,
            self.fields,
            self.recoverable,
            self.result,
        )

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, EventData)
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return (
            f"EventData(name={self.name!r}, task_name={self.task_name!r}, "
            f"category={self.category!r}, group={self.group!r}, tags={self.tags!r}, "
            f"fields={self.fields!r}, recoverable={self.recoverable!r}, result={self.result!r})"
        )


@dataclass(slots=True)
class Event:
    topic: str
    state: EventState
    data: EventData
    previous_level: Level = Level.OK

    def template_data(self) -> GoStruct:
        """The data handler templates see (Kapacitor's ``alert.TemplateData``)."""
        return GoStruct(
            {
                "ID": self.state.id,
                "Message": self.state.message,
                "Level": str(self.state.level),
                "Time": self.state.time,
                "Duration": self.state.duration,
                "Details": self.state.details,
                "Name": self.data.name,
                "TaskName": self.data.task_name,
                "Group": self.data.group,
                "Tags": StringMap(self.data.tags),
                "Fields": self.data.fields,
            },
            type_name="alert.TemplateData",
        )


class Inhibitor:
    """While active, events of ``category`` whose tags equal ``tags`` are inhibited (§4.8).

    One exists per alert group and ``.inhibit(category, tags…)``; the alert node sets it active
    whenever the group's current level is not OK.  The lookup accepts any object with
    ``category`` and ``inhibits(category, tags)``, so the alert node may bring its own.
    """

    __slots__ = ("active", "category", "tags")

    def __init__(self, category: str, tags: Mapping[str, str]) -> None:
        self.category = category
        self.tags = dict(tags)
        self.active = False

    def set(self, active: bool) -> None:
        self.active = active

    def matches(self, category: str, tags: Mapping[str, str]) -> bool:
        if category != self.category:
            return False
        # Go reads a missing tag as "", so an inhibitor on an absent tag matches absent tags.
        return all(tags.get(k, "") == v for k, v in self.tags.items())

    def inhibits(self, category: str, tags: Mapping[str, str]) -> bool:
        return self.active and self.matches(category, tags)
