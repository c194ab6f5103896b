"""Column-wise point buffers: a window emits exactly the batches a list of points gave.

The reference is the buffer windows used before: each point kept whole, as a BatchPoint with
the point's own fields and tags, in a list.  Hypothesis drives both with random points (mixed
field types, missing fields, varying and shared tags, out-of-order times) and compares every
batch exactly: times, field names in order, each value's type and repr, tags in order.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from engine_support import context
from hypothesis import given, settings
from hypothesis import strategies as st

from leyden.clock import SimulatedClock
from leyden.engine.columns import ColumnBuffer, column_buffer
from leyden.engine.model import Batch, BatchPoint, Dimensions, Point
from leyden.engine.node import Barrier, Node
from leyden.engine.nodes import window as window_module
from leyden.engine.nodes.influxql import InfluxQLNode
from leyden.engine.nodes.transform import WhereNode
from leyden.engine.nodes.window import WindowNode, wanted_fields
from leyden.go.types import Duration
from leyden.lineprotocol import UInt
from leyden.tick.parser import parse_lambda as lam
from leyden.tick.pipeline import NodeSpec

S = 1_000_000_000
HOST = Dimensions(tag_names=("host",))


class ListBuffer:
    """The reference: every point kept whole, in a list (what windows did before columns)."""

    def __init__(self, want: tuple[str, ...] | None = None) -> None:
        self.want = want
        self.points_: list[BatchPoint] = []

    def __len__(self) -> int:
        return len(self.points_)

    @property
    def last_time(self) -> int:
        return self.points_[-1].time

    def add(self, t: int, tags: dict[str, str], fields: dict[str, Any]) -> None:
        if self.want is not None:
            fields = {k: fields[k] for k in self.want if k in fields}
        self.points_.append(BatchPoint(t, fields, tags))

    def points(self) -> list[BatchPoint]:
        return list(self.points_)

    def leading_before(self, oldest: int, inclusive: bool) -> int:
        n = 0
        for bp in self.points_:
            if (bp.time > oldest) if inclusive else (bp.time >= oldest):
                break
            n += 1
        return n

    def drop(self, k: int) -> None:
        del self.points_[: max(k, 0)]


def exact(points: list[BatchPoint]) -> list[Any]:
    """What must be equal: 1, 1.0 and True are different values here, and order counts."""
    return [
        (
            bp.time,
            [(k, type(v), repr(v)) for k, v in bp.fields.items()],
            list(bp.tags.items()),
        )
        for bp in points
    ]


def exact_batches(batches: list[Batch]) -> list[Any]:
    return [
        (b.name, b.group, list(b.tags.items()), b.dims, b.tmax, exact(b.points)) for b in batches
    ]


# --- random points --------------------------------------------------------------------------

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=2**63, max_value=2**70),  # beyond an int64 column
    st.booleans(),
    st.text(max_size=5),
    st.integers(min_value=0, max_value=2**64 - 1).map(UInt),
)
field_names = st.sampled_from(["a", "b", "c", "value", "usage_user"])
fields_st = st.dictionaries(field_names, values, max_size=4)
#: a few shared tags dicts (as the parser shares one per series) and fresh equal copies
TAG_SETS = [
    {"host": "A", "cpu": "cpu0"},
    {"host": "A", "cpu": "cpu1"},
    {"cpu": "cpu0", "host": "A"},  # equal to the first, other order
    {"host": "B"},
    {},
]
tags_st = st.one_of(
    st.sampled_from(TAG_SETS),
    st.sampled_from(TAG_SETS).map(dict),
)
#: (seconds, tags, fields)
point_st = st.tuples(st.integers(min_value=0, max_value=40), tags_st, fields_st)


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(
        st.one_of(
            point_st.map(lambda p: ("add", p)),
            st.tuples(st.just("purge"), st.integers(0, 40), st.booleans()),
            st.just(("read",)),
        ),
        max_size=60,
    ),
    want=st.one_of(st.none(), st.lists(field_names, unique=True, max_size=2).map(tuple)),
)
def test_buffer_reads_back_what_a_list_holds(ops: list[Any], want: tuple[str, ...] | None) -> None:
    bufs, ref = [ColumnBuffer(want), column_buffer(want)], ListBuffer(want)
    for op in ops:
        if op[0] == "add":
            t, tags, fields = op[1]
            ref.add(t, tags, fields)
            for buf in bufs:
                buf.add(t, tags, fields)
        elif op[0] == "purge":
            k = ref.leading_before(op[1], op[2])
            ref.drop(k)
            for buf in bufs:
                assert buf.leading_before(op[1], op[2]) == k
                buf.drop(k)
        for buf in bufs:
            assert len(buf) == len(ref)
            assert exact(buf.points()) == exact(ref.points())  # equal tags: maybe one object


def test_values_keep_their_exact_type() -> None:
    buf = ColumnBuffer()
    fields = {"f": 1.0, "i": 1, "b": True, "s": "x", "u": UInt(2**64 - 1), "big": 2**65}
    buf.add(1, {}, fields)
    buf.add(2, {}, {"f": -0.0, "i": -(2**63), "b": False, "s": "", "u": UInt(0), "big": 3})
    buf.add(3, {}, {"f": math.nan, "i": 2**64, "b": 0, "s": 1.5, "u": 1, "big": False})
    got = buf.points()
    assert [exact([bp]) for bp in got] == [
        exact([BatchPoint(1, fields, {})]),
        exact([BatchPoint(2, got[1].fields, {})]),
        exact([BatchPoint(3, got[2].fields, {})]),
    ]
    assert [type(v) for v in got[0].fields.values()] == [float, int, bool, str, UInt, int]
    assert repr(got[1].fields["f"]) == "-0.0" and got[1].fields["i"] == -(2**63)
    assert got[2].fields["i"] == 2**64 and got[2].fields["b"] == 0
    assert type(got[2].fields["b"]) is int and type(got[2].fields["big"]) is bool


# --- through a window -------------------------------------------------------------------------


class Sink(Node):
    def __init__(self) -> None:
        super().__init__(None, context("t", SimulatedClock(0)))
        self.batches: list[Batch] = []
        self.points: list[Point] = []

    def point(self, p: Point) -> None:
        self.points.append(p)

    def batch(self, b: Batch) -> None:
        self.batches.append(b)

    def barrier(self, b: Barrier) -> None:
        pass


def run_window(
    props: dict[str, Any], msgs: list[Any], children: list[Node], add_sink: bool = True
) -> list[Batch]:
    """The batches the window emitted: to a sink added to ``children``, or if ``children`` is a
    lone :class:`RecordingCount`, to it (so that the window still sees only that child)."""
    props = dict(props)
    for k in ("period", "every"):
        if k in props:
            props[k] = Duration(props[k])
    spec = NodeSpec("window", 2, "window", "stream", "batch", None, properties=props)
    node = WindowNode(spec, context("t", SimulatedClock(0)))
    sink = Sink()
    only = not add_sink or (len(children) == 1 and isinstance(children[0], RecordingCount))
    node.children = list(children) if only else [*children, sink]
    for m in msgs:
        if m[0] == "barrier":
            _, host, t = m
            node.barrier(Barrier(f"host={host}", {"host": host}, HOST, t * S, "cpu"))
        else:
            t, tags, fields = m
            node.point(Point("cpu", tags, fields, t * S, HOST))
    if not add_sink:
        return []
    return children[0].batches if only else sink.batches  # type: ignore[attr-defined]


window_props = st.one_of(
    st.builds(
        lambda period, every, align, fill: {
            "period": period * S,
            "every": every * S,
            "align": align,
            "fillPeriod": fill,
        },
        st.integers(1, 12),
        st.integers(0, 12),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(
        lambda n, every, fill: {"periodCount": n, "everyCount": every, "fillPeriod": fill},
        st.integers(1, 30),
        st.integers(1, 8),
        st.booleans(),
    ),
)
msg_st = st.one_of(
    point_st,
    st.tuples(st.just("barrier"), st.sampled_from(["A", "B"]), st.integers(0, 40)),
)


@settings(max_examples=300, deadline=None)
@given(props=window_props, msgs=st.lists(msg_st, max_size=80))
def test_window_emits_what_the_list_buffer_emitted(props: dict[str, Any], msgs: list[Any]) -> None:
    got = run_window(props, msgs, [])
    with pytest.MonkeyPatch.context() as m:
        m.setattr(window_module, "column_buffer", ListBuffer)
        want = run_window(props, msgs, [])
    assert exact_batches(got) == exact_batches(want)


def influxql(kind: str, field: str, **props: Any) -> InfluxQLNode:
    props["field"] = field
    spec = NodeSpec(kind, 3, kind, "batch", "stream", None, properties=props)
    return InfluxQLNode(spec, context("t", SimulatedClock(0)))


class RecordingCount(InfluxQLNode):
    """``count('a')`` that also keeps the batches it received."""

    def __init__(self) -> None:
        spec = NodeSpec("count", 3, "count", "batch", "stream", None, properties={"field": "a"})
        super().__init__(spec, context("t", SimulatedClock(0)))
        self.batches: list[Batch] = []

    def batch(self, b: Batch) -> None:
        self.batches.append(b)
        super().batch(b)


def test_wanted_fields_narrow_only_for_functions_that_forward_no_point() -> None:
    assert wanted_fields([influxql("count", "a")]) == ("a",)
    assert wanted_fields([influxql("count", "a"), influxql("mean", "b")]) == ("a", "b")
    assert wanted_fields([influxql("count", "a"), influxql("sum", "a")]) == ("a",)
    assert wanted_fields([influxql("top", "a", num=3)]) == ("a",)  # keeps the source's tags only
    assert wanted_fields([influxql("max", "a")]) is None  # a selector forwards its point
    assert wanted_fields([influxql("count", "a"), Sink()]) is None
    assert wanted_fields([]) is None


def test_a_window_feeding_count_keeps_only_the_counted_field() -> None:
    props = {"period": 10 * S, "every": 10 * S}
    tags = {"host": "A"}
    msgs = [(t, tags, {"a": float(t), "b": t, "c": "x"} if t % 3 else {"b": 1}) for t in range(25)]
    count = RecordingCount()
    counts = Sink()
    count.children = [counts]
    batches = run_window(props, msgs, [count])
    assert [sorted({k for bp in b.points for k in bp.fields}) for b in batches] == [["a"], ["a"]]
    assert [len(b.points) for b in batches] == [10, 10]  # rows without the field still there
    full = run_window(props, msgs, [])
    assert [[bp.fields.get("a") for bp in b.points] for b in batches] == [
        [bp.fields.get("a") for bp in b.points] for b in full
    ]
    assert [p.fields for p in counts.points] == [
        {"count": sum("a" in bp.fields for bp in b.points)} for b in full
    ]


def test_an_emptied_time_window_holds_no_buffer() -> None:
    spec = NodeSpec(
        "window",
        2,
        "window",
        "stream",
        "batch",
        None,
        properties={"period": Duration(10 * S), "every": Duration(10 * S)},
    )
    node = WindowNode(spec, context("t", SimulatedClock(0)))
    node.children = [Sink()]
    tags = {"host": "A"}
    node.point(Point("cpu", tags, {"a": 1.0}, 0, HOST))
    w = node._windows["host=A"]
    assert w.buf is not None and len(w.buf) == 1
    for t in (10, 20):  # the first barrier emits the point, the second purges it
        node.barrier(Barrier("host=A", tags, HOST, t * S, "cpu"))
    assert w.buf is None


@pytest.mark.parametrize("want", [None, ("f",), ("f", "g")])
def test_hundreds_of_tags_and_shapes_then_purged(want: tuple[str, ...] | None) -> None:
    """Past 256 distinct tags (or shapes) the per-row index widens; purging forgets them."""
    buf, ref = column_buffer(want), ListBuffer(want)
    for i in range(600):
        tags = {"host": f"h{i % 300}"}
        fields: dict[str, Any] = {"f": float(i), f"x{i % 280}": i} if i % 2 else {"f": i}
        if i % 7 == 0:
            fields = {}
        buf.add(i, tags, fields)
        ref.add(i, tags, fields)
    for oldest in (100, 450, 599, 600):
        k = ref.leading_before(oldest, False)
        assert buf.leading_before(oldest, False) == k
        buf.drop(k)
        ref.drop(k)
        assert exact(buf.points()) == exact(ref.points())
        buf.add(oldest + 1000, {"host": "h1"}, {"f": 1.5})
        ref.add(oldest + 1000, {"host": "h1"}, {"f": 1.5})
        assert exact(buf.points()) == exact(ref.points())


def where(text: str, *children: Node) -> WhereNode:
    spec = NodeSpec("where", 4, "where", "batch", "batch", None, properties={"lambda": lam(text)})
    n = WhereNode(spec, context("t", SimulatedClock(0)))
    n.children = list(children)
    return n


def test_wanted_fields_see_through_where() -> None:
    assert wanted_fields([where('"a" > 0 AND "host" == \'A\'', influxql("count", "b"))]) == (
        "a",
        "host",
        "b",
    )
    assert wanted_fields([where('"a" > 0')]) == ("a",)
    assert wanted_fields([where('hour("time") >= 0', influxql("sum", "b"))]) == ("b",)
    assert wanted_fields([where('"a" > 0', where('"c" < 1', influxql("mean", "a")))]) == ("a", "c")
    assert wanted_fields([where('"a" > 0', Sink())]) is None
    assert wanted_fields([where('"a" > 0', influxql("last", "a"))]) is None


@settings(max_examples=200, deadline=None)
@given(
    props=window_props,
    msgs=st.lists(msg_st, max_size=60),
    cond=st.sampled_from(['"a" > 0', '"value" == \'x\' OR "b"', "\"host\" == 'A'", "TRUE"]),
    kind=st.sampled_from(["count", "sum", "mean", "spread", "difference", "top"]),
)
def test_a_narrowed_window_gives_its_readers_the_same_results(
    props: dict[str, Any], msgs: list[Any], cond: str, kind: str
) -> None:
    """window|where|<function>: what comes out, and every error counted, are the same whether
    the window keeps only the fields read or all of them."""

    def run(narrow: bool) -> tuple[Any, ...]:
        out = Sink()
        fn = influxql(kind, "a", **({"num": 2} if kind == "top" else {}))
        fn.children = [out]
        w = where(cond, fn)
        seen: list[BatchPoint] = []
        real_batch = w.batch

        def spy(b: Batch) -> None:
            seen.extend(b.points)
            real_batch(b)

        w.batch = spy  # type: ignore[method-assign]
        with pytest.MonkeyPatch.context() as m:
            if not narrow:
                m.setattr(window_module, "wanted_fields", lambda children: None)
            run_window(props, msgs, [w], add_sink=False)
        if narrow and msgs and msgs[0][0] != "barrier":  # the window did narrow
            assert not any(k not in ("a", "b", "value", "host") for bp in seen for k in bp.fields)
        points = exact([BatchPoint(p.time, p.fields, p.tags) for p in out.points])
        return points, exact_batches(out.batches), w.stats.errors, fn.stats.errors

    assert run(True) == run(False)
