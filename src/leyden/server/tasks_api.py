"""Kapacitor's ``/kapacitor/v1/tasks`` API over the task domain (:mod:`leyden.tasks`).

Thin handlers: decode the request, call the :class:`~leyden.tasks.manager.TaskManager`, and
encode Kapacitor's JSON views (``client.Task`` in struct order, the ``fields`` selection of
``GET /tasks``); a :class:`~leyden.tasks.manager.TaskRequestError` becomes Kapacitor's error
body with its status.  httpOut endpoints of running tasks are served here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from leyden import API_BASE, limits
from leyden.go.time import GO_ZERO_TIME
from leyden.go.types import GoStruct, Time
from leyden.model.records import TaskRecord
from leyden.server._http import SERVICES_KEY, error_response, json_response, link
from leyden.tasks.manager import TaskManager, TaskRequestError
from leyden.tick.dot import to_dot
from leyden.tick.errors import TickError
from leyden.tick.fmt import formatted
from leyden.tick.pipeline import TickWarning

__all__ = ["install", "read_body", "request_error", "task_fields", "task_json"]

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


def _time(ns: int | None) -> str | Time:
    return GO_ZERO_TIME if ns is None else Time(ns)


# --- JSON views ------------------------------------------------------------------------------


def script_text(tickscript: str, name: str, script_format: str) -> str:
    """A task's or template's script as ``script-format`` asks: ``raw``, or formatted the
    way Kapacitor formats it (the raw text when it does not format)."""
    if script_format == "raw":
        return tickscript
    return formatted(tickscript, name)


def _dot(manager: TaskManager, record: TaskRecord, dot_view: str) -> tuple[str, str]:
    """(dot, error): the executing graph with stats, or the static one."""
    entry = manager.running_task(record.id)
    if entry is not None:
        return entry.dot(record.id, dot_view == "labels"), ""
    try:
        return to_dot(manager.pipeline(record), record.id), ""
    except TickError as exc:
        return "", f"invalid TICKscript: {exc}"
    except ValueError as exc:
        return "", str(exc)


def _stats(manager: TaskManager, task_id: str) -> dict[str, Any]:
    entry = manager.running_task(task_id)
    return entry.stats() if entry is not None else {}


def task_json(
    manager: TaskManager,
    record: TaskRecord,
    *,
    script_format: str = "formatted",
    dot_view: str = "attributes",
) -> GoStruct:
    """Kapacitor's ``client.Task`` (struct order)."""
    dot, build_error = _dot(manager, record, dot_view)
    return GoStruct(
        [
            ("link", _link(record.id)),
            ("id", record.id),
            ("template-id", record.template_id),
            ("type", record.type),
            ("dbrps", _dbrps_json(record)),
            ("script", script_text(record.tickscript, record.id, script_format)),
            ("vars", _vars_json(record)),
            ("dot", dot),
            ("status", record.status),
            ("executing", manager.is_executing(record.id)),
            ("error", build_error or record.error),
            ("stats", _stats(manager, record.id)),
            ("created", _time(record.created)),
            ("modified", _time(record.modified)),
            ("last-enabled", _time(record.last_enabled)),
        ]
    )


def task_fields(
    manager: TaskManager,
    record: TaskRecord,
    fields: list[str],
    *,
    script_format: str,
    dot_view: str,
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
            out[name] = script_text(record.tickscript, record.id, script_format)
        elif name == "executing":
            out[name] = manager.is_executing(record.id)
        elif name == "dot":
            dot, error = _dot(manager, record, dot_view)
            out[name] = dot if not error else None
        elif name == "stats":
            stats = _stats(manager, record.id)
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
            raise TaskRequestError(f'unsupported field "{name}"')
    return out


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


def request_error(exc: TaskRequestError) -> web.Response:
    return error_response(exc.message, exc.status, **exc.extra)


def script_format_param(request: web.Request) -> str:
    """The ``script-format`` query parameter (tasks and templates)."""
    script_format = request.query.get("script-format", "") or "formatted"
    if script_format not in ("formatted", "raw"):
        raise TaskRequestError(f'invalid script-format parameter "{script_format}"')
    return script_format


def _view_options(request: web.Request) -> tuple[str, str]:
    script_format = script_format_param(request)
    dot_view = request.query.get("dot-view", "") or "attributes"
    if dot_view not in ("attributes", "labels"):
        raise TaskRequestError(f'invalid dot-view parameter "{dot_view}"')
    return script_format, dot_view


async def read_body(request: web.Request) -> Mapping[str, Any]:
    raw = await request.read()
    try:
        decoded = limits.loads_json(raw) if raw.strip() else None
    except limits.JSONLimitError as exc:
        raise TaskRequestError(f"invalid JSON: {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise TaskRequestError("invalid JSON") from None
    if not isinstance(decoded, dict):
        raise TaskRequestError("invalid JSON: expected an object")
    return decoded


def _warning_json(w: TickWarning) -> dict[str, Any]:
    return {"line": w.line, "column": w.col, "message": w.message}


def _with_warnings(obj: GoStruct, warnings: list[TickWarning]) -> GoStruct:
    if warnings:
        obj["warnings"] = [_warning_json(w) for w in warnings]
    return obj


def int_param(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name, "")
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise TaskRequestError(
            f'invalid {name} parameter "{text}" must be an integer: '
            f'strconv.ParseInt: parsing "{text}": invalid syntax'
        ) from None


async def list_tasks(request: web.Request) -> web.Response:
    manager = request.app[TASKS_KEY]
    try:
        script_format, dot_view = _view_options(request)
        fields = request.query.getall("fields", [])
        fields = [*fields, "id", "link"] if fields else list(ALL_FIELDS)
        offset = int_param(request, "offset", 0)
        limit = int_param(request, "limit", 100)
        records = manager.find(request.query.get("pattern", ""), offset, limit)
        if "script" in fields or "dot" in fields:
            await manager.prepare(records)
        if "stats" in fields or "dot" in fields:
            await manager.refresh([r.id for r in records])  # tasks in engine workers
        entries = [
            task_fields(manager, r, fields, script_format=script_format, dot_view=dot_view)
            for r in records
        ]
    except TaskRequestError as exc:
        return request_error(exc)
    return _json(GoStruct([("tasks", entries)]))


async def create_task(request: web.Request) -> web.Response:
    manager = request.app[TASKS_KEY]
    try:
        options = await read_body(request)
        record, warnings = await manager.create(options)
        await manager.refresh([record.id])
    except TaskRequestError as exc:
        return request_error(exc)
    return _json(_with_warnings(task_json(manager, record), warnings))


async def get_task(request: web.Request) -> web.Response:
    manager = request.app[TASKS_KEY]
    try:
        script_format, dot_view = _view_options(request)
        replay_id = request.query.get("replay-id", "")
        if replay_id:
            raise TaskRequestError(f"no running replay with ID: {replay_id}")
        record = manager.get(request.match_info["id"])
        if record is None:
            raise TaskRequestError("no task exists", 404)
        await manager.prepare([record])
        await manager.refresh([record.id])
    except TaskRequestError as exc:
        return request_error(exc)
    return _json(task_json(manager, record, script_format=script_format, dot_view=dot_view))


async def update_task(request: web.Request) -> web.Response:
    manager = request.app[TASKS_KEY]
    try:
        options = await read_body(request)
        record, warnings = await manager.update(request.match_info["id"], options)
        await manager.refresh([record.id])
    except TaskRequestError as exc:
        return request_error(exc)
    return _json(_with_warnings(task_json(manager, record), warnings))


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


def install(app: web.Application) -> None:
    """Add the task API to ``app``; the tasks are the runtime's (it starts and stops them)."""
    app[TASKS_KEY] = app[SERVICES_KEY].tasks
    r = app.router
    r.add_get(TASKS_PATH, list_tasks)
    r.add_post(TASKS_PATH, create_task)
    r.add_get(f"{TASKS_PATH}/", missing_task_id)
    r.add_get(f"{TASKS_PATH}/{{id}}", get_task)
    r.add_patch(f"{TASKS_PATH}/{{id}}", update_task)
    r.add_delete(f"{TASKS_PATH}/{{id}}", delete_task)
    r.add_get(f"{TASKS_PATH}/{{id}}/{{endpoint}}", http_out)
