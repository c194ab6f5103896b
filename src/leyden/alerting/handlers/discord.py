"""``.discord()`` and ``kind: discord``: events handed to :class:`DiscordService`.

All Discord behaviour (workspace fallbacks, payload fitting, retries) lives in
:mod:`leyden.discord`; this adapter only maps option names and reports an undelivered event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leyden.alerting.handlers.base import HandlerConfigError, HandlerContext, HandlerError
from leyden.discord.service import DiscordError, DiscordHandlerOptions, DiscordService
from leyden.model.alert import Event


class DiscordHandler:
    kind = "discord"

    def __init__(self, service: DiscordService, options: DiscordHandlerOptions) -> None:
        self.service = service
        self.options = options

    async def handle(self, event: Event) -> None:
        result = await self.service.handle(event, self.options)
        if not result.delivered:
            where = (
                f'workspace "{self.options.workspace}"'
                if self.options.workspace
                else ("the default workspace")
            )
            raise HandlerError(f"failed to send event to Discord ({where}): {result.describe()}")

    async def close(self) -> None:
        return None  # the service owns the connections


def _service(ctx: HandlerContext) -> DiscordService:
    if ctx.discord is None:
        raise HandlerConfigError("discord handler: no Discord service is configured")
    return ctx.discord


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> DiscordHandler:
    """From ``.discord().workspace().username().avatarURL()/.avatarUrl().embedTitle().timestamp()``."""
    timestamp = props.get("timestamp")
    return DiscordHandler(
        _service(ctx),
        DiscordHandlerOptions(
            workspace=props.get("workspace") or "",
            username=props.get("username") or "",
            avatar_url=props.get("avatarURL") or props.get("avatarUrl") or "",
            embed_title=props.get("embedTitle") or "",
            timestamp=None if timestamp is None else bool(timestamp),
        ),
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> DiscordHandler:
    """From a ``kind: discord`` handler file's ``options`` (hyphenated keys)."""
    try:
        parsed = DiscordHandlerOptions.from_options(options)
    except DiscordError as exc:
        raise HandlerConfigError(str(exc)) from None
    return DiscordHandler(_service(ctx), parsed)
