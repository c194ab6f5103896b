"""join, union, combine, flatten and barrier: the nodes that merge or split a task's streams."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from engine_support import context

from leyden import lineprotocol
from leyden.clock import SimulatedClock
from leyden.engine.model import Batch, BatchPoint, Dimensions, Point
from leyden.engine.node import Barrier, ParentEdge, TaskError
from leyden.engine.nodes.join import JoinNode
from leyden.engine.task import Task
from leyden.tick.builder import build_pipeline

S = 1_000_000_000
T0 = 31_536_000 * S


class Capture:
    """A child that records what it receives."""

    def __init__(self) -> None:
        self.points: list[Point] = []
        self.batches: list[Batch] = []
        self.barriers: list[Barrier] = []
        self.deleted: list[str] = []

    def point(self, p: Point) -> None:
        self.points.append(p)

    def batch(self, b: Batch) -> None:
        self.batches.append(b)

    def barrier(self, b: Barrier) -> None:
        self.barriers.append(b)

    def delete_group(self, group: str) -> None:
        self.deleted.append(group)


def make_task(
    script: str, *, clock: SimulatedClock | None = None, simulated: bool = False
) -> tuple[Task, SimulatedClock]:
    clock = clock or SimulatedClock(T0)
    pipeline = build_pipeline('dbrp "db"."rp"\n' + script)
    ctx = context("t", clock, simulated=simulated)
    return Task("t", pipeline, ctx, [("db", "rp")]), clock


def capture(task: Task, kind: str) -> Capture:
    """Attach a capture to the (only) node of ``kind``."""
    nodes = [n for n in task.nodes.values() if n.kind == kind]
    assert len(nodes) == 1, nodes
    cap = Capture()
    nodes[0].children.append(cap)
    return cap


def send(task: Task, clock: SimulatedClock, line: str) -> None:
    p = lineprotocol.parse(line, precision="s", now_ns=0).points[0]
    p.time += T0
    clock.advance_to(p.time)
    task.receive("db", "rp", p)


JOIN = """
var a = stream|from().measurement('a').groupBy('host')
var b = stream|from().measurement('b').groupBy('host')
a|join(b).as('x', 'y').streamName('j'){extra}
"""


def test_join_pairs_points_by_time_and_group_with_prefixes() -> None:
    task, clock = make_task(JOIN.format(extra=""))
    out = capture(task, "join")
    send(task, clock, "a,host=h1,dc=1 v=1 0")
    send(task, clock, "a,host=h2 v=2 0")
    assert out.points == []
    send(task, clock, "b,host=h1 v=10 0")
    assert len(out.points) == 1
    p = out.points[0]
    assert (p.name, p.tags, p.fields, p.time) == (
        "j",
        {"host": "h1"},
        {"x.v": 1.0, "y.v": 10.0},
        T0,
    )
    assert p.group == "host=h1"
    task.stop()  # h2 has no partner: an inner join emits nothing for it
    assert len(out.points) == 1


def test_join_prefixes_follow_parent_order_not_arrival_order() -> None:
    task, clock = make_task(JOIN.format(extra=""))
    out = capture(task, "join")
    send(task, clock, "b,host=h1 v=10 0")
    send(task, clock, "a,host=h1 v=1 0")
    assert out.points[0].fields == {"x.v": 1.0, "y.v": 10.0}


def test_join_keeps_only_the_name_of_the_first_parent_without_stream_name() -> None:
    script = JOIN.replace(".streamName('j')", "").format(extra="")
    task, clock = make_task(script)
    out = capture(task, "join")
    send(task, clock, "b,host=h1 v=10 0")
    send(task, clock, "a,host=h1 v=1 0")
    assert out.points[0].name == "a"


@pytest.mark.parametrize(("fill", "value"), [("'null'", None), ("0.5", 0.5), ("7", 7)])
def test_join_fill_emits_partial_sets_once_all_parents_moved_on(fill: str, value: Any) -> None:
    task, clock = make_task(JOIN.format(extra=f".fill({fill})"))
    out = capture(task, "join")
    send(task, clock, "a,host=h1 v=1 0")
    send(task, clock, "a,host=h1 v=2 1")
    assert out.points == []
    send(task, clock, "b,host=h1 v=20 1")  # b skipped time 0: that set goes out filled
    assert [(p.time - T0) // S for p in out.points] == [0, 1]
    assert out.points[0].fields == {"x.v": 1.0, "y.v": value}
    assert out.points[1].fields == {"x.v": 2.0, "y.v": 20.0}


def test_join_stop_flushes_filled_sets() -> None:
    task, clock = make_task(JOIN.format(extra=".fill('null')"))
    out = capture(task, "join")
    send(task, clock, "a,host=h1 v=1 0")
    task.stop()
    assert out.points[0].fields == {"x.v": 1.0, "y.v": None}


def test_join_tolerance_rounds_times() -> None:
    task, clock = make_task(JOIN.format(extra=".tolerance(2s)"))
    out = capture(task, "join")
    send(task, clock, "a,host=h1 v=1 3")
    send(task, clock, "b,host=h1 v=2 4")
    assert [(p.time - T0) // S for p in out.points] == [4]


def test_join_delimiter() -> None:
    task, clock = make_task(JOIN.format(extra=".delimiter('__')"))
    out = capture(task, "join")
    send(task, clock, "a,host=h1 v=1 0")
    send(task, clock, "b,host=h1 v=2 0")
    assert out.points[0].fields == {"x__v": 1.0, "y__v": 2.0}


def test_join_on_matches_specific_points_with_less_specific_ones() -> None:
    script = """
var hosts = stream|from().measurement('host').groupBy('dc', 'host')
var dcs = stream|from().measurement('dc').groupBy('dc')
hosts|join(dcs).as('h', 'd').on('dc').streamName('j')
"""
    task, clock = make_task(script)
    out = capture(task, "join")
    send(task, clock, "host,dc=A,host=h1 v=1 0")
    send(task, clock, "host,dc=A,host=h2 v=2 0")
    send(task, clock, "dc,dc=A total=10 0")
    got = {p.tags["host"]: p.fields for p in out.points}
    assert got == {"h1": {"h.v": 1.0, "d.total": 10.0}, "h2": {"h.v": 2.0, "d.total": 10.0}}
    assert {p.group for p in out.points} == {"dc=A,host=h1", "dc=A,host=h2"}


def test_join_barrier_moves_a_parent_on_and_is_forwarded() -> None:
    spec = SimpleNamespace(
        name="join2",
        parents=[1, 2],
        wants="stream",
        properties={"as": ["x", "y"], "delimiter": ".", "fill": "null"},
    )
    node = JoinNode(spec, context("t", SimulatedClock()))
    out = Capture()
    node.children = [out]
    dims = Dimensions(tag_names=("host",))
    node.point_from(0, Point("a", {"host": "h"}, {"v": 1.0}, 10, dims))
    node.point_from(0, Point("a", {"host": "h"}, {"v": 2.0}, 20, dims))
    assert out.points == []
    node.barrier_from(1, Barrier("host=h", {"host": "h"}, dims, 15))
    assert [p.fields for p in out.points] == [{"x.v": 1.0, "y.v": None}]
    assert len(out.barriers) == 1


def test_join_of_batches_pairs_points_by_time() -> None:
    spec = SimpleNamespace(
        name="join2", parents=[1, 2], wants="batch", properties={"as": ["x", "y"], "delimiter": "."}
    )
    node = JoinNode(spec, context("t", SimulatedClock()))
    out = Capture()
    node.children = [out]
    dims = Dimensions(tag_names=("host",))

    def batch(name: str, points: list[tuple[int, float]]) -> Batch:
        bps = [BatchPoint(t, {"v": v}, {"host": "h"}) for t, v in points]
        return Batch(name, "host=h", {"host": "h"}, dims, 100, bps)

    edge_a, edge_b = ParentEdge(node, 0), ParentEdge(node, 1)
    edge_a.batch(batch("a", [(1, 1.0), (2, 2.0), (3, 3.0)]))
    edge_b.batch(batch("b", [(2, 20.0), (3, 30.0)]))
    assert len(out.batches) == 1
    b = out.batches[0]
    assert (b.name, b.tmax, b.tags) == ("a", 100, {"host": "h"})
    assert [(bp.time, bp.fields) for bp in b.points] == [
        (2, {"x.v": 2.0, "y.v": 20.0}),
        (3, {"x.v": 3.0, "y.v": 30.0}),
    ]


def test_join_delete_all_forgets_every_group() -> None:
    task, clock = make_task(JOIN.format(extra=".deleteAll(TRUE)"))
    node = next(n for n in task.nodes.values() if n.kind == "join")
    out = capture(task, "join")
    send(task, clock, "a,host=h1 v=1 0")
    node.delete_group("host=h1")
    send(task, clock, "b,host=h1 v=2 0")
    assert out.points == [] and out.deleted == ["host=h1"]


def test_join_bad_fill_is_a_task_error() -> None:
    with pytest.raises(TaskError, match="unexpected fill option linear"):
        make_task(JOIN.format(extra=".fill('linear')"))


UNION = """
var a = stream|from().measurement('a')
var b = stream|from().measurement('b')
var c = stream|from().measurement('c')
a|union(b, c){extra}
"""


def test_union_merges_in_time_order_once_every_parent_reported() -> None:
    task, clock = make_task(UNION.format(extra=".rename('all')"))
    out = capture(task, "union")
    send(task, clock, "a v=1 0")
    send(task, clock, "a v=2 2")
    send(task, clock, "b v=3 1")
    assert out.points == []
    send(task, clock, "c v=4 3")
    assert [(p.fields["v"], p.name) for p in out.points] == [(1.0, "all"), (3.0, "all")]
    task.stop()
    assert [p.fields["v"] for p in out.points] == [1.0, 3.0, 2.0, 4.0]


def test_union_without_rename_keeps_names() -> None:
    task, clock = make_task(UNION.format(extra=""))
    out = capture(task, "union")
    for line in ("a v=1 0", "b v=2 0", "c v=3 0"):
        send(task, clock, line)
    assert sorted(p.name for p in out.points) == ["a", "b", "c"]


COMBINE = """
stream|from().measurement('m').groupBy('dc')
    |combine(lambda: "service" == 'auth', lambda: TRUE).as('auth', 'other'){extra}
"""


def test_combine_emits_matching_combinations_when_time_moves_on() -> None:
    task, clock = make_task(COMBINE.format(extra=".tolerance(1s)"))
    out = capture(task, "combine")
    send(task, clock, "m,dc=A,service=auth v=1 0")
    send(task, clock, "m,dc=A,service=cart v=2 0")
    send(task, clock, "m,dc=A,service=log v=3 0")
    assert out.points == []
    send(task, clock, "m,dc=A,service=auth v=9 2")
    got = [(p.tags, p.fields) for p in out.points]
    assert got == [
        (
            {"dc": "A", "auth.service": "auth", "other.service": "cart"},
            {"auth.v": 1.0, "other.v": 2.0},
        ),
        (
            {"dc": "A", "auth.service": "auth", "other.service": "log"},
            {"auth.v": 1.0, "other.v": 3.0},
        ),
    ]
    assert out.points[0].group == "dc=A" and out.points[0].time == T0


def test_combine_refuses_more_than_max_combinations() -> None:
    task, clock = make_task(COMBINE.format(extra=".max(1)"))
    out = capture(task, "combine")
    node = next(n for n in task.nodes.values() if n.kind == "combine")
    for line in ("m,dc=A,service=auth v=1 0", "m,dc=A,service=b v=2 0", "m,dc=A,service=c v=3 0"):
        send(task, clock, line)
    send(task, clock, "m,dc=A,service=auth v=1 5")
    assert out.points == [] and node.stats.errors == 1


FLATTEN = """
stream|from().measurement('m').groupBy('dc')
    |flatten().on('service', 'host'){extra}
"""


def test_flatten_folds_points_of_one_time() -> None:
    task, clock = make_task(FLATTEN.format(extra=""))
    out = capture(task, "flatten")
    send(task, clock, "m,dc=A,service=auth,host=h1 v=1 0")
    send(task, clock, "m,dc=A,service=cart,host=h1 v=2,w=3 0")
    send(task, clock, "m,dc=A,service=auth,host=h1 v=5 1")
    assert len(out.points) == 1
    p = out.points[0]
    assert p.fields == {"auth.h1.v": 1.0, "cart.h1.v": 2.0, "cart.h1.w": 3.0}
    assert (p.tags, p.time, p.name) == ({"dc": "A"}, T0, "m")


def test_flatten_drop_original_field_name_and_missing_tags() -> None:
    task, clock = make_task(FLATTEN.format(extra=".dropOriginalFieldName()"))
    out = capture(task, "flatten")
    node = next(n for n in task.nodes.values() if n.kind == "flatten")
    send(task, clock, "m,dc=A,service=auth,host=h1 v=1 0")
    send(task, clock, "m,dc=A,service=cart v=2 0")
    send(task, clock, "m,dc=A,service=auth,host=h1 v=5 1")
    assert out.points[0].fields == {"auth.h1": 1.0}
    assert node.stats.errors == 1


def test_flatten_barrier_flushes_the_buffered_time() -> None:
    task, clock = make_task(FLATTEN.format(extra=""))
    out = capture(task, "flatten")
    node = next(n for n in task.nodes.values() if n.kind == "flatten")
    send(task, clock, "m,dc=A,service=auth,host=h1 v=1 0")
    node.barrier(Barrier("dc=A", {"dc": "A"}, Dimensions(tag_names=("dc",)), T0 + S))
    assert [p.fields for p in out.points] == [{"auth.h1.v": 1.0}]
    assert len(out.barriers) == 1


BARRIER = """
stream|from().measurement('m').groupBy('host')
    |barrier(){props}
    |httpOut('out')
"""


def test_idle_barrier_fires_on_the_task_clock_and_deletes_the_group() -> None:
    task, clock = make_task(BARRIER.format(props=".idle(5s).delete(TRUE)"))
    out = capture(task, "barrier")
    send(task, clock, "m,host=a v=1 0")
    send(task, clock, "m,host=a v=2 3")  # resets the idle timer
    clock.advance_to(T0 + 7 * S)
    assert out.barriers == []
    assert task.http_out()["out"]["series"][0]["tags"] == {"host": "a"}
    clock.advance_to(T0 + 8 * S)
    assert [(b.group, b.time) for b in out.barriers] == [("host=a", T0 + 8 * S)]
    assert out.deleted == ["host=a"]
    assert task.http_out()["out"] == {"series": None}  # httpOut forgot the deleted group
    clock.advance_to(T0 + 100 * S)
    assert len(out.barriers) == 1  # a deleted group's timer is gone


def test_idle_barrier_drops_points_older_than_the_last_barrier() -> None:
    task, clock = make_task(BARRIER.format(props=".idle(5s)"))
    out = capture(task, "barrier")
    send(task, clock, "m,host=a v=1 0")
    clock.advance_to(T0 + 5 * S)
    assert [b.time for b in out.barriers] == [T0 + 5 * S]
    task.receive("db", "rp", lineprotocol.WirePoint("m", {"host": "a"}, {"v": 1.0}, T0 + 4 * S))
    task.receive("db", "rp", lineprotocol.WirePoint("m", {"host": "a"}, {"v": 1.0}, T0 + 6 * S))
    assert [p.time for p in out.points] == [T0, T0 + 6 * S]


def test_idle_barriers_are_not_armed_in_replay() -> None:
    task, clock = make_task(BARRIER.format(props=".idle(1s).delete(TRUE)"), simulated=True)
    out = capture(task, "barrier")
    send(task, clock, "m,host=a v=1 0")
    send(task, clock, "m,host=a v=1 30")  # a gap in a recording is not idleness
    clock.advance_to(T0 + 100 * S)
    assert out.barriers == [] and len(out.points) == 2


def test_periodic_barrier_fires_every_period_until_stopped() -> None:
    task, clock = make_task(BARRIER.format(props=".period(10s)"))
    out = capture(task, "barrier")
    send(task, clock, "m,host=a v=1 0")
    clock.advance_to(T0 + 25 * S)
    assert [(b.time - T0) // S for b in out.barriers] == [10, 20]
    send(task, clock, "m,host=a v=1 15")  # older than the last barrier: dropped
    assert len(out.points) == 1
    task.stop()
    clock.advance_to(T0 + 100 * S)
    assert len(out.barriers) == 2
