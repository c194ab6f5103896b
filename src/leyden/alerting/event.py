"""Alert events as Kapacitor models them (`alert/types.go`), shared by every handler.

An event is the state of one alert ID at one moment (``EventState``) plus the data of the
point or batch that caused it (``EventData``).  Times are integer nanoseconds since the Unix
epoch (UTC) and durations integer nanoseconds, wrapped in :mod:`leyden.gotypes` so that
templates and JSON print them the way Go does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from leyden.gotypes import Duration, GoStruct, StringMap, Time


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


@dataclass(slots=True)
class EventData:
    name: str = ""
    task_name: str = ""
    category: str = ""
    group: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    recoverable: bool = True
    #: the models.Result of the point or batch: ``{"series": [row, ...]}``
    result: dict[str, Any] = field(default_factory=dict)


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
