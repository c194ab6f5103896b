"""Engine core: group IDs, Go time arithmetic, the simulated clock, row formatting."""

from __future__ import annotations

from engine_support import context

from leyden.clock import SimulatedClock
from leyden.engine.model import NIL_GROUP, Batch, BatchPoint, Dimensions, Point, group_id
from leyden.engine.result import batch_row, point_row, result
from leyden.engine.router import Router
from leyden.engine.task import BATCH_SAMPLE_EVERY, SAMPLE_EVERY, Task
from leyden.go import time as gotime
from leyden.go.types import go_json
from leyden.lineprotocol import WirePoint
from leyden.tick.builder import build_pipeline

S = 1_000_000_000


def test_group_id_forms() -> None:
    tags = {"host": "a", "cpu": "0", "dc": "x"}
    assert group_id("cpu", tags, Dimensions()) == NIL_GROUP
    assert group_id("cpu", tags, Dimensions(by_name=True)) == "cpu"
    assert group_id("cpu", tags, Dimensions(tag_names=("cpu", "host"))) == "cpu=0,host=a"
    assert group_id("cpu", tags, Dimensions(True, ("host",))) == "cpu\nhost=a"
    assert group_id("cpu", {}, Dimensions(tag_names=("host",))) == "host="


def test_point_copy_recomputes_group_only_when_needed() -> None:
    p = Point("cpu", {"host": "a"}, {"v": 1.0}, 5, Dimensions(tag_names=("host",)))
    assert p.group == "host=a"
    q = p.copy(fields={"v": 2.0})
    assert q.group == "host=a" and p.fields == {"v": 1.0}
    r = p.copy(tags={"host": "b"})
    assert r.group == "host=b"
    assert p.group_tags() == {"host": "a"}


def test_go_truncate_and_round_count_from_go_zero() -> None:
    assert gotime.truncate(11 * S, 10 * S) == 10 * S
    assert gotime.truncate(-1 * S, 10 * S) == -10 * S
    assert gotime.round_(15 * S, 10 * S) == 20 * S  # halfway rounds up
    assert gotime.round_(14 * S, 10 * S) == 10 * S
    week = 7 * 24 * 3600 * S
    # 1970-01-01 was a Thursday; Go's weeks start on Monday 1969-12-29.
    assert gotime.truncate(0, week) == -3 * 24 * 3600 * S
    assert gotime.truncate(5, 0) == 5


def test_simulated_clock_fires_timers_in_order_and_never_goes_back() -> None:
    clock = SimulatedClock(100)
    fired: list[tuple[str, int]] = []
    clock.call_at(300, lambda now: fired.append(("b", now)))
    clock.call_at(200, lambda now: fired.append(("a", now)))
    cancel = clock.call_at(250, lambda now: fired.append(("x", now)))
    cancel()
    clock.advance_to(260)
    assert fired == [("a", 200)]
    assert clock.now() == 260
    clock.advance_to(50)
    assert clock.now() == 260
    clock.advance_to(1000)
    assert fired == [("a", 200), ("b", 300)]


def test_rows_as_kapacitor_shows_them() -> None:
    p = Point("cpu", {"host": "a"}, {"value": 10.0, "count": 3}, 31536000 * S)
    assert go_json(result([point_row(p)])) == (
        '{"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","count","value"],'
        '"values":[["1971-01-01T00:00:00Z",3,10]]}]}'
    )
    b = Batch(
        "cpu",
        "host=a",
        {"host": "a"},
        Dimensions(tag_names=("host",)),
        10 * S,
        [
            BatchPoint(1 * S, {"value": 1.5}, {"host": "a", "type": "idle"}),
            BatchPoint(2 * S, {"value": 2.5}, {"host": "a", "type": "busy"}),
        ],
    )
    row = batch_row(b)
    assert row["columns"] == ["time", "type", "value"]
    assert row["values"][1][1:] == ["busy", 2.5]
    assert go_json(result([])) == '{"series":null}'  # models.Result: no omitempty
    assert go_json(batch_row(Batch("cpu", "", {}, Dimensions(), 0, []))) == '{"name":"cpu"}'


def test_router_routes_by_exact_dbrp_and_measurement_or_everywhere() -> None:
    class Rec:
        def __init__(self) -> None:
            self.got: list[tuple[str, str, str]] = []

        def receive(self, db: str, rp: str, p: WirePoint) -> None:
            self.got.append((db, rp, p.name))

    router = Router(default_retention_policy="autogen")
    cpu, anything, everywhere = Rec(), Rec(), Rec()
    router.subscribe(cpu, [("telegraf", "autogen")], ["cpu"])
    router.subscribe(anything, [("telegraf", "autogen")], [None])
    router.subscribe(everywhere, None, ["cpu"])
    router.write_points("telegraf", "", [WirePoint("cpu", {}, {"v": 1.0}, 1)])
    router.write_points("telegraf", "rp2", [WirePoint("cpu", {}, {"v": 1.0}, 2)])
    router.write_points("other", "autogen", [WirePoint("mem", {}, {"v": 1.0}, 3)])
    assert cpu.got == [("telegraf", "autogen", "cpu")]
    assert anything.got == [("telegraf", "autogen", "cpu")]
    assert everywhere.got == [("telegraf", "autogen", "cpu"), ("telegraf", "rp2", "cpu")]
    router.unsubscribe(everywhere)
    router.write_points("telegraf", "autogen", [WirePoint("cpu", {}, {"v": 1.0}, 4)])
    assert len(everywhere.got) == 2


def test_exec_times_sample_each_nodes_own_time() -> None:
    pipeline = build_pipeline(
        "stream|from().measurement('cpu')|window().period(10s).every(10s)|count('v')|httpOut('o')"
    )
    task = Task("t", pipeline, context("t", SimulatedClock()), [("db", "rp")])
    for i in range(SAMPLE_EVERY * 4):
        task.receive_point(Point("cpu", {}, {"v": 1.0}, i * S))
    times = task.exec_times
    assert times.calls["stream0"] == times.calls["from1"] == times.calls["window2"] == 4
    assert times.avg_ns("from1") > 0 and times.avg_ns("window2") > 0
    # no sampled point closed a window (255, 511 … are odd): the nodes below it are timed on
    # the first emitted batch and every BATCH_SAMPLE_EVERY-th after it
    batches = task.nodes["count3"].stats.collected
    assert batches == SAMPLE_EVERY * 4 // 10
    sampled = (batches - 1) // BATCH_SAMPLE_EVERY + 1
    assert times.calls["count3"] == times.calls["http_out4"] == sampled
    assert times.avg_ns("count3") > 0 and times.avg_ns("http_out4") > 0
    assert times.avg_ns("never-ran") == 0


def test_a_node_bug_costs_the_point_not_the_task() -> None:
    task = Task(
        "t",
        build_pipeline("stream|from()|httpOut('o')"),
        context("t", SimulatedClock()),
        [("db", "rp")],
    )
    out = task.nodes["http_out2"]
    real = out.point
    calls = 0

    def buggy(p: Point) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyError("oops")
        real(p)

    out.point = buggy  # type: ignore[method-assign]
    for i in range(3):
        task.receive_point(Point("cpu", {}, {"v": float(i)}, i * S))
    assert task.failures == 1
    assert task.http_out()["o"]["series"][0]["values"][0][1] == 2.0
