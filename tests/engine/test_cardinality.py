"""``working_cardinality``: the groups a node holds, as Kapacitor counts them.

First Kapacitor's own expectations: ``integrations/streamer_test.go``'s ``TestStream_*Cardinality``
tests replay ``TestStream_Cardinality.srpl`` (90 ``cpu`` points, 9 series, copied verbatim into
``data/``) and compare ``ExecutionStats().NodeStats``; here the same scripts and recording give
the same ``working_cardinality``, ``collected`` and ``errors`` per node, read through the
task-stats code the API answers with.  (Kapacitor's ``emitted`` is the sum over a node's out
edges, 0 for a leaf; Leyden counts a node's emits once, so ``emitted`` is not compared.)

Then every node kind that keeps per-group state, on a stream edge and on a batch edge, with a
barrier's ``.delete(TRUE)`` taking a group away again, and the fused source chain against the
node-by-node one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_support import DiscardAlerts, context

from leyden.clock import SimulatedClock
from leyden.engine.model import Point
from leyden.engine.router import Router
from leyden.engine.task import Task
from leyden.lineprotocol import WirePoint
from leyden.replay import read_srpl, rebased
from leyden.tasks.stats import RunningTask
from leyden.tick.builder import build_pipeline

S = 1_000_000_000
DATA = Path(__file__).parent / "data" / "TestStream_Cardinality.srpl"
FROM = """stream
    |from()
        .measurement('cpu')
        .groupBy('host','cpu')
"""

#: Kapacitor's cases: script, and per node (working_cardinality, collected); stream0 and the
#: from() nodes hold no group (0) and collect all 90 points in every case
KAPACITOR: dict[str, tuple[str, dict[str, tuple[int, int]]]] = {
    "TestStream_DerivativeCardinality": (
        FROM + "    |derivative('usage_user')\n",
        {"derivative2": (9, 90)},
    ),
    "TestStream_SampleCardinality": (FROM + "    |sample(2)\n", {"sample2": (9, 90)}),
    "TestStream_WindowCardinality": (
        FROM + "    |window()\n      .period(1s)\n      .every(1s)\n",
        {"window2": (9, 90)},
    ),
    "TestStream_InfluxQLCardinalityStream": (
        FROM + "    |max('usage_user')\n      .as('max')\n",
        {"max2": (9, 90)},
    ),
    "TestStream_InfluxQLCardinalityBatch": (
        FROM + "    |window()\n      .period(1s)\n      .every(1s)\n    |max('usage_user')\n"
        "      .as('max')\n",
        {"window2": (9, 90), "max3": (9, 81)},
    ),
    "TestStream_EvalCardinality": (
        FROM + "    |eval(lambda: sigma(\"usage_user\"))\n      .as('sigma')\n",
        {"eval2": (9, 90)},
    ),
    "TestStream_FlattenCardinality": (
        FROM + "    |flatten()\n     .on('host','cpu')\n",
        {"flatten2": (9, 90)},
    ),
    "TestStream_GroupByCardinality": (
        "stream\n    |from()\n        .measurement('cpu')\n    |window()\n     .period(1s)\n"
        "     .every(1s)\n    |groupBy('cpu')\n",
        {"window2": (1, 90), "groupby3": (9, 9)},
    ),
    "TestStream_AlertCardinality": (FROM + "    |alert()\n", {"alert2": (9, 90)}),
    "TestStream_HTTPOutCardinality": (
        FROM + "    |httpOut('usage_user')\n",
        {"http_out2": (9, 90)},
    ),
    "TestStream_JoinCardinality": (
        "var s1 = stream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n\n"
        "var s2 = stream\n    |from()\n        .measurement('cpu')\n        .groupBy('cpu')\n\n"
        "s2|join(s1)\n   .as('s1','s2')\n",
        {"from2": (0, 90), "join4": (10, 180)},
    ),
    "TestStream_CombineCardinality": (
        "var s1 = stream\n    |from()\n        .measurement('cpu')\n        .groupBy('cpu','host')\n"
        "    |combine(lambda: TRUE, lambda: TRUE)\n        .as('total','true')\n",
        {"combine2": (9, 90)},
    ),
    "TestStream_WhereCardinality": (
        FROM + "    |where(lambda: \"host\" == 'localhost')\n",
        {"where2": (9, 90)},
    ),
    "TestStream_MixedCardinality": (
        FROM + "    |where(lambda: \"host\" == 'localhost')\n"
        "    |eval(lambda: sigma(\"usage_user\"))\n      .as('sigma')\n"
        "    |where(lambda: \"cpu\" == 'cpu-total' OR \"cpu\" == 'cpu0' OR \"cpu\" == 'cpu1')\n"
        "    |derivative('sigma')\n    |alert()\n",
        {
            "where2": (9, 90),
            "eval3": (9, 90),
            "where4": (9, 90),
            "derivative5": (3, 30),
            "alert6": (3, 27),
        },
    ),
}
#: where Leyden's figure differs, and why: a ``where()`` whose lambda keeps no state holds no
#: group on a stream edge (Kapacitor keeps a receiver per group); counting the groups there
#: would cost a set insertion per point (README, "Differences from Kapacitor")
LEYDEN_DIFFERS = {
    ("TestStream_WhereCardinality", "where2"): 0,
    ("TestStream_MixedCardinality", "where2"): 0,
    ("TestStream_MixedCardinality", "where4"): 0,
}
# TestStream_K8sAutoscaleCardinality is not converted: Leyden has no k8sAutoscale().


def replayed(script: str, *, fused: bool = True) -> Task:
    """``script`` over the recording, as Kapacitor's ``testStreamer`` replays it (the clock at
    each point, then 20s on), read before the task stops."""
    clock = SimulatedClock(0)
    task = Task(
        "TestStream_Cardinality",
        build_pipeline(script),
        context("TestStream_Cardinality", clock, alerts=DiscardAlerts()),
        [("dbname", "rpname")],
        fused=fused,
    )
    router = Router()
    task.start(router)
    last = 0
    for rec in rebased(read_srpl(DATA)):
        clock.advance_to(rec.point.time)
        router.write_points(rec.db, rec.rp, [rec.point])
        last = rec.point.time
    clock.advance_to(last + 20 * S)
    return task


@pytest.mark.parametrize("case", sorted(KAPACITOR))
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "node-by-node"])
def test_kapacitor_cardinality_cases(case: str, fused: bool) -> None:
    script, expected = KAPACITOR[case]
    task = replayed(script, fused=fused)
    stats = RunningTask.started(task).stats()["node-stats"]
    want: dict[str, dict[str, int]] = {
        name: {"working_cardinality": 0, "collected": 90, "errors": 0}
        for name in ("stream0", "from1")
    }
    for name, (cardinality, collected) in expected.items():
        cardinality = LEYDEN_DIFFERS.get((case, name), cardinality)
        want[name] = {"working_cardinality": cardinality, "collected": collected, "errors": 0}
    got = {
        name: {k: stats[name][k] for k in ("working_cardinality", "collected", "errors")}
        for name in want
    }
    assert got == want
    assert set(stats) == set(want) | ({"s1", "s2"} & set(stats))


# --- every node kind with per-group state ------------------------------------------------------

HOSTS = ("a", "b", "c", "d")
GROUPED = "stream|from().measurement('cpu').groupBy('host')"
WINDOW = "|window().period(2s).every(2s)"

#: script below GROUPED, the node read, and its working_cardinality over the 4 hosts
KINDS: list[tuple[str, str, int]] = [
    (WINDOW, "window2", 4),
    ("|mean('v')", "mean2", 4),  # a stream aggregate: pending points per group
    ("|cumulativeSum('v')", "cumulativeSum2", 4),  # a stream transform: state per group
    (WINDOW + "|max('v')", "max3", 4),  # batches: the groups seen
    (WINDOW + "|cumulativeSum('v')", "cumulativeSum3", 4),
    ("|derivative('v')", "derivative2", 4),
    (WINDOW + "|derivative('v')", "derivative3", 4),
    ("|changeDetect('v')", "changeDetect2", 4),
    (WINDOW + "|changeDetect('v')", "changeDetect3", 4),
    ('|stateCount(lambda: "v" > 1)', "state_count2", 4),
    ('|stateDuration(lambda: "v" > 1)', "state_duration2", 4),
    (WINDOW + '|stateCount(lambda: "v" > 1)', "state_count3", 4),
    ("|sample(2)", "sample2", 4),
    (WINDOW + "|sample(2)", "sample3", 4),
    ("|where(lambda: count() > 1)", "where2", 4),  # a stateful lambda: a copy per group
    ('|where(lambda: "v" > 1)', "where2", 0),  # shared by all groups: none held
    (WINDOW + '|where(lambda: "v" > 1)', "where3", 4),  # batches: the groups seen
    ("|eval(lambda: sigma(\"v\")).as('s')", "eval2", 4),
    ("|eval(lambda: \"v\" * 2.0).as('s')", "eval2", 0),
    (WINDOW + "|eval(lambda: \"v\" * 2.0).as('s')", "eval3", 4),
    ("|combine(lambda: TRUE, lambda: TRUE).as('x', 'y')", "combine2", 4),
    ("|flatten().on('host')", "flatten2", 4),
    ("|barrier().period(1h)", "barrier2", 4),
    ("|httpOut('out')", "http_out2", 4),
    ('|alert().crit(lambda: "v" > 5)', "alert2", 4),
    (WINDOW + '|alert().crit(lambda: "v" > 5)', "alert3", 4),
    (WINDOW + "|groupBy('host')", "groupby3", 4),  # the regrouped batches held
    ("|groupBy('host')", "groupby2", 0),  # a stream edge: nothing held
    # Kapacitor's plain consumers hold no group
    ("|default().field('x', 1.0)", "default2", 0),
    ("|shift(1s)", "shift2", 0),
    ("|log()", "log2", 0),
]


def run(script: str, *, fused: bool = True, points: int = 10) -> Task:
    clock = SimulatedClock(0)
    task = Task(
        "t",
        build_pipeline(script),
        context("t", clock, alerts=DiscardAlerts()),
        [("db", "rp")],
        fused=fused,
    )
    router = Router()
    task.start(router)
    for i in range(points):
        clock.advance_to(i * S)
        router.write_points(
            "db", "rp", [WirePoint("cpu", {"host": h}, {"v": float(i)}, i * S) for h in HOSTS]
        )
    return task


@pytest.mark.parametrize(("below", "node", "expected"), KINDS, ids=[k[1] + k[0] for k in KINDS])
def test_each_kind_reports_the_groups_it_holds(below: str, node: str, expected: int) -> None:
    fused = run(GROUPED + below)
    plain = run(GROUPED + below, fused=False)
    assert fused.nodes[node].cardinality() == plain.nodes[node].cardinality() == expected
    for name in ("stream0", "from1"):
        assert fused.nodes[name].cardinality() == 0


def test_join_counts_its_groups() -> None:
    script = """var a = stream|from().measurement('cpu').groupBy('host')
var b = stream|from().measurement('cpu').groupBy('host')
a|join(b).as('a', 'b')
"""
    assert run(script).nodes["join4"].cardinality() == 4


def test_a_deleted_group_is_no_longer_held() -> None:
    """A barrier's ``.delete(TRUE)`` removes the group from every node below it (Kapacitor's
    DeleteGroupMessage: its grouped consumers forget the group)."""
    script = (
        GROUPED
        + "|barrier().idle(5s).delete(TRUE)|window().period(2s).every(2s)|max('v')"
        + '|alert().crit(lambda: "max" > 100)'
    )
    task = run(script, points=6)
    before = {n: task.nodes[n].cardinality() for n in ("barrier2", "window3", "max4", "alert5")}
    assert before == {"barrier2": 4, "window3": 4, "max4": 4, "alert5": 4}
    clock = task.ctx.clock
    assert isinstance(clock, SimulatedClock)
    clock.advance_to(60 * S)  # idle: every group's barrier fires and deletes it
    after = {n: task.nodes[n].cardinality() for n in before}
    assert after == dict.fromkeys(before, 0)


def test_cardinality_is_read_not_counted_per_point() -> None:
    """What a node holds is its dict: a group that stops sending is still held (Kapacitor's
    groups live until deleted), and reading the figure changes nothing."""
    task = run(GROUPED + '|alert().crit(lambda: "v" > 5)')
    node = task.nodes["alert2"]
    assert node.cardinality() == node.cardinality() == 4
    node.point(Point("cpu", {"host": "e"}, {"v": 1.0}, 11 * S, task.nodes["from1"].dims))
    assert node.cardinality() == 5


def _stats(task: Task) -> dict[str, Any]:
    return RunningTask.started(task).stats()["node-stats"]


def test_the_api_stats_read_each_nodes_cardinality() -> None:
    task = run(GROUPED + WINDOW + "|mean('v')|alert().crit(lambda: \"mean\" > 5)")
    stats = _stats(task)
    assert {n: s["working_cardinality"] for n, s in stats.items()} == {
        "stream0": 0,
        "from1": 0,
        "window2": 4,
        "mean3": 4,
        "alert4": 4,
    }
