"""``.hipChat()`` and ``kind: hipchat``: accepted, never sent, because HipChat no longer exists.

Atlassian shut HipChat (Cloud, Server and Data Center) down in 2019; Kapacitor's
``services/hipchat`` still posts to ``<url>/<room>/notification?auth_token=<token>``, which no
server answers any more.  Leyden keeps old configurations and scripts working around it:
``[hipchat]`` is read with Kapacitor's keys, defaults and rule (``url`` when enabled; ``token``
redacted in the config API), ``.hipChat().room().token()`` scripts and ``kind: hipchat``
handler files are defined and enabled, and their alert nodes' other handlers run.  Each
HipChat event is refused with :data:`GONE` (the outbox dead-letters it with that reason), and
the service logs that once; the service test answers failure with the same text.
``global`` is accepted and shown but adds no handler to every alert node: such a handler
could only dead-letter every alert (an enabled section says why in a warning at start).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.config import Key, Section, SectionSpec
from leyden.model.alert import Event
from leyden.notify._http import DeliveryResult
from leyden.notify._registry import Integration
from leyden.notify._service import ConfiguredService
from leyden.notify.base import (
    HandlerContext,
    SingleSend,
    check_keys,
    option,
    service_of,
)

__all__ = ["GONE", "INTEGRATION", "HipChatConfig", "HipChatHandler", "HipChatService"]

KIND = "hipchat"
TEST_MESSAGE = "test hipchat message"
OPTION_KEYS = ("room", "token")
GONE = (
    "HipChat no longer exists (Atlassian shut it down in 2019): Leyden sends nothing to it; "
    "move these alerts to another handler (.discord(), .slack(), .telegram() …)"
)

log = logging.getLogger("leyden.alert")


@dataclass
class HipChatConfig(Section):
    """``[hipchat]`` (Kapacitor's services/hipchat Config; its NewConfig sets nothing)."""

    enabled: bool = False
    url: str = ""
    token: str = field(default="", repr=False)
    room: str = ""
    global_: bool = False
    state_changes_only: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("url", "url", "str"),
        Key("token", "token", "str"),
        Key("room", "room", "str"),
        Key("global", "global_", "bool"),
        Key("state-changes-only", "state_changes_only", "bool"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"token"})

    def validate(self) -> list[str]:
        """Kapacitor's rule: an enabled section names its URL."""
        return ["url: must specify url"] if self.enabled and not self.url else []

    def warnings(self) -> list[str]:
        return [f"[hipchat] is enabled, but {GONE}"] if self.enabled else []


SECTION = SectionSpec("hipchat", HipChatConfig, multiple=False, defaults=({},))


class HipChatService(ConfiguredService[HipChatConfig]):
    """Keeps ``[hipchat]`` for the config API and global handlers; refuses every send."""

    kind: ClassVar[str] = KIND
    section = SECTION

    def __init__(self, configs: Sequence[HipChatConfig]) -> None:
        super().__init__(configs)
        self._logged = False

    def refuse(self) -> DeliveryResult:
        """The answer to every event; the first one is logged."""
        if not self._logged:
            self._logged = True
            log.warning("hipchat alert not sent", extra={"fields": {"reason": GONE}})
        return DeliveryResult("permanent", None, GONE)

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions: the section's room, its test message, CRITICAL."""
        return {
            "room": self.config().room,
            "message": TEST_MESSAGE,
            "level": "CRITICAL",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        return False, GONE


class HipChatHandler(SingleSend):
    kind = KIND
    #: the service logs why once; the dispatcher logs no error per dead-lettered event
    quiet_losses = True

    def __init__(self, service: HipChatService, room: str) -> None:
        self.service = service
        self.destination = f"hipchat:{room or '(default room)'}"

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        return self.service.refuse()


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> HipChatHandler:
    """From ``.hipChat().room().token()`` (the token is not kept: nothing is sent)."""
    return HipChatHandler(service_of(ctx, KIND, HipChatService, "HipChat"), props.get("room") or "")


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> HipChatHandler:
    """From a ``kind: hipchat`` handler file's ``options`` (``room``, ``token``)."""
    check_keys(options, KIND, OPTION_KEYS)
    option(options, KIND, "token", str, "")
    return HipChatHandler(
        service_of(ctx, KIND, HipChatService, "HipChat"), option(options, KIND, "room", str, "")
    )


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=HipChatService.from_config,
    service_test=True,
    tick_name="hipChat",
    secret_options=("token",),
)
