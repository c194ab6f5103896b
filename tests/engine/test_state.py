"""changeDetect, stateDuration, stateCount and derivative on points and batches."""

from __future__ import annotations

from typing import Any

import pytest
from engine_support import context

from leyden.clock import SimulatedClock
from leyden.engine.model import Batch, BatchPoint, Dimensions, Point
from leyden.engine.node import NODE_CLASSES, Node
from leyden.engine.nodes import state  # noqa: F401  (registers the kinds)
from leyden.go.types import Duration
from leyden.tick.parser import parse_lambda
from leyden.tick.pipeline import NodeSpec

S = 1_000_000_000
MS = 1_000_000
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
    spec = NodeSpec(kind, 3, kind, "stream", "stream", None, properties=props)
    n = NODE_CLASSES[kind](spec, context("task1", SimulatedClock(0)))
    sink = Sink()
    n.children = [sink]
    return n, sink


def pt(fields: dict[str, Any], t: float = 0, host: str = "A") -> Point:
    return Point("cpu", {"host": host}, fields, round(t * S), HOST)


def batch(points: list[tuple[float, dict[str, Any]]], tmax: float = 100) -> Batch:
    bps = [BatchPoint(round(t * S), f, {"host": "A"}) for t, f in points]
    return Batch("cpu", "host=A", {"host": "A"}, HOST, round(tmax * S), bps)


# --- changeDetect --------------------------------------------------------------------------


def test_change_detect_emits_first_point_and_changes_only() -> None:
    n, sink = node("changeDetect", fields=["value"])
    for v in ("a", "a", "b", "b", "a"):
        n.point(pt({"value": v}))
    assert [p.fields["value"] for p in sink.points] == ["a", "b", "a"]


def test_change_detect_compares_with_the_last_emitted_point_per_group() -> None:
    n, sink = node("changeDetect", fields=["value"])
    n.point(pt({"value": 1}, host="A"))
    n.point(pt({"value": 1}, host="B"))  # first of its group
    n.point(pt({"value": 1}, host="A"))
    n.point(pt({"value": 2}, host="B"))
    assert [(p.tags["host"], p.fields["value"]) for p in sink.points] == [
        ("A", 1),
        ("B", 1),
        ("B", 2),
    ]


def test_change_detect_int_and_float_of_equal_value_differ() -> None:
    # Go compares interface values: int64(1) != float64(1)
    n, sink = node("changeDetect", fields=["value"])
    n.point(pt({"value": 1}))
    n.point(pt({"value": 1.0}))
    n.point(pt({"value": 1.0}))
    assert [type(p.fields["value"]) for p in sink.points] == [int, float]


def test_change_detect_any_of_several_fields() -> None:
    n, sink = node("changeDetect", fields=["a", "b"])
    n.point(pt({"a": 1, "b": 1}))
    n.point(pt({"a": 1, "b": 2}))
    n.point(pt({"a": 1, "b": 2, "c": 9}))  # an unlisted field does not count
    assert len(sink.points) == 2


def test_change_detect_missing_field_is_logged_and_skipped() -> None:
    n, sink = node("changeDetect", fields=["a", "b"])
    n.point(pt({"a": 1}))  # a is new -> emitted at once (b is never looked at)
    n.point(pt({"b": 1}))  # a missing: logged; b differs from the previous (absent) -> emitted
    n.point(pt({"c": 1}))  # both missing: nothing changed
    assert len(sink.points) == 2 and n.stats.errors == 3


def test_change_detect_restarts_with_each_batch() -> None:
    n, sink = node("changeDetect", fields=["v"])
    n.batch(batch([(1, {"v": 1}), (2, {"v": 1}), (3, {"v": 2})]))
    n.batch(batch([(4, {"v": 2}), (5, {"v": 2})], tmax=200))
    assert [[bp.time // S for bp in b.points] for b in sink.batches] == [[1, 3], [4]]


# --- stateDuration / stateCount ------------------------------------------------------------


def test_state_duration_in_units_and_minus_one_when_false() -> None:
    n, sink = node(
        "stateDuration", **{"lambda": parse_lambda('"v" > 5')}, unit=Duration(MS), **{"as": "d"}
    )
    for t, v in ((0, 9), (1, 9), (2.5, 9), (3, 1), (4, 8), (4.25, 7)):
        n.point(pt({"v": v}, t=t))
    assert [p.fields["d"] for p in sink.points] == [0.0, 1000.0, 2500.0, -1.0, 0.0, 250.0]
    assert all(type(p.fields["d"]) is float for p in sink.points)
    assert sink.points[0].fields["v"] == 9  # the original fields stay


def test_state_duration_default_name_and_unit() -> None:
    n, sink = node("stateDuration", **{"lambda": parse_lambda('"v" > 5')})
    n.point(pt({"v": 9}, t=0))
    n.point(pt({"v": 9}, t=90))
    assert [p.fields["state_duration"] for p in sink.points] == [0.0, 90.0]


def test_state_count_per_group() -> None:
    n, sink = node("stateCount", **{"lambda": parse_lambda('"v" > 5')})
    for host, v in (("A", 9), ("B", 9), ("A", 9), ("A", 1), ("B", 6), ("A", 9)):
        n.point(pt({"v": v}, host=host))
    assert [(p.tags["host"], p.fields["state_count"]) for p in sink.points] == [
        ("A", 1),
        ("B", 1),
        ("A", 2),
        ("A", -1),
        ("B", 2),
        ("A", 1),
    ]
    assert type(sink.points[0].fields["state_count"]) is int


def test_state_count_error_drops_the_point_and_keeps_the_count() -> None:
    n, sink = node("stateCount", **{"lambda": parse_lambda('"v" > 5')}, **{"as": "c"})
    n.point(pt({"v": 9}))
    n.point(pt({"w": 9}))  # missing: dropped
    n.point(pt({"v": 9}))
    assert [p.fields["c"] for p in sink.points] == [1, 2] and n.stats.errors == 1


def test_state_trackers_reset_at_each_batch() -> None:
    n, sink = node("stateCount", **{"lambda": parse_lambda('"v" > 5')})
    n.batch(batch([(1, {"v": 9}), (2, {"v": 9})]))
    n.batch(batch([(3, {"v": 9})], tmax=200))
    assert [[bp.fields["state_count"] for bp in b.points] for b in sink.batches] == [[1, 2], [1]]
    n, sink = node("stateDuration", **{"lambda": parse_lambda('"v" > 5')})
    n.batch(batch([(1, {"v": 9}), (3, {"v": 9})]))
    n.batch(batch([(5, {"v": 9}), (6, {"v": 1})], tmax=200))
    assert [[bp.fields["state_duration"] for bp in b.points] for b in sink.batches] == [
        [0.0, 2.0],
        [0.0, -1.0],
    ]


# --- derivative ----------------------------------------------------------------------------


def deriv(**props: Any) -> tuple[Node, Sink]:
    base: dict[str, Any] = {"field": "v", "as": "v", "unit": Duration(S), "nonNegative": False}
    base.update(props)
    return node("derivative", **base)


def test_derivative_first_point_emits_nothing_then_rate_per_unit() -> None:
    n, sink = deriv()
    n.point(pt({"v": 10, "other": "x"}, t=0))
    n.point(pt({"v": 16, "other": "y"}, t=2))
    n.point(pt({"v": 13.0, "other": "z"}, t=5))
    assert [p.fields for p in sink.points] == [
        {"v": 3.0, "other": "y"},
        {"v": -1.0, "other": "z"},
    ]
    assert [p.time // S for p in sink.points] == [2, 5]
    assert type(sink.points[0].fields["v"]) is float


def test_derivative_as_and_unit() -> None:
    n, sink = deriv(**{"as": "rate"}, unit=Duration(60 * S))
    n.point(pt({"v": 0}, t=0))
    n.point(pt({"v": 1}, t=30))
    assert sink.points[0].fields == {"v": 1, "rate": 2.0}


def test_derivative_non_negative_drops_but_remembers() -> None:
    n, sink = deriv(nonNegative=True)
    for t, v in ((0, 5), (1, 3), (2, 4)):
        n.point(pt({"v": v}, t=t))
    assert [(p.time // S, p.fields["v"]) for p in sink.points] == [(2, 1.0)]


def test_derivative_zero_elapsed_logs_and_replaces_previous() -> None:
    n, sink = deriv()
    n.point(pt({"v": 1}, t=0))
    n.point(pt({"v": 5}, t=0))  # elapsed 0: error, but now the previous
    n.point(pt({"v": 6}, t=1))
    assert [p.fields["v"] for p in sink.points] == [1.0] and n.stats.errors == 1


def test_derivative_wrong_or_missing_field_is_not_remembered() -> None:
    n, sink = deriv()
    n.point(pt({"v": 1}, t=0))
    n.point(pt({"v": "x"}, t=1))
    n.point(pt({"w": 1}, t=2))
    n.point(pt({"v": True}, t=3))
    n.point(pt({"v": 5}, t=4))
    assert [p.fields["v"] for p in sink.points] == [1.0] and n.stats.errors == 3


def test_derivative_is_per_group_and_handles_out_of_order_points() -> None:
    n, sink = deriv()
    n.point(pt({"v": 0}, t=0, host="A"))
    n.point(pt({"v": 100}, t=0, host="B"))
    n.point(pt({"v": 4}, t=2, host="A"))
    n.point(pt({"v": 2}, t=1, host="A"))  # earlier than the previous: negative elapsed
    assert [(p.tags["host"], p.fields["v"]) for p in sink.points] == [("A", 2.0), ("A", 2.0)]


def test_derivative_restarts_with_each_batch() -> None:
    n, sink = deriv()
    n.batch(batch([(0, {"v": 0}), (1, {"v": 2}), (3, {"v": 3})]))
    n.batch(batch([(4, {"v": 10}), (5, {"v": 10})], tmax=200))
    assert [[bp.fields["v"] for bp in b.points] for b in sink.batches] == [[2.0, 0.5], [0.0]]
    assert sink.batches[0].tmax == 100 * S


@pytest.mark.parametrize("kind", ["changeDetect", "stateCount", "derivative"])
def test_an_empty_batch_is_forwarded(kind: str) -> None:
    props: dict[str, Any] = {
        "changeDetect": {"fields": ["v"]},
        "stateCount": {"lambda": parse_lambda('"v" > 1')},
        "derivative": {"field": "v", "unit": Duration(S)},
    }[kind]
    n, sink = node(kind, **props)
    n.batch(batch([]))
    assert len(sink.batches) == 1 and sink.batches[0].points == []
