"""Discord: the ``[[discord]]`` section, webhook rules, payloads, the sender and the service.

One folder per integration (Alertmanager's ``notify/<receiver>``): ``config`` (the section),
``webhook`` (URL and username rules, the one owner), ``payload`` (bodies fitted to Discord's
limits), ``sender`` (one post, its outcome, the rate-limit gate), ``service`` (workspaces,
rendering) and
``handler`` (``.discord()`` / ``kind: discord``).  :data:`INTEGRATION` is its registry entry.
"""

from __future__ import annotations

import logging

from leyden.config import Config
from leyden.notify._registry import Integration
from leyden.notify.discord.config import SECTION
from leyden.notify.discord.handler import KIND, check, from_options, from_tick
from leyden.notify.discord.incidents import IncidentStore
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.service import DiscordService

__all__ = ["INTEGRATION"]


def _build_service(config: Config | None) -> DiscordService:
    sections = config.sections(SECTION) if config is not None else []
    return DiscordService(sections, sender=DiscordSender())


def _use_store(service: DiscordService, store: IncidentStore) -> None:
    service.use_incident_store(store)


def _log_start(service: DiscordService, log: logging.Logger) -> None:
    for ws in service.workspace_names():
        log.info("discord workspace configured", extra={"fields": {"workspace": ws or '""'}})


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=_build_service,
    check=check,
    service_test=True,
    global_handler=DiscordService.global_enabled,
    global_state_changes_only=DiscordService.state_changes_only,
    log_start=_log_start,
    use_store=_use_store,
)
