"""``.victorOps()`` and ``kind: victorops``: VictorOps' (Splunk On-Call's) REST endpoint
(``[victorops]``).

As Kapacitor's ``services/victorops``: one JSON POST per event to ``url`` (default
``https://alert.victorops.com/integrations/generic/20131114/alert``) with the API key and the
routing key appended to its path (``…/alert/<api-key>/<routing-key>``); the routing key is the
handler's (``.routingKey()``, ``routing-key``), else the section's.  The body:
``message_type`` (the level's name, ``RECOVERY`` for OK), ``entity_id`` (the alert ID),
``state_message`` (the message), ``timestamp`` (Unix seconds of the event), ``monitoring_tool``
``kapacitor`` and ``data``: the alert's data as a JSON string, or as JSON itself with
``json-data = true``.  A 404 is Kapacitor's "URL or API key not found".

The request URL holds both keys, so it is never shown: the destination is ``victorops:`` and
a digest of the routing key, reasons are scrubbed of both keys, and the topics API shows a
handler's ``routing-key`` redacted.  The config API redacts ``api-key``; it shows the section's
``routing-key``, as Kapacitor does (it names a route, it authorizes nothing without the key).

Rate limit: VictorOps documents no limit for its REST integration endpoint, so none is
declared; a 429's Retry-After is honoured by the dispatcher.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.config import Key, Section, SectionSpec
from leyden.go.types import GoStruct, go_json
from leyden.model.alert import Event, Level
from leyden.notify._http import DeliveryResult
from leyden.notify._registry import Integration
from leyden.notify._service import ServiceTestOptions
from leyden.notify._single import (
    Request,
    ServiceHandler,
    SingleService,
    join_path,
    result_struct,
    url_problem,
)
from leyden.notify.base import HandlerContext, IntegrationError, check_keys, option, service_of

__all__ = ["DEFAULT_URL", "INTEGRATION", "VictorOpsConfig", "VictorOpsService"]

KIND = "victorops"
DEFAULT_URL = "https://alert.victorops.com/integrations/generic/20131114/alert"
OPTION_KEYS = ("routing-key",)


@dataclass
class VictorOpsConfig(Section):
    """``[victorops]`` (Kapacitor's services/victorops Config)."""

    enabled: bool = False
    api_key: str = field(default="", repr=False)
    routing_key: str = field(default="", repr=False)
    url: str = DEFAULT_URL
    global_: bool = False
    json_data: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("api-key", "api_key", "str"),
        Key("routing-key", "routing_key", "str"),
        Key("url", "url", "str"),
        Key("global", "global_", "bool"),
        Key("json-data", "json_data", "bool"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"api-key"})

    def validate(self) -> list[str]:
        problem = url_problem("url", self.url)
        return [problem] if problem else []


SECTION = SectionSpec(KIND, VictorOpsConfig, multiple=False, defaults=({},))


def post_url(base: str, api_key: str, routing_key: str) -> str:
    """``base`` with the keys joined to its path as Go's ``path.Join`` does (empty parts
    skipped, the result cleaned)."""
    return join_path(base, api_key, routing_key)


def message_type(level: Level) -> str:
    """``RECOVERY`` for OK, the level's name otherwise."""
    return "RECOVERY" if level == Level.OK else level.name


class VictorOpsService(SingleService[VictorOpsConfig]):
    kind = KIND
    section = SECTION

    def __init__(self, *args: Any, now: Callable[[], float] = _time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = now

    def request(
        self,
        config: VictorOpsConfig,
        *,
        routing_key: str,
        message_type: str,
        message: str,
        entity_id: str,
        unix_seconds: int,
        result: Any,
    ) -> Request:
        """The POST Kapacitor's ``preparePost`` builds."""
        key = routing_key or config.routing_key
        body = {
            "message_type": message_type,
            "entity_id": entity_id,
            "state_message": message,
            "timestamp": unix_seconds,
            "monitoring_tool": "kapacitor",
            "data": result if config.json_data else go_json(result),
        }
        return Request(
            post_url(config.url, config.api_key, key), body, secrets=(config.api_key, key)
        )

    async def post(self, request: Request) -> DeliveryResult:
        result = await super().post(request)
        if result.status == 404:
            return DeliveryResult("permanent", 404, "URL or API key not found: 404")
        return result

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions (the routing key is the section's)."""
        config = self.config()
        return {
            "routingKey": config.routing_key,
            "messageType": "CRITICAL",
            "message": "test victorops message",
            "entityID": "testEntityID",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            values = {k: o.text(k) for k in o.values}
        except IntegrationError as exc:
            return False, str(exc)
        when = int(self._now())
        return await self.try_request(
            lambda config: self.request(
                config,
                routing_key=values["routingKey"],
                message_type=values["messageType"],
                message=values["message"],
                entity_id=values["entityID"],
                unix_seconds=when,
                result=GoStruct([("series", None)]),
            )
        )


def _handler(routing_key: str, ctx: HandlerContext) -> ServiceHandler:
    service = service_of(ctx, KIND, VictorOpsService, "VictorOps")
    digest = service.key_digest(routing_key, "routing_key")

    def build(event: Event, config: VictorOpsConfig) -> Request:
        return service.request(
            config,
            routing_key=routing_key,
            message_type=message_type(event.state.level),
            message=event.state.message,
            entity_id=event.state.id,
            unix_seconds=int(event.state.time) // 1_000_000_000,
            result=result_struct(event),
        )

    return ServiceHandler(KIND, service, build, destination=f"victorops:{digest}")


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> ServiceHandler:
    """From ``.victorOps().routingKey('…')``."""
    return _handler(str(props.get("routingKey") or ""), ctx)


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> ServiceHandler:
    """From a ``kind: victorops`` handler file's ``options``."""
    check_keys(options, KIND, OPTION_KEYS)
    return _handler(option(options, KIND, "routing-key", str, ""), ctx)


INTEGRATION = Integration(
    KIND,
    tick_name="victorOps",
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=VictorOpsService.from_config,
    service_test=True,
    global_handler=VictorOpsService.global_enabled,
    secret_options=("routing-key",),
)
