"""``.bigPanda()`` and ``kind: bigpanda``: alerts to BigPanda's alert API.

As Kapacitor's ``services/bigpanda``: ``[bigpanda]`` holds the API ``url``, the integration's
``app-key``, the bearer ``token``, ``insecure-skip-verify`` and ``auto-attributes`` (which of
the event's ``tags`` and ``fields`` become attributes).  One event is one ``POST`` with
``Authorization: Bearer <token>`` and a flat JSON object (Go's map encoding: keys sorted,
compact, HTML characters escaped): ``app_key`` (the handler's or the section's), ``status``
(``ok`` for OK and INFO, ``warning``, ``critical``), ``check`` (the alert ID), ``description``
(the message), ``details`` (HTML-unescaped, left out when it is the default JSON details),
``task`` (``<task>:<measurement>``), ``timestamp`` (Unix seconds), ``primary_property`` /
``secondary_property`` when set, the auto attributes (tags as they are, other field values as
JSON text), then ``host`` and the handler's ``attributes``: string values are Go templates over
the event's template data, others their JSON.

The token is a secret: redacted in the config API and scrubbed from every reason.  A template
that does not parse is refused when the handler is defined (Kapacitor logs it on every event
and sends nothing).
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.config import Key, Section, SectionSpec
from leyden.go.template import Template, TemplateExecError
from leyden.go.types import Time, go_json
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify._http import (
    DeliveryResult,
    HTTPClient,
    http_url_problem,
    is_http_url,
    redact_url,
    secret_digest,
)
from leyden.notify._mapstructure import building_check, parse_template
from leyden.notify._registry import Integration
from leyden.notify._service import HTTPService, ServiceTestOptions, service_test_answer
from leyden.notify.base import (
    HandlerConfigError,
    HandlerContext,
    IntegrationError,
    SingleSend,
    check_keys,
    option,
    service_of,
)

__all__ = ["INTEGRATION", "BigPandaConfig", "BigPandaHandler", "BigPandaService", "alert_body"]

KIND = "bigpanda"
DEFAULT_URL = "https://api.bigpanda.io/data/v2/alerts"
DEFAULT_AUTO_ATTRIBUTES = "tags,fields"
TEST_MESSAGE = "test bigpanda message"
TEST_APP_KEY = "012345"
OPTION_KEYS = ("app-key", "url", "host", "primary-property", "secondary-property", "attributes")
_STATUS = {Level.OK: "ok", Level.INFO: "ok", Level.WARNING: "warning", Level.CRITICAL: "critical"}


@dataclass
class BigPandaConfig(Section):
    """``[bigpanda]`` (Kapacitor's services/bigpanda Config and its NewConfig defaults)."""

    enabled: bool = False
    global_: bool = False
    app_key: str = ""
    token: str = field(default="", repr=False)
    state_changes_only: bool = False
    insecure_skip_verify: bool = False
    url: str = DEFAULT_URL
    auto_attributes: str = DEFAULT_AUTO_ATTRIBUTES

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("global", "global_", "bool"),
        Key("app-key", "app_key", "str"),
        Key("token", "token", "str"),
        Key("state-changes-only", "state_changes_only", "bool"),
        Key("insecure-skip-verify", "insecure_skip_verify", "bool"),
        Key("url", "url", "str"),
        Key("auto-attributes", "auto_attributes", "str"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"token"})

    def validate(self) -> list[str]:
        """Kapacitor's rules, with its words; the URL's form is checked whenever it is set."""
        problems: list[str] = []
        if self.enabled and not self.url:
            problems.append("url: must specify the BigPanda webhook URL")
        if self.enabled and not self.app_key:
            problems.append("app-key: must specify BigPanda app-key")
        if problem := http_url_problem("url", self.url):
            problems.append(problem)
        if self.enabled and not self.token:
            problems.append("token: must specify BigPanda token")
        return problems


SECTION = SectionSpec("bigpanda", BigPandaConfig, multiple=False, defaults=({},))


def _json_text(value: Any) -> str:
    """A non-string value as Kapacitor puts it in the body: its JSON."""
    try:
        return go_json(value)
    except (TypeError, ValueError):
        return str(value)


def alert_body(
    config: BigPandaConfig,
    *,
    id: str,
    message: str,
    details: str,
    level: Level,
    time_ns: int,
    data: EventData,
    app_key: str,
    primary_property: str,
    secondary_property: str,
    attributes: Mapping[str, str],
) -> bytes:
    """The request body exactly as Kapacitor's ``preparePost`` encodes it."""
    body: dict[str, Any] = {}
    if message:
        body["description"] = message
    if details:
        unescaped = html.unescape(details)
        if not unescaped.startswith("{"):  # the default details: the whole event as JSON
            body["details"] = unescaped
    if id:
        body["check"] = id
    body["task"] = f"{data.task_name}:{data.name}"
    body["timestamp"] = time_ns // 1_000_000_000
    body["status"] = _STATUS.get(level, "critical")
    if primary_property:
        body["primary_property"] = primary_property
    if secondary_property:
        body["secondary_property"] = secondary_property
    body["app_key"] = app_key or config.app_key
    auto = config.auto_attributes.lower()
    if "tags" in auto:
        body.update(data.tags)
    if "fields" in auto:
        for key, value in data.fields.items():
            body[key] = value if isinstance(value, str) else _json_text(value)
    body.update(attributes)
    return go_json(body).encode()


@dataclass(frozen=True, slots=True)
class BigPandaOptions:
    """A handler's settings (Kapacitor's HandlerConfig)."""

    app_key: str = ""
    url: str = field(default="", repr=False)
    host: str = ""
    primary_property: str = ""
    secondary_property: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def templates(self) -> dict[str, Template | str]:
        """``host`` and each attribute: a parsed template for strings, JSON text otherwise."""
        out: dict[str, Template | str] = {"host": parse_template(self.host, KIND, "host")}
        for key, value in self.attributes.items():
            out[key] = (
                parse_template(value, KIND, key) if isinstance(value, str) else _json_text(value)
            )
        return out


class BigPandaService(HTTPService[BigPandaConfig]):
    """The ``[bigpanda]`` integration: one alert POST per event."""

    kind: ClassVar[str] = KIND
    section = SECTION

    def __init__(
        self,
        configs: Sequence[BigPandaConfig],
        client: HTTPClient | None = None,
        now: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__(configs, client)
        self._now = now

    def destination(self, url: str) -> str:
        config = self.config()
        target = url or config.url
        digest = secret_digest(target, config.token, length=12)
        return f"bigpanda:{redact_url(target)} #{digest}"

    async def post(self, url: str, build: Callable[[BigPandaConfig], bytes]) -> DeliveryResult:
        """One attempt: ``build`` makes the body from the section in force."""
        try:
            config = self.resolve()
        except IntegrationError as exc:
            return DeliveryResult("permanent", None, str(exc))
        return await self._client.request(
            "POST",
            url or config.url,
            body=build(config),
            headers={"Authorization": f"Bearer {config.token}", "Content-Type": "application/json"},
            ssl=False if config.insecure_skip_verify else None,
            secrets=[config.token],
        )

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions (its app key, host and event data; the time is now)."""
        return {
            "app_key": TEST_APP_KEY,
            "message": TEST_MESSAGE,
            "level": "CRITICAL",
            "event_data": {
                "Name": "testBigPanda",
                "TaskName": "",
                "Group": "",
                "Tags": {},
                "Fields": {},
                "Result": {"series": None},
                "Recoverable": False,
                "Category": "",
            },
            "timestamp": Time(self._now()).rfc3339nano(),
            "host": "serverA",
            "primary_property": "",
            "secondary_property": "",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        """Kapacitor's Test: the options' alert without an ID, details or attributes."""
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            level = o.level(any_case=True)
            when = o.time_ns("timestamp")
            raw = o.obj("event_data")
            tags = raw.get("Tags") or {}
            fields = raw.get("Fields") or {}
            if not isinstance(tags, dict) or not isinstance(fields, dict):
                raise IntegrationError(f"{KIND} test option 'event_data': Tags and Fields: objects")
            data = EventData(
                name=str(raw.get("Name") or ""),
                task_name=str(raw.get("TaskName") or ""),
                tags={str(k): str(v) for k, v in tags.items()},
                fields=dict(fields),
            )
            message, app_key = o.text("message"), o.text("app_key")
            primary, secondary = o.text("primary_property"), o.text("secondary_property")
        except IntegrationError as exc:
            return False, str(exc)

        def build(config: BigPandaConfig) -> bytes:
            return alert_body(
                config,
                id="",
                message=message,
                details="",
                level=level,
                time_ns=when,
                data=data,
                app_key=app_key,
                primary_property=primary,
                secondary_property=secondary,
                attributes={},
            )

        return service_test_answer(await self.post("", build))


class BigPandaHandler(SingleSend):
    kind = KIND

    def __init__(self, service: BigPandaService, options: BigPandaOptions) -> None:
        self.service = service
        self.options = options
        self._templates = options.templates()
        self.destination = service.destination(options.url)

    def _attributes(self, event: Event) -> dict[str, str]:
        data = event.template_data()
        out: dict[str, str] = {}
        for key, value in self._templates.items():
            out[key] = value if isinstance(value, str) else value.execute(data)
        return out

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        try:
            attributes = self._attributes(event)
        except TemplateExecError as exc:
            return DeliveryResult("permanent", None, f"bigpanda handler: {exc}")
        state: EventState = event.state
        opts = self.options

        def build(config: BigPandaConfig) -> bytes:
            return alert_body(
                config,
                id=state.id,
                message=state.message,
                details=state.details,
                level=state.level,
                time_ns=int(state.time),
                data=event.data,
                app_key=opts.app_key,
                primary_property=opts.primary_property,
                secondary_property=opts.secondary_property,
                attributes=attributes,
            )

        return await self.service.post(opts.url, build)


def _attributes(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``.attribute(k, v)`` of a TICKscript, ``attributes`` of a handler file: a map."""
    return {str(k): v for k, v in option(settings, KIND, "attributes", dict, {}).items()}


def _tick_options(props: Mapping[str, Any]) -> BigPandaOptions:
    return BigPandaOptions(
        app_key=props.get("appKey") or "",
        host=props.get("host") or "",
        primary_property=props.get("primaryProperty") or "",
        secondary_property=props.get("secondaryProperty") or "",
        attributes=_attributes(props),
    )


def _file_options(options: Mapping[str, Any]) -> BigPandaOptions:
    check_keys(options, KIND, OPTION_KEYS)
    url = option(options, KIND, "url", str, "")
    if url and not is_http_url(url):
        raise HandlerConfigError(
            "bigpanda handler option " + "url: must be an http:// or https:// URL with a host"
        )
    return BigPandaOptions(
        app_key=option(options, KIND, "app-key", str, ""),
        url=url,
        host=option(options, KIND, "host", str, ""),
        primary_property=option(options, KIND, "primary-property", str, ""),
        secondary_property=option(options, KIND, "secondary-property", str, ""),
        attributes=_attributes(options),
    )


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> BigPandaHandler:
    """From ``.bigPanda().appKey().host().primaryProperty().secondaryProperty().attribute(k, v)``."""
    return BigPandaHandler(service_of(ctx, KIND, BigPandaService, "BigPanda"), _tick_options(props))


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> BigPandaHandler:
    """From a ``kind: bigpanda`` handler file's ``options``."""
    return BigPandaHandler(
        service_of(ctx, KIND, BigPandaService, "BigPanda"), _file_options(options)
    )


#: At definition: options of the wrong type and templates that do not parse.
check = building_check(KIND, from_tick, from_options)


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=BigPandaService.from_config,
    check=check,
    service_test=True,
    global_handler=BigPandaService.global_enabled,
    global_state_changes_only=BigPandaService.state_changes_only,
    tick_name="bigPanda",
)
