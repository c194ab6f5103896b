"""``.teams()`` and ``kind: teams``: one Microsoft Teams MessageCard per event, as Kapacitor's
``services/teams`` posts it.

``[teams]`` has ``enabled``, ``channel-url`` (the channel's incoming-webhook URL), ``global``
and ``state-changes-only``; a handler may name another ``channel-url``
(``.teams().channelURL('…')``).  The body is Kapacitor's ``Card`` (``@type`` MessageCard,
``@context``, ``title``, ``text``, ``summary``, ``themeColor``) as ``json.Marshal`` writes it:
the title is ``LEVEL: [alert ID]`` (the topic when there is no ID), the summary the title, the
message, cut at 70 bytes and followed by ``...``, the colour by level.  Any 2xx is success.

Differences: ``channel-url`` is a secret (the webhook URL authenticates), so the config API
shows it redacted (Kapacitor shows it in clear) and the service test lists ``channel_url`` as
``""`` (Kapacitor lists the configured URL, then ignores the option; Leyden posts to it when
given).  Teams throttles a webhook above four requests a second: the handler declares that
limit, so a storm is paced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leyden.config import Key, Section, SectionSpec
from leyden.go.types import GoStruct, go_json
from leyden.model.alert import Event, Level
from leyden.notify._http import (
    DeliveryResult,
    Refusal,
    http_url_problem,
    is_http_url,
    url_destination,
)
from leyden.notify._registry import Integration, Problem
from leyden.notify._service import HTTPService, ServiceTestOptions, service_test_answer
from leyden.notify.base import (
    HandlerConfigError,
    HandlerContext,
    IntegrationError,
    RateLimit,
    SingleSend,
    check_keys,
    option,
    service_of,
)

__all__ = ["INTEGRATION", "SECTION", "TeamsConfig", "TeamsHandler", "TeamsService", "card"]

KIND = "teams"
OPTION_KEYS = ("channel-url",)
SUMMARY_CUTOFF = 70
#: Teams' connector limit: four requests per second per webhook
REQUESTS_PER_SECOND = 4
_COLORS = {Level.WARNING: "FFA533", Level.CRITICAL: "CC4A31"}


@dataclass
class TeamsConfig(Section):
    """``[teams]`` (Kapacitor's services/teams Config)."""

    enabled: bool = False
    channel_url: str = field(default="", repr=False)
    global_: bool = False
    state_changes_only: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("channel-url", "channel_url", "str"),
        Key("global", "global_", "bool"),
        Key("state-changes-only", "state_changes_only", "bool"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"channel-url"})

    def validate(self) -> list[str]:
        problems: list[str] = []
        if self.enabled and not self.channel_url:
            problems.append("channel-url: must specify Teams channel webhook URL")
        hidden = "it holds the webhook's secret"
        if problem := http_url_problem("channel-url", self.channel_url, hidden=hidden):
            problems.append(problem)
        return problems


#: ``[teams]``; Kapacitor always has one (disabled), so the environment can configure it.
SECTION = SectionSpec(KIND, TeamsConfig, multiple=False, defaults=({},))


def card(*, alert_topic: str, alert_id: str, message: str, level: Level) -> bytes:
    """Kapacitor's MessageCard for one alert, as ``json.Marshal`` writes it (no newline)."""
    if not alert_id and not alert_topic:
        title = str(level)
        summary = f"{title}: {message}"
    else:
        title = f"{level}: [{alert_id or alert_topic}]"
        summary = f"{title} - {message}"
    # Go slices the string's bytes; a character cut in two becomes U+FFFD when encoded
    cut = summary.encode()[:SUMMARY_CUTOFF].decode("utf-8", "replace")
    body = GoStruct(
        [
            ("@type", "MessageCard"),
            ("@context", "http://schema.org/extensions"),
            ("title", title),
            ("text", message),
            ("summary", cut + "..."),
            ("themeColor", _COLORS.get(level, "34CC25")),
        ]
    )
    return go_json(body).encode()


#: how long to wait after Teams said (in a 200) that it throttled the message: it gives no
#: Retry-After, and its connector limits are counted over seconds to minutes
THROTTLED_WAIT = 30.0
_FAILED = re.compile(rb"Webhook message delivery failed with error: .*?HTTP error (\d{3})", re.S)


def refused_in_body(body: bytes) -> Refusal | None:
    """Office 365 connectors answer 200 with "Webhook message delivery failed with error:
    Microsoft Teams endpoint returned HTTP error 429 …" when they dropped the message (only a
    body of ``1`` means posted; Power Automate workflows answer 202 and nothing).  Kapacitor
    counts those as sent.  A 429 or 5xx inside is retried (a 429 after :data:`THROTTLED_WAIT`),
    anything else is permanent."""
    found = _FAILED.search(body[:2048])
    if found is None:
        return None
    code = int(found.group(1))
    reason = f"Teams did not post the message (HTTP error {code} inside)"
    if code == 429:
        return Refusal("retry", reason, THROTTLED_WAIT)
    return Refusal("retry" if code >= 500 else "permanent", reason)


class TeamsService(HTTPService[TeamsConfig]):
    """The ``[teams]`` section and the one request per card."""

    kind = KIND
    section = SECTION

    def url(self, channel_url: str) -> str:
        """The webhook a handler posts to (its own, else the section's); "" if none yet."""
        if channel_url:
            return channel_url
        return self.config().channel_url

    def destination(self, channel_url: str) -> str:
        url = self.url(channel_url)
        return f"teams {url_destination(url)}" if url else "teams (no channel-url)"

    def rate_limits(self, channel_url: str) -> tuple[RateLimit, ...]:
        url = self.url(channel_url)
        if not url:
            return ()
        return (RateLimit(f"teams {url_destination(url)}", REQUESTS_PER_SECOND, 1.0),)

    async def alert(
        self, channel_url: str, alert_topic: str, alert_id: str, message: str, level: Level
    ) -> DeliveryResult:
        """ONE attempt; the section must be enabled even when the handler names the URL."""
        try:
            self.resolve()
        except IntegrationError as exc:
            return DeliveryResult("permanent", None, str(exc))
        url = self.url(channel_url)
        if not url:
            return DeliveryResult("permanent", None, "teams: no channel-url is configured")
        body = card(alert_topic=alert_topic, alert_id=alert_id, message=message, level=level)
        return await self._client.request(
            "POST",
            url,
            body=body,
            headers={"Content-Type": "application/json"},
            refused_in_body=refused_in_body,
        )

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's testOptions (``channel_url`` shown empty: it is a secret)."""
        return {
            "channel_url": "",
            "alert_topic": "test kapacitor alert topic",
            "alert_id": "foo/bar/bat",
            "message": "test teams message",
            "level": "CRITICAL",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            channel_url, alert_topic, alert_id, message = (
                o.text(k) for k in ("channel_url", "alert_topic", "alert_id", "message")
            )
            level = o.level(any_case=True)
        except IntegrationError as exc:
            return False, str(exc)
        return service_test_answer(
            await self.alert(channel_url, alert_topic, alert_id, message, level)
        )


class TeamsHandler(SingleSend):
    kind = KIND

    def __init__(self, service: TeamsService, channel_url: str = "") -> None:
        self.service = service
        self.channel_url = channel_url
        self.destination = service.destination(channel_url)
        self.rate_limits = service.rate_limits(channel_url)

    def __repr__(self) -> str:
        return f"TeamsHandler({self.destination!r})"

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        return await self.service.alert(
            self.channel_url, event.topic, event.state.id, event.state.message, event.state.level
        )


def _checked_url(url: str, what: str) -> str:
    if url and not is_http_url(url):
        raise HandlerConfigError(
            f"teams handler: {what} must be an http:// or https:// URL with a host"
        )
    return url


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> TeamsHandler:
    """From ``.teams().channelURL('…')``."""
    url = option(props, KIND, "channelURL", str, "")
    return TeamsHandler(
        service_of(ctx, KIND, TeamsService, "Teams"), _checked_url(url, "channelURL")
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> TeamsHandler:
    """From a ``kind: teams`` handler file's ``options``."""
    check_keys(options, KIND, OPTION_KEYS)
    url = option(options, KIND, "channel-url", str, "")
    return TeamsHandler(
        service_of(ctx, KIND, TeamsService, "Teams"), _checked_url(url, "channel-url")
    )


def check(settings: Mapping[str, Any], service: TeamsService, tick: bool) -> Problem | None:
    """At definition: a channel URL that is not an http(s) URL (else every alert fails)."""
    key = "channelURL" if tick else "channel-url"
    url = settings.get(key)
    if isinstance(url, str) and url and not is_http_url(url):
        return Problem(
            f"teams handler: {key} must be an http:// or https:// URL with a host",
            prop=key if tick else "",
            value="",  # the URL is the webhook's secret: the error points at the property
        )
    return None


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=TeamsService.from_config,
    check=check,
    service_test=True,
    global_handler=TeamsService.global_enabled,
    global_state_changes_only=TeamsService.state_changes_only,
    #: the channel URL is the webhook's secret, as the section's (redacted in the config API)
    secret_options=("channel-url",),
)
