"""Buffered points stored column-wise: what a window (or any node holding many points) keeps.

A window may hold a whole period of a busy series, so what one buffered point costs is what the
window costs.  Kept as a :class:`~leyden.engine.model.BatchPoint` with its point's fields dict, a
Telegraf ``cpu`` point of ten float fields costs about 576 bytes; kept here it costs its time
(8 bytes), a one-byte row layout and 8 bytes per float field.

* **Columns by field name and Python type.**  ``float`` values go to an ``array('d')``, ``int``
  to an ``array('q')`` (a list once a value does not fit in 64 bits), ``bool`` to a
  ``bytearray``; everything else (``str``, :class:`~leyden.lineprotocol.UInt` …) to a list.  A
  value read back therefore has exactly the type and value it was added with.
* **Row layouts.**  Each row names its *layout*: the point's tags dict, its field names in the
  point's order and the column of each.  Points of one series share one tags dict (the line
  protocol parser shares it, see :class:`~leyden.lineprotocol.WirePoint`) and mostly one set
  of fields, so a group's buffer usually has one layout; a missing field is simply absent from
  the row's layout, so nothing is stored for it and it stays missing.
* **Only the fields the consumer reads** (``want``): a window whose only child is ``count('x')``
  keeps column ``x`` and no other; rows are kept even when they have none of the wanted fields,
  so the batch has the same points, times and tags.
* **Nothing while empty.**  A buffer that becomes empty is dropped by its owner (``None``), so an
  idle series holds no container at all.

The points are rebuilt as ``BatchPoint`` objects only when a batch is emitted: the same times,
tags objects, field names, order and values as the points that were added.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from leyden.engine.model import BatchPoint

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

#: a row layout: the tags, the field names in order, the column of each and their appenders
_Layout = tuple[dict[str, str], tuple[str, ...], tuple[int, ...], tuple[Callable[[Any], None], ...]]


def _big(col: Any, v: Any) -> bool:
    """Whether ``v`` cannot go into ``col``: an int column's array holds 64 bits."""
    return type(col) is array and col.typecode == "q" and not _INT64_MIN <= v <= _INT64_MAX


def _new_column(kind: type) -> Any:
    if kind is float:
        return array("d")
    if kind is int:
        return array("q")
    if kind is bool:
        return bytearray()
    return []


class ColumnBuffer:
    """The points of one group, in arrival order, column-wise (see the module docstring).

    ``want`` is the tuple of field names to keep (in the order the consumer asked for them), or
    None for every field.
    """

    __slots__ = (
        "_col_of",
        "_cols",
        "_last_key",
        "_last_layout",
        "_layout_of",
        "_layouts",
        "_rows",
        "_sorted",
        "_times",
        "_want",
    )

    def __init__(self, want: tuple[str, ...] | None = None) -> None:
        self._want = want
        self._times = array("q")
        self._rows = array("B")  # the layout index of each row
        self._layouts: list[_Layout] = []
        self._layout_of: dict[Any, int] = {}
        self._cols: list[Any] = []
        self._col_of: dict[tuple[str, type], int] = {}
        # the last row's (tags, names, types) and layout index: the next row's is usually equal
        self._last_key: tuple[Any, ...] = ()
        self._last_layout = -1
        self._sorted = True  # times non-decreasing, so a purge can bisect

    def __len__(self) -> int:
        return len(self._times)

    @property
    def last_time(self) -> int:
        return self._times[-1]

    # --- adding ------------------------------------------------------------------------------

    def add(self, t: int, tags: dict[str, str], fields: Mapping[str, Any]) -> None:
        want = self._want
        if want is not None:
            fields = {k: fields[k] for k in want if k in fields}
        types = tuple(map(type, fields.values()))
        key = self._last_key
        if key and key[0] is tags and key[2] == types and key[1] == tuple(fields):
            li = self._last_layout
        else:
            li = self._layout(tags, tuple(fields), types)
        times = self._times
        if self._sorted and times and t < times[-1]:
            self._sorted = False
        times.append(t)
        self._rows.append(li)
        appends = self._layouts[li][3]
        try:
            for append, v in zip(appends, fields.values(), strict=True):
                append(v)
        except OverflowError:
            self._add_big(li, list(fields.values()))

    def _layout(self, tags: dict[str, str], names: tuple[str, ...], types: tuple[type, ...]) -> int:
        """The index of the layout of a row with these tags, names and types (made if new)."""
        self._last_key = (tags, names, types)
        key = (tuple(tags.items()), names, types)
        li = self._layout_of.get(key)
        if li is None:
            cols = tuple(self._column(n, k) for n, k in zip(names, types, strict=True))
            li = len(self._layouts)
            self._layouts.append((tags, names, cols, tuple(self._cols[c].append for c in cols)))
            self._layout_of[key] = li
            if li == 256 and self._rows.typecode == "B":
                self._rows = array("I", self._rows)
        self._last_layout = li
        return li

    def _column(self, name: str, kind: type) -> int:
        c = self._col_of.get((name, kind))
        if c is None:
            c = self._col_of[(name, kind)] = len(self._cols)
            self._cols.append(_new_column(kind))
        return c

    def _add_big(self, li: int, values: list[Any]) -> None:
        """An int beyond 64 bits stopped the appends at its column: the values before it were
        appended; its column becomes a list (exact for any int) and the rest follow."""
        cols = self._cols
        layout = self._layouts[li][2]
        start = next(
            i for i, (c, v) in enumerate(zip(layout, values, strict=True)) if _big(cols[c], v)
        )
        for c, v in zip(layout[start:], values[start:], strict=True):
            if _big(cols[c], v):
                cols[c] = list(cols[c])
            cols[c].append(v)
        self._refresh_appends()

    def _refresh_appends(self) -> None:
        cols = self._cols
        self._layouts = [
            (tags, names, cs, tuple(cols[c].append for c in cs))
            for tags, names, cs, _ in self._layouts
        ]

    # --- reading -------------------------------------------------------------------------------

    def _values(self, c: int) -> Iterator[Any]:
        col = self._cols[c]
        return map(bool, col) if type(col) is bytearray else iter(col)

    def points(self, start: int = 0) -> list[BatchPoint]:
        """The buffered points from row ``start`` on, rebuilt exactly as they were added."""
        if start:
            self.drop(start)
        times, layouts = self._times, self._layouts
        if len(layouts) == 1:  # the usual case: every row alike
            tags, names, cols, _ = layouts[0]
            if len(names) == 1:
                (name,) = names
                return [
                    BatchPoint(t, {name: v}, tags)
                    for t, v in zip(times, self._values(cols[0]), strict=True)
                ]
            if not names:
                return [BatchPoint(t, {}, tags) for t in times]
            rows = zip(*(self._values(c) for c in cols), strict=True)
            return [
                BatchPoint(t, dict(zip(names, r, strict=True)), tags)
                for t, r in zip(times, rows, strict=True)
            ]
        its = [self._values(c) for c in range(len(self._cols))]
        out = []
        for t, li in zip(times, self._rows, strict=True):
            tags, names, cols, _ = layouts[li]
            out.append(
                BatchPoint(t, {n: next(its[c]) for n, c in zip(names, cols, strict=True)}, tags)
            )
        return out

    # --- dropping ------------------------------------------------------------------------------

    def leading_before(self, oldest: int, inclusive: bool) -> int:
        """How many rows from the front are older than ``oldest`` (or at it, when ``inclusive``):
        the rows a window purges, which stop at the first newer row even if later ones are old."""
        times = self._times
        if self._sorted:
            return bisect_right(times, oldest) if inclusive else bisect_left(times, oldest)
        n = 0
        if inclusive:
            for t in times:
                if t > oldest:
                    break
                n += 1
        else:
            for t in times:
                if t >= oldest:
                    break
                n += 1
        return n

    def drop(self, k: int) -> None:
        """Forget the first ``k`` rows."""
        if k <= 0:
            return
        layouts, cols = self._layouts, self._cols
        if len(layouts) == 1:
            for c in layouts[0][2]:
                del cols[c][:k]
        else:
            dropped: Counter[int] = Counter()
            for li, n in Counter(self._rows[:k]).items():
                for c in layouts[li][2]:
                    dropped[c] += n
            for c, n in dropped.items():
                del cols[c][:n]
        del self._times[:k]
        del self._rows[:k]
        if len(layouts) > 1:
            self._compact()

    def _compact(self) -> None:
        """Forget layouts no row uses any more (tags that changed, types that came and went)."""
        used = sorted(set(self._rows))
        if len(used) == len(self._layouts):
            return
        remap = {old: new for new, old in enumerate(used)}
        self._layouts = [self._layouts[li] for li in used]
        self._layout_of = {k: remap[li] for k, li in self._layout_of.items() if li in remap}
        self._rows = array(self._rows.typecode, map(remap.__getitem__, self._rows))
        self._last_key, self._last_layout = (), -1
