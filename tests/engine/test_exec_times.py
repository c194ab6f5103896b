"""``avg_exec_time_ns`` is measured for every node of a realistic task, whatever feeds it.

A sampled written point is followed through the task (one in ``SAMPLE_EVERY``), and so is a
sampled emitted batch (one in ``BATCH_SAMPLE_EVERY``, the first included): without the second, a
node below a window never saw a sampled point when the window's period and the sampling rate
kept in step, and a batch task (all batches) was never timed at all.  No timing is asserted,
only that every node got a figure after enough messages; the same holds through the generated
source chain, node by node, a batch task's queries, a ``deadman()``'s timer ticks and
``leyden replay``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_support import DiscardAlerts, context

from leyden.clock import SimulatedClock
from leyden.config import load_config
from leyden.engine.model import NO_DIMENSIONS, Batch, BatchPoint, Point
from leyden.engine.router import Router
from leyden.engine.task import BATCH_SAMPLE_EVERY, SAMPLE_EVERY, Task
from leyden.lineprotocol import WirePoint
from leyden.notify import INTEGRATIONS
from leyden.replay import replay
from leyden.tasks.stats import RunningTask
from leyden.tick.builder import build_pipeline

S = 1_000_000_000
REALISTIC = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |window()
        .period(10s)
        .every(10s)
    |mean('usage')
    |alert()
        .warn(lambda: "mean" > 50)
        .crit(lambda: "mean" > 90)
"""
HOSTS = ("a", "b", "c", "d")


def _avg(task: Task) -> dict[str, int]:
    return {
        n: s["avg_exec_time_ns"] for n, s in RunningTask.started(task).stats()["node-stats"].items()
    }


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "node-by-node"])
@pytest.mark.parametrize("per_write", [1, 4, 100])
def test_every_node_of_a_windowed_alert_task_is_timed(fused: bool, per_write: int) -> None:
    """One point a second per host, a 10s window: no sampled point (the 256th, 512th … of
    the task) need ever close a window, yet mean and alert get a figure."""
    clock = SimulatedClock(0)
    task = Task(
        "t",
        build_pipeline(REALISTIC),
        context("t", clock, alerts=DiscardAlerts()),
        [("db", "rp")],
        fused=fused,
    )
    assert task.fused is fused
    router = Router()
    task.start(router)
    points = [
        WirePoint("cpu", {"host": h}, {"usage": float(i % 100)}, i * S)
        for i in range(SAMPLE_EVERY * 2)
        for h in HOSTS
    ]
    for k in range(0, len(points), per_write):
        clock.advance_to(points[k].time)
        router.write_points("db", "rp", points[k : k + per_write])
    avg = _avg(task)
    assert set(avg) == {"stream0", "from1", "window2", "mean3", "alert4"}
    assert all(v > 0 for v in avg.values()), avg


def test_both_branches_below_windows_are_timed() -> None:
    """Two windows taking turns: the emitted batches are sampled per node, so the second
    branch is timed too (a task-wide count of one in 256, an even number, always landed on
    the first)."""
    script = """var data = stream
    |from()
        .measurement('cpu')
data
    |window()
        .period(10s)
        .every(10s)
    |count('usage')
data
    |window()
        .period(10s)
        .every(10s)
    |max('usage')
"""
    clock = SimulatedClock(0)
    task = Task("w", build_pipeline(script), context("w", clock, alerts=DiscardAlerts()), [])
    router = Router()
    task.start(router)
    for i in range(10 * (BATCH_SAMPLE_EVERY + 2)):
        clock.advance_to(i * S)
        router.write_points("db", "rp", [WirePoint("cpu", {}, {"usage": 1.0}, i * S)])
    avg = _avg(task)
    below = {n: v for n, v in avg.items() if n.startswith(("count", "max"))}
    assert len(below) == 2 and all(v > 0 for v in below.values()), avg


def test_a_batch_task_is_timed_from_its_query_down() -> None:
    script = """batch
    |query('SELECT mean(usage) AS usage FROM "db"."rp"."cpu"')
        .period(10s)
        .every(10s)
        .groupBy('host')
    |eval(lambda: "usage" * 2.0)
        .as('double')
    |alert()
        .crit(lambda: "double" > 150)
"""
    task = Task("b", build_pipeline(script), context("b", alerts=DiscardAlerts()), [])
    task.start(Router())
    [query] = task.query_nodes
    for i in range(BATCH_SAMPLE_EVERY + 1):  # the first call and the next due one are followed
        batches = [
            Batch(
                "cpu", "", {"host": h}, NO_DIMENSIONS, 0, [BatchPoint(i * S, {"usage": 80.0}, {})]
            )
            for h in HOSTS
        ]
        query.emit_batches(batches, (i + 1) * 10 * S)
    avg = _avg(task)
    assert set(avg) == {"batch0", "query1", "eval2", "alert3"}
    # the batch root receives nothing: Kapacitor's BatchNode has no timer either
    assert avg.pop("batch0") == 0
    assert all(v > 0 for v in avg.values()), avg
    assert task.exec_times.calls["query1"] == 2


async def test_replay_times_every_node(tmp_path: Path) -> None:
    script = tmp_path / "t.tick"
    script.write_text(REALISTIC)
    data = tmp_path / "d.srpl"
    data.write_text(
        "".join(
            f"db\nrp\ncpu,host={h} usage={i % 100} {i}\n"
            for i in range(1, SAMPLE_EVERY * 2)
            for h in HOSTS
        )
    )
    config = load_config(None, {}, integrations=INTEGRATIONS.sections())
    task = await replay(script, [data], config=config, name="t", dbrps=[], until=None)
    avg = {n: task.exec_times.avg_ns(n) for n in task.nodes}
    assert all(v > 0 for v in avg.values()), avg


def test_a_deadman_is_timed_from_its_stats_ticks() -> None:
    """``deadman()`` is ``stats() → derivative() → alert()``: the stats node emits on its
    timer, which no written point leads to; its ticks are sampled on their own."""
    clock = SimulatedClock(0)
    script = "stream|from().measurement('cpu').groupBy('host')|deadman(1.0, 10s)"
    task = Task("d", build_pipeline(script), context("d", clock, alerts=DiscardAlerts()), [])
    task.start(Router())
    ticks = BATCH_SAMPLE_EVERY + 1  # the first tick and the next due one are followed
    for i in range(ticks * 10):
        clock.advance_to(i * S)
        for h in HOSTS:
            task.receive_point(Point("cpu", {"host": h}, {"v": 1.0}, i * S))
    clock.advance_to(ticks * 10 * S)
    avg = _avg(task)
    assert set(avg) == {"stream0", "from1", "stats2", "noop3", "derivative4", "alert5"}
    assert all(v > 0 for v in avg.values()), avg
    assert task.exec_times.calls["stats2"] == 2
