"""``stats(interval)`` and ``noop``: a node's emitted counts, sampled by the task clock.

Kapacitor's StatsNode is a source of its own: a ticker (wall time there, the task clock here, so
replay can drive ``deadman`` offline) emits one ``stats`` point per group the watched node has
emitted, carrying the cumulative count.  Kapacitor counts on the watched node's first out-edge;
here a small counter sits first among the watched node's children, so a node that never emits
pays nothing and the count is exactly what its children were handed.  ``noop`` is the child the
builder adds when the watched node has none, so that it has an edge to count on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from leyden.engine.model import NO_DIMENSIONS, Batch, Dimensions, Point
from leyden.engine.node import Barrier, Node, TaskContext, TaskError, register
from leyden.go import time as gotime


@register("noop")
class NoOpNode(Node):
    """Forwards everything unchanged (the default ``Node`` behaviour); exists to be counted."""


class GroupCounter:
    """Counts, per group and in first-seen order, what the watched node emits.

    A stream point counts one, a batch counts its points (Kapacitor's stats edges); deleting a
    group forgets its count, as Kapacitor's DeleteGroupMessage does.
    """

    __slots__ = ("groups",)

    def __init__(self) -> None:
        # group -> [emitted, group tags, dimensions]
        self.groups: dict[str, list[Any]] = {}

    def point(self, p: Point) -> None:
        g = self.groups.get(p.group)
        if g is None:
            self.groups[p.group] = [1, p.group_tags(), p.dims]
        else:
            g[0] += 1

    def batch(self, b: Batch) -> None:
        g = self.groups.get(b.group)
        if g is None:
            self.groups[b.group] = [len(b.points), dict(b.tags), b.dims]
        else:
            g[0] += len(b.points)

    def barrier(self, b: Barrier) -> None:
        pass

    def delete_group(self, group: str) -> None:
        self.groups.pop(group, None)


@register("stats")
class StatsNode(Node):
    """Every ``interval`` of the task clock: one ``stats`` point per group of the watched node.

    With ``.align()`` the first emission waits for the next multiple of the interval and, as in
    Kapacitor (which stamps it with the time the node started), carries the start time rounded
    to the interval; later ones carry their tick time rounded.  Without it, ticks run every
    interval from the start and carry their exact time.
    """

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.interval = int(p.get("interval", 0) or 0)
        if self.interval <= 0:
            raise TaskError(f"{self.name}: stats node must have positive interval")
        self.source_name: str = p.get("sourceNode", "")
        self.align = bool(p.get("align", False))
        self.counter = GroupCounter()
        self._cancel: Callable[[], None] | None = None
        self._next = 0
        self._ticks = 0  # for the exec-time sampling

    def start(self, nodes: Mapping[str, Node]) -> None:
        """Attach the counter to the watched node and start ticking (called by ``Task.start``)."""
        watched = nodes.get(self.source_name)
        if watched is None:
            raise TaskError(f"{self.name}: no node found for {self.source_name}")
        if self.counter not in watched.children:
            watched.children.insert(0, self.counter)
        now = self.ctx.clock.now()
        if self.align:
            first_stamp = gotime.round_(now, self.interval)
            self._next = gotime.truncate(now, self.interval) + self.interval
            self._cancel = self.ctx.clock.call_at(self._next, lambda _now: self._tick(first_stamp))
        else:
            self._next = now
            self._schedule()

    def _schedule(self) -> None:
        """Ticker semantics: the next tick is one interval after the previous one was due."""
        self._next += self.interval
        self._cancel = self.ctx.clock.call_at(self._next, self._on_tick)

    def _on_tick(self, now: int) -> None:
        self._tick(gotime.round_(now, self.interval) if self.align else now)

    def _tick(self, stamp: int) -> None:
        self._schedule()
        sampler = self.sampler  # no written point leads here: ticks are timed on their own
        self._ticks += 1
        if sampler is not None and sampler.due(self._ticks):
            sampler.call(self.emit_stats, stamp)
        else:
            self.emit_stats(stamp)

    def emit_stats(self, stamp: int) -> None:
        """Emit the current counts, stamped ``stamp``; a node that has emitted nothing yet
        reports the nil group with zero."""
        groups = self.counter.groups
        if not groups:
            self.emit_point(Point("stats", {}, {"emitted": 0}, stamp, NO_DIMENSIONS))
            return
        for count, tags, dims in list(groups.values()):
            self.emit_point(_stats_point(count, tags, dims, stamp))

    def stop(self) -> None:
        if self._cancel is not None:
            self._cancel()
            self._cancel = None


def _stats_point(count: int, tags: dict[str, str], dims: Dimensions, stamp: int) -> Point:
    # The group ID is rebuilt for the name "stats", as Kapacitor's NewPointMessage does.
    return Point("stats", dict(tags), {"emitted": count}, stamp, dims)
