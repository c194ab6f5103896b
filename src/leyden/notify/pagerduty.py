"""``.pagerDuty()`` and ``kind: pagerduty``: PagerDuty's Events API v1 (``[pagerduty]``).

As Kapacitor's ``services/pagerduty``: one JSON POST per event to ``url`` (default
``https://events.pagerduty.com/generic/2010-04-15/create_event.json``) whose body is a string
map: ``service_key`` (the handler's ``service-key`` / ``.serviceKey()``, else the section's),
``event_type`` (``trigger`` for WARNING and CRITICAL, ``resolve`` for OK), ``description`` (the
message), ``incident_key`` (the alert ID), ``client`` ``kapacitor``, ``client_url`` (the
server's API URL, see :func:`leyden.notify._single.kapacitor_url`) and ``details``.  An INFO
event is refused with Kapacitor's error ("AlertLevel 'info' is currently ignored by the
PagerDuty service").  ``global = true`` gives every alert node a PagerDuty handler.

The service key is a secret: the config API shows it as set or not, and no reason, log line
or destination names it (the destination carries 32 bits of its digest).

Rate limit: PagerDuty documents a limit of 120 events per minute per integration key for its
Events API, answered with 429 when exceeded; each handler declares ``RateLimit(120 per 60 s)``
keyed by the key's digest (one budget per key, shared with ``.pagerDuty2()`` handlers of the
same key), so a storm is paced before PagerDuty refuses it, and a 429's Retry-After holds
every handler of that key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.config import Key, Section, SectionSpec
from leyden.model.alert import Event, Level
from leyden.notify._registry import Integration
from leyden.notify._service import ServiceTestOptions
from leyden.notify._single import (
    Request,
    ServiceHandler,
    SingleService,
    url_problem,
)
from leyden.notify.base import (
    HandlerContext,
    IntegrationError,
    RateLimit,
    check_keys,
    option,
    service_of,
)

__all__ = ["DEFAULT_URL", "INTEGRATION", "PagerDutyConfig", "PagerDutyService"]

KIND = "pagerduty"
DEFAULT_URL = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
OPTION_KEYS = ("service-key",)
#: PagerDuty's Events API limit per integration key (see the module docstring)
EVENTS_PER_MINUTE = 120


@dataclass
class PagerDutyConfig(Section):
    """``[pagerduty]`` (Kapacitor's services/pagerduty Config)."""

    enabled: bool = False
    url: str = DEFAULT_URL
    service_key: str = field(default="", repr=False)
    global_: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("url", "url", "str"),
        Key("service-key", "service_key", "str"),
        Key("global", "global_", "bool"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"service-key"})

    def validate(self) -> list[str]:
        problem = url_problem("url", self.url)
        return [problem] if problem else []


SECTION = SectionSpec(KIND, PagerDutyConfig, multiple=False, defaults=({},))


def events_limit(digest: str) -> RateLimit:
    """PagerDuty's Events API budget for the key ``digest`` names, shared by ``.pagerDuty()``
    and ``.pagerDuty2()`` handlers of that key."""
    return RateLimit(f"pagerduty-events:{digest}", EVENTS_PER_MINUTE, 60.0)


def event_type(level: Level) -> str:
    """Kapacitor's ``event_type`` of a level; INFO is refused as Kapacitor refuses it."""
    if level in (Level.WARNING, Level.CRITICAL):
        return "trigger"
    if level == Level.INFO:
        raise IntegrationError("AlertLevel 'info' is currently ignored by the PagerDuty service")
    return "resolve"


class PagerDutyService(SingleService[PagerDutyConfig]):
    kind = KIND
    section = SECTION

    def request(
        self,
        config: PagerDutyConfig,
        *,
        service_key: str,
        incident_key: str,
        description: str,
        level: Level,
        details: str,
    ) -> Request:
        """The POST Kapacitor's ``preparePost`` builds."""
        key = service_key or config.service_key
        body = {
            "service_key": key,
            "event_type": event_type(level),
            "description": description,
            "incident_key": incident_key,
            "client": "kapacitor",
            "client_url": self.client_url,
            "details": details,
        }
        return Request(config.url, body, secrets=(key,))

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions."""
        return {
            "incident-key": "testIncidentKey",
            "description": "test pagerduty message",
            "details": "",
            "level": "CRITICAL",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            incident_key, description = o.text("incident-key"), o.text("description")
            details, level = o.text("details"), o.level()
        except IntegrationError as exc:
            return False, str(exc)
        return await self.try_request(
            lambda config: self.request(
                config,
                service_key="",
                incident_key=incident_key,
                description=description,
                level=level,
                details=details,
            )
        )


def _handler(service_key: str, ctx: HandlerContext) -> ServiceHandler:
    service = service_of(ctx, KIND, PagerDutyService, "PagerDuty")
    digest = service.key_digest(service_key, "service_key")

    def build(event: Event, config: PagerDutyConfig) -> Request:
        return service.request(
            config,
            service_key=service_key,
            incident_key=event.state.id,
            description=event.state.message,
            level=event.state.level,
            details=event.state.details,
        )

    return ServiceHandler(
        KIND,
        service,
        build,
        destination=f"pagerduty:{digest}",
        rate_limits=(events_limit(digest),),
    )


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> ServiceHandler:
    """From ``.pagerDuty().serviceKey('…')``."""
    return _handler(str(props.get("serviceKey") or ""), ctx)


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> ServiceHandler:
    """From a ``kind: pagerduty`` handler file's ``options``."""
    check_keys(options, KIND, OPTION_KEYS)
    return _handler(option(options, KIND, "service-key", str, ""), ctx)


INTEGRATION = Integration(
    KIND,
    tick_name="pagerDuty",
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=PagerDutyService.from_config,
    service_test=True,
    global_handler=PagerDutyService.global_enabled,
    secret_options=("service-key",),
)
