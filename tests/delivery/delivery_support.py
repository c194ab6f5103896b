"""What the delivery tests share: a settable clock and an alert event."""

from __future__ import annotations

from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level

START = 1_800_000_000.0


class Clock:
    """Wall-clock seconds that move only when a test sets ``now``."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def event(alert: str, level: Level = Level.CRITICAL, n: int = 0) -> Event:
    """Alert ``alert`` at ``level``, the n-th second after the epoch, host-tagged by its ID."""
    return Event(
        topic="t",
        state=EventState(
            id=alert,
            message=f"{alert} is {level} ({n})",
            details="",
            time=Time(n * 1_000_000_000),
            duration=Duration(0),
            level=level,
        ),
        data=EventData(name="cpu", task_name="task", tags={"host": alert}),
    )
