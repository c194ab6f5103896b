"""A real HTTP server on loopback that records requests and answers what a test scripts.

For the unit tests of the REST integrations (Telegram, Pushover, BigPanda …): each test starts
one with :func:`capture`, points the integration's ``url`` at ``server.url``, and reads
``server.requests`` (method, path with query, headers, raw body).  ``answers`` are given in
order (the last one repeats): ``(status, body, headers)``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class CaptureServer:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    answers: list[tuple[int, str, Mapping[str, str]]] = field(default_factory=list)


@asynccontextmanager
async def capture(*answers: tuple[int, str, Mapping[str, str]]) -> AsyncIterator[CaptureServer]:
    server = CaptureServer(answers=list(answers) or [(200, '{"ok": true}', {})])

    async def handle(request: web.Request) -> web.Response:
        server.requests.append(
            Recorded(request.method, request.path_qs, dict(request.headers), await request.read())
        )
        status, body, headers = server.answers[min(len(server.requests), len(server.answers)) - 1]
        return web.Response(status=status, text=body, headers=dict(headers))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()
