"""From TICKscript to running nodes and back: the one path the task manager and replay share.

Kapacitor's task master (``task_master.go``) builds a task's pipeline, refuses what the server
cannot run, starts the nodes and subscribes the task to the router; ``leyden replay`` is its
stream integration test harness and goes through the same steps.  Stopping follows the
engine's contract, ``drain → stop → drain``, so work a node handed off (httpPost requests,
joins flushed by ``stop``) is finished before the task goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from leyden.clock import Clock
from leyden.engine.batch_runner import BatchQueries, start_batch_queries
from leyden.engine.node import GroupLimit, TaskContext
from leyden.engine.nodes.query import QueryNode
from leyden.engine.router import Router
from leyden.engine.services import TaskServices
from leyden.engine.task import Task
from leyden.tick.builder import build_pipeline, task_vars_from_json
from leyden.tick.pipeline import NodeSpec, Pipeline

__all__ = ["TaskRunner", "build"]


def build(script: str, *, filename: str, vars: Mapping[str, Any] | None = None) -> Pipeline:
    """The pipeline ``script`` declares, with the task's API ``vars`` (stored form); raises
    ``TickError`` (or ``ValueError`` for malformed vars)."""
    task_vars = None if vars is None else task_vars_from_json(vars)
    return build_pipeline(script, filename=filename, task_vars=task_vars)


def _query_node(task: Task, spec: NodeSpec) -> QueryNode:
    node = task.nodes[spec.name]
    assert isinstance(node, QueryNode), spec.name
    return node


class TaskRunner:
    """Starts and stops the tasks of one process on one router."""

    def __init__(
        self, *, router: Router, services: TaskServices, clock: Clock, hostname: str
    ) -> None:
        self.router = router
        self.services = services
        self.clock = clock
        self.hostname = hostname
        #: the live query runners of the running batch tasks, by ``id(task)``
        self._queries: dict[int, BatchQueries] = {}

    def start(self, name: str, pipeline: Pipeline, dbrps: Iterable[tuple[str, str]]) -> Task:
        """Build the nodes and subscribe the task; nothing is left subscribed if a node
        refuses its settings (``TaskError``, ``ValueError`` …).

        A batch task's ``query()`` nodes start querying their cluster on their schedule
        (:mod:`leyden.engine.batch_runner`), unless the clock is simulated: ``leyden replay``
        hands them recorded batches instead.  A refused query or schedule, or an unknown
        cluster, refuses the task with Kapacitor's message."""
        dbrps = tuple(dbrps)
        groups = GroupLimit(self.services.max_groups_per_task)
        ctx = TaskContext(name, self.clock, self.services, self.hostname, dbrps, groups)
        task = Task(name, pipeline, ctx, dbrps)
        try:
            task.start(self.router)
            if pipeline.task_type == "batch" and not self.services.simulated:
                self._queries[id(task)] = start_batch_queries(
                    name,
                    pipeline,
                    self.services.influxdb,
                    self.clock,
                    lambda spec: _query_node(task, spec).emit_batches,
                    stats_for=lambda spec: _query_node(task, spec).query_counts,
                )
        except BaseException:
            task.stop(self.router)
            raise
        return task

    async def stop(self, task: Task, *, delete: bool = False) -> None:
        """Finish handed-off work, unsubscribe and stop the nodes, finish what ``stop``
        flushed; ``delete`` also runs the nodes' delete hooks (their anonymous topics and
        stored alert state go)."""
        queries = self._queries.pop(id(task), None)
        if queries is not None:
            await queries.stop()  # no batch arrives after this; never raises
        await task.drain()
        task.stop(self.router)
        await task.drain()
        if delete:
            for node in task.nodes.values():
                hook = getattr(node, "delete", None)
                if callable(hook):
                    hook()
