"""InfluxDB 1.x's ``/write`` (and Kapacitor's ``/kapacitor/v1/write``), plus ``/debug/vars``,
the view of the write statistics.

Kapacitor accepts points on both paths (``services/httpd/handler.go``, ``serveWrite``), with
InfluxDB's query parameters (``db``, ``rp``, ``precision``).  Its write errors are plain text
although the header says JSON; we answer ``text/plain``.  Good lines of a body with bad lines
are still accepted, and the 400 names the bad ones (Kapacitor drops the whole body).
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from leyden import API_BASE, KAPACITOR_VERSION, lineprotocol
from leyden.engine.router import Router
from leyden.go.types import GoStruct
from leyden.server._http import SERVICES_KEY, json_response

__all__ = ["MAX_WRITE_BODY", "debug_vars", "install", "write"]

#: largest write body accepted after decompression (InfluxDB's default is 25 MB)
MAX_WRITE_BODY = 32 * 1024 * 1024
#: points handed to the engine between two turns of the event loop
WRITE_CHUNK = 5000
#: how many bad lines a write error names before "and N more"
MAX_REPORTED_LINE_ERRORS = 10


def _plain_error(message: str, status: int) -> web.Response:
    # Kapacitor's write errors are plain text although the header says JSON; we say text.
    return web.Response(text=message + "\n", status=status, content_type="text/plain")


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
    """InfluxDB 1.x ``/write``: parse line protocol and hand the points to the router.

    Good lines of a body with bad lines are still accepted; the 400 names the bad ones.  The
    router counts the request, and whether it was refused in whole or part.
    """
    router = request.app[SERVICES_KEY].router
    response = await _write(request, router)
    router.count_write(failed=response.status >= 400)
    return response


async def _write(request: web.Request, router: Router) -> web.Response:
    db = request.query.get("db", "")
    if not db:
        return _plain_error("database is required", 400)
    rp = request.query.get("rp", "")
    precision = request.query.get("precision", "ns") or "ns"
    if precision not in lineprotocol.PRECISIONS:
        return _plain_error(
            f'invalid precision "{precision}": use one of n, ns, u, ms, s, m, h', 400
        )
    try:
        body = await _read_body(request)
    except ValueError as exc:
        return _plain_error(str(exc), 400)
    if not body.strip():
        return web.Response(status=200)
    result = lineprotocol.parse(body, precision=precision, now_ns=time.time_ns())
    points = result.points
    for start in range(0, len(points), WRITE_CHUNK):
        if start:
            await asyncio.sleep(0)  # a big body must not keep deliveries and requests waiting
        router.write_points(db, rp, points[start : start + WRITE_CHUNK])
    if not result.errors:
        return web.Response(status=204)
    errors = result.errors
    lines = [e.message for e in errors[:MAX_REPORTED_LINE_ERRORS]]
    if len(errors) > MAX_REPORTED_LINE_ERRORS:
        lines.append(f"… and {len(errors) - MAX_REPORTED_LINE_ERRORS} more bad lines")
    summary = (
        f"partial write: {len(result.points)} points accepted, {len(errors)} lines rejected:\n"
        + "\n".join(lines)
    )
    return _plain_error(summary, 400)


async def debug_vars(request: web.Request) -> web.Response:
    """A small expvar-like view of write statistics (Kapacitor serves ``/debug/vars``)."""
    stats = request.app[SERVICES_KEY].router.stats
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


def install(app: web.Application) -> None:
    """Add the write routes and the write statistics to ``app``."""
    r = app.router
    r.add_post("/write", write)
    r.add_post(f"{API_BASE}/write", write)
    r.add_get(f"{API_BASE}/debug/vars", debug_vars)
