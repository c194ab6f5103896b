"""The server's log over HTTP: ``POST /kapacitor/v1/loglevel`` and the log streams of
``GET /kapacitor/v1preview/logs`` (``leyden level``, ``leyden logs``, ``leyden watch``).

Kapacitor's ``serveLogLevel`` (``services/httpd/handler.go``) decodes ``{"level": "debug"}``
and answers 204, or 400 with ``invalid json: …`` or ``invalid log level``; Kapacitor knows
debug, info and error, Leyden warn too (as ``[logging] level``).  The change holds until the
server stops; the engine workers follow it (:func:`leyden.log.on_levels`).

Its log sessions (``services/diagnostic/api.go``) are served under the technical-preview
prefix ``/kapacitor/v1preview/logs`` (Kapacitor's client asks there; ``/kapacitor/v1/logs`` is
the same stream): the query parameters are the filter (:func:`leyden.logstream.parse_filter`;
one given twice is a 400), ``Accept: application/json`` gives JSON lines, anything else
logfmt, each line its own chunk, for as long as the client stays.  Tasks in engine worker
processes send their lines back while a stream wants them (:mod:`leyden.workers.worker`).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from leyden import API_BASE, limits
from leyden.log import level_name, parse_level, server_level, set_level
from leyden.logstream import LogStreams, describe, parse_filter
from leyden.server._http import error_response
from leyden.server.auth import USER_KEY

__all__ = ["LOGS_PATHS", "LOG_LEVEL_PATH", "STREAMS_KEY", "install"]

LOG_LEVEL_PATH = f"{API_BASE}/loglevel"
LOGS_PATHS = (f"{API_BASE}preview/logs", f"{API_BASE}/logs")

#: the application's :class:`~leyden.logstream.LogStreams`
STREAMS_KEY = web.AppKey("log_streams", LogStreams)

#: how often an idle stream checks that its client is still there
_IDLE_CHECK = 1.0

log = logging.getLogger("leyden.sessions")
level_log = logging.getLogger("leyden.http")


async def log_level(request: web.Request) -> web.Response:
    try:
        # the depth limit of every JSON body (a deeply nested one was a 500, found by fuzzing)
        body = limits.loads_json(await request.read() or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        return error_response(f"invalid json: {exc}", 400)
    level = body.get("level") if isinstance(body, dict) else None
    if not isinstance(level, str):
        return error_response("invalid log level", 400)
    try:
        wanted = parse_level(level)
    except ValueError as exc:
        return error_response(str(exc), 400)
    if wanted > server_level():
        # quieter: the audit line that follows may not be written any more, so say it now,
        # with who asked, as the audit line would
        user = request.get(USER_KEY)
        fields = {
            "user": user.name if user is not None else "-",
            "level": level_name(wanted),
            "remote": request.remote or "",
        }
        level_log.info("log level set", extra={"fields": fields})
    set_level(level)
    return web.Response(status=204)


def _alive(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def logs(request: web.Request) -> web.StreamResponse:
    try:
        tags, level = parse_filter(list(request.query.items()))
    except ValueError as exc:
        return error_response(str(exc), 400)
    as_json = request.headers.get("Accept", "") == "application/json"
    content_type = "application/json" if as_json else "application/logfmt"
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.enable_chunked_encoding()
    streams = request.app[STREAMS_KEY]
    session = streams.open(tags, level, as_json=as_json)
    fields = {"id": session.id, "content-type": content_type, "tags": describe(tags, level)}
    try:
        await response.prepare(request)
        log.info("created log session", extra={"fields": fields})
        while _alive(request):
            try:
                line = await asyncio.wait_for(session.queue.get(), _IDLE_CHECK)
            except TimeoutError:
                continue
            if line is None:  # the server is stopping
                break
            notice = session.notice()
            await response.write(((notice or "") + line).encode())
    except ConnectionError:  # the client went away mid-write
        pass
    finally:
        streams.end(session)
        if session.dropped:
            fields["dropped"] = str(session.dropped)
        log.info("deleted log session", extra={"fields": fields})
    return response


def install(app: web.Application) -> None:
    """Add the log level and log stream routes; streams end when the server shuts down."""
    streams = LogStreams()
    app[STREAMS_KEY] = streams
    app.router.add_post(LOG_LEVEL_PATH, log_level)
    for path in LOGS_PATHS:
        app.router.add_get(path, logs)

    async def _end_streams(app: web.Application) -> None:
        streams.close_all()

    app.on_shutdown.append(_end_streams)
