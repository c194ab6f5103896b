"""``influxDBOut``: points and batches written to an InfluxDB 1.x cluster in buffered writes
(Kapacitor's influxdb_out.go).

What is written follows Kapacitor: a stream point goes to its own database and retention
policy unless ``.database()`` / ``.retentionPolicy()`` say otherwise (a batch, and a point an
aggregate made, carry none: they need ``.database()``); ``.measurement()`` renames; ``.tag()``s
are added over the point's own; fields and time are kept; ``.precision()`` sets the unit of the
timestamps and of the request; ``.writeConsistency()`` is passed on.  Points are buffered per
(database, retention policy); a buffer is written when it holds ``.buffer()`` points (1000) and
every buffer every ``.flushInterval()`` (10 s, on the task clock: replay and tests drive it).
``.create()`` sends ``CREATE DATABASE <db> [WITH NAME <rp>]`` before the first write (Kapacitor
sends it when the task starts; here the task's first write waits for it), and an error there
is logged, not fatal.  Statistics: ``points_written`` and ``write_errors`` (failed requests), as
Kapacitor names them, and ``points_dropped``.  Stopping the task writes what is buffered.

The per-point path only encodes the point into its buffer; one asyncio task per node sends the
full buffers in order, so a slow or failing InfluxDB never blocks the engine.  Where Leyden
differs on purpose:

* a write that fails for a reason that may pass (no connection, a timeout, a 5xx) is tried
  again with backoff (1 s doubling to 1 min, on the task clock) instead of being lost; while it
  is retried, later writes wait behind it, and when more than :data:`MAX_BACKLOG` points wait
  the oldest writes are dropped (``points_dropped``, one log line per outage).  A refused write
  (a 4xx: a missing database, a bad point) is dropped, counted and logged once per reason;
* at stop, what is buffered gets one attempt within :data:`STOP_TIMEOUT` seconds, not an
  unbounded wait;
* a cluster that is not configured, an unknown precision, ``.create()`` without
  ``.database()`` and a ``.flushInterval()`` that is not positive are refused when the task is
  enabled (Kapacitor fails at each write, or crashes, respectively).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leyden.engine.influx import InfluxDBCluster, InfluxDBError
from leyden.engine.influxql_select import quote_ident
from leyden.engine.model import Batch, Point
from leyden.engine.node import Node, TaskContext, TaskError, register
from leyden.lineprotocol import WirePoint, format_point

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "MAX_BACKLOG",
    "STOP_TIMEOUT",
    "InfluxDBOutNode",
]

log = logging.getLogger("leyden.task")

#: nanoseconds before the first retry of a failed write; doubled per attempt up to the cap
BACKOFF_BASE = 1_000_000_000
BACKOFF_CAP = 60_000_000_000
#: points waiting to be written (behind a failing write) beyond which the oldest are dropped
MAX_BACKLOG = 100_000
#: seconds a stopping task waits for its last writes
STOP_TIMEOUT = 10.0
#: distinct reasons of refused writes logged per node (each once)
_MAX_REASONS = 16

#: ``.precision()`` as written in scripts → the unit sent to InfluxDB ("" is nanoseconds)
_PRECISIONS = {
    "": "ns",
    "n": "ns",
    "ns": "ns",
    "u": "u",
    "us": "u",
    "µs": "u",
    "ms": "ms",
    "s": "s",
    "m": "m",
    "h": "h",
}


def create_statement(database: str, retention_policy: str) -> str:
    """What ``.create()`` sends (Kapacitor's exact text)."""
    text = f"CREATE DATABASE {quote_ident(database)}"
    if retention_policy:
        text += f" WITH NAME {quote_ident(retention_policy)}"
    return text


@dataclass(slots=True, eq=False)
class _Write:
    """One request's worth of points: encoded lines of one (database, retention policy)."""

    database: str
    retention_policy: str
    lines: list[str] = field(default_factory=list)
    attempts: int = 0


@register("influxDBOut")
class InfluxDBOutNode(Node):
    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        self.cluster_name: str = p.get("cluster", "") or ""
        try:
            self.cluster: InfluxDBCluster = ctx.services.influxdb.get(self.cluster_name)
        except KeyError as exc:
            reason = exc.args[0] if exc.args else str(exc)
            raise TaskError(f"{self.name}: failed to get InfluxDB client: {reason}") from None
        self.database: str = p.get("database", "") or ""
        self.retention_policy: str = p.get("retentionPolicy", "") or ""
        self.measurement: str = p.get("measurement", "") or ""
        self.consistency: str = p.get("writeConsistency", "") or ""
        written = p.get("precision", "") or ""
        precision = _PRECISIONS.get(written)
        if precision is None:
            raise TaskError(
                f'{self.name}: invalid precision "{written}": use one of ns, u, ms, s, m, h'
            )
        self.precision: str = precision
        self.tags: dict[str, str] = dict(p.get("tags", {}) or {})
        self.size = max(1, int(p.get("buffer", 1000)))
        self.flush_interval = int(p.get("flushInterval", 10_000_000_000))
        if self.flush_interval <= 0:
            raise TaskError(f"{self.name}: flushInterval must be positive")
        self.create = bool(p.get("create", False))
        if self.create and not self.database:
            raise TaskError(f"{self.name}: .create() needs .database(): the database to create")
        self._created = not self.create
        #: points waiting to be written beyond which the oldest writes go (None: no limit,
        #: in replay, where the whole recording is routed before the loop runs)
        self.max_backlog: int | None = None if ctx.services.simulated else MAX_BACKLOG
        self.stop_timeout = STOP_TIMEOUT
        self._buffers: dict[tuple[str, str], _Write] = {}
        self._queue: deque[_Write] = deque()
        self._backlog = 0  # points in the queue
        self._in_flight: _Write | None = None
        self._sender: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()
        self._wake: asyncio.Future[None] | None = None
        self._backing_off = False
        self._stopping = False
        self._cancel_tick: Callable[[], None] | None = None
        self._next_tick = 0
        self._reasons: set[str] = set()
        self._dropping = False
        self._failing = False
        self._no_database_logged = False
        self.points_written = 0
        self.write_errors = 0
        self.points_dropped = 0

    @property
    def extra_stats(self) -> Mapping[str, int]:
        """Kapacitor's node statistics of an influxDBOut (and the points dropped)."""
        return {
            "points_written": self.points_written,
            "write_errors": self.write_errors,
            "points_dropped": self.points_dropped,
        }

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, nodes: Mapping[str, Node]) -> None:
        """Start the flush ticker (called by ``Task.start``) and, with ``.create()``, create
        the database at once if the event loop runs (else before the first write)."""
        self._next_tick = self.ctx.clock.now()
        self._schedule_tick()
        if self.create:
            self._kick()

    def _schedule_tick(self) -> None:
        # a ticker: the next flush is one interval after the previous one was due
        self._next_tick += self.flush_interval
        self._cancel_tick = self.ctx.clock.call_at(self._next_tick, self._on_tick)

    def _on_tick(self, now: int) -> None:
        self._schedule_tick()
        self.flush()

    def stop(self) -> None:
        """End of the task: no more ticks; what is buffered is queued for its last write
        (``drain`` sends it)."""
        if self._cancel_tick is not None:
            self._cancel_tick()
            self._cancel_tick = None
        self._stopping = True
        self.flush()
        self._wake_up()

    # --- the per-point path --------------------------------------------------------------

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        self._add(
            self.database or p.db,
            self.retention_policy or p.rp,
            self.measurement or p.name,
            ((p.tags, p.fields, p.time),),
        )
        if self.children:  # (none in a script: influxDBOut provides no edge; a stats() may)
            self.emit_point(p)

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        self._add(
            self.database,
            self.retention_policy,
            self.measurement or b.name,
            [(bp.tags, bp.fields, bp.time) for bp in b.points],
        )
        if self.children:
            self.emit_batch(b)

    def _add(
        self,
        database: str,
        rp: str,
        name: str,
        points: Iterable[tuple[dict[str, str], dict[str, Any], int]],
    ) -> None:
        """Encode ``points`` (tags, fields, time) into the buffer of (database, rp)."""
        if not database:
            self.stats.errors += 1
            if not self._no_database_logged:
                self._no_database_logged = True
                self._log(
                    "failed to write points to InfluxDB",
                    err="no database: points of a batch or of an aggregate carry none; "
                    "set .database()",
                )
            return
        key = (database, rp)
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = _Write(database, rp)
        extra = self.tags
        for tags, fields, time in points:
            if extra:
                tags = {**tags, **extra}
            try:
                buffer.lines.append(
                    format_point(WirePoint(name, tags, fields, time), self.precision)
                )
            except ValueError as exc:
                self.error("failed to write points to InfluxDB", err=str(exc))
        if len(buffer.lines) >= self.size:
            del self._buffers[key]
            self._enqueue(buffer)

    def flush(self) -> None:
        """Queue every buffer for writing (the flush interval, and stop)."""
        buffers = [b for b in self._buffers.values() if b.lines]
        self._buffers.clear()
        for buffer in buffers:
            self._enqueue(buffer)

    def _enqueue(self, write: _Write) -> None:
        if not write.lines:
            return
        self._queue.append(write)
        self._backlog += len(write.lines)
        limit = self.max_backlog
        if limit is not None and self._backlog > limit:
            self._shed(limit)
        self._kick()

    def _shed(self, limit: int) -> None:
        """Drop the oldest waiting writes until the backlog fits; never the write in flight
        nor the newest one."""
        queue = self._queue
        dropped = 0
        while self._backlog > limit:
            first = 1 if queue and queue[0] is self._in_flight else 0
            if len(queue) - first <= 1:
                break
            old = queue[first]
            del queue[first]
            self._backlog -= len(old.lines)
            dropped += len(old.lines)
        if dropped:
            self.points_dropped += dropped
            if not self._dropping:
                self._dropping = True
                self._log(
                    "InfluxDB is not taking writes; dropping the oldest points",
                    dropped=dropped,
                    waiting=self._backlog,
                    cluster=self.cluster.name,
                )

    def _kick(self) -> None:
        """Start the sender if it is not running and an event loop is (else ``drain`` will)."""
        if self._sender is not None and not self._sender.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._sender = loop.create_task(self._send())

    # --- the sender (on the event loop) --------------------------------------------------

    async def _send(self) -> None:
        """Write the queued writes in order; a write that may pass is retried after a backoff
        (later ones wait behind it); at stop, one failure ends it all."""
        try:
            if not self._created and not self._queue:  # started for .create() alone; writes
                await self._create()  # queued meanwhile are sent below, not left waiting
            while self._queue:
                write = self._queue[0]
                self._in_flight = write
                try:
                    done = await self._attempt(write)
                finally:
                    self._in_flight = None
                if done:
                    if self._queue and self._queue[0] is write:
                        self._queue.popleft()
                        self._backlog -= len(write.lines)
                    continue
                if self._stopping:  # InfluxDB cannot be reached: do not hammer it
                    self._give_up("InfluxDB cannot be reached")
                    return
                await self._backoff(write)
        finally:
            self._progress.set()

    async def _attempt(self, write: _Write) -> bool:
        """``.create()``'s statement if it is due, then the write; True when done with the
        write (written, or refused for good), False to try again."""
        write.attempts += 1
        if not self._created and not await self._create():
            return False
        return await self._write(write)

    async def _create(self) -> bool:
        """Send ``.create()``'s statement; False when it failed for a reason that may pass
        (the writes then wait for it)."""
        try:
            await self.cluster.query(
                create_statement(self.database, self.retention_policy), post=True
            )
        except InfluxDBError as exc:
            self._log_once(
                "failed to create database",
                str(exc),
                database=self.database,
                cluster=self.cluster.name,
            )
            if exc.retryable:
                return False
        self._created = True
        return True

    async def _write(self, write: _Write) -> bool:
        """One request; True when done with it (written, or refused for good)."""
        body = ("\n".join(write.lines) + "\n").encode()
        try:
            await self.cluster.write(
                body,
                database=write.database,
                retention_policy=write.retention_policy,
                precision=self.precision,
                consistency=self.consistency,
            )
        except InfluxDBError as exc:
            self.write_errors += 1
            if exc.retryable:
                if not self._failing:
                    self._failing = True
                    self._log(
                        "failed to write points to InfluxDB; retrying",
                        err=str(exc),
                        cluster=self.cluster.name,
                    )
                return False
            self.points_dropped += len(write.lines)
            self._log_once(
                "failed to write points to InfluxDB", str(exc), cluster=self.cluster.name
            )
            return True
        finally:
            self._progress.set()
        self.points_written += len(write.lines)
        if self._failing or self._dropping:
            self._log(
                "writes to InfluxDB resumed",
                level=logging.INFO,
                dropped=self.points_dropped,
                cluster=self.cluster.name,
            )
        self._failing = self._dropping = False
        return True

    async def _backoff(self, write: _Write) -> None:
        """Wait before trying again (on the task clock); ``stop`` cuts the wait short."""
        if self._stopping:
            return
        delay = min(BACKOFF_BASE << min(max(write.attempts - 1, 0), 16), BACKOFF_CAP)
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wake = wake

        def due(_now: int) -> None:
            self._wake_up()

        cancel = self.ctx.clock.call_at(self.ctx.clock.now() + delay, due)
        self._backing_off = True
        self._progress.set()
        try:
            await wake
        finally:
            cancel()
            self._backing_off = False
            self._wake = None

    def _wake_up(self) -> None:
        """End the backoff now (its time came, or the task stops); from here ``drain`` waits
        for the next attempt."""
        wake = self._wake
        if wake is not None and not wake.done():
            self._backing_off = False
            wake.set_result(None)

    def _give_up(self, why: str) -> None:
        """Stopping and InfluxDB is out of reach (or too slow): what is left is dropped."""
        left = self._backlog
        self._queue.clear()
        self._backlog = 0
        self.points_dropped += left
        self._log(
            "task stopped with points not written to InfluxDB",
            err=why,
            dropped=self.points_dropped,
            cluster=self.cluster.name,
        )

    async def drain(self) -> None:
        """Running: wait until the queued writes are done, or are waiting to be retried.
        Stopped: wait for the last writes, at most ``stop_timeout`` seconds."""
        self._kick()
        if self._stopping:
            sender = self._sender
            if sender is None or sender.done():
                return
            try:
                await asyncio.wait_for(asyncio.shield(sender), self.stop_timeout)
            except TimeoutError:
                sender.cancel()
                self._give_up(f"the last writes took more than {self.stop_timeout:g} s")
            return
        # bounded too: an InfluxDB that accepted the connection but never answers must not
        # hold up a task's stop (what is left is written, within the time limit, after stop)
        deadline = asyncio.get_running_loop().time() + self.stop_timeout
        while True:
            sender = self._sender
            if sender is None or sender.done() or self._backing_off:
                return
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), left)
            except TimeoutError:
                return

    # --- logs ----------------------------------------------------------------------------

    def _log(self, message: str, *, level: int = logging.ERROR, **fields: Any) -> None:
        if not self.quiet:
            log.log(
                level,
                message,
                extra={"fields": {"task": self.ctx.task_name, "node": self.name, **fields}},
            )

    def _log_once(self, message: str, reason: str, **fields: Any) -> None:
        key = f"{message}: {reason}"
        if key in self._reasons or len(self._reasons) >= _MAX_REASONS:
            return
        self._reasons.add(key)
        self._log(message, err=reason, **fields)
