"""Source nodes: ``stream`` (the task's root) and ``from()`` (semantics §2.3)."""

from __future__ import annotations

from typing import Any

from leyden.engine.model import NIL_GROUP, NO_DIMENSIONS, Dimensions, Point, group_id
from leyden.engine.node import Node, TaskContext, register
from leyden.go import time as gotime
from leyden.tick.lambdas import compile_lambda
from leyden.tick.values import STAR


@register("stream")
class StreamNode(Node):
    """Receives every point routed to the task and hands it to its ``from()`` children."""

    def point(self, p: Point) -> None:
        # Node.point + emit_point in one call: this runs for every point of every task.
        stats = self.stats
        stats.collected += 1
        stats.emitted += 1
        for child in self.children:
            child.point(p)


def dimensions_from(by: list[Any], by_measurement: bool) -> tuple[Dimensions, bool]:
    """(dimensions, all-tags?) for ``groupBy(...)``; ``*`` means every tag of each point."""
    if any(d is STAR for d in by):
        return Dimensions(by_measurement, ()), True
    return Dimensions(by_measurement, tuple(sorted(set(by)))), False


@register("from")
class FromNode(Node):
    """Filters by db, rp, measurement and where; then truncates/rounds time and sets the group.

    ``from()`` always replaces the grouping: without ``.groupBy`` the group is nil.
    """

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.database: str = p.get("database", "")
        self.retention_policy: str = p.get("retentionPolicy", "")
        self.measurement: str = p.get("measurement", "")
        self.truncate: int = int(p.get("truncate", 0) or 0)
        self.round: int = int(p.get("round", 0) or 0)
        self.dims, self.all_tags = dimensions_from(
            list(p.get("groupBy", [])), bool(p.get("groupByMeasurement", False))
        )
        # Nothing to change on an ungrouped point: forward the (immutable) point itself.
        self._passthrough = (
            not self.truncate
            and not self.round
            and not self.all_tags
            and self.dims == NO_DIMENSIONS
        )
        self.where = None
        if p.get("where") is not None:
            self.where = compile_lambda(p["where"])

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        if self.database and p.db != self.database:
            return
        if self.retention_policy and p.rp != self.retention_policy:
            return
        if self.measurement and p.name != self.measurement:
            return
        if self.where is not None:
            try:
                keep = self.where.eval_point_bool(p.time, p.fields, p.tags)
            except Exception as exc:  # an evaluation error drops the point, as in Kapacitor
                self.error("failed to evaluate WHERE expression", err=str(exc))
                return
            if not keep:
                return
        if self._passthrough and p.dims is NO_DIMENSIONS and p.group == NIL_GROUP:
            self.stats.emitted += 1
            for child in self.children:
                child.point(p)
            return
        t = p.time
        if self.truncate:
            t = gotime.truncate(t, self.truncate)
        if self.round:
            t = gotime.round_(t, self.round)
        dims = self.dims
        if self.all_tags:
            dims = Dimensions(dims.by_name, tuple(sorted(p.tags)))
            group = group_id(p.name, p.tags, dims)
        elif dims.tag_names:
            group = group_id(p.name, p.tags, dims)
        else:
            group = p.name if dims.by_name else NIL_GROUP
        # The constructor, not copy(**changes), and emit_point inlined: this runs for every
        # point of every task.
        out = Point(p.name, p.tags, p.fields, t, dims, group, p.db, p.rp)
        self.stats.emitted += 1
        for child in self.children:
            child.point(out)
