"""Batch sources: ``batch`` (the task's root) and ``query()``, which hands batches to the task.

Kapacitor's ``batch.go``: a ``QueryNode`` runs its InfluxQL on a schedule, turns each series
of the answer into one batch (``edge.ResultToBufferedBatches``: the series' tags are the group,
grouped by measurement when ``.groupByMeasurement()``) and passes it to its children; the
integration tests' replayer (``replay.go``) hands recorded batches to the same node instead.
Here both callers use one entry point, :meth:`QueryNode.emit_batches`, so the live scheduler
and ``leyden replay`` cannot drift apart.  The node counts Kapacitor's ``batches_queried`` and
``points_queried``; the live scheduler counts ``query_errors`` into the same object
(:attr:`QueryNode.query_counts`, see :mod:`leyden.engine.batch_runner`).

``queryFlux()`` has no runtime class: Leyden runs no Flux, and the task is refused when it
starts (``Pipeline.unsupported`` names it as Flux).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from leyden.engine.batch_query import BatchQueryError, build_batch_query
from leyden.engine.batch_runner import BatchQueryStats
from leyden.engine.model import Batch, Dimensions, group_id
from leyden.engine.node import Node, TaskContext, TaskError, register


@register("batch")
class BatchNode(Node):
    """The root of a batch task; its ``query()`` children are fed from outside."""


@register("query")
class QueryNode(Node):
    """The batch source of a batch task: receives batches and pushes them to its children."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.query: str = str(p.get("query", ""))
        self.by_name: bool = bool(p.get("groupByMeasurement", False))
        self.period: int = int(p.get("period", 0) or 0)
        self.every: int = int(p.get("every", 0) or 0)
        self.cron: str = str(p.get("cron", "") or "")
        self.offset: int = int(p.get("offset", 0) or 0)
        #: Kapacitor's query-node stats; the live scheduler (``batch_runner``) counts failed
        #: queries into the same object, so one object owns them
        self.query_counts = BatchQueryStats()
        self._runs = 0  # emit_batches calls, for the exec-time sampling
        try:  # Kapacitor's NewQuery: one SELECT that parses (the scheduler builds the rest)
            build_batch_query(self.query)
        except BatchQueryError as exc:
            raise TaskError(str(exc)) from None
        if self.every and self.cron:
            raise TaskError(f"{self.name}: must not set both 'every' and 'cron' properties")
        if self.every < 0:
            raise TaskError(f"{self.name}: 'every' duration must must non-negative")
        if not self.every and not self.cron:
            raise TaskError(f"{self.name}: must define one of 'every' or 'cron'")

    def emit_batches(self, batches: Sequence[Batch], now_ns: int) -> None:
        """The one entry point of a batch task's data: ``batches`` (one per series of a query
        answer, or read from a recording) go to the children in order.

        A batch whose ``tmax`` is 0 (not set: the query was not grouped by time, or the
        recording gave none) gets ``now_ns``, the query's stop time, as Kapacitor's
        ``doQuery`` does.  The batch's group is recomputed from its tags and this node's
        ``groupByMeasurement``, so a caller need only fill ``name``, ``tags`` and ``points``.
        Points are counted in ``batches_queried``/``points_queried``.  One call in so many is
        timed with the nodes below (the task's ``ExecTimes``).
        """
        sampler = self.sampler
        self._runs += 1
        if sampler is not None and sampler.due(self._runs):
            sampler.call(self._emit_batches, batches, now_ns)
            return
        self._emit_batches(batches, now_ns)

    def _emit_batches(self, batches: Sequence[Batch], now_ns: int) -> None:
        """:meth:`emit_batches`' work, under the name the exec-time sampler times (``emit_batches``
        would be the caller's frame, outside the sample)."""
        for b in batches:
            dims = Dimensions(self.by_name, tuple(sorted(b.tags)))
            group = group_id(b.name, b.tags, dims)
            tmax = b.tmax or now_ns
            if group != b.group or dims != b.dims or tmax != b.tmax:
                b = b.copy(group=group, dims=dims, tmax=tmax)
            self.query_counts.batches_queried += 1
            self.query_counts.points_queried += len(b.points)
            self.stats.collected += 1
            self.emit_batch(b)

    @property
    def query_stats(self) -> Mapping[str, int]:
        """Kapacitor's extra node stats of a query node (read by the task-stats code)."""
        return self.query_counts.as_dict()
