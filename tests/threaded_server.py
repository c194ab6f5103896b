"""A real Leyden server inside the test process, for clients that speak HTTP (the CLI's urllib
client): the aiohttp application on a free loopback port, run by an event loop in a thread of
its own, so the test itself stays synchronous like the CLI.

SQLite connections belong to the thread that opens them, so the store is opened, read and
closed on the server's thread (``call``).  The fixture that starts one is ``live_server`` in
``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import io
import threading
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from leyden.cli import main
from leyden.clock import WallClock
from leyden.config import Config
from leyden.runtime import Runtime, build_runtime
from leyden.server.app import create_app
from leyden.store import Store

T = TypeVar("T")


@dataclass
class LiveServer:
    url: str
    services: Runtime
    loop: asyncio.AbstractEventLoop

    def call(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` on the server's thread and return its result."""
        return asyncio.run_coroutine_threadsafe(_awaited(work), self.loop).result(10)

    def cli(self, *argv: str) -> tuple[int, str, str]:
        """``leyden -url <server> ARGV`` in this process: (exit code, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        code = main(["-url", self.url, *argv], out, err)
        return code, out.getvalue(), err.getvalue()

    def write(self, body: str) -> None:
        """Write line protocol and wait until the alert service handled what it produced."""
        req = urllib.request.Request(
            f"{self.url}/write?db=telegraf&rp=autogen", data=body.encode(), method="POST"
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 204
        self.call(self.services.alerts.drain)


async def _awaited(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


@contextmanager
def running(config: Config, db: Path) -> Iterator[LiveServer]:
    """A server for ``config`` with its store in ``db``, stopped (and its thread joined) on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[Runtime, web.AppRunner, int]:
        # the server's runtime, as ``leyden serve`` builds it (the store on this thread)
        services = build_runtime(config, store=Store(db), clock=WallClock())
        runner = web.AppRunner(create_app(services))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return services, runner, runner.addresses[0][1]

    services, runner, port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", services, loop)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
