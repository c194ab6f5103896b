"""Fixtures for the REST integrations' tests (Alerta, ServiceNow, Zenoss …).

``rest_capture`` is :func:`rest_capture.capture`'s real aiohttp server on 127.0.0.1, which
records every request and answers what the test says; ``alert_event`` builds an event the way
the alert node makes one.  Test modules here are not a package, so what they share comes as
fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from rest_capture import Capture, capture

from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level


@pytest.fixture
async def rest_capture() -> AsyncIterator[Capture]:
    """rest_capture.py's loopback server, as a fixture."""
    async with capture() as cap:
        yield cap


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
