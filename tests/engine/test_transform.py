"""where, groupBy, eval, default, delete, shift, sample and log, on points and on batches."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from engine_support import context

from leyden.clock import SimulatedClock
from leyden.engine.model import Batch, BatchPoint, Dimensions, Point
from leyden.engine.node import NODE_CLASSES, Barrier, Node, TaskError
from leyden.engine.nodes import transform  # noqa: F401  (registers the kinds)
from leyden.go.types import Duration
from leyden.tick.parser import parse_lambda
from leyden.tick.pipeline import NodeSpec
from leyden.tick.values import STAR

S = 1_000_000_000
HOST = Dimensions(tag_names=("host",))


class Sink(Node):
    def __init__(self) -> None:
        super().__init__(None, context("t", SimulatedClock(0)))
        self.points: list[Point] = []
        self.batches: list[Batch] = []

    def point(self, p: Point) -> None:
        self.points.append(p)

    def batch(self, b: Batch) -> None:
        self.batches.append(b)


def node(kind: str, **props: Any) -> tuple[Node, Sink]:
    spec = NodeSpec(kind, 3, kind.lower(), "stream", "stream", None, properties=props)
    n = NODE_CLASSES[kind](spec, context("task1", SimulatedClock(0)))
    sink = Sink()
    n.children = [sink]
    return n, sink


def lam(text: str) -> Any:
    return parse_lambda(text)


def pt(
    fields: dict[str, Any],
    tags: dict[str, str] | None = None,
    t: float = 0,
    dims: Dimensions = HOST,
    name: str = "cpu",
) -> Point:
    return Point(name, {"host": "A"} if tags is None else tags, fields, int(t * S), dims)


def batch(points: list[BatchPoint], tmax: float = 10, tags: dict[str, str] | None = None) -> Batch:
    tags = {"host": "A"} if tags is None else tags
    dims = Dimensions(tag_names=tuple(sorted(tags)))
    gid = ",".join(f"{k}={v}" for k, v in sorted(tags.items()))
    return Batch("cpu", gid, tags, dims, int(tmax * S), points)


def bp(t: float, fields: dict[str, Any], tags: dict[str, str] | None = None) -> BatchPoint:
    return BatchPoint(int(t * S), fields, {"host": "A"} if tags is None else tags)


# --- where ---------------------------------------------------------------------------------


def test_where_keeps_matching_points() -> None:
    n, sink = node("where", **{"lambda": lam('"value" > 2')})
    for v in (1, 3, 2.5, 2):
        n.point(pt({"value": v}))
    assert [p.fields["value"] for p in sink.points] == [3, 2.5]


def test_where_error_drops_the_point_and_counts() -> None:
    n, sink = node("where", **{"lambda": lam('"value" > 2')})
    n.point(pt({"other": 5}))  # missing field
    n.point(pt({"value": "x"}))  # string > int
    assert sink.points == [] and n.stats.errors == 2


def test_where_stateful_lambda_counts_per_group() -> None:
    n, sink = node("where", **{"lambda": lam("count() <= 2")})
    for host in ("A", "A", "B", "A", "B", "B"):
        n.point(pt({"v": 1}, {"host": host}))
    assert [p.tags["host"] for p in sink.points] == ["A", "A", "B", "B"]


def test_where_on_a_batch_filters_points_but_always_forwards_the_batch() -> None:
    n, sink = node("where", **{"lambda": lam('"value" > 2')})
    n.batch(batch([bp(1, {"value": 1}), bp(2, {"value": 5})]))
    n.batch(batch([bp(3, {"value": 0})], tmax=20))
    assert [[p.fields["value"] for p in b.points] for b in sink.batches] == [[5], []]
    assert sink.batches[1].tmax == 20 * S


def test_where_sees_time() -> None:
    n, sink = node("where", **{"lambda": lam('unixNano("time") == 3000000000')})
    n.point(pt({"v": 1}, t=3))
    n.point(pt({"v": 1}, t=4))
    assert [p.time for p in sink.points] == [3 * S]


# --- groupBy -------------------------------------------------------------------------------


def test_group_by_named_dims_on_points() -> None:
    n, sink = node("groupBy", dimensions=["type", "host"])
    n.point(pt({"v": 1}, {"host": "A", "type": "idle"}, dims=Dimensions()))
    n.point(pt({"v": 1}, {"host": "B"}, dims=Dimensions()))  # missing tag: empty value
    assert [p.group for p in sink.points] == ["host=A,type=idle", "host=B,type="]
    assert sink.points[0].dims == Dimensions(False, ("host", "type"))


def test_group_by_star_with_exclude_and_by_measurement() -> None:
    n, sink = node("groupBy", dimensions=[STAR], exclude=["cpu"], byMeasurement=True)
    n.point(pt({"v": 1}, {"host": "A", "cpu": "0", "dc": "x"}, dims=Dimensions()))
    assert sink.points[0].group == "cpu\ndc=x,host=A"


def test_group_by_measurement_is_or_ed_with_upstream() -> None:
    n, sink = node("groupBy", dimensions=["host"])
    n.point(pt({"v": 1}, dims=Dimensions(by_name=True)))
    assert sink.points[0].group == "cpu\nhost=A"


def test_group_by_point_already_grouped_is_forwarded_as_is() -> None:
    n, sink = node("groupBy", dimensions=["host"])
    p = pt({"v": 1})
    n.point(p)
    assert sink.points[0] is p


def test_batch_group_by_lags_one_batch_time_and_sorts_points() -> None:
    n, sink = node("groupBy", dimensions=["host"])
    nil = {}
    b1 = Batch(
        "cpu",
        "",
        nil,
        Dimensions(),
        10 * S,
        [
            bp(3, {"v": 1}, {"host": "B"}),
            bp(1, {"v": 2}, {"host": "A"}),
            bp(2, {"v": 3}, {"host": "B"}),
        ],
    )
    n.batch(b1)
    assert sink.batches == []  # held until a batch with another time arrives
    n.batch(Batch("cpu", "", nil, Dimensions(), 10 * S, [bp(0, {"v": 4}, {"host": "A"})]))
    assert sink.batches == []  # same time: merged into the same groups
    n.batch(Batch("cpu", "", nil, Dimensions(), 20 * S, [bp(11, {"v": 5}, {"host": "A"})]))
    got = [(b.group, b.tags, b.tmax, [p.time // S for p in b.points]) for b in sink.batches]
    assert got == [
        ("host=B", {"host": "B"}, 10 * S, [2, 3]),
        ("host=A", {"host": "A"}, 10 * S, [0, 1]),
    ]
    n.stop()  # the last batch time is never flushed
    assert len(sink.batches) == 2


def test_batch_group_by_star_exclude() -> None:
    n, sink = node("groupBy", dimensions=[STAR], exclude=["type"])
    n.batch(Batch("cpu", "", {}, Dimensions(), S, [bp(0, {"v": 1}, {"host": "A", "type": "x"})]))
    n.batch(Batch("cpu", "", {}, Dimensions(), 2 * S, []))
    assert [(b.group, b.dims.tag_names) for b in sink.batches] == [("host=A", ("host",))]


# --- eval ----------------------------------------------------------------------------------


def ev(*exprs: str, **props: Any) -> tuple[Node, Sink]:
    return node("eval", lambdas=[lam(e) for e in exprs], **props)


def test_eval_without_keep_outputs_only_the_results() -> None:
    n, sink = ev('"value" * 2', '"value" + 1', **{"as": ["double", "plus"]})
    n.point(pt({"value": 3, "other": 1.5}))
    assert sink.points[0].fields == {"double": 6, "plus": 4}
    assert type(sink.points[0].fields["double"]) is int


def test_eval_keep_all_and_keep_list() -> None:
    n, sink = ev('"value" * 2.0', **{"as": ["double"]}, keep=True, keepList=[])
    n.point(pt({"value": 3.0, "other": 1}))
    assert sink.points[0].fields == {"value": 3.0, "other": 1, "double": 6.0}
    n, sink = ev('"value" * 2.0', **{"as": ["double"]}, keep=True, keepList=["other", "double"])
    n.point(pt({"value": 3.0, "other": 1}))
    assert sink.points[0].fields == {"other": 1, "double": 6.0}


def test_eval_keep_list_naming_an_absent_field_drops_the_point() -> None:
    n, sink = ev('"value" * 2', **{"as": ["double"]}, keep=True, keepList=["nope"])
    n.point(pt({"value": 3}))
    assert sink.points == [] and n.stats.errors == 1


def test_eval_later_expressions_see_earlier_results() -> None:
    n, sink = ev('"value" + 1', '"plus" * 10', **{"as": ["plus", "ten"]})
    n.point(pt({"value": 1}))
    assert sink.points[0].fields == {"plus": 2, "ten": 20}


def test_eval_a_field_wins_over_an_earlier_result_of_the_same_name() -> None:
    # Kapacitor refills the scope from the point for each expression: the second expression
    # sees the original "value", and the output "value" is the original one again.
    n, sink = ev('"value" * 2', '"value" + 1', **{"as": ["value", "plus"]})
    n.point(pt({"value": 5}))
    assert sink.points[0].fields == {"value": 5, "plus": 6}


def test_eval_tags_become_tags_and_regroup() -> None:
    n, sink = ev('string("value")', '"value" * 2', **{"as": ["host", "d"]}, tags=["host"])
    n.point(pt({"value": 7}))
    p = sink.points[0]
    assert (p.fields, p.tags, p.group) == ({"d": 14}, {"host": "7"}, "host=7")


def test_eval_tag_result_must_be_a_string() -> None:
    n, sink = ev('"value" * 2', **{"as": ["t"]}, tags=["t"])
    n.point(pt({"value": 7}))
    assert sink.points == [] and n.stats.errors == 1


def test_eval_missing_field_drops_the_point_and_quiet_silences_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    n, sink = ev('"nope" * 2', **{"as": ["x"]})
    with caplog.at_level(logging.ERROR, "leyden.task"):
        n.point(pt({"value": 1}))
    assert sink.points == [] and len(caplog.records) == 1
    caplog.clear()
    n, sink = ev('"nope" * 2', **{"as": ["x"]}, quiet=True)
    with caplog.at_level(logging.ERROR, "leyden.task"):
        n.point(pt({"value": 1}))
    assert sink.points == [] and caplog.records == [] and n.stats.errors == 1


def test_eval_stateful_functions_count_per_group() -> None:
    n, sink = ev("count()", **{"as": ["c"]})
    for host in ("A", "B", "A", "A", "B"):
        n.point(pt({"v": 1}, {"host": host}))
    assert [p.fields["c"] for p in sink.points] == [1, 1, 2, 3, 2]


def test_eval_on_a_batch_drops_only_failing_points() -> None:
    n, sink = ev('"value" * 2', **{"as": ["d"]})
    # a missing field fails, and so does float * int (TICKscript does not mix them)
    n.batch(
        batch([bp(1, {"value": 1}), bp(2, {"x": 1}), bp(3, {"value": 2.5}), bp(4, {"value": 4})])
    )
    assert [(p.time // S, p.fields) for p in sink.batches[0].points] == [
        (1, {"d": 2}),
        (4, {"d": 8}),
    ]
    assert n.stats.errors == 2


def test_eval_mismatched_as_count_is_refused() -> None:
    with pytest.raises(TaskError):
        ev('"a"', '"b"', **{"as": ["x"]})


# --- default -------------------------------------------------------------------------------


def test_default_sets_absent_fields_and_absent_or_empty_tags() -> None:
    n, sink = node("default", fields={"value": 0.0, "n": 1}, tags={"dc": "x", "host": "h"})
    n.point(pt({"value": 5}, {"host": ""}, dims=HOST))
    p = sink.points[0]
    assert p.fields == {"value": 5, "n": 1}
    assert p.tags == {"host": "h", "dc": "x"}
    assert p.group == "host=h"  # the group follows the new tag value


def test_default_forwards_an_untouched_point_as_is() -> None:
    n, sink = node("default", fields={"value": 0.0}, tags={"host": "h"})
    p = pt({"value": 5})
    n.point(p)
    assert sink.points[0] is p


def test_default_on_a_batch_defaults_points_and_begin_tags() -> None:
    n, sink = node("default", tags={"dc": "x"}, fields={"f": True})
    n.batch(batch([bp(1, {"v": 1})]))
    b = sink.batches[0]
    assert b.tags == {"host": "A", "dc": "x"}
    assert (b.dims.tag_names, b.group) == (("dc", "host"), "dc=x,host=A")
    assert b.points[0].fields == {"v": 1, "f": True}
    assert b.points[0].tags == {"host": "A", "dc": "x"}


# --- delete --------------------------------------------------------------------------------


def test_delete_fields_and_tags_and_a_group_dimension() -> None:
    n, sink = node("delete", fields=["a", "nope"], tags=["type"])
    dims = Dimensions(tag_names=("host", "type"))
    n.point(pt({"a": 1, "b": 2}, {"host": "A", "type": "idle"}, dims=dims))
    p = sink.points[0]
    assert (p.fields, p.tags, p.dims.tag_names, p.group) == (
        {"b": 2},
        {"host": "A"},
        ("host",),
        "host=A",
    )


def test_delete_on_a_batch_regroups_by_the_remaining_tags() -> None:
    n, sink = node("delete", tags=["type"])
    b = batch([bp(1, {"v": 1}, {"host": "A", "type": "x"})], tags={"host": "A", "type": "x"})
    n.batch(b)
    out = sink.batches[0]
    assert (out.tags, out.group, out.points[0].tags) == ({"host": "A"}, "host=A", {"host": "A"})


# --- shift / sample ------------------------------------------------------------------------


def test_shift_points_and_batches_both_ways() -> None:
    n, sink = node("shift", shift=Duration(-2 * S))
    n.point(pt({"v": 1}, t=5))
    n.batch(batch([bp(1, {"v": 1}), bp(3, {"v": 1})], tmax=10))
    assert sink.points[0].time == 3 * S
    assert sink.batches[0].tmax == 8 * S
    assert [p.time // S for p in sink.batches[0].points] == [-1, 1]


def test_shift_zero_is_refused() -> None:
    with pytest.raises(TaskError, match="must be non zero duration"):
        node("shift", shift=Duration(0))


def test_sample_count_keeps_the_first_and_every_nth_per_group() -> None:
    n, sink = node("sample", n=3, duration=Duration(0))
    for i, host in enumerate("AAAABAAAB"):
        n.point(pt({"i": i}, {"host": host}))
    # A's count: 0 1 2 3 . 4 5 6 .  B's: . . . . 0 . . . 1
    assert [p.fields["i"] for p in sink.points] == [0, 3, 4, 7]


def test_sample_duration_keeps_points_on_multiples() -> None:
    n, sink = node("sample", n=0, duration=Duration(2 * S))
    for t in (0, 1, 2, 2.5, 4):
        n.point(pt({"v": 1}, t=t))
    assert [p.time / S for p in sink.points] == [0, 2, 4]


def test_sample_count_restarts_with_every_batch() -> None:
    n, sink = node("sample", n=2, duration=Duration(0))
    n.batch(batch([bp(t, {"v": t}) for t in range(5)]))
    n.batch(batch([bp(t, {"v": t}) for t in range(3)], tmax=20))
    assert [[p.time // S for p in b.points] for b in sink.batches] == [[0, 2, 4], [0, 2]]


def test_sample_needs_a_rate() -> None:
    with pytest.raises(TaskError, match="invalid sample rate"):
        node("sample", n=0, duration=Duration(0))


# --- log -----------------------------------------------------------------------------------


def test_log_logs_and_forwards_unchanged(caplog: pytest.LogCaptureFixture) -> None:
    n, sink = node("log", level="debug", prefix="P")
    p = pt({"v": 1})
    b = batch([bp(1, {"v": 1})])
    with caplog.at_level(logging.DEBUG, "leyden.task"):
        n.point(p)
        n.batch(b)
    assert sink.points == [p] and sink.batches == [b]
    assert [r.getMessage() for r in caplog.records] == [
        "point",
        "begin batch",
        "batch point",
        "end batch",
    ]
    assert all(r.levelno == logging.DEBUG for r in caplog.records)
    assert caplog.records[0].fields["prefix"] == "P"  # type: ignore[attr-defined]
    assert caplog.records[0].fields["field"] == {"v": 1}  # type: ignore[attr-defined]


def test_log_unknown_level_logs_at_info(caplog: pytest.LogCaptureFixture) -> None:
    n, _ = node("log", level="WARN", prefix="")
    with caplog.at_level(logging.DEBUG, "leyden.task"):
        n.point(pt({"v": 1}))
    assert caplog.records[0].levelno == logging.INFO


def test_batch_group_by_flushes_on_a_barrier_and_forwards_it() -> None:
    n, sink = node("groupBy", dimensions=["host"])
    seen: list[Barrier] = []
    sink.barrier = seen.append  # type: ignore[method-assign]
    n.batch(Batch("cpu", "", {}, Dimensions(), 10 * S, [bp(1, {"v": 1}, {"host": "A"})]))
    b = Barrier("", {}, Dimensions(), 10 * S)
    n.barrier(b)  # same time as the pending batch: nothing to flush yet
    assert sink.batches == [] and seen == [b]
    n.barrier(Barrier("", {}, Dimensions(), 11 * S))
    assert [x.group for x in sink.batches] == ["host=A"]
