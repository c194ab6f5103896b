"""Email: the ``[smtp]`` section, the message as gomail writes it, the service and the handler.

Kapacitor names this integration twice: ``.email()`` in TICKscript, ``kind: smtp`` in topic
handler files, ``smtp`` for its config section and service test.  ``config`` (the section),
``message`` (headers and quoted-printable body), ``service`` (the kept SMTP connection, one
attempt per mail, the service test) and ``handler``.  :data:`INTEGRATION` is its registry entry.
"""

from __future__ import annotations

import logging

from leyden.notify._registry import Integration
from leyden.notify.email.config import SECTION, SMTPConfig
from leyden.notify.email.handler import KIND, check, from_options, from_tick
from leyden.notify.email.service import SMTPService

__all__ = ["INTEGRATION", "SMTPConfig", "SMTPService"]


def _log_start(service: SMTPService, log: logging.Logger) -> None:
    config = service.default()
    if config is not None and config.enabled:
        log.info(
            "smtp configured",
            extra={"fields": {"host": config.host, "port": config.port, "global": config.global_}},
        )


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=SMTPService.from_config,
    check=check,
    service_test=True,
    global_handler=SMTPService.global_enabled,
    global_state_changes_only=SMTPService.state_changes_only,
    log_start=_log_start,
    tick_name="email",
)
