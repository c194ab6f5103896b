"""One audit line for every change made through the API: who, what, from where (issue 15).

Kapacitor logs requests (``[http] log-enabled``) but not who changed a task, a template, a
topic handler or the configuration; an operator asking "who disabled the cpu alert last
night" has nothing to read.  Every request that changes something (``POST``, ``PATCH``,
``PUT``, ``DELETE`` on the task, template, topic, config, delivery and service-test routes,
and ``POST /kapacitor/v1/loglevel``)
and succeeds is logged on the ``leyden.audit`` logger, whatever ``log-enabled`` says::

    lvl=info msg="api change" user=ops remote=10.0.0.7 action=enable method=PATCH
        path=/kapacitor/v1/tasks/cpu_alert status=200

``user`` is the authenticated user (``-`` when authentication is off).  Only the route and the
request's ``id`` and ``status`` keys are logged, never a body: a config update or a topic
handler may carry a secret.  Writes (``/write``) are data, not changes, and are not audited.
"""

from __future__ import annotations

import logging

from aiohttp import web

from leyden import API_BASE, limits
from leyden.server._http import Handler
from leyden.server.auth import USER_KEY

__all__ = ["audit", "install"]

log = logging.getLogger("leyden.audit")

#: the routes whose changes are audited
_AUDITED = tuple(
    f"{API_BASE}/{route}"
    for route in (
        "tasks",
        "templates",
        "alerts",
        "config",
        "deliveries",
        "service-tests",
        "loglevel",
    )
)
_CHANGES = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_VERBS = {"POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete"}


def _action(method: str, path: str, status: str) -> str:
    """What the request did, in the words an operator uses (``enable``, ``retry`` …)."""
    if method == "PATCH" and path.startswith(f"{API_BASE}/tasks/") and status:
        return {"enabled": "enable", "disabled": "disable"}.get(status, "update")
    if path.startswith(f"{API_BASE}/config"):
        return "configure"
    if path == f"{API_BASE}/loglevel":
        return "set-log-level"
    if path.startswith(f"{API_BASE}/service-tests"):
        return "test"
    if path.startswith(f"{API_BASE}/deliveries") and method == "POST":
        return "retry"
    return _VERBS[method]


async def _request_keys(request: web.Request) -> tuple[str, str, str]:
    """The ``id``, ``status`` and ``level`` (``loglevel``) of a JSON request body, when it
    has them (strings only)."""
    if not request.body_exists:
        return "", "", ""
    try:
        body = limits.loads_json(await request.read())
    except (ValueError, UnicodeDecodeError):
        return "", "", ""
    if not isinstance(body, dict):
        return "", "", ""
    keys = (body.get("id"), body.get("status"), body.get("level"))
    ident, status, level = (k if isinstance(k, str) else "" for k in keys)
    return ident, status, level


@web.middleware
async def audit(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if (
        request.method in _CHANGES
        and request.path.startswith(_AUDITED)
        and 200 <= response.status < 300
    ):
        ident, status, level = await _request_keys(request)
        user = request.get(USER_KEY)
        fields = {
            "user": user.name if user is not None else "-",
            "remote": request.remote or "",
            "action": _action(request.method, request.path, status),
            "method": request.method,
            "path": request.path,
            "status": response.status,
        }
        if ident:
            fields["id"] = ident
        if level and request.path == f"{API_BASE}/loglevel":
            fields["level"] = level.lower()
        log.info("api change", extra={"fields": fields})
    return response


def install(app: web.Application) -> None:
    """Audit the application's changes; before :func:`leyden.server.auth.install`, so the
    authenticated user is known when the line is written."""
    app.middlewares.append(audit)
