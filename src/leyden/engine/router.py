"""Routing of written points to tasks by exact (database, retention policy) and measurement.

Kapacitor sends a point to a stream task only if the point's (db, rp) is one of the task's
dbrps exactly, and the task reads that measurement or reads every measurement
(``task_master.go forkPoint``), once even if two of its ``from()`` nodes read it.  The
receivers of a (db, rp) are listed once per routing change; a write is then split by
measurement once and each receiver handed its share in one call.

A write without ``rp=`` gets the configured ``default-retention-policy`` (Kapacitor's
``TaskMaster.WritePoints``); when that is empty too, its points are routed under the empty
retention policy, which no task naming ``"db"."autogen"`` reads: Telegraf's default writes
vanish silently, in Kapacitor as here.  Leyden says so once per database (a warning with the
fix) and counts those points (``WriteStats.points_without_rp_unrouted``), only for points that
reached no task while a task reads that database under a named retention policy.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Protocol

from leyden.engine.model import NIL_GROUP, NO_DIMENSIONS, Point
from leyden.lineprotocol import WirePoint

log = logging.getLogger("leyden.write")


class PointReceiver(Protocol):
    """Something that consumes points: a stream task's source.

    A receiver may also have (a task has):

    * ``receive_points(points: Sequence[Point], memo: dict)``: handed, once per write, the
      write's points routed to it as task points, in order.  The task points are built once
      and shared by every such receiver (nodes never modify a point), and so is ``memo``
      (a dict, empty at the start of the write: :mod:`leyden.engine.fused`).
    * ``receive_point(p: Point)``: the same one point at a time, used when the write must stay
      in point-major order across receivers.
    * ``point_major: bool``: True when the receiver's work affects the others' (an alert node
      that inhibits other tasks' alerts): then every receiver of a write that reaches it is
      handed the write point by point, each point to every receiver in subscription order,
      as Kapacitor's forking of one point to the tasks in turn would have it.
    """

    def receive(self, db: str, rp: str, point: WirePoint) -> None: ...


class _Subscription:
    """One receiver's routing: its (db, rp)s (None: all) and measurements (None: all)."""

    __slots__ = ("batch", "dbrps", "measurements", "one", "point_major", "receiver", "single")

    def __init__(self, receiver: PointReceiver) -> None:
        self.receiver = receiver
        self.dbrps: set[tuple[str, str]] | None = set()
        self.measurements: set[str] | None = set()
        self.batch: Callable[[Sequence[Point], dict[Any, Any]], None] | None = getattr(
            receiver, "receive_points", None
        )
        self.single: Callable[[Point], None] | None = getattr(receiver, "receive_point", None)
        self.point_major = bool(getattr(receiver, "point_major", False))
        #: the one measurement read, if exactly one
        self.one: str | None = None


_NAME = attrgetter("name")
#: the (db, rp, measurement) keys counted one by one; later ones count under measurement ""
MAX_INGRESS_KEYS = 10_000


@dataclass
class WriteStats:
    """What ``/kapacitor/v1/debug/vars`` shows of writes; kept by the router."""

    points_received: int = 0
    points_routed: int = 0
    write_requests: int = 0
    write_errors: int = 0
    #: points per (db, rp), for /kapacitor/v1/debug/vars
    per_dbrp: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    #: points per (db, rp, measurement): Kapacitor's ``ingress`` statistics (``leyden stats
    #: ingress``); past :data:`MAX_INGRESS_KEYS` measurements, new ones count under ""
    per_measurement: dict[tuple[str, str, str], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    #: write requests and refused (in whole or part) write requests per database, for /metrics
    writes_per_db: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    write_errors_per_db: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: points written without ``rp=`` (and no default retention policy) that reached no task
    #: while a task reads their database under a named retention policy, per database
    points_without_rp_unrouted: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def received(self, db: str, rp: str, points: Sequence[WirePoint]) -> None:
        """Count a write's points: in all, per (db, rp) and per measurement (counted in C by
        ``Counter`` over the names, once per write, not per point in Python)."""
        if len(points) == 1:
            self.received_names(db, rp, {points[0].name: 1})
        elif points:
            self.received_names(db, rp, Counter(map(_NAME, points)))

    def received_names(self, db: str, rp: str, names: Mapping[str, int]) -> None:
        """Count points by measurement (an engine worker's count of a body it parsed)."""
        per = self.per_measurement
        full = len(per) >= MAX_INGRESS_KEYS
        total = 0
        for name, count in names.items():
            key = (db, rp, name)
            per[key if not full or key in per else (db, rp, "")] += count
            total += count
        self.points_received += total
        self.per_dbrp[(db, rp)] += total


class Router:
    """Entry point for written points; owns the routing table and the write statistics.

    A write is handed to its receivers one after the other, each getting the points it reads
    in write order (task by task, not point by point across every task: each task's objects
    stay in cache for the whole write).  Kapacitor runs tasks concurrently and promises no
    order between them; a receiver marked ``point_major`` (see :class:`PointReceiver`) makes
    the router fall back to point-by-point order for the writes that reach it.
    """

    def __init__(self, default_retention_policy: str = "") -> None:
        self.default_retention_policy = default_retention_policy
        self.stats = WriteStats()
        # in subscription order; keyed by id() since a receiver need not be hashable
        self._subs: dict[int, _Subscription] = {}
        # (db, rp) -> the subscriptions reading it, rebuilt after every (un)subscribe
        self._by_dbrp: dict[tuple[str, str], list[_Subscription]] = {}
        #: the retention policies tasks of other processes read in a database (the engine
        #: workers': set by the runtime), for the rp-less write warning
        self.rps_elsewhere: Callable[[str], set[str]] | None = None
        self._warned_without_rp: set[str] = set()
        # db -> the named retention policies this process's tasks read there and the
        # measurements they read (None: all); rebuilt after every (un)subscribe, as _by_dbrp
        self._named: dict[str, tuple[set[str], set[str] | None]] = {}

    def subscribe(
        self,
        receiver: PointReceiver,
        dbrps: Iterable[tuple[str, str]] | None,
        measurements: Iterable[str | None],
    ) -> None:
        """Route points of ``dbrps`` whose measurement is in ``measurements`` to ``receiver``.

        ``None`` among the measurements means "every measurement"; ``dbrps=None`` means every
        database and retention policy (a task defined without any dbrp).  Subscribing again
        adds to what the receiver reads.
        """
        sub = self._subs.get(id(receiver))
        if sub is None:
            sub = self._subs[id(receiver)] = _Subscription(receiver)
        if dbrps is None:
            sub.dbrps = None
        elif sub.dbrps is not None:
            sub.dbrps.update(dbrps)
        wanted = set(measurements)
        if None in wanted:
            sub.measurements = None
        elif sub.measurements is not None:
            sub.measurements.update(m for m in wanted if m is not None)
        ms = sub.measurements
        sub.one = next(iter(ms)) if ms is not None and len(ms) == 1 else None
        self._by_dbrp.clear()
        self._named.clear()

    def unsubscribe(self, receiver: PointReceiver) -> None:
        self._subs.pop(id(receiver), None)
        self._by_dbrp.clear()
        self._named.clear()

    def _receivers(self, dbrp: tuple[str, str]) -> list[_Subscription]:
        subs = self._by_dbrp.get(dbrp)
        if subs is None:
            if len(self._by_dbrp) >= 1024:  # writes to ever new (db, rp)s must not grow it
                self._by_dbrp.clear()
            subs = self._by_dbrp[dbrp] = [
                s
                for s in self._subs.values()
                if (s.dbrps is None or dbrp in s.dbrps) and s.measurements != set()
            ]
        return subs

    def count_write(self, db: str, *, failed: bool) -> None:
        """Count one write request (``/write``) to ``db``, and whether it was refused in whole
        or part (once per request, never per point)."""
        stats = self.stats
        stats.write_requests += 1
        stats.writes_per_db[db] += 1
        if failed:
            stats.write_errors += 1
            stats.write_errors_per_db[db] += 1

    def write_points(self, db: str, rp: str, points: Sequence[WirePoint]) -> None:
        """Hand a parsed write body to every task that reads it, in order."""
        if not rp:
            rp = self.default_retention_policy
            if not rp and points:
                self._without_rp(db, points)
        stats = self.stats
        stats.received(db, rp, points)
        subs = self._receivers((db, rp))
        if not subs or not points:
            return
        # one point (a replay, a small write) is cheaper node by node than through a task's
        # generated chain: receivers then take it as in point-major order
        if len(points) == 1 or any(s.point_major for s in subs):
            stats.points_routed += self._point_major(db, rp, points, subs)
            return
        shared: list[Point] | None = None
        by_name: dict[str, list[Point]] | None = None
        memo: dict[Any, Any] = {}  # shared by the receivers of this write (fused.py)
        routed = 0
        for s in subs:
            batch = s.batch
            if batch is None and s.single is None:
                receive = s.receiver.receive
                if s.measurements is None:
                    for point in points:
                        receive(db, rp, point)
                    routed += len(points)
                else:
                    wanted = s.measurements
                    for point in points:
                        if point.name in wanted:
                            receive(db, rp, point)
                            routed += 1
                continue
            if shared is None:
                shared = [
                    Point(p.name, p.tags, p.fields, p.time, NO_DIMENSIONS, NIL_GROUP, db, rp)
                    for p in points
                ]
            if s.measurements is None:
                mine: Sequence[Point] = shared
            elif s.one is not None:
                if by_name is None:
                    by_name = {}
                    for p in shared:
                        same = by_name.get(p.name)
                        if same is None:
                            by_name[p.name] = [p]
                        else:
                            same.append(p)
                mine = by_name.get(s.one, ())
            else:
                wanted = s.measurements
                mine = [p for p in shared if p.name in wanted]
            if not mine:
                continue
            routed += len(mine)
            if batch is not None:
                batch(mine, memo)
            else:
                single = s.single
                assert single is not None
                for p in mine:
                    single(p)
        stats.points_routed += routed

    def _without_rp(self, db: str, points: Sequence[WirePoint]) -> None:
        """Count (and the first time, explain) the points of a write without a retention
        policy that reach no task although a task reads their measurement in ``db`` under a
        named one.  Once per such write, never on a write that names its retention policy."""
        subs = self._receivers((db, ""))
        if any(s.measurements is None for s in subs):
            return  # a task reading every measurement of every dbrp takes them all
        named = self._named.get(db)
        if named is None:  # once per routing change: a trapped writer pays it on every write
            if len(self._named) >= 1024:  # writes to ever new databases must not grow it
                self._named.clear()
            named = self._named[db] = self._named_readers(db)
        rps, measurements = named
        if not rps and self.rps_elsewhere is not None:  # the workers route by dbrp only
            rps, measurements = {r for r in self.rps_elsewhere(db) if r}, None
        if not rps:
            return  # no task reads this database: nothing is missed because of the rp
        got: set[str] = set()  # what the tasks reading every dbrp take
        for s in subs:
            got |= s.measurements or set()
        missed = sum(
            1
            for p in points
            if p.name not in got and (measurements is None or p.name in measurements)
        )
        if not missed:
            return
        self.stats.points_without_rp_unrouted[db] += missed
        if db in self._warned_without_rp:
            return
        self._warned_without_rp.add(db)
        rp = sorted(rps)[0]
        log.warning(
            "points written without a retention policy (no rp= and no "
            "default-retention-policy) reach no task; counted in "
            "leyden_points_without_rp_unrouted_total",
            extra={
                "fields": {
                    "db": db,
                    "tasks_read": ",".join(f"{db}.{r}" for r in sorted(rps)),
                    "fix": f'add rp={rp} to the write (Telegraf: retention_policy = "{rp}"), '
                    f'or set default-retention-policy = "{rp}" at the top of kapacitor.conf, '
                    "before any [section] (KAPACITOR_DEFAULT_RETENTION_POLICY)",
                }
            },
        )

    def _named_readers(self, db: str) -> tuple[set[str], set[str] | None]:
        rps: set[str] = set()
        measurements: set[str] | None = set()
        for s in self._subs.values():
            mine = {r for d, r in s.dbrps or () if d == db and r}
            if mine:
                rps |= mine
                if s.measurements is None or measurements is None:
                    measurements = None
                else:
                    measurements |= s.measurements
        return rps, measurements

    def _point_major(
        self, db: str, rp: str, points: Sequence[WirePoint], subs: list[_Subscription]
    ) -> int:
        """Each point to every receiver that reads it, in subscription order; the count routed."""
        routed = 0
        memo: dict[Any, Any] = {}
        for point in points:
            shared: tuple[Point] | None = None
            name = point.name
            for s in subs:
                wanted = s.measurements
                if wanted is not None and name not in wanted:
                    continue
                routed += 1
                one = s.single
                batch = s.batch
                if one is None and batch is None:
                    s.receiver.receive(db, rp, point)
                    continue
                if shared is None:
                    shared = (
                        Point(
                            point.name,
                            point.tags,
                            point.fields,
                            point.time,
                            NO_DIMENSIONS,
                            NIL_GROUP,
                            db,
                            rp,
                        ),
                    )
                if one is not None:  # (a task's: node by node, cheaper for one point)
                    one(shared[0])
                else:
                    assert batch is not None
                    batch(shared, memo)
        return routed
