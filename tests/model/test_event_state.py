"""Lazy event states: rendered once, on first read, and the same text for every reader."""

from __future__ import annotations

import pickle

from leyden.go.types import Duration, Time
from leyden.model.alert import EventData, EventState, Level


class Parts:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def message(self, state: EventState, data: EventData) -> str:
        self.calls.append("message")
        return f"{state.id} is {state.level}"

    def details(self, state: EventState, data: EventData) -> str:
        self.calls.append("details")
        return f"{state.message}: {data.fields}"


def lazy(parts: Parts) -> EventState:
    data = EventData(name="cpu", fields={"v": 1.5})
    return EventState.derived("cpu:nil", 5, 7, Level.WARNING, parts, data)


def test_parts_are_rendered_on_first_read_once() -> None:
    parts = Parts()
    state = lazy(parts)
    assert parts.calls == []
    assert state.details == "cpu:nil is WARNING: {'v': 1.5}"
    assert state.message == "cpu:nil is WARNING"
    assert state.details == "cpu:nil is WARNING: {'v': 1.5}"
    assert parts.calls == ["details", "message"]  # (the details read the message)
    assert state._parts is None and state._data is None  # the inputs are let go


def test_a_lazy_state_equals_its_rendered_form() -> None:
    state = lazy(Parts())
    rendered = EventState(
        "cpu:nil",
        "cpu:nil is WARNING",
        "cpu:nil is WARNING: {'v': 1.5}",
        Time(5),
        Duration(7),
        Level.WARNING,
    )
    assert state == rendered
    assert state.time == Time(5) and type(state.time) is Time
    assert state.duration == Duration(7) and type(state.duration) is Duration
    assert repr(state) == repr(rendered)
    assert state.copy() == rendered and state.copy()._parts is None


def test_pickled_rendered() -> None:
    parts = Parts()
    again = pickle.loads(pickle.dumps(lazy(parts)))
    assert parts.calls == ["message", "details"]
    assert again._parts is None
    assert (again.message, again.level, again.time) == ("cpu:nil is WARNING", Level.WARNING, 5)


def test_setting_a_part_wins_over_rendering() -> None:
    parts = Parts()
    state = lazy(parts)
    state.message = "set"
    assert state.details == "set: {'v': 1.5}"
    assert parts.calls == ["details"]
