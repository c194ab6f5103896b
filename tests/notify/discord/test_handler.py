"""The ``.discord()`` adapter: ``handle`` is one attempt, as the handler protocol says.

The dispatcher owns retries for every kind; ``handle`` (service tests, unit tests) is one
``send`` whose failure is raised, never a retry loop of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from leyden.notify.base import HandlerError
from leyden.notify.discord.handler import DiscordHandler
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.service import DiscordHandlerOptions, DiscordService


async def test_handle_is_one_attempt_and_raises_its_failure(
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
    sender: DiscordSender,
    server: Any,
    fake_time: Any,
) -> None:
    server.script(500, 204)
    service = DiscordService([make_config(url=server.url())], sender=sender)
    handler = DiscordHandler(service, DiscordHandlerOptions())
    with pytest.raises(HandlerError, match=r"the default workspace\): HTTP 500"):
        await handler.handle(make_event())
    assert len(server.seen) == 1
    assert fake_time.waits == []
    await handler.handle(make_event())
    assert len(server.seen) == 2
