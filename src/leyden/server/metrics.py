"""``GET /metrics`` (Prometheus' text exposition) and Kapacitor's ``GET /kapacitor/v1/debug/vars``.

Kapacitor exposes its counters only as expvar JSON at ``/kapacitor/v1/debug/vars``
(``services/httpd``'s ``serveExpvar``): the globals ``cluster_id``, ``server_id``, ``host``,
``product``, ``version``, ``platform``, ``num_tasks``, ``num_enabled_tasks``,
``num_subscriptions``, ``cmdline`` and ``memstats``, and under ``"kapacitor"`` every statistic
as ``{"name", "tags", "values"}`` (``server/vars``; the client's ``DebugVars`` reads that
shape).  Leyden answers the same shape, keeps its own ``"write"`` totals beside it, and adds
the path Prometheus scrapes by default, outside ``/kapacitor/v1`` like InfluxDB's ``/write``.

Both are read at scrape time from counters the engine and the dispatcher already keep
(:mod:`leyden.tasks.metrics` for writes, tasks, nodes, alerts and topics;
:mod:`leyden.delivery.metrics` for the outbox and deliveries): asking costs the asker, never
the per-point path.  Tasks placed in engine workers show what a refresh fetches first.
With ``[http] auth-enabled`` both need read access to the API, as every other route.
"""

from __future__ import annotations

import gc
import resource
import sys

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from leyden import API_BASE, KAPACITOR_VERSION
from leyden.delivery.metrics import metrics_registry
from leyden.go.types import GoStruct
from leyden.runtime import Runtime
from leyden.server._http import SERVICES_KEY, json_response
from leyden.tasks.metrics import EngineCollector, EngineSnapshot, kapacitor_stats, snapshot

__all__ = ["DEBUG_VARS_PATH", "METRICS_PATH", "engine_snapshot", "install"]

METRICS_PATH = "/metrics"
DEBUG_VARS_PATH = f"{API_BASE}/debug/vars"

#: the classic text format every Prometheus server reads (``generate_latest`` writes it)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)


def _snapshot(runtime: Runtime) -> EngineSnapshot:
    return snapshot(runtime.router.stats, runtime.tasks, runtime.alerts.topics)


async def _refresh(runtime: Runtime) -> None:
    """Fetch the statistics of tasks in engine workers (nothing without workers)."""
    if runtime.pool is not None:
        await runtime.tasks.refresh([r.id for r in runtime.tasks.find(limit=1 << 31)])


async def engine_snapshot(runtime: Runtime) -> EngineSnapshot:
    """The engine's counters now, tasks in engine workers refreshed first: what ``/metrics``
    and ``debug/vars`` read, for other views (the status page) to read the same."""
    await _refresh(runtime)
    return _snapshot(runtime)


async def metrics(request: web.Request) -> web.Response:
    await _refresh(request.app[SERVICES_KEY])
    body = generate_latest(request.app[_REGISTRY_KEY])
    # the content type carries the exposition version, which aiohttp's content_type= would drop
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def _memstats() -> dict[str, int]:
    """What Python can say of Go's ``runtime.MemStats``: the most memory the process held
    (``Sys``) and the garbage collections so far (``NumGC``)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_bytes = rss if sys.platform == "darwin" else rss * 1024  # Linux counts KiB
    return {"Sys": rss_bytes, "NumGC": sum(g["collections"] for g in gc.get_stats())}


async def debug_vars(request: web.Request) -> web.Response:
    """Kapacitor's expvar document (see the module's docstring) plus Leyden's ``"write"``."""
    runtime = request.app[SERVICES_KEY]
    snap = await engine_snapshot(runtime)
    ids = {
        "cluster_id": runtime.store.server_id("cluster"),
        "server_id": runtime.store.server_id("server"),
        "host": runtime.config.hostname,
    }
    write = snap.write
    return json_response(
        {
            **ids,
            "product": "kapacitor",
            "version": KAPACITOR_VERSION,
            "platform": "Leyden",
            "cmdline": list(sys.argv),
            "num_tasks": len(snap.tasks),
            "num_enabled_tasks": sum(1 for r in snap.tasks if r.status == "enabled"),
            "num_subscriptions": runtime.influxdb.num_subscriptions(),
            "kapacitor": kapacitor_stats(snap, ids),
            "memstats": _memstats(),
            "write": GoStruct(
                [
                    ("points_received", write.points_received),
                    ("points_routed", write.points_routed),
                    ("write_requests", write.write_requests),
                    ("write_errors", write.write_errors),
                    ("per_dbrp", {f"{db}.{rp}": n for (db, rp), n in write.per_dbrp.items()}),
                    ("points_without_rp_unrouted", dict(write.points_without_rp_unrouted)),
                ]
            ),
        }
    )


def install(app: web.Application) -> None:
    """Add ``GET /metrics`` and ``GET /kapacitor/v1/debug/vars`` over ``app[SERVICES_KEY]``."""
    runtime = app[SERVICES_KEY]
    dispatcher = runtime.alerts.dispatcher
    registry = metrics_registry(
        runtime.delivery_counters,
        runtime.outbox,
        breakers=dispatcher.breakers,
        guard=dispatcher.guard,
    )
    registry.register(EngineCollector(lambda: _snapshot(runtime)))
    app[_REGISTRY_KEY] = registry
    app.router.add_get(METRICS_PATH, metrics)
    app.router.add_get(DEBUG_VARS_PATH, debug_vars)
