"""The live side of one ``batch|query()`` node: run its query on schedule, emit the batches.

Kapacitor's ``QueryNode.doQuery`` loops on its ticker: set the time bounds, send the query to
the node's cluster, turn each series into a batch and pass it down the task.  Its stats are
``query_errors``, ``batches_queried`` and ``points_queried``.  A failed query is logged and the
loop goes on with the next tick.

Here the loop is a task on the event loop, woken by the task clock (``Clock.call_at``), so a
simulated clock drives it in tests; the query goes through the engine's port
(:class:`~leyden.engine.influx.InfluxDBClusters`), never blocking the per-point path; what
comes back is handed to ``emit(batches, run_time_ns)``, the node's entry point.  The runner
knows nothing of the node class.  Unlike Kapacitor, which logs every failed run, a failure is
logged when the node starts failing (and its recovery when it stops), with the error counted
on every run; an unknown cluster is an error at start naming the configured ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from leyden.clock import Clock
from leyden.engine.batch_query import BatchQuery, BatchQueryError, build_batch_query
from leyden.engine.batch_results import ResultError, series_to_batches
from leyden.engine.batch_schedule import Schedule, schedule_from_properties
from leyden.engine.cron import LOCAL
from leyden.engine.influx import InfluxDBCluster, InfluxDBClusters, InfluxDBError
from leyden.engine.model import Batch
from leyden.tick.pipeline.graph import NodeSpec, Pipeline

__all__ = [
    "BatchQueries",
    "BatchQueryRunner",
    "BatchQueryStats",
    "QueryPlan",
    "plan_from_properties",
    "start_batch_queries",
]

log = logging.getLogger("leyden.task")

Emit = Callable[[list[Batch], int], None]


@dataclass(slots=True)
class BatchQueryStats:
    """Kapacitor's statistics of a query node: owned by the node (``QueryNode.query_counts``),
    which counts the batches and points it is handed; a runner counts its failed queries."""

    query_errors: int = 0
    batches_queried: int = 0
    points_queried: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "query_errors": self.query_errors,
            "batches_queried": self.batches_queried,
            "points_queried": self.points_queried,
        }


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """Everything a ``query`` node's properties say about its runs."""

    query: BatchQuery
    schedule: Schedule
    cluster: str = ""
    by_name: bool = False


def plan_from_properties(props: dict[str, Any], *, tz: tzinfo | None = UTC) -> QueryPlan:
    """A ``query`` node's plan from its TICKscript properties (``query``, ``period``,
    ``every``, ``align``, ``cron``, ``offset``, ``alignGroup``, ``groupBy``,
    ``groupByMeasurement``, ``fill``, ``cluster``); raises ``BatchQueryError`` or
    ``ScheduleError`` with Kapacitor's message."""
    query = build_batch_query(
        str(props.get("query", "")),
        group_by=list(props.get("groupBy") or ()),
        fill=props.get("fill"),
        align_group=bool(props.get("alignGroup")),
    )
    return QueryPlan(
        query,
        schedule_from_properties(props, tz=tz),
        str(props.get("cluster") or ""),
        bool(props.get("groupByMeasurement")),
    )


class BatchQueryRunner:
    """Runs one query node's plan against its cluster until stopped."""

    def __init__(
        self,
        plan: QueryPlan,
        clusters: InfluxDBClusters,
        emit: Emit,
        *,
        clock: Clock,
        name: str = "query",
        stats: BatchQueryStats | None = None,
    ) -> None:
        self.plan = plan
        self.clusters = clusters
        self.emit = emit
        self.clock = clock
        self.name = name  # "<task>/<node>", for the log
        task, _, node = name.rpartition("/")
        #: the keys of every log line of this runner (``leyden watch TASK`` selects on them)
        self._extra = {"fields": {"task": task or name, "node": node}}
        self.stats = stats if stats is not None else BatchQueryStats()
        self.runs = 0  # completed runs, failed or not
        self._cluster: InfluxDBCluster | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._disarm: Callable[[], None] = lambda: None

    def start(self) -> None:
        """Resolve the cluster (``BatchQueryError`` naming the configured ones when unknown)
        and start the loop on the running event loop."""
        try:
            self._cluster = self.clusters.get(self.plan.cluster)
        except KeyError as exc:
            raise BatchQueryError(f"failed to get InfluxDB client: {exc.args[0]}") from None
        for warning in self.plan.query.warnings:
            log.warning("%s: %s", self.name, warning, extra=self._extra)
        loop = asyncio.get_running_loop()
        # the first wake-up is armed now, so a clock that moves right after start() wakes it
        first = self.plan.schedule.first(self.clock.now())
        armed = self._arm(loop, first) if first is not None else None
        self._task = loop.create_task(self._loop(first, armed), name=self.name)

    def cancel(self) -> asyncio.Task[None] | None:
        """Stop at once: no more runs (a query in flight is abandoned)."""
        task, self._task = self._task, None
        self._disarm()
        if task is not None:
            task.cancel()
        return task

    async def stop(self) -> None:
        task = self.cancel()
        if task is not None:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # the loop died: say so, and let the task stop anyway
                log.exception("%s: the query loop had failed", self.name, extra=self._extra)

    def _arm(
        self, loop: asyncio.AbstractEventLoop, when: int
    ) -> tuple[asyncio.Future[int], Callable[[], None]]:
        """A future the clock completes at ``when``, and the timer's cancel function."""
        fut: asyncio.Future[int] = loop.create_future()

        def wake(now: int) -> None:
            if not fut.done():
                fut.set_result(now)

        if self.clock.now() >= when:
            fut.set_result(self.clock.now())
            self._disarm = lambda: None
        else:
            self._disarm = self.clock.call_at(when, wake)
        return fut, self._disarm

    async def _loop(
        self, tick: int | None, armed: tuple[asyncio.Future[int], Callable[[], None]] | None
    ) -> None:
        loop = asyncio.get_running_loop()
        while tick is not None and armed is not None:
            fut, cancel = armed
            try:
                await fut
            finally:
                cancel()
            await self.run_once(tick)
            tick = self.plan.schedule.after(tick, self.clock.now())
            armed = self._arm(loop, tick) if tick is not None else None

    async def run_once(self, tick: int) -> None:
        """One run: query ``[start, stop)`` for the run at ``tick`` and emit what comes back."""
        cluster = self._cluster
        if cluster is None:
            raise RuntimeError("BatchQueryRunner.run_once before start()")
        start, stop = self.plan.schedule.window(tick)
        text = self.plan.query.text(start, stop)
        fields = {**self._extra["fields"], "query": text}
        log.debug("starting batch query", extra={"fields": fields})
        try:
            series = await cluster.query(text)
            batches = series_to_batches(
                series,
                stop=stop,
                by_name=self.plan.by_name,
                grouped_by_time=self.plan.query.grouped_by_time,
            )
        except Exception as exc:  # an InfluxDB error, an answer of the wrong shape …
            self.runs += 1
            self.stats.query_errors += 1
            if not isinstance(exc, InfluxDBError | ResultError):
                # not a failure InfluxDB reported: a bug or an answer we cannot read; the
                # loop goes on, the traceback is logged each time (it must be seen)
                log.exception(
                    "%s: the query's answer could not be used", self.name, extra=self._extra
                )
            elif not self._failing:
                self._failing = True
                log.error(
                    "%s: error executing query on cluster %r: %s (logged once until it works)",
                    self.name,
                    cluster.name,
                    exc,
                    extra=self._extra,
                )
            return
        self.runs += 1
        if self._failing:
            self._failing = False
            log.info(
                "%s: query on cluster %r works again", self.name, cluster.name, extra=self._extra
            )
        if batches:
            try:
                self.emit(batches, tick)
            except Exception:
                log.exception(
                    "%s: the task failed on a queried batch", self.name, extra=self._extra
                )


class BatchQueries:
    """The runners of one task's ``query`` nodes, started together and stopped together."""

    def __init__(self, runners: list[BatchQueryRunner]) -> None:
        self.runners = runners

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.stop()


def start_batch_queries(
    task: str,
    pipeline: Pipeline,
    clusters: InfluxDBClusters,
    clock: Clock,
    emit_for: Callable[[NodeSpec], Emit],
    *,
    stats_for: Callable[[NodeSpec], BatchQueryStats] | None = None,
    tz: tzinfo | None = LOCAL,
) -> BatchQueries:
    """Plan and start a runner for every ``query`` node of ``pipeline`` (a task being
    enabled in ``leyden serve``); ``emit_for(spec)`` is the node's entry point and
    ``stats_for(spec)`` its stats, where failed queries are counted.  Raises
    ``BatchQueryError``/``ScheduleError`` (Kapacitor's messages, prefixed with the node) and
    starts nothing when one node's plan or cluster is wrong.  Cron expressions are read in
    ``tz``, by default the server's local zone, as Kapacitor reads them."""
    planned: list[tuple[NodeSpec, QueryPlan]] = []
    for spec in pipeline.nodes:
        if spec.kind != "query":
            continue
        try:
            planned.append((spec, plan_from_properties(spec.properties, tz=tz)))
        except ValueError as exc:
            raise type(exc)(f"{spec.name}: {exc}") from None
    runners: list[BatchQueryRunner] = []
    try:
        for spec, plan in planned:
            runner = BatchQueryRunner(
                plan,
                clusters,
                emit_for(spec),
                clock=clock,
                name=f"{task}/{spec.name}",
                stats=stats_for(spec) if stats_for is not None else None,
            )
            runner.start()
            runners.append(runner)
    except BatchQueryError as exc:
        for runner in runners:
            runner.cancel()
        raise BatchQueryError(f"{spec.name}: {exc}") from None
    return BatchQueries(runners)
