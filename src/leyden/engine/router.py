"""Routing of written points to tasks by exact (database, retention policy) and measurement.

Kapacitor sends a point to a stream task only if the point's (db, rp) is one of the task's
dbrps exactly, and the task reads that measurement or reads every measurement
(``task_master.go forkPoint``).  A dict keyed by (db, rp) then by measurement keeps that
decision to two lookups per point.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from leyden.engine.model import NIL_GROUP, NO_DIMENSIONS, Point
from leyden.lineprotocol import WirePoint


class PointReceiver(Protocol):
    """Something that consumes points: a stream task's source.

    A receiver that also has ``receive_point(p: leyden.engine.model.Point)`` (a task) is handed
    one task point per written point, built once and shared by every such receiver, since
    nodes never modify a point.
    """

    def receive(self, db: str, rp: str, point: WirePoint) -> None: ...


#: a route entry: the receiver's ``receive_point`` (or None) and the receiver
_Route = tuple[Callable[[Point], None] | None, PointReceiver]


@dataclass
class WriteStats:
    """What ``/kapacitor/v1/debug/vars`` shows of writes; kept by the router."""

    points_received: int = 0
    points_routed: int = 0
    write_requests: int = 0
    write_errors: int = 0
    #: points per (db, rp), for /kapacitor/v1/debug/vars
    per_dbrp: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))


class Router:
    """Entry point for written points; owns the routing table and the write statistics."""

    def __init__(self, default_retention_policy: str = "") -> None:
        self.default_retention_policy = default_retention_policy
        self.stats = WriteStats()
        # (db, rp) -> measurement -> receivers; measurement None = every measurement
        self._routes: dict[tuple[str, str], dict[str | None, list[_Route]]] = {}
        # measurement -> receivers of tasks that read every (db, rp)
        self._everywhere: dict[str | None, list[_Route]] = {}

    def subscribe(
        self,
        receiver: PointReceiver,
        dbrps: Iterable[tuple[str, str]] | None,
        measurements: Iterable[str | None],
    ) -> None:
        """Route points of ``dbrps`` whose measurement is in ``measurements`` to ``receiver``.

        ``None`` among the measurements means "every measurement"; ``dbrps=None`` means every
        database and retention policy (a task defined without any dbrp).
        """
        wanted = set(measurements)
        route: _Route = (getattr(receiver, "receive_point", None), receiver)
        tables = (
            [self._everywhere]
            if dbrps is None
            else [self._routes.setdefault(dbrp, {}) for dbrp in dbrps]
        )
        for table in tables:
            for m in wanted:
                routes = table.setdefault(m, [])
                if all(r is not receiver for _, r in routes):
                    routes.append(route)

    def unsubscribe(self, receiver: PointReceiver) -> None:
        for m, routes in list(self._everywhere.items()):
            routes[:] = [route for route in routes if route[1] is not receiver]
            if not routes:
                del self._everywhere[m]
        for dbrp, table in list(self._routes.items()):
            for m, routes in list(table.items()):
                routes[:] = [route for route in routes if route[1] is not receiver]
                if not routes:
                    del table[m]
            if not table:
                del self._routes[dbrp]

    def count_write(self, *, failed: bool) -> None:
        """Count one write request (``/write``), and whether it was refused in whole or part."""
        self.stats.write_requests += 1
        if failed:
            self.stats.write_errors += 1

    def write_points(self, db: str, rp: str, points: Sequence[WirePoint]) -> None:
        """Hand a parsed write body to every task that reads it, in order."""
        if not rp:
            rp = self.default_retention_policy
        stats = self.stats
        stats.points_received += len(points)
        stats.per_dbrp[(db, rp)] += len(points)
        tables = [t for t in (self._routes.get((db, rp)), self._everywhere) if t]
        if not tables:
            return
        routed = 0
        for point in points:
            shared: Point | None = None
            for table in tables:
                for routes in (table.get(point.name, ()), table.get(None, ())):
                    for fast, receiver in routes:
                        if fast is None:
                            receiver.receive(db, rp, point)
                        else:
                            if shared is None:
                                shared = Point(
                                    point.name,
                                    point.tags,
                                    point.fields,
                                    point.time,
                                    NO_DIMENSIONS,
                                    NIL_GROUP,
                                    db,
                                    rp,
                                )
                            fast(shared)
                        routed += 1
        stats.points_routed += routed
