"""The status page of ``leyden serve`` (issue 15): what runs, what fired, what waits to be sent.

Kapacitor has no page of its own (Chronograf shows its tasks and alerts from outside); an
operator of Leyden gets one at ``/status`` (``/`` redirects there), behind the same
authentication as the API (:mod:`leyden.server.auth`: ``GET /status`` needs read access to
``/api/status``, so a user with the ``api`` or ``all`` permission; a browser is challenged for
basic credentials on the page and its files).  It shows:

* tasks: status (``failed`` for an enabled task whose start failed, with its error, as ``list
  tasks`` shows it), executing, throughput and each node's statistics;
* topics: their level, how many events at each level, their latest events;
* deliveries: the outbox per destination (queued, in flight, dead, oldest), the dispatcher's
  totals since start, broken webhooks (open breakers) and the dead letters, each with a retry
  button that posts to the deliveries API (``POST /kapacitor/v1/deliveries/ID/retry``), shown
  to a user that API would let retry (Kapacitor's permissions have no read-only grant of the
  API, so today that is every user who may see the page);
* the selected event's Discord message as Discord shows it (:mod:`.preview`).

Every fact is read from its owner at request time (:mod:`.view` says which); the page is
rendered on the server by Jinja2 templates with autoescaping on (``templates/``), and a few
lines of script (``static/status.js``) fetch ``/status/live`` (the page's body alone) every
few seconds and swap it in, so the page is live without a reload and works without script
too.  No build step, no third-party asset; a Content-Security-Policy allows only the page's
own script and style.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from leyden import KAPACITOR_VERSION
from leyden.notify.discord.service import DiscordService
from leyden.server import deliveries_api
from leyden.server._http import SERVICES_KEY
from leyden.server.auth import BROWSER_PATHS_KEY, USER_KEY, Privilege, api_resource
from leyden.server.metrics import engine_snapshot
from leyden.server.status import view
from leyden.server.status.preview import preview

__all__ = ["LIVE_PATH", "REFRESH_SECONDS", "STATUS_PATH", "install", "templates"]

STATUS_PATH = "/status"
LIVE_PATH = f"{STATUS_PATH}/live"
STATIC_PATH = f"{STATUS_PATH}/static"
#: how often the page fetches its body again
REFRESH_SECONDS = 3

HERE = Path(__file__).resolve().parent

#: the page's own script and style only; colours of embeds and levels are style attributes
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

_ENV_KEY = web.AppKey("status_templates", jinja2.Environment)


def templates() -> jinja2.Environment:
    """The page's templates (package data beside this module), HTML-escaped throughout."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("leyden.server.status", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["ago"] = view.ago
    env.globals["retry_path"] = view.retry_path
    return env


def _selection(request: web.Request) -> tuple[view.Selection, str]:
    """The event asked for (``?topic=&event=`` or ``?delivery=``), or why it cannot be."""
    query = request.query
    text = query.get("delivery", "")
    if text:
        parsed = deliveries_api.parse_delivery_id(text)
        if isinstance(parsed, str):
            return view.Selection(), parsed
        return view.Selection(delivery=parsed), ""
    return view.Selection(topic=query.get("topic", ""), event=query.get("event", "")), ""


def can_retry(request: web.Request) -> bool:
    """Whether the deliveries API would let this request's user retry a delivery: anyone
    when authentication is off, else a user with write privilege there."""
    user = request.get(USER_KEY)
    return user is None or user.authorized(api_resource(view.retry_path(0)), Privilege.WRITE)


async def _context(request: web.Request) -> dict[str, Any]:
    runtime = request.app[SERVICES_KEY]
    snap = await engine_snapshot(runtime)
    topics = runtime.alerts.topics
    selection, problem = _selection(request)
    chosen = bool(selection.topic or selection.delivery is not None)
    order = view.order_topics(topics, snap.topics)
    if not chosen and not problem:
        selection = view.latest_event(order)
    service = runtime.integrations.get("discord")
    dispatcher = runtime.alerts.dispatcher
    tasks = view.tasks(snap)
    return {
        "hostname": runtime.config.hostname,
        "version": KAPACITOR_VERSION,
        "refresh": REFRESH_SECONDS,
        "live_path": LIVE_PATH,
        "query": request.query_string,
        "write": snap.write,
        "tasks": tasks,
        "failed_tasks": sum(1 for t in tasks if t.status == "failed"),
        "executing_tasks": sum(1 for t in tasks if t.executing),
        "topics": view.topics(order, selection),
        "topics_total": order.total,
        "topics_firing": order.firing,
        "deliveries": view.deliveries(
            runtime.outbox,
            runtime.delivery_counters,
            dispatcher.breakers,
            guard_engaged=dispatcher.guard.engaged(),
        ),
        "can_retry": can_retry(request),
        "selection": selection,
        "chosen": chosen,
        "selection_error": problem,
        "preview": preview(
            selection,
            topics,
            runtime.outbox,
            service if isinstance(service, DiscordService) else None,
            clock=time.time,
        ),
    }


def _html(request: web.Request, name: str, context: dict[str, Any]) -> web.Response:
    text = request.app[_ENV_KEY].get_template(name).render(context)
    response = web.Response(text=text, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def page(request: web.Request) -> web.Response:
    return _html(request, "page.html", await _context(request))


async def live(request: web.Request) -> web.Response:
    """The page's body alone, for the script to swap in."""
    return _html(request, "body.html", await _context(request))


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound(STATUS_PATH)


def install(app: web.Application) -> None:
    """Add ``/``, ``/status``, ``/status/live`` and the page's static files."""
    # a browser is challenged for credentials here, the script and style included
    app.setdefault(BROWSER_PATHS_KEY, []).append(STATUS_PATH)
    r = app.router
    r.add_get("/", root)
    r.add_get(STATUS_PATH, page)
    r.add_get(LIVE_PATH, live)
    files = r.add_static(STATIC_PATH, HERE / "static", append_version=True)
    env = templates()
    # ?v=<digest of the file>: a browser never keeps an old script or style after an upgrade
    env.globals["static"] = {
        name: str(files.url_for(filename=name)) for name in ("status.css", "status.js")
    }
    app[_ENV_KEY] = env
