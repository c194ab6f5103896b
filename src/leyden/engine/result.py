"""Kapacitor's ``models.Row``/``models.Result``: how points and batches are shown as series.

Used by ``httpOut``, ``httpPost`` and the ``data`` of alert events (semantics §4.9):
a stream point is one row with all its tags and columns ``time`` + sorted field names; a batch
is one row per point with the group tags, and columns ``time`` + sorted(first point's fields
and its non-group tags).
"""

from __future__ import annotations

from typing import Any

from leyden.engine.model import Batch, Point
from leyden.go.types import GoStruct, Time


def point_row(p: Point) -> dict[str, Any]:
    names = sorted(p.fields)
    return _row(p.name, p.tags, ["time", *names], [[Time(p.time), *(p.fields[n] for n in names)]])


def batch_row(b: Batch) -> dict[str, Any]:
    if not b.points:
        return _row(b.name, b.tags, [], [])
    first = b.points[0]
    extra_tags = sorted(t for t in first.tags if t not in b.tags)
    names = sorted({*first.fields, *extra_tags})
    values = []
    for bp in b.points:
        row: list[Any] = [Time(bp.time)]
        for n in names:
            row.append(bp.fields[n] if n in bp.fields else bp.tags.get(n))
        values.append(row)
    return _row(b.name, b.tags, ["time", *names], values)


def _row(
    name: str, tags: dict[str, str], columns: list[str], values: list[list[Any]]
) -> dict[str, Any]:
    """A row as Go marshals ``models.Row``: empty name/tags/columns/values are omitted."""
    row: dict[str, Any] = GoStruct(type_name="models.Row")
    if name:
        row["name"] = name
    if tags:
        row["tags"] = dict(tags)
    if columns:
        row["columns"] = columns
    if values:
        row["values"] = values
    return row


def result(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``models.Result`` holding ``rows``: ``{"series": [...]}``, and ``{"series": null}``
    when there are none (its ``Series`` field has no ``omitempty``: an ``httpOut`` before any
    data answers that, ``TestServer_StreamTask``)."""
    out: dict[str, Any] = GoStruct(type_name="models.Result")
    out["series"] = rows or None
    return out
