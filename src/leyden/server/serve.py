"""``leyden serve``: build the runtime from a Config, listen, and shut down cleanly.

The server's runtime is :func:`leyden.runtime.build_runtime` over the SQLite file under
``data_dir`` and the wall clock; this module only adds the listening socket, signals and the
access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from leyden import KAPACITOR_VERSION
from leyden.clock import WallClock
from leyden.config import Config
from leyden.notify import INTEGRATIONS
from leyden.notify.base import IntegrationError
from leyden.runtime import Runtime, build_runtime, open_store
from leyden.server.app import create_app
from leyden.server.status import LIVE_PATH
from leyden.store import StoreError

log = logging.getLogger("leyden.server")

#: query parameters that carry credentials (InfluxDB-style ``?u=&p=``) are never logged
_SECRET_PARAMS = {"p", "password", "token"}


class AccessLogger(AbstractAccessLogger):
    """One logfmt line per request, with credentials in the query string masked; the status
    page's refreshes that succeed at debug level (one every few seconds per open page)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        query = request.query_string
        if query:
            pairs = [
                (k, "[REDACTED]" if k in _SECRET_PARAMS else v)
                for k, v in parse_qsl(query, keep_blank_values=True)
            ]
            path = f"{request.path}?{urlencode(pairs)}"
        else:
            path = request.path
        # an open status page asks for its body every few seconds: its answers are debug
        level = (
            logging.DEBUG if request.path == LIVE_PATH and response.status == 200 else logging.INFO
        )
        self.logger.log(
            level,
            "http request",
            extra={
                "fields": {
                    "method": request.method,
                    "path": path,
                    "status": response.status,
                    "duration_ms": f"{time * 1000:.3f}",
                    "remote": request.remote or "",
                }
            },
        )


def split_bind_address(address: str) -> tuple[str | None, int]:
    """``host:port`` → (host, port); an empty host (``:9092``) means every interface."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    return (host or None), int(port)


def server_runtime(config: Config) -> Runtime:
    """The runtime of one server: the configured store (:func:`open_store`), the wall clock."""
    try:
        store = open_store(config)
    except StoreError as exc:
        raise ServeError(str(exc)) from None
    try:
        return build_runtime(
            config, store=store, clock=WallClock(), engine_workers=config.engine.worker_count()
        )
    except IntegrationError as exc:
        store.close()
        where = f"{exc.section}: " if exc.section else ""
        raise ServeError(f"{config.source}: {where}{exc}") from None


async def serve(
    config: Config, *, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None
) -> None:
    """Run the server until SIGINT/SIGTERM (or ``stop`` is set), then close everything."""
    runtime = server_runtime(config)
    app = create_app(runtime)
    runner = web.AppRunner(
        app,
        access_log_class=AccessLogger,
        access_log=logging.getLogger("leyden.http") if config.http.log_enabled else None,
        handle_signals=False,
    )
    await runner.setup()
    host, port = split_bind_address(config.http.bind_address)
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ServeError(f"cannot listen on {config.http.bind_address}: {exc.strerror}") from None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    log.info(
        "listening",
        extra={
            "fields": {
                "address": config.http.bind_address,
                "version": KAPACITOR_VERSION,
                "config": config.source,
            }
        },
    )
    INTEGRATIONS.log_start(runtime.integrations, log)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await runner.cleanup()
        log.info("stopped")


class ServeError(Exception):
    """A start-up failure the user can fix (port in use, …)."""
