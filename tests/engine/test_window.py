"""window(): time- and count-based windows, per group, exactly as Kapacitor's window.go.

Expectations are computed by hand from the rules in semantics §2.5.
"""

from __future__ import annotations

from typing import Any

import pytest
from engine_support import context

from leyden.clock import SimulatedClock
from leyden.engine.model import Batch, Dimensions, Point
from leyden.engine.node import Barrier, Node, TaskError
from leyden.engine.nodes.window import WindowNode
from leyden.go.types import Duration
from leyden.tick.pipeline import NodeSpec

S = 1_000_000_000
HOST = Dimensions(tag_names=("host",))


class Sink(Node):
    def __init__(self) -> None:
        super().__init__(None, context("t", SimulatedClock(0)))
        self.batches: list[Batch] = []
        self.barriers: list[Barrier] = []
        self.deleted: list[str] = []

    def batch(self, b: Batch) -> None:
        self.batches.append(b)

    def barrier(self, b: Barrier) -> None:
        self.barriers.append(b)

    def delete_group(self, group: str) -> None:
        self.deleted.append(group)


def window(**props: Any) -> tuple[WindowNode, Sink]:
    for k in ("period", "every"):
        if k in props:
            props[k] = Duration(props[k])
    spec = NodeSpec("window", 2, "window", "stream", "batch", None, properties=props)
    node = WindowNode(spec, context("t", SimulatedClock(0)))
    sink = Sink()
    node.children = [sink]
    return node, sink


def pt(t: float, host: str = "A", value: Any = 1.0, dims: Dimensions = HOST) -> Point:
    return Point("cpu", {"host": host, "type": "idle"}, {"value": value}, int(t * S), dims)


def times(b: Batch) -> list[float]:
    return [bp.time / S for bp in b.points]


def feed(node: WindowNode, *ts: float, host: str = "A") -> None:
    for t in ts:
        node.point(pt(t, host))


# --- time-based, every > 0 -------------------------------------------------------------------


def test_first_window_holds_ten_points_and_tmax_is_the_boundary() -> None:
    node, sink = window(period=10 * S, every=10 * S)
    feed(node, *range(0, 11))
    assert len(sink.batches) == 1
    b = sink.batches[0]
    assert b.tmax == 10 * S
    assert times(b) == list(range(10))
    # batch carries the first point's name and the group tags; points keep all their tags
    assert (b.name, b.tags, b.group, b.dims) == ("cpu", {"host": "A"}, "host=A", HOST)
    assert b.points[0].tags == {"host": "A", "type": "idle"}


def test_next_emit_reanchors_on_the_triggering_point() -> None:
    node, sink = window(period=10 * S, every=10 * S)
    feed(node, 0, 1, 25)  # 25 >= 10: emit [0, 1] at 10, next emit 25 + 10 = 35 (not 20)
    feed(node, 30, 34)
    assert [(b.tmax / S, times(b)) for b in sink.batches] == [(10, [0, 1])]
    feed(node, 36)  # emits at 35; purge keeps >= 25
    assert [(b.tmax / S, times(b)) for b in sink.batches][1] == (35, [25, 30, 34])


def test_a_window_whose_points_were_all_purged_is_emitted_empty() -> None:
    node, sink = window(period=2 * S, every=10 * S)
    feed(node, 0, 1, 15)  # at 15: oldest = 10 - 2 = 8, both points purged
    assert len(sink.batches) == 1
    assert sink.batches[0].tmax == 10 * S and sink.batches[0].points == []


def test_purge_is_inclusive_of_the_window_start() -> None:
    node, sink = window(period=5 * S, every=5 * S)
    feed(node, 0, 5, 10)
    # second window [5, 10): point 5 kept, point 0 purged
    assert [times(b) for b in sink.batches] == [[0], [5]]


def test_overlapping_windows_share_points() -> None:
    node, sink = window(period=10 * S, every=5 * S)
    feed(node, *range(0, 16))
    # emits at 5 ([0..4]), then re-anchored 5 + 5 = 10 ([0..9]), then 15 ([5..14])
    assert [(b.tmax / S, times(b)) for b in sink.batches] == [
        (5, [0, 1, 2, 3, 4]),
        (10, list(range(10))),
        (15, list(range(5, 15))),
    ]


def test_align_truncates_next_emit() -> None:
    node, sink = window(period=10 * S, every=10 * S, align=True)
    feed(node, 3, 9, 10)  # nextEmit = truncate(13, 10) = 10
    assert [(b.tmax / S, times(b)) for b in sink.batches] == [(10, [3, 9])]
    feed(node, 27)  # next emit was truncate(20, 10) = 20; [10] then re-anchor truncate(37) = 30
    assert (sink.batches[1].tmax / S, times(sink.batches[1])) == (20, [10])
    feed(node, 29.5, 30)
    assert (sink.batches[2].tmax / S, times(sink.batches[2])) == (30, [27, 29.5])


def test_align_counts_from_go_zero_time_not_the_epoch() -> None:
    # Go's zero time is 62135596800 s before the epoch; 62135596800 mod 420 = 60, so 7m
    # boundaries fall on epoch seconds = 360 (mod 420), not on multiples of 420.
    node, sink = window(period=420 * S, every=420 * S, align=True)
    feed(node, 0, 359, 360)
    assert [(b.tmax / S, times(b)) for b in sink.batches] == [(360, [0, 359])]


def test_fill_period_waits_for_a_full_period() -> None:
    node, sink = window(period=10 * S, every=5 * S, fillPeriod=True)
    feed(node, *range(0, 16))
    # first emission at 0 + 10, then re-anchored on the point: 10 + 5 = 15
    assert [(b.tmax / S, times(b)) for b in sink.batches] == [
        (10, list(range(10))),
        (15, list(range(5, 15))),
    ]


def test_fill_period_aligned_always_adds_every_after_truncating() -> None:
    node, sink = window(period=10 * S, every=5 * S, fillPeriod=True, align=True)
    # first point 3: 3 + 10 = 13, truncate(13, 5) = 10, not after 13 -> 15
    feed(node, 3, 10, 14, 15)
    assert [(b.tmax / S, times(b)) for b in sink.batches] == [(15, [10, 14])]
    node2, sink2 = window(period=10 * S, every=5 * S, fillPeriod=True, align=True)
    # exactly on a boundary: 0 + 10 = 10, truncate(10, 5) = 10, not after 10 -> 15
    feed(node2, 0, 14, 15)
    assert [(b.tmax / S, times(b)) for b in sink2.batches] == [(15, [14])]


def test_out_of_order_point_before_next_emit_joins_the_buffer() -> None:
    node, sink = window(period=10 * S, every=10 * S)
    feed(node, 0, 8, 3, 10)
    assert times(sink.batches[0]) == [0, 8, 3]  # arrival order, no sorting


def test_purge_stops_at_the_first_point_inside_the_window() -> None:
    # Kapacitor's buffer purges from the oldest arrival until a point inside the window:
    # a late point behind a newer one survives the purge.
    node, sink = window(period=5 * S, every=5 * S)
    feed(node, 0, 6, 2)  # 6 emits [0] at 5 and re-anchors at 11; buffer [0, 6, 2]
    feed(node, 11)  # oldest = 6: pops 0, stops at 6, so 2 stays behind it
    assert [times(b) for b in sink.batches] == [[0], [6, 2]]


# --- time-based, every == 0 ------------------------------------------------------------------


def test_every_zero_emits_on_each_point_with_right_closed_window() -> None:
    node, sink = window(period=3 * S, every=0)
    feed(node, 0, 1, 2, 3, 4)
    assert [(b.tmax / S, times(b)) for b in sink.batches] == [
        (0, [0]),
        (1, [0, 1]),
        (2, [0, 1, 2]),
        (3, [1, 2, 3]),  # (3 - 3, 3]: point 0 purged
        (4, [2, 3, 4]),
    ]


def test_every_zero_late_point_is_buffered_without_emitting() -> None:
    node, sink = window(period=3 * S, every=0)
    feed(node, 0, 4, 2.5)
    assert len(sink.batches) == 2
    feed(node, 5)  # oldest 2: the purge stops at 4 (> 2), so 2.5 stays
    assert times(sink.batches[-1]) == [4, 2.5, 5]


# --- groups ------------------------------------------------------------------------------------


def test_state_is_per_group_and_a_silent_group_never_emits() -> None:
    node, sink = window(period=10 * S, every=10 * S)
    feed(node, 0, 1, host="A")
    feed(node, 5, host="B")
    feed(node, 12, 20, 30, host="A")
    assert [(b.group, b.tmax / S) for b in sink.batches] == [
        ("host=A", 10),
        ("host=A", 22),
    ]
    feed(node, 16, host="B")  # B's own clock: first point 5, next emit 15
    assert (sink.batches[-1].group, sink.batches[-1].tmax, times(sink.batches[-1])) == (
        "host=B",
        15 * S,
        [5],
    )


def test_nil_group_has_no_tags() -> None:
    node, sink = window(period=2 * S, every=2 * S)
    node.point(pt(0, dims=Dimensions()))
    node.point(pt(2, dims=Dimensions()))
    assert (sink.batches[0].group, sink.batches[0].tags) == ("", {})


def test_nothing_is_flushed_at_stop() -> None:
    node, sink = window(period=10 * S, every=10 * S)
    feed(node, 0, 1, 2)
    node.stop()
    assert sink.batches == []


def test_int_and_float_fields_pass_through_unchanged() -> None:
    node, sink = window(period=2 * S, every=2 * S)
    node.point(pt(0, value=1))
    node.point(pt(1, value=2.5))
    node.point(pt(2, value=3))
    assert [bp.fields["value"] for bp in sink.batches[0].points] == [1, 2.5]
    assert type(sink.batches[0].points[0].fields["value"]) is int


# --- count-based -------------------------------------------------------------------------------


def test_count_window_every_one_slides_over_the_last_n_points() -> None:
    node, sink = window(periodCount=3, everyCount=1)
    feed(node, 1, 2, 3, 4)
    assert [(b.tmax / S, times(b)) for b in sink.batches] == [
        (1, [1]),
        (2, [1, 2]),
        (3, [1, 2, 3]),
        (4, [2, 3, 4]),
    ]


def test_count_window_fill_period_waits_for_period_count_points() -> None:
    node, sink = window(periodCount=3, everyCount=1, fillPeriod=True)
    feed(node, 1, 2, 3, 4)
    assert [times(b) for b in sink.batches] == [[1, 2, 3], [2, 3, 4]]


def test_count_window_tumbling_and_batch_time_is_the_last_point() -> None:
    node, sink = window(periodCount=2, everyCount=2)
    feed(node, 1, 2, 3, 5, 9)
    assert [(b.tmax / S, times(b)) for b in sink.batches] == [(2, [1, 2]), (5, [3, 5])]


def test_count_window_is_per_group() -> None:
    node, sink = window(periodCount=2, everyCount=2)
    feed(node, 1, host="A")
    feed(node, 2, host="B")
    feed(node, 3, host="A")
    assert [(b.group, times(b)) for b in sink.batches] == [("host=A", [1, 3])]


# --- construction --------------------------------------------------------------------------


def test_window_needs_a_period_or_a_period_count() -> None:
    with pytest.raises(TaskError, match="non zero period or non zero period count"):
        window()


def test_window_refuses_batches() -> None:
    node, sink = window(period=S, every=S)
    node.batch(Batch("cpu", "", {}, Dimensions(), 0, []))
    assert sink.batches == [] and node.stats.errors == 1


# --- barriers --------------------------------------------------------------------------------


def barrier(t: float, host: str = "A") -> Barrier:
    return Barrier(f"host={host}", {"host": host}, HOST, int(t * S), "cpu")


def test_barrier_closes_a_due_time_window_and_is_not_forwarded() -> None:
    node, sink = window(period=10 * S, every=10 * S)
    feed(node, 0, 1)
    node.barrier(barrier(5))  # not due yet
    node.barrier(barrier(12))  # due: emits [0, 1] at 10, next emit 12 + 10
    assert [(b.tmax / S, times(b)) for b in sink.batches] == [(10, [0, 1])]
    assert sink.barriers == []
    feed(node, 21)
    assert len(sink.batches) == 1
    feed(node, 22)  # oldest 12: the buffered 0 and 1 are purged
    assert (sink.batches[-1].tmax / S, times(sink.batches[-1])) == (22, [21])


def test_barrier_for_an_unseen_group_starts_its_window() -> None:
    node, sink = window(period=3 * S, every=0)
    node.barrier(barrier(4, host="B"))  # every 0: due at once, an empty batch
    assert [(b.group, b.tags, b.tmax / S, b.points) for b in sink.batches] == [
        ("host=B", {"host": "B"}, 4, [])
    ]


def test_count_window_forwards_barriers() -> None:
    node, sink = window(periodCount=2, everyCount=2)
    feed(node, 1)
    node.barrier(barrier(5))
    assert sink.batches == [] and [b.time for b in sink.barriers] == [5 * S]


def test_delete_group_restarts_the_window() -> None:
    node, sink = window(period=10 * S, every=10 * S)
    feed(node, 0, 1)
    node.delete_group("host=A")
    feed(node, 10)  # a new window anchored at 10
    assert sink.batches == [] and sink.deleted == ["host=A"]


@pytest.mark.parametrize("every", [2, 0])
def test_buffered_points_come_back_with_their_fields_and_tags(every: int) -> None:
    """The buffer keeps one-field points unpacked; every shape must come back the same."""
    node, sink = window(period=10 * S, every=every * S)
    shapes: list[dict[str, Any]] = [
        {"value": 1.5},
        {},
        {"a": 1, "b": "x", "c": True},
        {"value": None},
        {"only": 7},
    ]
    sent = []
    for i, fields in enumerate(shapes * 2):
        p = Point("cpu", {"host": "A", "n": str(i)}, dict(fields), i * S, HOST)
        sent.append((p.time, p.fields, p.tags))
        node.point(p)
    by_time = {t: (fields, tags) for t, fields, tags in sent}
    assert sink.batches
    for b in sink.batches:
        assert b.points
        for bp in b.points:
            fields, tags = by_time[bp.time]
            assert bp.tags is tags
            assert list(bp.fields.items()) == list(fields.items())
            assert [type(v) for v in bp.fields.values()] == [type(v) for v in fields.values()]
