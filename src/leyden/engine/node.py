"""Runtime nodes: the base class, per-node statistics and the registry of node kinds.

``NODE_CLASSES`` is filled by ``@register`` in the node modules; importing
:mod:`leyden.engine.nodes` imports every one of them, so the registry is complete from then on.

Points are pushed synchronously from parent to children (``point``/``batch``), which keeps the
order Kapacitor's per-edge goroutines guarantee and costs one method call per hop.  A node
that fails on one point logs, counts the error and drops that point; it never stops the task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from leyden.clock import Clock
from leyden.engine.model import Batch, Dimensions, Point
from leyden.engine.services import TaskServices

log = logging.getLogger("leyden.task")


class TaskError(Exception):
    """The task cannot start: a node refused its settings, or a node kind this server does not
    run yet."""


@dataclass(slots=True)
class NodeStats:
    collected: int = 0
    emitted: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class Barrier:
    """Kapacitor's BarrierMessage: the group will send nothing older than ``time`` any more.

    Emitted by ``barrier()`` nodes; windows and joins use it to flush what they hold.
    """

    group: str
    tags: dict[str, str]
    dims: Dimensions
    time: int
    name: str = ""


class MessageSampler(Protocol):
    """Who times a sample of the batches and timer ticks (the task's ``ExecTimes``): they are
    rarer than points, and a node below a window (or a ``stats()`` node) sees none of the
    sampled written points."""

    def due(self, n: int) -> bool:
        """Whether to time the ``n``-th batch (tick, query run) of the asking node."""
        ...

    def call(self, fn: Callable[..., None], *args: Any) -> None: ...


class Receiver(Protocol):
    """What a node's ``children`` list holds: a node, or a :class:`ParentEdge` in front of one."""

    def point(self, p: Point) -> None: ...
    def batch(self, b: Batch) -> None: ...
    def barrier(self, b: Barrier) -> None: ...
    def delete_group(self, group: str) -> None: ...


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What every node of one task may use."""

    task_name: str
    clock: Clock
    #: the process's services (alert service, endpoints …), built by :mod:`leyden.runtime`
    services: TaskServices
    hostname: str = "localhost"
    #: the (database, retention policy)s the task reads (empty: every one)
    dbrps: tuple[tuple[str, str], ...] = ()


class Node:
    """Base of every runtime node. Subclasses override ``point`` and/or ``batch``."""

    kind: ClassVar[str] = ""
    #: set by the task: times one batch in so many, with its children (see ``emit_batch``)
    sampler: MessageSampler | None = None

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.name: str = getattr(spec, "name", self.kind)
        self.children: list[Receiver] = []
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
        sampler = self.sampler
        if sampler is not None and sampler.due(self.stats.emitted):
            sampler.call(self._batch_to_children, b)
            return
        for child in self.children:
            child.batch(b)

    def _batch_to_children(self, b: Batch) -> None:
        for child in self.children:
            child.batch(b)

    def barrier(self, b: Barrier) -> None:
        """Receive a barrier. The default forwards it."""
        self.emit_barrier(b)

    def delete_group(self, group: str) -> None:
        """A barrier ``.delete(TRUE)`` dropped ``group``: forget its state, then tell the children."""
        self.forget_group(group)
        self.emit_delete(group)

    def forget_group(self, group: str) -> None:
        """Drop per-group state of ``group``; nodes with such state override this."""

    def emit_barrier(self, b: Barrier) -> None:
        for child in self.children:
            child.barrier(b)

    def emit_delete(self, group: str) -> None:
        for child in self.children:
            child.delete_group(group)

    def cardinality(self) -> int:
        """Kapacitor's ``working_cardinality``: the groups this node holds (created on a group's
        first message, dropped by a barrier's ``.delete()``).

        Read when statistics are asked for, from the node's own per-group state (the length
        of its dict), so the per-point path pays nothing.  Kapacitor counts it for the nodes
        that consume their edge group by group (``edge.NewGroupedConsumer``: alert, window,
        the InfluxQL functions, derivative, where, eval …) and for groupBy and join; the
        others (stream, from, default, delete, shift, log, union, influxDBOut, sideload …)
        report 0, as this default does.
        """
        return 0

    def stop(self) -> None:
        """End of the stream. Kapacitor flushes nothing here, so by default neither do we."""

    async def drain(self) -> None:
        """Wait until work this node handed off (HTTP requests …) is done; default: none."""

    def error(self, message: str, **fields: Any) -> None:
        """Count and (unless ``.quiet()``) log an error for one point; the point is dropped."""
        self.stats.errors += 1
        if not self.quiet:
            log.error(
                message, extra={"fields": {"task": self.ctx.task_name, "node": self.name, **fields}}
            )


class MultiParentNode(Node):
    """A node with several parents (join, union), which must know where each message came from.

    The task puts a :class:`ParentEdge` carrying the parent's index (its position in
    ``NodeSpec.parents``, Kapacitor's order) in each parent's children list, so a message
    arrives as ``point_from(index, p)`` and so on.  Called directly, the plain methods treat the
    message as coming from parent 0.
    """

    def point_from(self, src: int, p: Point) -> None:
        raise NotImplementedError

    def batch_from(self, src: int, b: Batch) -> None:
        raise NotImplementedError

    def barrier_from(self, src: int, b: Barrier) -> None:
        self.emit_barrier(b)

    def delete_from(self, src: int, group: str) -> None:
        self.forget_group(group)
        self.emit_delete(group)

    def point(self, p: Point) -> None:
        self.point_from(0, p)

    def batch(self, b: Batch) -> None:
        self.batch_from(0, b)

    def barrier(self, b: Barrier) -> None:
        self.barrier_from(0, b)

    def delete_group(self, group: str) -> None:
        self.delete_from(0, group)


class ParentEdge:
    """The edge from one parent into a :class:`MultiParentNode`: it tags messages with the index."""

    __slots__ = ("index", "node")

    def __init__(self, node: MultiParentNode, index: int) -> None:
        self.node = node
        self.index = index

    def point(self, p: Point) -> None:
        self.node.point_from(self.index, p)

    def batch(self, b: Batch) -> None:
        self.node.batch_from(self.index, b)

    def barrier(self, b: Barrier) -> None:
        self.node.barrier_from(self.index, b)

    def delete_group(self, group: str) -> None:
        self.node.delete_from(self.index, group)


#: the runtime class of every pipeline node kind; complete once :mod:`leyden.engine.nodes` is
#: imported
NODE_CLASSES: dict[str, type[Node]] = {}


def register(kind: str) -> Callable[[type[Node]], type[Node]]:
    """Class decorator: make ``cls`` the runtime of pipeline nodes of ``kind``."""

    def deco(cls: type[Node]) -> type[Node]:
        cls.kind = kind
        NODE_CLASSES[kind] = cls
        return cls

    return deco
