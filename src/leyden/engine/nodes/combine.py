"""``combine`` and ``flatten``: one group's points of the same time, merged (semantics §2.4).

Both buffer a group's points while their (tolerance-rounded) time stays the same and act when a
point of another time arrives, as Kapacitor's combine.go and flatten.go do; a batch is handled
point by point and its last time is handled at the batch's end.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from leyden.engine.model import Batch, BatchPoint, Dimensions, Point
from leyden.engine.node import Barrier, Node, TaskContext, register
from leyden.go import time as gotime
from leyden.tick.lambdas import CompiledLambda, compile_lambda

#: what combine and flatten buffer: (time, fields, tags) of a point or batch point
_Item = tuple[int, dict[str, Any], dict[str, str]]


class _CombineGroup:
    __slots__ = ("dims", "exprs", "items", "name", "time")

    def __init__(self, name: str, dims: Dimensions, t: int, exprs: list[CompiledLambda]) -> None:
        self.name = name
        self.dims = dims
        self.time: int | None = t
        self.items: list[_Item] = []
        self.exprs = exprs


@register("combine")
class CombineNode(Node):
    """Emits one point per combination of buffered points matching the lambdas in order.

    A combination takes, for each lambda in turn, the first of the remaining points that
    matches it; fields (and tags that are not group dimensions) are prefixed ``as + delimiter``.
    """

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.exprs = [compile_lambda(lam) for lam in p.get("lambdas", [])]
        self.names: list[str] = list(p.get("as", []))
        self.delimiter: str = p.get("delimiter", ".")
        self.tolerance = int(p.get("tolerance", 0) or 0)
        self.max = int(p.get("max", 1_000_000))
        self.groups: dict[str, _CombineGroup] = {}

    def _group(self, group: str, name: str, dims: Dimensions, t: int) -> _CombineGroup | None:
        g = self.groups.get(group)
        if g is None:
            if not self.admit_group():
                return None
            exprs = [e.clone() for e in self.exprs]
            g = self.groups[group] = _CombineGroup(name, dims, t, exprs)
        return g

    def _add(self, g: _CombineGroup, item: _Item) -> None:
        t = gotime.round_(item[0], self.tolerance)
        if t == g.time:
            g.items.append((t, item[1], item[2]))
        else:
            self._combine(g)
            g.time = t
            g.items = [(t, item[1], item[2])]

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        g = self._group(p.group, p.name, p.dims, p.time)
        if g is None:
            return
        self._add(g, (p.time, p.fields, p.tags))

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        g = self._group(b.group, b.name, b.dims, b.tmax)
        if g is None:
            return
        g.name = b.name
        g.time = None
        for bp in b.points:
            self._add(g, (bp.time, bp.fields, bp.tags))
        self._combine(g)
        g.items = []

    def forget_group(self, group: str) -> None:
        self.groups.pop(group, None)

    def cardinality(self) -> int:
        return len(self.groups)

    def _combine(self, g: _CombineGroup) -> None:
        items = g.items
        n, k = len(items), len(g.exprs)
        if n == 0 or n < k:
            return
        count = math.comb(n, k)
        if count > self.max:
            self.error(
                "refusing to perform combination",
                err=f"total combinations {count} exceeds max combinations {self.max}",
            )
            return
        matches: list[list[bool]] = []
        for expr in g.exprs:
            row = []
            for t, fields, tags in items:
                try:
                    row.append(bool(expr.eval_point_bool(t, fields, tags)))
                except Exception as exc:  # an evaluation error is a non-match, logged
                    self.error("error evaluating lambda expression", err=str(exc))
                    row.append(False)
            matches.append(row)
        dims = set(g.dims.tag_names)
        for indices in itertools.combinations(range(n), k):
            remaining = list(indices)
            chosen: list[_Item] = []
            for s in range(k):
                found = next((i for i in remaining if matches[s][i]), None)
                if found is None:
                    break
                remaining.remove(found)
                chosen.append(items[found])
            else:
                self.emit_point(self._merge(g, chosen, dims))

    def _merge(self, g: _CombineGroup, chosen: list[_Item], dims: set[str]) -> Point:
        fields: dict[str, Any] = {}
        tags: dict[str, str] = {}
        for i, (_, pfields, ptags) in enumerate(chosen):
            prefix = self.names[i] + self.delimiter
            for f, v in pfields.items():
                fields[prefix + f] = v
            for tag, v in ptags.items():
                tags[tag if tag in dims else prefix + tag] = v
        return Point(g.name, tags, fields, gotime.round_(chosen[0][0], self.tolerance), g.dims)


class _FlattenGroup:
    __slots__ = ("dims", "items", "name", "tags", "time")

    def __init__(self, name: str, tags: dict[str, str], dims: Dimensions, t: int | None) -> None:
        self.name = name
        self.tags = tags
        self.dims = dims
        self.time = t
        self.items: list[_Item] = []


@register("flatten")
class FlattenNode(Node):
    """Folds a group's points of one time into one point, prefixing fields with tag values.

    ``.on('service', 'host')`` turns ``value`` of a point tagged service=auth, host=h1 into
    ``auth.h1.value`` (``auth.h1`` with ``.dropOriginalFieldName()``).
    """

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.on: list[str] = list(p.get("on", []))
        self.delimiter: str = p.get("delimiter", ".")
        self.tolerance = int(p.get("tolerance", 0) or 0)
        self.drop_original = bool(p.get("dropOriginalFieldName", False))
        self.groups: dict[str, _FlattenGroup] = {}

    def _group(
        self, group: str, name: str, tags: dict[str, str], dims: Dimensions, t: int
    ) -> _FlattenGroup | None:
        g = self.groups.get(group)
        if g is None:
            if not self.admit_group():
                return None
            g = self.groups[group] = _FlattenGroup(name, tags, dims, t)
        return g

    def _add(self, g: _FlattenGroup, item: _Item) -> tuple[int | None, dict[str, Any]]:
        """Buffer ``item``; a new time flushes the previous one: (its time, flat fields)."""
        flushed: dict[str, Any] = {}
        flushed_time = None
        if item[0] != g.time:
            if g.items:
                flushed = self._flatten(g.items)
                flushed_time = g.time
                g.items = []
            g.time = item[0]
        g.items.append(item)
        return flushed_time, flushed

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        t = gotime.round_(p.time, self.tolerance)
        g = self._group(p.group, p.name, p.group_tags(), p.dims, t)
        if g is None:
            return
        ft, fields = self._add(g, (t, p.fields, p.tags))
        if fields and ft is not None:
            self.emit_point(Point(g.name, g.tags, fields, ft, g.dims))

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        g = self._group(b.group, b.name, b.tags, b.dims, gotime.round_(b.tmax, self.tolerance))
        if g is None:
            return
        g.name = b.name
        g.time = None
        out: list[BatchPoint] = []
        for bp in b.points:
            t = gotime.round_(bp.time, self.tolerance)
            ft, fields = self._add(g, (t, bp.fields, bp.tags))
            if fields and ft is not None:
                out.append(BatchPoint(ft, fields, g.tags))
        if g.items and g.time is not None:
            fields = self._flatten(g.items)
            out.append(BatchPoint(g.time, fields, g.tags))
            g.items = []
        self.emit_batch(b.copy(points=out))

    def barrier(self, b: Barrier) -> None:
        g = self._group(b.group, b.name, b.tags, b.dims, gotime.round_(b.time, self.tolerance))
        if g is None:
            self.emit_barrier(b)
            return
        if g.items and g.time is not None and b.time > g.time:
            self.emit_point(Point(g.name, g.tags, self._flatten(g.items), g.time, g.dims))
            g.items = []
        self.emit_barrier(b)

    def forget_group(self, group: str) -> None:
        self.groups.pop(group, None)

    def cardinality(self) -> int:
        return len(self.groups)

    def _flatten(self, items: list[_Item]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        delim = self.delimiter
        for _, pfields, tags in items:
            values = []
            for tag in self.on:
                v = tags.get(tag)
                if v is None:
                    self.error(
                        "point missing tag for flatten operation",
                        err=f"tag {tag} is missing from point",
                    )
                    break
                values.append(v)
            else:
                prefix = delim.join(values)
                for name, value in pfields.items():
                    if self.drop_original:
                        fields[prefix] = value
                    elif prefix:
                        fields[prefix + delim + name] = value
                    else:
                        fields[name] = value
        return fields
