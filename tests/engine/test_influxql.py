"""InfluxQL nodes: reducer results, output shapes, types, errors, stream-edge grouping."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
from engine_support import context

from leyden.clock import SimulatedClock
from leyden.engine.model import Batch, BatchPoint, Dimensions, Point
from leyden.engine.node import NODE_CLASSES, Node, TaskError
from leyden.engine.nodes import influxql  # noqa: F401  (registers the kinds)
from leyden.engine.nodes.holtwinters import go_pow_int, holt_winters
from leyden.tick.builder import build_pipeline

S = 1_000_000_000
HOST = Dimensions(tag_names=("host",))


class Sink(Node):
    """Records what its parent emits."""

    def __init__(self) -> None:
        super().__init__(None, context("t", SimulatedClock()))
        self.points: list[Point] = []
        self.batches: list[Batch] = []

    def point(self, p: Point) -> None:
        self.points.append(p)

    def batch(self, b: Batch) -> None:
        self.batches.append(b)


def node(call: str, *, batch: bool = True) -> tuple[Node, Sink]:
    """The runtime node for ``call`` (e.g. ``count('value')``), on a batch or a stream edge."""
    edge = "|window().period(10s).every(10s)" if batch else ""
    pipeline = build_pipeline(f"stream|from(){edge}|{call}", filename="test.tick")
    spec = pipeline.nodes[-1]
    n = NODE_CLASSES[spec.kind](spec, context("t", SimulatedClock()))
    sink = Sink()
    n.children = [sink]
    return n, sink


def batch(
    *points: tuple[int, dict[str, Any]] | tuple[int, dict[str, Any], dict[str, str]],
) -> Batch:
    """A batch of group host=a with tmax 10s; each point is (seconds, fields[, extra tags])."""
    bps = []
    for pt in points:
        extra = pt[2] if len(pt) == 3 else {}
        bps.append(BatchPoint(pt[0] * S, pt[1], {"host": "a", **extra}))
    return Batch("cpu", "host=a", {"host": "a"}, HOST, 10 * S, bps)


def values(**kw: Any) -> Batch:
    """A batch whose points (one per second from 0) have ``value`` = each item of ``v``."""
    return batch(*((i, {"value": v}) for i, v in enumerate(kw["v"])))


def one(sink: Sink) -> Point:
    assert len(sink.points) == 1, sink.points
    return sink.points[0]


# -- aggregates over batches -------------------------------------------------------------------


def test_count_is_an_int_with_only_the_group_tags_at_the_batch_time() -> None:
    n, sink = node("count('value')")
    n.batch(batch((1, {"value": 1.5}, {"type": "idle"}), (2, {"value": 2.5}, {"type": "busy"})))
    p = one(sink)
    assert (p.name, p.tags, p.fields, p.time) == ("cpu", {"host": "a"}, {"count": 2}, 10 * S)
    assert type(p.fields["count"]) is int
    assert p.group == "host=a" and p.dims == HOST


def test_empty_batches_yield_zero_for_count_and_sum_only() -> None:
    for call, expected in (("count('value')", 0), ("sum('value')", 0.0)):
        n, sink = node(call)
        n.batch(batch())
        assert one(sink).fields == {call.split("(")[0]: expected}
    # sum has no data to pick the int reducer, so Kapacitor's float64 assumption shows
    n, sink = node("sum('value')")
    n.batch(batch())
    assert type(one(sink).fields["sum"]) is float
    for call in ("mean('value')", "max('value')", "distinct('value')", "stddev('value')"):
        n, sink = node(call)
        n.batch(batch())
        assert sink.points == [] and sink.batches == []


@pytest.mark.parametrize(
    ("call", "inputs", "expected"),
    [
        ("sum('value')", [1, 2, 3], 6),
        ("sum('value')", [0.1, 0.2, 0.3], 0.1 + 0.2 + 0.3),  # left to right: 0.6000000000000001
        ("mean('value')", [1, 2, 4], 7 / 3),
        ("mean('value')", [1.0, 2.0], 1.5),
        ("median('value')", [5.0, 1.0, 3.0], 3.0),
        ("median('value')", [4.0, 1.0, 3.0, 2.0], 2.5),  # even count: mean of the middle two
        ("median('value')", [4, 1, 3, 2], 2.5),
        ("median('value')", [7], 7.0),
        # Mode ties: InfluxDB compares the time a run of equal values starts with the time of
        # the leader's last point, so here 3 (run from t=0) beats 1 (leader up to t=3) ...
        ("mode('value')", [3, 1, 3, 1, 2], 3),
        # ... and here too (run of 3 starts at t=1, the run of 1 ends at t=3)
        ("mode('value')", [1.0, 3.0, 3.0, 1.0], 3.0),
        # ... but not when the run of 3 starts (t=2) after the last 1 (t=1)
        ("mode('value')", [1.0, 1.0, 3.0, 3.0], 1.0),
        ("mode('value')", [2, 2, 5], 2),
        ("spread('value')", [3, 10, -2], 12),
        ("spread('value')", [1.5, 0.5], 1.0),
        ("stddev('value')", [2, 4, 4, 4, 5, 5, 7, 9], math.sqrt(32 / 7)),  # sample, n - 1
        ("stddev('value')", [1.0, 3.0], math.sqrt(2.0)),
        ("count('value')", ["a", "b"], 2),
        ("count('value')", [True, False, True], 3),
    ],
)
def test_aggregate_values(call: str, inputs: list[Any], expected: Any) -> None:
    n, sink = node(call)
    n.batch(values(v=inputs))
    (got,) = one(sink).fields.values()
    assert type(got) is type(expected)
    assert got == (pytest.approx(expected, rel=1e-15) if type(got) is float else expected)


def test_stddev_of_one_point_is_nan() -> None:
    n, sink = node("stddev('value')")
    n.batch(values(v=[3.0]))
    assert math.isnan(one(sink).fields["stddev"])


def test_int_sum_wraps_like_int64() -> None:
    n, sink = node("sum('value')")
    n.batch(values(v=[2**63 - 1, 1]))
    assert one(sink).fields == {"sum": -(2**63)}


def test_as_renames_and_use_point_times_needs_a_point_time() -> None:
    n, sink = node("mean('value').as('avg').usePointTimes()")
    n.batch(values(v=[1.0, 3.0]))
    p = one(sink)
    assert p.fields == {"avg": 2.0} and p.time == 10 * S  # a mean has no time of its own
    n, sink = node("median('value').usePointTimes()")
    n.batch(batch((4, {"value": 1.0})))
    assert one(sink).time == 4 * S  # a lone float median is that point, time included


# -- selectors ---------------------------------------------------------------------------------


def test_selector_keeps_the_points_fields_and_tags_with_the_field_renamed() -> None:
    n, sink = node("max('value')")
    n.batch(
        batch(
            (1, {"value": 5.0, "other": 1}, {"type": "idle"}),
            (2, {"value": 9.0, "other": 2}, {"type": "busy"}),
        )
    )
    p = one(sink)
    assert p.fields == {"max": 9.0, "other": 2}
    assert p.tags == {"host": "a", "type": "busy"}
    assert p.time == 10 * S and p.group == "host=a"


def test_selector_use_point_times_and_same_name() -> None:
    n, sink = node("min('value').as('value').usePointTimes()")
    src = {"value": 1, "x": "y"}
    n.batch(batch((3, {"value": 4, "x": "z"}), (6, src)))
    p = one(sink)
    assert p.fields == src and p.time == 6 * S


@pytest.mark.parametrize(
    ("call", "points", "expected_time", "expected_value"),
    [
        ("max('value')", [(1, 5.0), (2, 9.0), (3, 9.0)], 2, 9.0),  # tie: earlier time
        ("min('value')", [(1, 5), (2, 1), (3, 1)], 2, 1),
        ("first('value')", [(3, 1.0), (1, 2.0), (1, 7.0)], 1, 7.0),  # same time: larger value
        ("last('value')", [(3, 1.0), (5, 2.0), (5, 0.5)], 5, 2.0),
        ("first('value')", [(1, "b"), (1, "c"), (2, "a")], 1, "c"),
        ("last('value')", [(1, "z"), (2, "a"), (2, "b")], 2, "b"),
        ("first('value')", [(1, True), (1, False), (2, False)], 1, False),  # bool: false first
        ("last('value')", [(2, False), (2, True), (1, True)], 2, True),  # bool: true last
    ],
)
def test_selector_ties(
    call: str, points: list[tuple[int, Any]], expected_time: int, expected_value: Any
) -> None:
    n, sink = node(call + ".usePointTimes()")
    n.batch(batch(*((t, {"value": v}) for t, v in points)))
    p = one(sink)
    assert (p.time, next(iter(p.fields.values()))) == (expected_time * S, expected_value)


def test_percentile_uses_the_nearest_rank() -> None:
    # index = floor(n * p / 100 + 0.5) - 1 over the values sorted ascending
    data = [10.0, 40.0, 20.0, 30.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]
    for pct, expected in ((90.0, 90.0), (50.0, 50.0), (5.0, 10.0), (100.0, 100.0), (94.0, 90.0)):
        n, sink = node(f"percentile('value', {pct})")
        n.batch(values(v=data))
        assert one(sink).fields == {"percentile": expected}, pct
    n, sink = node("percentile('value', 4.0)")  # rank 0: nothing
    n.batch(values(v=data))
    assert sink.points == []
    n, sink = node("percentile('value', 50.0).usePointTimes()")
    n.batch(batch((1, {"value": 3, "k": 1}), (2, {"value": 1, "k": 2}), (3, {"value": 2, "k": 3})))
    p = one(sink)
    assert (p.fields, p.time) == ({"percentile": 2, "k": 3}, 3 * S)


# -- multi-value outputs -----------------------------------------------------------------------


def test_distinct_emits_a_batch_in_first_seen_order() -> None:
    n, sink = node("distinct('value')")
    n.batch(values(v=[3.0, 1.0, 3.0, 2.0, 1.0]))
    (b,) = sink.batches
    assert [bp.fields for bp in b.points] == [
        {"distinct": 3.0},
        {"distinct": 1.0},
        {"distinct": 2.0},
    ]
    assert all(bp.time == 10 * S and bp.tags == {"host": "a"} for bp in b.points)
    assert (b.tmax, b.tags, b.group) == (10 * S, {"host": "a"}, "host=a")
    n, sink = node("distinct('value')")
    n.batch(values(v=[True, True, False]))
    assert [bp.fields["distinct"] for bp in sink.batches[0].points] == [True, False]


def test_top_and_bottom_keep_point_tags_and_break_ties_by_time() -> None:
    data = batch(
        (1, {"value": 5.0}, {"player": "p1"}),
        (2, {"value": 9.0}, {"player": "p2"}),
        (3, {"value": 7.0}, {"player": "p3"}),
        (4, {"value": 9.0}, {"player": "p4"}),
        (5, {"value": 1.0}, {"player": "p5"}),
        (6, {"value": 1.0}, {"player": "p6"}),
    )
    n, sink = node("top(3, 'value', 'player')")
    n.batch(data)
    (b,) = sink.batches
    assert [(bp.fields["top"], bp.tags["player"]) for bp in b.points] == [
        (9.0, "p2"),
        (9.0, "p4"),
        (7.0, "p3"),
    ]
    assert all(bp.time == 10 * S and bp.tags["host"] == "a" for bp in b.points)
    n, sink = node("bottom(3, 'value').usePointTimes()")
    n.batch(data)
    (b,) = sink.batches
    assert [(bp.fields["bottom"], bp.time) for bp in b.points] == [
        (1.0, 5 * S),
        (1.0, 6 * S),
        (5.0, 1 * S),
    ]
    assert b.tmax == 10 * S  # the batch time is the later of tmax and the point times


def test_top_batch_time_follows_later_point_times() -> None:
    n, sink = node("top(1, 'value').usePointTimes()")
    b = values(v=[1, 2])
    b.tmax = 0
    n.batch(b)
    assert sink.batches[0].tmax == 1 * S


# -- type handling and errors ------------------------------------------------------------------


def test_missing_or_mistyped_fields_are_logged_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    n, sink = node("sum('value')")
    with caplog.at_level(logging.ERROR, logger="leyden.task"):
        n.batch(
            batch(
                (1, {"other": 1}),
                (2, {"value": 2}),
                (3, {"value": 1.5}),
                (4, {}),
                (5, {"value": 3}),
            )
        )
    assert one(sink).fields == {"sum": 5}  # int reducer chosen by the first point with the field
    assert n.stats.errors == 3
    messages = [(r.getMessage(), r.fields["err"]) for r in caplog.records]  # type: ignore[attr-defined]
    assert messages == [
        ("failed to realize reduce context from fields", 'field "value" missing from point'),
        ("failed to aggregate point in batch", "field value has wrong type: got float64 exp int64"),
        ("failed to aggregate point in batch", "field value missing from point cannot aggregate"),
    ]


def test_all_points_missing_the_field() -> None:
    n, sink = node("count('value')")
    n.batch(batch((1, {"x": 1}), (2, {"x": 2})))
    assert one(sink).fields == {"count": 0}
    n, sink = node("mean('value')")
    n.batch(batch((1, {"x": 1})))
    assert sink.points == []


def test_unsupported_type_names_the_function(caplog: pytest.LogCaptureFixture) -> None:
    n, sink = node("mean('value')")
    with caplog.at_level(logging.ERROR, logger="leyden.task"):
        n.batch(values(v=["a", "b"]))
    assert sink.points == []
    errs = {r.fields["err"] for r in caplog.records}  # type: ignore[attr-defined]
    assert errs == {
        "invalid influxql func mean with field value: cannot apply mean to string field"
    }


def test_quiet_suppresses_logs_but_counts(caplog: pytest.LogCaptureFixture) -> None:
    n, _ = node("max('value').quiet()")
    with caplog.at_level(logging.ERROR, logger="leyden.task"):
        n.batch(values(v=[True]))
    assert caplog.records == [] and n.stats.errors == 1


@pytest.mark.parametrize(
    "call",
    [
        "movingAverage('value', 0)",
        "top(0, 'value')",
        "elapsed('value', 0s)",
        "holtWinters('value', 1, 0, 0s)",
    ],
)
def test_settings_kapacitor_would_crash_on_are_refused(call: str) -> None:
    with pytest.raises(TaskError, match="must be greater than zero"):
        node(call)


# -- stream edge -------------------------------------------------------------------------------


def pt(t: int, value: Any = None, host: str = "a", **fields: Any) -> Point:
    if value is not None:
        fields["value"] = value
    return Point("cpu", {"host": host, "type": "idle"}, fields, t * S, HOST)


def test_stream_edge_reduces_points_sharing_a_time_when_the_time_changes() -> None:
    n, sink = node("sum('value')", batch=False)
    n.point(pt(1, 1.0))
    n.point(pt(1, 2.0))
    assert sink.points == []
    n.point(pt(2, 10.0))
    assert [(p.time, p.fields, p.tags) for p in sink.points] == [
        (1 * S, {"sum": 3.0}, {"host": "a"})
    ]
    n.point(pt(3, 5.0))
    assert [p.fields["sum"] for p in sink.points] == [3.0, 10.0]  # 5.0 waits for a later time


def test_stream_edge_groups_are_independent() -> None:
    n, sink = node("count('value')", batch=False)
    n.point(pt(1, 1.0, host="a"))
    n.point(pt(1, 1.0, host="b"))
    n.point(pt(2, 1.0, host="b"))
    assert [(p.group, p.fields["count"]) for p in sink.points] == [("host=b", 1)]
    n.point(pt(2, 1.0, host="a"))
    assert [p.group for p in sink.points] == ["host=b", "host=a"]


def test_stream_edge_missing_field_and_selector() -> None:
    n, sink = node("max('value')", batch=False)
    n.point(pt(1, None, other=5))  # skipped: nothing to emit for time 1
    n.point(pt(2, 3.0, extra=1))
    n.point(pt(2, 4.0, extra=2))
    n.point(pt(3, None, other=5))
    p = one(sink)
    assert (p.time, p.fields, p.tags) == (
        2 * S,
        {"max": 4.0, "extra": 2},
        {"host": "a", "type": "idle"},
    )
    assert n.stats.errors == 2


def test_deleted_group_drops_pending_points_and_transform_state() -> None:
    n, sink = node("sum('value')", batch=False)
    n.point(pt(1, 1.0))
    n.delete_group("host=a")
    n.point(pt(2, 5.0))
    n.point(pt(3, 1.0))
    assert [p.fields["sum"] for p in sink.points] == [5.0]
    n, sink = node("cumulativeSum('value')", batch=False)
    n.point(pt(1, 1))
    n.delete_group("host=a")
    n.point(pt(2, 5))
    assert [p.fields["cumulativeSum"] for p in sink.points] == [1, 5]


def test_stream_edge_multi_value_output_is_a_batch() -> None:
    n, sink = node("distinct('value')", batch=False)
    n.point(pt(1, "x"))
    n.point(pt(1, "y"))
    n.point(pt(1, "x"))
    n.point(pt(2, "z"))
    (b,) = sink.batches
    assert [bp.fields["distinct"] for bp in b.points] == ["x", "y"]
    assert b.tmax == 1 * S


# -- streaming transforms ----------------------------------------------------------------------


def feed(call: str, points: list[Point]) -> list[tuple[int, Any]]:
    n, sink = node(call, batch=False)
    for p in points:
        n.point(p)
    assert all(p.tags == {"host": "a"} for p in sink.points)
    return [(p.time // S, next(iter(p.fields.values()))) for p in sink.points]


def test_difference() -> None:
    got = feed("difference('value')", [pt(1, 5), pt(2, 8), pt(2, 100), pt(4, 6)])
    assert got == [(2, 3), (4, -2)]  # a repeated time is ignored


def test_elapsed_in_units_truncated() -> None:
    got = feed("elapsed('value', 2s)", [pt(1, "a"), pt(4, "b"), pt(4, "c"), pt(9, "d")])
    assert got == [(4, 1), (4, 0), (9, 2)]


def test_moving_average() -> None:
    got = feed("movingAverage('value', 3)", [pt(i, v) for i, v in enumerate([1, 2, 3, 4, 10])])
    assert got == [(2, 2.0), (3, 3.0), (4, 17 / 3)]


def test_cumulative_sum_keeps_type_and_repeats_after_a_bad_point() -> None:
    got = feed("cumulativeSum('value')", [pt(1, 1), pt(2, 2), pt(3, None, x=1), pt(4, 3)])
    assert got == [(1, 1), (2, 3), (2, 3), (4, 6)]  # Kapacitor re-emits the last sum
    assert feed("cumulativeSum('value').as('c')", [pt(1, 0.5), pt(2, 0.25)]) == [
        (1, 0.5),
        (2, 0.75),
    ]


def test_transform_on_a_batch_edge_restarts_per_batch() -> None:
    n, sink = node("difference('value')")
    n.batch(values(v=[1.0, 4.0, 9.0]))
    n.batch(values(v=[100.0, 101.0]))
    first, second = sink.batches
    assert [(bp.time, bp.fields, bp.tags) for bp in first.points] == [
        (1 * S, {"difference": 3.0}, {"host": "a"}),
        (2 * S, {"difference": 5.0}, {"host": "a"}),
    ]
    assert [bp.fields["difference"] for bp in second.points] == [1.0]
    assert first.tmax == 10 * S and first.name == "cpu"


# -- Holt-Winters ------------------------------------------------------------------------------


def test_go_pow_multiplies_by_repeated_squaring() -> None:
    assert go_pow_int(0.5, 3) == 0.125
    assert go_pow_int(0.3, 2) == 0.3 * 0.3
    assert go_pow_int(0.0, 5) == 0.0 and go_pow_int(1.0, 9) == 1.0
    assert go_pow_int(0.7, 1) == 0.7


def test_holt_winters_matches_kapacitor() -> None:
    # TestStream_HoltWinters: serverA's first window, forecast 3 steps of 1s (Kapacitor's output)
    series = [1000, 1001, 1002, 1003, 1004, 1006, 1007, 1007, 1008, 1009]
    times = [i * S for i in range(10)]
    got = holt_winters(times, [float(v) for v in series], 3, 0, False, S)
    assert got == [
        (10 * S, 1009.324690106368),
        (11 * S, 1009.7524349889708),
        (12 * S, 1010.105056042826),
    ]
    fit = holt_winters(times, [float(v) for v in series], 3, 0, True, S)
    assert len(fit) == 13 and fit[0] == (0, 1000.0) and fit[1] == (S, 1000.7349380776699)


def test_holt_winters_needs_data() -> None:
    assert holt_winters([0], [1.0], 3, 0, False, S) == []
    assert holt_winters([0, S], [1.0, 2.0], 0, 0, False, S) == []
    assert holt_winters([0, S], [1.0, 2.0], 2, 4, False, S) == []  # seasonal needs m points


def test_holt_winters_node_emits_a_batch_at_forecast_times() -> None:
    n, sink = node("holtWinters('value', 2, 0, 1s)")
    n.batch(values(v=[1, 2, 3, 4, 5]))
    (b,) = sink.batches
    assert [bp.time for bp in b.points] == [5 * S, 6 * S]
    assert all(set(bp.fields) == {"holtWinters"} for bp in b.points)
    assert b.tmax == 10 * S and b.tags == {"host": "a"}
