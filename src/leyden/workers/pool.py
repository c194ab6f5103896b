"""The server's side of the engine worker pool: placing tasks, forwarding writes, events back.

**Placement.**  A stream task goes to the worker with the fewest tasks, unless it must run in
the server's process: an alert with ``.inhibit()`` or ``.category()`` (inhibition is decided
across tasks, in one place: Kapacitor's alert service does it in one process too), an
``httpOut`` (served from the task's memory by the server), an ``httpPost`` or an
``influxDBOut`` (their requests and flush timers run on an event loop, which a worker only
turns between commands) or a ``kapacitorLoopback`` (its points go back through the server's
own write path, which forwards them to the workers that read them).  Those tasks, and every task
with ``workers = 1``, run in-process as before.

**Writes.**  A body goes, raw, to every worker with a task on its (db, rp); each parses it and
routes the points to its tasks in the body's order, and answers with the count, the bad lines
and the events raised; the server acknowledges the write once every worker (and its own
tasks) are through.  The server's write statistics count a body once.

**Alerts.**  An alert node in a worker registers through a stand-in; the server registers the
same node with its alert service when the task starts (building its handlers, attaching them
to the node's topics), sends back the node's stored states (restored at once, both topics
brought in line as ``restore_event`` would at a group's start), and publishes the events each
write returns, in order.  Topics, the outbox and delivery stay in the server's process.

**Failures.**  A worker that dies is started again and its tasks placed again, from their
definitions: their in-memory state (windows, alert levels not yet stored) is lost, and logged.
Closing stops every task (their last events committed by the alert service), then the workers.

Replay does not use the pool: it runs in one process.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import sys
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from leyden.alerting.service import AlertPublisher, AlertService
from leyden.config import Config
from leyden.engine.node import TaskError
from leyden.engine.nodes.alert_settings import AlertSettings
from leyden.engine.router import Router
from leyden.engine.services import AlertNodeOptions, HTTPEndpoint
from leyden.lineprotocol import LineError
from leyden.log import on_levels, server_level, stream_level
from leyden.logstream import publish
from leyden.model.alert import EventState
from leyden.model.records import TaskRecord
from leyden.tick.pipeline import Pipeline
from leyden.workers.protocol import encode, read_frame

__all__ = [
    "SLICE_LINES",
    "EnginePool",
    "RemoteTask",
    "WorkerDied",
    "WorkerError",
    "shifted",
    "worker_init",
]

log = logging.getLogger("leyden.worker")

#: node kinds that keep a task in the server's process (see the module docstring)
_LOCAL_KINDS = frozenset({"httpOut", "httpPost", "influxDBOut", "kapacitorLoopback"})


class WorkerError(TaskError):
    """A command the worker refused (a task that does not build there, …)."""


class WorkerDied(Exception):
    """The worker process is gone."""


def runs_in_process(pipeline: Pipeline) -> bool:
    """Whether the task must run in the server's process rather than in a worker."""
    if pipeline.task_type != "stream":
        return True
    for spec in pipeline.nodes:
        if spec.kind in _LOCAL_KINDS:
            return True
        if spec.kind == "alert":
            settings = AlertSettings.from_spec(spec.properties)
            if settings.category or settings.inhibitors:
                return True
    return False


class RemoteTask:
    """A task running in a worker, as the task manager and the API see it: its statistics
    and graph as last fetched (:meth:`EnginePool.refresh` before reading them)."""

    def __init__(self, record: TaskRecord) -> None:
        self.record = record
        self._stats: dict[str, Any] = {}
        self._dots = ("", "")

    def stats(self) -> dict[str, Any]:
        return self._stats

    def dot(self, task_id: str, labels: bool) -> str:
        return self._dots[1 if labels else 0]


class _Gate:
    """At most ``limit`` write slices in a worker; who waits goes in by (slices left, order)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inside = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []

    async def enter(self, left: int, seq: int) -> None:
        if self.inside < self.limit and not self._waiting:
            self.inside += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (left, seq, turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.leave()  # let in just as it was cancelled: pass the place on
            raise

    def leave(self) -> None:
        self.inside -= 1
        while self._waiting and self.inside < self.limit:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                self.inside += 1
                turn.set_result(None)


class _Worker:
    """One worker process and the tasks placed on it.

    Commands are pipelined: each is written at once and its answer awaited later, answers
    coming back in the order the commands went (one reader per worker).  ``lock`` is held to
    send a command, and through a sequence that must not let another command in between
    (placing a task: start, register its alert nodes here, restore)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: asyncio.subprocess.Process | None = None
        self.lock = asyncio.Lock()
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.reader: asyncio.Task[None] | None = None
        self.gate = _Gate(IN_FLIGHT)
        self.tasks: dict[str, RemoteTask] = {}
        self.alive = False

    def reads(self, db: str, rp: str) -> bool:
        return any(not t.record.dbrps or (db, rp) in t.record.dbrps for t in self.tasks.values())


class EnginePool:
    """``count`` engine worker processes; see the module docstring."""

    def __init__(
        self,
        *,
        config: Config,
        count: int,
        alerts: AlertService,
        router: Router,
        alert_options: AlertNodeOptions,
        httppost_endpoints: Mapping[str, HTTPEndpoint],
    ) -> None:
        self.config = config
        self.alerts = alerts
        self.router = router
        self._init = worker_init(config, alert_options, httppost_endpoints)
        self.workers = [_Worker(i) for i in range(count)]
        self._publishers: dict[tuple[str, str], AlertPublisher] = {}
        #: in-process tasks' dbrps (None: every dbrp), so a write knows whether to route here
        self._local: dict[str, tuple[tuple[str, str], ...]] = {}
        self._restarts: set[asyncio.Task[None]] = set()
        self._seq = 0
        self._closing = False
        self._stop_levels: Callable[[], None] = lambda: None
        self._telling: set[asyncio.Task[None]] = set()

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(worker) for worker in self.workers))
        self._stop_levels = on_levels(self._levels_changed)

    def _levels_changed(self, server: int, stream: int | None) -> None:
        """``leyden level`` or a log stream opened or closed: every worker follows."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for worker in self.workers:
            if worker.alive:
                told = loop.create_task(self._tell_levels(worker, server, stream))
                self._telling.add(told)
                told.add_done_callback(self._telling.discard)

    async def _tell_levels(self, worker: _Worker, server: int, stream: int | None) -> None:
        try:
            async with worker.lock:
                await self._call(worker, ("log_levels", server, stream))
        except (WorkerDied, WorkerError):
            pass  # a worker started again is told at its start

    async def _spawn(self, worker: _Worker) -> None:
        worker.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "leyden.workers.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**30,
        )
        worker.alive = True
        worker.reader = asyncio.ensure_future(self._read_answers(worker))
        await self._call(worker, self._init)
        if server_level() or stream_level() is not None:
            await self._call(worker, ("log_levels", server_level(), stream_level()))

    async def close(self) -> None:
        """Stop the workers (their tasks were stopped by the task manager first)."""
        self._closing = True
        self._stop_levels()
        for restart in list(self._restarts):
            await restart
        for worker in self.workers:
            if worker.alive:
                try:
                    async with worker.lock:
                        await self._call(worker, ("close",))
                except (WorkerDied, WorkerError):
                    pass
            if worker.proc is not None:
                await worker.proc.wait()
            if worker.reader is not None:
                await worker.reader
            worker.alive = False

    # --- tasks -----------------------------------------------------------------------------

    def accepts(self, pipeline: Pipeline) -> bool:
        return not runs_in_process(pipeline)

    def note_local(self, task_id: str, dbrps: tuple[tuple[str, str], ...] | None) -> None:
        """An in-process task started (dbrps) or stopped (None)."""
        if dbrps is None:
            self._local.pop(task_id, None)
        else:
            self._local[task_id] = dbrps

    async def start_task(self, record: TaskRecord) -> RemoteTask:
        worker = min(self.workers, key=lambda w: (len(w.tasks), w.index))
        task = RemoteTask(record)
        await self._place(worker, task)
        return task

    async def _place(self, worker: _Worker, task: RemoteTask) -> None:
        record = task.record
        async with worker.lock:
            registered = await self._call(
                worker,
                (
                    "start",
                    record.id,
                    record.tickscript,
                    dict(record.vars),
                    list(record.dbrps),
                    self.alerts.global_state_changes_only(),
                ),
            )
            states: dict[str, tuple[bool, dict[str, EventState]]] = {}
            try:
                for task_id, node, options in registered:
                    publisher = self.alerts.register_alert_node(task=task_id, node=node, **options)
                    self._publishers[(task_id, node)] = publisher
                    wanted = publisher.anon_topic is not None or publisher.topic is not None
                    states[node] = (wanted, _restored(self.alerts, publisher))
            except Exception:  # a handler refused here: nothing of the task stays anywhere
                for key in [k for k in self._publishers if k[0] == record.id]:
                    self._publishers.pop(key).close()
                await self._call(worker, ("stop", record.id, False))
                raise
            await self._call(worker, ("restore", record.id, states))
            worker.tasks[record.id] = task

    async def stop_task(self, task: RemoteTask, *, delete: bool = False) -> None:
        worker = self._worker_of(task.record.id)
        if worker is None:
            return
        del worker.tasks[task.record.id]
        try:
            async with worker.lock:
                await self._call(worker, ("stop", task.record.id, delete))
        except WorkerDied:
            # the task went with its worker: close its alert nodes here
            for key in [k for k in self._publishers if k[0] == task.record.id]:
                publisher = self._publishers.pop(key)
                publisher.delete() if delete else publisher.close()

    async def refresh(self, task: RemoteTask) -> None:
        """Fetch the task's statistics and graph from its worker."""
        worker = self._worker_of(task.record.id)
        if worker is None:
            return
        try:
            async with worker.lock:
                stats, dot, labelled = await self._call(worker, ("stats", task.record.id))
        except (WorkerDied, WorkerError):
            return
        # deliveries lost are the alert node's errors, counted here where delivery runs
        for (task_id, node), publisher in self._publishers.items():
            if task_id == task.record.id and node in stats.get("node-stats", {}):
                stats["node-stats"][node]["errors"] += publisher.delivery_errors
        task._stats, task._dots = stats, (dot, labelled)

    def _worker_of(self, task_id: str) -> _Worker | None:
        return next((w for w in self.workers if task_id in w.tasks), None)

    # --- writes ----------------------------------------------------------------------------

    def rps_read(self, db: str) -> set[str]:
        """The retention policies the workers' tasks read in ``db`` (the router's warning
        about writes without one)."""
        return {
            r for w in self.workers for t in w.tasks.values() for d, r in t.record.dbrps if d == db
        }

    def reads_in_process(self, db: str, rp: str) -> bool:
        rp = rp or self.router.default_retention_policy
        return any(not dbrps or (db, rp) in dbrps for dbrps in self._local.values())

    async def write(
        self, db: str, rp: str, body: bytes, *, precision: str, now_ns: int
    ) -> tuple[int, list[LineError], dict[str, int]] | None:
        """Forward ``body`` to the workers that read (db, rp); their count, bad lines and
        points per measurement, or None when no worker reads it.  Returns once every one of
        them is through."""
        rp = rp or self.router.default_retention_policy
        if self._restarts:  # a write after a worker died waits for its tasks to be back
            await asyncio.gather(*self._restarts, return_exceptions=True)
        targets = [w for w in self.workers if w.alive and w.reads(db, rp)]
        if not targets:
            return None
        slices = _slices(body)
        answers = await asyncio.gather(
            *(self._write_one(w, db, rp, precision, now_ns, slices) for w in targets),
            return_exceptions=True,
        )
        counted = [a for a in answers if isinstance(a, tuple)]
        if not counted:
            return None
        return counted[0]

    async def _write_one(
        self,
        worker: _Worker,
        db: str,
        rp: str,
        precision: str,
        now_ns: int,
        slices: list[tuple[int, bytes]],
    ) -> tuple[int, list[LineError], dict[str, int]]:
        """The slices in order, each when the worker's gate lets it in: at most
        :data:`IN_FLIGHT` slices wait in a worker, and the write with the fewest slices left
        sends next (as the in-process feed: a one-line write passes big bodies, and the body
        nearest its end finishes first, so its client sends the next one meanwhile)."""
        self._seq += 1
        seq = self._seq
        answers: list[tuple[int, asyncio.Future[Any]]] = []
        try:
            for i, (offset, part) in enumerate(slices):
                await worker.gate.enter(len(slices) - i, seq)
                try:
                    async with worker.lock:
                        answer = await self._send(
                            worker, ("write", db, rp, precision, now_ns, part)
                        )
                except BaseException:
                    worker.gate.leave()
                    raise
                answer.add_done_callback(lambda _: worker.gate.leave())
                answers.append((offset, answer))
            accepted = 0
            errors: list[LineError] = []
            names: dict[str, int] = {}
            for offset, answer in answers:
                count, bad, routed, per_name = await answer
                accepted += count
                errors.extend(shifted(e, offset) for e in bad)
                self.router.stats.points_routed += routed
                for name, n in per_name.items():
                    names[name] = names.get(name, 0) + n
            return accepted, errors, names
        finally:
            for _, answer in answers:  # a dead worker failed them all: nothing to wait for
                if answer.done() and not answer.cancelled():
                    answer.exception()

    # --- the wire --------------------------------------------------------------------------

    async def _call(self, worker: _Worker, message: Any) -> Any:
        """Send ``message`` and wait for its answer."""
        return await (await self._send(worker, message))

    async def _send(self, worker: _Worker, message: Any) -> asyncio.Future[Any]:
        """Send ``message``; the future of its answer (the payload, or WorkerError/Died)."""
        proc = worker.proc
        if proc is None or proc.stdin is None or not worker.alive:
            raise WorkerDied(f"engine worker {worker.index} is not running")
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.pending.append(answer)
        try:
            proc.stdin.write(encode(message))
            await proc.stdin.drain()
        except (ConnectionError, BrokenPipeError):
            self._died(worker)
        return answer

    async def _read_answers(self, worker: _Worker) -> None:
        """Answers in order: apply their effects, resolve their futures; at the end of the
        stream the worker is gone and every waiting command fails."""
        proc = worker.proc
        assert proc is not None and proc.stdout is not None
        try:
            while True:
                status, payload, effects = await read_frame(proc.stdout)
                self._apply(effects)
                answer = worker.pending.popleft()
                if answer.done():
                    continue
                if status == "ok":
                    answer.set_result(payload)
                else:
                    answer.set_exception(WorkerError(payload))
        except (asyncio.IncompleteReadError, ConnectionError):
            self._died(worker)
        finally:
            while worker.pending:
                answer = worker.pending.popleft()
                if not answer.done():
                    answer.set_exception(WorkerDied(f"engine worker {worker.index} died"))
                    answer.exception()  # retrieved: a caller may have stopped waiting

    def _apply(self, effects: list[tuple[Any, ...]]) -> None:
        """The alert service calls the worker's alert nodes made, in order."""
        for op, task_id, node, *args in effects:
            if op == "log":  # a line for the server's log streams
                publish(args[0], args[1])
                continue
            publisher = self._publishers.get((task_id, node))
            if publisher is None:
                continue
            if op == "publish":
                try:
                    publisher.publish(args[0])
                except Exception:  # as in the alert node: a failing store must not stop writes
                    log.exception("engine worker: publishing an event failed")
            elif op == "close":
                del self._publishers[(task_id, node)]
                publisher.close(dead_reason=args[0])
            elif op == "delete":
                self._publishers.pop((task_id, node), None)
                publisher.delete()

    def _died(self, worker: _Worker) -> None:
        if not worker.alive:
            return
        worker.alive = False
        if self._closing:
            return  # (it was told to exit)
        lost = sorted(worker.tasks)
        log.error(
            "engine worker died; starting it again and placing its tasks again (their state "
            "in memory is lost)",
            extra={"fields": {"worker": worker.index, "tasks": ",".join(lost)}},
        )
        restart = asyncio.ensure_future(self._restart(worker))
        self._restarts.add(restart)
        restart.add_done_callback(self._restarts.discard)

    async def _restart(self, worker: _Worker) -> None:
        for task_id in worker.tasks:
            for key in [k for k in self._publishers if k[0] == task_id]:
                self._publishers.pop(key).close(dead_reason="")
        if worker.proc is not None:
            await worker.proc.wait()
        await self._spawn(worker)
        tasks = list(worker.tasks.values())  # (a task stopped meanwhile is not placed again)
        worker.tasks.clear()
        for task in tasks:
            try:
                await self._place(worker, task)
            except Exception:
                log.exception(
                    "engine worker: a task could not be placed again",
                    extra={"fields": {"task": task.record.id}},
                )


#: lines per write command; a slice is a few milliseconds of a worker's time
SLICE_LINES = 200
#: write slices sent to a worker ahead of their answers: the worker never waits for the
#: server, and a small write waits behind at most this many slices
IN_FLIGHT = 3


def _slices(body: bytes) -> list[tuple[int, bytes]]:
    """``body`` cut between lines into (lines before, slice); a body with a double quote may
    continue a string over a newline, so it goes whole."""
    if b'"' in body or body.count(b"\n") < SLICE_LINES:
        return [(0, body)]
    lines = body.split(b"\n")
    return [
        (start, b"\n".join(lines[start : start + SLICE_LINES]))
        for start in range(0, len(lines), SLICE_LINES)
    ]


def worker_init(
    config: Config, alert_options: AlertNodeOptions, httppost_endpoints: Mapping[str, HTTPEndpoint]
) -> dict[str, Any]:
    """A worker's first message: what it needs of the config, and no more.  The whole Config
    would carry the integrations' sections, whose classes, unpickled, would import every
    integration and the HTTP client into the worker (a third of its start-up)."""
    return {
        "logging": (config.logging.file, config.logging.level),
        "default_retention_policy": config.default_retention_policy,
        "hostname": config.hostname,
        "max_groups_per_task": config.engine.max_groups_per_task,
        "alert_options": alert_options,
        "httppost_endpoints": dict(httppost_endpoints),
    }


def shifted(error: LineError, offset: int) -> LineError:
    """``error`` of a slice starting after ``offset`` lines, numbered as in the whole body."""
    if not offset:
        return error
    line = error.line + offset
    prefix = f"line {error.line}:"
    message = error.message
    if message.startswith(prefix):
        message = f"line {line}:" + message[len(prefix) :]
    return LineError(line, error.column, message, error.text)


def _restored(alerts: AlertService, publisher: AlertPublisher) -> dict[str, EventState]:
    """Every stored state of the node's topics, as ``restore_event`` answers for each ID."""
    ids: set[str] = set()
    for topic_id in (publisher.anon_topic, publisher.topic):
        topic = alerts.topics.get(topic_id) if topic_id else None
        if topic is not None:
            ids.update(topic.event_states())
    restored = {}
    for event_id in sorted(ids):
        state = publisher.restore_event(event_id)
        if state is not None:
            restored[event_id] = state
    return restored
