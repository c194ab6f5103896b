"""What a running task reports: throughput, per-node statistics and the executing graph.

Kapacitor's ``GET /tasks/<id>`` shows ``stats`` (``task-stats`` and ``node-stats``) and, for a
running task, the ``EDot`` graph with every node's statistics and edge counts.  These are read
models of the task domain, kept out of the HTTP package so other views (a status page) can use
them; the API only puts them into Kapacitor's JSON.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leyden.engine.node import Node
from leyden.engine.task import Task
from leyden.go.types import Duration

__all__ = ["RunningTask", "Throughput"]

_NS_PER_S = 1_000_000_000


class Throughput:
    """Points per second into a task's sources, re-measured at most once a second on request
    (Kapacitor samples every second; nothing here runs when nobody asks)."""

    __slots__ = ("count", "rate", "since")

    def __init__(self, count: int) -> None:
        self.since = time.monotonic_ns()
        self.count = count
        self.rate = 0.0

    def sample(self, count: int) -> float:
        now = time.monotonic_ns()
        elapsed = now - self.since
        if elapsed >= _NS_PER_S:
            self.rate = (count - self.count) / (elapsed / _NS_PER_S)
            self.since, self.count = now, count
        return self.rate


def _source_count(task: Task) -> int:
    return sum(n.stats.collected for n in task.nodes.values() if n.kind in ("stream", "query"))


def _node_stats(task: Task, node: Node) -> dict[str, Any]:
    """Kapacitor's per-node statMap: ``avg_exec_time_ns`` from the task's sampled timings
    (``ExecTimes``), ``working_cardinality`` from the node's ``cardinality()`` (the length of
    its per-group state, read now), ``groups_refused`` once the task's group limit refused
    a point, and a kind's own counters from ``alert_stats`` /
    ``extra_stats`` (``points_written`` …)."""
    stats: dict[str, Any] = {
        "avg_exec_time_ns": task.exec_times.avg_ns(node.name),
        "errors": node.stats.errors,
        "working_cardinality": node.cardinality(),
    }
    if node.stats.groups_refused:  # Leyden's own; absent (as in Kapacitor) until it counts
        stats["groups_refused"] = node.stats.groups_refused
    for hook in ("alert_stats", "query_stats", "extra_stats"):  # a kind's own statistics
        extra = getattr(node, hook, None)
        if isinstance(extra, Mapping):
            stats.update(extra)
    return stats


@dataclass
class RunningTask:
    """A started task and its throughput meter."""

    task: Task
    throughput: Throughput

    @classmethod
    def started(cls, task: Task) -> RunningTask:
        return cls(task, Throughput(_source_count(task)))

    def stats(self) -> dict[str, Any]:
        """Kapacitor's ``stats``: ``task-stats`` (throughput) and ``node-stats`` by node."""
        task = self.task
        nodes = {}
        for name, node in task.nodes.items():
            stats = _node_stats(task, node)
            stats["collected"] = node.stats.collected
            stats["emitted"] = node.stats.emitted
            nodes[name] = stats
        rate = self.throughput.sample(_source_count(task))
        return {"task-stats": {"throughput": rate}, "node-stats": nodes}

    def dot(self, task_id: str, labels: bool) -> str:
        """Kapacitor's ``EDot``: the graph with each node's statistics and edge counts."""
        task = self.task
        rate = self.throughput.sample(_source_count(task))
        unit = "batches" if task.pipeline.task_type == "batch" else "points"
        out = [f"digraph {task_id} {{\n"]
        if labels:
            out.append(
                f'graph [label="Throughput: {rate:0.2f} {unit}/s" forcelabels=true '
                'pad="0.8,0.5"];\n'
            )
        else:
            out.append(f'graph [throughput="{rate:0.2f} {unit}/s"];\n')
        for spec in task.pipeline.walk():
            node = task.nodes[spec.name]
            stats = sorted(_node_stats(task, node).items())
            shown = [(k, str(Duration(v)) if k == "avg_exec_time_ns" else str(v)) for k, v in stats]
            if labels:
                out.append(f'\n{node.name} [xlabel="' + r"\r".join(f"{k}={v}" for k, v in shown))
                out.append('"];\n')
            else:
                out.append(f"\n{node.name} [" + "".join(f'{k}="{v}" ' for k, v in shown) + "];\n")
            for child in spec.children:
                if labels:
                    out.append(
                        f'{node.name} -> {child.name} [label="processed={node.stats.emitted}"];\n'
                    )
                else:
                    out.append(f'{node.name} -> {child.name} [processed="{node.stats.emitted}"];\n')
        out.append("}")
        return "".join(out)
