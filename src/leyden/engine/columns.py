"""Buffered points stored column-wise: what a window (or any node holding many points) keeps.

A window may hold a whole period of a busy series, so what one buffered point costs is what the
window costs.  Kept as a :class:`~leyden.engine.model.BatchPoint` with its point's fields dict, a
Telegraf ``cpu`` point of ten float fields costs about 576 bytes; kept here, about 99: its time
(8 bytes), one byte of tags index (a host's cpus alternate) and 8 bytes per float field
(``bench/bench_memory.py`` measures it).

* **Columns by field name and Python type.**  ``float`` values go to an ``array('d')``, ``int``
  to an ``array('q')`` (a list once a value does not fit in 64 bits), ``bool`` to a
  ``bytearray``; everything else (``str``, :class:`~leyden.lineprotocol.UInt` …) to a list.  A
  value read back therefore has exactly the type and value it was added with.
* **Tags and shapes, interned.**  Each row has a tags dict and a *shape* (its field names in
  the point's order, and their types).  Points of one series share one tags dict (the line
  protocol parser shares it, see :class:`~leyden.lineprotocol.WirePoint`) and mostly one shape,
  so a buffer keeps each distinct one once, and an index per row only once a second distinct
  one appears.  A missing field is simply absent from the row's shape: nothing is stored for
  it, and it stays missing.  Equal tags dicts (same items, same order) become one object.
* **Only the fields the consumer reads** (``want``): a window whose only child is ``count('x')``
  keeps column ``x`` and no other; rows are kept even when they have none of the wanted fields,
  so the batch has the same points, times and tags.
* **Nothing while empty.**  A buffer that becomes empty is dropped by its owner (``None``), so an
  idle series holds no container at all.

The points are rebuilt as ``BatchPoint`` objects only when a batch is emitted: the same times,
tags, field names, order and values as the points that were added.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from leyden.engine.model import BatchPoint

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class _Missing:
    """The type of a wanted field a point does not have."""


_MISSING = _Missing()


#: a purge looks for tags and shapes no row has any more once a buffer has more than this
_COMPACT_AT = 8


class _Shape:
    """What rows of one shape share: the field names in order, their types and columns."""

    __slots__ = ("bools", "cols", "names", "slots", "types")

    def __init__(self, names: tuple[str, ...], types: tuple[type, ...], slots: tuple[int, ...]):
        self.names = names
        self.types = types
        self.slots = slots  # the index of each field's column
        self.cols: tuple[Any, ...] = ()  # the columns themselves, for appending
        self.bools = bool in types  # a bool column reads back through bool()


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


def _index_rows(rows: array[int] | None, n: int, index: int) -> array[int] | None:
    """The per-row index array once ``index`` (a second distinct value) appears: made on
    demand (every earlier row has index 0) and widened past 255."""
    if index == 0:
        return rows
    if rows is None:
        return array("B", bytes(n))
    if index == 256 and rows.typecode == "B":
        return array("I", rows)
    return rows


def column_buffer(want: tuple[str, ...] | None) -> ColumnBuffer:
    """An empty buffer keeping the fields ``want`` (None: all), in the fastest form for it."""
    return OneColumnBuffer(want[0]) if want is not None and len(want) == 1 else ColumnBuffer(want)


class ColumnBuffer:
    """The points of one group, in arrival order, column-wise (see the module docstring).

    ``want`` is the tuple of field names to keep (in the order the consumer asked for them), or
    None for every field.  Each row has a tags index and a shape index (field names and types),
    stored per row only once a second distinct one appears.
    """

    __slots__ = (
        "_col_kinds",
        "_col_names",
        "_cols",
        "_compact_at",
        "_last_cols",
        "_last_names",
        "_last_shape",
        "_last_tags",
        "_last_tagset",
        "_last_types",
        "_shape_of",
        "_shape_rows",
        "_shapes",
        "_sorted",
        "_tag_rows",
        "_tags",
        "_tags_of",
        "_times",
        "_tmax",
        "_want",
    )

    def __init__(self, want: tuple[str, ...] | None = None) -> None:
        self._want = want
        self._times = array("q")
        self._tmax = -(2**63)
        self._sorted = True  # times non-decreasing, so a purge can bisect
        self._tags: list[dict[str, str]] = []  # distinct tags (equal dicts in order are one)
        #: by items (equal dicts in the same order are one) and by id() of the dicts held here
        self._tags_of: dict[tuple[tuple[str, str], ...] | int, int] = {}
        self._tag_rows: array[int] | None = None
        self._shapes: list[_Shape] = []
        self._shape_of: dict[tuple[tuple[str, ...], tuple[type, ...]], int] = {}
        self._shape_rows: array[int] | None = None
        self._cols: list[Any] = []
        self._col_names: list[str] = []
        self._col_kinds: list[type] = []
        # the last row's tags and shape: the next row's are usually the same
        self._last_tags: dict[str, str] | None = None
        self._last_tagset = 0
        self._last_names: tuple[str, ...] = ()
        self._last_types: tuple[type, ...] | None = None
        self._last_shape = 0
        self._last_cols: tuple[Any, ...] = ()
        #: how many tags or shapes make a purge look for unused ones (doubles with what is used)
        self._compact_at = _COMPACT_AT

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
        values = fields.values()
        types = tuple(map(type, values))
        names = tuple(fields)
        if tags is not self._last_tags:
            self._switch_tags(tags)
        if types != self._last_types or names != self._last_names:
            self._switch_shape(names, types)
        # the row: its time and, once there are several, its tags and shape (inlined: per point)
        if t < self._tmax:
            self._sorted = False
        else:
            self._tmax = t
        self._times.append(t)
        if self._tag_rows is not None:
            self._tag_rows.append(self._last_tagset)
        if self._shape_rows is not None:
            self._shape_rows.append(self._last_shape)
        try:
            for col, v in zip(self._last_cols, values, strict=True):
                col.append(v)
        except OverflowError:
            self._add_big(self._shapes[self._last_shape], list(values))

    def _switch_tags(self, tags: dict[str, str]) -> None:
        tags_of = self._tags_of
        ti = tags_of.get(id(tags))  # one of the dicts held: its id() is not reused meanwhile
        if ti is None:
            key = tuple(tags.items())
            ti = tags_of.get(key)
            if ti is None:
                ti = tags_of[key] = tags_of[id(tags)] = len(self._tags)
                self._tags.append(tags)
        self._tag_rows = _index_rows(self._tag_rows, len(self._times), ti)
        self._last_tags, self._last_tagset = tags, ti

    def _switch_shape(self, names: tuple[str, ...], types: tuple[type, ...]) -> None:
        si = self._shape_of.get((names, types))
        if si is None:
            si = self._shape_of[(names, types)] = len(self._shapes)
            slots = tuple(self._column(n, k) for n, k in zip(names, types, strict=True))
            shape = _Shape(names, types, slots)
            shape.cols = tuple(self._cols[c] for c in slots)
            self._shapes.append(shape)
        self._shape_rows = _index_rows(self._shape_rows, len(self._times), si)
        shape = self._shapes[si]
        self._last_names, self._last_types = shape.names, shape.types
        self._last_shape, self._last_cols = si, shape.cols

    def _column(self, name: str, kind: type) -> int:
        names, kinds = self._col_names, self._col_kinds
        for c in range(len(names)):
            if names[c] == name and kinds[c] is kind:
                return c
        names.append(name)
        kinds.append(kind)
        self._cols.append(_new_column(kind))
        return len(names) - 1

    def _add_big(self, shape: _Shape, values: list[Any]) -> None:
        """An int beyond 64 bits stopped the appends at its column: the values before it were
        appended; its column becomes a list (exact for any int) and the rest follow."""
        cols = self._cols
        slots = shape.slots
        start = next(
            i for i, (c, v) in enumerate(zip(slots, values, strict=True)) if _big(cols[c], v)
        )
        for c, v in zip(slots[start:], values[start:], strict=True):
            if _big(cols[c], v):
                cols[c] = list(cols[c])
            cols[c].append(v)
        for other in self._shapes:
            other.cols = tuple(cols[c] for c in other.slots)
        self._last_cols = self._shapes[self._last_shape].cols

    # --- reading -------------------------------------------------------------------------------

    def _values(self, c: int) -> Iterable[Any]:
        col = self._cols[c]
        return map(bool, col) if type(col) is bytearray else col

    def points(self) -> list[BatchPoint]:
        """The buffered points, rebuilt exactly as they were added."""
        times = self._times
        if not times:
            return []
        tag_rows, all_tags = self._tag_rows, self._tags
        if self._shape_rows is None:  # the usual case: every row has the same fields
            shape = self._shapes[0]
            names = shape.names
            if len(names) == 1:
                (name,) = names
                vals: Iterable[Any] = self._values(shape.slots[0])
                if tag_rows is None:
                    tags = all_tags[0]
                    return [
                        BatchPoint(t, {name: v}, tags) for t, v in zip(times, vals, strict=True)
                    ]
                return [
                    BatchPoint(t, {name: v}, all_tags[ti])
                    for t, ti, v in zip(times, tag_rows, vals, strict=True)
                ]
            cols = [self._values(c) for c in shape.slots] if shape.bools else shape.cols
            rows = zip(*cols, strict=True) if names else None
            if tag_rows is None:
                tags = all_tags[0]
                if rows is None:
                    return [BatchPoint(t, {}, tags) for t in times]
                return [
                    BatchPoint(t, dict(zip(names, r, strict=True)), tags)
                    for t, r in zip(times, rows, strict=True)
                ]
            if rows is None:
                return [
                    BatchPoint(t, {}, all_tags[ti]) for t, ti in zip(times, tag_rows, strict=True)
                ]
            return [
                BatchPoint(t, dict(zip(names, r, strict=True)), all_tags[ti])
                for t, ti, r in zip(times, tag_rows, rows, strict=True)
            ]
        its = [iter(self._values(c)) for c in range(len(self._cols))]
        shapes = self._shapes
        out = []
        tis = tag_rows if tag_rows is not None else bytes(len(times))
        for t, ti, si in zip(times, tis, self._shape_rows, strict=True):
            shape = shapes[si]
            fields = {n: next(its[c]) for n, c in zip(shape.names, shape.slots, strict=True)}
            out.append(BatchPoint(t, fields, all_tags[ti]))
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
        cols = self._cols
        shape_rows = self._shape_rows
        if shape_rows is None:
            for c in self._shapes[0].slots:
                del cols[c][:k]
        else:
            dropped: Counter[int] = Counter()
            for si, n in Counter(shape_rows[:k]).items():
                for c in self._shapes[si].slots:
                    dropped[c] += n
            for c, n in dropped.items():
                del cols[c][:n]
            del shape_rows[:k]
        del self._times[:k]
        if self._tag_rows is not None:
            del self._tag_rows[:k]
            if len(self._tags) > self._compact_at:
                self._compact_tags()
        if shape_rows is not None and len(self._shapes) > self._compact_at:
            self._compact_shapes()

    def _compact_tags(self) -> None:
        """Forget tags no row has any more."""
        rows = self._tag_rows
        assert rows is not None
        used = sorted(set(rows))
        self._compact_at = max(self._compact_at, 2 * len(used))
        if len(used) == len(self._tags):
            return
        self._tags = [self._tags[i] for i in used]
        self._tags_of = {}
        for i, tags in enumerate(self._tags):
            self._tags_of[tuple(tags.items())] = self._tags_of[id(tags)] = i
        self._tag_rows = _remap(rows, used)
        self._last_tags = None

    def _compact_shapes(self) -> None:
        """Forget shapes no row has any more (fields or types that came and went)."""
        rows = self._shape_rows
        assert rows is not None
        used = sorted(set(rows))
        self._compact_at = max(self._compact_at, 2 * len(used))
        if len(used) == len(self._shapes):
            return
        self._shapes = [self._shapes[i] for i in used]
        self._shape_of = {(s.names, s.types): i for i, s in enumerate(self._shapes)}
        self._shape_rows = _remap(rows, used)
        self._last_types = None


def _remap(rows: array[int], used: list[int]) -> array[int] | None:
    """``rows`` renumbered to the indexes of ``used``; None if only one is left (index 0)."""
    if len(used) == 1:
        return None
    new = {old: i for i, old in enumerate(used)}
    return array(rows.typecode, map(new.__getitem__, rows))


class OneColumnBuffer(ColumnBuffer):
    """A buffer that keeps one field: the same rows, with a faster way in."""

    __slots__ = ("_last_col", "_last_kind", "_name")

    def __init__(self, name: str) -> None:
        super().__init__((name,))
        self._name = name
        self._last_kind: type | None = None
        self._last_col: Any = None

    def add(self, t: int, tags: dict[str, str], fields: Mapping[str, Any]) -> None:
        v = fields.get(self._name, _MISSING)
        kind = type(v)
        if tags is not self._last_tags:
            self._switch_tags(tags)
        if kind is not self._last_kind:
            self._switch_kind(kind)
        if t < self._tmax:
            self._sorted = False
        else:
            self._tmax = t
        self._times.append(t)
        if self._tag_rows is not None:
            self._tag_rows.append(self._last_tagset)
        if self._shape_rows is not None:
            self._shape_rows.append(self._last_shape)
        col = self._last_col
        if col is not None:
            try:
                col.append(v)
            except OverflowError:
                self._add_big(self._shapes[self._last_shape], [v])
                self._last_col = self._last_cols[0]

    def _switch_kind(self, kind: type) -> None:
        if kind is _Missing:
            self._switch_shape((), ())
        else:
            self._switch_shape((self._name,), (kind,))
        self._last_kind = kind
        self._last_col = self._last_cols[0] if self._last_cols else None

    def _compact_shapes(self) -> None:
        super()._compact_shapes()
        self._last_kind = None
