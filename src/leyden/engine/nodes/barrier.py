"""``barrier()``: tells downstream nodes a group has gone quiet (semantics §2.4; barrier.go).

Per group, ``.idle(d)`` emits a barrier once no message arrived for ``d``; ``.period(d)`` emits
one every ``d``.  ``.delete(TRUE)`` then deletes the group downstream.  Kapacitor runs these
timers on the wall clock; Leyden runs them on the task clock, so that live tasks behave the same
and tests can drive them.

Replay (``ctx.services.simulated``) delivers recorded points back to back, as Kapacitor's test
harness does: the simulated clock jumps over the gaps in the recording, but the input was never
idle, so idle barriers are not armed there (TestStream_Delete_Join relies on this).  Periodic
barriers do run on the replay clock, which makes them observable offline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leyden.engine.model import Batch, Dimensions, Point
from leyden.engine.node import Barrier, Node, TaskContext, register


class _GroupTimer:
    """One group's barrier state: times are data times except for periodic barriers."""

    __slots__ = (
        "cancel",
        "deadline",
        "dims",
        "group",
        "last_barrier",
        "last_point",
        "name",
        "tags",
    )

    def __init__(self, group: str, tags: dict[str, str], dims: Dimensions, name: str) -> None:
        self.group = group
        self.tags = tags
        self.dims = dims
        self.name = name
        self.last_point = 0
        self.last_barrier: int | None = None  # None: Go's zero time, before everything
        self.cancel: Callable[[], None] | None = None
        self.deadline = 0  # task-clock time the armed timer is really for

    def too_old(self, t: int) -> bool:
        return self.last_barrier is not None and t < self.last_barrier


@register("barrier")
class BarrierNode(Node):
    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.idle = int(p.get("idle", 0) or 0)
        self.period = int(p.get("period", 0) or 0)
        self.delete = bool(p.get("delete", False))
        self.armed = not (self.idle > 0 and ctx.services.simulated)
        self.groups: dict[str, _GroupTimer] = {}
        self.stopped = False

    # --- per group -----------------------------------------------------------------------

    def _get(
        self, group: str, tags: dict[str, str], dims: Dimensions, name: str
    ) -> _GroupTimer | None:
        g = self.groups.get(group)
        if g is None:
            if not self.admit_group():
                return None
            g = self.groups[group] = _GroupTimer(group, tags, dims, name)
            g.last_point = self.ctx.clock.now()
            self._arm(g)
        return g

    def _arm(self, g: _GroupTimer) -> None:
        """(Re)start the group's timer; a running timer is only moved on, not replaced."""
        if self.stopped or not self.armed:
            return
        g.deadline = self.ctx.clock.now() + (self.idle if self.idle > 0 else self.period)
        if g.cancel is None:
            g.cancel = self.ctx.clock.call_at(g.deadline, lambda now: self._fire(g, now))

    def _fire(self, g: _GroupTimer, now: int) -> None:
        g.cancel = None
        if self.stopped or self.groups.get(g.group) is not g:
            return
        if now < g.deadline:  # a message came meanwhile: wait for the moved deadline
            g.cancel = self.ctx.clock.call_at(g.deadline, lambda now: self._fire(g, now))
            return
        t = g.last_point + self.idle if self.idle > 0 else now
        g.last_point = g.last_barrier = t
        self.emit_barrier(Barrier(g.group, g.tags, g.dims, t, g.name))
        if self.delete:
            self.delete_group(g.group)
        else:
            self._arm(g)

    # --- edges ---------------------------------------------------------------------------

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        g = self._get(p.group, p.group_tags(), p.dims, p.name)
        if g is None:
            return
        if g.too_old(p.time):
            return
        if self.idle > 0:
            g.last_point = p.time
            self._arm(g)
        self.emit_point(p)

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        g = self._get(b.group, b.tags, b.dims, b.name)
        if g is None:
            return
        points = [bp for bp in b.points if not g.too_old(bp.time)]
        if self.idle > 0 and points:
            g.last_point = points[-1].time
            self._arm(g)
        self.emit_batch(b if len(points) == len(b.points) else b.copy(points=points))

    def barrier(self, b: Barrier) -> None:
        g = self._get(b.group, b.tags, b.dims, b.name)
        if g is None:
            return
        if g.too_old(b.time):
            return
        if self.idle > 0:
            g.last_point = g.last_barrier = b.time
            self._arm(g)
        self.emit_barrier(b)

    def cardinality(self) -> int:
        return len(self.groups)

    def forget_group(self, group: str) -> None:
        g = self.groups.pop(group, None)
        if g is not None and g.cancel is not None:
            g.cancel()

    def stop(self) -> None:
        self.stopped = True
        for g in self.groups.values():
            if g.cancel is not None:
                g.cancel()
                g.cancel = None
