"""The HTTP API of ``leyden serve``: Kapacitor's ``/kapacitor/v1`` surface plus ``/write``.

Response conventions follow Kapacitor (semantics §6): JSON bodies, errors as
``{"error": msg, "message": msg}``, ``X-Kapacitor-Version`` on every response, ``Request-Id``
echoed, write errors as plain text.  Handlers stay thin: they decode the request, call the
engine or a service, and encode the answer.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from leyden import KAPACITOR_VERSION, lineprotocol
from leyden.config import Config
from leyden.discord.service import DiscordService
from leyden.engine import Engine
from leyden.go.types import GoStruct, go_json
from leyden.store import Store

if TYPE_CHECKING:
    from leyden.alerting.service import AlertService
    from leyden.server.tasks import TaskManager

log = logging.getLogger("leyden.http")

BASE = "/kapacitor/v1"
#: largest write body accepted after decompression (InfluxDB's default is 25 MB)
MAX_WRITE_BODY = 32 * 1024 * 1024
#: points handed to the engine between two turns of the event loop
WRITE_CHUNK = 5000
#: how many bad lines a write error names before "and N more"
MAX_REPORTED_LINE_ERRORS = 10

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Services:
    """What the HTTP layer talks to; one instance per server."""

    config: Config
    engine: Engine
    discord: DiscordService
    #: SQLite persistence (tasks, handlers, alert states, config overrides); None: in memory
    store: Store | None = None
    #: the one alert service (topics, handlers); built by ``tasks.install`` when None
    alerts: AlertService | None = None
    #: tasks (``leyden.server.tasks.TaskManager``); built by ``tasks.install`` when None
    tasks: TaskManager | None = None


SERVICES_KEY = web.AppKey("services", Services)


def json_response(
    data: Any, status: int = 200, *, pretty: bool = False, newline: bool = False
) -> web.Response:
    """Encode as Kapacitor's Go ``encoding/json`` does: ``pretty`` answers are indented four
    spaces (``MarshalIndent``); ``newline`` ends answers Kapacitor writes with ``json.Encoder``."""
    text = go_json(data, indent="    " if pretty else None)
    return web.Response(
        text=text + "\n" if newline else text,
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def link(href: str, rel: str = "self") -> GoStruct:
    """Kapacitor's ``client.Link``: ``rel`` before ``href``."""
    return GoStruct([("rel", rel), ("href", href)])


def error_response(message: str, status: int, **extra: Any) -> web.Response:
    """Kapacitor's ``httpd.HttpError`` body: both keys carry the same text; ``extra`` keys follow."""
    body = GoStruct([("error", message), ("message", message), *extra.items()])
    return json_response(body, status, pretty=True)


def _plain_error(message: str, status: int) -> web.Response:
    # Kapacitor's write errors are plain text although the header says JSON; we say text.
    return web.Response(text=message + "\n", status=status, content_type="text/plain")


@web.middleware
async def _common_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPNotFound:
        response = error_response("Not Found", 404)
    except web.HTTPMethodNotAllowed as exc:
        response = error_response(f"method {exc.method} not allowed", 405)
    response.headers["X-Kapacitor-Version"] = KAPACITOR_VERSION
    request_id = request.headers.get("Request-Id") or str(uuid.uuid1())
    response.headers["Request-Id"] = request_id
    if "Origin" in request.headers:
        response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
        response.headers["Access-Control-Allow-Methods"] = "DELETE, GET, OPTIONS, PATCH, POST, PUT"
        response.headers["Access-Control-Allow-Headers"] = "Accept, Authorization, Content-Type"
    return response


async def ping(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def _read_body(request: web.Request) -> bytes:
    """The request body; aiohttp already undoes ``Content-Encoding: gzip`` while reading."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ValueError(f"body exceeds {MAX_WRITE_BODY} bytes") from None
    except RequestPayloadError:
        encoding = request.headers.get("Content-Encoding", "")
        raise ValueError(f"invalid {encoding or 'request'} body: cannot decode it") from None


async def write(request: web.Request) -> web.Response:
    """InfluxDB 1.x ``/write``: parse line protocol and hand the points to the engine.

    Good lines of a body with bad lines are still accepted; the 400 names the bad ones.
    """
    services = request.app[SERVICES_KEY]
    stats = services.engine.stats
    stats.write_requests += 1
    db = request.query.get("db", "")
    if not db:
        stats.write_errors += 1
        return _plain_error("database is required", 400)
    rp = request.query.get("rp", "")
    precision = request.query.get("precision", "ns") or "ns"
    if precision not in lineprotocol.PRECISIONS:
        stats.write_errors += 1
        return _plain_error(
            f'invalid precision "{precision}": use one of n, ns, u, ms, s, m, h', 400
        )
    try:
        body = await _read_body(request)
    except ValueError as exc:
        stats.write_errors += 1
        return _plain_error(str(exc), 400)
    if not body.strip():
        return web.Response(status=200)
    result = lineprotocol.parse(body, precision=precision, now_ns=time.time_ns())
    points = result.points
    for start in range(0, len(points), WRITE_CHUNK):
        if start:
            await asyncio.sleep(0)  # a big body must not keep deliveries and requests waiting
        services.engine.write_points(db, rp, points[start : start + WRITE_CHUNK])
    if not result.errors:
        return web.Response(status=204)
    stats.write_errors += 1
    errors = result.errors
    lines = [e.message for e in errors[:MAX_REPORTED_LINE_ERRORS]]
    if len(errors) > MAX_REPORTED_LINE_ERRORS:
        lines.append(f"… and {len(errors) - MAX_REPORTED_LINE_ERRORS} more bad lines")
    summary = (
        f"partial write: {len(result.points)} points accepted, {len(errors)} lines rejected:\n"
        + "\n".join(lines)
    )
    return _plain_error(summary, 400)


# --- service tests --------------------------------------------------------------------------


def _service_test_entry(name: str, options: dict[str, Any]) -> dict[str, Any]:
    return {
        "link": link(f"{BASE}/service-tests/{name}"),
        "name": name,
        "options": GoStruct(options),
    }


def _service_tests(services: Services) -> dict[str, dict[str, Any]]:
    """Name → default options of every service that can be tested."""
    return {"discord": services.discord.default_test_options()}


async def list_service_tests(request: web.Request) -> web.Response:
    pattern = request.query.get("pattern", "*") or "*"
    tests = _service_tests(request.app[SERVICES_KEY])
    entries = [
        _service_test_entry(name, options)
        for name, options in sorted(tests.items())
        if fnmatch.fnmatchcase(name, pattern)
    ]
    return json_response({"link": link(f"{BASE}/service-tests"), "services": entries})


async def get_service_test(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    tests = _service_tests(request.app[SERVICES_KEY])
    if name not in tests:
        return error_response(f'service "{name}" not found', 404)
    return json_response(_service_test_entry(name, tests[name]))


async def run_service_test(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    services = request.app[SERVICES_KEY]
    if name not in _service_tests(services):
        return error_response(f'service "{name}" not found', 404)
    raw = await request.read()
    try:
        options = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        return error_response(f"failed to decode JSON: {exc}", 400)
    if not isinstance(options, dict):
        return error_response("failed to decode JSON: options must be a JSON object", 400)
    success, message = await services.discord.test(options)
    return json_response(GoStruct([("success", success), ("message", message)]))


# --- stats ----------------------------------------------------------------------------------


async def debug_vars(request: web.Request) -> web.Response:
    """A small expvar-like view of write statistics (Kapacitor serves ``/debug/vars``)."""
    stats = request.app[SERVICES_KEY].engine.stats
    return json_response(
        {
            "kapacitor": {"version": KAPACITOR_VERSION},
            "write": GoStruct(
                [
                    ("points_received", stats.points_received),
                    ("points_routed", stats.points_routed),
                    ("write_requests", stats.write_requests),
                    ("write_errors", stats.write_errors),
                    ("per_dbrp", {f"{db}.{rp}": n for (db, rp), n in stats.per_dbrp.items()}),
                ]
            ),
        }
    )


async def _close_alerts(alerts: AlertService, timeout: float) -> None:
    """Let queued deliveries finish, for at most ``[http] shutdown-timeout``; then say what was
    left behind rather than hang (at Discord's rate a full queue takes hours)."""
    try:
        await asyncio.wait_for(alerts.close(), timeout)
    except TimeoutError:
        left = sum(len(q) for q in alerts.topics.queues())
        log.warning(
            "shutdown timeout: queued alert notifications were not delivered",
            extra={"fields": {"undelivered": left, "timeout": f"{timeout:g}s"}},
        )


def create_app(services: Services) -> web.Application:
    app = web.Application(middlewares=[_common_headers], client_max_size=MAX_WRITE_BODY)
    app[SERVICES_KEY] = services
    r = app.router
    r.add_get(f"{BASE}/ping", ping)  # add_get also answers HEAD
    r.add_post("/write", write)
    r.add_post(f"{BASE}/write", write)
    r.add_get(f"{BASE}/service-tests", list_service_tests)
    r.add_get(f"{BASE}/service-tests/{{name}}", get_service_test)
    r.add_post(f"{BASE}/service-tests/{{name}}", run_service_test)
    r.add_get(f"{BASE}/debug/vars", debug_vars)
    from leyden.server import auth, config_api  # they import this module

    config_api.install(app)
    from leyden.server import tasks

    tasks.install(app)  # before _close: tasks stop before the store closes
    from leyden.server import topics_api

    topics_api.install(app)  # uses the alert service tasks.install made
    auth.install(app)

    async def _close(app: web.Application) -> None:
        services = app[SERVICES_KEY]
        if services.alerts is not None:
            await _close_alerts(services.alerts, services.config.http.shutdown_timeout / 1e9)
        await services.discord.close()
        if services.store is not None:
            services.store.close()

    app.on_cleanup.append(_close)
    return app
