"""The task clock: wall time for live tasks, a simulated clock for replay.

Nodes that act on time rather than on data (``stats``, ``deadman``, the aggregate handler) ask
the task clock for timers instead of starting their own; replay drives the simulated clock
from the data, which makes those nodes testable offline (an improvement over Kapacitor).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Nanoseconds since the Unix epoch."""
        ...

    def call_at(self, when: int, callback: Callable[[int], None]) -> Callable[[], None]:
        """Run ``callback(now)`` once the clock reaches ``when``; returns a cancel function."""
        ...


class SimulatedClock:
    """A clock that moves only when told to; due timers fire, in time order, as it moves."""

    def __init__(self, start: int = 0) -> None:
        self._now = start
        self._timers: list[tuple[int, int, Callable[[int], None]]] = []
        self._seq = itertools.count()
        self._cancelled: set[int] = set()

    def now(self) -> int:
        return self._now

    def call_at(self, when: int, callback: Callable[[int], None]) -> Callable[[], None]:
        seq = next(self._seq)
        heapq.heappush(self._timers, (when, seq, callback))
        return lambda: self._cancelled.add(seq)

    def advance_to(self, when: int) -> None:
        """Move forward to ``when`` (never backwards), firing every timer due on the way."""
        while self._timers and self._timers[0][0] <= when:
            due, seq, callback = heapq.heappop(self._timers)
            if seq in self._cancelled:
                self._cancelled.discard(seq)
                continue
            self._now = max(self._now, due)
            callback(self._now)
        self._now = max(self._now, when)


class WallClock:
    """Real time; timers are served by the asyncio loop the server runs."""

    def __init__(self, loop: object | None = None) -> None:
        self._loop = loop

    def now(self) -> int:
        return time.time_ns()

    def call_at(self, when: int, callback: Callable[[int], None]) -> Callable[[], None]:
        import asyncio

        loop = self._loop or asyncio.get_running_loop()
        assert isinstance(loop, asyncio.AbstractEventLoop)
        delay = max(0.0, (when - time.time_ns()) / 1e9)
        handle = loop.call_later(delay, lambda: callback(time.time_ns()))
        return handle.cancel
