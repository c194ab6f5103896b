"""``.opsGenie2()`` and ``kind: opsgenie2``: OpsGenie's v2 alert API (``[opsgenie2]``).

As Kapacitor's ``services/opsgenie2``: one JSON POST per event with ``Authorization: GenieKey
<api-key>``.  The alert's ``alias`` is the alert ID in URL-safe base64, so a later event finds
the alert OpsGenie made:

* a WARNING, CRITICAL or INFO event goes to ``url`` (default
  ``https://api.opsgenie.com/v2/alerts``) with ``entity`` (the alert ID), ``alias``,
  ``message``, an empty ``note``, ``priority`` (P1 critical, P3 warning, P5 info),
  ``description`` (the event's details when ``details = true`` and they are not empty, else the
  alert's data as a JSON string), ``details`` (``Monitoring Tool``, ``Level``, the tags of the
  first series and ``Kapacitor Task Name``: its name) and ``responders``: the teams (``type
  team``) and recipients (``type user``) of the handler, else of the section, left out when
  there are none;
* a recovery (OK) goes to ``<url>/<alias>/<action>?identifierType=alias`` with only ``note``
  (the message): ``action`` is the handler's ``recovery_action`` (``.recoveryAction()``) when it
  is ``close`` or ``notes``, else the section's when valid, else ``notes``.

Any 2xx is success (Kapacitor: only 202).  ``.details()`` on ``.opsGenie2()`` parses as in
Kapacitor and, as there, changes nothing: the section's ``details`` decides.  The API key is
redacted in the config API and scrubbed from every reason.  OpsGenie's rate limits depend on
the customer's plan, so none is declared; a 429's Retry-After is honoured.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.config import Key, SectionSpec
from leyden.go.types import GoStruct, go_json
from leyden.model.alert import Event, Level
from leyden.notify._registry import Integration
from leyden.notify._service import NOT_ENABLED, ServiceTestOptions
from leyden.notify._single import (
    NullListSection,
    Request,
    ServiceHandler,
    SingleService,
    join_path,
    result_struct,
    url_problem,
)
from leyden.notify.base import (
    HandlerContext,
    IntegrationError,
    check_keys,
    option,
    service_of,
    str_list,
)

__all__ = ["DEFAULT_RECOVERY_ACTION", "DEFAULT_URL", "INTEGRATION", "OpsGenie2Config"]

KIND = "opsgenie2"
DEFAULT_URL = "https://api.opsgenie.com/v2/alerts"
DEFAULT_RECOVERY_ACTION = "notes"
RECOVERY_ACTIONS = ("close", "notes")
OPTION_KEYS = ("teams-list", "recipients-list", "recovery_action")
_PRIORITY = {Level.INFO: "P5", Level.WARNING: "P3", Level.CRITICAL: "P1"}


@dataclass
class OpsGenie2Config(NullListSection):
    """``[opsgenie2]`` (Kapacitor's services/opsgenie2 Config)."""

    enabled: bool = False
    api_key: str = field(default="", repr=False)
    teams: list[str] | None = None
    recipients: list[str] | None = None
    url: str = DEFAULT_URL
    recovery_action: str = DEFAULT_RECOVERY_ACTION
    global_: bool = False
    details: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("api-key", "api_key", "str"),
        Key("teams", "teams", "str_list"),
        Key("recipients", "recipients", "str_list"),
        Key("url", "url", "str"),
        Key("recovery_action", "recovery_action", "str"),
        Key("global", "global_", "bool"),
        Key("details", "details", "bool"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"api-key"})

    def validate(self) -> list[str]:
        problems = [p for p in (url_problem("url", self.url),) if p]
        if not self.recovery_action:
            problems.append("recovery_action: cannot be empty")
        if self.enabled and not self.api_key:
            problems.append("api-key: cannot be empty when enabled")
        return problems

    def warnings(self) -> list[str]:
        if self.recovery_action and self.recovery_action not in RECOVERY_ACTIONS:
            return [
                f"recovery_action {self.recovery_action!r} is neither close nor notes; "
                "recoveries add notes"
            ]
        return []


SECTION = SectionSpec(KIND, OpsGenie2Config, multiple=False, defaults=({},))


def alias(entity_id: str) -> str:
    """Go's ``base64.URLEncoding`` (padded) of the alert ID."""
    return base64.urlsafe_b64encode(entity_id.encode()).decode("ascii")


def recovery_url(base: str, alias_: str, action: str) -> str:
    """``base`` with ``/<alias>/<action>`` joined to its path and ``identifierType=alias`` as
    its whole query, as Kapacitor builds it."""
    return join_path(base, alias_, action, query="identifierType=alias")


class OpsGenie2Service(SingleService[OpsGenie2Config]):
    kind = KIND
    section = SECTION
    test_not_enabled = f"failed to prepare API request: {NOT_ENABLED}"

    def request(
        self,
        config: OpsGenie2Config,
        *,
        teams: list[str],
        recipients: list[str],
        recovery_action: str,
        level: Level,
        message: str,
        entity_id: str,
        event_details: str,
        result: Any,
    ) -> Request:
        """The POST Kapacitor's ``preparePost`` builds."""
        key = alias(entity_id)
        headers = {"Authorization": "GenieKey " + config.api_key}
        if level == Level.OK:
            action = recovery_action
            if action not in RECOVERY_ACTIONS:
                action = (
                    config.recovery_action
                    if config.recovery_action in RECOVERY_ACTIONS
                    else DEFAULT_RECOVERY_ACTION
                )
            return Request(
                recovery_url(config.url, key, action),
                {"note": message},
                headers=headers,
                secrets=(config.api_key,),
            )
        details: dict[str, str] = {"Monitoring Tool": "Kapacitor", "Level": level.name}
        series = result.get("series") if isinstance(result, Mapping) else None
        if series:
            row = series[0]
            details.update({str(k): str(v) for k, v in (row.get("tags") or {}).items()})
            details["Kapacitor Task Name"] = str(row.get("name", ""))
        body: dict[str, Any] = {
            "entity": entity_id,
            "alias": key,
            "message": message,
            "note": "",
            "priority": _PRIORITY.get(level, ""),
            "description": (event_details if config.details and event_details else go_json(result)),
            "details": details,
        }
        responders = [{"name": t, "type": "team"} for t in teams or config.teams or ()]
        responders += [
            {"username": u, "type": "user"} for u in recipients or config.recipients or ()
        ]
        if responders:
            body["responders"] = responders
        return Request(config.url, body, headers=headers, secrets=(config.api_key,))

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions (teams, recipients and recovery_action are the section's)."""
        config = self.config()
        return {
            "teams": config.teams,
            "recipients": config.recipients,
            "recovery_action": config.recovery_action,
            "message-type": "CRITICAL",
            "message": "test opsgenie message",
            "entity-id": "testEntityID",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            teams, recipients = o.texts("teams"), o.texts("recipients")
            action, kind, message, entity = (
                o.text(k) for k in ("recovery_action", "message-type", "message", "entity-id")
            )
            try:
                level = Level.OK if kind == "RECOVERY" else Level.parse(kind)
            except ValueError:
                raise IntegrationError(f"invalid level {kind!r}") from None
        except IntegrationError as exc:
            return False, str(exc)
        return await self.try_request(
            lambda config: self.request(
                config,
                teams=teams,
                recipients=recipients,
                recovery_action=action,
                level=level,
                message=message,
                entity_id=entity,
                event_details="",
                result=GoStruct([("series", None)]),
            )
        )


def _handler(
    teams: list[str], recipients: list[str], recovery_action: str, ctx: HandlerContext
) -> ServiceHandler:
    service = service_of(ctx, KIND, OpsGenie2Service, "OpsGenie")

    def build(event: Event, config: OpsGenie2Config) -> Request:
        return service.request(
            config,
            teams=teams,
            recipients=recipients,
            recovery_action=recovery_action,
            level=event.state.level,
            message=event.state.message,
            entity_id=event.state.id,
            event_details=event.state.details,
            result=result_struct(event),
        )

    return ServiceHandler(KIND, service, build, destination=KIND)


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> ServiceHandler:
    """From ``.opsGenie2().teams(…).recipients(…).recoveryAction('close')``."""
    return _handler(
        str_list(props.get("teams"), ".opsGenie2() teams"),
        str_list(props.get("recipients"), ".opsGenie2() recipients"),
        str(props.get("recoveryAction") or ""),
        ctx,
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> ServiceHandler:
    """From a ``kind: opsgenie2`` handler file's ``options``."""
    check_keys(options, KIND, OPTION_KEYS)
    return _handler(
        str_list(options.get("teams-list"), f"{KIND} handler option 'teams-list'"),
        str_list(options.get("recipients-list"), f"{KIND} handler option 'recipients-list'"),
        option(options, KIND, "recovery_action", str, ""),
        ctx,
    )


INTEGRATION = Integration(
    KIND,
    tick_name="opsGenie2",
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=OpsGenie2Service.from_config,
    service_test=True,
    global_handler=OpsGenie2Service.global_enabled,
)
