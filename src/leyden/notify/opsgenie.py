"""``.opsGenie()`` and ``kind: opsgenie``: OpsGenie's v1 alert API (``[opsgenie]``).

As Kapacitor's ``services/opsgenie``: one JSON POST per event to ``url`` + ``/`` (default
``https://api.opsgenie.com/v1/json/alert``), or for a recovery (OK) to ``recovery_url`` + ``/``
(default ``…/v1/json/alert/note``) with the message as ``note``.  The body carries the API key
(``apiKey``; v1 has no auth header), ``entity`` and ``alias`` (the alert ID), ``message``,
``note``, ``monitoring_tool`` ``kapacitor``, ``details`` ``{"Level": …, "Monitoring Tool":
"Kapacitor"}``, ``description`` (the alert's data as a JSON string), and ``teams`` and
``recipients`` when there are any: the handler's (``.teams()``/``.recipients()``,
``teams-list``/``recipients-list``), else the section's.

OpsGenie retired its v1 API; ``[opsgenie2]`` (:mod:`leyden.notify.opsgenie2`) is the one to use.
The API key is redacted in the config API and scrubbed from every reason.  OpsGenie's rate
limits depend on the customer's plan, so none is declared; a 429's Retry-After is honoured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.config import Key, SectionSpec
from leyden.go.types import GoStruct, go_json
from leyden.model.alert import Event
from leyden.notify._registry import Integration
from leyden.notify._service import ServiceTestOptions
from leyden.notify._single import (
    NullListSection,
    Request,
    ServiceHandler,
    SingleService,
    result_struct,
    url_problem,
)
from leyden.notify.base import HandlerContext, IntegrationError, check_keys, service_of, str_list
from leyden.notify.victorops import message_type

__all__ = ["DEFAULT_RECOVERY_URL", "DEFAULT_URL", "INTEGRATION", "OpsGenieConfig"]

KIND = "opsgenie"
DEFAULT_URL = "https://api.opsgenie.com/v1/json/alert"
DEFAULT_RECOVERY_URL = "https://api.opsgenie.com/v1/json/alert/note"
OPTION_KEYS = ("teams-list", "recipients-list")


@dataclass
class OpsGenieConfig(NullListSection):
    """``[opsgenie]`` (Kapacitor's services/opsgenie Config)."""

    enabled: bool = False
    api_key: str = field(default="", repr=False)
    teams: list[str] | None = None
    recipients: list[str] | None = None
    url: str = DEFAULT_URL
    recovery_url: str = DEFAULT_RECOVERY_URL
    global_: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("api-key", "api_key", "str"),
        Key("teams", "teams", "str_list"),
        Key("recipients", "recipients", "str_list"),
        Key("url", "url", "str"),
        Key("recovery_url", "recovery_url", "str"),
        Key("global", "global_", "bool"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"api-key"})

    def validate(self) -> list[str]:
        problems = [
            p
            for p in (url_problem("url", self.url), url_problem("recovery_url", self.recovery_url))
            if p
        ]
        if self.enabled and not self.api_key:
            problems.append("api-key: cannot be empty when enabled")
        return problems


SECTION = SectionSpec(KIND, OpsGenieConfig, multiple=False, defaults=({},))


class OpsGenieService(SingleService[OpsGenieConfig]):
    kind = KIND
    section = SECTION

    def request(
        self,
        config: OpsGenieConfig,
        *,
        teams: list[str],
        recipients: list[str],
        message_type: str,
        message: str,
        entity_id: str,
        result: Any,
    ) -> Request:
        """The POST Kapacitor's ``preparePost`` builds."""
        url = config.url + "/"
        body: dict[str, Any] = {
            "apiKey": config.api_key,
            "entity": entity_id,
            "alias": entity_id,
            "message": message,
            "note": "",
            "monitoring_tool": "kapacitor",
            "details": {"Level": message_type, "Monitoring Tool": "Kapacitor"},
            "description": go_json(result),
        }
        if message_type == "RECOVERY":
            url = config.recovery_url + "/"
            body["note"] = message
        teams = teams or list(config.teams or ())
        if teams:
            body["teams"] = teams
        recipients = recipients or list(config.recipients or ())
        if recipients:
            body["recipients"] = recipients
        return Request(url, body, secrets=(config.api_key,))

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions (teams and recipients are the section's)."""
        config = self.config()
        return {
            "teams": config.teams,
            "recipients": config.recipients,
            "message-type": "CRITICAL",
            "message": "test opsgenie message",
            "entity-id": "testEntityID",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            teams, recipients = o.texts("teams"), o.texts("recipients")
            kind, message, entity = (o.text(k) for k in ("message-type", "message", "entity-id"))
        except IntegrationError as exc:
            return False, str(exc)
        return await self.try_request(
            lambda config: self.request(
                config,
                teams=teams,
                recipients=recipients,
                message_type=kind,
                message=message,
                entity_id=entity,
                result=GoStruct([("series", None)]),
            )
        )


def _handler(teams: list[str], recipients: list[str], ctx: HandlerContext) -> ServiceHandler:
    service = service_of(ctx, KIND, OpsGenieService, "OpsGenie")

    def build(event: Event, config: OpsGenieConfig) -> Request:
        return service.request(
            config,
            teams=teams,
            recipients=recipients,
            message_type=message_type(event.state.level),
            message=event.state.message,
            entity_id=event.state.id,
            result=result_struct(event),
        )

    return ServiceHandler(KIND, service, build, destination=KIND)


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> ServiceHandler:
    """From ``.opsGenie().teams(…).recipients(…)``."""
    return _handler(
        str_list(props.get("teams"), ".opsGenie() teams"),
        str_list(props.get("recipients"), ".opsGenie() recipients"),
        ctx,
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> ServiceHandler:
    """From a ``kind: opsgenie`` handler file's ``options``."""
    check_keys(options, KIND, OPTION_KEYS)
    return _handler(
        str_list(options.get("teams-list"), f"{KIND} handler option 'teams-list'"),
        str_list(options.get("recipients-list"), f"{KIND} handler option 'recipients-list'"),
        ctx,
    )


INTEGRATION = Integration(
    KIND,
    tick_name="opsGenie",
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=OpsGenieService.from_config,
    service_test=True,
    global_handler=OpsGenieService.global_enabled,
)
