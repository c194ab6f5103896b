"""``.discord()`` and ``kind: discord``: events handed to :class:`DiscordService`.

All Discord behaviour (workspace fallbacks, payload fitting) lives in the service
(:mod:`leyden.notify.discord.service`); this adapter only maps option names, says what the
dispatcher needs (the webhook as destination, up to 10 embeds per message, Discord's pacing,
the identity rows must share to be coalesced, the broken-webhook breaker with the URL's
fingerprint), reports an undelivered event, and refuses at
definition a workspace the server does not have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from leyden.model.alert import Event
from leyden.notify._http import DeliveryResult
from leyden.notify._registry import Problem
from leyden.notify.base import HandlerConfigError, HandlerContext, HandlerError, service_of
from leyden.notify.discord.payload import EMBEDS_LIMIT
from leyden.notify.discord.service import (
    DiscordError,
    DiscordHandlerOptions,
    DiscordOptionError,
    DiscordService,
    format_workspace_names,
    merge_features,
)

KIND = "discord"


class DiscordHandler:
    kind = KIND
    max_batch = EMBEDS_LIMIT
    paced = True
    #: 401/403/404 open the delivery breaker of the webhook (leyden.delivery.breaker)
    breaker = True

    def __init__(self, service: DiscordService, options: DiscordHandlerOptions) -> None:
        self.service = service
        self.options = options
        self.coalesce_key = service.identity(options)
        # edit-in-place / forum-thread: one event per request, never coalesced (an incident's
        # message carries its own alert only; see DiscordService._send_incidents)
        self.max_batch = 1 if service.stateful(options) else EMBEDS_LIMIT

    @property
    def destination(self) -> str:
        return self.service.destination(self.options.workspace)

    @property
    def target_fingerprint(self) -> str:
        """A digest of the webhook URL in force (the breaker notices a changed URL by it)."""
        return self.service.fingerprint(self.options.workspace)

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        """One request carrying ``events`` as embeds, in order (see the service)."""
        return await self.service.send(events, self.options)

    async def handle(self, event: Event) -> None:
        """One attempt (service tests, unit tests); its failure raised as ``HandlerError``."""
        result = await self.send([event])
        if not result.delivered:
            where = (
                f'workspace "{self.options.workspace}"'
                if self.options.workspace
                else "the default workspace"
            )
            raise HandlerError(f"failed to send event to Discord ({where}): {result.describe()}")

    async def close(self) -> None:
        return None  # the service owns the connections


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> DiscordHandler:
    """From ``.discord().workspace().username().avatarURL()/.avatarUrl().embedTitle().timestamp()``
    and Leyden's own properties (``.threadId()``, ``.mentionRoles()`` …)."""
    try:
        parsed = DiscordHandlerOptions.from_tick(props)
    except DiscordError as exc:
        raise HandlerConfigError(str(exc)) from None
    return DiscordHandler(service_of(ctx, KIND, DiscordService, "Discord"), parsed)


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> DiscordHandler:
    """From a ``kind: discord`` handler file's ``options`` (hyphenated keys)."""
    try:
        parsed = DiscordHandlerOptions.from_options(options)
    except DiscordError as exc:
        raise HandlerConfigError(str(exc)) from None
    return DiscordHandler(service_of(ctx, KIND, DiscordService, "Discord"), parsed)


def check(settings: Mapping[str, Any], service: DiscordService, tick: bool) -> Problem | None:
    """What a handler is refused for when it is defined.

    A workspace the server does not have (Kapacitor accepts it and fails on every event).  A
    topic handler is also refused when no workspace is configured at all; a TICKscript's
    ``.discord()`` without a workspace is not (a task may be defined before the server has
    Discord, as in Kapacitor).  Then the values of Leyden's own options (snowflakes, levels,
    the link template) and, merged over the workspace's, ``thread-id`` with ``forum-thread``.
    A TICKscript's problem names the property and its value, so the error points at it.
    """
    names = service.workspace_names()
    workspace = settings.get("workspace")
    if isinstance(workspace, str) and workspace:
        if workspace not in names:
            return Problem(
                f'discord workspace "{workspace}" is not configured; configured workspaces: '
                + format_workspace_names(names),
                prop="workspace",
                value=workspace,
            )
    elif not names and not tick:
        return Problem(
            "no discord workspace is configured: add a [[discord]] section to the configuration"
        )
    try:
        if tick:
            opts = DiscordHandlerOptions.from_tick(settings)
        else:
            opts = DiscordHandlerOptions.from_options(settings)
        config = service.configured(opts.workspace)
        if config is not None:
            merge_features(opts, config)
    except DiscordOptionError as exc:
        prop = _TICK_NAMES.get(exc.key, exc.key) if tick else ""
        return Problem(str(exc), prop=prop, value=exc.value)
    except DiscordError as exc:
        return Problem(str(exc))
    return None


#: handler-file keys → ``.discord()`` properties, for problems found after merging
_TICK_NAMES = {"thread-id": "threadId", "forum-thread": "forumThread"}
