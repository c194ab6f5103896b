"""``kapacitorLoopback``: a task's points written back into this server, as if they had come
through ``/write`` (Kapacitor's kapacitor_loopback.go).

Each stream point, or each point of a batch, becomes a point of ``.database()`` and
``.retentionPolicy()`` (both required), named ``.measurement()`` if set, with the ``.tag()``s
added over its own; fields and time are kept, the grouping is not.  The node hands them to the
process's loopback port (:attr:`~leyden.engine.services.TaskServices.loopback`), which queues
them and delivers them after the current write: the router is never re-entered from inside the
per-point path, and a task reading the loopback's database sees the points as a write of their
own.  ``points_written`` counts what was handed over, as Kapacitor's stat does.

As in Kapacitor, a task that reads the database and retention policy it loops into is refused
when it starts (``loop detected on dbrp``).  One deliberate difference: Kapacitor ignores
``.measurement()`` for batches (their points keep the batch's name); here it applies to both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leyden.engine.model import Batch, Point
from leyden.engine.node import Node, TaskContext, TaskError, register
from leyden.engine.services import Loopback
from leyden.lineprotocol import WirePoint

__all__ = ["KapacitorLoopbackNode"]


@register("kapacitorLoopback")
class KapacitorLoopbackNode(Node):
    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.database: str = p.get("database", "") or ""
        self.retention_policy: str = p.get("retentionPolicy", "") or ""
        self.measurement: str = p.get("measurement", "") or ""
        self.tags: dict[str, str] = dict(p.get("tags", {}) or {})
        if not self.database or not self.retention_policy:  # (the pipeline checks it first)
            raise TaskError(f"{self.name}: must specify a database and a retention policy")
        loopback = ctx.services.loopback
        if loopback is None:
            raise TaskError(f"{self.name}: this process cannot write points back into the server")
        self.loopback: Loopback = loopback
        if (self.database, self.retention_policy) in ctx.dbrps:
            raise TaskError(
                f'{self.name}: loop detected on dbrp: "{self.database}"."{self.retention_policy}" '
                "(the task reads the database and retention policy it writes back to)"
            )
        self.points_written = 0

    @property
    def extra_stats(self) -> Mapping[str, int]:
        """Kapacitor's node statistics of a loopback node."""
        return {"points_written": self.points_written}

    def _tags(self, tags: dict[str, str]) -> dict[str, str]:
        if not self.tags:
            return tags
        return dict(sorted({**tags, **self.tags}.items()))

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        point = WirePoint(self.measurement or p.name, self._tags(p.tags), p.fields, p.time)
        self.loopback(self.database, self.retention_policy, (point,))
        self.points_written += 1

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        if not b.points:
            return
        name = self.measurement or b.name
        points = [WirePoint(name, self._tags(bp.tags), bp.fields, bp.time) for bp in b.points]
        self.loopback(self.database, self.retention_policy, points)
        self.points_written += len(points)
