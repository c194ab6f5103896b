"""What the PagerDuty, VictorOps and OpsGenie tests share: a loopback server that records
requests and answers as scripted, a config from TOML text, events, and a server app to ask the
config and service-test APIs.

Test modules here are not a package; they import this module by name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from leyden.config import Config, load_config
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify import INTEGRATIONS
from leyden.notify.base import HandlerContext

NS = 1_000_000_000


@dataclass
class Seen:
    method: str
    path: str  # with the query
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def text(self) -> str:
        return self.raw.decode()


@dataclass
class Capture:
    """A loopback HTTP server: records every request, answers ``replies`` in turn (status,
    body text, headers), then ``status`` and ``body`` (200 ``{}``)."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    replies: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    status: int = 200
    body: str = "{}"

    @property
    def requests(self) -> list[Seen]:
        """What was received, in order (``seen``)."""
        return self.seen

    def reply(self, status: int, body: str = "{}", headers: dict[str, str] | None = None) -> None:
        self.replies.append((status, body, headers or {}))


@asynccontextmanager
async def capture() -> AsyncIterator[Capture]:
    cap = Capture()

    async def handle(request: web.Request) -> web.Response:
        cap.seen.append(
            Seen(request.method, request.path_qs, dict(request.headers), await request.read())
        )
        status, body, headers = cap.replies.pop(0) if cap.replies else (cap.status, cap.body, {})
        return web.Response(status=status, text=body, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    cap.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield cap
    finally:
        await runner.cleanup()


def config(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    path = tmp_path / "kapacitor.conf"
    path.write_text(text)
    return load_config(str(path), env or {}, integrations=INTEGRATIONS.sections())


def context(cfg: Config) -> HandlerContext:
    """A handler context with every integration's service built from ``cfg``."""
    return HandlerContext(config=cfg, services=INTEGRATIONS.build_services(cfg))


async def close(ctx: HandlerContext) -> None:
    for service in ctx.services.values():
        await service.close()


def event(
    level: Level = Level.CRITICAL,
    *,
    id: str = "cpu:host=a",
    message: str = "cpu is high",
    details: str = "details",
    time: int = 31_536_010 * NS,
    tags: dict[str, str] | None = None,
    task: str = "cpu_alert",
) -> Event:
    tags = {"host": "a"} if tags is None else tags
    result = {
        "series": [
            {
                "name": "cpu",
                "tags": tags,
                "columns": ["time", "value"],
                "values": [["1971-01-01T00:00:10Z", 97.5]],
            }
        ]
    }
    data = EventData(name="cpu", task_name=task, tags=tags, result=result)
    return Event("main:cpu_alert:alert2", EventState(id, message, details, time, 0, level), data)


def no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret leaked: {text!r}"


def no_secret_logged(records: list[logging.LogRecord], *secrets: str) -> None:
    for record in records:
        no_secret(record.getMessage() + repr(getattr(record, "fields", "")), *secrets)
