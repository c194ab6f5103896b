"""``[engine] max-groups-per-task``: a node of a task holds at most so many groups (issue 16).

Each node kind that creates per-group state refuses the point of a new group at the limit
(counted in ``groups_refused``), keeps the groups it holds, and the task logs one warning line
per episode.  Nothing here times anything: the clock is simulated.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from engine_support import DiscardAlerts

from leyden.clock import SimulatedClock
from leyden.config import Config
from leyden.engine.node import GroupLimit, TaskContext
from leyden.engine.router import Router
from leyden.engine.services import DEFAULT_MAX_GROUPS, AlertNodeOptions, TaskServices
from leyden.engine.task import Task
from leyden.lineprotocol import WirePoint
from leyden.tasks.runner import TaskRunner, build
from leyden.tasks.stats import RunningTask
from leyden.tick.builder import build_pipeline
from leyden.workers.pool import worker_init
from leyden.workers.worker import WorkerEngine

S = 1_000_000_000
HOSTS = ("a", "b", "c", "d")
GROUPED = "stream|from().measurement('cpu').groupBy('host')"
WINDOW = "|window().period(2s).every(2s)"

#: script below GROUPED and the node that hits a limit of 2 groups (of 4 hosts)
KINDS: list[tuple[str, str]] = [
    (WINDOW, "window2"),
    ("|mean('v')", "mean2"),  # InfluxQL aggregate on a stream edge: buckets
    ("|cumulativeSum('v')", "cumulativeSum2"),  # InfluxQL transform: tracks
    ('|alert().crit(lambda: "v" > 5)', "alert2"),
    ("|combine(lambda: TRUE, lambda: TRUE).as('x', 'y')", "combine2"),
    ("|flatten().on('host')", "flatten2"),
    ("|barrier().period(1h)", "barrier2"),
]


class CountingLimit(GroupLimit):
    """A group limit that counts how often it is asked."""

    __slots__ = ("asked",)

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.asked = 0

    def admit(self, node: Any, held: int) -> bool:
        self.asked += 1
        return super().admit(node, held)


ROUTERS: dict[int, Router] = {}


def write(task: Task, t: int, hosts: tuple[str, ...]) -> None:
    ROUTERS[id(task)].write_points(
        "db", "rp", [WirePoint("cpu", {"host": h}, {"v": 1.0}, t) for h in hosts]
    )


def run(script: str, limit: int, *, fused: bool = True, points: int = 10) -> Task:
    clock = SimulatedClock(0)
    ctx = TaskContext(
        "t",
        clock,
        TaskServices(alerts=DiscardAlerts(), max_groups_per_task=limit),
        groups=CountingLimit(limit),
    )
    task = Task("t", build_pipeline(script), ctx, [("db", "rp")], fused=fused)
    router = ROUTERS[id(task)] = Router()
    task.start(router)
    for i in range(points):
        clock.advance_to(i * S)
        router.write_points(
            "db", "rp", [WirePoint("cpu", {"host": h}, {"v": float(i)}, i * S) for h in HOSTS]
        )
    return task


def _stats(task: Task) -> dict[str, Any]:
    return RunningTask.started(task).stats()["node-stats"]


@pytest.mark.parametrize(("below", "node"), KINDS, ids=[k[1] for k in KINDS])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "node-by-node"])
def test_a_node_refuses_new_groups_at_the_limit(below: str, node: str, fused: bool) -> None:
    task = run(GROUPED + below, 2, fused=fused)
    n = task.nodes[node]
    assert n.cardinality() == 2
    # the 2 refused hosts' 10 points each; the admitted ones' points all went in
    assert n.stats.groups_refused == 20
    assert n.stats.collected == 40
    stats = _stats(task)
    assert stats[node]["groups_refused"] == 20
    assert stats[node]["working_cardinality"] == 2


@pytest.mark.parametrize(("below", "node"), KINDS, ids=[k[1] for k in KINDS])
def test_unlimited_and_below_the_limit_refuse_nothing(below: str, node: str) -> None:
    for limit in (0, 4):
        task = run(GROUPED + below, limit)
        assert task.nodes[node].cardinality() == 4
        assert task.nodes[node].stats.groups_refused == 0
        # absent from the API's node stats (Kapacitor's exact shape) until something counts
        assert "groups_refused" not in _stats(task)[node]


def test_the_existing_groups_keep_their_state() -> None:
    """A window at the limit still closes its admitted groups' windows, every 2s."""
    task = run(GROUPED + WINDOW + "|max('v')", 2)
    assert task.nodes["window2"].cardinality() == 2
    assert task.nodes["max3"].cardinality() == 2
    # 10 points a host over 0..9s: windows close at 2,4,6,8s for each of the 2 hosts
    assert task.nodes["window2"].stats.emitted == 8
    assert task.nodes["max3"].stats.groups_refused == 0


def test_a_windowed_batch_function_counts_what_it_refuses() -> None:
    """Each node of the task has the same bound: the window refuses the 4th host, so the
    InfluxQL function below it (a batch edge) sees 3 groups and refuses none."""
    task = run(GROUPED + WINDOW + "|max('v')", 3)
    assert task.nodes["window2"].cardinality() == 3
    assert task.nodes["max3"].cardinality() == 3
    assert task.nodes["window2"].stats.groups_refused == 10


def test_one_warning_per_episode(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="leyden.task")
    task = run(GROUPED + WINDOW, 2)
    records = [r for r in caplog.records if "group limit" in r.getMessage()]
    assert len(records) == 1
    assert records[0].fields == {  # type: ignore[attr-defined]
        "task": "t",
        "node": "window2",
        "limit": 2,
        "raise": "[engine] max-groups-per-task",
    }
    # the episode ends when the node admits a new group again (one was deleted) …
    window = task.nodes["window2"]
    window.forget_group("host=a")
    caplog.clear()
    write(task, 20 * S, ("e", "f", "g"))
    assert window.cardinality() == 2
    assert window.stats.groups_refused == 20 + 2
    # … and the next refusal starts another one, with one line again
    assert [r.getMessage() for r in caplog.records if "group limit" in r.getMessage()] == [
        "task reached its group limit: points of new groups are dropped"
    ]


def test_a_point_of_an_existing_group_never_asks_the_limit() -> None:
    """The check runs on a dict miss only: a full node's own groups cost nothing more."""
    task = run(GROUPED + WINDOW + "|count('v')|alert().crit(lambda: \"count\" > 5)", 2, points=0)
    limit = task.ctx.groups
    assert isinstance(limit, CountingLimit)
    for i in range(10):
        write(task, i * S, ("a", "b"))
    # the window's, the count's and the alert's two groups, created once each
    assert limit.asked == 6
    assert task.nodes["alert4"].cardinality() == 2


def test_the_default_limit() -> None:
    assert GroupLimit().limit == DEFAULT_MAX_GROUPS == 100_000
    assert TaskServices(alerts=DiscardAlerts()).max_groups_per_task == DEFAULT_MAX_GROUPS


def test_the_runner_gives_each_task_its_own_limit_from_the_services() -> None:
    services = TaskServices(alerts=DiscardAlerts(), max_groups_per_task=3)
    runner = TaskRunner(router=Router(), services=services, clock=SimulatedClock(0), hostname="h")
    a = runner.start("a", build(GROUPED + WINDOW, filename="a"), [("db", "rp")])
    b = runner.start("b", build(GROUPED + WINDOW, filename="b"), [("db", "rp")])
    assert a.ctx.groups.limit == b.ctx.groups.limit == 3
    assert a.ctx.groups is not b.ctx.groups


def test_the_engine_workers_get_the_configured_limit() -> None:
    config = Config()
    config.engine.max_groups_per_task = 7
    init = worker_init(config, AlertNodeOptions(), {})
    engine = WorkerEngine(
        default_retention_policy="autogen",
        hostname="h",
        alert_options=init["alert_options"],
        httppost_endpoints=init["httppost_endpoints"],
        max_groups_per_task=init["max_groups_per_task"],
    )
    try:
        assert engine.runner.services.max_groups_per_task == 7
    finally:
        engine.loop.close()
