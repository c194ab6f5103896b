"""stats(), noop and deadman: counts per group sampled by the task clock (semantics §2, stats).

Everything runs on the SimulatedClock, so nothing sleeps: moving the clock fires the ticks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engine_support import context

from leyden import lineprotocol, replay
from leyden.clock import SimulatedClock
from leyden.engine.model import Batch, BatchPoint, Dimensions, Point
from leyden.engine.node import Node, TaskError
from leyden.engine.nodes.stats import StatsNode
from leyden.engine.router import Router
from leyden.engine.task import Task
from leyden.go.types import Duration
from leyden.tick.builder import build_pipeline
from leyden.tick.pipeline import NodeSpec

S = 1_000_000_000
T0 = 31_536_000 * S  # 1971-01-01T00:00:00Z
HOST = Dimensions(tag_names=("host",))


class Sink(Node):
    def __init__(self) -> None:
        super().__init__(None, context("t", SimulatedClock(0)))
        self.points: list[Point] = []

    def point(self, p: Point) -> None:
        self.points.append(p)


def stats_node(
    clock: SimulatedClock, interval: int = 10 * S, align: bool = False
) -> tuple[StatsNode, Node, Sink]:
    spec = NodeSpec(
        "stats",
        3,
        "stats",
        "stream",
        "stream",
        None,
        properties={"interval": Duration(interval), "sourceNode": "watched", "align": align},
    )
    node = StatsNode(spec, context("t", clock))
    watched = Node(None, context("t", clock))
    sink = Sink()
    node.children = [sink]
    node.start({"watched": watched})
    return node, watched, sink


def pt(host: str, t: int = 0) -> Point:
    return Point("cpu", {"host": host, "dc": "x"}, {"value": 1.0}, t, HOST)


def shape(p: Point) -> tuple[Any, ...]:
    return (p.name, p.tags, p.fields, p.time, p.dims, p.group)


def test_ticks_every_interval_with_cumulative_counts_per_group() -> None:
    clock = SimulatedClock(T0 + 3 * S)
    _, watched, sink = stats_node(clock)
    watched.point(pt("a"))
    watched.point(pt("b"))
    watched.point(pt("a"))
    clock.advance_to(T0 + 13 * S)
    assert [shape(p) for p in sink.points] == [
        ("stats", {"host": "a"}, {"emitted": 2}, T0 + 13 * S, HOST, "host=a"),
        ("stats", {"host": "b"}, {"emitted": 1}, T0 + 13 * S, HOST, "host=b"),
    ]
    watched.point(pt("b"))
    clock.advance_to(T0 + 33 * S)  # two ticks due: both fire, counts are cumulative
    assert [(p.time, p.tags["host"], p.fields["emitted"]) for p in sink.points[2:]] == [
        (T0 + 23 * S, "a", 2),
        (T0 + 23 * S, "b", 2),
        (T0 + 33 * S, "a", 2),
        (T0 + 33 * S, "b", 2),
    ]


def test_nothing_emitted_yet_reports_the_nil_group_with_zero() -> None:
    clock = SimulatedClock(T0)
    _, _, sink = stats_node(clock)
    clock.advance_to(T0 + 10 * S)
    assert [shape(p) for p in sink.points] == [
        ("stats", {}, {"emitted": 0}, T0 + 10 * S, Dimensions(), "")
    ]


def test_by_name_groups_are_renamed_to_stats() -> None:
    clock = SimulatedClock(T0)
    _, watched, sink = stats_node(clock)
    dims = Dimensions(True, ("host",))
    watched.point(Point("cpu", {"host": "a"}, {"v": 1}, 0, dims))
    clock.advance_to(T0 + 10 * S)
    assert sink.points[0].group == "stats\nhost=a"
    assert sink.points[0].dims == dims


def test_align_waits_for_a_boundary_and_stamps_the_first_tick_with_the_start() -> None:
    # Kapacitor emits the first aligned tick stamped with its start time rounded.
    clock = SimulatedClock(T0 + 3 * S)
    _, watched, sink = stats_node(clock, align=True)
    watched.point(pt("a"))
    clock.advance_to(T0 + 9 * S)
    assert sink.points == []
    clock.advance_to(T0 + 10 * S)
    assert [(p.time, p.fields["emitted"]) for p in sink.points] == [(T0, 1)]
    clock.advance_to(T0 + 26 * S)
    assert [p.time for p in sink.points] == [T0, T0 + 20 * S]
    clock2 = SimulatedClock(T0 + 7 * S)
    _, _, sink2 = stats_node(clock2, align=True)
    clock2.advance_to(T0 + 10 * S)
    assert [p.time for p in sink2.points] == [T0 + 10 * S]  # 7s rounds up


def test_batches_count_their_points_and_deleted_groups_are_forgotten() -> None:
    clock = SimulatedClock(T0)
    _, watched, sink = stats_node(clock)
    b = Batch("cpu", "host=a", {"host": "a"}, HOST, 0, [BatchPoint(0, {"v": 1}, {})] * 3)
    watched.batch(b)
    watched.batch(b)
    watched.point(pt("b"))
    clock.advance_to(T0 + 10 * S)
    assert [(p.tags, p.fields["emitted"]) for p in sink.points] == [
        ({"host": "a"}, 6),
        ({"host": "b"}, 1),
    ]
    watched.delete_group("host=a")
    clock.advance_to(T0 + 20 * S)
    assert [(p.tags, p.fields["emitted"]) for p in sink.points[2:]] == [({"host": "b"}, 1)]


def test_stop_cancels_the_ticker() -> None:
    clock = SimulatedClock(T0)
    node, _, sink = stats_node(clock)
    node.stop()
    clock.advance_to(T0 + 60 * S)
    assert sink.points == []


def test_interval_must_be_positive() -> None:
    spec = NodeSpec("stats", 3, "stats", "stream", "stream", None, properties={"interval": 0})
    with pytest.raises(TaskError, match="positive interval"):
        StatsNode(spec, context("t", SimulatedClock(0)))


def test_task_wires_stats_and_noop_from_a_script() -> None:
    """``|stats()`` on a node without children adds a noop to count on; Task.start attaches."""
    text = """
var data = stream|from().measurement('cpu').groupBy('host')
data|stats(10s)|httpOut('s')
"""
    pipeline = build_pipeline(text)
    clock = SimulatedClock(T0)
    task = Task("t", pipeline, context("t", clock), [("db", "rp")])
    assert {n.kind for n in task.nodes.values()} >= {"noop", "stats"}
    router = Router()
    task.start(router)
    body = b"cpu,host=a v=1 1\ncpu,host=b v=1 2\ncpu,host=a v=1 3\ncpu,host=c v=1 4\n"
    router.write_points("db", "rp", lineprotocol.parse(body, precision="s", now_ns=0).points)
    clock.advance_to(T0 + 10 * S)
    rows = task.http_out()["s"]["series"]
    assert [(r["tags"], r["values"][0][1]) for r in rows] == [
        ({"host": "a"}, 2),
        ({"host": "b"}, 1),
        ({"host": "c"}, 1),
    ]
    task.stop(router)


DEADMAN = """
stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |deadman(0.0, 10s)
"""


def _srpl(path: Path, seconds: list[int]) -> None:
    lines: list[str] = []
    for t in seconds:
        lines += ["db", "rp", f"cpu,host=a value={t} {t}"]
    path.write_text("\n".join(lines) + "\n")


def test_deadman_over_replay_goes_critical_when_data_stops_and_recovers(tmp_path: Path) -> None:
    """Data for 35s, silence until 70s, then data again: CRITICAL while silent, then OK."""
    script = tmp_path / "dm.tick"
    script.write_text(DEADMAN)
    data = tmp_path / "d.srpl"
    _srpl(data, list(range(0, 35)) + list(range(70, 100)))
    events = tmp_path / "events.jsonl"
    args = ["--data", str(data), "--dbrp", "db.rp", "--until", "100s", "--events", str(events)]
    code = replay.main([str(script), *args])
    assert code == 0
    got = [json.loads(line) for line in events.read_text().splitlines()]
    assert [(e["time"][11:19], e["level"], e["previousLevel"]) for e in got] == [
        # ticks at 40s and 50s both saw 35 points: the rate at 50s is 0 → dead
        ("00:00:50", "CRITICAL", "OK"),
        ("00:01:00", "CRITICAL", "CRITICAL"),
        ("00:01:10", "CRITICAL", "CRITICAL"),  # fires as the clock reaches 70s, before the data
        ("00:01:20", "OK", "CRITICAL"),
    ]
    assert got[0]["id"] == "host=a:from1 for task 'dm'"
    assert got[0]["message"] == "host=a:from1 for task 'dm' is dead: 0.000 points/10s."
    assert got[-1]["message"] == "host=a:from1 for task 'dm' is alive: 10.000 points/10s."
    assert got[-1]["data"]["series"][0]["name"] == "stats"
    assert got[-1]["data"]["series"][0]["tags"] == {"host": "a"}
