"""Fixtures for the REST integrations' tests (Alerta, ServiceNow, Zenoss …).

``rest_capture`` starts a real aiohttp server on 127.0.0.1 that records every request and
answers what the test says; ``alert_event`` builds an event the way the alert node makes one.
Test modules here are not a package, so what they share comes as fixtures.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class RestCapture:
    """The server's base URL, what it received, and what it answers next."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    body: str = "{}"


@pytest.fixture
async def rest_capture() -> AsyncIterator[RestCapture]:
    capture = RestCapture()

    async def handle(request: web.Request) -> web.Response:
        text = (await request.read()).decode()
        capture.requests.append(
            Received(request.method, request.path_qs, dict(request.headers), text)
        )
        return web.Response(status=capture.status, text=capture.body)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    capture.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield capture
    await runner.cleanup()


def _event(
    level: Level = Level.CRITICAL,
    id: str = "cpu/serverA",
    message: str = "",
    tags: dict[str, str] | None = None,
    fields: dict[str, Any] | None = None,
) -> Event:
    return Event(
        topic="main:task:alert2",
        state=EventState(
            id=id,
            message=message or f"{id} is {level}",
            details="d",
            time=Time(31_536_010_000_000_000),
            duration=Duration(0),
            level=level,
        ),
        data=EventData(
            name="cpu",
            task_name="task",
            group="host=serverA",
            tags={"host": "serverA"} if tags is None else tags,
            fields={"value": 97.5} if fields is None else fields,
            result={"series": [{"name": "cpu", "columns": ["time", "value"]}]},
        ),
        previous_level=Level.OK,
    )


@pytest.fixture
def alert_event() -> Callable[..., Event]:
    """``alert_event(level=CRITICAL, id="cpu/serverA", message="", tags=None, fields=None)``"""
    return _event
