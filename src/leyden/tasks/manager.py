"""Kapacitor's task store and task master: tasks defined, stored, started and stopped.

:class:`TaskManager` keeps every task in a :class:`TaskStore` (the SQLite store in a server)
and runs the enabled ones through the :class:`~leyden.tasks.runner.TaskRunner`.  It follows
``services/task_store/service.go`` for the rules and error texts (semantics §6.2), with three
additions a user notices:

* a TICKscript error carries its position (``position`` in the error body), so the CLI can show
  the line of the user's file with a caret under the mistake;
* builder warnings (``'count' > 0`` compares a string with a number …) come back as a
  ``warnings`` list in the create/update response instead of being silent;
* a handler its integration refuses (``.discord().workspace('x')`` naming a workspace the server
  does not have) is refused when the task is defined, listing the configured workspaces, rather
  than failing at the first alert.

A task that cannot start keeps its status, is not executing, and has the reason in ``error``
(Kapacitor's ``saveLastError``).  Nothing here knows HTTP: a refused request is a
:class:`TaskRequestError` carrying the status and body keys Kapacitor answers with, and
``leyden.server.tasks_api`` turns it into a response.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from leyden.engine.node import NODE_CLASSES, TaskError
from leyden.engine.task import Task
from leyden.go.types import go_json
from leyden.model.records import TaskRecord, TemplateRecord
from leyden.notify import INTEGRATIONS, IntegrationService
from leyden.notify.base import IntegrationError
from leyden.tasks.compile import (
    DEFAULT_COMPILE_TIMEOUT,
    CompileTimeout,
    compile_off_loop,
    precompile,
)
from leyden.tasks.runner import TaskRunner, build
from leyden.tasks.stats import RunningTask
from leyden.tasks.vars import normalize_vars
from leyden.tick import ast as A
from leyden.tick.errors import TickError
from leyden.tick.fmt import formatted
from leyden.tick.parser import parse
from leyden.tick.pipeline import Pipeline, TickWarning

__all__ = [
    "RemoteEngine",
    "TaskManager",
    "TaskRequestError",
    "TaskStore",
    "TaskView",
    "TemplateLinks",
    "check",
    "tick_error",
]

log = logging.getLogger("leyden.task")

_T = TypeVar("_T")


class TaskRequestError(Exception):
    """A refused request: the HTTP status, Kapacitor's text, and extra body keys if any."""

    def __init__(self, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = extra


class TaskStore(Protocol):
    """Where task definitions live (:class:`leyden.store.Store` in a server)."""

    def get_task(self, task_id: str) -> TaskRecord | None: ...

    def list_tasks(self) -> list[TaskRecord]: ...

    def put_task(self, task: TaskRecord, *, replaces: str | None = None) -> None: ...

    def delete_task(self, task_id: str) -> bool: ...


class TemplateLinks(Protocol):
    """The templates tasks are made from, and which tasks each made (the store in a server;
    :mod:`leyden.tasks.templates` owns the rest of a template's rules)."""

    def get_template(self, template_id: str) -> TemplateRecord | None: ...

    def associate_task(self, template_id: str, task_id: str) -> None: ...

    def disassociate_task(self, template_id: str, task_id: str) -> None: ...


class TaskView(Protocol):
    """What the API reads of a running task: a :class:`RunningTask`, or one in a worker."""

    def stats(self) -> dict[str, Any]: ...

    def dot(self, task_id: str, labels: bool) -> str: ...


class RemoteEngine(Protocol):
    """Engine worker processes tasks may be placed on (:class:`leyden.workers.EnginePool`)."""

    def accepts(self, pipeline: Pipeline) -> bool: ...

    def note_local(self, task_id: str, dbrps: tuple[tuple[str, str], ...] | None) -> None: ...

    async def start_task(self, record: TaskRecord) -> Any: ...

    async def stop_task(self, task: Any, *, delete: bool = False) -> None: ...

    async def refresh(self, task: Any) -> None: ...


def check(pipeline: Pipeline, subject: str) -> None:
    """Refuse what the pipeline uses that this server cannot run, as the runtime's registries
    say (the engine's node classes, the integrations' handler kinds); ``subject`` names the
    task or file in the error."""
    unsupported = pipeline.unsupported(NODE_CLASSES, INTEGRATIONS.tick_kinds())
    if unsupported:
        what = ", ".join(sorted({u.what for u in unsupported}))
        raise TaskError(f"{subject}: not supported by this server: {what}")


def _valid_id(task_id: str) -> bool:
    """Kapacitor's ``^[-\\._\\p{L}0-9]+$``."""
    return bool(task_id) and all(c.isalpha() or c in "0123456789-._" for c in task_id)


# --- building ---------------------------------------------------------------------------------


def _position(err: TickError) -> dict[str, int]:
    return {
        "line": err.line,
        "column": err.col,
        "caret-column": err.caret_col,
        "length": err.length,
    }


def tick_error(err: TickError) -> TaskRequestError:
    return TaskRequestError(
        f"invalid TICKscript: {err}",
        400,
        position=_position(err),
        reason=err.message,
    )


def _integration_error(
    task_id: str, script: str, pipeline: Pipeline, integrations: Mapping[str, IntegrationService]
) -> None:
    """Refuse a handler its integration refuses at definition (``.discord().workspace('x')``
    when the server has no workspace ``x``)."""
    for node in pipeline.nodes:
        for handler in node.handlers:
            integration = INTEGRATIONS.for_tick(handler.kind)
            if integration is None or integration.check is None:
                continue
            service = integrations.get(integration.kind)
            if service is None:
                continue
            problem = integration.check(handler.properties, service, True)
            if problem is None:
                continue
            raise tick_error(
                _locate(task_id, script, handler.pos, problem.prop, problem.value, problem.message),
            )


def _locate(task_id: str, script: str, pos: Any, prop: str, name: str, message: str) -> TickError:
    """A TickError at the ``'name'`` argument of ``.<prop>(...)`` after ``pos``."""
    data = script.encode()
    start = pos.offset if pos is not None else 0
    method = re.escape(f".{prop}(".encode())
    found = re.compile(method).search(data, start) if prop else None
    # the literal 'name' among the call's arguments (``.mentionRoles('a', 'bad')``: the second)
    literal = re.compile(rb"\s*(?:(['\"])(?:(?!\1).)*\1\s*,\s*)*(['\"])" + re.escape(name.encode()))
    hit = literal.match(data, found.end()) if found is not None else None
    if hit is not None and data[hit.end() : hit.end() + 1] == hit.group(2):
        offset = hit.start(2)
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


# --- the task master ---------------------------------------------------------------------------


class TaskManager:
    """Defines, stores, starts and stops tasks; one per server."""

    def __init__(
        self,
        *,
        store: TaskStore,
        runner: TaskRunner,
        integrations: Mapping[str, IntegrationService],
        now: Callable[[], int] = time.time_ns,
        pool: RemoteEngine | None = None,
        templates: TemplateLinks | None = None,
        compile_timeout: float = DEFAULT_COMPILE_TIMEOUT,
    ) -> None:
        self.store = store
        #: seconds a definition may spend compiling its script (``[http] compile-timeout``)
        self.compile_timeout = compile_timeout
        #: where ``template-id`` is looked up (None: no templates, as in replay)
        self.templates = templates
        self.runner = runner
        self.integrations = integrations
        self._now = now
        #: where stream tasks run when ``[engine] workers`` > 1 (None: all in this process)
        self.pool = pool
        self._running: dict[str, RunningTask | Any] = {}
        #: by task ID: script, vars, and the pipeline or why it does not build
        self._pipelines: dict[str, tuple[str, str, Pipeline | TickError | ValueError]] = {}
        self._lock = asyncio.Lock()

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Server start: run every enabled task again (their alert state comes back through
        the alert service's topic store as their alert nodes register)."""
        async with self._lock:
            for record in self.store.list_tasks():
                if record.status != "enabled":
                    continue
                error = await self._start(record)
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

    # --- queries ---------------------------------------------------------------------------

    def get(self, task_id: str) -> TaskRecord | None:
        return self.store.get_task(task_id)

    def find(self, pattern: str = "", offset: int = 0, limit: int = 100) -> list[TaskRecord]:
        """Tasks whose ID matches the glob ``pattern`` (empty: all), by ID, then paged."""
        records = [
            r for r in self.store.list_tasks() if not pattern or fnmatch.fnmatchcase(r.id, pattern)
        ]
        return records[max(offset, 0) :][: max(limit, 0)]

    def running(self, task_id: str) -> Task | None:
        entry = self._running.get(task_id)
        return entry.task if isinstance(entry, RunningTask) else None

    def running_task(self, task_id: str) -> TaskView | None:
        """The running task with its throughput meter, for statistics; None when stopped.

        A task in an engine worker shows what :meth:`refresh` last fetched."""
        entry: TaskView | None = self._running.get(task_id)
        return entry

    async def refresh(self, task_ids: list[str]) -> None:
        """Fetch the statistics of those tasks that run in engine workers."""
        if self.pool is None:
            return
        for task_id in task_ids:
            entry = self._running.get(task_id)
            if entry is not None and not isinstance(entry, RunningTask):
                await self.pool.refresh(entry)

    def is_executing(self, task_id: str) -> bool:
        return task_id in self._running

    def pipeline(self, record: TaskRecord) -> Pipeline:
        """The record's pipeline (cached by script and vars); raises TickError/ValueError."""
        key = (record.tickscript, go_json(dict(record.vars)))
        cached = self._pipelines.get(record.id)
        if cached is not None and cached[:2] == key:
            if isinstance(cached[2], TickError | ValueError):
                raise cached[2].with_traceback(None)
            return cached[2]
        try:
            pipeline = build(record.tickscript, filename=record.id, vars=dict(record.vars))
        except (TickError, ValueError) as exc:
            self._pipelines[record.id] = (*key, exc)
            raise
        self._pipelines[record.id] = (*key, pipeline)
        return pipeline

    async def prepare(self, records: list[TaskRecord]) -> None:
        """Build (or find why they do not build) and format the scripts of ``records`` on
        the compile thread, those not done yet (after a restart, or a disabled task's), so
        that showing them does not parse on the event loop."""
        for record in records:
            cached = self._pipelines.get(record.id)
            key = (record.tickscript, go_json(dict(record.vars)))
            if cached is not None and cached[:2] == key:
                continue
            try:
                await self._off_loop(self._prepare_one, record)
            except TaskRequestError:  # over the time limit: shown as before, on the loop
                log.warning(
                    "task script took too long to prepare", extra={"fields": {"task": record.id}}
                )

    def _prepare_one(self, record: TaskRecord) -> None:
        formatted(record.tickscript, record.id)
        with contextlib.suppress(TickError, ValueError):  # remembered, shown as its error
            self.pipeline(record)

    # --- changes ---------------------------------------------------------------------------

    async def create(self, options: Mapping[str, Any]) -> tuple[TaskRecord, list[TickWarning]]:
        """``POST /tasks``; raises :class:`TaskRequestError` (a start failure is a 500 after the
        task was stored, as in Kapacitor)."""
        async with self._lock:
            return await self._create(options)

    async def _create(self, options: Mapping[str, Any]) -> tuple[TaskRecord, list[TickWarning]]:
        task_id = json_string(options, "id") or str(uuid.uuid4())
        if not _valid_id(task_id):
            raise TaskRequestError(
                f"task ID must contain only letters, numbers, '-', '.' and '_'. \"{task_id}\""
            )
        if self.store.get_task(task_id) is not None:
            raise TaskRequestError(f"task {task_id} already exists")
        template_id = json_string(options, "template-id")
        _task_type(options)
        if template_id:
            script = self._template(template_id, template_id).tickscript
        else:
            script = json_string(options, "script")
            if not script:
                raise TaskRequestError("must provide TICKscript")
        explicit = _dbrps(options)
        status = _status(options) or "disabled"
        vars_ = _vars(options)
        pipeline, warnings = await self._check(task_id, script, vars_)
        implicit = list(pipeline.dbrps)
        if not implicit and not explicit:
            warnings.append(_no_dbrp(task_id, pipeline))
        if implicit and explicit:
            raise TaskRequestError("cannot specify dbrp in both implicitly and explicitly")
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
            template_id=template_id,
        )
        self.store.put_task(record)
        self._remember(record, pipeline)
        if template_id and self.templates is not None:
            self.templates.associate_task(template_id, task_id)
        if status == "enabled":
            error = await self._start(record)
            if error:
                raise TaskRequestError(error, 500)
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
            raise TaskRequestError("task does not exist, cannot update", 404)
        new_id = json_string(options, "id") or original.id
        if not _valid_id(new_id):
            raise TaskRequestError(
                f"task ID must contain only letters, numbers, '-', '.' and '_'. \"{new_id}\""
            )
        asked_template = json_string(options, "template-id")
        template_id = asked_template or original.template_id
        _task_type(options)
        explicit = _dbrps(options)
        script = original.tickscript
        if template_id:  # a templated task takes its script from the template
            script = self._template(template_id, asked_template).tickscript
        else:
            new_script = json_string(options, "script")
            old_implicit = await self._implicit_dbrps(task_id, script)
            if new_script:
                script = new_script
                if (
                    old_implicit
                    and not await self._implicit_dbrps(task_id, script)
                    and not explicit
                ):
                    raise TaskRequestError("must specify dbrp")
        implicit = await self._implicit_dbrps(task_id, script)
        if implicit and explicit:
            raise TaskRequestError("cannot specify dbrp in implicitly and explicitly")
        dbrps = tuple(implicit or explicit or original.dbrps)
        status = _status(options) or original.status
        status_changed = status != original.status
        vars_ = _vars(options) if options.get("vars") else dict(original.vars)
        pipeline, warnings = await self._check(new_id, script, vars_)
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
            template_id=template_id,
        )
        renamed = new_id != original.id
        if renamed and self.store.get_task(new_id) is not None:
            # Kapacitor answers 500; the name clash is the client's mistake (issue 16)
            raise TaskRequestError(
                "failed to create new task during ID change: task already exists", 400
            )
        relinked = renamed or template_id != original.template_id
        if template_id and relinked and self.templates is not None:
            if original.template_id:
                self.templates.disassociate_task(original.template_id, original.id)
            self.templates.associate_task(template_id, new_id)
        self._remember(updated, pipeline)
        if renamed:
            self.store.put_task(updated, replaces=original.id)
            self._pipelines.pop(original.id, None)
            if original.status == "enabled" and status == "enabled":
                await self._stop(original.id)
                error = await self._start(updated)
                if error:
                    raise TaskRequestError(error, 500)
        else:
            self.store.put_task(updated)
        if status_changed:
            if status == "enabled":
                error = await self._start(updated)
                if error:
                    raise TaskRequestError(error, 500)
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
            if record.template_id and self.templates is not None:
                self.templates.disassociate_task(record.template_id, task_id)

    async def enable(self, task_id: str) -> TaskRecord:
        return (await self.update(task_id, {"status": "enabled"}))[0]

    async def disable(self, task_id: str) -> TaskRecord:
        return (await self.update(task_id, {"status": "disabled"}))[0]

    async def apply_template(
        self, old: TemplateRecord, new: TemplateRecord, task_ids: list[str]
    ) -> None:
        """Re-define the tasks made from ``old`` with ``new`` (a template update): each takes
        the new script, type and ID, and an enabled one restarts with it.  As Kapacitor's
        ``updateAllAssociatedTasks``: the first task that cannot restart stops the update, the
        tasks already changed get the old template back (restarted again), and the error names
        the task (a :class:`TaskRequestError`, 500)."""
        async with self._lock:
            old_implicit = await self._implicit_dbrps(old.id, old.tickscript)
            new_implicit = await self._implicit_dbrps(new.id, new.tickscript)
            changed: list[TaskRecord] = []
            try:
                for task_id in task_ids:
                    record = self.store.get_task(task_id)
                    if record is None or record.template_id != old.id:
                        # gone, or no longer made from this template (a link a failed
                        # rename left behind): never rewrite a task of another origin
                        if self.templates is not None:
                            self.templates.disassociate_task(old.id, task_id)
                        continue
                    if old.id != new.id and self.templates is not None:
                        self.templates.associate_task(new.id, task_id)
                    changed.append(record)
                    updated = replace(
                        record, template_id=new.id, tickscript=new.tickscript, type=new.type
                    )
                    if old_implicit or new_implicit:
                        updated = replace(updated, dbrps=tuple(new_implicit))
                    if record.dbrps and not updated.dbrps and record.status == "enabled":
                        # the template's dbrp statements went: Kapacitor will not restart it
                        # (a task that never had dbrps reads every database, as at define)
                        raise TaskRequestError(
                            f"error reloading associated task {record.id}: task does contain "
                            "any dbrps",
                            500,
                        )
                    self.store.put_task(updated)
                    if record.status == "enabled":
                        await self._restart(updated)
            except TaskRequestError:
                for record in changed:
                    self.store.put_task(record)
                    if record.status == "enabled":
                        await self._stop(record.id)
                        error = await self._start(record)
                        if error:
                            log.error(
                                "error rolling back associated task",
                                extra={"fields": {"task": record.id, "error": error}},
                            )
                raise

    async def _restart(self, record: TaskRecord) -> None:
        """Stop ``record``'s running task and start it with its new definition; raises
        Kapacitor's "error reloading associated task" naming it."""

        def failed(why: str) -> TaskRequestError:
            return TaskRequestError(f"error reloading associated task {record.id}: {why}", 500)

        try:  # built first, so a script error reads as Kapacitor's (no "invalid TICKscript")
            pipeline = await self._off_loop(
                _build_compiled, record.tickscript, record.id, dict(record.vars)
            )
            self._remember(record, pipeline)
        except TickError as exc:
            raise failed(exc.message) from None
        except ValueError as exc:
            raise failed(str(exc)) from None
        await self._stop(record.id)
        error = await self._start(record)
        if error:
            raise failed(error)

    # --- internals -------------------------------------------------------------------------

    def _template(self, template_id: str, asked: str) -> TemplateRecord:
        """The template a task is made from; Kapacitor's error names the requested ID."""
        found = self.templates.get_template(template_id) if self.templates is not None else None
        if found is None:
            raise TaskRequestError(f"unknown template {asked}: err: no template exists")
        return found

    async def _off_loop(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` on the compile thread (:mod:`leyden.tasks.compile`); over the time
        limit a 400 naming it."""
        try:
            return await compile_off_loop(fn, *args, timeout=self.compile_timeout)
        except CompileTimeout as exc:
            raise TaskRequestError(str(exc)) from None

    def _remember(self, record: TaskRecord, pipeline: Pipeline) -> None:
        """Keep the pipeline the definition built, so starting the task does not build it
        again on the event loop."""
        key = (record.tickscript, go_json(dict(record.vars)))
        self._pipelines[record.id] = (*key, pipeline)

    async def _implicit_dbrps(self, task_id: str, script: str) -> list[tuple[str, str]]:
        try:
            program = await self._off_loop(parse, script, task_id)
        except TickError as exc:
            raise tick_error(exc) from None
        return [
            (n.db.reference, n.rp.reference) for n in program.nodes if isinstance(n, A.DBRPNode)
        ]

    async def _check(
        self, task_id: str, script: str, vars_: Mapping[str, Any]
    ) -> tuple[Pipeline, list[TickWarning]]:
        """Build the script as the task will run it, off the event loop and with its lambdas
        compiled; TICKscript errors become 400s."""
        try:
            pipeline = await self._off_loop(_build_compiled, script, task_id, vars_)
        except TickError as exc:
            raise tick_error(exc) from None
        except ValueError as exc:
            raise TaskRequestError(str(exc)) from None
        if pipeline.task_type is None:
            raise TaskRequestError("invalid task type: invalid")
        _integration_error(task_id, script, pipeline, self.integrations)
        # Kapacitor ignores a var the script does not declare (a task may carry a var before
        # its template declares it); Leyden accepts it too, and says so
        unused = [
            TickWarning(
                f'var "{name}" is not declared in the TICKscript and is ignored', task_id, 1, 1
            )
            for name in vars_
            if name not in pipeline.vars
        ]
        return pipeline, [*pipeline.warnings, *unused]

    async def _start(self, record: TaskRecord) -> str:
        """Start ``record``; return "" or why it cannot run (also stored as its error).

        With engine workers, a stream task the pool accepts runs in one of them."""
        if record.id in self._running:
            return ""
        error = ""
        try:
            pipeline = self.pipeline(record)
            check(pipeline, f"task {record.id}")
            if self.pool is not None and self.pool.accepts(pipeline):
                self._running[record.id] = await self.pool.start_task(record)
            else:
                task = self.runner.start(record.id, pipeline, record.dbrps)
                self._running[record.id] = RunningTask.started(task)
                if self.pool is not None:
                    self.pool.note_local(record.id, tuple(record.dbrps))
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
        if isinstance(entry, RunningTask):
            await self.runner.stop(entry.task, delete=delete)
            if self.pool is not None:
                self.pool.note_local(task_id, None)
        elif entry is not None and self.pool is not None:
            await self.pool.stop_task(entry, delete=delete)


def _build_compiled(script: str, task_id: str, vars_: Mapping[str, Any]) -> Pipeline:
    """The pipeline with its lambdas compiled and the script formatted for the API's answer
    (run on the compile thread)."""
    pipeline = precompile(build(script, filename=task_id, vars=vars_))
    formatted(script, task_id)
    return pipeline


# --- request decoding -------------------------------------------------------------------------


def json_string(options: Mapping[str, Any], key: str) -> str:
    """A string member of a task or template request body (absent or null: empty)."""
    value = options.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TaskRequestError(f'invalid JSON: "{key}" must be a string')
    return value


def _task_type(options: Mapping[str, Any]) -> None:
    """``type`` is decoded (unknown → error, as Go's decoder) but the script decides."""
    value = options.get("type")
    if value not in (None, "", "stream", "batch", "invalid"):
        raise TaskRequestError(f"invalid JSON: unknown TaskType {value}")


def _status(options: Mapping[str, Any]) -> str:
    value = options.get("status")
    if value in (None, ""):
        return ""
    if value not in ("enabled", "disabled"):
        raise TaskRequestError(
            f'invalid JSON: unknown TaskStatus {value} (use "enabled" or "disabled")'
        )
    return str(value)


def _dbrps(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    raw = options.get("dbrps")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TaskRequestError('invalid JSON: "dbrps" must be a list of {"db": …, "rp": …}')
    out = []
    for i, item in enumerate(raw):
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("db", ""), str)
            or not isinstance(item.get("rp", ""), str)
        ):
            raise TaskRequestError(f'invalid JSON: dbrps[{i}] must be {{"db": "…", "rp": "…"}}')
        out.append((item.get("db", ""), item.get("rp", "")))
    return out


def _vars(options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    try:
        return normalize_vars(options.get("vars"))
    except ValueError as exc:
        raise TaskRequestError(str(exc)) from None


def _no_dbrp(task_id: str, pipeline: Pipeline) -> TickWarning:
    """Kapacitor refuses a task without any dbrp ("must specify dbrp"), although its own Discord
    page defines one that way; Leyden runs it on every database and says so."""
    if pipeline.task_type != "stream":
        raise TaskRequestError("must specify dbrp")
    return TickWarning(
        "no dbrp given: the task reads points written to every database and retention policy;"
        ' add dbrp "db"."rp" to the script or -dbrp db.rp to narrow it',
        task_id,
        1,
        1,
    )
