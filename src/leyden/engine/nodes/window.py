"""``window()``: buffers a stream per group and emits batches (semantics §2.5).

Kapacitor's window state is per group and advances only when that group receives a point, so
a group that goes silent never emits again, and nothing is flushed when the task stops.  The
emission rules below follow ``window.go`` exactly, including two surprises:

* time-based windows re-anchor ``nextEmit`` on the point that triggered the emission
  (``t + every``), not on the previous boundary, so a gap in the data shifts later windows;
* a window whose points were all purged is still emitted, as an empty batch.

The points wait column-wise (:mod:`leyden.engine.columns`), and only the fields the window's
children can read (:func:`wanted_fields`); the batches are built when emitted, so what a child
receives is what it would receive had the window kept every point whole.
"""

from __future__ import annotations

from typing import Any

from leyden.engine.columns import ColumnBuffer, column_buffer
from leyden.engine.model import Batch, Dimensions, Point
from leyden.engine.node import Barrier, Node, TaskContext, TaskError, register
from leyden.engine.nodes.influxql import InfluxQLNode
from leyden.engine.nodes.transform import WhereNode
from leyden.go import time as gotime

#: what a group's window starts from: name, group ID, group tags, dimensions, first time
_First = tuple[str, str, dict[str, str], Dimensions, int]


class _TimeWindow:
    """One group's time-based window: the buffered points and the next emission time.

    The points are kept column-wise (:class:`~leyden.engine.columns.ColumnBuffer`, only the
    fields the window's children read) and rebuilt as BatchPoints when a batch is emitted; a
    window whose points were all purged holds no buffer at all until its next point.
    """

    __slots__ = (
        "align",
        "buf",
        "dims",
        "every",
        "group",
        "name",
        "next_emit",
        "period",
        "tags",
        "want",
    )

    def __init__(
        self,
        first: _First,
        period: int,
        every: int,
        align: bool,
        fill_period: bool,
        want: tuple[str, ...] | None,
    ) -> None:
        self.name, self.group, self.tags, self.dims, t = first
        self.period = period
        self.every = every
        self.align = align
        self.want = want
        self.buf: ColumnBuffer | None = None
        if fill_period:
            next_emit = t + period
            if align:
                first_period = next_emit
                next_emit = gotime.truncate(next_emit, every)
                if next_emit <= first_period:  # always, for every > 0: the first points are dropped
                    next_emit += every
        else:
            next_emit = t + every
            if align:
                next_emit = gotime.truncate(next_emit, every)
        self.next_emit = next_emit

    def _batch(self, tmax: int) -> Batch:
        points = [] if self.buf is None else self.buf.points()
        return Batch(self.name, self.group, self.tags, self.dims, tmax, points)

    def _add(self, t: int, p: Point) -> None:
        buf = self.buf
        if buf is None:
            buf = self.buf = column_buffer(self.want)
        buf.add(t, p.tags, p.fields)

    def _purge(self, oldest: int, inclusive: bool) -> None:
        """Drop the points older than ``oldest`` (and at it, when ``inclusive``)."""
        buf = self.buf
        if buf is None:
            return
        k = buf.leading_before(oldest, inclusive)
        if k == len(buf):
            self.buf = None  # nothing held: an idle series keeps no buffer
        else:
            buf.drop(k)

    def point(self, p: Point) -> Batch | None:
        t = p.time
        out = None
        if self.every == 0:
            # Right-closed window (t - period, t]: the point itself is part of the batch.
            self._add(t, p)
            if t >= self.next_emit:
                self._purge(t - self.period, True)
                out = self._batch(t)
                self.next_emit = t
            return out
        # Left-closed window [nextEmit - period, nextEmit): the point belongs to the next one.
        if t >= self.next_emit:
            out = self._close(t)
        buf = self.buf  # self._add(t, p), inlined: this runs for every point
        if buf is None:
            buf = self.buf = column_buffer(self.want)
        buf.add(t, p.tags, p.fields)
        return out

    def barrier(self, t: int) -> Batch | None:
        """A barrier closes the window as a point at ``t`` would, without adding a point."""
        if t < self.next_emit:
            return None
        if self.every == 0:
            self._purge(t - self.period, True)
            self.next_emit = t
            return self._batch(t)
        return self._close(t)

    def _close(self, t: int) -> Batch:
        """The left-closed window ending at ``next_emit``; the next one ends ``every`` after t."""
        self._purge(self.next_emit - self.period, False)
        out = self._batch(self.next_emit)
        next_emit = t + self.every
        if self.align:
            next_emit = gotime.truncate(next_emit, self.every)
        self.next_emit = next_emit
        return out


class _CountWindow:
    """One group's count-based window: the last ``periodCount`` points.

    The buffer may run a little past ``periodCount`` rows and is trimmed in one go, so that
    dropping the oldest row is not a copy of the whole buffer per point.
    """

    __slots__ = ("buf", "count", "dims", "every", "group", "name", "next_emit", "period", "tags")

    def __init__(
        self,
        first: _First,
        period: int,
        every: int,
        fill_period: bool,
        want: tuple[str, ...] | None,
    ) -> None:
        self.name, self.group, self.tags, self.dims, _ = first
        self.buf = column_buffer(want)
        self.period = period
        self.every = every
        self.count = 0
        self.next_emit = period if fill_period else every

    def point(self, p: Point) -> Batch | None:
        buf = self.buf
        buf.add(p.time, p.tags, p.fields)
        self.count += 1
        excess = len(buf) - self.period
        if self.count != self.next_emit:
            if excess > 16 and excess * 4 > self.period:
                buf.drop(excess)
            return None
        self.next_emit += self.every
        if excess > 0:
            buf.drop(excess)
        return Batch(self.name, self.group, self.tags, self.dims, buf.last_time, buf.points())


def wanted_fields(children: list[Any]) -> tuple[str, ...] | None:
    """The fields of the window's points that its children can see, or None for all of them.

    Only children known to read named fields, and to forward nothing else of the batch's points,
    narrow it:

    * an InfluxQL aggregate, transform or multi-point function (``count``, ``mean``,
      ``derivative``-like transforms, ``top`` …) reads its ``field`` and emits new points;
    * ``where`` reads the names its lambda references (a name that is a tag is looked up in
      the fields first, so it is kept as a field if present) and forwards the points it keeps
      to its own children, whose fields count too.

    A selector (``first``, ``max`` …) forwards the chosen point's fields, and any other node
    (``eval``, ``log``, ``httpOut``, ``alert``, a join's edge …) may show or forward every field.
    A window without children keeps everything (nothing to learn from).
    """
    if not children:
        return None
    want = _read_by(children)
    return None if want is None else tuple(dict.fromkeys(want))


def _read_by(children: list[Any]) -> list[str] | None:
    """The field names ``children`` read from a batch, or None when they may read any."""
    want: list[str] = []
    for child in children:
        if isinstance(child, InfluxQLNode):
            if child.func.selector or not child.field:
                return None
            want.append(child.field)
        elif isinstance(child, WhereNode):
            below = _read_by(child.children)
            if below is None:
                return None
            want.extend(sorted(child.expr.base.references - {"time"}))
            want.extend(below)
        else:
            return None
    return want


@register("window")
class WindowNode(Node):
    """Stream in, batches out: one window state per group, created on the group's first point."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.period = int(p.get("period", 0) or 0)
        self.every = int(p.get("every", 0) or 0)
        self.align = bool(p.get("align", False))
        self.fill_period = bool(p.get("fillPeriod", False))
        self.period_count = int(p.get("periodCount", 0) or 0)
        self.every_count = int(p.get("everyCount", 0) or 0)
        if self.period == 0 and self.period_count == 0:
            raise TaskError(
                f"{self.name}: window node must have either a non zero period or non zero "
                "period count"
            )
        if self.period == 0 and self.every_count <= 0:
            raise TaskError(f"{self.name}: everyCount must be greater than zero")
        self._windows: dict[str, _TimeWindow | _CountWindow] = {}
        #: the fields kept of each point, known once the children are wired (first window)
        self._want: tuple[str, ...] | None = None
        self._want_known = False

    def _new_window(self, first: _First) -> _TimeWindow | _CountWindow:
        if not self._want_known:
            self._want, self._want_known = wanted_fields(self.children), True
        want = self._want
        if self.period:
            return _TimeWindow(first, self.period, self.every, self.align, self.fill_period, want)
        return _CountWindow(first, self.period_count, self.every_count, self.fill_period, want)

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        w = self._windows.get(p.group)
        if w is None:
            if not self.admit_group():
                return
            first = (p.name, p.group, p.group_tags(), p.dims, p.time)
            w = self._windows[p.group] = self._new_window(first)
        b = w.point(p)
        if b is not None:
            self.emit_batch(b)

    def batch(self, b: Batch) -> None:
        # The builder rejects window on a batch edge; this guards hand-built pipelines.
        self.stats.collected += 1
        self.error("window does not support batch data")

    def barrier(self, b: Barrier) -> None:
        """Kapacitor: a barrier creates the group's window if needed (anchored at the barrier's
        time) and closes a time window that is due; the time window swallows the barrier and
        forwards the batch instead, a count window ignores it and forwards it."""
        w = self._windows.get(b.group)
        if w is None:
            if not self.admit_group():
                return
            first = (b.name, b.group, dict(b.tags), b.dims, b.time)
            w = self._windows[b.group] = self._new_window(first)
        if isinstance(w, _CountWindow):
            self.emit_barrier(b)
            return
        out = w.barrier(b.time)
        if out is not None:
            self.emit_batch(out)

    def forget_group(self, group: str) -> None:
        """A barrier deleted the group: its window starts afresh on its next point."""
        self._windows.pop(group, None)

    def cardinality(self) -> int:
        return len(self._windows)
