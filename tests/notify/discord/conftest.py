"""A scripted webhook server on 127.0.0.1, a fake clock, and builders for configs and events.

Test modules here are not a package, so everything they need comes as a fixture.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify.discord.config import DiscordConfig
from leyden.notify.discord.sender import DiscordSender

TOKEN = "SeCrEtToKeN-abc_123"
WEBHOOK_PATH = f"/api/webhooks/123456789/{TOKEN}"


@dataclass
class Reply:
    status: int = 204
    body: Any = None  # dict/list → JSON, str → text, None → empty
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    peer: Any
    peercert: Any


class WebhookServer:
    """Answers POSTs with scripted replies (then 204) and records what it received."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.seen: list[Seen] = []
        self.base = ""
        self._runner: web.AppRunner | None = None

    token = TOKEN
    path = WEBHOOK_PATH

    def script(self, *replies: int | tuple[Any, ...]) -> None:
        """Queue answers: a status, or (status, body[, headers]); body dict/list → JSON."""
        for reply in replies:
            self.replies.append(Reply(reply) if isinstance(reply, int) else Reply(*reply))

    def url(self, path: str = WEBHOOK_PATH) -> str:
        return self.base + path

    @property
    def peers(self) -> set[Any]:
        return {s.peer for s in self.seen}

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        transport = request.transport
        self.seen.append(
            Seen(
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                body=body,
                peer=transport.get_extra_info("peername") if transport else None,
                peercert=transport.get_extra_info("peercert") if transport else None,
            )
        )
        reply = self.replies.pop(0) if self.replies else Reply()
        if isinstance(reply.body, dict | list):
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        return web.Response(
            status=reply.status,
            text=reply.body if reply.body is not None else None,
            headers=reply.headers,
        )

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> WebhookServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base = f"{'https' if ssl_context else 'http'}://{host}:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def server_factory() -> AsyncIterator[Callable[..., Awaitable[WebhookServer]]]:
    servers: list[WebhookServer] = []

    async def start(ssl_context: ssl.SSLContext | None = None) -> WebhookServer:
        server = await WebhookServer().start(ssl_context)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def server(server_factory: Callable[..., Awaitable[WebhookServer]]) -> WebhookServer:
    return await server_factory()


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def sender(fake_time: FakeTime) -> AsyncIterator[DiscordSender]:
    """A sender on fake time."""
    s = DiscordSender(sleep=fake_time.sleep, clock=fake_time.clock, trust_env=False)
    yield s
    await s.close()


class LogCapture(logging.Handler):
    """Keeps every record logged under ``leyden`` (works even when propagation is off)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        """Everything a formatter could print from each record, structured fields included."""
        return [f"{r.getMessage()} {r.args!r} {getattr(r, 'fields', '')!r}" for r in self.records]


@pytest.fixture
def leyden_logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    logger = logging.getLogger("leyden")
    old_level = logger.level
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    yield capture
    logger.removeHandler(capture)
    logger.setLevel(old_level)


def _make_config(**overrides: Any) -> DiscordConfig:
    values: dict[str, Any] = {
        "enabled": True,
        "default": True,
        "workspace": "",
        "url": "",
        "timestamp": False,
        "username": "",
        "avatar_url": "",
        "embed_title": "",
        "global_": False,
        "state_changes_only": False,
        "ssl_ca": "",
        "ssl_cert": "",
        "ssl_key": "",
        "insecure_skip_verify": False,
    }
    values.update(overrides)
    return DiscordConfig(**values)


def _make_event(
    message: str = "serverA is CRITICAL",
    level: Level = Level.CRITICAL,
    *,
    time_ns: int = 1_000_000_000,
    id: str = "cpu:host=serverA",
    tags: dict[str, str] | None = None,
    duration_ns: int = 0,
    previous: Level = Level.OK,
) -> Event:
    return Event(
        topic="main:cpu:alert2",
        state=EventState(
            id=id,
            message=message,
            details="",
            time=Time(time_ns),
            duration=Duration(duration_ns),
            level=level,
        ),
        data=EventData(
            name="cpu", task_name="cpu", tags=tags if tags is not None else {"host": "serverA"}
        ),
        previous_level=previous,
    )


@pytest.fixture
def make_config() -> Callable[..., Any]:
    """Builds a ``DiscordConfig``: enabled, default, everything else empty."""
    return _make_config


@pytest.fixture
def make_event() -> Callable[..., Event]:
    """Builds an alert event (default: CRITICAL "serverA is CRITICAL" at 1970-01-01T00:00:01Z)."""
    return _make_event
