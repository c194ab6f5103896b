"""``.serviceNow()`` and ``kind: servicenow``: events POSTed to ServiceNow's event API.

As Kapacitor's ``services/servicenow``: the ``[servicenow]`` section (``url``, default
``https://instance.service-now.com/api/global/em/jsonv2``; ``source``, ``username``,
``password``, ``global``, ``state-changes-only``); per event one JSON body
``{"records": [{source, node, type, resource, metric_name, message_key, severity,
description, additional_info}]}`` (every key but ``source`` left out when empty), with basic
auth when both username and password are set.  ``node``, ``type``, ``resource``,
``metric_name``, ``message_key`` and string ``additional_info`` values are Go templates over
``{ID, Name, TaskName, Fields, Tags}``; ``message_key`` falls back to the alert ID,
``source`` to the section's; ``additional_info`` is the JSON of its values as strings (others
printed as Go's ``%v``).  Level → severity: OK and INFO ``5``, WARNING ``4``, CRITICAL ``1``.
Texts are cut as Kapacitor cuts them (100 characters, the message key 1024, the description
4000).

Differences: a handler's ``url``/``username``/``password`` are used (Kapacitor ignores the
handler's credentials, though its documentation says they override the section's); a
template that fails to execute fails the delivery (Kapacitor sends what was rendered before
the failure); any 2xx is success (Kapacitor wants 200).  The password never appears in a log,
an error or the config API (``password: true``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from leyden.config import Key, Section, SectionSpec
from leyden.go.template import Template
from leyden.go.types import GoStruct, StringMap, format_value, go_json
from leyden.model.alert import Event, Level
from leyden.notify._http import DeliveryResult, basic_auth, url_destination
from leyden.notify._mapstructure import building_check, cutoff, fold_options, parse_template, render
from leyden.notify._registry import Integration
from leyden.notify._service import (
    NOT_ENABLED,
    HTTPService,
    ServiceTestOptions,
    service_test_answer,
)
from leyden.notify.base import (
    HandlerConfigError,
    HandlerContext,
    HandlerError,
    IntegrationError,
    SingleSend,
    option,
    service_of,
)

__all__ = ["INTEGRATION", "ServiceNowConfig", "ServiceNowHandler", "ServiceNowService"]

KIND = "servicenow"
DEFAULT_URL = "https://instance.service-now.com/api/global/em/jsonv2"
USUAL_CUTOFF = 100

#: Kapacitor's HandlerConfig: mapstructure tags, and untagged fields matched by name in any case
OPTION_KEYS = (
    "url",
    "username",
    "password",
    "source",
    "node",
    "type",
    "resource",
    "metricname",
    "messagekey",
    "additional_info",
)
#: the JSON names Kapacitor's documentation and test options use
OPTION_ALIASES = {"metric_name": "metricname", "message_key": "messagekey"}
_TEMPLATED = ("node", "type", "resource", "metricname", "messagekey")

SEVERITIES = {Level.OK: "5", Level.INFO: "5", Level.WARNING: "4", Level.CRITICAL: "1"}


@dataclass
class ServiceNowConfig(Section):
    """``[servicenow]`` (Kapacitor's services/servicenow Config and NewConfig)."""

    enabled: bool = False
    url: str = DEFAULT_URL
    source: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    global_: bool = False
    state_changes_only: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("url", "url", "str"),
        Key("source", "source", "str"),
        Key("username", "username", "str"),
        Key("password", "password", "str"),
        Key("global", "global_", "bool"),
        Key("state-changes-only", "state_changes_only", "bool"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"password"})

    def validate(self) -> list[str]:
        if self.enabled and not self.url:
            return ["url: must specify events URL"]
        try:
            urlsplit(self.url)
        except ValueError:
            return ["url: invalid url"]
        return []


SECTION = SectionSpec(KIND, ServiceNowConfig, multiple=False, defaults=({},))


@dataclass(frozen=True, slots=True)
class ServiceNowEvent:
    """What ``Service.Alert`` takes: the rendered handler settings and the alert."""

    alert_id: str
    message: str
    level: Level
    source: str = ""
    node: str = ""
    type: str = ""
    resource: str = ""
    metric_name: str = ""
    message_key: str = ""
    additional_info: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    username: str = ""
    password: str = field(default="", repr=False)


class ServiceNowService(HTTPService[ServiceNowConfig]):
    """The ``[servicenow]`` configuration and the one request per event."""

    kind = KIND
    section = SECTION

    def destination(self, url: str = "") -> str:
        return f"servicenow:{url_destination(url or self.config().url)}"

    def body(self, event: ServiceNowEvent) -> bytes:
        """Kapacitor's ``Events`` JSON: one record, empty keys left out (but ``source``)."""
        config = self.config()
        record: dict[str, str] = {
            "source": cutoff(event.source or config.source, USUAL_CUTOFF),
            "node": cutoff(event.node, USUAL_CUTOFF),
            "type": cutoff(event.type, USUAL_CUTOFF),
            "resource": cutoff(event.resource, USUAL_CUTOFF),
            "metric_name": cutoff(event.metric_name, USUAL_CUTOFF),
            "message_key": cutoff(event.message_key or event.alert_id, 1024),
            "severity": SEVERITIES.get(event.level, "0"),
            "description": cutoff(event.message, 4000),
            "additional_info": go_json(dict(event.additional_info))
            if event.additional_info
            else "",
        }
        kept = GoStruct({k: v for k, v in record.items() if v or k == "source"})
        return go_json(GoStruct({"records": [kept]})).encode()

    async def alert(self, event: ServiceNowEvent) -> DeliveryResult:
        """One POST (Kapacitor's ``Service.Alert``); never raises for a failed delivery."""
        config = self.config()
        if not config.enabled:
            return DeliveryResult("permanent", None, f"servicenow: {NOT_ENABLED}")
        url = event.url or config.url
        username = event.username or config.username
        password = event.password or config.password
        auth, secrets = basic_auth(username, password)
        return await self._client.request(
            "POST",
            url,
            body=self.body(event),
            headers={"Content-Type": "application/json", **auth},
            secrets=secrets,
        )

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's servicenow TestOptions."""
        return {
            "alert_id": "1001",
            "message": "test servicenow message",
            "level": "CRITICAL",
            "source": "Kapacitor",
            "node": "",
            "type": "",
            "resource": "",
            "metric_name": "",
            "message_key": "",
            "additional_info": {},
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        """Send one test event to the section's URL (one attempt)."""
        try:
            given = ServiceTestOptions(KIND, self.default_test_options(), options)
            if not self.config().enabled:
                return False, NOT_ENABLED
            o = {k: given.text(k) for k in given.values if k != "additional_info"}
            level = given.level()
            info = given.obj("additional_info")
        except IntegrationError as exc:
            return False, str(exc)
        data = _data_info(o["alert_id"], "", "", {}, {})
        try:
            handler_settings = _Templates.parse(
                {
                    "node": o["node"],
                    "type": o["type"],
                    "resource": o["resource"],
                    "metricname": o["metric_name"],
                    "messagekey": o["message_key"],
                },
                info,
            )
            rendered = handler_settings.render(data)
        except (HandlerConfigError, HandlerError) as exc:
            return False, str(exc)
        result = await self.alert(
            ServiceNowEvent(
                alert_id=o["alert_id"],
                message=o["message"],
                level=level,
                source=o["source"],
                **rendered,
            )
        )
        return service_test_answer(result)


def _data_info(
    alert_id: str, name: str, task_name: str, fields: Mapping[str, Any], tags: Mapping[str, str]
) -> GoStruct:
    """What the templates see (Kapacitor's servicenow ``dataInfo``)."""
    return GoStruct(
        {
            "ID": alert_id,
            "Name": name,
            "TaskName": task_name,
            "Fields": dict(fields),
            "Tags": StringMap(tags),
        },
        type_name="servicenow.dataInfo",
    )


@dataclass(frozen=True, slots=True)
class _Templates:
    """The handler's templated settings, parsed once."""

    fields: Mapping[str, Template]
    additional_info: Mapping[str, Template | Any]

    @classmethod
    def parse(cls, settings: Mapping[str, str], info: Mapping[str, Any]) -> _Templates:
        fields = {k: parse_template(v, KIND, k) for k, v in settings.items() if v}
        extra = {
            k: parse_template(v, KIND, f"additional_info.{k}") if isinstance(v, str) else v
            for k, v in info.items()
        }
        return cls(fields, extra)

    def render(self, data: GoStruct) -> dict[str, Any]:
        out: dict[str, Any] = {
            "node": "",
            "type": "",
            "resource": "",
            "metric_name": "",
            "message_key": "",
        }
        names = {"metricname": "metric_name", "messagekey": "message_key"}
        for key, template in self.fields.items():
            out[names.get(key, key)] = render(template, data, key)
        out["additional_info"] = {
            k: render(v, data, f"additional_info.{k}")
            if isinstance(v, Template)
            else format_value(v)
            for k, v in self.additional_info.items()
        }
        return out


class ServiceNowHandler(SingleSend):
    """One configured ``.serviceNow()`` / ``kind: servicenow``."""

    kind = KIND

    def __init__(
        self,
        service: ServiceNowService,
        *,
        url: str = "",
        username: str = "",
        password: str = "",
        source: str = "",
        templates: Mapping[str, str] | None = None,
        additional_info: Mapping[str, Any] | None = None,
    ) -> None:
        self._service = service
        self._url = url
        self._username = username
        self._password = password
        self._source = source
        self._templates = _Templates.parse(templates or {}, additional_info or {})
        self.destination = service.destination(url)

    def __repr__(self) -> str:
        return f"ServiceNowHandler(destination={self.destination!r})"

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        data = _data_info(
            event.state.id,
            event.data.name,
            event.data.task_name,
            event.data.fields,
            event.data.tags,
        )
        try:
            rendered = self._templates.render(data)
        except HandlerError as exc:
            return DeliveryResult("permanent", None, f"servicenow: {exc}")
        return await self._service.alert(
            ServiceNowEvent(
                alert_id=event.state.id,
                message=event.state.message,
                level=event.state.level,
                source=self._source,
                url=self._url,
                username=self._username,
                password=self._password,
                **rendered,
            )
        )


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> ServiceNowHandler:
    """From ``.serviceNow().uRL().username().password().source().node().type().resource()
    .metricName().messageKey().additionalInfo(k, v)``."""
    return ServiceNowHandler(
        service_of(ctx, KIND, ServiceNowService, "ServiceNow"),
        url=props.get("uRL") or "",
        username=props.get("username") or "",
        password=props.get("password") or "",
        source=props.get("source") or "",
        templates={
            "node": props.get("node") or "",
            "type": props.get("type") or "",
            "resource": props.get("resource") or "",
            "metricname": props.get("metricName") or "",
            "messagekey": props.get("messageKey") or "",
        },
        additional_info=props.get("additionalInfo") or {},
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> ServiceNowHandler:
    """From a ``kind: servicenow`` handler file's ``options``."""
    o = fold_options(options, KIND, OPTION_KEYS, OPTION_ALIASES)
    return ServiceNowHandler(
        service_of(ctx, KIND, ServiceNowService, "ServiceNow"),
        url=option(o, KIND, "url", str, ""),
        username=option(o, KIND, "username", str, ""),
        password=option(o, KIND, "password", str, ""),
        source=option(o, KIND, "source", str, ""),
        templates={key: option(o, KIND, key, str, "") for key in _TEMPLATED},
        additional_info=option(o, KIND, "additional_info", dict, {}),
    )


INTEGRATION = Integration(
    KIND,
    tick_name="serviceNow",
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=ServiceNowService.from_config,
    check=building_check(KIND, from_tick, from_options),
    service_test=True,
    global_handler=ServiceNowService.global_enabled,
    global_state_changes_only=ServiceNowService.state_changes_only,
    secret_options=("password",),
)
