"""Output nodes that keep or show data: ``httpOut`` (semantics §2.4)."""

from __future__ import annotations

from typing import Any

from leyden.engine.model import Batch, Point
from leyden.engine.node import Node, TaskContext, register
from leyden.engine.result import batch_row, point_row, result


@register("httpOut")
class HTTPOutNode(Node):
    """Keeps the latest row per group, in first-seen group order, and forwards unchanged."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.endpoint: str = spec.properties.get("endpoint", "")
        self._rows: dict[str, dict[str, Any]] = {}

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        self._rows[p.group] = point_row(p)
        self.emit_point(p)

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        self._rows[b.group] = batch_row(b)
        self.emit_batch(b)

    def forget_group(self, group: str) -> None:
        """A barrier deleted the group: its slot goes too."""
        self._rows.pop(group, None)

    def cardinality(self) -> int:
        return len(self._rows)

    def http_result(self) -> dict[str, Any]:
        return result(list(self._rows.values()))
