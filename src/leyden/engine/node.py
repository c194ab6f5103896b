"""Runtime nodes: the base class, per-node statistics and the registry of node kinds.

Points are pushed synchronously from parent to children (``point``/``batch``), which keeps the
order Kapacitor's per-edge goroutines guarantee and costs one method call per hop.  A node
that fails on one point logs, counts the error and drops that point; it never stops the task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.engine.clock import Clock
from leyden.engine.model import Batch, Point

log = logging.getLogger("leyden.task")


@dataclass
class NodeStats:
    collected: int = 0
    emitted: int = 0
    errors: int = 0


@dataclass
class TaskContext:
    """What every node of one task may use."""

    task_name: str
    clock: Clock
    hostname: str = "localhost"
    #: services by name (``discord``, ``topics``, ``http_out`` …), filled by the server or replay
    services: dict[str, Any] = field(default_factory=dict)


class Node:
    """Base of every runtime node. Subclasses override ``point`` and/or ``batch``."""

    kind: ClassVar[str] = ""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.name: str = getattr(spec, "name", self.kind)
        self.children: list[Node] = []
        self.stats = NodeStats()
        self.quiet: bool = bool(getattr(spec, "properties", {}).get("quiet", False))

    # --- edges ---------------------------------------------------------------------------

    def point(self, p: Point) -> None:
        """Receive a stream point. The default forwards it unchanged."""
        self.stats.collected += 1
        self.emit_point(p)

    def batch(self, b: Batch) -> None:
        """Receive a batch. The default forwards it unchanged."""
        self.stats.collected += 1
        self.emit_batch(b)

    def emit_point(self, p: Point) -> None:
        self.stats.emitted += 1
        for child in self.children:
            child.point(p)

    def emit_batch(self, b: Batch) -> None:
        self.stats.emitted += 1
        for child in self.children:
            child.batch(b)

    def stop(self) -> None:
        """End of the stream. Kapacitor flushes nothing here, so by default neither do we."""

    def error(self, message: str, **fields: Any) -> None:
        """Count and (unless ``.quiet()``) log an error for one point; the point is dropped."""
        self.stats.errors += 1
        if not self.quiet:
            log.error(
                message, extra={"fields": {"task": self.ctx.task_name, "node": self.name, **fields}}
            )


NODE_TYPES: dict[str, type[Node]] = {}


def register(kind: str) -> Callable[[type[Node]], type[Node]]:
    """Class decorator: make ``cls`` the runtime of pipeline nodes of ``kind``."""

    def deco(cls: type[Node]) -> type[Node]:
        cls.kind = kind
        NODE_TYPES[kind] = cls
        return cls

    return deco
