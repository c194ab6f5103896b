"""What flows along a task's edges: stream points and batches, with their group.

Kapacitor's data model (semantics §2.2): every point carries *dimensions* (tag names it is
grouped by, and whether the measurement name is part of the group) and a group ID derived from
them.  Nodes treat points as immutable: a node that changes a point forwards a copy, since one
point may be shared by several children.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: the NilGroup: no grouping at all
NIL_GROUP = ""


@dataclass(frozen=True, slots=True)
class Dimensions:
    by_name: bool = False
    tag_names: tuple[str, ...] = ()  # sorted


NO_DIMENSIONS = Dimensions()


def group_id(name: str, tags: dict[str, str], dims: Dimensions) -> str:
    """Kapacitor's ``models.ToGroupID``: ``[<name>\\n]t1=v1,t2=v2`` with sorted tag names."""
    names = dims.tag_names
    if not names:
        return name if dims.by_name else NIL_GROUP
    if len(names) == 1:  # the usual groupBy('host'): no generator, no join
        t = names[0]
        body = f"{t}={tags.get(t, '')}"
    else:
        body = ",".join([f"{t}={tags.get(t, '')}" for t in names])
    return f"{name}\n{body}" if dims.by_name else body


class Point:
    """One stream point inside a task."""

    __slots__ = ("db", "dims", "fields", "group", "name", "rp", "tags", "time")

    def __init__(
        self,
        name: str,
        tags: dict[str, str],
        fields: dict[str, Any],
        time: int,
        dims: Dimensions = NO_DIMENSIONS,
        group: str | None = None,
        db: str = "",
        rp: str = "",
    ) -> None:
        self.name = name
        self.tags = tags
        self.fields = fields
        self.time = time
        self.dims = dims
        self.group = group_id(name, tags, dims) if group is None else group
        self.db = db
        self.rp = rp

    def copy(self, **changes: Any) -> Point:
        """A shallow copy with some attributes replaced; the group is recomputed if needed."""
        p = Point.__new__(Point)
        p.name = changes.get("name", self.name)
        p.tags = changes.get("tags", self.tags)
        p.fields = changes.get("fields", self.fields)
        p.time = changes.get("time", self.time)
        p.dims = changes.get("dims", self.dims)
        p.db = self.db
        p.rp = self.rp
        if "group" in changes:
            p.group = changes["group"]
        elif {"name", "tags", "dims"} & changes.keys():
            p.group = group_id(p.name, p.tags, p.dims)
        else:
            p.group = self.group
        return p

    def group_tags(self) -> dict[str, str]:
        return {t: self.tags.get(t, "") for t in self.dims.tag_names}

    def __repr__(self) -> str:
        return f"Point({self.name!r}, {self.tags!r}, {self.fields!r}, {self.time})"


@dataclass(slots=True)
class BatchPoint:
    time: int
    fields: dict[str, Any]
    tags: dict[str, str]


@dataclass(slots=True)
class Batch:
    """A window's worth of one group's points; ``tmax`` is the batch's (begin) time."""

    name: str
    group: str
    tags: dict[str, str]  # the group tags
    dims: Dimensions
    tmax: int
    points: list[BatchPoint] = field(default_factory=list)

    def copy(self, **changes: Any) -> Batch:
        b = Batch(self.name, self.group, self.tags, self.dims, self.tmax, self.points)
        for k, v in changes.items():
            setattr(b, k, v)
        return b
