"""A query's answer as the batches a ``batch|query()`` node emits.

Kapacitor (``edge.ResultToBufferedBatches`` and ``QueryNode.doQuery``), per series:

* one batch; its name is the series name, its group tags the series' tags (the ``GROUP BY``
  tags), its dimensions those tag names (sorted) plus the measurement name when
  ``.groupByMeasurement()`` is set, so the group ID is ``models.ToGroupID``'s;
* one point per row: ``time`` is the point time, every other non-null column a field, the
  series' tags its tags; a row whose values are all null gives no point (so ``fill(null)``
  rows vanish, ``fill(0)`` rows stay);
* numbers arrive as JSON numbers, which Kapacitor turns into float64: integers become floats;
* the batch time (TMax) is the latest point time when the query groups by time, otherwise (or
  for a batch without points) the run's stop time.

``time`` may be integer nanoseconds (``epoch=ns``, what Leyden's client asks for) or RFC 3339
text (what InfluxDB sends without ``epoch``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from leyden.engine.influx import Series
from leyden.engine.model import Batch, BatchPoint, Dimensions, group_id
from leyden.go.types import Time

__all__ = ["ResultError", "series_to_batches"]


class ResultError(ValueError):
    """An answer that cannot be read as batches (Kapacitor: ``failed to understand query
    result``)."""


def _time(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(Time.parse_rfc3339(value))
        except ValueError as exc:
            raise ResultError(f"unexpected time format: {exc}") from None
    raise ResultError(f"unexpected time value: {value!r}")


def _field(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def series_to_batches(
    series: Iterable[Series], *, stop: int, by_name: bool, grouped_by_time: bool
) -> list[Batch]:
    """The batches of one run's answer; ``stop`` is the end of the run's time range."""
    out: list[Batch] = []
    for s in series:
        tags = dict(s.tags)
        dims = Dimensions(by_name=by_name, tag_names=tuple(sorted(tags)))
        try:
            t_index = s.columns.index("time")
        except ValueError:
            t_index = -1
        points: list[BatchPoint] = []
        tmax: int | None = None
        for row in s.values:
            fields = {
                c: _field(v)
                for i, (c, v) in enumerate(zip(s.columns, row, strict=False))
                if i != t_index and v is not None
            }
            t = _time(row[t_index]) if t_index >= 0 else 0
            if not fields:
                continue
            tmax = t if tmax is None else max(tmax, t)
            points.append(BatchPoint(t, fields, tags))
        if tmax is None or not grouped_by_time:
            tmax = stop
        out.append(Batch(s.name, group_id(s.name, tags, dims), tags, dims, tmax, points))
    return out
