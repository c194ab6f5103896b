"""Nodes with several parents: ``join`` and ``union`` (semantics §2.4; Kapacitor's join.go, union.go).

Both receive every message as ``*_from(src, …)`` with the index of the parent it came from (see
:class:`leyden.engine.node.MultiParentNode`).  Times are compared as int nanoseconds; ``None``
stands for Go's zero time, which is before every real time.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from leyden.engine.model import Batch, BatchPoint, Dimensions, Point, group_id
from leyden.engine.node import Barrier, MultiParentNode, TaskContext, TaskError, register
from leyden.go import time as gotime

Message = Point | Batch


def _time(m: Message) -> int:
    return m.time if isinstance(m, Point) else m.tmax


def _group_tags(m: Message) -> dict[str, str]:
    return m.group_tags() if isinstance(m, Point) else m.tags


def _before(a: int | None, b: int | None) -> bool:
    """Go's ``a.Before(b)`` where None is the zero time."""
    if a is None:
        return b is not None
    return b is not None and a < b


def _after(a: int | None, b: int | None) -> bool:
    return _before(b, a)


class _JoinSet:
    """The messages of one joined time: at most one per parent."""

    __slots__ = ("first", "name", "size", "time", "values")

    def __init__(self, n: int, name: str, t: int) -> None:
        self.values: list[Message | None] = [None] * n
        self.size = 0
        self.first = n
        self.name = name
        self.time = t

    def ready(self) -> bool:
        return self.size == len(self.values)

    def set(self, src: int, m: Message) -> None:
        if src < self.first:
            self.first = src
        self.values[src] = m
        self.size += 1


class _JoinGroup:
    """Joined sets by time for one group; emits the oldest once every parent has moved past it."""

    __slots__ = ("heads", "node", "oldest", "sets")

    def __init__(self, node: JoinNode, n: int) -> None:
        self.node = node
        self.sets: dict[int, deque[_JoinSet]] = {}
        self.heads: list[int | None] = [None] * n
        self.oldest: int | None = None

    def collect(self, src: int, m: Message) -> None:
        t = gotime.round_(_time(m), self.node.tolerance)
        if self.oldest is None or t < self.oldest:
            self.oldest = t
        queue = self.sets.get(t)
        if queue is None:
            queue = self.sets[t] = deque([self.node.new_set(t)])
        target = next((s for s in queue if s.values[src] is None), None)
        if target is None:
            target = self.node.new_set(t)
            queue.append(target)
        target.set(src, m)
        self.heads[src] = t
        self.emit(self.only_ready())

    def barrier(self, src: int, t: int) -> None:
        t = gotime.round_(t, self.node.tolerance)
        if self.oldest is None or t < self.oldest:
            self.oldest = t
        self.heads[src] = t
        self.emit(self.only_ready())

    def only_ready(self) -> bool:
        """True while some parent has not yet gone past the oldest time."""
        return any(not _after(h, self.oldest) for h in self.heads)

    def emit(self, only_ready: bool) -> None:
        while self.sets:
            queue = self.sets.get(self.oldest) if self.oldest is not None else None
            i = 0
            if queue is not None:
                while queue and (not only_ready or queue[0].ready()):
                    self.node.emit_set(queue.popleft())
                    i += 1
                if not queue:
                    del self.sets[self.oldest]  # type: ignore[arg-type]
            self.oldest = min(self.sets) if self.sets else None
            if only_ready:
                return
            # Some parent skipped this time while the others went on: emit what is buffered
            # as soon as every head has passed the (new) oldest time.
            only_ready = self.only_ready()

    def emit_all(self) -> None:
        while self.sets:
            self.emit(False)


@register("join")
class JoinNode(MultiParentNode):
    """Joins one message per parent with the same (rounded) time and group into one message.

    With ``.on(dims)``, messages grouped by more tags than ``dims`` ("specific") are matched with
    the less specific messages of the same ``dims`` values and time, as Kapacitor does.
    """

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.n = max(1, len(getattr(spec, "parents", [])) or len(p.get("as", [])))
        self.prefixes: list[str] = list(p.get("as", []))
        self.on: list[str] = list(p.get("on", []))
        self.on_dims = tuple(self.on)
        self.delimiter: str = p.get("delimiter", ".")
        self.stream_name: str = p.get("streamName", "") or ""
        self.tolerance: int = int(p.get("tolerance", 0) or 0)
        self.delete_all: bool = bool(p.get("deleteAll", False))
        self.batch_edge = getattr(spec, "wants", "stream") == "batch"
        fill = p.get("fill")
        self.fill: str = "none"
        self.fill_value: Any = None
        if isinstance(fill, str):
            if fill not in ("null", "none"):
                raise TaskError(f"{self.name}: unexpected fill option {fill}")
            self.fill = fill
        elif isinstance(fill, int | float) and not isinstance(fill, bool):
            self.fill = "number"
            self.fill_value = fill
        self.groups: dict[str, _JoinGroup] = {}
        self.low_marks: dict[tuple[int, str], int] = {}
        self.match_buffers: dict[str, deque[tuple[int, Message]]] = {}
        self.specific_buffers: dict[str, deque[tuple[int, Message]]] = {}
        self.reported: set[int] = set()
        self.all_reported = False

    # --- edges ---------------------------------------------------------------------------

    def point_from(self, src: int, p: Point) -> None:
        self.stats.collected += 1
        self._message(src, p)

    def batch_from(self, src: int, b: Batch) -> None:
        self.stats.collected += 1
        self._message(src, b)

    def barrier_from(self, src: int, b: Barrier) -> None:
        self._group(b.group).barrier(src, b.time)
        self.emit_barrier(b)

    def delete_from(self, src: int, group: str) -> None:
        self.groups.pop(group, None)
        self.match_buffers.pop(group, None)
        self.specific_buffers.pop(group, None)
        if self.delete_all:
            self.low_marks.clear()
        else:
            self.low_marks.pop((src, group), None)
        self.emit_delete(group)

    def cardinality(self) -> int:
        """Kapacitor counts its join groups (the ``.on()`` match buffers are not groups)."""
        return len(self.groups)

    def stop(self) -> None:
        """No more data: emit every buffered set (Kapacitor's ``Finish``)."""
        for group in list(self.groups.values()):
            group.emit_all()

    # --- matching ------------------------------------------------------------------------

    def _group(self, group: str) -> _JoinGroup:
        g = self.groups.get(group)
        if g is None:
            g = self.groups[group] = _JoinGroup(self, self.n)
        return g

    def _message(self, src: int, m: Message) -> None:
        if self.on:
            self._match(src, m)
        else:
            self._group(m.group).collect(src, m)

    def _match(self, src: int, m: Message) -> None:
        """Pair specific messages with less specific ones on the ``.on()`` dimensions."""
        if not self.all_reported:
            self.reported.add(src)
            self.all_reported = len(self.reported) == self.n
        tol = self.tolerance
        t = gotime.round_(_time(m), tol)
        tags = _group_tags(m)
        # Kapacitor keys these buffers by the group ID on the .on() dimensions (in .on() order).
        key = group_id(m.name, tags, Dimensions(m.dims.by_name, self.on_dims))
        self.low_marks[(src, key)] = t

        low: int | None = None
        if self.all_reported:
            for s in range(self.n):
                lm = self.low_marks.get((s, key))
                if low is None or _before(lm, low):
                    low = lm

        specifics = self.specific_buffers.get(key)
        if self.all_reported and specifics:
            while specifics and _before(gotime.round_(_time(specifics[0][1]), tol), low):
                self._send_specific(*specifics.popleft())

        if len(m.dims.tag_names) > len(self.on):
            matches = self.match_buffers.get(key)
            matched = False
            if matches:
                i = 0
                for i, (msrc, match) in enumerate(matches):  # noqa: B007 - i is used after
                    pt = gotime.round_(_time(match), tol)
                    if pt == t:
                        self._send_match(src, m, msrc, match)
                        matched = True
                    if not _before(pt, low):
                        break
                else:
                    i = len(matches)
                if self.all_reported:
                    for _ in range(i):
                        matches.popleft()
            if not matched:
                if self.all_reported and _before(t, low):
                    self._send_specific(src, m)
                else:
                    self.specific_buffers.setdefault(key, deque()).append((src, m))
        else:
            self.match_buffers.setdefault(key, deque()).append((src, m))
            specifics = self.specific_buffers.get(key)
            while specifics and gotime.round_(_time(specifics[0][1]), tol) == t:
                ssrc, specific = specifics.popleft()
                self._send_match(ssrc, specific, src, m)

    def _send_match(self, ssrc: int, specific: Message, msrc: int, matched: Message) -> None:
        """Give the less specific message the specific one's group, then join both."""
        tags = dict(_group_tags(specific))
        if isinstance(matched, Batch):
            dims = Dimensions(matched.dims.by_name, tuple(sorted(tags)))
            copy: Message = matched.copy(
                tags=tags, dims=dims, group=group_id(matched.name, tags, dims)
            )
        else:
            copy = matched.copy(tags=tags, dims=specific.dims)
        group = self._group(specific.group)
        group.collect(ssrc, specific)
        group.collect(msrc, copy)

    def _send_specific(self, src: int, specific: Message) -> None:
        self._group(specific.group).collect(src, specific)

    # --- joining -------------------------------------------------------------------------

    def new_set(self, t: int) -> _JoinSet:
        return _JoinSet(self.n, self.stream_name, t)

    def emit_set(self, s: _JoinSet) -> None:
        first = s.values[s.first]
        if first is None:
            return
        if not s.name:
            s.name = first.name
        if self.batch_edge:
            if isinstance(first, Batch):
                self.emit_batch(self._join_batches(s, first))
            else:
                self.error("failed to join into batch", err=f"unexpected value {first!r}")
        elif isinstance(first, Point):
            p = self._join_points(s, first)
            if p is not None:
                self.emit_point(p)
        else:
            self.error("failed to join into point", err="unexpected batch in a stream join")

    def _prefixed(self, i: int, name: str) -> str:
        return self.prefixes[i] + self.delimiter + name

    def _join_points(self, s: _JoinSet, first: Point) -> Point | None:
        fields: dict[str, Any] = {}
        for i, v in enumerate(s.values):
            if v is None:
                if self.fill == "none":
                    return None  # inner join: no point without every parent
                value = self.fill_value if self.fill == "number" else None
                for k in first.fields:
                    fields[self._prefixed(i, k)] = value
            else:
                assert isinstance(v, Point)
                for k, value in v.fields.items():
                    fields[self._prefixed(i, k)] = value
        return Point(s.name, first.group_tags(), fields, s.time, first.dims)

    def _join_batches(self, s: _JoinSet, first: Batch) -> Batch:
        """Pair the batches' points by rounded time, as Kapacitor's ``JoinIntoBatch``."""
        n = len(s.values)
        tags = first.tags
        dims = Dimensions(first.dims.by_name, tuple(sorted(tags)))
        out = Batch(s.name, group_id(s.name, tags, dims), tags, dims, s.time, [])
        empty = [False] * n
        empty_count = 0
        indexes = [0] * n
        field_names: list[str] | None = None
        while empty_count < n:
            row: list[BatchPoint | None] = [None] * n
            set_time: int | None = None
            count = 0
            for i, b in enumerate(s.values):
                if empty[i]:
                    continue
                if b is None or indexes[i] == len(b.points):  # type: ignore[union-attr]
                    empty[i] = True
                    empty_count += 1
                    continue
                assert isinstance(b, Batch)
                bp = b.points[indexes[i]]
                t = gotime.round_(bp.time, self.tolerance)
                if set_time is None:
                    set_time = t
                if t < set_time:
                    set_time = t  # an earlier point: start this row again from it
                    for j in range(n):
                        if row[j] is not None:
                            indexes[j] -= 1
                        row[j] = None
                    row[i] = bp
                    indexes[i] += 1
                    count = 1
                elif t == set_time:
                    if field_names is None:
                        field_names = list(bp.fields)
                    row[i] = bp
                    indexes[i] += 1
                    count += 1
            if count == 0 or set_time is None:
                continue
            fields: dict[str, Any] = {}
            complete = True
            for i, cell in enumerate(row):
                if cell is None:
                    if self.fill == "none":
                        complete = False
                        break
                    value = self.fill_value if self.fill == "number" else None
                    for k in field_names or ():
                        fields[self._prefixed(i, k)] = value
                else:
                    for k, value in cell.fields.items():
                        fields[self._prefixed(i, k)] = value
            if complete:
                out.points.append(BatchPoint(set_time, fields, tags))
        return out


@register("union")
class UnionNode(MultiParentNode):
    """Merges its parents' messages in time order, once every parent has sent something."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.rename: str = spec.properties.get("rename", "") or ""
        n = max(1, len(getattr(spec, "parents", [])))
        self.sources: list[deque[Point | Batch | Barrier]] = [deque() for _ in range(n)]
        self.low_marks: list[int | None] = [None] * n

    def point_from(self, src: int, p: Point) -> None:
        self.stats.collected += 1
        if self.rename:
            p = p.copy(name=self.rename)
        self.sources[src].append(p)
        self._emit_ready(False)

    def batch_from(self, src: int, b: Batch) -> None:
        self.stats.collected += 1
        if self.rename:
            b = b.copy(name=self.rename, group=group_id(self.rename, b.tags, b.dims))
        self.sources[src].append(b)
        self._emit_ready(False)

    def barrier_from(self, src: int, b: Barrier) -> None:
        self.sources[src].append(b)
        self._emit_ready(False)

    def stop(self) -> None:
        self._emit_ready(True)

    @staticmethod
    def _t(m: Point | Batch | Barrier) -> int:
        if isinstance(m, Batch):
            return m.tmax
        return m.time

    def _emit_ready(self, drain: bool) -> None:
        emitted = True
        while emitted:
            emitted = False
            mark: int | None = None
            valid = 0
            for i, queue in enumerate(self.sources):
                source_mark = self.low_marks[i]
                if queue:
                    t = self._t(queue[0])
                    if mark is None or t < mark:
                        mark = t
                    source_mark = t
                self.low_marks[i] = source_mark
                if source_mark is not None:
                    valid += 1
                    if not drain and (mark is None or source_mark < mark):
                        mark = source_mark
            if not drain and valid != len(self.sources):
                return  # wait until every parent has sent something
            for queue in self.sources:
                while queue and mark is not None and self._t(queue[0]) <= mark:
                    m = queue.popleft()
                    if isinstance(m, Point):
                        self.emit_point(m)
                    elif isinstance(m, Batch):
                        self.emit_batch(m)
                    else:
                        self.emit_barrier(m)
                    emitted = True
