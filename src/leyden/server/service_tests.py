"""Kapacitor's ``/kapacitor/v1/service-tests``: try an integration from the API or the CLI.

Every integration that says it has a service test (:data:`leyden.notify.INTEGRATIONS`, the
``service_test`` flag) and ``influxdb`` (ping a ``[[influxdb]]`` cluster) is listed with its
default options, and ``POST`` runs it with the
options given over those defaults.  The answer is Kapacitor's ``{"success", "message"}``; a
failed test is still a 200, as in Kapacitor.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from aiohttp import web

from leyden import API_BASE, limits
from leyden.go.types import GoStruct
from leyden.notify import INTEGRATIONS
from leyden.runtime import Runtime
from leyden.server._http import SERVICES_KEY, error_response, json_response, link

__all__ = ["install"]

PATH = f"{API_BASE}/service-tests"


def _entry(name: str, options: dict[str, Any]) -> dict[str, Any]:
    return {"link": link(f"{PATH}/{name}"), "name": name, "options": GoStruct(options)}


def _testable(runtime: Runtime) -> dict[str, Any]:
    """Name → running service of every integration that can be tested, and ``influxdb``
    (the ``[[influxdb]]`` clusters, core rather than an integration)."""
    services = runtime.integrations
    found: dict[str, Any] = {
        i.kind: services[i.kind]
        for i in INTEGRATIONS
        if i.service_test and services.get(i.kind) is not None
    }
    found["influxdb"] = runtime.influxdb
    return found


async def list_service_tests(request: web.Request) -> web.Response:
    pattern = request.query.get("pattern", "*") or "*"
    services = _testable(request.app[SERVICES_KEY])
    entries = [
        _entry(name, service.default_test_options())
        for name, service in sorted(services.items())
        if fnmatch.fnmatchcase(name, pattern)
    ]
    return json_response({"link": link(PATH), "services": entries})


async def get_service_test(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    service = _testable(request.app[SERVICES_KEY]).get(name)
    if service is None:
        return error_response(f'service "{name}" not found', 404)
    return json_response(_entry(name, service.default_test_options()))


async def run_service_test(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    service = _testable(request.app[SERVICES_KEY]).get(name)
    if service is None:
        return error_response(f'service "{name}" not found', 404)
    raw = await request.read()
    try:
        options = limits.loads_json(raw) if raw.strip() else {}
    except ValueError as exc:
        return error_response(f"failed to decode JSON: {exc}", 400)
    if not isinstance(options, dict):
        return error_response("failed to decode JSON: options must be a JSON object", 400)
    success, message = await service.test(options)
    return json_response(GoStruct([("success", success), ("message", message)]))


def install(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, list_service_tests)
    r.add_get(f"{PATH}/{{name}}", get_service_test)
    r.add_post(f"{PATH}/{{name}}", run_service_test)
