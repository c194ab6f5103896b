"""Kapacitor's alert-data JSON (``alert.Data``): the body of ``.post()``, ``.tcp()``, ``.log()``.

Consumers of Kapacitor's HTTP posts parse this exact document, so it is reproduced byte for
byte: the struct's field order (id, message, details, time, duration, level, data,
previousLevel, recoverable, as declared in ``alert/types.go``), Go's JSON formatting (RFC 3339
times with trimmed nanoseconds, integer nanosecond durations, ``10`` for 10.0, HTML-unsafe
characters as ``\\u003c``) and the newline ``json.Encoder.Encode`` writes after the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leyden.go.types import GoStruct, Time, go_json
from leyden.model.alert import Event, Level

__all__ = ["alert_data", "event_to_json", "level_text"]


def level_text(level: int) -> str:
    """``alert.Level.String()``: the level name, or ``unknown`` outside OK..CRITICAL."""
    try:
        return Level(level).name
    except ValueError:
        return "unknown"


def _result(result: Mapping[str, Any]) -> GoStruct:
    """``models.Result``: ``series`` is never omitted (``null`` when there is none)."""
    out = GoStruct(type_name="models.Result")
    out["series"] = result.get("series") or None
    err = result.get("error")
    if err:
        out["error"] = err
    return out


def alert_data(event: Event) -> GoStruct:
    """The ``alert.Data`` struct of ``event``, ready for :func:`leyden.go.types.go_json`."""
    state = event.state
    return GoStruct(
        [
            ("id", state.id),
            ("message", state.message),
            ("details", state.details),
            ("time", Time(state.time)),
            ("duration", int(state.duration)),
            ("level", level_text(state.level)),
            ("data", _result(event.data.result)),
            ("previousLevel", level_text(event.previous_level)),
            ("recoverable", bool(event.data.recoverable)),
        ],
        type_name="alert.Data",
    )


def event_to_json(event: Event) -> str:
    """The alert-data JSON of ``event`` exactly as Go's ``json.NewEncoder(w).Encode`` writes it."""
    return go_json(alert_data(event)) + "\n"
