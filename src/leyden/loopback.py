"""The way ``kapacitorLoopback`` points come back into this server: queued by the node, delivered
after the current write through the route ``/write`` takes.

Kapacitor's loopback node hands each point to the task master's write input
(``TaskMaster.WriteKapacitorPoint``), the same input ``/write`` feeds; the point is forked to
the tasks reading its database and retention policy later, never from inside the node.  Here
the node calls :class:`Loopback` (the engine's :data:`~leyden.engine.services.Loopback` port),
which only queues; delivery routes the points like a write body: to this process's tasks
through the router, and, with engine workers, to every worker with a task on that database
(as line protocol, as ``/write`` forwards a body).

When delivery happens is the composition root's choice: a server delivers on the next turn of
the event loop (``deferred``), so a write's points all reach their tasks before what they looped
back does; ``leyden replay`` calls :meth:`Loopback.flush` after each recorded point, so looped-back
points reach their tasks right after the point that made them, before the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Sequence

from leyden.engine.router import Router
from leyden.lineprotocol import WirePoint, format_point
from leyden.workers.pool import EnginePool

__all__ = ["MAX_ROUNDS", "Loopback"]

log = logging.getLogger("leyden.task")

#: how many times points may loop back in a row (points looping back what looped back …);
#: beyond, tasks are looping points into each other without end: those are dropped
MAX_ROUNDS = 100


class Loopback:
    """Queues looped-back points; :meth:`flush` delivers them (see the module docstring).

    Each queued entry knows its round: 1 for points a write made, n + 1 for points made while
    delivering round n.  Tasks looping points into each other (A into B's database, B into
    A's) would otherwise keep the event loop busy for ever; points past :data:`MAX_ROUNDS`
    are dropped, and logged the 1st, 2nd, 4th … time.
    """

    def __init__(self, router: Router, *, pool: EnginePool | None, deferred: bool) -> None:
        self.router = router
        self.pool = pool
        self.deferred = deferred
        # (db, rp, points, round)
        self._queue: deque[tuple[str, str, list[WirePoint], int]] = deque()
        self._scheduled = False
        self._round = 0  # the round being delivered (0: none, a write's points)
        #: times points were dropped for looping more than MAX_ROUNDS times
        self.loops_cut = 0
        self._forwards: set[asyncio.Task[None]] = set()

    def __call__(self, db: str, rp: str, points: Sequence[WirePoint]) -> None:
        """Queue ``points`` of (db, rp); never routes them now."""
        hop = self._round + 1
        if hop > MAX_ROUNDS:
            self.loops_cut += 1
            if self.loops_cut & (self.loops_cut - 1) == 0:  # the 1st, 2nd, 4th, 8th … time
                log.error(
                    "kapacitorLoopback: tasks loop points back into each other without end; "
                    "dropping the points still looping",
                    extra={
                        "fields": {
                            "rounds": MAX_ROUNDS,
                            "db": db,
                            "rp": rp,
                            "times": self.loops_cut,
                        }
                    },
                )
            return
        queue = self._queue
        last = queue[-1] if queue else None
        if last is not None and last[0] == db and last[1] == rp and last[3] == hop:
            last[2].extend(points)
        else:
            queue.append((db, rp, list(points), hop))
        if self.deferred and not self._scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no event loop here: the next flush() delivers them
            self._scheduled = True
            loop.call_soon(self._deliver_once)

    @property
    def pending(self) -> int:
        """Points queued and not yet delivered."""
        return sum(len(entry[2]) for entry in self._queue)

    def _deliver_once(self) -> None:
        """Deliver what is queued now; what it loops back goes on the next turn."""
        self._scheduled = False
        self._deliver(len(self._queue))

    def flush(self) -> None:
        """Deliver everything queued, and what that loops back, until nothing is left."""
        while self._queue:
            self._deliver(len(self._queue))

    def _deliver(self, count: int) -> None:
        for _ in range(count):
            db, rp, points, hop = self._queue.popleft()
            self._round = hop
            try:
                self._route(db, rp, points)
            finally:
                self._round = 0

    def _route(self, db: str, rp: str, points: list[WirePoint]) -> None:
        pool = self.pool
        if pool is None or pool.reads_in_process(db, rp):
            self.router.write_points(db, rp, points)
        else:  # counted as the write path counts a body only workers read
            self.router.stats.received(db, rp or self.router.default_retention_policy, points)
        if pool is not None:
            self._forward(pool, db, rp, points)

    def _forward(self, pool: EnginePool, db: str, rp: str, points: list[WirePoint]) -> None:
        lines = []
        for p in points:
            try:
                lines.append(format_point(p))
            except ValueError as exc:  # a value line protocol cannot carry (eval made it)
                log.error(
                    "kapacitorLoopback: a point cannot go to the engine workers",
                    extra={"fields": {"db": db, "rp": rp, "err": str(exc)}},
                )
        if not lines:
            return
        body = ("\n".join(lines) + "\n").encode()
        done = asyncio.ensure_future(
            self._forwarded(pool.write(db, rp, body, precision="ns", now_ns=0))
        )
        self._forwards.add(done)
        done.add_done_callback(self._forwards.discard)

    @staticmethod
    async def _forwarded(forward: Awaitable[object]) -> None:
        try:
            await forward
        except Exception as exc:  # a worker that died is started again by the pool
            log.error(
                "kapacitorLoopback: the engine workers did not take looped-back points",
                extra={"fields": {"err": f"{type(exc).__name__}: {exc}"}},
            )

    async def close(self) -> None:
        """Deliver what is queued and wait until the workers have it (before tasks stop)."""
        self.flush()
        while self._forwards:
            await asyncio.gather(*self._forwards, return_exceptions=True)
