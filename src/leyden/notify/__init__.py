"""Integrations: where alert events leave Leyden (Discord, HTTP POST, TCP, log files, programs).

:data:`INTEGRATIONS` is the one table of handler kinds (see :mod:`leyden.notify._registry`).
Adding a kind is one module or folder here and one entry below; the alert service, the task
manager, the config API and the service tests find it through this table.  What every HTTP
integration shares (redaction, TLS sessions, outcome classification, backoff) is in
:mod:`leyden.notify._http`; the handler protocol and context in :mod:`leyden.notify.base`.

The order is the order users see in "supported: .post(), .tcp() …" messages.
"""

from __future__ import annotations

from leyden.notify import (
    alerta,
    bigpanda,
    discord,
    email,
    exec,
    hipchat,
    kafka,
    log,
    mqtt,
    opsgenie,
    opsgenie2,
    pagerduty,
    pagerduty2,
    post,
    pushover,
    sensu,
    servicenow,
    slack,
    snmptrap,
    talk,
    tcp,
    teams,
    telegram,
    victorops,
    zenoss,
)
from leyden.notify._http import redact_url
from leyden.notify._registry import Factory, Integration, IntegrationService, Problem, Registry

__all__ = [
    "INTEGRATIONS",
    "Factory",
    "Integration",
    "IntegrationService",
    "Problem",
    "Registry",
    "redact_url",
]

INTEGRATIONS = Registry(
    [
        post.INTEGRATION,
        tcp.INTEGRATION,
        log.INTEGRATION,
        exec.INTEGRATION,
        discord.INTEGRATION,
        slack.INTEGRATION,
        teams.INTEGRATION,
        talk.INTEGRATION,
        alerta.INTEGRATION,
        servicenow.INTEGRATION,
        zenoss.INTEGRATION,
        email.INTEGRATION,
        sensu.INTEGRATION,
        telegram.INTEGRATION,
        pushover.INTEGRATION,
        bigpanda.INTEGRATION,
        hipchat.INTEGRATION,
        pagerduty.INTEGRATION,
        pagerduty2.INTEGRATION,
        victorops.INTEGRATION,
        opsgenie.INTEGRATION,
        opsgenie2.INTEGRATION,
        mqtt.INTEGRATION,
        snmptrap.INTEGRATION,
        kafka.INTEGRATION,
    ]
)
