"""The router: a write handed task by task, and point by point where inhibitors need it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leyden.clock import SimulatedClock
from leyden.config import Config
from leyden.engine import router as router_module
from leyden.engine.model import NIL_GROUP, NO_DIMENSIONS, Point
from leyden.engine.router import Router
from leyden.lineprotocol import WirePoint
from leyden.runtime import build_runtime
from leyden.store import Store
from leyden.tick.builder import build_pipeline

S = 1_000_000_000


class Batches:
    """A receiver taking whole writes; ``log`` is shared to see the order between receivers."""

    def __init__(self, label: str, log: list[tuple[str, str, int]]) -> None:
        self.label = label
        self.log = log
        self.calls = 0
        self.memos: list[dict[Any, Any]] = []

    def receive(self, db: str, rp: str, point: WirePoint) -> None:
        raise AssertionError("a receiver with receive_points is handed whole writes")

    def receive_points(self, points: Sequence[Point], memo: dict[Any, Any]) -> None:
        self.calls += 1
        self.memos.append(memo)
        for p in points:
            assert p.dims is NO_DIMENSIONS and p.group == NIL_GROUP and (p.db, p.rp) == ("db", "rp")
            self.log.append((self.label, p.name, p.time))


class PointMajor(Batches):
    point_major = True

    def receive_point(self, p: Point) -> None:
        self.log.append((self.label, p.name, p.time))


def write(names: str) -> list[WirePoint]:
    return [WirePoint(n, {}, {"v": 1.0}, i) for i, n in enumerate(names.split())]


def test_a_write_goes_task_by_task_each_getting_its_points_in_order() -> None:
    log: list[tuple[str, str, int]] = []
    router = Router()
    cpu, both, every = Batches("cpu", log), Batches("both", log), Batches("every", log)
    router.subscribe(cpu, [("db", "rp")], ["cpu"])
    router.subscribe(both, [("db", "rp")], ["cpu", "mem"])
    router.subscribe(every, [("db", "rp")], [None, "cpu"])  # two from()s: still once a point
    router.write_points("db", "rp", write("cpu mem disk cpu mem"))
    assert log == [
        ("cpu", "cpu", 0),
        ("cpu", "cpu", 3),
        ("both", "cpu", 0),
        ("both", "mem", 1),
        ("both", "cpu", 3),
        ("both", "mem", 4),
        *(("every", n, i) for i, n in enumerate(["cpu", "mem", "disk", "cpu", "mem"])),
    ]
    assert cpu.calls == both.calls == every.calls == 1
    assert cpu.memos[0] is both.memos[0] is every.memos[0]  # one memo per write, shared
    assert router.stats.points_routed == 2 + 4 + 5
    router.write_points("db", "rp", write("disk"))
    assert cpu.calls == both.calls == 1 and every.calls == 2
    assert every.memos[1] is not every.memos[0]


def test_a_point_major_receiver_keeps_the_write_point_by_point() -> None:
    log: list[tuple[str, str, int]] = []
    router = Router()
    router.subscribe(PointMajor("a", log), [("db", "rp")], ["cpu"])
    router.subscribe(PointMajor("b", log), [("db", "rp")], [None])
    router.write_points("db", "rp", write("cpu mem cpu"))
    assert log == [
        ("a", "cpu", 0),
        ("b", "cpu", 0),
        ("b", "mem", 1),
        ("a", "cpu", 2),
        ("b", "cpu", 2),
    ]
    assert router.stats.points_routed == 5


INHIBITED = """stream
    |from().measurement('cpu').groupBy('host')
    |alert().category('child').crit(lambda: TRUE)
"""
INHIBITOR = """stream
    |from().measurement('cpu').groupBy('host')
    |alert().crit(lambda: "value" > 8).inhibit('child', 'host')
"""


def run_inhibition(values: list[float], *, inhibitor: bool) -> dict[str, int]:
    """The inhibited task subscribes first; its alert statistics after one write."""
    config = Config()
    config.alert.persist_topics = False
    runtime = build_runtime(config, store=Store(":memory:"), clock=SimulatedClock(0))
    try:
        child = runtime.runner.start("child", build_pipeline(INHIBITED), [("db", "rp")])
        parent_script = (
            INHIBITOR if inhibitor else INHIBITOR.replace(".inhibit('child', 'host')", "")
        )
        parent = runtime.runner.start("parent", build_pipeline(parent_script), [("db", "rp")])
        assert parent.point_major is inhibitor and not child.point_major
        points = [
            WirePoint("cpu", {"host": "a"}, {"value": v}, i * S) for i, v in enumerate(values)
        ]
        runtime.router.write_points("db", "rp", points)
        return dict(child.nodes["alert2"].alert_stats)  # type: ignore[attr-defined]
    finally:
        runtime.store.close()


def test_an_inhibitor_acts_from_the_point_that_raised_it_within_one_write() -> None:
    # per point: child first (subscribed first), then parent.  Parent goes CRITICAL on the 2nd
    # point and OK again on the 4th, so the child's events of points 3 and 4 are inhibited.
    # Task by task, the child would have run the whole write before the parent (none
    # inhibited), or after it (the parent ends OK: none inhibited either).
    stats = run_inhibition([1, 9, 9, 1], inhibitor=True)
    assert (stats["alerts_triggered"], stats["alerts_inhibited"]) == (2, 2)
    assert run_inhibition([1, 9, 9, 1], inhibitor=False)["alerts_inhibited"] == 0


def test_ingress_is_counted_per_measurement_and_bounded(monkeypatch: Any) -> None:
    """Kapacitor's ``ingress`` statistics: per (db, rp, measurement); past the bound a new
    measurement counts under "" rather than growing the table."""
    r = Router(default_retention_policy="autogen")
    points = [WirePoint(n, {}, {"v": 1.0}, 0) for n in ("cpu", "mem", "cpu")]
    r.write_points("db", "", points)
    r.write_points("db", "rp", points[:1])
    assert dict(r.stats.per_measurement) == {
        ("db", "autogen", "cpu"): 2,
        ("db", "autogen", "mem"): 1,
        ("db", "rp", "cpu"): 1,
    }
    assert r.stats.points_received == 4
    monkeypatch.setattr(router_module, "MAX_INGRESS_KEYS", 3)
    r.write_points("db", "rp", [WirePoint("disk", {}, {"v": 1.0}, 0)] * 2)
    r.write_points("db", "rp", points[:1])  # a known key still counts as itself
    assert r.stats.per_measurement[("db", "rp", "")] == 2
    assert r.stats.per_measurement[("db", "rp", "cpu")] == 2
    r.stats.received_names("db", "rp", {"cpu": 1, "swap": 4})  # an engine worker's count
    assert r.stats.per_measurement[("db", "rp", "")] == 6
    assert r.stats.per_measurement[("db", "rp", "cpu")] == 3
    assert r.stats.points_received == 12
