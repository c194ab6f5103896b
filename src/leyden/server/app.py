"""The HTTP API of ``leyden serve``: Kapacitor's ``/kapacitor/v1`` surface plus ``/write``.

Response conventions follow Kapacitor (semantics §6): JSON bodies, errors as
``{"error": msg, "message": msg}``, ``X-Kapacitor-Version`` on every response, ``Request-Id``
echoed, write errors as plain text.  Handlers stay thin: they decode the request, call the
engine or a service, and encode the answer.

This module only composes: the common headers, ``ping``, and the route modules (``write``,
``service_tests``, ``config_api``, ``tasks_api``, ``templates_api``, ``topics_api``, ``deliveries_api``,
``metrics``, ``logs_api``, ``storage_api``, ``status``, ``origin``, ``audit``, ``auth``), each of which
installs its own routes and takes what it shares with the others from ``_http``, never from
here.  What they serve is the process's :class:`~leyden.runtime.Runtime`; the application
starts it and closes it.
"""

from __future__ import annotations

import errno
import logging
import uuid

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from leyden import API_BASE, KAPACITOR_VERSION, limits
from leyden.runtime import Runtime
from leyden.server import (
    audit,
    auth,
    config_api,
    deliveries_api,
    logs_api,
    metrics,
    origin,
    service_tests,
    status,
    storage_api,
    tasks_api,
    templates_api,
    topics_api,
    write,
)
from leyden.server._http import SERVICES_KEY, Handler, error_response

__all__ = ["create_app"]

log = logging.getLogger("leyden.http")


#: the paths whose bodies may be as large as a write (``write.MAX_WRITE_BODY``)
_WRITE_PATHS = frozenset({"/write", f"{API_BASE}/write"})


@web.middleware
async def _common_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path not in _WRITE_PATHS and request.body_exists:
        # an API body is JSON a person or a client wrote: far smaller than a write body
        request = request.clone(client_max_size=limits.MAX_API_BODY)
    try:
        response = await handler(request)
    except web.HTTPRequestEntityTooLarge:
        response = error_response(
            f"request body is over {limits.MAX_API_BODY} bytes (the limit for API requests)", 413
        )
    except web.HTTPNotFound:
        response = error_response("Not Found", 404)
    except web.HTTPMethodNotAllowed as exc:
        response = error_response(f"method {exc.method} not allowed", 405)
    except (RequestPayloadError, HttpProcessingError) as exc:
        # found by fuzzing: a body that is not what its Content-Encoding says was a 500
        reason = getattr(exc, "message", "") or str(exc) or type(exc).__name__
        response = error_response(f"cannot read the request body: {reason}", 400)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        # found by fuzzing: aiohttp's static files let a 5,000-character name through to open()
        response = error_response("Not Found", 404)
    response.headers["X-Kapacitor-Version"] = KAPACITOR_VERSION
    request_id = request.headers.get("Request-Id") or str(uuid.uuid1())
    response.headers["Request-Id"] = request_id
    return response


async def ping(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def _close_runtime(runtime: Runtime, timeout: float) -> None:
    """Close the runtime, giving queued deliveries at most ``[http] shutdown-timeout``; then
    say what was left behind rather than hang."""
    left = await runtime.close(timeout=timeout)
    fields = {"undelivered": left, "timeout": f"{timeout:g}s"}
    if left:
        log.warning(
            "shutdown: alert deliveries left in the outbox; the next start sends them",
            extra={"fields": fields},
        )
    else:
        log.info("shutdown: every alert delivery was sent", extra={"fields": fields})


def create_app(runtime: Runtime) -> web.Application:
    """The HTTP API over ``runtime``; the app starts the runtime and closes it on cleanup."""
    app = web.Application(middlewares=[_common_headers], client_max_size=write.MAX_WRITE_BODY)
    app[SERVICES_KEY] = runtime
    r = app.router
    r.add_get(f"{API_BASE}/ping", ping)  # add_get also answers HEAD
    write.install(app)
    service_tests.install(app)
    config_api.install(app)
    tasks_api.install(app)
    templates_api.install(app)
    topics_api.install(app)
    deliveries_api.install(app)
    metrics.install(app)
    logs_api.install(app)
    storage_api.install(app)
    status.install(app)
    origin.install(app)  # first: a forged change reaches neither audit nor auth
    audit.install(app)  # before auth: its line names the user auth found
    auth.install(app)

    async def _start(app: web.Application) -> None:
        await runtime.start()

    async def _close(app: web.Application) -> None:
        await _close_runtime(runtime, runtime.config.http.shutdown_timeout / 1e9)

    app.on_startup.append(_start)
    app.on_cleanup.append(_close)
    return app
