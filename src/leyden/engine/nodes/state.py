"""Nodes that remember the previous point of each group (semantics §2.4): changeDetect,
stateDuration, stateCount and derivative.

On a batch edge the memory is per group too, but it starts afresh with every batch, as
Kapacitor resets it at each BeginBatch.
"""

from __future__ import annotations

from typing import Any

from leyden.engine.group_lambdas import PerGroup
from leyden.engine.model import Batch, BatchPoint, Point
from leyden.engine.node import Node, TaskContext, register
from leyden.tick.lambdas import compile_lambda
from leyden.tick.values import go_type_name

# --- changeDetect --------------------------------------------------------------------------


def _differs(prev: Any, value: Any) -> bool:
    """Go's ``interface{} !=``: values of different types differ (``1i`` vs ``1.0``)."""
    return type(prev) is not type(value) or prev != value


@register("changeDetect")
class ChangeDetectNode(Node):
    """Emits a point when any listed field differs from the last point it emitted."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.fields: list[str] = list(spec.properties.get("fields", []))
        self._previous: dict[str, dict[str, Any]] = {}
        #: the groups of the batches received (their memory starts afresh with each batch)
        self._batch_groups: set[str] = set()

    def cardinality(self) -> int:
        return len(self._previous) or len(self._batch_groups)

    def _changed(self, prev: dict[str, Any] | None, curr: dict[str, Any]) -> bool:
        for f in self.fields:
            if f not in curr:
                self.error("Invalid field in change detect", err=f"expected field {f} not found")
                continue
            if prev is None or f not in prev or _differs(prev[f], curr[f]):
                return True
        return False

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        if self._changed(self._previous.get(p.group), p.fields):
            self._previous[p.group] = p.fields
            self.emit_point(p)

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        self._batch_groups.add(b.group)
        prev: dict[str, Any] | None = None
        out: list[BatchPoint] = []
        for bp in b.points:
            if self._changed(prev, bp.fields):
                prev = bp.fields
                out.append(bp)
        self.emit_batch(b.copy(points=out))

    def forget_group(self, group: str) -> None:
        self._previous.pop(group, None)
        self._batch_groups.discard(group)


# --- stateDuration / stateCount ------------------------------------------------------------


class _StateNode(Node):
    """Evaluates a predicate per point and stores how long / how often it has held."""

    default_as = ""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.expr = PerGroup(compile_lambda(spec.properties["lambda"]))
        self.as_ = str(spec.properties.get("as") or self.default_as)
        # per group: (start time of the state, or None) / consecutive count
        self._state: dict[str, Any] = {}

    def _track(self, state: Any, t: int, in_state: bool) -> tuple[Any, Any]:
        """(new state, field value)."""
        raise NotImplementedError

    def _eval(
        self, group: str, t: int, fields: dict[str, Any], tags: dict[str, str]
    ) -> bool | None:
        try:
            return self.expr.get(group).eval_point_bool(t, fields, tags)
        except Exception as exc:  # the point is dropped
            self.error("error while evaluating expression", err=str(exc))
            return None

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        g = p.group
        ok = self._eval(g, p.time, p.fields, p.tags)
        if ok is None:
            return
        state, value = self._track(self._state.get(g), p.time, ok)
        self._state[g] = state
        fields = dict(p.fields)
        fields[self.as_] = value
        self.emit_point(Point(p.name, p.tags, fields, p.time, p.dims, p.group, p.db, p.rp))

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        g = b.group
        state = None  # reset at every batch
        out: list[BatchPoint] = []
        for bp in b.points:
            ok = self._eval(g, bp.time, bp.fields, bp.tags)
            if ok is None:
                continue
            state, value = self._track(state, bp.time, ok)
            fields = dict(bp.fields)
            fields[self.as_] = value
            out.append(BatchPoint(bp.time, fields, bp.tags))
        self._state[g] = state
        self.emit_batch(b.copy(points=out))

    def forget_group(self, group: str) -> None:
        self._state.pop(group, None)
        self.expr.forget(group)

    def cardinality(self) -> int:
        return len(self._state)


@register("stateDuration")
class StateDurationNode(_StateNode):
    """Field = time since the predicate became true, in ``.unit()``s; -1 while false."""

    default_as = "state_duration"

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.unit = int(spec.properties.get("unit", 0) or 1_000_000_000)

    def _track(self, start: int | None, t: int, in_state: bool) -> tuple[int | None, float]:
        if not in_state:
            return None, -1.0
        if start is None:
            start = t
        return start, float(t - start) / float(self.unit)


@register("stateCount")
class StateCountNode(_StateNode):
    """Field = number of consecutive points for which the predicate held; -1 while false."""

    default_as = "state_count"

    def _track(self, count: int | None, t: int, in_state: bool) -> tuple[int, int]:
        if not in_state:
            return 0, -1
        count = (count or 0) + 1
        return count, count


# --- derivative ----------------------------------------------------------------------------


def _as_float(v: Any) -> float | None:
    """Kapacitor's numToFloat: int64 and float64 only (not bool)."""
    t = type(v)
    if t is float:
        return v
    if t is int:
        return float(v)
    return None


@register("derivative")
class DerivativeNode(Node):
    """Rate of change of a field between consecutive points of a group, per ``.unit()``."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.field: str = p["field"]
        self.as_: str = p.get("as") or self.field
        self.unit = int(p.get("unit", 0) or 1_000_000_000)
        self.non_negative = bool(p.get("nonNegative", False))
        # per group: (time, value) of the previous usable point
        self._previous: dict[str, tuple[int, float]] = {}
        #: the groups of the batches received (their memory starts afresh with each batch)
        self._batch_groups: set[str] = set()

    def cardinality(self) -> int:
        return len(self._previous) or len(self._batch_groups)

    def _derive(
        self, prev: tuple[int, float] | None, t: int, fields: dict[str, Any]
    ) -> tuple[tuple[int, float] | None, dict[str, Any] | None]:
        """(what to remember, new fields or None when nothing is emitted)."""
        v = fields.get(self.field)
        f1 = _as_float(v)
        if f1 is None:
            self.error(
                "cannot perform derivative",
                err="field is the wrong type",
                field=self.field,
                type="<nil>" if v is None else go_type_name(v),
            )
            return prev, None
        cur = (t, f1)
        if prev is None:
            return cur, None
        elapsed = t - prev[0]
        if elapsed == 0:
            self.error("cannot perform derivative", err="elaspsed time was 0")
            return cur, None
        diff = f1 - prev[1]
        if self.non_negative and diff < 0:
            return cur, None
        out = dict(fields)
        out[self.as_] = diff / (float(elapsed) / float(self.unit))
        return cur, out

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        prev, fields = self._derive(self._previous.get(p.group), p.time, p.fields)
        if prev is not None:
            self._previous[p.group] = prev
        if fields is not None:
            self.emit_point(Point(p.name, p.tags, fields, p.time, p.dims, p.group, p.db, p.rp))

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        self._batch_groups.add(b.group)
        prev = None  # reset at every batch
        out: list[BatchPoint] = []
        for bp in b.points:
            prev, fields = self._derive(prev, bp.time, bp.fields)
            if fields is not None:
                out.append(BatchPoint(bp.time, fields, bp.tags))
        self.emit_batch(b.copy(points=out))

    def forget_group(self, group: str) -> None:
        self._previous.pop(group, None)
        self._batch_groups.discard(group)
