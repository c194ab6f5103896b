"""``.zenoss()`` and ``kind: zenoss``: events sent to Zenoss' JSON-RPC router.

As Kapacitor's ``services/zenoss``: the ``[zenoss]`` section (``url``, default
``https://tenant.zenoss.io:8080/zport/dmd/evconsole_router``; ``username``, ``password``,
``action`` ``EventsRouter``, ``method`` ``add_event``, ``type`` ``rpc``, ``tid`` 1,
``collector`` ``Kapacitor``, ``[zenoss.severity-map]`` OK ``Clear``, Info ``Info``, Warning
``Warning``, Critical ``Critical`` (strings or numbers), ``global``, ``state-changes-only``);
per event one POST of ``{"action", "method", "data": [event], "type", "tid"}`` with basic
auth when both username and password are set.  The event has ``summary`` (the alert message
unless set; 256 bytes at most), ``device``, ``component``, ``severity`` (the section's
mapping of the level), ``evclasskey``, ``evclass``, and when not empty ``collector`` (the
section's unless set) and ``message`` (4096 bytes at most), then the custom fields: string
values are rendered and, when they look like JSON (``{``, ``[``) and parse, sent as JSON.
Every text is a Go template over ``{Name, TaskName, ID, Message, Details, Time, Duration,
Level, Recoverable, Tags}``.  The handler's action, method, type and tid default to the
section's.

Differences: a TICKscript's ``.uRL()``/``.username()``/``.password()`` are used (Kapacitor
ignores them); a template that fails to execute fails the delivery (Kapacitor sends what was
rendered before the failure); any 2xx is success (Kapacitor wants 200).  The password never
appears in a log, an error or the config API (``password: true``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from leyden.config import Key, Section, SectionSpec
from leyden.go.template import Template
from leyden.go.types import GoStruct, StringMap, go_json
from leyden.model.alert import Event, EventData, EventState, Level
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

__all__ = ["INTEGRATION", "SeverityMap", "ZenossConfig", "ZenossHandler", "ZenossService"]

KIND = "zenoss"
DEFAULT_URL = "https://tenant.zenoss.io:8080/zport/dmd/evconsole_router"

#: the handler's texts, each a Go template, by their handler-file option names
TEXTS = (
    "summary",
    "device",
    "component",
    "eventclasskey",
    "eventclass",
    "collector",
    "message",
)
#: Kapacitor's HandlerConfig: mapstructure tags, and untagged fields matched by name in any case
OPTION_KEYS = ("action", "method", "type", "tid", *TEXTS, "customField")
#: the JSON names Kapacitor's documentation and test options use
OPTION_ALIASES = {
    "evclasskey": "eventclasskey",
    "evclass": "eventclass",
    "custom_fields": "customField",
}


@dataclass
class SeverityMap(Section):
    """``[zenoss.severity-map]``: what each level is sent as (a name or a number)."""

    ok: str | int | float = "Clear"
    info: str | int | float = "Info"
    warning: str | int | float = "Warning"
    critical: str | int | float = "Critical"

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("ok", "ok", "scalar"),
        Key("info", "info", "scalar"),
        Key("warning", "warning", "scalar"),
        Key("critical", "critical", "scalar"),
    )
    #: Kapacitor's TOML names are ``OK``, ``Info`` …; its API's ``ok``, ``info`` …
    _FOLD_CASE: ClassVar[bool] = True

    def value_for(self, level: Level) -> str | int | float:
        return {
            Level.OK: self.ok,
            Level.INFO: self.info,
            Level.WARNING: self.warning,
            Level.CRITICAL: self.critical,
        }[level]


@dataclass
class ZenossConfig(Section):
    """``[zenoss]`` (Kapacitor's services/zenoss Config and NewConfig)."""

    enabled: bool = False
    url: str = DEFAULT_URL
    username: str = ""
    password: str = field(default="", repr=False)
    action: str = "EventsRouter"
    method: str = "add_event"
    type: str = "rpc"
    tid: int = 1
    collector: str = "Kapacitor"
    severity_map: SeverityMap = field(default_factory=SeverityMap)
    global_: bool = False
    state_changes_only: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("url", "url", "str"),
        Key("username", "username", "str"),
        Key("password", "password", "str"),
        Key("action", "action", "str"),
        Key("method", "method", "str"),
        Key("type", "type", "str"),
        Key("tid", "tid", "int"),
        Key("collector", "collector", "str"),
        Key("severity-map", "severity_map", "struct", SeverityMap),
        Key("global", "global_", "bool"),
        Key("state-changes-only", "state_changes_only", "bool"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"password"})

    def validate(self) -> list[str]:
        if self.enabled and not self.url:
            return ["url: must specify events URL"]
        try:
            split = urlsplit(self.url)
        except ValueError:
            split = None
        if split is None or not (split.path.startswith("/") or split.scheme):
            return ["url: invalid url: must be an absolute URL or path"]
        return []


SECTION = SectionSpec(KIND, ZenossConfig, multiple=False, defaults=({},))


@dataclass(frozen=True, slots=True)
class ZenossEvent:
    """What ``Service.Alert`` takes: the rendered handler settings and the alert's level."""

    level: Level
    message: str
    action: str = ""
    method: str = ""
    type: str = ""
    tid: int = 0
    texts: Mapping[str, str] = field(default_factory=dict)
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    url: str = ""
    username: str = ""
    password: str = field(default="", repr=False)


def _no_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def _custom_value(value: Any) -> Any:
    """A custom field as Kapacitor sends it: text that parses as a JSON object or array is JSON."""
    if isinstance(value, str) and value.startswith(("{", "[")):
        try:  # Go's decoder knows no NaN or Infinity: such text stays text
            return json.loads(value, parse_constant=_no_constant)
        except ValueError:
            return value
    return value


class ZenossService(HTTPService[ZenossConfig]):
    """The ``[zenoss]`` configuration and the one request per event."""

    kind = KIND
    section = SECTION

    def destination(self, url: str = "") -> str:
        return f"zenoss:{url_destination(url or self.config().url)}"

    def body(self, event: ZenossEvent) -> bytes:
        """Kapacitor's router call: ``data`` is a map (keys sorted), the call a struct."""
        config = self.config()
        texts = event.texts
        data: dict[str, Any] = {
            "summary": cutoff(texts.get("summary") or event.message, 256),
            "device": texts.get("device", ""),
            "component": texts.get("component", ""),
            "severity": config.severity_map.value_for(event.level),
            "evclasskey": texts.get("eventclasskey", ""),
            "evclass": texts.get("eventclass", ""),
        }
        collector = texts.get("collector") or config.collector
        if collector:
            data["collector"] = collector
        message = cutoff(texts.get("message", ""), 4096)
        if message:
            data["message"] = message
        for key, value in event.custom_fields.items():
            data[key] = _custom_value(value)
        call = GoStruct(
            {
                "action": event.action or config.action,
                "method": event.method or config.method,
                "data": [data],
                "type": event.type or config.type,
                "tid": event.tid or config.tid,
            }
        )
        return go_json(call).encode()

    async def alert(self, event: ZenossEvent) -> DeliveryResult:
        """One POST (Kapacitor's ``Service.Alert``); never raises for a failed delivery."""
        config = self.config()
        if not config.enabled:
            return DeliveryResult("permanent", None, f"zenoss: {NOT_ENABLED}")
        username = event.username or config.username
        password = event.password or config.password
        auth, secrets = basic_auth(username, password)
        try:
            body = self.body(event)
        except (TypeError, ValueError) as exc:
            return DeliveryResult("permanent", None, f"zenoss: cannot encode the event: {exc}")
        return await self._client.request(
            "POST",
            event.url or config.url,
            body=body,
            headers={"Content-Type": "application/json", **auth},
            secrets=secrets,
        )

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's zenoss TestOptions."""
        config = self.config()
        return {
            "alert_id": "1001",
            "level": "CRITICAL",
            "message": "test zenoss message",
            "action": config.action,
            "method": config.method,
            "type": config.type,
            "tid": config.tid,
            "summary": "",
            "device": "",
            "component": "",
            "eventclasskey": "",
            "eventclass": "",
            "collector": config.collector,
            "custom_fields": {},
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        """Send one test event (one attempt)."""
        try:
            given = ServiceTestOptions(KIND, self.default_test_options(), options)
            if not self.config().enabled:
                return False, NOT_ENABLED
            tid = given.integer("tid")
            o = {k: given.text(k) for k in given.values if k not in ("tid", "custom_fields")}
            level = given.level()
            custom = given.obj("custom_fields")
        except IntegrationError as exc:
            return False, str(exc)
        try:
            templates = _Templates.parse({k: o[k] for k in TEXTS if k != "message"}, custom)
            event = Event(
                "",
                EventState(o["alert_id"], o["message"], "", 0, 0, level),
                EventData(),
            )
            texts, fields = templates.render(_info(event))
        except (HandlerConfigError, HandlerError) as exc:
            return False, str(exc)
        result = await self.alert(
            ZenossEvent(
                level=level,
                message=o["message"],
                action=o["action"],
                method=o["method"],
                type=o["type"],
                tid=tid,
                texts=texts,
                custom_fields=fields,
            )
        )
        return service_test_answer(result)


def _info(event: Event) -> GoStruct:
    """What the templates see (the struct Kapacitor's zenoss ``preparePost`` renders over)."""
    return GoStruct(
        {
            "Name": event.data.name,
            "TaskName": event.data.task_name,
            "ID": event.state.id,
            "Message": event.state.message,
            "Details": event.state.details,
            "Time": event.state.time,
            "Duration": event.state.duration,
            "Level": str(event.state.level),
            "Recoverable": event.data.recoverable,
            "Tags": StringMap(event.data.tags),
        },
        type_name="struct",
    )


@dataclass(frozen=True, slots=True)
class _Templates:
    """The handler's texts and string custom fields, parsed once."""

    texts: Mapping[str, Template]
    custom: Mapping[str, Template | Any]

    @classmethod
    def parse(cls, texts: Mapping[str, str], custom: Mapping[str, Any]) -> _Templates:
        return cls(
            {k: parse_template(v, KIND, k) for k, v in texts.items() if v},
            {
                k: parse_template(v, KIND, f"customField {k!r}") if isinstance(v, str) else v
                for k, v in custom.items()
            },
        )

    def render(self, info: GoStruct) -> tuple[dict[str, str], dict[str, Any]]:
        texts = {k: render(t, info, k) for k, t in self.texts.items()}
        custom = {
            k: render(v, info, f"customField {k!r}") if isinstance(v, Template) else v
            for k, v in self.custom.items()
        }
        return texts, custom


class ZenossHandler(SingleSend):
    """One configured ``.zenoss()`` / ``kind: zenoss``."""

    kind = KIND

    def __init__(
        self,
        service: ZenossService,
        *,
        action: str = "",
        method: str = "",
        type: str = "",
        tid: int = 0,
        texts: Mapping[str, str] | None = None,
        custom_fields: Mapping[str, Any] | None = None,
        url: str = "",
        username: str = "",
        password: str = "",
    ) -> None:
        self._service = service
        self._action = action
        self._method = method
        self._type = type
        self._tid = tid
        self._url = url
        self._username = username
        self._password = password
        self._templates = _Templates.parse(texts or {}, custom_fields or {})
        self.destination = service.destination(url)

    def __repr__(self) -> str:
        return f"ZenossHandler(destination={self.destination!r})"

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        try:
            texts, custom = self._templates.render(_info(event))
        except HandlerError as exc:
            return DeliveryResult("permanent", None, f"zenoss: {exc}")
        return await self._service.alert(
            ZenossEvent(
                level=event.state.level,
                message=event.state.message,
                action=self._action,
                method=self._method,
                type=self._type,
                tid=self._tid,
                texts=texts,
                custom_fields=custom,
                url=self._url,
                username=self._username,
                password=self._password,
            )
        )


#: ``.zenoss()`` properties → the handler-file names of its texts
_TICK_TEXTS = {
    "summary": "summary",
    "device": "device",
    "component": "component",
    "eventClassKey": "eventclasskey",
    "eventClass": "eventclass",
    "collector": "collector",
    "message": "message",
}


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> ZenossHandler:
    """From ``.zenoss().action().method().type().tid().summary().device().component()
    .eventClassKey().eventClass().collector().message().customField(k, v)`` (and
    ``.uRL().username().password()``)."""
    return ZenossHandler(
        service_of(ctx, KIND, ZenossService, "Zenoss"),
        action=props.get("action") or "",
        method=props.get("method") or "",
        type=props.get("type") or "",
        tid=int(props.get("tid") or 0),
        texts={key: props.get(prop) or "" for prop, key in _TICK_TEXTS.items()},
        custom_fields=props.get("customFields") or {},
        url=props.get("uRL") or "",
        username=props.get("username") or "",
        password=props.get("password") or "",
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> ZenossHandler:
    """From a ``kind: zenoss`` handler file's ``options`` (``TID`` as well as ``tid``)."""
    o = fold_options(options, KIND, OPTION_KEYS, OPTION_ALIASES)
    tid = o.get("tid") or 0
    if isinstance(tid, float) and tid.is_integer():
        tid = int(tid)
    if isinstance(tid, bool) or not isinstance(tid, int) or not -(2**63) <= tid < 2**63:
        raise HandlerConfigError(f"zenoss handler option 'tid' must be an integer, got {tid!r}")
    return ZenossHandler(
        service_of(ctx, KIND, ZenossService, "Zenoss"),
        action=option(o, KIND, "action", str, ""),
        method=option(o, KIND, "method", str, ""),
        type=option(o, KIND, "type", str, ""),
        tid=tid,
        texts={key: option(o, KIND, key, str, "") for key in TEXTS},
        custom_fields=option(o, KIND, "customField", dict, {}),
    )


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=ZenossService.from_config,
    check=building_check(KIND, from_tick, from_options),
    service_test=True,
    global_handler=ZenossService.global_enabled,
    global_state_changes_only=ZenossService.state_changes_only,
)
