"""Filtering and shaping nodes (semantics §2.4): where, groupBy, eval, default, delete, shift,
sample and log.

Each node handles stream points and whole batches.  A batch is processed as Kapacitor's
begin / points / end messages would be: per-point failures drop that point only, and the
batch itself is always forwarded (possibly empty).

Derived points are built with the ``Point`` constructor, passing the old group ID when the name,
tags and dimensions are unchanged: on the per-point path that is several times cheaper than
``Point.copy(**changes)``.
"""

from __future__ import annotations

import logging
from typing import Any

from leyden.engine.group_lambdas import PerGroup
from leyden.engine.model import Batch, BatchPoint, Dimensions, Point, group_id
from leyden.engine.node import Barrier, Node, TaskContext, TaskError, register
from leyden.go import time as gotime
from leyden.go.types import Time
from leyden.tick.lambdas import compile_lambda
from leyden.tick.values import MISSING, StarValue, go_type_name

task_log = logging.getLogger("leyden.task")


# --- where ---------------------------------------------------------------------------------


@register("where")
class WhereNode(Node):
    """Keeps the points for which the lambda is true; each group has its own lambda state."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.expr = PerGroup(compile_lambda(spec.properties["lambda"]))
        #: the groups of the batches received (a batch edge; one set add per batch)
        self._batch_groups: set[str] = set()

    def cardinality(self) -> int:
        """The groups with their own lambda copy, or whose batches came (see the README's
        Kapacitor differences: a stateless lambda on a stream edge holds no group)."""
        return len(self.expr) or len(self._batch_groups)

    def _keep(self, group: str, t: int, fields: dict[str, Any], tags: dict[str, str]) -> bool:
        try:
            return self.expr.get(group).eval_point_bool(t, fields, tags)
        except Exception as exc:  # evaluation errors drop the point, as in Kapacitor
            self.error("error while evaluating expression", err=str(exc))
            return False

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        if self._keep(p.group, p.time, p.fields, p.tags):
            self.emit_point(p)

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        g = b.group
        self._batch_groups.add(g)
        kept = [bp for bp in b.points if self._keep(g, bp.time, bp.fields, bp.tags)]
        self.emit_batch(b if len(kept) == len(b.points) else b.copy(points=kept))

    def forget_group(self, group: str) -> None:
        self.expr.forget(group)
        self._batch_groups.discard(group)


# --- groupBy -------------------------------------------------------------------------------


def _tag_names(
    tags: dict[str, str], all_tags: bool, names: tuple[str, ...], excluded: frozenset[str]
) -> tuple[str, ...]:
    if not all_tags:
        return names
    if excluded:
        return tuple(sorted(t for t in tags if t not in excluded))
    return tuple(sorted(tags))


@register("groupBy")
class GroupByNode(Node):
    """Regroups points (immediately) or batch points (one batch late, see ``batch``)."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        dims = list(p.get("dimensions", []))
        self.all_tags = any(isinstance(d, StarValue) for d in dims)
        self.excluded = frozenset(p.get("exclude", []))
        named = sorted({d for d in dims if isinstance(d, str)})
        self.names = tuple(d for d in named if d not in self.excluded)
        self.by_name = bool(p.get("byMeasurement", False))
        # batch regrouping: groups of the batch time being collected, in first-seen order
        self._last_time: int = gotime.GO_ZERO_NS
        self._pending: dict[str, Batch] = {}
        self._dims: dict[tuple[bool, tuple[str, ...]], Dimensions] = {}

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        by_name = p.dims.by_name or self.by_name
        # Dimensions are interned per (by-name, tag keys) so the per-point path allocates none.
        key = (by_name, tuple(p.tags) if self.all_tags else ())
        dims = self._dims.get(key)
        if dims is None:
            names = _tag_names(p.tags, self.all_tags, self.names, self.excluded)
            dims = self._dims[key] = Dimensions(by_name, names)
        if dims != p.dims:
            p = Point(p.name, p.tags, p.fields, p.time, dims, None, p.db, p.rp)
        self.emit_point(p)

    def batch(self, b: Batch) -> None:
        """Regroup ``b``'s points; groups are emitted when a batch with another time arrives.

        Kapacitor cannot know when all batches of one time have arrived, so it holds the
        regrouped batches until the next batch time (or a barrier); the last batch time is
        never emitted.
        """
        self.stats.collected += 1
        self._flush(b.tmax)
        by_name = b.dims.by_name or self.by_name
        pending = self._pending
        for bp in b.points:
            names = _tag_names(bp.tags, self.all_tags, self.names, self.excluded)
            dims = Dimensions(by_name, names)
            gid = group_id(b.name, bp.tags, dims)
            out = pending.get(gid)
            if out is None:
                tags = {t: bp.tags.get(t, "") for t in names}
                out = pending[gid] = Batch(b.name, gid, tags, dims, b.tmax, [])
            out.points.append(bp)

    def _flush(self, t: int) -> None:
        if t == self._last_time:
            return
        self._last_time = t
        pending, self._pending = self._pending, {}
        for out in pending.values():
            out.points.sort(key=_time_of)
            self.emit_batch(out)

    def barrier(self, b: Barrier) -> None:
        """A barrier flushes the groups collected for another batch time, then passes on."""
        self._flush(b.time)
        self.emit_barrier(b)

    def forget_group(self, group: str) -> None:
        self._pending.pop(group, None)

    def cardinality(self) -> int:
        """Kapacitor counts the regrouped batches it holds (none on a stream edge)."""
        return len(self._pending)


def _time_of(bp: BatchPoint) -> int:
    return bp.time


# --- eval ----------------------------------------------------------------------------------


class EvalFailed(Exception):
    """One point could not be evaluated; it is dropped."""


@register("eval")
class EvalNode(Node):
    """Computes new fields (and tags) from lambdas, in order.

    Kapacitor evaluates all expressions in one scope: each expression's references are filled
    from the point's fields, then tags, and only otherwise keep a value set earlier (a result of
    a previous expression).  A later expression that references a field with the same name as
    an earlier result therefore puts the field's value back into the scope, and that is what the
    output shows.  That rare chained case takes the slow path below; the usual case evaluates
    each expression straight against the point.
    """

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        lambdas = list(p.get("lambdas", []))
        self.as_names: list[str] = list(p.get("as", []))
        if len(self.as_names) != len(lambdas):
            raise TaskError(
                f"{self.name}: must provide one name per expression via the 'As' property"
            )
        self.exprs = [PerGroup(compile_lambda(lam)) for lam in lambdas]
        self.tag_names: list[str] = list(p.get("tags", []))
        tag_set = set(self.tag_names)
        self.field_names = [n for n in self.as_names if n not in tag_set]
        self.keep = bool(p.get("keep", False))
        self.keep_list: list[str] = list(p.get("keepList", []))
        self._refs: list[tuple[str, ...]] = [
            tuple(sorted(e.base.references - {"time"})) for e in self.exprs
        ]
        self._has_time = ["time" in e.base.references for e in self.exprs]
        all_refs = set().union(*(e.base.references for e in self.exprs)) - {"time"}
        self._all_refs = frozenset(all_refs)
        names = set(self.as_names)
        # The slow (scope) path is needed when an expression sees a name another one sets, or
        # keep(list) may pick a referenced tag; otherwise every expression sees only the point.
        self._chained = any(set(refs) & names for refs in self._refs) or bool(
            set(self.keep_list) & all_refs
        )
        #: the groups of the batches received (a batch edge; one set add per batch)
        self._batch_groups: set[str] = set()

    def cardinality(self) -> int:
        """The groups with their own copies of the lambdas, or whose batches came."""
        return max((len(e) for e in self.exprs), default=0) or len(self._batch_groups)

    def _evaluate(
        self, group: str, t: int, fields: dict[str, Any], tags: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        if self._chained:
            scope = self._eval_scoped(group, t, fields, tags)
        else:
            scope = {}
            for name, e in zip(self.as_names, self.exprs, strict=True):
                scope[name] = e.get(group).eval_point(t, fields, tags)
        new_tags = tags
        if self.tag_names:
            new_tags = dict(tags)
            for name in self.tag_names:
                v = scope[name]
                if type(v) is not str:
                    raise EvalFailed(
                        f"result of a tag expression must be of type string, got {go_type_name(v)}"
                    )
                new_tags[name] = v
        if not self.keep:
            new_fields = {n: scope[n] for n in self.field_names}
        elif not self.keep_list:
            new_fields = dict(fields)
            for n in self.as_names:
                new_fields[n] = scope[n]
        else:
            new_fields = {}
            for f in self.keep_list:
                if f in scope:
                    v = scope[f]
                    if v is MISSING:
                        raise EvalFailed(f'cannot keep field "{f}", field does not exist')
                    new_fields[f] = v
                elif f in fields:
                    new_fields[f] = fields[f]
                else:
                    raise EvalFailed(f'cannot keep field "{f}", field does not exist')
        return new_fields, new_tags

    def _eval_scoped(
        self, group: str, t: int, fields: dict[str, Any], tags: dict[str, str]
    ) -> dict[str, Any]:
        scope: dict[str, Any] = {}
        for i, e in enumerate(self.exprs):
            for r in self._refs[i]:
                if r in fields:
                    if r in tags:
                        raise EvalFailed(f'cannot have field and tags with same name "{r}"')
                    scope[r] = fields[r]
                elif r in tags:
                    scope[r] = tags[r]
                elif r not in scope:
                    scope[r] = MISSING
            if self._has_time[i]:
                scope["time"] = Time(t)
            scope[self.as_names[i]] = e.get(group).eval(scope)
        scope.pop("time", None)
        return scope

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        try:
            fields, tags = self._evaluate(p.group, p.time, p.fields, p.tags)
        except Exception as exc:  # any failure drops the point
            self.error("error evaluating expression", err=str(exc))
            return
        self.emit_point(
            Point(
                p.name,
                tags,
                fields,
                p.time,
                p.dims,
                p.group if tags is p.tags else None,
                p.db,
                p.rp,
            )
        )

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        g = b.group
        self._batch_groups.add(g)
        out: list[BatchPoint] = []
        for bp in b.points:
            try:
                fields, tags = self._evaluate(g, bp.time, bp.fields, bp.tags)
            except Exception as exc:
                self.error("error evaluating expression", err=str(exc))
                continue
            out.append(BatchPoint(bp.time, fields, tags))
        self.emit_batch(b.copy(points=out))

    def forget_group(self, group: str) -> None:
        for e in self.exprs:
            e.forget(group)
        self._batch_groups.discard(group)


# --- default / delete ----------------------------------------------------------------------


def _regrouped(b: Batch, tags: dict[str, str]) -> Batch:
    """Kapacitor's ``BeginBatch.SetTags``: the dimensions become the new tag names."""
    dims = Dimensions(b.dims.by_name, tuple(sorted(tags)))
    return b.copy(tags=tags, dims=dims, group=group_id(b.name, tags, dims))


@register("default")
class DefaultNode(Node):
    """Sets absent fields, and absent or empty tags, to default values."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.fields = list(dict(spec.properties.get("fields", {})).items())
        self.tags = list(dict(spec.properties.get("tags", {})).items())

    def _fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        out = fields
        for name, value in self.fields:
            if out.get(name) is None:
                if out is fields:
                    out = dict(fields)
                out[name] = value
        return out

    def _tags(self, tags: dict[str, str]) -> dict[str, str]:
        out = tags
        for name, value in self.tags:
            if not out.get(name):
                if out is tags:
                    out = dict(tags)
                out[name] = value
        return out

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        fields = self._fields(p.fields)
        tags = self._tags(p.tags)
        if tags is not p.tags:
            p = Point(p.name, tags, fields, p.time, p.dims, None, p.db, p.rp)
        elif fields is not p.fields:
            p = Point(p.name, p.tags, fields, p.time, p.dims, p.group, p.db, p.rp)
        self.emit_point(p)

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        points = [
            BatchPoint(bp.time, self._fields(bp.fields), self._tags(bp.tags)) for bp in b.points
        ]
        tags = self._tags(b.tags)
        out = _regrouped(b, tags) if tags is not b.tags else b.copy()
        out.points = points
        self.emit_batch(out)


@register("delete")
class DeleteNode(Node):
    """Removes fields and tags; a removed group-by tag also leaves the dimensions."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.fields: list[str] = list(spec.properties.get("fields", []))
        self.tags: list[str] = list(spec.properties.get("tags", []))
        self._tag_set = frozenset(self.tags)

    @staticmethod
    def _without(d: dict[str, Any], names: list[str]) -> dict[str, Any]:
        out = d
        for n in names:
            if n in out:
                if out is d:
                    out = dict(d)
                del out[n]
        return out

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        fields = self._without(p.fields, self.fields)
        tags = self._without(p.tags, self.tags)
        dims = p.dims
        if any(t in self._tag_set for t in dims.tag_names):
            dims = Dimensions(
                dims.by_name, tuple(t for t in dims.tag_names if t not in self._tag_set)
            )
        if tags is not p.tags or dims is not p.dims:
            p = Point(p.name, tags, fields, p.time, dims, None, p.db, p.rp)
        elif fields is not p.fields:
            p = Point(p.name, p.tags, fields, p.time, p.dims, p.group, p.db, p.rp)
        self.emit_point(p)

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        points = [
            BatchPoint(
                bp.time, self._without(bp.fields, self.fields), self._without(bp.tags, self.tags)
            )
            for bp in b.points
        ]
        tags = self._without(b.tags, self.tags)
        out = _regrouped(b, tags) if tags is not b.tags else b.copy()
        out.points = points
        self.emit_batch(out)


# --- shift / sample / log ------------------------------------------------------------------


@register("shift")
class ShiftNode(Node):
    """Moves points and batches in time by a fixed (possibly negative) duration."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.shift = int(spec.properties.get("shift", 0) or 0)
        if self.shift == 0:
            raise TaskError(f"{self.name}: invalid shift value: must be non zero duration")

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        self.emit_point(
            Point(p.name, p.tags, p.fields, p.time + self.shift, p.dims, p.group, p.db, p.rp)
        )

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        s = self.shift
        points = [BatchPoint(bp.time + s, bp.fields, bp.tags) for bp in b.points]
        self.emit_batch(b.copy(tmax=b.tmax + s, points=points))


@register("sample")
class SampleNode(Node):
    """Keeps every n-th point of a group, or the points on a multiple of a duration."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.n = int(spec.properties.get("n", 0) or 0)
        self.duration = int(spec.properties.get("duration", 0) or 0)
        if self.n == 0 and self.duration == 0:
            raise TaskError(
                f"{self.name}: invalid sample rate: must be positive integer or duration"
            )
        self._counts: dict[str, int] = {}

    def _keep(self, count: int, t: int) -> bool:
        if self.duration:
            return gotime.truncate(t, self.duration) == t
        return count % self.n == 0

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        count = self._counts.get(p.group, 0)
        self._counts[p.group] = count + 1
        if self._keep(count, p.time):
            self.emit_point(p)

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        # The count restarts with every batch.
        kept = [bp for i, bp in enumerate(b.points) if self._keep(i, bp.time)]
        self._counts[b.group] = len(b.points)
        self.emit_batch(b.copy(points=kept))

    def forget_group(self, group: str) -> None:
        self._counts.pop(group, None)

    def cardinality(self) -> int:
        return len(self._counts)


_LOG_LEVELS = {"DEBUG": logging.DEBUG, "ERROR": logging.ERROR}


@register("log")
class LogNode(Node):
    """Logs every point or batch it sees and forwards it unchanged.

    Kapacitor knows the levels INFO, DEBUG and ERROR; anything else (``WARN`` included) logs
    at INFO.
    """

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        self.level = _LOG_LEVELS.get(
            str(spec.properties.get("level", "INFO")).upper(), logging.INFO
        )
        self.prefix = str(spec.properties.get("prefix", ""))

    def _log(self, message: str, **fields: Any) -> None:
        task_log.log(
            self.level,
            message,
            extra={
                "fields": {
                    "task": self.ctx.task_name,
                    "node": self.name,
                    "prefix": self.prefix,
                    **fields,
                }
            },
        )

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        if task_log.isEnabledFor(self.level):
            self._log(
                "point",
                name=p.name,
                db=p.db,
                rp=p.rp,
                group=p.group,
                dimension=list(p.dims.tag_names),
                tag=dict(p.tags),
                field=dict(p.fields),
                time=str(Time(p.time)),
            )
        self.emit_point(p)

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        if task_log.isEnabledFor(self.level):
            self._log(
                "begin batch", name=b.name, group=b.group, tag=dict(b.tags), time=str(Time(b.tmax))
            )
            for bp in b.points:
                self._log(
                    "batch point",
                    name=b.name,
                    group=b.group,
                    tag=dict(bp.tags),
                    field=dict(bp.fields),
                    time=str(Time(bp.time)),
                )
            self._log(
                "end batch", name=b.name, group=b.group, tag=dict(b.tags), time=str(Time(b.tmax))
            )
        self.emit_batch(b)


# --- trickle -------------------------------------------------------------------------------


@register("trickle")
class TrickleNode(Node):
    """Kapacitor's ``trickle.go``: a batch edge becomes a stream edge, each batch point one
    point with the batch's name and dimensions and the point's own tags; stream points pass."""

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        for bp in b.points:
            self.emit_point(Point(b.name, bp.tags, bp.fields, bp.time, b.dims))
