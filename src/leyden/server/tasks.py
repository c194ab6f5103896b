"""Tasks in the server: Kapacitor's task store and task master, and its ``/tasks`` API.

:class:`TaskManager` keeps every task in the :class:`~leyden.store.Store` and runs the enabled
ones against the :class:`~leyden.engine.Engine`'s router on the wall clock.  It follows
``services/task_store/service.go`` for the rules and error texts (semantics §6.2), with three
additions a user notices:

* a TICKscript error carries its position (``position`` in the error body), so the CLI can show
  the line of the user's file with a caret under the mistake;
* builder warnings (``'count' > 0`` compares a string with a number …) come back as a
  ``warnings`` list in the create/update response instead of being silent;
* a handler its integration refuses (``.discord().workspace('x')`` naming a workspace the server
  does not have) is refused when the task is defined, listing the configured workspaces, rather
  than failing at the first alert.

Starting and stopping follow the engine's contract: ``drain → stop → drain`` so work a node
handed off (httpPost requests, joins flushed by ``stop``) is finished before the task goes.
A task that cannot start keeps its status, is not executing, and has the reason in ``error``
(Kapacitor's ``saveLastError``).
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from leyden import API_BASE
from leyden.clock import Clock, WallClock
from leyden.engine.node import NODE_TYPES, Node, TaskContext
from leyden.engine.task import Task, TaskError, _load_node_modules
from leyden.go.time import GO_ZERO_TIME
from leyden.go.types import Duration, GoStruct, Time, go_json
from leyden.model.records import TaskRecord
from leyden.notify import INTEGRATIONS
from leyden.notify.base import IntegrationError
from leyden.server._http import SERVICES_KEY, error_response, json_response, link
from leyden.store import Store
from leyden.tick.errors import TickError
from leyden.tick.pipeline import Pipeline, TickWarning

if TYPE_CHECKING:
    from leyden.alerting.service import AlertService
    from leyden.config import Config
    from leyden.engine import Engine

__all__ = ["TaskAPIError", "TaskManager", "install", "normalize_vars"]

log = logging.getLogger("leyden.task")

TASKS_PATH = f"{API_BASE}/tasks"
ALL_FIELDS = (
    "link",
    "id",
    "type",
    "dbrps",
    "script",
    "dot",
    "status",
    "executing",
    "error",
    "stats",
    "created",
    "modified",
    "last-enabled",
    "vars",
    "template-id",
)
VAR_TYPES = ("bool", "int", "float", "string", "regex", "duration", "lambda", "list", "star")
_NS_PER_S = 1_000_000_000


class TaskAPIError(Exception):
    """A refused request: the HTTP status, Kapacitor's text, and extra body keys if any."""

    def __init__(self, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = extra


def _valid_id(task_id: str) -> bool:
    """Kapacitor's ``^[-\\._\\p{L}0-9]+$``."""
    return bool(task_id) and all(c.isalpha() or c in "0123456789-._" for c in task_id)


# --- vars ------------------------------------------------------------------------------------


def _normalize_var(name: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
        raise ValueError(f'invalid var {name}: expected an object with "type" and "value"')
    kind = spec["type"]
    if kind not in VAR_TYPES:
        raise ValueError(
            f'invalid var {name}: unknown var type "{kind}" (one of {", ".join(VAR_TYPES)})'
        )
    value = spec.get("value")
    description = spec.get("description") or ""
    if not isinstance(description, str):
        raise ValueError(f"invalid var {name}: description must be a string")

    def bad(expected: str) -> ValueError:
        return ValueError(f"invalid var {name}: expected {expected} value, got {value!r}")

    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("a bool")
    elif kind == "int":
        if type(value) is not int:
            raise bad("an int")
    elif kind == "float":
        if type(value) not in (int, float):
            raise bad("a float")
        value = float(value)
    elif kind == "string":
        if not isinstance(value, str):
            raise bad("a string")
    elif kind == "regex":
        if not isinstance(value, str):
            raise bad("a regex pattern (string)")
        from leyden.tick.values import compile_go_regex

        try:
            compile_go_regex(value)
        except (re.error, ValueError) as exc:
            raise ValueError(f"invalid var {name}: invalid regex pattern: {exc}") from None
    elif kind == "duration":
        if isinstance(value, str):
            from leyden.tick.values import parse_duration_influxql

            try:
                value = int(parse_duration_influxql(value))
            except (TickError, ValueError) as exc:
                why = exc.message if isinstance(exc, TickError) else str(exc)
                raise ValueError(f"invalid var {name}: invalid duration string: {why}") from None
        elif type(value) is not int:
            raise bad("a duration (nanoseconds or a string like 10s)")
    elif kind == "lambda":
        if not isinstance(value, str):
            raise bad("a lambda expression (string, without 'lambda:')")
        from leyden.tick.parser import parse_lambda

        try:
            parse_lambda(value, f"var {name}")
        except TickError as exc:
            raise ValueError(
                f"invalid var {name}: invalid lambda expression: {exc.message}"
            ) from None
    elif kind == "list":
        if not isinstance(value, list):
            raise bad("a list of vars")
        value = [_normalize_var(f"{name}[{i}]", item) for i, item in enumerate(value)]
    elif kind == "star":
        value = None
    return {"type": kind, "value": value, "description": description}


def normalize_vars(raw: Any) -> dict[str, dict[str, Any]]:
    """Kapacitor's vars JSON, checked, with durations as nanoseconds (the stored form)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError('invalid vars: expected an object {"name": {"type": …, "value": …}}')
    return {str(name): _normalize_var(str(name), spec) for name, spec in raw.items()}


# --- building ---------------------------------------------------------------------------------


def _position(err: TickError) -> dict[str, int]:
    return {
        "line": err.line,
        "column": err.col,
        "caret-column": err.caret_col,
        "length": err.length,
    }


def _tick_error(task_id: str, err: TickError) -> TaskAPIError:
    return TaskAPIError(
        f"invalid TICKscript: {err}",
        400,
        position=_position(err),
        reason=err.message,
    )


def _warning_json(w: TickWarning) -> dict[str, Any]:
    return {"line": w.line, "column": w.col, "message": w.message}


def _integration_error(
    task_id: str, script: str, pipeline: Pipeline, services: Mapping[str, Any]
) -> None:
    """Refuse a handler its integration refuses at definition (``.discord().workspace('x')``
    when the server has no workspace ``x``)."""
    for node in pipeline.nodes:
        for handler in node.handlers:
            integration = INTEGRATIONS.get(handler.kind)
            service = services.get(handler.kind)
            if integration is None or integration.check is None or service is None:
                continue
            problem = integration.check(handler.properties, service, True)
            if problem is None:
                continue
            raise _tick_error(
                task_id,
                _locate(task_id, script, handler.pos, problem.prop, problem.value, problem.message),
            )


def _locate(task_id: str, script: str, pos: Any, prop: str, name: str, message: str) -> TickError:
    """A TickError at the ``'name'`` argument of ``.<prop>(...)`` after ``pos``."""
    data = script.encode()
    start = pos.offset if pos is not None else 0
    method = re.escape(f".{prop}(".encode())
    found = re.compile(method + rb"\s*(['\"])").search(data, start) if prop else None
    if found is not None and data[found.end() : found.end() + len(name.encode())] == name.encode():
        offset = found.end(1) - 1
    elif pos is not None:
        offset = pos.offset
    else:
        return TickError(message, filename=task_id)
    line_start = data.rfind(b"\n", 0, offset) + 1
    line_end = data.find(b"\n", offset)
    source = data[line_start : line_end if line_end >= 0 else len(data)].decode(errors="replace")
    col = offset - line_start + 1
    caret = len(data[line_start:offset].decode(errors="ignore")) + 1
    return TickError(
        message,
        filename=task_id,
        line=data.count(b"\n", 0, offset) + 1,
        col=col,
        offset=offset,
        source_line=source,
        length=len(name) + 2,
        caret_col=caret,
    )


# --- running tasks ---------------------------------------------------------------------------


class _Throughput:
    """Points per second into a task's sources, re-measured at most once a second on request
    (Kapacitor samples every second; nothing here runs when nobody asks)."""

    __slots__ = ("count", "rate", "since")

    def __init__(self, count: int) -> None:
        self.since = time.monotonic_ns()
        self.count = count
        self.rate = 0.0

    def sample(self, count: int) -> float:
        now = time.monotonic_ns()
        elapsed = now - self.since
        if elapsed >= _NS_PER_S:
            self.rate = (count - self.count) / (elapsed / _NS_PER_S)
            self.since, self.count = now, count
        return self.rate


@dataclass
class _Running:
    task: Task
    throughput: _Throughput


def _source_count(task: Task) -> int:
    return sum(n.stats.collected for n in task.nodes.values() if n.kind in ("stream", "batch"))


def _node_stats(task: Task, node: Node) -> dict[str, Any]:
    """Kapacitor's per-node statMap: ``avg_exec_time_ns`` from the task's sampled timings
    (``ExecTimes``), ``working_cardinality`` from nodes that define ``cardinality()``."""
    cardinality = getattr(node, "cardinality", None)
    stats: dict[str, Any] = {
        "avg_exec_time_ns": task.exec_times.avg_ns(node.name),
        "errors": node.stats.errors,
        "working_cardinality": int(cardinality()) if callable(cardinality) else 0,
    }
    extra = getattr(node, "alert_stats", None)
    if isinstance(extra, Mapping):
        stats.update(extra)
    return stats


def executing_dot(task_id: str, running: _Running, labels: bool) -> str:
    """Kapacitor's ``EDot``: the graph with each node's statistics and edge counts."""
    task = running.task
    rate = running.throughput.sample(_source_count(task))
    unit = "batches" if task.pipeline.task_type == "batch" else "points"
    out = [f"digraph {task_id} {{\n"]
    if labels:
        out.append(
            f'graph [label="Throughput: {rate:0.2f} {unit}/s" forcelabels=true pad="0.8,0.5"];\n'
        )
    else:
        out.append(f'graph [throughput="{rate:0.2f} {unit}/s"];\n')
    for spec in task.pipeline.walk():
        node = task.nodes[spec.name]
        stats = sorted(_node_stats(task, node).items())
        shown = [(k, str(Duration(v)) if k == "avg_exec_time_ns" else str(v)) for k, v in stats]
        if labels:
            out.append(f'\n{node.name} [xlabel="' + r"\r".join(f"{k}={v}" for k, v in shown))
            out.append('"];\n')
        else:
            out.append(f"\n{node.name} [" + "".join(f'{k}="{v}" ' for k, v in shown) + "];\n")
        for child in spec.children:
            if labels:
                out.append(
                    f'{node.name} -> {child.name} [label="processed={node.stats.emitted}"];\n'
                )
            else:
                out.append(f'{node.name} -> {child.name} [processed="{node.stats.emitted}"];\n')
    out.append("}")
    return "".join(out)


def _time(ns: int | None) -> str | Time:
    return GO_ZERO_TIME if ns is None else Time(ns)


class TaskManager:
    """Defines, stores, starts and stops tasks; one per server."""

    def __init__(
        self,
        *,
        engine: Engine,
        alerts: AlertService,
        integrations: Mapping[str, Any],
        config: Config,
        store: Store | None = None,
        clock: Clock | None = None,
        now: Callable[[], int] = time.time_ns,
    ) -> None:
        self.engine = engine
        self.alerts = alerts
        self.integrations = integrations
        self.config = config
        self._owned_store = store is None
        self.store = store if store is not None else Store(":memory:")
        self.clock: Clock = clock or WallClock()
        self._now = now
        self._running: dict[str, _Running] = {}
        self._pipelines: dict[str, tuple[str, str, Pipeline]] = {}
        self._lock = asyncio.Lock()

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Server start: run every enabled task again (their alert state comes back through
        the alert service's topic store as their alert nodes register)."""
        async with self._lock:
            for record in self.store.list_tasks():
                if record.status != "enabled":
                    continue
                error = self._start(record)
                if error:
                    log.error(
                        "failed to start enabled task",
                        extra={"fields": {"task": record.id, "error": error}},
                    )
                else:
                    log.info("started task", extra={"fields": {"task": record.id}})

    async def close(self) -> None:
        """Server shutdown: stop every running task (their status stays enabled)."""
        async with self._lock:
            for task_id in list(self._running):
                try:
                    await self._stop(task_id)
                except Exception:  # one broken task must not keep the others running
                    log.exception("failed to stop task", extra={"fields": {"task": task_id}})
            if self._owned_store:
                self.store.close()

    # --- queries ---------------------------------------------------------------------------

    def get(self, task_id: str) -> TaskRecord | None:
        return self.store.get_task(task_id)

    def list(self, pattern: str = "", offset: int = 0, limit: int = 100) -> list[TaskRecord]:
        """Tasks whose ID matches the glob ``pattern`` (empty: all), by ID, then paged."""
        records = [
            r for r in self.store.list_tasks() if not pattern or fnmatch.fnmatchcase(r.id, pattern)
        ]
        return records[max(offset, 0) :][: max(limit, 0)]

    def running(self, task_id: str) -> Task | None:
        entry = self._running.get(task_id)
        return entry.task if entry is not None else None

    def is_executing(self, task_id: str) -> bool:
        return task_id in self._running

    def pipeline(self, record: TaskRecord) -> Pipeline:
        """The record's pipeline (cached by script and vars); raises TickError/ValueError."""
        key = (record.tickscript, go_json(dict(record.vars)))
        cached = self._pipelines.get(record.id)
        if cached is not None and cached[:2] == key:
            return cached[2]
        pipeline = self._build(record.id, record.tickscript, dict(record.vars))
        self._pipelines[record.id] = (*key, pipeline)
        return pipeline

    def _build(self, task_id: str, script: str, vars_: Mapping[str, Any]) -> Pipeline:
        from leyden.tick.builder import build_pipeline, task_vars_from_json

        return build_pipeline(script, filename=task_id, task_vars=task_vars_from_json(vars_))

    # --- changes ---------------------------------------------------------------------------

    async def create(self, options: Mapping[str, Any]) -> tuple[TaskRecord, list[TickWarning]]:
        """``POST /tasks``; raises :class:`TaskAPIError` (a start failure is a 500 after the
        task was stored, as in Kapacitor)."""
        async with self._lock:
            return self._create(options)

    def _create(self, options: Mapping[str, Any]) -> tuple[TaskRecord, list[TickWarning]]:
        task_id = _string(options, "id") or str(uuid.uuid4())
        if not _valid_id(task_id):
            raise TaskAPIError(
                f"task ID must contain only letters, numbers, '-', '.' and '_'. \"{task_id}\""
            )
        if self.store.get_task(task_id) is not None:
            raise TaskAPIError(f"task {task_id} already exists")
        template_id = _string(options, "template-id")
        if template_id:
            raise TaskAPIError(f"unknown template {template_id}: err: no template exists")
        _task_type(options)
        script = _string(options, "script")
        if not script:
            raise TaskAPIError("must provide TICKscript")
        explicit = _dbrps(options)
        status = _status(options) or "disabled"
        vars_ = _vars(options)
        pipeline, warnings = self._check(task_id, script, vars_)
        implicit = list(pipeline.dbrps)
        if not implicit and not explicit:
            warnings.append(_no_dbrp(task_id, pipeline))
        if implicit and explicit:
            raise TaskAPIError("cannot specify dbrp in both implicitly and explicitly")
        now = self._now()
        record = TaskRecord(
            id=task_id,
            type=pipeline.task_type,  # type: ignore[arg-type]
            dbrps=tuple(implicit or explicit),
            tickscript=script,
            vars=vars_,
            status=status,  # type: ignore[arg-type]
            created=now,
            modified=now,
            last_enabled=now if status == "enabled" else None,
        )
        self.store.put_task(record)
        if status == "enabled":
            error = self._start(record)
            if error:
                raise TaskAPIError(error, 500)
        return self.store.get_task(task_id) or record, warnings

    async def update(
        self, task_id: str, options: Mapping[str, Any]
    ) -> tuple[TaskRecord, list[TickWarning]]:
        """``PATCH /tasks/<id>``: non-empty fields replace; a status change starts/stops."""
        async with self._lock:
            return await self._update(task_id, options)

    async def _update(
        self, task_id: str, options: Mapping[str, Any]
    ) -> tuple[TaskRecord, list[TickWarning]]:
        original = self.store.get_task(task_id)
        if original is None:
            raise TaskAPIError("task does not exist, cannot update", 404)
        new_id = _string(options, "id") or original.id
        if not _valid_id(new_id):
            raise TaskAPIError(
                f"task ID must contain only letters, numbers, '-', '.' and '_'. \"{new_id}\""
            )
        template_id = _string(options, "template-id")
        if template_id:
            raise TaskAPIError(f"unknown template {template_id}: err: no template exists")
        _task_type(options)
        explicit = _dbrps(options)
        script = original.tickscript
        new_script = _string(options, "script")
        old_implicit = self._implicit_dbrps(task_id, script)
        if new_script:
            script = new_script
            if old_implicit and not self._implicit_dbrps(task_id, script) and not explicit:
                raise TaskAPIError("must specify dbrp")
        implicit = self._implicit_dbrps(task_id, script)
        if implicit and explicit:
            raise TaskAPIError("cannot specify dbrp in implicitly and explicitly")
        dbrps = tuple(implicit or explicit or original.dbrps)
        status = _status(options) or original.status
        status_changed = status != original.status
        vars_ = _vars(options) if options.get("vars") else dict(original.vars)
        pipeline, warnings = self._check(new_id, script, vars_)
        now = self._now()
        updated = replace(
            original,
            id=new_id,
            type=pipeline.task_type,  # type: ignore[arg-type]
            dbrps=dbrps,
            tickscript=script,
            vars=vars_,
            status=status,  # type: ignore[arg-type]
            modified=now,
            last_enabled=now if status_changed and status == "enabled" else original.last_enabled,
        )
        renamed = new_id != original.id
        if renamed:
            if self.store.get_task(new_id) is not None:
                raise TaskAPIError(
                    "failed to create new task during ID change: task already exists", 500
                )
            self.store.put_task(updated, replaces=original.id)
            self._pipelines.pop(original.id, None)
            if original.status == "enabled" and status == "enabled":
                await self._stop(original.id)
                error = self._start(updated)
                if error:
                    raise TaskAPIError(error, 500)
        else:
            self.store.put_task(updated)
        if status_changed:
            if status == "enabled":
                error = self._start(updated)
                if error:
                    raise TaskAPIError(error, 500)
            else:
                await self._stop(original.id)
        return self.store.get_task(new_id) or updated, warnings

    async def delete(self, task_id: str) -> None:
        """``DELETE /tasks/<id>``: an enabled task is stopped and its delete hooks run (its
        anonymous topics and their stored state go); a disabled task's stored state stays."""
        async with self._lock:
            record = self.store.get_task(task_id)
            if record is None:
                return
            if record.status == "enabled":
                await self._stop(task_id, delete=True)
            self._pipelines.pop(task_id, None)
            self.store.delete_task(task_id)

    async def enable(self, task_id: str) -> TaskRecord:
        return (await self.update(task_id, {"status": "enabled"}))[0]

    async def disable(self, task_id: str) -> TaskRecord:
        return (await self.update(task_id, {"status": "disabled"}))[0]

    # --- internals -------------------------------------------------------------------------

    def _implicit_dbrps(self, task_id: str, script: str) -> list[tuple[str, str]]:
        from leyden.tick import ast as A
        from leyden.tick.parser import parse

        try:
            program = parse(script, task_id)
        except TickError as exc:
            raise _tick_error(task_id, exc) from None
        return [
            (n.db.reference, n.rp.reference) for n in program.nodes if isinstance(n, A.DBRPNode)
        ]

    def _check(
        self, task_id: str, script: str, vars_: Mapping[str, Any]
    ) -> tuple[Pipeline, list[TickWarning]]:
        """Build the script as the task will run it; TICKscript errors become 400s."""
        try:
            pipeline = self._build(task_id, script, vars_)
        except TickError as exc:
            raise _tick_error(task_id, exc) from None
        except ValueError as exc:
            raise TaskAPIError(str(exc)) from None
        if pipeline.task_type is None:
            raise TaskAPIError("invalid task type: invalid")
        _integration_error(task_id, script, pipeline, self.integrations)
        return pipeline, list(pipeline.warnings)

    def _context(self, task_id: str) -> TaskContext:
        return TaskContext(
            task_name=task_id,
            clock=self.clock,
            hostname=self.config.hostname,
            services={
                "alerts": self.alerts,
                "config": self.config,
                "store": self.store,
            },
        )

    def _start(self, record: TaskRecord) -> str:
        """Start ``record``; return "" or why it cannot run (also stored as its error)."""
        if record.id in self._running:
            return ""
        error = ""
        try:
            pipeline = self.pipeline(record)
            _load_node_modules()  # NODE_TYPES is complete only once the node modules are imported
            unsupported = pipeline.unsupported(NODE_TYPES, INTEGRATIONS.tick_kinds())
            if unsupported:
                what = ", ".join(sorted({u.what for u in unsupported}))
                raise ValueError(f"task {record.id}: not supported by this server: {what}")
            task = Task(record.id, pipeline, self._context(record.id), record.dbrps)
            try:
                task.start(self.engine)
            except BaseException:
                task.stop(self.engine)  # no half-started task left subscribed
                raise
            self._running[record.id] = _Running(task, _Throughput(_source_count(task)))
        except TickError as exc:
            error = f"invalid TICKscript: {exc}"
        except (TaskError, ValueError, IntegrationError) as exc:  # a node refused its settings
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # a bug: keep the traceback for the log, the text for the user
            log.exception("task failed to start", extra={"fields": {"task": record.id}})
            error = f"{type(exc).__name__}: {exc}"
        current = self.store.get_task(record.id)
        if current is not None and current.error != error:
            self.store.put_task(replace(current, error=error))
        return error

    async def _stop(self, task_id: str, *, delete: bool = False) -> None:
        entry = self._running.pop(task_id, None)
        if entry is None:
            return
        task = entry.task
        await task.drain()
        task.stop(self.engine)
        await task.drain()
        if delete:
            for node in task.nodes.values():
                hook = getattr(node, "delete", None)
                if callable(hook):
                    hook()

    # --- JSON ------------------------------------------------------------------------------

    def _script(self, record: TaskRecord, script_format: str) -> str:
        if script_format == "raw":
            return record.tickscript
        from leyden.tick.fmt import format_script

        try:
            return format_script(record.tickscript, record.id)
        except (TickError, RecursionError):
            return record.tickscript

    def _dot(self, record: TaskRecord, dot_view: str) -> tuple[str, str]:
        """(dot, error): the executing graph with stats, or the static one."""
        entry = self._running.get(record.id)
        if entry is not None:
            return executing_dot(record.id, entry, dot_view == "labels"), ""
        from leyden.tick.dot import to_dot

        try:
            return to_dot(self.pipeline(record), record.id), ""
        except TickError as exc:
            return "", f"invalid TICKscript: {exc}"
        except ValueError as exc:
            return "", str(exc)

    def _stats(self, task_id: str) -> dict[str, Any]:
        entry = self._running.get(task_id)
        if entry is None:
            return {}
        task = entry.task
        nodes = {}
        for name, node in task.nodes.items():
            stats = _node_stats(task, node)
            stats["collected"] = node.stats.collected
            stats["emitted"] = node.stats.emitted
            nodes[name] = stats
        rate = entry.throughput.sample(_source_count(task))
        return {"task-stats": {"throughput": rate}, "node-stats": nodes}

    def task_json(
        self, record: TaskRecord, *, script_format: str = "formatted", dot_view: str = "attributes"
    ) -> GoStruct:
        """Kapacitor's ``client.Task`` (struct order)."""
        dot, build_error = self._dot(record, dot_view)
        return GoStruct(
            [
                ("link", _link(record.id)),
                ("id", record.id),
                ("template-id", record.template_id),
                ("type", record.type),
                ("dbrps", _dbrps_json(record)),
                ("script", self._script(record, script_format)),
                ("vars", _vars_json(record)),
                ("dot", dot),
                ("status", record.status),
                ("executing", self.is_executing(record.id)),
                ("error", build_error or record.error),
                ("stats", self._stats(record.id)),
                ("created", _time(record.created)),
                ("modified", _time(record.modified)),
                ("last-enabled", _time(record.last_enabled)),
            ]
        )

    def task_fields(
        self, record: TaskRecord, fields: list[str], *, script_format: str, dot_view: str
    ) -> dict[str, Any]:
        """One entry of ``GET /tasks``: a map of the selected fields (keys sorted in JSON)."""
        out: dict[str, Any] = {}
        for name in fields:
            if name == "id":
                out[name] = record.id
            elif name == "link":
                out[name] = _link(record.id)
            elif name == "type":
                out[name] = record.type
            elif name == "dbrps":
                out[name] = _dbrps_json(record)
            elif name == "script":
                out[name] = self._script(record, script_format)
            elif name == "executing":
                out[name] = self.is_executing(record.id)
            elif name == "dot":
                dot, error = self._dot(record, dot_view)
                out[name] = dot if not error else None
            elif name == "stats":
                stats = self._stats(record.id)
                out[name] = stats or None
            elif name == "error":
                out[name] = record.error
            elif name == "status":
                out[name] = record.status
            elif name == "created":
                out[name] = _time(record.created)
            elif name == "modified":
                out[name] = _time(record.modified)
            elif name == "last-enabled":
                out[name] = _time(record.last_enabled)
            elif name == "template-id":
                if record.template_id:
                    out[name] = record.template_id
            elif name == "vars":
                out[name] = _vars_json(record)
            else:
                raise TaskAPIError(f'unsupported field "{name}"')
        return out


# --- request decoding -------------------------------------------------------------------------


def _string(options: Mapping[str, Any], key: str) -> str:
    value = options.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TaskAPIError(f'invalid JSON: "{key}" must be a string')
    return value


def _task_type(options: Mapping[str, Any]) -> None:
    """``type`` is decoded (unknown → error, as Go's decoder) but the script decides."""
    value = options.get("type")
    if value not in (None, "", "stream", "batch", "invalid"):
        raise TaskAPIError(f"invalid JSON: unknown TaskType {value}")


def _status(options: Mapping[str, Any]) -> str:
    value = options.get("status")
    if value in (None, ""):
        return ""
    if value not in ("enabled", "disabled"):
        raise TaskAPIError(
            f'invalid JSON: unknown TaskStatus {value} (use "enabled" or "disabled")'
        )
    return str(value)


def _dbrps(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    raw = options.get("dbrps")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TaskAPIError('invalid JSON: "dbrps" must be a list of {"db": …, "rp": …}')
    out = []
    for i, item in enumerate(raw):
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("db", ""), str)
            or not isinstance(item.get("rp", ""), str)
        ):
            raise TaskAPIError(f'invalid JSON: dbrps[{i}] must be {{"db": "…", "rp": "…"}}')
        out.append((item.get("db", ""), item.get("rp", "")))
    return out


def _vars(options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    try:
        return normalize_vars(options.get("vars"))
    except ValueError as exc:
        raise TaskAPIError(str(exc)) from None


def _link(task_id: str) -> GoStruct:
    return link(f"{TASKS_PATH}/{task_id}")


def _dbrps_json(record: TaskRecord) -> list[GoStruct]:
    return [GoStruct([("db", db), ("rp", rp)]) for db, rp in record.dbrps]


def _vars_json(record: TaskRecord) -> dict[str, Any]:
    def one(v: Mapping[str, Any]) -> GoStruct:
        value = v.get("value")
        if v.get("type") == "list" and isinstance(value, list):
            value = [one(x) for x in value]
        return GoStruct(
            [("type", v.get("type")), ("value", value), ("description", v.get("description", ""))]
        )

    return {name: one(v) for name, v in record.vars.items()}


# --- HTTP ------------------------------------------------------------------------------------

TASKS_KEY = web.AppKey("tasks", TaskManager)


def _json(data: Any) -> web.Response:
    return json_response(data, pretty=True)


def _error(exc: TaskAPIError) -> web.Response:
    return error_response(exc.message, exc.status, **exc.extra)


def _view_options(request: web.Request) -> tuple[str, str]:
    script_format = request.query.get("script-format", "") or "formatted"
    if script_format not in ("formatted", "raw"):
        raise TaskAPIError(f'invalid script-format parameter "{script_format}"')
    dot_view = request.query.get("dot-view", "") or "attributes"
    if dot_view not in ("attributes", "labels"):
        raise TaskAPIError(f'invalid dot-view parameter "{dot_view}"')
    return script_format, dot_view


async def _body(request: web.Request) -> Mapping[str, Any]:
    raw = await request.read()
    try:
        decoded = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise TaskAPIError("invalid JSON") from None
    if not isinstance(decoded, dict):
        raise TaskAPIError("invalid JSON: expected an object")
    return decoded


def _no_dbrp(task_id: str, pipeline: Pipeline) -> TickWarning:
    """Kapacitor refuses a task without any dbrp ("must specify dbrp"), although its own Discord
    page defines one that way; Leyden runs it on every database and says so."""
    if pipeline.task_type != "stream":
        raise TaskAPIError("must specify dbrp")
    return TickWarning(
        "no dbrp given: the task reads points written to every database and retention policy;"
        ' add dbrp "db"."rp" to the script or -dbrp db.rp to narrow it',
        task_id,
        1,
        1,
    )


def _with_warnings(obj: GoStruct, warnings: list[TickWarning]) -> GoStruct:
    if warnings:
        obj["warnings"] = [_warning_json(w) for w in warnings]
    return obj


def _int_param(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name, "")
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise TaskAPIError(
            f'invalid {name} parameter "{text}" must be an integer: '
            f'strconv.ParseInt: parsing "{text}": invalid syntax'
        ) from None


async def list_tasks(request: web.Request) -> web.Response:
    manager = request.app[TASKS_KEY]
    try:
        script_format, dot_view = _view_options(request)
        fields = request.query.getall("fields", [])
        fields = [*fields, "id", "link"] if fields else list(ALL_FIELDS)
        offset = _int_param(request, "offset", 0)
        limit = _int_param(request, "limit", 100)
        records = manager.list(request.query.get("pattern", ""), offset, limit)
        entries = [
            manager.task_fields(r, fields, script_format=script_format, dot_view=dot_view)
            for r in records
        ]
    except TaskAPIError as exc:
        return _error(exc)
    return _json(GoStruct([("tasks", entries)]))


async def create_task(request: web.Request) -> web.Response:
    manager = request.app[TASKS_KEY]
    try:
        options = await _body(request)
        record, warnings = await manager.create(options)
    except TaskAPIError as exc:
        return _error(exc)
    return _json(_with_warnings(manager.task_json(record), warnings))


async def get_task(request: web.Request) -> web.Response:
    manager = request.app[TASKS_KEY]
    try:
        script_format, dot_view = _view_options(request)
        replay_id = request.query.get("replay-id", "")
        if replay_id:
            raise TaskAPIError(f"no running replay with ID: {replay_id}")
        record = manager.get(request.match_info["id"])
        if record is None:
            raise TaskAPIError("no task exists", 404)
    except TaskAPIError as exc:
        return _error(exc)
    return _json(manager.task_json(record, script_format=script_format, dot_view=dot_view))


async def update_task(request: web.Request) -> web.Response:
    manager = request.app[TASKS_KEY]
    try:
        options = await _body(request)
        record, warnings = await manager.update(request.match_info["id"], options)
    except TaskAPIError as exc:
        return _error(exc)
    return _json(_with_warnings(manager.task_json(record), warnings))


async def delete_task(request: web.Request) -> web.Response:
    await request.app[TASKS_KEY].delete(request.match_info["id"])
    return web.Response(status=204)


async def missing_task_id(request: web.Request) -> web.Response:
    return error_response("must specify task id on path", 400)


async def http_out(request: web.Request) -> web.Response:
    """An httpOut node's endpoint, served while its task runs (compact JSON, as Kapacitor)."""
    task = request.app[TASKS_KEY].running(request.match_info["id"])
    results = task.http_out() if task is not None else {}
    endpoint = request.match_info["endpoint"]
    if endpoint not in results:
        return error_response("Not Found", 404)
    return json_response(results[endpoint])


def install(app: web.Application) -> TaskManager:
    """Add the task API to ``app`` and start/stop the tasks with it.

    Uses ``Services.tasks`` when set; otherwise builds the manager from the services (an
    alert service too, if the server has none).
    """
    services = app[SERVICES_KEY]
    manager = services.tasks
    if manager is None:
        if services.alerts is None:
            from leyden.alerting.service import AlertService

            services.alerts = AlertService(
                services=services.integrations, config=services.config, store=services.store
            )
        manager = services.tasks = TaskManager(
            engine=services.engine,
            alerts=services.alerts,
            integrations=services.integrations,
            config=services.config,
            store=services.store,
        )
    app[TASKS_KEY] = manager
    r = app.router
    r.add_get(TASKS_PATH, list_tasks)
    r.add_post(TASKS_PATH, create_task)
    r.add_get(f"{TASKS_PATH}/", missing_task_id)
    r.add_get(f"{TASKS_PATH}/{{id}}", get_task)
    r.add_patch(f"{TASKS_PATH}/{{id}}", update_task)
    r.add_delete(f"{TASKS_PATH}/{{id}}", delete_task)
    r.add_get(f"{TASKS_PATH}/{{id}}/{{endpoint}}", http_out)

    async def _start(app: web.Application) -> None:
        await manager.start()

    async def _stop(app: web.Application) -> None:
        await manager.close()

    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return manager
