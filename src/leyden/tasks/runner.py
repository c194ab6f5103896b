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
from leyden.engine.node import TaskContext
from leyden.engine.router import Router
from leyden.engine.services import TaskServices
from leyden.engine.task import Task
from leyden.tick.builder import build_pipeline, task_vars_from_json
from leyden.tick.pipeline import Pipeline

__all__ = ["TaskRunner", "build"]


def build(script: str, *, filename: str, vars: Mapping[str, Any] | None = None) -> Pipeline:
    """The pipeline ``script`` declares, with the task's API ``vars`` (stored form); raises
    ``TickError`` (or ``ValueError`` for malformed vars)."""
    task_vars = None if vars is None else task_vars_from_json(vars)
    return build_pipeline(script, filename=filename, task_vars=task_vars)


class TaskRunner:
    """Starts and stops the tasks of one process on one router."""

    def __init__(
        self, *, router: Router, services: TaskServices, clock: Clock, hostname: str
    ) -> None:
        self.router = router
        self.services = services
        self.clock = clock
        self.hostname = hostname

    def start(self, name: str, pipeline: Pipeline, dbrps: Iterable[tuple[str, str]]) -> Task:
        """Build the nodes and subscribe the task; nothing is left subscribed if a node
        refuses its settings (``TaskError``, ``ValueError`` …)."""
        dbrps = tuple(dbrps)
        ctx = TaskContext(name, self.clock, self.services, self.hostname, dbrps)
        task = Task(name, pipeline, ctx, dbrps)
        try:
            task.start(self.router)
        except BaseException:
            task.stop(self.router)
            raise
        return task

    async def stop(self, task: Task, *, delete: bool = False) -> None:
        """Finish handed-off work, unsubscribe and stop the nodes, finish what ``stop``
        flushed; ``delete`` also runs the nodes' delete hooks (their anonymous topics and
        stored alert state go)."""
        await task.drain()
        task.stop(self.router)
        await task.drain()
        if delete:
            for node in task.nodes.values():
                hook = getattr(node, "delete", None)
                if callable(hook):
                    hook()
