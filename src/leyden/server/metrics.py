"""``GET /metrics``: Prometheus' text exposition of the delivery metrics (issue 10 item 5).

Kapacitor exposes its counters only as expvar JSON at ``/kapacitor/v1/debug/vars``; Leyden
keeps that route and adds the path Prometheus scrapes by default, outside ``/kapacitor/v1``
like InfluxDB's ``/write``.  What it shows is :mod:`leyden.delivery.metrics`: the
dispatcher's counters and the outbox's gauges per handler kind and redacted destination, and
the broken-webhook breakers and the invalid-request guard.
With ``[http] auth-enabled`` it needs read access to the API, as every other route.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from leyden.delivery.metrics import metrics_registry
from leyden.server._http import SERVICES_KEY

__all__ = ["METRICS_PATH", "install"]

METRICS_PATH = "/metrics"

#: the classic text format every Prometheus server reads (``generate_latest`` writes it)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[_REGISTRY_KEY])
    # the content type carries the exposition version, which aiohttp's content_type= would drop
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def install(app: web.Application) -> None:
    """Add ``GET /metrics`` over ``app[SERVICES_KEY]``'s outbox and delivery counters."""
    runtime = app[SERVICES_KEY]
    dispatcher = runtime.alerts.dispatcher
    app[_REGISTRY_KEY] = metrics_registry(
        runtime.delivery_counters,
        runtime.outbox,
        breakers=dispatcher.breakers,
        guard=dispatcher.guard,
    )
    app.router.add_get(METRICS_PATH, metrics)
