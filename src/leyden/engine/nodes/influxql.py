"""InfluxQL aggregation nodes: aggregates, selectors and streaming transforms (semantics §2.6).

Kapacitor delegates these to InfluxDB 1.x's ``query`` reducers, so the numbers here follow those
reducers exactly (float sums added left to right, the sample standard deviation, percentile's
nearest-rank index, the tie-breaking of first/last/min/max/top/bottom/mode), and the node around
them follows Kapacitor's ``influxql.go``:

* on a batch edge an aggregate reduces each batch to one output (time = the batch's ``tmax``);
* on a stream edge consecutive points of a group with the same time form one "batch", reduced
  when a point with another time arrives — the newest one is never flushed, like Kapacitor;
* the reducer is picked by the Go type of the first point's field; later points of another type
  are logged and skipped, and points missing the field are logged and skipped;
* streaming transforms (elapsed, difference, movingAverage, cumulativeSum) emit per input point,
  keep per-group state on a stream edge and restart at each batch on a batch edge.

Reducers work on two parallel lists (values, times) and return ``(time, value, source)``
triples: ``time`` None is InfluxDB's ZeroTime ("no time of its own": the output gets the batch
time even with ``.usePointTimes()``), ``source`` indexes the input point a selector picked.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from leyden.engine.model import Batch, BatchPoint, Dimensions, Point
from leyden.engine.node import Node, TaskContext, TaskError, register
from leyden.engine.nodes.holtwinters import holt_winters
from leyden.lineprotocol import UInt
from leyden.tick.pipeline import INFLUXQL_KINDS

#: Go's name (``%T``) of each field value type, as Kapacitor's messages show them
_GO_TYPE: dict[type, str] = {
    float: "float64",
    int: "int64",
    str: "string",
    bool: "bool",
    UInt: "uint64",
}

Out = tuple[int | None, Any, int | None]
ReduceFn = Callable[[list[Any], list[int]], list[Out]]

_MISSING = object()
_I64 = 1 << 63


def _i64(x: int) -> int:
    """Wrap like Go's int64 arithmetic (Python ints never overflow)."""
    if -_I64 <= x < _I64:
        return x
    return ((x + _I64) & ((1 << 64) - 1)) - _I64


def _go_type(v: Any) -> str:
    return _GO_TYPE.get(type(v), type(v).__name__)


# -- aggregates ---------------------------------------------------------------------------------


def _count(values: list[Any], times: list[int]) -> list[Out]:
    return [(None, len(values), None)]


def _sum_float(values: list[float], times: list[int]) -> list[Out]:
    s = 0.0
    for v in values:  # left to right, as Go adds (builtin sum() compensates in newer Pythons)
        s += v
    # The reducer starts from a point whose time is 0, not ZeroTime: with .usePointTimes()
    # Kapacitor really stamps sums 1970-01-01.
    return [(0, s, None)]


def _sum_int(values: list[int], times: list[int]) -> list[Out]:
    return [(0, _i64(sum(values)), None)]


def _mean_float(values: list[float], times: list[int]) -> list[Out]:
    s = 0.0
    for v in values:
        s += v
    return [(None, s / len(values), None)]


def _mean_int(values: list[int], times: list[int]) -> list[Out]:
    return [(None, float(_i64(sum(values))) / len(values), None)]


def _median_float(values: list[float], times: list[int]) -> list[Out]:
    if len(values) == 1:
        return [(times[0], values[0], None)]  # InfluxDB returns the lone point, time and all
    a = sorted(values)
    n = len(a)
    if n % 2 == 0:
        lo, hi = a[n // 2 - 1], a[n // 2]
        return [(None, lo + (hi - lo) / 2, None)]
    return [(None, a[n // 2], None)]


def _median_int(values: list[int], times: list[int]) -> list[Out]:
    if len(values) == 1:
        return [(None, float(values[0]), None)]
    a = sorted(values)
    n = len(a)
    if n % 2 == 0:
        lo, hi = a[n // 2 - 1], a[n // 2]
        return [(None, float(lo) + float(_i64(hi - lo)) / 2, None)]
    return [(None, float(a[n // 2]), None)]


def _mode(values: list[Any], times: list[int]) -> list[Out]:
    """InfluxDB's walk over the value-sorted points; ties go to the run seen with the earlier time."""
    if len(values) == 1:
        return [(times[0], values[0], None)]
    order = sorted(range(len(values)), key=values.__getitem__)
    first = order[0]
    most_freq = curr_freq = 0
    curr_mode = most_mode = values[first]
    most_time = curr_time = times[first]
    for i in order:
        v = values[i]
        if v != curr_mode:
            curr_freq = 1
            curr_mode = v
            curr_time = times[i]
            continue
        curr_freq += 1
        if most_freq > curr_freq or (most_freq == curr_freq and curr_time > most_time):
            continue
        most_freq = curr_freq
        most_mode = v
        most_time = times[i]
    return [(None, most_mode, None)]


def _spread_float(values: list[float], times: list[int]) -> list[Out]:
    if any(v != v for v in values):  # math.Min/Max propagate NaN
        return [(None, math.nan, None)]
    return [(None, max(values) - min(values), None)]


def _spread_int(values: list[int], times: list[int]) -> list[Out]:
    return [(None, _i64(max(values) - min(values)), None)]


def _stddev(values: list[Any], times: list[int]) -> list[Out]:
    """Sample standard deviation (n − 1); NaN values are skipped but still count in n − 1."""
    if len(values) < 2:
        return [(None, math.nan, None)]
    mean = 0.0
    count = 0
    for v in values:
        if v != v:
            continue
        count += 1
        mean += (v - mean) / count
    variance = 0.0
    for v in values:
        if v != v:
            continue
        d = v - mean
        variance += d * d
    return [(None, math.sqrt(variance / (count - 1)), None)]


def _pick(better: Callable[[Any, int, Any, int], bool]) -> ReduceFn:
    """A selector keeping the point ``better`` prefers, folding left like InfluxDB's FuncReducer."""

    def reduce(values: list[Any], times: list[int]) -> list[Out]:
        best = 0
        bv, bt = values[0], times[0]
        for i in range(1, len(values)):
            v, t = values[i], times[i]
            if better(v, t, bv, bt):
                best, bv, bt = i, v, t
        return [(bt, bv, best)]

    return reduce


_first = _pick(lambda v, t, bv, bt: t < bt or (t == bt and v > bv))
_last = _pick(lambda v, t, bv, bt: t > bt or (t == bt and v > bv))
# booleans: on a time tie first prefers false and last prefers true
_first_bool = _pick(lambda v, t, bv, bt: t < bt or (t == bt and not v and bv))
_last_bool = _pick(lambda v, t, bv, bt: t > bt or (t == bt and v and not bv))
_min = _pick(lambda v, t, bv, bt: v < bv or (v == bv and t < bt))
_max = _pick(lambda v, t, bv, bt: v > bv or (v == bv and t < bt))


def _percentile(p: float) -> ReduceFn:
    def reduce(values: list[Any], times: list[int]) -> list[Out]:
        n = len(values)
        i = math.floor(float(n) * p / 100.0 + 0.5) - 1
        if i < 0 or i >= n:
            return []
        idx = sorted(range(n), key=values.__getitem__)[i]
        return [(times[idx], values[idx], idx)]

    return reduce


def _distinct(values: list[Any], times: list[int]) -> list[Out]:
    """Each value once, with the time it was first seen, ordered by (time, value)."""
    seen: dict[Any, int] = {}
    for v, t in zip(values, times, strict=True):
        if v not in seen:
            seen[v] = t
    return [(t, v, None) for v, t in sorted(seen.items(), key=lambda vt: (vt[1], vt[0]))]


def _top(num: int, bottom: bool) -> ReduceFn:
    """The ``num`` highest (lowest) values, earlier time first on a tie, best first."""

    def reduce(values: list[Any], times: list[int]) -> list[Out]:
        if bottom:
            order = sorted(range(len(values)), key=lambda i: (values[i], times[i]))
        else:
            order = sorted(range(len(values)), key=lambda i: (-values[i], times[i]))
        return [(times[i], values[i], i) for i in order[:num]]

    return reduce


def _holt_winters(h: int, m: int, include_fit: bool, interval: int) -> ReduceFn:
    def reduce(values: list[Any], times: list[int]) -> list[Out]:
        floats = [float(v) for v in values]
        return [(t, v, None) for t, v in holt_winters(times, floats, h, m, include_fit, interval)]

    return reduce


# -- streaming transforms -----------------------------------------------------------------------


class _Difference:
    """Current minus previous value; a repeated time is ignored; emits once per new point."""

    __slots__ = ("cur_t", "cur_v", "has_cur", "has_prev", "prev_v")

    def __init__(self) -> None:
        self.has_cur = self.has_prev = False
        self.cur_t = 0
        self.cur_v: Any = 0
        self.prev_v: Any = 0

    def add(self, v: Any, t: int) -> None:
        if self.has_cur and self.cur_t == t:
            return
        self.prev_v, self.has_prev = self.cur_v, self.has_cur
        self.cur_v, self.cur_t, self.has_cur = v, t, True

    def emit(self) -> tuple[int, Any] | None:
        if not self.has_prev:
            return None
        self.has_prev = False
        d = self.cur_v - self.prev_v
        return self.cur_t, (_i64(d) if type(d) is int else d)


class _Elapsed:
    """Time since the previous point, in whole units (Go's truncating division)."""

    __slots__ = ("cur_t", "has_cur", "has_prev", "prev_t", "unit")

    def __init__(self, unit: int) -> None:
        self.unit = unit
        self.has_cur = self.has_prev = False
        self.cur_t = self.prev_t = 0

    def add(self, v: Any, t: int) -> None:
        self.prev_t, self.has_prev = self.cur_t, self.has_cur
        self.cur_t, self.has_cur = t, True

    def emit(self) -> tuple[int, Any] | None:
        if not self.has_prev:
            return None
        d = self.cur_t - self.prev_t
        q = abs(d) // self.unit
        return self.cur_t, (q if d >= 0 else -q)


class _MovingAverage:
    """Mean of the last ``n`` values, kept as a running sum exactly like InfluxDB's ring buffer."""

    __slots__ = ("buf", "n", "pos", "sum", "t")

    def __init__(self, n: int, zero: Any) -> None:
        self.n = n
        self.buf: list[Any] = []
        self.pos = 0
        self.sum = zero
        self.t = 0

    def add(self, v: Any, t: int) -> None:
        if len(self.buf) != self.n:
            self.buf.append(v)
        else:
            self.sum -= self.buf[self.pos]
            self.buf[self.pos] = v
        self.sum += v
        self.t = t
        self.pos += 1
        if self.pos >= self.n:
            self.pos = 0

    def emit(self) -> tuple[int, Any] | None:
        if len(self.buf) != self.n:
            return None
        s = self.sum
        return self.t, (float(_i64(s)) if type(s) is int else s) / len(self.buf)


class _CumulativeSum:
    __slots__ = ("has", "sum", "t")

    def __init__(self, zero: Any) -> None:
        self.sum = zero
        self.t = 0
        self.has = False

    def add(self, v: Any, t: int) -> None:
        s = self.sum + v
        self.sum = _i64(s) if type(s) is int else s
        self.t = t
        self.has = True

    def emit(self) -> tuple[int, Any] | None:
        return (self.t, self.sum) if self.has else None


# -- the function table -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Func:
    #: reducer (aggregates) or state factory (transforms) per Python field type
    by_type: dict[type, Callable[..., Any]]
    selector: bool = False  # output keeps the chosen point's fields and tags
    multi: bool = False  # output is a batch (distinct, top, bottom, holtWinters)
    empty_ok: bool = False  # an empty batch still yields a value (count, sum)
    transform: bool = False  # one output per input point


def _func(kind: str, p: dict[str, Any]) -> _Func:
    if kind == "count":
        return _Func(dict.fromkeys((float, int, str, bool), _count), empty_ok=True)
    if kind == "sum":
        return _Func({float: _sum_float, int: _sum_int}, empty_ok=True)
    if kind == "mean":
        return _Func({float: _mean_float, int: _mean_int})
    if kind == "median":
        return _Func({float: _median_float, int: _median_int})
    if kind == "mode":
        return _Func({float: _mode, int: _mode})
    if kind == "spread":
        return _Func({float: _spread_float, int: _spread_int})
    if kind == "stddev":
        return _Func({float: _stddev, int: _stddev})
    if kind == "first":
        return _Func({float: _first, int: _first, str: _first, bool: _first_bool}, selector=True)
    if kind == "last":
        return _Func({float: _last, int: _last, str: _last, bool: _last_bool}, selector=True)
    if kind == "min":
        return _Func({float: _min, int: _min}, selector=True)
    if kind == "max":
        return _Func({float: _max, int: _max}, selector=True)
    if kind == "percentile":
        fn = _percentile(float(p.get("percentile", 0.0)))
        return _Func({float: fn, int: fn}, selector=True)
    if kind == "distinct":
        return _Func(dict.fromkeys((float, int, str, bool), _distinct), multi=True)
    if kind in ("top", "bottom"):
        fn = _top(_positive(p, "num", kind), kind == "bottom")
        return _Func({float: fn, int: fn}, multi=True)
    if kind in ("holtWinters", "holtWintersWithFit"):
        h, m = int(p.get("h", 0)), int(p.get("m", 0))
        fn = _holt_winters(h, m, bool(p.get("includeFitData")), _positive(p, "interval", kind))
        return _Func({float: fn, int: fn}, multi=True)
    if kind == "elapsed":
        unit = _positive(p, "unit", kind)
        return _Func(dict.fromkeys((float, int, str, bool), lambda: _Elapsed(unit)), transform=True)
    if kind == "difference":
        return _Func({float: _Difference, int: _Difference}, transform=True)
    if kind == "movingAverage":
        n = _positive(p, "window", kind)
        return _Func(
            {float: lambda: _MovingAverage(n, 0.0), int: lambda: _MovingAverage(n, 0)},
            transform=True,
        )
    if kind == "cumulativeSum":
        return _Func(
            {float: lambda: _CumulativeSum(0.0), int: lambda: _CumulativeSum(0)}, transform=True
        )
    raise ValueError(f"not an InfluxQL function: {kind}")


class InfluxQLSettingError(ValueError):
    """A setting Kapacitor would accept and then crash on (a zero unit, window or count)."""


def _positive(p: dict[str, Any], key: str, kind: str) -> int:
    value = int(p.get(key, 0) or 0)
    if value <= 0:
        raise InfluxQLSettingError(f"{kind}(): {key} must be greater than zero, got {p.get(key)}")
    return value


# -- the node -----------------------------------------------------------------------------------


class _Bucket:
    """A stream-edge aggregate's pending points of one group that share one time."""

    __slots__ = (
        "dims",
        "fn",
        "group",
        "group_tags",
        "name",
        "ptype",
        "srcs",
        "time",
        "times",
        "values",
    )

    def __init__(self, p: Point) -> None:
        self.group = p.group
        self.dims = p.dims
        self.group_tags = p.group_tags()
        self.name = p.name
        self.time = p.time
        self.ptype: type | None = None
        self.fn: ReduceFn | None = None
        self.values: list[Any] = []
        self.times: list[int] = []
        self.srcs: list[Point] = []


class _Track:
    """A stream-edge transform's state for one group."""

    __slots__ = ("dims", "group", "group_tags", "name", "ptype", "state")

    def __init__(self, p: Point) -> None:
        self.group = p.group
        self.dims = p.dims
        self.group_tags = p.group_tags()
        self.name = p.name
        self.ptype: type | None = None
        self.state: Any = None


class InfluxQLNode(Node):
    """One InfluxQL function node; the kind (``count``, ``top``, …) picks the reducer."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        kind: str = spec.kind
        self.method = "holtWinters" if kind.startswith("holtWinters") else kind
        self.field: str = p.get("field", "")
        self.as_: str = p.get("as") or self.method
        try:
            self.func = _func(kind, p)
        except InfluxQLSettingError as exc:
            raise TaskError(f"{self.name}: {exc}") from None
        # streaming transforms always stamp outputs with the point's own time
        self.point_times: bool = bool(p.get("usePointTimes")) or self.func.transform
        self._buckets: dict[str, _Bucket] = {}
        self._tracks: dict[str, _Track] = {}
        #: the groups of the batches received (a batch is reduced whole: no state is kept)
        self._batch_groups: set[str] = set()

    def cardinality(self) -> int:
        """Kapacitor's grouped consumer: the groups seen (a node keeps buckets, tracks or
        batches, by its function and its edge)."""
        return len(self._buckets) + len(self._tracks) + len(self._batch_groups)

    # --- reducer selection and per-point checks ----------------------------------------------

    def _realize(self, v: Any) -> Callable[..., Any] | None:
        """The reducer for the type of ``v``, or None after logging why there is none."""
        fn = self.func.by_type.get(type(v))
        if fn is not None:
            return fn
        if v is _MISSING:
            err = f'field "{self.field}" missing from point'
        else:
            m, gt = self.method, _go_type(v)
            why = (
                f"cannot apply {m} to {gt} field"
                if type(v) in _GO_TYPE
                else f"invalid field kind: {gt}"
            )
            err = f"invalid influxql func {m} with field {self.field}: {why}"
        self.error("failed to realize reduce context from fields", err=err)
        return None

    def _reject(self, message: str, v: Any, ptype: type) -> None:
        if v is _MISSING:
            err = f"field {self.field} missing from point cannot aggregate"
        else:
            err = f"field {self.field} has wrong type: got {_go_type(v)} exp {_GO_TYPE[ptype]}"
        self.error(message, err=err)

    # --- edges -----------------------------------------------------------------------------

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        if self.func.transform:
            self._transform_point(p)
            return
        b = self._buckets.get(p.group)
        if b is None:
            if not self.admit_group():
                return
            b = self._buckets[p.group] = _Bucket(p)
        elif p.time != b.time:
            # A new time closes the group's pending points (the newest are never flushed).
            if b.fn is not None:
                self._emit(
                    b.name, b.time, b.group, b.dims, b.group_tags, b.fn, b.values, b.times, b.srcs
                )
            b.name, b.time, b.ptype, b.fn = p.name, p.time, None, None
            b.values.clear()  # reducers keep no reference to their input lists
            b.times.clear()
            b.srcs.clear()
        v = p.fields.get(self.field, _MISSING)
        if b.ptype is None:
            b.fn = self._realize(v)
            if b.fn is None:
                return
            b.ptype = type(v)
        elif type(v) is not b.ptype:
            self._reject("failed to aggregate point", v, b.ptype)
            return
        b.values.append(v)
        b.times.append(p.time)
        b.srcs.append(p)

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        if b.group not in self._batch_groups:
            if not self.admit_group():
                return
            self._batch_groups.add(b.group)
        if self.func.transform:
            self._transform_batch(b)
            return
        field = self.field
        ptype: type | None = None
        fn: ReduceFn | None = None
        values: list[Any] = []
        times: list[int] = []
        srcs: list[BatchPoint] = []
        for bp in b.points:
            v = bp.fields.get(field, _MISSING)
            if ptype is None:
                fn = self._realize(v)
                if fn is None:
                    continue
                ptype = type(v)
            elif type(v) is not ptype:
                self._reject("failed to aggregate point in batch", v, ptype)
                continue
            values.append(v)
            times.append(bp.time)
            srcs.append(bp)
        if fn is None:
            if not self.func.empty_ok:
                return
            fn = self.func.by_type[float]  # Kapacitor assumes float64 when there is no data
        self._emit(b.name, b.tmax, b.group, b.dims, b.tags, fn, values, times, srcs)

    def forget_group(self, group: str) -> None:
        """A deleted group loses its pending points and transform state (barriers only pass)."""
        self._buckets.pop(group, None)
        self._tracks.pop(group, None)
        self._batch_groups.discard(group)

    def _emit(
        self,
        name: str,
        time: int,
        group: str,
        dims: Dimensions,
        group_tags: dict[str, str],
        fn: ReduceFn,
        values: list[Any],
        times: list[int],
        srcs: list[Any],
    ) -> None:
        outs = fn(values, times)
        as_ = self.as_
        point_times = self.point_times
        if self.func.multi:
            tmax = time
            points = []
            for t_out, v, idx in outs:
                t = t_out if point_times and t_out is not None else time
                tags = group_tags
                if idx is not None and srcs[idx].tags:
                    tags = {**group_tags, **srcs[idx].tags}
                points.append(BatchPoint(t, {as_: v}, tags))
                if t > tmax:
                    tmax = t
            self.emit_batch(Batch(name, group, group_tags, dims, tmax, points))
            return
        if len(outs) != 1:
            return
        t_out, v, idx = outs[0]
        t = t_out if point_times and t_out is not None else time
        if self.func.selector and idx is not None:
            src = srcs[idx]
            tags = src.tags
            fields = src.fields
            if as_ != self.field:
                fields = dict(fields)
                fields[as_] = fields.pop(self.field)
        else:
            tags = group_tags
            fields = {as_: v}
        self.emit_point(Point(name, tags, fields, t, dims, group))

    # --- streaming transforms -------------------------------------------------------------------

    def _transform_point(self, p: Point) -> None:
        tr = self._tracks.get(p.group)
        if tr is None:
            if not self.admit_group():
                return
            tr = self._tracks[p.group] = _Track(p)
        v = p.fields.get(self.field, _MISSING)
        if tr.ptype is None:
            factory = self._realize(v)
            if factory is None:
                return
            tr.ptype, tr.state = type(v), factory()
        if type(v) is tr.ptype:
            tr.state.add(v, p.time)
        else:
            self._reject("failed to aggregate point", v, tr.ptype)
        # Kapacitor emits even after a failed add: cumulativeSum/elapsed/movingAverage repeat
        # their last value (with its time), difference has nothing new.
        out = tr.state.emit()
        if out is not None:
            t, value = out
            self.emit_point(Point(tr.name, tr.group_tags, {self.as_: value}, t, tr.dims, tr.group))

    def _transform_batch(self, b: Batch) -> None:
        field, as_ = self.field, self.as_
        ptype: type | None = None
        state: Any = None
        points: list[BatchPoint] = []
        for bp in b.points:
            v = bp.fields.get(field, _MISSING)
            if ptype is None:
                factory = self._realize(v)
                if factory is None:
                    continue
                ptype, state = type(v), factory()
            if type(v) is ptype:
                state.add(v, bp.time)
            else:
                self._reject("failed to aggregate batch point", v, ptype)
            out = state.emit()
            if out is not None:
                points.append(BatchPoint(out[0], {as_: out[1]}, b.tags))
        self.emit_batch(b.copy(points=points))


# One subclass per kind, since ``register`` records the kind on the class.
for _kind in INFLUXQL_KINDS:
    register(_kind)(type(f"InfluxQL_{_kind}", (InfluxQLNode,), {"__doc__": f"``{_kind}()``"}))
