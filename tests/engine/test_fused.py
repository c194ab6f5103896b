"""The generated source chain (``leyden.engine.fused``) against the node-by-node path.

Random ``stream → from()`` chains (with or without database, retention policy, measurement,
where, groupBy, truncate and round, and ``where()``/``eval()``/``alert()`` nodes below; one or
two ``from()`` branches) end in a recording node; the
same random points, in random write splits, go through a fused task and a node-by-node one.
Everything observable must be equal: the points each recorder saw (attributes, dimensions,
group, order), every node's statistics and working cardinality (an alert node's alert
statistics and level history too: its quiet OK points are skipped inline), the task's
failures, and the exec-time sampling.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import pytest
from engine_support import context
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leyden.clock import SimulatedClock
from leyden.engine import task as task_module
from leyden.engine.model import NO_DIMENSIONS, Dimensions, Point
from leyden.engine.node import Node
from leyden.engine.nodes.alert import AlertNode
from leyden.engine.services import AlertSink
from leyden.engine.task import Task
from leyden.model.alert import Event
from leyden.tick.builder import build_pipeline

S = 1_000_000_000

Record = tuple[Any, ...]


class Recorder(Node):
    """Records every point it is handed; raises (a node bug) on points whose time is in ``bad``."""

    kind = "recorder"

    def __init__(self, log: list[Record], label: str, bad: frozenset[int]) -> None:
        super().__init__(None, context("t", SimulatedClock()))
        self.log = log
        self.label = label
        self.bad = bad

    def point(self, p: Point) -> None:
        if p.time in self.bad:
            raise KeyError("recorder bug")
        self.log.append((self.label, p.name, p.tags, p.fields, p.time, p.dims, p.group, p.db, p.rp))


WHERES = [
    None,
    'lambda: "v" > 5',
    "lambda: \"host\" == 'a'",
    'lambda: "nope" > 1',  # a missing reference: an evaluation error, counted and logged
    "lambda: count() > 2",  # stateful, shared by the node's groups (Kapacitor's from())
]
#: alert() nodes, whose quiet OK points the generated loop skips inline (``quiet_seam``)
ALERTS = [
    '|alert().crit(lambda: "v" > 8)',  # one plain predicate: the seam's test
    '|alert().info(lambda: "v" > 5).warn(lambda: "v" > 7).crit(lambda: "v" > 9)',  # any level
    '|alert().warn(lambda: "host" > 1).crit(lambda: "v" > 9)',  # errors: a string, or missing
    '|alert().crit(lambda: "nope" > 1 OR "v" > 9)',  # an error in the only predicate
    '|alert().crit(lambda: "v" > 8).stateChangesOnly()',
    '|alert().info(lambda: "v" > 3).crit(lambda: "v" > 9).flapping(0.2, 0.5).history(4)',
    '|alert().warn(lambda: 7.5 <= "v").crit(lambda: "v" == 10)',  # a number on the left
    "|alert().crit(lambda: count() > 3)",  # a function: no seam, every point to point()
    '|alert().crit(lambda: "v" > 8).id(\'{{ index .Tags "host" }}\')',  # id per point
    # thresholds folded: one comparison per operator, a number on either side
    '|alert().info(lambda: "v" < 2).warn(lambda: 9 <= "v").crit(lambda: 10 < "v" OR "v" < 1)',
    '|alert().info(lambda: 1 > "v").warn(lambda: "v" != 3).crit(lambda: "v" == 11)',
]
GROUPS = [None, "'host'", "'host', 'dc'", "*"]
BELOW = [
    *(f"|where({w})" for w in WHERES[1:]),
    "|eval(lambda: \"v\" * 2.0).as('v')",  # fails on an integer v: the point is dropped
    "|eval(lambda: count()).as('c').keep()",
    "|eval(lambda: string(\"v\")).as('host').tags('host')",  # the group is recomputed
    "|eval(lambda: \"v\" + 1, lambda: \"x\").as('x', 'y')",  # chained: the scope path
    *ALERTS,
]


@st.composite
def from_clause(draw: st.DrawFn) -> str:
    parts = ["|from()"]
    # (each setting mostly absent: a chain that drops every point proves little)
    for prop, values in (("database", ["db", "other"]), ("retentionPolicy", ["rp", "other"])):
        value = draw(st.sampled_from([None, None, *values]))
        if value:
            parts.append(f".{prop}('{value}')")
    measurement = draw(st.sampled_from([None, None, "cpu", "mem"]))
    if measurement:
        parts.append(f".measurement('{measurement}')")
    where = draw(st.sampled_from([None, *WHERES]))
    if where:
        parts.append(f".where({where})")
    group = draw(st.sampled_from(GROUPS))
    if group:
        parts.append(f".groupBy({group})")
    if draw(st.booleans()):
        parts.append(".groupByMeasurement()")
    if draw(st.booleans()):
        parts.append(".truncate(10s)")
    if draw(st.booleans()):
        parts.append(".round(3s)")
    for below in draw(st.lists(st.sampled_from(BELOW), max_size=3)):
        parts.append(below)  # where() and eval() nodes below from(): inlined too
    return "\n    ".join(parts)


def script(froms: list[str]) -> str:
    return "var s = stream\n" + "\n".join(f"s\n    {f}" for f in froms)


@st.composite
def a_point(draw: st.DrawFn) -> Point:
    tags = {}
    if draw(st.booleans()):
        tags["host"] = draw(st.sampled_from(["a", "b"]))
    if draw(st.booleans()):
        tags["dc"] = "x"
    fields: dict[str, Any] = {"v": draw(st.one_of(st.integers(0, 10), st.floats(0, 10)))}
    return Point(
        draw(st.sampled_from(["cpu", "mem"])),
        tags,
        fields,
        draw(st.integers(-30, 30)) * S,
        db=draw(st.sampled_from(["db", "other"])),
        rp=draw(st.sampled_from(["rp", "other"])),
    )


class _EventSink:
    """An alert node's publisher that logs every event it is handed (rendered in full)."""

    def __init__(self, log: list[Record], node: str) -> None:
        self.log = log
        self.node = node

    def publish(self, event: Event) -> None:
        s = event.state
        self.log.append(("event", self.node, s.id, s.level, s.time, s.message, s.details))

    def is_inhibited(self, category: str, tags: Mapping[str, str]) -> bool:
        return False

    def close(self) -> None:
        pass

    def delete(self) -> None:
        pass


class EventLog:
    """An alert service whose nodes' events go to one log (the recorders' log)."""

    def __init__(self, log: list[Record]) -> None:
        self.log = log

    def register_alert_node(self, **registration: Any) -> AlertSink:
        return _EventSink(self.log, registration["node"])


def build(source: str, fused: bool, bad: frozenset[int]) -> tuple[Task, list[Record]]:
    log: list[Record] = []
    ctx = context("t", SimulatedClock(), alerts=EventLog(log))
    task = Task("t", build_pipeline(source), ctx, [], fused=fused)
    for name, node in task.nodes.items():
        if node.kind != "stream" and not node.children:
            node.children = [Recorder(log, name, bad)]
    return task, log


#: (host, v) of points for the alert examples
ALERT_POINTS = [("a", 1), ("a", 2), ("b", 1), ("a", 10), ("a", 6), ("a", 1), ("a", 0), ("b", 3)]
ALERT_POINTS += [("a", 1.5), ("b", 9.5), ("b", 1), ("b", 2)]

REGROUPED = "|from().groupBy('host')\n    |eval(lambda: string(\"v\")).as('host').tags('host')"


@settings(max_examples=200, deadline=None)
@example(
    froms=[REGROUPED],
    points=[Point("cpu", {"host": "a"}, {"v": 1.5}, 0)],
    splits=[],
    bad=frozenset(),
    sample_every=256,
)
@example(  # quiet groups whose test raises on some points: point() must report each error
    froms=[f"|from().groupBy('host')\n    {ALERTS[2]}", f"|from()\n    {ALERTS[3]}"],
    points=[Point("cpu", {"host": h}, {"v": v}, 0) for h, v in ALERT_POINTS],
    splits=[3],
    bad=frozenset(),
    sample_every=256,
)
@example(  # groups going quiet, firing and recovering; a point of another name in between
    froms=[f"|from().groupBy('host')\n    {ALERTS[1]}"],
    points=[Point("cpu" if v else "mem", {"host": h}, {"v": v}, 0) for h, v in ALERT_POINTS],
    splits=[],
    bad=frozenset(),
    sample_every=3,
)
@given(
    froms=st.lists(from_clause(), min_size=1, max_size=2),
    points=st.lists(a_point(), max_size=40),
    splits=st.lists(st.integers(0, 40), max_size=4),
    bad=st.frozensets(st.integers(-30, 30).map(lambda s: s * S), max_size=3),
    sample_every=st.sampled_from([3, 256]),
)
def test_generated_chain_equals_node_by_node(
    froms: list[str],
    points: list[Point],
    splits: list[int],
    bad: frozenset[int],
    sample_every: int,
) -> None:
    check_equal(froms, points, splits, bad, sample_every)


@st.composite
def alert_point(draw: st.DrawFn) -> Point:
    """A point for an alert: few groups, values around the thresholds, now and then a tag
    named like the field (a conflict: an evaluation error) or a string value."""
    tags = {"host": draw(st.sampled_from(["a", "b"]))}
    if draw(st.integers(0, 9)) == 0:
        tags["v"] = "t"
    v = draw(st.one_of(st.integers(0, 11), st.sampled_from([7.5, 8.0, 9.5, 10.0, "s"])))
    return Point("cpu", tags, {"v": v}, draw(st.integers(-30, 30)) * S)


@settings(max_examples=200, deadline=None)
@given(
    alert=st.sampled_from(ALERTS),
    group=st.sampled_from(["", ".groupBy('host')", ".measurement('cpu').groupBy('host')"]),
    points=st.lists(alert_point(), max_size=60),
    splits=st.lists(st.integers(0, 60), max_size=3),
    sample_every=st.sampled_from([5, 256]),
)
def test_alert_below_the_chain_equals_node_by_node(
    alert: str, group: str, points: list[Point], splits: list[int], sample_every: int
) -> None:
    """Alert nodes, mostly quiet groups meeting points near their thresholds."""
    check_equal([f"|from(){group}\n    {alert}"], points, splits, frozenset(), sample_every)


@settings(max_examples=100, deadline=None)
@given(
    alerts=st.lists(st.sampled_from(ALERTS), min_size=2, max_size=3),
    points=st.lists(alert_point(), max_size=60),
    splits=st.lists(st.integers(0, 60), max_size=3),
)
def test_alerts_side_by_side_below_one_from_equal_node_by_node(
    alerts: list[str], points: list[Point], splits: list[int]
) -> None:
    """Several alert children of one ``from()``: each counts the points it skips itself."""
    source = "var f = stream\n    |from().measurement('cpu').groupBy('host')\n"
    source += "\n".join(f"f\n    {alert}" for alert in alerts)
    check_equal([], points, splits, frozenset(), 256, source=source)


def check_equal(
    froms: list[str],
    points: list[Point],
    splits: list[int],
    bad: frozenset[int],
    sample_every: int,
    *,
    source: str = "",
) -> None:
    """The fused task and the node-by-node one observe the same (see the module docstring)."""
    source = source or script(froms)
    fused, fused_log = build(source, True, bad)
    plain, plain_log = build(source, False, bad)
    assert fused.fused and not plain.fused
    cuts = sorted({0, len(points), *(min(c, len(points)) for c in splits)})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(task_module, "SAMPLE_EVERY", sample_every)
        for a, b in itertools.pairwise(cuts):
            memo: dict[Any, Any] = {}
            fused.receive_points(points[a:b], memo)
            for p in points[a:b]:
                plain.receive_point(p)
    assert fused_log == plain_log
    for name, node in plain.nodes.items():
        assert fused.nodes[name].stats == node.stats, name
        assert fused.nodes[name].cardinality() == node.cardinality(), name
        if isinstance(node, AlertNode):
            other = fused.nodes[name]
            assert isinstance(other, AlertNode)
            assert other.alert_stats == node.alert_stats, name
            groups = {p.group for p in points} | {"", "host=a", "host=b"}
            for g in groups:
                assert other.levels_of(g) == node.levels_of(g), (name, g)
    assert fused.failures == plain.failures
    assert dict(fused.exec_times.calls) == dict(plain.exec_times.calls)


def test_tasks_grouping_alike_share_the_grouped_point() -> None:
    """One grouped ``Point`` (and group ID) per written point for every task grouping alike."""
    source = "stream|from().measurement('cpu').groupBy('host')"
    a, b = build(source, True, frozenset())[0], build(source, True, frozenset())[0]
    c = build(source + ".truncate(10s)", True, frozenset())[0]
    p = Point("cpu", {"host": "h", "dc": "x"}, {"v": 1.0}, 12 * S, db="db", rp="rp")
    memo: dict[Any, Any] = {}
    seen: list[Point] = []
    for task in (a, b, c):
        task.nodes["from1"].children[0].point = seen.append  # type: ignore[union-attr]
        task.receive_points([p], memo)
    assert seen[0] is seen[1] and seen[0] is not p
    assert seen[0].group == "host=h" and seen[0].dims == Dimensions(tag_names=("host",))
    assert seen[2].time == 10 * S and seen[2].group is seen[0].group  # the group ID shared


def test_an_ungrouped_point_is_forwarded_itself() -> None:
    task = build("stream|from().measurement('cpu')", True, frozenset())[0]
    seen: list[Point] = []
    task.nodes["from1"].children[0].point = seen.append  # type: ignore[union-attr]
    p = Point("cpu", {}, {"v": 1.0}, 0)
    task.receive_points([p])
    assert seen == [p] and seen[0] is p and p.dims is NO_DIMENSIONS


def test_a_child_added_after_compiling_is_called() -> None:
    """A ``stats`` node adds a child to the node it watches when it starts: compile again."""
    task, log = build("stream|from().measurement('cpu')", True, frozenset())
    extra: list[Record] = []
    task.nodes["from1"].children.append(Recorder(extra, "extra", frozenset()))
    task.receive_points([Point("cpu", {}, {"v": 1.0}, 0)])
    assert len(log) == 1 and len(extra) == 1
    assert task.fused
