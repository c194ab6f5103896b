"""``.pagerDuty2()`` and ``kind: pagerduty2``: PagerDuty's Events API v2 (``[pagerduty2]``).

As Kapacitor's ``services/pagerduty2``: one JSON POST per event to ``url`` (default
``https://events.pagerduty.com/v2/enqueue``) with ``Content-Type: application/json`` and
``Accept: application/vnd.pagerduty+json;version=2``; the body is Kapacitor's AlertPayload:

* ``routing_key``: the handler's (``.routingKey()``, or ``.serviceKey()`` which sets the same
  property; ``routing-key`` in a handler file), else the section's;
* ``event_action``: ``trigger`` for INFO, WARNING and CRITICAL, ``resolve`` for OK;
* ``dedup_key``: the alert ID, so a resolve closes the incident its trigger opened;
* ``payload``: ``summary`` (the message), ``source`` (the ``host`` tag, else ``unknown``),
  ``severity`` (``info``/``warning``/``critical``; ``info`` for a resolve, the field is
  required), ``timestamp`` (the event time with nine fractional digits), ``class`` (the task
  name), empty ``component`` and ``group``, ``custom_details`` ``{"result": <the data>}``;
* ``links``: each ``.link(href[, text])`` / ``links: [{href, text}]`` with both rendered as
  Go templates over the alert (a link without text shows its href); ``images`` null;
* ``client`` ``kapacitor``, ``client_url`` the server's API URL.

Any 2xx is success (Kapacitor: 200 or 202).  The routing key is a secret: redacted in the
config API, never in a reason, log line or destination (32 bits of its digest name it).

Rate limit: PagerDuty documents 120 events per minute per routing key for the Events API v2
(429 beyond it); each handler declares ``RateLimit(120 per 60 s)`` keyed by the routing key's
digest, so handlers sharing a key (``.pagerDuty()`` ones too) share the budget, and a 429's
Retry-After holds them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.config import Key, Section, SectionSpec
from leyden.go.template import Template, TemplateError, TemplateExecError
from leyden.go.types import GoStruct, Time
from leyden.model.alert import Event, Level
from leyden.notify._registry import Integration
from leyden.notify._service import ServiceTestOptions
from leyden.notify._single import (
    Request,
    ServiceHandler,
    SingleService,
    result_struct,
    url_problem,
)
from leyden.notify.base import (
    HandlerConfigError,
    HandlerContext,
    IntegrationError,
    check_keys,
    option,
    service_of,
)
from leyden.notify.pagerduty import events_limit

__all__ = ["DEFAULT_URL", "INTEGRATION", "PagerDuty2Config", "PagerDuty2Service"]

KIND = "pagerduty2"
DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
OPTION_KEYS = ("routing-key", "links")
#: Kapacitor's TestOptions time: 2014-11-12T11:45:26.371Z
TEST_TIMESTAMP = "2014-11-12T11:45:26.371Z"


@dataclass
class PagerDuty2Config(Section):
    """``[pagerduty2]`` (Kapacitor's services/pagerduty2 Config)."""

    enabled: bool = False
    url: str = DEFAULT_URL
    routing_key: str = field(default="", repr=False)
    global_: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("url", "url", "str"),
        Key("routing-key", "routing_key", "str"),
        Key("global", "global_", "bool"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"routing-key"})

    def validate(self) -> list[str]:
        problem = url_problem("url", self.url)
        return [problem] if problem else []


SECTION = SectionSpec(KIND, PagerDuty2Config, multiple=False, defaults=({},))


def timestamp(ns: int) -> str:
    """Go's ``2006-01-02T15:04:05.000000000Z07:00`` in UTC: always nine fractional digits."""
    whole = Time(ns).rfc3339()  # ends with "Z"
    return f"{whole[:-1]}.{int(ns) % 1_000_000_000:09d}Z"


def severity_action(level: Level) -> tuple[str, str]:
    """(``severity``, ``event_action``) of a level, as Kapacitor's preparePost maps them."""
    if level == Level.WARNING:
        return "warning", "trigger"
    if level == Level.CRITICAL:
        return "critical", "trigger"
    if level == Level.INFO:
        return "info", "trigger"
    return "info", "resolve"  # the severity is required even to resolve


@dataclass(frozen=True, slots=True)
class LinkTemplate:
    """One ``links`` entry: ``href`` and ``text`` are Go templates over the alert."""

    href: Template
    text: Template | None

    @classmethod
    def parse(cls, href: str, text: str, where: str) -> LinkTemplate:
        try:
            return cls(
                Template.parse(href, name="href"),
                Template.parse(text, name="text") if text else None,
            )
        except TemplateError as exc:
            raise HandlerConfigError(f"{where}: invalid link template: {exc}") from None

    def render(self, event: Event) -> GoStruct:
        data = event.template_data()
        try:
            href = self.href.execute(data)
            text = self.text.execute(data) if self.text is not None else href
        except TemplateExecError as exc:
            raise IntegrationError(f"failed to render a link template: {exc}") from None
        return GoStruct([("href", href), ("text", text)])


class PagerDuty2Service(SingleService[PagerDuty2Config]):
    kind = KIND
    section = SECTION
    headers: ClassVar[Mapping[str, str]] = {
        "Content-Type": "application/json",
        "Accept": "application/vnd.pagerduty+json;version=2",
    }

    def request(
        self,
        config: PagerDuty2Config,
        *,
        routing_key: str,
        links: list[GoStruct],
        alert_id: str,
        description: str,
        level: Level,
        time: int,
        task_name: str,
        tags: Mapping[str, str],
        result: Any,
    ) -> Request:
        """The POST Kapacitor's ``preparePost`` builds."""
        key = routing_key or config.routing_key
        severity, action = severity_action(level)
        payload = GoStruct(
            [
                ("summary", description),
                ("source", tags.get("host", "unknown")),
                ("severity", severity),
                ("timestamp", timestamp(time)),
                ("class", task_name),
                ("component", ""),
                ("group", ""),
                ("custom_details", {"result": result}),
            ]
        )
        body = GoStruct(
            [
                ("routing_key", key),
                ("event_action", action),
                ("dedup_key", alert_id),
                ("payload", payload),
                ("images", None),
                ("links", links or None),
                ("client", "kapacitor"),
                ("client_url", self.client_url),
            ]
        )
        return Request(config.url, body, secrets=(key,))

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions."""
        return {
            "alert_id": "testAlertID",
            "description": "test pagerduty2 message",
            "level": "CRITICAL",
            "event_data": GoStruct(
                [
                    ("Name", "testPagerDuty2"),
                    ("TaskName", ""),
                    ("Category", ""),
                    ("Group", ""),
                    ("Tags", {}),
                    ("Fields", {}),
                    ("Recoverable", False),
                    ("Result", GoStruct([("series", None)])),
                ]
            ),
            "timestamp": TEST_TIMESTAMP,
            "links": [
                GoStruct([("href", "https://example.com/a"), ("text", "a")]),
                GoStruct([("href", "https://example.com/b"), ("text", "b")]),
            ],
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            alert_id, description, level = o.text("alert_id"), o.text("description"), o.level()
            when = o.time_ns("timestamp")
            data = o.obj("event_data")
            tags = data.get("Tags") or {}
            if not isinstance(tags, Mapping):
                raise IntegrationError(f"{KIND} test option 'event_data.Tags' must be an object")
            links = _test_links(o.values.get("links"))
        except IntegrationError as exc:
            return False, str(exc)
        result = data.get("Result") or GoStruct([("series", None)])
        return await self.try_request(
            lambda config: self.request(
                config,
                routing_key="",
                links=links,
                alert_id=alert_id,
                description=description,
                level=level,
                time=when,
                task_name=str(data.get("TaskName") or ""),
                tags={str(k): str(v) for k, v in tags.items()},
                result=result,
            )
        )


def _test_links(value: Any) -> list[GoStruct]:
    """The test's links are sent as given (Kapacitor renders no template in a test)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise IntegrationError(f"{KIND} test option 'links' must be a list of objects")
    return [
        GoStruct([("href", str(v.get("href") or "")), ("text", str(v.get("text") or ""))])
        for v in value
    ]


def _links(value: Any, where: str) -> list[LinkTemplate]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise HandlerConfigError(f"{where} must be a list of {{href, text}} maps")
    links = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise HandlerConfigError(f"{where}[{i}] must be a map with href and text")
        unknown = sorted(str(k) for k in item if k not in ("href", "text"))
        if unknown:
            raise HandlerConfigError(
                f"{where}[{i}]: unknown key(s) {', '.join(unknown)}; valid keys: href, text"
            )
        href, text = item.get("href", ""), item.get("text", "")
        if not isinstance(href, str) or not isinstance(text, str):
            raise HandlerConfigError(f"{where}[{i}]: href and text must be strings")
        links.append(LinkTemplate.parse(href, text, f"{where}[{i}]"))
    return links


def _handler(routing_key: str, links: list[LinkTemplate], ctx: HandlerContext) -> ServiceHandler:
    service = service_of(ctx, KIND, PagerDuty2Service, "PagerDuty")
    digest = service.key_digest(routing_key, "routing_key")

    def build(event: Event, config: PagerDuty2Config) -> Request:
        return service.request(
            config,
            routing_key=routing_key,
            links=[link.render(event) for link in links],
            alert_id=event.state.id,
            description=event.state.message,
            level=event.state.level,
            time=int(event.state.time),
            task_name=event.data.task_name,
            tags=event.data.tags,
            result=result_struct(event),
        )

    return ServiceHandler(
        KIND,
        service,
        build,
        destination=f"pagerduty2:{digest}",
        rate_limits=(events_limit(digest),),
    )


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> ServiceHandler:
    """From ``.pagerDuty2().routingKey('…').link(href[, text])``."""
    return _handler(
        str(props.get("routingKey") or ""), _links(props.get("links"), ".pagerDuty2() link"), ctx
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> ServiceHandler:
    """From a ``kind: pagerduty2`` handler file's ``options``."""
    check_keys(options, KIND, OPTION_KEYS)
    return _handler(
        option(options, KIND, "routing-key", str, ""),
        _links(options.get("links"), f"{KIND} handler option 'links'"),
        ctx,
    )


INTEGRATION = Integration(
    KIND,
    tick_name="pagerDuty2",
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=PagerDuty2Service.from_config,
    service_test=True,
    global_handler=PagerDuty2Service.global_enabled,
    secret_options=("routing-key",),
)
