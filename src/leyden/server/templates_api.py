"""Kapacitor's ``/kapacitor/v1/templates`` API over the template domain
(:mod:`leyden.tasks.templates`).

Thin handlers as in :mod:`leyden.server.tasks_api`: ``client.Template`` in struct order for
one template, a map of the selected ``fields`` (default: all but ``vars``, as Kapacitor) for
``GET /templates``, and Kapacitor's error bodies.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from leyden import API_BASE
from leyden.go.types import GoStruct, Time
from leyden.server._http import SERVICES_KEY, error_response, json_response, link
from leyden.server.tasks_api import (
    int_param,
    read_body,
    request_error,
    script_format_param,
    script_text,
)
from leyden.tasks.manager import TaskRequestError
from leyden.tasks.templates import TemplateManager, TemplateView

__all__ = ["install", "template_json"]

TEMPLATES_PATH = f"{API_BASE}/templates"
#: Kapacitor's default fields of ``GET /templates`` (``vars`` only when asked for)
DEFAULT_FIELDS = ("link", "id", "type", "script", "dot", "error", "created", "modified")
FIELDS = frozenset((*DEFAULT_FIELDS, "vars"))

TEMPLATES_KEY = web.AppKey("templates", TemplateManager)


def _link(template_id: str) -> GoStruct:
    return link(f"{TEMPLATES_PATH}/{template_id}")


def _vars_json(view: TemplateView) -> dict[str, GoStruct]:
    def one(v: dict[str, Any]) -> GoStruct:
        value = v.get("value")
        if v.get("type") == "list" and isinstance(value, list):
            value = [one(x) for x in value]
        return GoStruct(
            [("type", v.get("type")), ("value", value), ("description", v.get("description", ""))]
        )

    return {name: one(v) for name, v in view.vars.items()}


def template_json(view: TemplateView, *, script_format: str = "formatted") -> GoStruct:
    """Kapacitor's ``client.Template`` (struct order)."""
    record = view.record
    return GoStruct(
        [
            ("link", _link(record.id)),
            ("id", record.id),
            ("type", record.type),
            ("script", script_text(record.tickscript, record.id, script_format)),
            ("vars", _vars_json(view)),
            ("dot", view.dot),
            ("error", view.error),
            ("created", Time(record.created)),
            ("modified", Time(record.modified)),
        ]
    )


def _fields(view: TemplateView, fields: list[str], script_format: str) -> dict[str, Any]:
    record = view.record
    if view.error:  # Kapacitor skips a template that no longer builds: an empty entry
        return {}
    values: dict[str, Any] = {
        "id": record.id,
        "type": record.type,
        "error": "",
        "created": Time(record.created),
        "modified": Time(record.modified),
    }
    out: dict[str, Any] = {}
    for name in fields:
        if name not in FIELDS:
            raise TaskRequestError(f'unsupported field "{name}"')
        if name == "link":
            out[name] = _link(record.id)
        elif name == "script":
            out[name] = script_text(record.tickscript, record.id, script_format)
        elif name == "dot":
            out[name] = view.dot
        elif name == "vars":
            out[name] = _vars_json(view)
        else:
            out[name] = values[name]
    return out


def _json(data: Any) -> web.Response:
    return json_response(data, pretty=True)


async def list_templates(request: web.Request) -> web.Response:
    templates = request.app[TEMPLATES_KEY]
    try:
        fields = request.query.getall("fields", [])
        fields = [*fields, "id", "link"] if fields else list(DEFAULT_FIELDS)
        script_format = script_format_param(request)
        offset = int_param(request, "offset", 0)
        limit = int_param(request, "limit", 100)
        records = templates.find(request.query.get("pattern", ""), offset, limit)
        entries = [_fields(await templates.view(r), fields, script_format) for r in records]
    except TaskRequestError as exc:
        return request_error(exc)
    return _json(GoStruct([("templates", entries)]))


async def create_template(request: web.Request) -> web.Response:
    templates = request.app[TEMPLATES_KEY]
    try:
        record = await templates.create(await read_body(request))
    except TaskRequestError as exc:
        return request_error(exc)
    return _json(template_json(await templates.view(record)))


async def get_template(request: web.Request) -> web.Response:
    templates = request.app[TEMPLATES_KEY]
    try:
        record = templates.get(request.match_info["id"])
        if record is None:
            raise TaskRequestError("no template exists", 404)
        script_format = script_format_param(request)
    except TaskRequestError as exc:
        return request_error(exc)
    return _json(template_json(await templates.view(record), script_format=script_format))


async def update_template(request: web.Request) -> web.Response:
    templates = request.app[TEMPLATES_KEY]
    try:
        options = await read_body(request)
        record = await templates.update(request.match_info["id"], options)
    except TaskRequestError as exc:
        return request_error(exc)
    return _json(template_json(await templates.view(record)))


async def delete_template(request: web.Request) -> web.Response:
    request.app[TEMPLATES_KEY].delete(request.match_info["id"])
    return web.Response(status=204)


async def missing_template_id(request: web.Request) -> web.Response:
    return error_response("must specify template id on path", 400)


def install(app: web.Application) -> None:
    """Add the template API to ``app``; the templates are the runtime's."""
    app[TEMPLATES_KEY] = app[SERVICES_KEY].templates
    r = app.router
    r.add_get(TEMPLATES_PATH, list_templates)
    r.add_post(TEMPLATES_PATH, create_template)
    r.add_get(f"{TEMPLATES_PATH}/", missing_template_id)
    r.add_patch(f"{TEMPLATES_PATH}/", missing_template_id)
    r.add_delete(f"{TEMPLATES_PATH}/", missing_template_id)
    r.add_get(f"{TEMPLATES_PATH}/{{id}}", get_template)
    r.add_patch(f"{TEMPLATES_PATH}/{{id}}", update_template)
    r.add_delete(f"{TEMPLATES_PATH}/{{id}}", delete_template)
