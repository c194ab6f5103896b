"""A loopback HTTP server that records what the webhook integrations (Slack, Teams, Talk …) post.

Each request is kept as ``{"path", "headers", "body", "json"}`` (``json`` is ``None`` for a body
that is not JSON); answers come from ``responses`` in turn (the last one repeats), by default
200 with ``ok``.  ``on_request`` runs for every request (a storm test records its simulated
time there).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Answer:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)


class WebhookCapture:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.responses: list[Answer] = [Answer()]
        self.on_request: Callable[[], None] | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        text = await request.text()
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = None
        self.requests.append(
            {"path": request.path_qs, "headers": dict(request.headers), "body": text, "json": body}
        )
        if self.on_request is not None:
            self.on_request()
        answer = self.responses[min(len(self.requests), len(self.responses)) - 1]
        return web.Response(status=answer.status, text=answer.body, headers=answer.headers)


@asynccontextmanager
async def webhook_capture() -> AsyncIterator[WebhookCapture]:
    """A :class:`WebhookCapture` on a free loopback port; ``url`` is its base URL."""
    capture = WebhookCapture()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", capture._handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    capture.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield capture
    finally:
        await runner.cleanup()
