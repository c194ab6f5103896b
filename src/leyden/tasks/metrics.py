"""The engine's statistics read at scrape time: for ``GET /metrics`` and Kapacitor's ``debug/vars``.

Kapacitor publishes its statistics as expvar maps (``server/vars``): ``ingress`` per database,
retention policy and measurement (``points_received``), ``nodes`` per task and node (tags
``task``, ``node``, ``type``, ``kind``; values ``avg_exec_time_ns``, ``errors``,
``working_cardinality`` and the node kind's own counters such as ``crits_triggered``),
``topics`` per topic (``collected``), and the globals ``num_tasks`` and ``num_enabled_tasks``.
Leyden keeps the same facts in plain counters that the per-point path already bumps (the
router's :class:`~leyden.engine.router.WriteStats`, each node's ``NodeStats`` and
``alert_stats``, each topic's ``collected``); nothing here adds work per point.
:func:`snapshot` copies them when someone asks, :class:`EngineCollector` names them the
Prometheus way, and :func:`kapacitor_stats` gives Kapacitor's ``{name, tags, values}`` maps.

A Kapacitor node's ``kind`` is its ``Desc()`` and its name is that plus its ID (``alert2``), so
the kind is the name without its trailing digits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from leyden.alerting.topics import Topic
from leyden.engine.router import WriteStats
from leyden.model.alert import Level
from leyden.model.records import TaskRecord

__all__ = [
    "EngineCollector",
    "EngineSnapshot",
    "NodeSnapshot",
    "TopicSnapshot",
    "kapacitor_stats",
    "snapshot",
]

_DIGITS = "0123456789"
#: the alert node's counters by level (Kapacitor's ``*_triggered``) and the level label they get
_ALERT_LEVELS = (
    ("oks_triggered", "OK"),
    ("infos_triggered", "INFO"),
    ("warns_triggered", "WARNING"),
    ("crits_triggered", "CRITICAL"),
)
#: node statistics that get a family of their own (the rest: ``leyden_node_stat``)
_OWN_FAMILIES = frozenset(
    {"avg_exec_time_ns", "collected", "emitted", "errors", "working_cardinality"}
    | {stat for stat, _ in _ALERT_LEVELS}
    | {"alerts_triggered", "alerts_inhibited", "events_dropped"}
)


class _Tasks(Protocol):
    """What is read of the task manager (:class:`leyden.tasks.manager.TaskManager`)."""

    def find(self, pattern: str = "", offset: int = 0, limit: int = 100) -> list[TaskRecord]: ...

    def running_task(self, task_id: str) -> Any: ...


class _Topics(Protocol):
    """What is read of the alert topics (:class:`leyden.alerting.topics.Topics`)."""

    def ids(self) -> list[str]: ...

    def get(self, topic_id: str) -> Topic | None: ...


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    task: str
    node: str
    #: Kapacitor's ``Desc()``: the node name without its ID
    kind: str
    #: the task's type: stream or batch
    type: str
    stats: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TopicSnapshot:
    id: str
    collected: int
    #: current event states per level name
    events: Mapping[str, int]


@dataclass(slots=True)
class EngineSnapshot:
    """The engine's counters at one moment."""

    write: WriteStats
    tasks: list[TaskRecord] = field(default_factory=list)
    #: the tasks executing now, with their throughput (points per second)
    throughput: dict[str, float] = field(default_factory=dict)
    nodes: list[NodeSnapshot] = field(default_factory=list)
    topics: list[TopicSnapshot] = field(default_factory=list)

    def executing(self, task_id: str) -> bool:
        return task_id in self.throughput

    def failed(self, record: TaskRecord) -> bool:
        """Enabled but not executing: its start failed (``record.error`` says why)."""
        return record.status == "enabled" and not self.executing(record.id)


def snapshot(write: WriteStats, tasks: _Tasks, topics: _Topics) -> EngineSnapshot:
    """Copy what the router, the running tasks and the topics count now."""
    snap = EngineSnapshot(write=write, tasks=tasks.find(limit=1 << 31))
    for record in snap.tasks:
        view = tasks.running_task(record.id)
        if view is None:
            continue
        stats = view.stats()
        snap.throughput[record.id] = float(stats.get("task-stats", {}).get("throughput", 0.0))
        for name, values in stats.get("node-stats", {}).items():
            kind = name.rstrip(_DIGITS) or name
            snap.nodes.append(NodeSnapshot(record.id, name, kind, record.type, values))
    for topic_id in topics.ids():
        topic = topics.get(topic_id)
        if topic is None:
            continue
        levels = Counter(str(s.level) for s in topic.events.values())
        snap.topics.append(TopicSnapshot(topic_id, topic.collected, dict(levels)))
    return snap


class EngineCollector:
    """A prometheus-client collector over :func:`snapshot` (``source`` gives one per scrape)."""

    def __init__(self, source: Callable[[], EngineSnapshot]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        snap = self._source()
        yield from _write_metrics(snap.write)
        yield from _task_metrics(snap)
        yield from _node_metrics(snap.nodes)
        yield from _topic_metrics(snap.topics)


def _write_metrics(write: WriteStats) -> Iterator[Metric]:
    writes = CounterMetricFamily(
        "leyden_write_requests", "Write requests (/write) per database.", labels=("database",)
    )
    errors = CounterMetricFamily(
        "leyden_write_errors",
        "Write requests refused in whole or part, per database.",
        labels=("database",),
    )
    for db in sorted(write.writes_per_db):
        writes.add_metric((db,), write.writes_per_db[db])
        errors.add_metric((db,), write.write_errors_per_db.get(db, 0))
    yield writes
    yield errors
    points = CounterMetricFamily(
        "leyden_points_received",
        "Points received per database and retention policy (Kapacitor's ingress).",
        labels=("database", "retention_policy"),
    )
    for (db, rp), n in sorted(write.per_dbrp.items()):
        points.add_metric((db, rp), n)
    yield points
    yield CounterMetricFamily(
        "leyden_points_routed",
        "Point deliveries to tasks (a point read by two tasks counts twice).",
        value=write.points_routed,
    )
    unrouted = CounterMetricFamily(
        "leyden_points_without_rp_unrouted",
        "Points written without rp= (and no default-retention-policy) that reached no task "
        "while tasks read the database under a named retention policy, per database.",
        labels=("database",),
    )
    for db, n in sorted(write.points_without_rp_unrouted.items()):
        unrouted.add_metric((db,), n)
    yield unrouted


def _task_metrics(snap: EngineSnapshot) -> Iterator[Metric]:
    tasks = GaugeMetricFamily("leyden_tasks", "Defined tasks by status.", labels=("status",))
    by_status = Counter(r.status for r in snap.tasks)
    for status in ("enabled", "disabled"):
        tasks.add_metric((status,), by_status[status])
    yield tasks
    executing = GaugeMetricFamily(
        "leyden_task_executing",
        "1 while the task executes; 0 when disabled or failed to start.",
        labels=("task", "type", "status"),
    )
    failed = GaugeMetricFamily(
        "leyden_task_failed",
        "1 when the task is enabled but could not start (see its error).",
        labels=("task",),
    )
    throughput = GaugeMetricFamily(
        "leyden_task_throughput_points_per_second",
        "Points per second into the task's sources (Kapacitor's task-stats throughput).",
        labels=("task",),
    )
    for r in snap.tasks:
        running = snap.executing(r.id)
        executing.add_metric((r.id, r.type, r.status), 1 if running else 0)
        failed.add_metric((r.id,), 1 if snap.failed(r) else 0)
        if running:
            throughput.add_metric((r.id,), snap.throughput[r.id])
    yield executing
    yield failed
    yield throughput


def _node_metrics(nodes: list[NodeSnapshot]) -> Iterator[Metric]:
    labels = ("task", "node", "kind")
    collected = CounterMetricFamily(
        "leyden_node_collected", "Points or batches into the node.", labels=labels
    )
    emitted = CounterMetricFamily(
        "leyden_node_emitted", "Points or batches out of the node.", labels=labels
    )
    errors = CounterMetricFamily("leyden_node_errors", "Errors in the node.", labels=labels)
    cardinality = GaugeMetricFamily(
        "leyden_node_working_cardinality",
        "Groups the node keeps state for (Kapacitor's working_cardinality).",
        labels=labels,
    )
    exec_time = GaugeMetricFamily(
        "leyden_node_avg_exec_time_seconds",
        "The node's own average time per message (Kapacitor's avg_exec_time_ns).",
        labels=labels,
    )
    alerts = CounterMetricFamily(
        "leyden_alerts_triggered",
        "Alert events raised by an alert node, by level.",
        labels=(*labels, "level"),
    )
    inhibited = CounterMetricFamily(
        "leyden_alerts_inhibited", "Alert events inhibited by an alert node.", labels=labels
    )
    dropped = CounterMetricFamily(
        "leyden_alert_events_dropped", "Alert events an alert node dropped.", labels=labels
    )
    other = GaugeMetricFamily(
        "leyden_node_stat",
        "A node kind's own statistic (points_written, query_errors …), by name.",
        labels=(*labels, "stat"),
    )
    for n in nodes:
        key = (n.task, n.node, n.kind)
        s = n.stats
        collected.add_metric(key, s.get("collected", 0))
        emitted.add_metric(key, s.get("emitted", 0))
        errors.add_metric(key, s.get("errors", 0))
        cardinality.add_metric(key, s.get("working_cardinality", 0))
        exec_time.add_metric(key, s.get("avg_exec_time_ns", 0) / 1e9)
        if "alerts_triggered" in s:
            for stat, level in _ALERT_LEVELS:
                alerts.add_metric((*key, level), s.get(stat, 0))
            inhibited.add_metric(key, s.get("alerts_inhibited", 0))
            dropped.add_metric(key, s.get("events_dropped", 0))
        for stat, value in sorted(s.items()):
            if stat not in _OWN_FAMILIES and isinstance(value, int | float):
                other.add_metric((*key, stat), value)
    yield from (collected, emitted, errors, cardinality, exec_time, alerts, inhibited, dropped)
    yield other


def _topic_metrics(topics: list[TopicSnapshot]) -> Iterator[Metric]:
    collected = CounterMetricFamily(
        "leyden_topic_events_collected", "Alert events collected by the topic.", labels=("topic",)
    )
    events = GaugeMetricFamily(
        "leyden_topic_events",
        "The topic's alert events by their current level.",
        labels=("topic", "level"),
    )
    for t in topics:
        collected.add_metric((t.id,), t.collected)
        for level in Level:
            events.add_metric((t.id, str(level)), t.events.get(str(level), 0))
    yield collected
    yield events


def kapacitor_stats(snap: EngineSnapshot, ids: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Kapacitor's ``"kapacitor"`` expvar map: ``{key: {"name", "tags", "values"}}``.

    Kapacitor keys each statistic by a random UUID; Leyden's keys are stable and readable
    (``nodes:cpu:alert2``), which no client relies on either way.  ``ids`` are the tags every
    statistic carries (``cluster_id``, ``server_id``, ``host``)."""
    out: dict[str, dict[str, Any]] = {}

    def add(key: str, name: str, tags: Mapping[str, str], values: Mapping[str, Any]) -> None:
        out[key] = {"name": name, "tags": {**tags, **ids}, "values": dict(values)}

    for (db, rp, m), n in sorted(snap.write.per_measurement.items()):
        # measurement "": points only engine workers parsed (see WriteStats.per_measurement)
        tags = {"database": db, "measurement": m, "retention_policy": rp, "task_master": "main"}
        add(f"ingress:{db}.{rp}.{m}", "ingress", tags, {"points_received": n})
    for node in snap.nodes:
        tags = {"task": node.task, "node": node.node, "type": node.type, "kind": node.kind}
        add(f"nodes:{node.task}:{node.node}", "nodes", tags, node.stats)
    for t in snap.topics:
        add(f"topics:{t.id}", "topics", {"id": t.id}, {"collected": t.collected})
    return out
