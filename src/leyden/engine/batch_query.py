"""The InfluxQL a ``batch|query()`` node sends on each run, built as Kapacitor builds it.

Kapacitor (``query.go``, ``batch.go: newQueryNode``) parses the user's ``SELECT`` once, then on
every run sets two time bounds and sends the statement as InfluxQL's ``String()`` writes it:

* the condition becomes ``<user's WHERE> AND time >= '<start>' AND time < '<stop>'`` (RFC 3339
  with nanoseconds, UTC), or only the bounds when there is no ``WHERE``;
* ``GROUP BY`` is replaced by the node's ``.groupBy()`` dimensions, in their order: a tag as an
  identifier (quoted only when it must be), ``*``, and ``time(<interval>, <offset>)`` (the offset
  is always written, ``0s`` by default); at most one time dimension;
* ``.fill()`` sets the statement's fill (``null`` writes nothing, like InfluxQL; a number is
  written as Go's ``%v``), otherwise the query's own ``fill()`` stays;
* ``.alignGroup()`` moves the ``time()`` offset so that intervals start at the query's start.

Where Leyden differs, because Kapacitor's code loses data or contradicts its documentation:

* a ``WHERE`` whose top operator is ``OR`` is parenthesised before the bounds are added
  (Kapacitor writes ``a OR b AND time >= …``, which InfluxDB reads as ``a OR (b AND …)``:
  the ``a`` series is queried without time bounds);
* with ``.alignGroup()`` the ``time(d, offset)`` offset is applied after the alignment, as
  ``QueryNode.GroupBy``'s documentation says (Kapacitor's code drops it).

Kept as Kapacitor does it, with a warning logged when the task starts: a ``GROUP BY`` in the
query text is dropped (Kapacitor's documentation forbids it; its code silently replaces it) and
a time condition in the query's ``WHERE`` stays beside the run's bounds.

Refused with Kapacitor's messages: text InfluxQL does not parse (``failed to parse InfluxQL
query: …``), more than one statement, a statement other than ``SELECT``, two time dimensions,
an unknown fill word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leyden.engine.influxql_select import (
    FILL_NUMBER,
    Binary,
    Call,
    DurationLit,
    Expr,
    InfluxQLError,
    Paren,
    Select,
    TimeLit,
    VarRef,
    Wildcard,
    parse_select,
)
from leyden.go.types import go_quote
from leyden.tick.pipeline.graph import TimeDimension
from leyden.tick.values import StarValue

__all__ = ["BatchQuery", "BatchQueryError", "build_batch_query"]


class BatchQueryError(ValueError):
    """A ``query`` node Kapacitor would refuse at task start; the message is Kapacitor's."""


_FILL_WORDS = ("null", "none", "previous", "linear")


@dataclass(frozen=True, slots=True)
class BatchQuery:
    """One node's query, ready to be bounded in time: ``text(start, stop)`` for each run."""

    statement: Select  # dimensions and fill applied, no time bounds yet
    interval: int = 0  # GROUP BY time() interval in ns, 0 when not grouped by time
    offset: int = 0  # GROUP BY time() offset in ns
    align_group: bool = False
    #: what Kapacitor silently does with the query that its author probably did not mean
    warnings: tuple[str, ...] = ()

    @property
    def grouped_by_time(self) -> bool:
        return self.interval > 0

    def group_offset(self, start: int) -> int:
        """The ``time()`` offset for a query starting at ``start``."""
        if not (self.align_group and self.interval):
            return self.offset
        return (start % self.interval + self.offset) % self.interval

    def text(self, start: int, stop: int) -> str:
        """The InfluxQL for ``[start, stop)`` (integer ns)."""
        bounds: Expr = Binary(
            "AND",
            Binary(">=", VarRef("time"), TimeLit(start)),
            Binary("<", VarRef("time"), TimeLit(stop)),
        )
        cond = self.statement.condition
        if cond is not None:
            if isinstance(cond, Binary) and cond.op == "OR":
                cond = Paren(cond)
            bounds = Binary("AND", cond, bounds)
        dims = self.statement.dimensions
        if self.grouped_by_time:
            offset = DurationLit(self.group_offset(start))
            dims = tuple(
                Call("time", (d.args[0], offset)) if isinstance(d, Call) and d.name == "time" else d
                for d in dims
            )
        return self.statement.replace(condition=bounds, dimensions=dims).render()


def build_batch_query(
    query: str,
    *,
    group_by: list[Any] | tuple[Any, ...] = (),
    fill: Any = None,
    align_group: bool = False,
) -> BatchQuery:
    """Parse ``query`` and apply the node's ``.groupBy()``, ``.fill()`` and ``.alignGroup()``.

    ``group_by`` holds tag names, :data:`~leyden.tick.values.STAR`, :class:`TimeDimension`
    or a duration (ns); ``fill`` is ``None`` (unset), a fill word, an int or a float."""
    try:
        parsed = parse_select(query)
    except InfluxQLError as exc:
        raise BatchQueryError(f"failed to parse InfluxQL query: {exc}") from None
    if parsed.statements != 1:
        raise BatchQueryError(
            f"query must be a single select statement, got {parsed.statements} statements"
        )
    if parsed.select is None:
        raise BatchQueryError(f"query is not a select statement {go_quote(parsed.first_text)}")
    stmt = parsed.select
    warnings: list[str] = []
    if stmt.dimensions:
        own = ", ".join(d.render() for d in stmt.dimensions)
        warnings.append(
            f"the query's own GROUP BY {own} is dropped, as Kapacitor drops it: "
            "group with the node's .groupBy() instead"
        )
    if stmt.condition is not None and _mentions_time(stmt.condition):
        warnings.append(
            "the query's WHERE mentions time: each run adds its own time bounds, "
            "and both apply (set the range with .period() and .offset())"
        )
    dims: list[Expr] = []
    interval = offset = 0
    for d in group_by:
        if isinstance(d, TimeDimension) or (isinstance(d, int) and not isinstance(d, bool)):
            if interval:
                raise BatchQueryError("groupBy cannot have more than one time dimension")
            if isinstance(d, TimeDimension):
                interval, offset = int(d.interval), int(d.offset)
            else:
                interval, offset = int(d), 0
            if interval <= 0:
                raise BatchQueryError(
                    f"groupBy time() interval must be positive, got {DurationLit(interval).render()}"
                )
            dims.append(Call("time", (DurationLit(interval), DurationLit(offset))))
        elif isinstance(d, str):
            dims.append(VarRef(d))
        elif isinstance(d, StarValue):
            dims.append(Wildcard())
        else:
            raise BatchQueryError(
                f"invalid dimension type:{type(d).__name__}, must be string or time.Duration"
            )
    stmt = stmt.replace(dimensions=tuple(dims))
    if fill is not None:
        if isinstance(fill, str):
            if fill not in _FILL_WORDS:
                raise BatchQueryError(f"unexpected fill option {fill}")
            stmt = stmt.replace(fill=fill, fill_value=None)
        elif isinstance(fill, int | float) and not isinstance(fill, bool):
            stmt = stmt.replace(fill=FILL_NUMBER, fill_value=fill)
    return BatchQuery(stmt, interval, offset, align_group, tuple(warnings))


def _mentions_time(e: Expr) -> bool:
    if isinstance(e, VarRef):
        return e.name == "time"
    if isinstance(e, Binary):
        return _mentions_time(e.lhs) or _mentions_time(e.rhs)
    if isinstance(e, Paren):
        return _mentions_time(e.expr)
    if isinstance(e, Call):
        return any(_mentions_time(a) for a in e.args)
    return False
