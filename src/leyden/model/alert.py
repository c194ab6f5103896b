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
from typing import Any, Protocol

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


class EventParts(Protocol):
    """Derives the parts of a lazy :class:`EventState` from the event's data (the alert node
    gives one; see :meth:`EventState.derived`).  Both calls return what the alert node would
    have rendered when the event happened, byte for byte."""

    def message(self, state: EventState, data: EventData) -> str: ...

    def details(self, state: EventState, data: EventData) -> str: ...


class EventState:
    """One alert ID's state at one moment: Kapacitor's ``alert.EventState``.

    Built from its parts, or :meth:`derived`: then the message and details are rendered on
    first read (most events are never read: a node without handlers, listeners or topics),
    from the event's data, which is kept until then.  Either way every reader sees the same
    text, and once read it is kept.
    """

    __slots__ = ("_data", "_details", "_duration", "_message", "_parts", "_time", "id", "level")

    def __init__(
        self,
        id: str,
        message: str,
        details: str,
        time: Time | int,
        duration: Duration | int,
        level: Level,
    ) -> None:
        self.id = id
        self._message: str | None = message
        self._details: str | None = details
        self._time = time
        self._duration = duration
        self.level = level
        self._parts: EventParts | None = None
        self._data: EventData | None = None

    @classmethod
    def derived(
        cls,
        id: str,
        time: int,
        duration: int,
        level: Level,
        parts: EventParts,
        data: EventData,
        *,
        message: str | None = None,
        details: str | None = None,
    ) -> EventState:
        """A state whose message and details (those not given) ``parts`` derive from ``data``
        when first read.  ``time`` and ``duration`` are plain nanoseconds."""
        state = cls.__new__(cls)
        state.id = id
        state._message = message
        state._details = details
        state._time = time
        state._duration = duration
        state.level = level
        state._parts = parts
        state._data = data
        return state

    # A lazy part is rendered on its first read and kept; the inputs go once both are kept.
    # Another thread reading at the same time sees either the inputs (and renders the same
    # text) or the kept text: the text is stored before the inputs are dropped.

    @property
    def message(self) -> str:
        message = self._message
        if message is None:
            parts, data = self._parts, self._data
            if parts is None or data is None:  # rendered meanwhile
                message = self._message
            else:
                message = self._message = parts.message(self, data)
        assert message is not None
        return message

    @message.setter
    def message(self, value: str) -> None:
        self._message = value

    @property
    def details(self) -> str:
        details = self._details
        if details is None:
            parts, data = self._parts, self._data
            if parts is None or data is None:  # rendered meanwhile
                details = self._details
            else:
                details = self._details = parts.details(self, data)  # reads the message
                self._parts = self._data = None
        assert details is not None
        return details

    @details.setter
    def details(self, value: str) -> None:
        self._details = value

    @property
    def time(self) -> Time:
        t = self._time
        if t.__class__ is not Time:
            t = self._time = Time(t)
        return t

    @time.setter
    def time(self, value: Time | int) -> None:
        self._time = value

    @property
    def duration(self) -> Duration:
        d = self._duration
        if d.__class__ is not Duration:
            d = self._duration = Duration(d)
        return d

    @duration.setter
    def duration(self, value: Duration | int) -> None:
        self._duration = value

    def copy(self) -> EventState:
        """The same state, rendered (a copy holds no reference to the event's data)."""
        return EventState(self.id, self.message, self.details, self.time, self.duration, self.level)

    def _key(self) -> tuple[Any, ...]:
        return (self.id, self.message, self.details, self.time, self.duration, self.level)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled rendered: another process gets the text, not the node's renderer."""
        return (EventState, self._key())

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, EventState)
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return (
            f"EventState(id={self.id!r}, message={self.message!r}, details={self.details!r}, "
            f"time={self.time!r}, duration={self.duration!r}, level={self.level!r})"
        )


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
