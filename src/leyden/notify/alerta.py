"""``.alerta()`` and ``kind: alerta``: alerts POSTed to Alerta's ``<url>/alert`` API.

As Kapacitor's ``services/alerta``: the ``[alerta]`` section (``url``, ``token``,
``token-prefix``, ``environment``, ``origin``, ``timeout``, ``insecure-skip-verify``; nothing on
by default); per event a JSON body with ``resource``, ``event``, ``environment``,
``severity``, ``group``, ``value``, ``text`` (the alert message), ``origin``, ``service``,
``correlate``, ``attributes``, ``timeout`` (seconds), ``tags`` (``key=value``) and ``rawData``
(the alert's result), sent with ``Authorization: <token-prefix> <token>`` (prefix ``Bearer``
unless configured).  ``resource``, ``environment``, ``group``, ``value``, the services,
correlated events and string attributes are Go templates over ``alert.TemplateData``;
``event`` over the smaller ``{ID, Name, TaskName, Group, Tags}``.  Defaults: resource
``{{ .Name }}``, event ``{{ .ID }}``, group ``{{ .Group }}``, services and correlate the
measurement, timeout 24h.  Level → severity: ok, informational, warning, critical.

Differences: Kapacitor ignores the section's ``timeout``; Leyden uses it when a handler sets
none (as its comment promises).  Any 2xx is success (Kapacitor wants 201).  The token never
appears in a log, an error or the config API (``token: true``).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from leyden.config import Key, Section, SectionSpec
from leyden.go.template import Template
from leyden.go.types import GoStruct, StringMap, go_json_body
from leyden.model.alert import Event, Level
from leyden.notify._http import DeliveryResult, SSLSetting, url_destination
from leyden.notify._mapstructure import (
    building_check,
    duration_option,
    fold_options,
    parse_template,
    render,
)
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
    str_list,
)

__all__ = ["INTEGRATION", "AlertaConfig", "AlertaHandler", "AlertaService"]

KIND = "alerta"
DEFAULT_RESOURCE = "{{ .Name }}"
DEFAULT_EVENT = "{{ .ID }}"
DEFAULT_GROUP = "{{ .Group }}"
DEFAULT_TIMEOUT = 24 * 3600 * 10**9
DEFAULT_TOKEN_PREFIX = "Bearer"

#: Kapacitor's HandlerConfig mapstructure names
OPTION_KEYS = (
    "token",
    "token-prefix",
    "resource",
    "event",
    "environment",
    "group",
    "value",
    "origin",
    "service",
    "correlate",
    "attributes",
    "timeout",
)

SEVERITIES = {
    Level.OK: "ok",
    Level.INFO: "informational",
    Level.WARNING: "warning",
    Level.CRITICAL: "critical",
}


@dataclass
class AlertaConfig(Section):
    """``[alerta]`` (Kapacitor's services/alerta Config; NewConfig sets nothing)."""

    enabled: bool = False
    url: str = ""
    insecure_skip_verify: bool = False
    token: str = field(default="", repr=False)
    token_prefix: str = ""
    environment: str = ""
    origin: str = ""
    timeout: int = 0

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("url", "url", "str"),
        Key("insecure-skip-verify", "insecure_skip_verify", "bool"),
        Key("token", "token", "str"),
        Key("token-prefix", "token_prefix", "str"),
        Key("environment", "environment", "str"),
        Key("origin", "origin", "str"),
        Key("timeout", "timeout", "duration"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"token"})

    def validate(self) -> list[str]:
        if self.enabled and not self.url:
            return ["url: must specify url"]
        if self.url and not _parses(self.url):
            return ["url: invalid url"]
        return []


def _parses(url: str) -> bool:
    try:
        urlsplit(url)
    except ValueError:
        return False
    return True


SECTION = SectionSpec(KIND, AlertaConfig, multiple=False, defaults=({},))


def alert_url(base: str) -> str:
    """``<url>/alert`` as Go's ``path.Join(u.Path, "alert")`` makes it, query kept."""
    split = urlsplit(base)
    path = posixpath.normpath(posixpath.join(split.path or "/", "alert"))
    return urlunsplit((split.scheme, split.netloc, path, split.query, split.fragment))


@dataclass(frozen=True, slots=True)
class AlertaAlert:
    """One alert as ``Service.Alert`` takes it (after the handler rendered its templates)."""

    resource: str
    event: str
    environment: str
    severity: str
    group: str
    value: str
    message: str
    origin: str
    service: Sequence[str] = ()
    correlate: Sequence[str] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    timeout: int = 0  # nanoseconds
    tags: Mapping[str, str] = field(default_factory=dict)
    raw_data: Any = None
    token: str = field(default="", repr=False)
    token_prefix: str = ""


class AlertaService(HTTPService[AlertaConfig]):
    """The ``[alerta]`` configuration and the one request per alert."""

    kind = KIND
    section = SECTION

    def destination(self) -> str:
        return f"alerta:{url_destination(self.config().url)}"

    def default_timeout(self) -> int:
        return self.config().timeout or DEFAULT_TIMEOUT

    async def alert(self, alert: AlertaAlert) -> DeliveryResult:
        """One POST (Kapacitor's ``Service.Alert``); never raises for a failed delivery."""
        if not alert.resource or not alert.event:
            return DeliveryResult(
                "permanent", None, "Resource and Event are required to send an alert"
            )
        config = self.config()
        if not config.enabled:
            return DeliveryResult("permanent", None, f"alerta: {NOT_ENABLED}")
        token = alert.token or config.token
        prefix = alert.token_prefix or config.token_prefix or DEFAULT_TOKEN_PREFIX
        body: dict[str, Any] = {
            "resource": alert.resource,
            "event": alert.event,
            "environment": alert.environment or config.environment,
            "severity": alert.severity,
            "group": alert.group,
            "value": alert.value,
            "text": alert.message,
            "origin": alert.origin or config.origin,
            "rawData": alert.raw_data,
            "timeout": int(alert.timeout // 10**9),
            "tags": [f"{k}={v}" for k, v in sorted(alert.tags.items())],
        }
        if alert.service:
            body["service"] = list(alert.service)
        if alert.correlate:
            body["correlate"] = list(alert.correlate)
        if alert.attributes:
            body["attributes"] = dict(alert.attributes)
        try:
            payload = go_json_body(body)
        except (TypeError, ValueError) as exc:
            return DeliveryResult("permanent", None, f"alerta: cannot encode the alert: {exc}")
        ssl: SSLSetting = False if config.insecure_skip_verify else None
        return await self._client.request(
            "POST",
            alert_url(config.url),
            body=payload,
            headers={"Authorization": f"{prefix} {token}", "Content-Type": "application/json"},
            ssl=ssl,
            secrets=[token],
        )

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's alerta TestOptions."""
        config = self.config()
        return {
            "resource": "testResource",
            "event": "testEvent",
            "environment": config.environment,
            "severity": "critical",
            "group": "testGroup",
            "value": "testValue",
            "message": "test alerta message",
            "origin": config.origin,
            "service": ["testServiceA", "testServiceB"],
            "correlate": ["testServiceX", "testServiceY"],
            "attributes": {"testAttributeA": "A", "testAttributeB": True, "testAttributeC": 9001.0},
            "timeout": "24h0m0s",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        """Send one test alert with the section's token (one attempt)."""
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            if not self.config().enabled:
                return False, NOT_ENABLED
            strings = {k: o.text(k) for k in _TEST_STRINGS}
            service, correlate = o.texts("service"), o.texts("correlate")
            attributes = o.obj("attributes")
            timeout = duration_option(o.values["timeout"] or 0, "alerta test", "timeout")
        except (IntegrationError, HandlerConfigError) as exc:
            return False, str(exc)
        result = await self.alert(
            AlertaAlert(
                resource=strings["resource"],
                event=strings["event"],
                environment=strings["environment"],
                severity=strings["severity"],
                group=strings["group"],
                value=strings["value"],
                message=strings["message"],
                origin=strings["origin"],
                service=service,
                correlate=correlate,
                attributes=attributes,
                timeout=timeout,
                raw_data={"series": None},  # an empty models.Result, as Go encodes it
            )
        )
        return service_test_answer(result)


_TEST_STRINGS = (
    "resource",
    "event",
    "environment",
    "severity",
    "group",
    "value",
    "message",
    "origin",
)


def event_data(event: Event) -> GoStruct:
    """What the ``event`` template sees (Kapacitor's alerta ``eventData``)."""
    return GoStruct(
        {
            "ID": event.state.id,
            "Name": event.data.name,
            "TaskName": event.data.task_name,
            "Group": event.data.group,
            "Tags": StringMap(event.data.tags),
        },
        type_name="alerta.eventData",
    )


class AlertaHandler(SingleSend):
    """One configured ``.alerta()`` / ``kind: alerta``: templates parsed once, rendered per event."""

    kind = KIND

    def __init__(
        self,
        service: AlertaService,
        ctx: HandlerContext,
        *,
        token: str = "",
        token_prefix: str = "",
        resource: str = DEFAULT_RESOURCE,
        event: str = DEFAULT_EVENT,
        environment: str = "",
        group: str = DEFAULT_GROUP,
        value: str = "",
        origin: str = "",
        service_names: Sequence[str] = (),
        correlate: Sequence[str] = (),
        attributes: Mapping[str, Any] | None = None,
        timeout: int = 0,
    ) -> None:
        self._service = service
        self._ctx = ctx
        self._token = token
        self._token_prefix = token_prefix
        self._origin = origin
        self._timeout = timeout
        self._templates = {
            name: parse_template(text, KIND, name)
            for name, text in (
                ("resource", resource),
                ("event", event),
                ("environment", environment),
                ("group", group),
                ("value", value),
            )
        }
        self._services = [parse_template(t, KIND, "service") for t in service_names]
        self._correlate = [parse_template(t, KIND, "correlate") for t in correlate]
        self._attributes: dict[str, Template | Any] = {
            k: parse_template(v, KIND, f"attribute {k!r}") if isinstance(v, str) else v
            for k, v in (attributes or {}).items()
        }
        self.destination = service.destination()

    def __repr__(self) -> str:
        return f"AlertaHandler(destination={self.destination!r})"

    def _alert(self, event: Event) -> AlertaAlert:
        td = event.template_data()
        t = self._templates
        attributes = {
            k: render(v, td, f"attribute {k!r}") if isinstance(v, Template) else v
            for k, v in self._attributes.items()
        }
        name = event.data.name
        return AlertaAlert(
            resource=render(t["resource"], td, "resource"),
            event=render(t["event"], event_data(event), "event"),
            environment=render(t["environment"], td, "environment"),
            severity=SEVERITIES.get(event.state.level, "indeterminate"),
            group=render(t["group"], td, "group"),
            value=render(t["value"], td, "value"),
            message=event.state.message,
            origin=self._origin,
            service=[render(s, td, "service") for s in self._services] or [name],
            correlate=[render(c, td, "correlate") for c in self._correlate] or [name],
            attributes=attributes,
            timeout=self._timeout or self._service.default_timeout(),
            tags=event.data.tags,
            raw_data=json.loads(self._ctx.alert_json(event), object_pairs_hook=GoStruct)["data"],
            token=self._token,
            token_prefix=self._token_prefix,
        )

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        try:
            alert = self._alert(event)
        except HandlerError as exc:
            return DeliveryResult("permanent", None, f"alerta: {exc}")
        return await self._service.alert(alert)


def _nonempty(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value else default


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> AlertaHandler:
    """From ``.alerta().token().resource().event().environment().group().value().origin()
    .services().correlated().attribute().timeout()``."""
    return AlertaHandler(
        service_of(ctx, KIND, AlertaService, "Alerta"),
        ctx,
        token=props.get("token") or "",
        resource=_nonempty(props.get("resource"), DEFAULT_RESOURCE),
        event=_nonempty(props.get("event"), DEFAULT_EVENT),
        environment=props.get("environment") or "",
        group=_nonempty(props.get("group"), DEFAULT_GROUP),
        value=props.get("value") or "",
        origin=props.get("origin") or "",
        service_names=list(props.get("services") or ()),
        correlate=list(props.get("correlated") or ()),
        attributes=props.get("attributes") or {},
        timeout=int(props.get("timeout") or 0),
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> AlertaHandler:
    """From a ``kind: alerta`` handler file's ``options`` (Kapacitor's HandlerConfig)."""
    o = fold_options(options, KIND, OPTION_KEYS)
    strings = {key: option(o, KIND, key, str, "") for key in OPTION_KEYS[:8]}
    attributes = option(o, KIND, "attributes", dict, {})
    return AlertaHandler(
        service_of(ctx, KIND, AlertaService, "Alerta"),
        ctx,
        token=strings["token"],
        token_prefix=strings["token-prefix"],
        resource=strings["resource"] if "resource" in o else DEFAULT_RESOURCE,
        event=strings["event"] if "event" in o else DEFAULT_EVENT,
        environment=strings["environment"],
        group=strings["group"] if "group" in o else DEFAULT_GROUP,
        value=strings["value"],
        origin=strings["origin"],
        service_names=str_list(o.get("service"), f"{KIND} handler option 'service'"),
        correlate=str_list(o.get("correlate"), f"{KIND} handler option 'correlate'"),
        attributes=attributes,
        timeout=duration_option(o.get("timeout"), KIND, "timeout"),
    )


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=AlertaService.from_config,
    check=building_check(KIND, from_tick, from_options),
    service_test=True,
    secret_options=("token",),
)
