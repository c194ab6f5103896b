"""One engine worker process: a router and the tasks placed on it, driven over stdin/stdout.

Started by :class:`leyden.workers.pool.EnginePool` as ``python -m leyden.workers.worker``.
It reads one command at a time (:mod:`.protocol`) and answers each before reading the next,
so the commands of the server reach it in order: a write's points are routed in the body's
order, and a task placed or stopped between two writes sees exactly the writes after (or
before) it.  Alert nodes register with :class:`WorkerAlerts`, a stand-in for the server's
alert service: what they publish goes back with the answer to the write that raised it, and
the server's alert service (topics, outbox, delivery) does the rest, in the server's process.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import Counter
from collections.abc import Mapping
from operator import attrgetter
from typing import Any, BinaryIO

from leyden import lineprotocol
from leyden.clock import WallClock
from leyden.engine.router import Router
from leyden.engine.services import (
    DEFAULT_MAX_GROUPS,
    AlertNodeOptions,
    HTTPEndpoint,
    TaskServices,
)
from leyden.log import entry, set_level_number, setup_logging, want_level
from leyden.logstream import portable
from leyden.model.alert import Event, EventState, Level
from leyden.tasks.release import release_memory
from leyden.tasks.runner import TaskRunner, build
from leyden.tasks.stats import RunningTask
from leyden.workers.protocol import read_frame_sync, write_frame_sync

__all__ = ["RemoteSink", "WorkerAlerts", "WorkerEngine", "main"]

log = logging.getLogger("leyden.worker")

_NAME = attrgetter("name")


class RemoteSink:
    """An alert node's door to the server's alert service, from a worker."""

    def __init__(self, alerts: WorkerAlerts, task: str, node: str) -> None:
        self._alerts = alerts
        self.task = task
        self.node = node
        #: a global handler's state-changes-only, as the server's service said at start
        self.state_changes_only = alerts.state_changes_only
        #: the stored states of the node's topics, by alert ID (sent by the server at start)
        self.states: Mapping[str, EventState] = {}
        #: whether the server reads this node's events (a topic: handlers, a named topic);
        #: an event nobody reads is not shipped
        self.wanted = True

    def publish(self, event: Event) -> None:
        if self.wanted:
            self._alerts.effects.append(("publish", self.task, self.node, event))

    def publish_unread(self, event_id: str, level: Level) -> bool:
        """The alert node's shortcut (:class:`~leyden.engine.services.AlertSink`): an event
        the server would not read is not even built.  Listeners never see worker events (they
        are a replay feature, and replay runs in one process), so no level is kept here."""
        return not self.wanted

    def is_inhibited(self, category: str, tags: Mapping[str, str]) -> bool:
        # tasks that inhibit or may be inhibited stay in the server's process (pool.accepts)
        return False

    def restore_event(self, event_id: str) -> EventState | None:
        return self.states.get(event_id)

    def close(self, *, dead_reason: str = "") -> None:
        self._alerts.effects.append(("close", self.task, self.node, dead_reason))

    def delete(self) -> None:
        self._alerts.effects.append(("delete", self.task, self.node))


class WorkerAlerts:
    """What alert nodes in a worker register with: the calls go back to the server."""

    def __init__(self) -> None:
        self.state_changes_only = False
        self.effects: list[tuple[Any, ...]] = []
        self.registered: list[tuple[str, str, dict[str, Any]]] = []
        self.sinks: dict[tuple[str, str], RemoteSink] = {}

    def register_alert_node(self, *, task: str, node: str, **options: Any) -> RemoteSink:
        sink = RemoteSink(self, task, node)
        self.sinks[(task, node)] = sink
        self.registered.append((task, node, options))
        return sink

    def take_effects(self) -> list[tuple[Any, ...]]:
        effects, self.effects = self.effects, []
        return effects


class LogsBack(logging.Handler):
    """While the server has a log stream open (``leyden logs``/``watch``), the worker's log
    lines from that stream's level up go back with the answers too, as ``("log", "", "",
    level, key/values)`` effects, for the server's streams; its own log file has them
    already.  Off (``wanted`` None) otherwise: then nothing is kept."""

    #: not a file handler: :mod:`leyden.log` leaves its level alone
    log_stream = True

    def __init__(self, alerts: WorkerAlerts) -> None:
        super().__init__(logging.NOTSET)
        self._alerts = alerts
        self.wanted: int | None = None
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        wanted = self.wanted
        if wanted is None or record.levelno < wanted:
            return
        try:
            pairs = portable(entry(record, self._formatter))
            self._alerts.effects.append(("log", "", "", record.levelno, pairs))
        except Exception:
            self.handleError(record)


class WorkerEngine:
    """The commands a worker answers; see :mod:`leyden.workers.pool` for the other side."""

    def __init__(
        self,
        *,
        default_retention_policy: str,
        hostname: str,
        alert_options: AlertNodeOptions,
        httppost_endpoints: Mapping[str, HTTPEndpoint],
        max_groups_per_task: int = DEFAULT_MAX_GROUPS,
    ) -> None:
        self.alerts = WorkerAlerts()
        self.router = Router(default_retention_policy)
        services = TaskServices(
            alerts=self.alerts,
            alert_options=alert_options,
            httppost_endpoints=httppost_endpoints,
            max_groups_per_task=max_groups_per_task,
        )
        self.runner = TaskRunner(
            router=self.router, services=services, clock=WallClock(), hostname=hostname
        )
        self.running: dict[str, RunningTask] = {}
        self.loop = asyncio.new_event_loop()
        #: on the ``leyden`` logger in a worker process (``main``)
        self.logs_back = LogsBack(self.alerts)

    def handle(self, message: tuple[Any, ...]) -> Any:
        op = message[0]
        method = getattr(self, f"do_{op}", None)
        if method is None:
            raise ValueError(f"unknown command {op!r}")
        return method(*message[1:])

    def do_start(
        self,
        task_id: str,
        script: str,
        vars_: Mapping[str, Any],
        dbrps: list[tuple[str, str]],
        state_changes_only: bool,
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """Build and subscribe the task; the alert nodes' registrations for the server."""
        self.alerts.state_changes_only = state_changes_only
        self.alerts.registered = []
        # the server checked the pipeline against the same registries before placing it
        pipeline = build(script, filename=task_id, vars=vars_)
        task = self.runner.start(task_id, pipeline, dbrps)
        self.running[task_id] = RunningTask.started(task)
        return self.alerts.registered

    def do_restore(
        self, task_id: str, states: Mapping[str, tuple[bool, Mapping[str, EventState]]]
    ) -> None:
        for node, (wanted, by_id) in states.items():
            sink = self.alerts.sinks.get((task_id, node))
            if sink is not None:
                sink.wanted = wanted
                sink.states = by_id

    def do_write(
        self, db: str, rp: str, precision: str, now_ns: int, body: bytes
    ) -> tuple[int, list[lineprotocol.LineError], int, dict[str, int]]:
        """The points accepted, the bad lines, the points routed, and the points per
        measurement (the server's ``ingress`` statistics: it did not parse the body)."""
        result = lineprotocol.parse(body, precision=precision, now_ns=now_ns)
        before = self.router.stats.points_routed
        self.router.write_points(db, rp, result.points)
        routed = self.router.stats.points_routed - before
        names = dict(Counter(map(_NAME, result.points)))
        return len(result.points), result.errors, routed, names

    def do_stats(self, task_id: str) -> tuple[dict[str, Any], str, str]:
        entry = self.running[task_id]
        return entry.stats(), entry.dot(task_id, False), entry.dot(task_id, True)

    def do_stop(self, task_id: str, delete: bool) -> None:
        entry = self.running.pop(task_id, None)
        if entry is not None:
            self.loop.run_until_complete(self.runner.stop(entry.task, delete=delete))
            for key in [k for k in self.alerts.sinks if k[0] == task_id]:
                del self.alerts.sinks[key]
            del entry  # the last reference to the task's nodes and every group they held
            release_memory()

    def do_log_levels(self, server: int, stream: int | None) -> None:
        """The server's level (``leyden level``), and the lowest level its open log streams
        want (None: none open)."""
        if server:  # 0: the server's level was never set; keep the configured one
            set_level_number(server)
        self.logs_back.wanted = stream
        want_level(id(self.logs_back), stream)

    def do_close(self) -> None:
        for task_id in list(self.running):
            self.do_stop(task_id, False)


def serve(engine: WorkerEngine, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer commands until ``close`` or the end of ``stdin``."""
    while True:
        message = read_frame_sync(stdin)
        if message is None:
            engine.do_close()
            return
        try:
            payload = engine.handle(message)
            status = "ok"
        except Exception as exc:  # the server decides; the worker keeps serving
            if message[0] not in ("start",):
                log.exception("engine worker command failed", extra={"fields": {"op": message[0]}})
            status, payload = "error", str(exc) or type(exc).__name__
        write_frame_sync(stdout, (status, payload, engine.alerts.take_effects()))
        if message[0] == "close":
            return


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the frames
    init = read_frame_sync(stdin)
    if init is None:
        return
    setup_logging(*init["logging"])
    engine = WorkerEngine(
        default_retention_policy=init["default_retention_policy"],
        hostname=init["hostname"],
        alert_options=init["alert_options"],
        httppost_endpoints=init["httppost_endpoints"],
        max_groups_per_task=init["max_groups_per_task"],
    )
    logging.getLogger("leyden").addHandler(engine.logs_back)
    write_frame_sync(stdout, ("ok", None, []))
    serve(engine, stdin, stdout)


if __name__ == "__main__":
    main()
