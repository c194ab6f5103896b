"""Refuse changes asked for by another web site's page (cross-site request forgery).

Kapacitor answers any ``Origin`` with CORS headers and takes a task, a write or a handler
from whoever sends it.  A browser sends requests to ``localhost:9092`` for any page it shows,
with the basic credentials it holds for the server (the status page makes browsers hold
them), and a form posting ``text/plain`` needs no CORS preflight: a hostile page could define
a task with an ``exec`` handler.  So a request that can change something (``POST``, ``PUT``,
``PATCH``, ``DELETE``) is refused with 403 when the browser says it comes from another origin:
its ``Origin`` names another host than the request's ``Host``, or, without ``Origin``, its
``Sec-Fetch-Site`` says ``cross-site`` or ``same-site``.  Programs (the CLI, Telegraf,
InfluxDB subscriptions, Chronograf's proxy, curl) send neither header and are unaffected; the
status page is same-origin.  ``[http] allowed-origins`` lists the origins whose pages may
change things anyway (``"*"``: any, as Kapacitor).

Reading is guarded the same way: Kapacitor echoes any ``Origin`` into
``Access-Control-Allow-Origin``, which lets any page the browser shows read every answer of a
server without authentication (the backup holds the handlers' tokens).  The CORS headers are
only given to the origins ``allowed-origins`` lists (``"*"``: any page, as Kapacitor).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterable

from aiohttp import web

from leyden.go.types import go_quote
from leyden.server._http import SERVICES_KEY, Handler, error_response

__all__ = ["cross_origin", "install"]

log = logging.getLogger("leyden.http")

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` lower-cased, without a default port or a trailing slash, so
    ``https://Grafana.example.com:443/`` and ``https://grafana.example.com`` are one origin."""
    parts = urllib.parse.urlsplit(origin.strip())
    netloc = parts.netloc.lower()
    default = {"http": ":80", "https": ":443"}.get(parts.scheme.lower())
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{parts.scheme.lower()}://{netloc}" if parts.scheme and netloc else origin


def _listed(origin: str, allowed: frozenset[str]) -> bool:
    return "*" in allowed or normalize_origin(origin) in allowed


def cross_origin(request: web.BaseRequest, allowed: Iterable[str] = ()) -> str | None:
    """Why ``request`` reads as sent by another origin's page, or None when it does not."""
    if request.method not in _UNSAFE:
        return None
    listed = frozenset(normalize_origin(o) if o != "*" else o for o in allowed)
    origin = request.headers.get("Origin")
    if origin is not None:
        if _listed(origin, listed):
            return None
        parts = urllib.parse.urlsplit(origin)
        if parts.netloc and parts.netloc.lower() == request.host.lower():
            return None
        return f"Origin {go_quote(origin)}"
    site = request.headers.get("Sec-Fetch-Site", "")
    if site in ("cross-site", "same-site") and "*" not in listed:
        return f"Sec-Fetch-Site {go_quote(site)}"
    return None


def install(app: web.Application) -> None:
    """Guard every route; first among the route modules' middlewares, so a refused request
    reaches neither the audit log nor authentication."""
    allowed = frozenset(
        normalize_origin(o) if o != "*" else o
        for o in app[SERVICES_KEY].config.http.allowed_origins
    )

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        why = cross_origin(request, allowed)
        if why is None:
            response = await handler(request)
            origin = request.headers.get("Origin")
            if origin is not None and _listed(origin, allowed) and not response.prepared:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Allow-Methods"] = (
                    "DELETE, GET, OPTIONS, PATCH, POST, PUT"
                )
                response.headers["Access-Control-Allow-Headers"] = (
                    "Accept, Authorization, Content-Type"
                )
            return response
        log.warning(
            "cross-origin change refused",
            extra={
                "fields": {
                    "method": request.method,
                    "path": request.path,
                    "remote": request.remote or "",
                    "from": why,
                }
            },
        )
        return error_response(
            f"{request.method} {request.path} refused: the request comes from another web site "
            f"({why}); list its origin in [http] allowed-origins to allow it",
            403,
        )

    app.middlewares.append(guard)
