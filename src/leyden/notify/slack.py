"""``.slack()`` and ``kind: slack``: one Slack message per event, to an ``[[slack]]`` workspace.

As Kapacitor's ``services/slack``: ``[[slack]]`` is a list of workspaces (``workspace`` names
one; the one marked ``default``, or the only one, serves handlers that name none).  Each event
is one POST of ``{"attachments": [{"fallback", "color", "text", "mrkdwn_in": ["text"]}],
"channel", "icon_emoji", "text": "", "username"}`` (a Go map: keys sorted, one JSON document and
a newline) with ``Content-Type: application/json`` and, when the workspace has a ``token``,
``Authorization: Bearer <token>`` (new-style apps post to chat.postMessage; legacy incoming
webhooks carry their secret in the URL).  The colour follows the level (``good``, ``warning``,
``danger``); the handler's channel, username and icon emoji win over the workspace's.  A
``global`` default workspace gives every alert node a Slack handler, with
``state-changes-only`` forcing those nodes into stateChangesOnly.

Differences: a workspace a handler names is refused when the task or handler is *defined*,
naming the configured ones (Kapacitor accepts it and fails on every event); a failed send is
retried by the dispatcher (Kapacitor tries once).  Slack allows about one message per second
per incoming webhook, and per channel through chat.postMessage: the handler declares that
limit (:attr:`SlackHandler.rate_limits`), so a storm is paced instead of answered with 429s,
and a 429's ``Retry-After`` holds every handler sharing the limit.  URL and token are secrets:
redacted in the config API, never in a log, error or reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from leyden.config import Key, Section, SectionSpec
from leyden.go.types import GoStruct, go_json_body
from leyden.model.alert import Event, Level
from leyden.notify._http import (
    DeliveryResult,
    HTTPClient,
    Outcome,
    Refusal,
    SSLSetting,
    TLSConfigError,
    build_ssl_context,
    http_url_problem,
    secret_digest,
    url_destination,
)
from leyden.notify._registry import Integration, Problem
from leyden.notify._service import (
    HTTPService,
    ServiceTestOptions,
    check_workspaces,
    service_test_answer,
)
from leyden.notify.base import (
    HandlerContext,
    IntegrationError,
    RateLimit,
    SingleSend,
    check_keys,
    option,
    service_of,
)

__all__ = ["INTEGRATION", "SECTION", "SlackConfig", "SlackHandler", "SlackService"]

KIND = "slack"
#: Kapacitor's DefaultUsername: the built-in workspace's username (file sections start empty)
DEFAULT_USERNAME = "kapacitor"
TEST_MESSAGE = "test slack message"
#: a kind: slack handler file's options (Kapacitor's HandlerConfig mapstructure tags)
OPTION_KEYS = ("workspace", "channel", "username", "icon-emoji")
#: Slack's documented limit: one message per second per webhook (per channel for the API)
MESSAGES_PER_SECOND = 1
_COLORS = {Level.WARNING: "warning", Level.CRITICAL: "danger"}


@dataclass
class SlackConfig(Section):
    """One ``[[slack]]`` workspace (Kapacitor's services/slack Config)."""

    enabled: bool = False
    default: bool = False
    workspace: str = ""
    url: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    channel: str = ""
    username: str = ""
    icon_emoji: str = ""
    global_: bool = False
    state_changes_only: bool = False
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    insecure_skip_verify: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("default", "default", "bool"),
        Key("workspace", "workspace", "str"),
        Key("url", "url", "str"),
        Key("token", "token", "str"),
        Key("channel", "channel", "str"),
        Key("username", "username", "str"),
        Key("icon-emoji", "icon_emoji", "str"),
        Key("global", "global_", "bool"),
        Key("state-changes-only", "state_changes_only", "bool"),
        Key("ssl-ca", "ssl_ca", "str"),
        Key("ssl-cert", "ssl_cert", "str"),
        Key("ssl-key", "ssl_key", "str"),
        Key("insecure-skip-verify", "insecure_skip_verify", "bool"),
    )
    _ELEMENT_KEY: ClassVar[str] = "workspace"
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"url", "token"})

    def validate(self) -> list[str]:
        problems: list[str] = []
        if self.enabled and not self.url:
            problems.append("url: must specify url")
        if problem := http_url_problem("url", self.url, hidden="it may hold a token"):
            problems.append(problem)
        return problems

    @classmethod
    def check_all(cls, sections: Sequence[Self], *, where: str) -> None:
        """Kapacitor's rules across workspaces; a single section is the default."""
        check_workspaces(SECTION, sections, where=where, title="Slack")


#: ``[[slack]]``; without one in the file, Kapacitor's built-in default workspace (disabled).
SECTION = SectionSpec(
    KIND,
    SlackConfig,
    multiple=True,
    defaults=({"default": True, "enabled": False, "username": DEFAULT_USERNAME},),
)


def payload(*, channel: str, message: str, username: str, icon_emoji: str, level: Level) -> bytes:
    """The body Kapacitor's ``preparePost`` encodes: a Go map (sorted keys) and a newline."""
    attachment = GoStruct(
        [
            ("fallback", message),
            ("color", _COLORS.get(level, "good")),
            ("text", message),
            ("mrkdwn_in", ["text"]),
        ]
    )
    body = {
        "channel": channel,
        "text": "",
        "attachments": [attachment],
        "username": username,
        "icon_emoji": icon_emoji,
    }
    return go_json_body(body)


@dataclass(frozen=True, slots=True)
class SlackOptions:
    """What one handler says (``""``: the workspace's value)."""

    workspace: str = ""
    channel: str = ""
    username: str = ""
    icon_emoji: str = ""


#: chat.postMessage errors worth another try (Slack's own list of transient ones)
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def refused_in_body(body: bytes) -> Refusal | None:
    """chat.postMessage answers 200 with ``{"ok": false, "error": "channel_not_found"}`` when
    it did not post (Kapacitor counts that as sent, and the alert is lost); an incoming
    webhook answers ``ok``.  A transient error is retried, any other is permanent."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("ok") is not False:
        return None
    error = str(answer.get("error") or "unknown error")
    outcome: Outcome = "retry" if error in TRANSIENT_ERRORS else "permanent"
    return Refusal(outcome, f"Slack did not post the message: {error}")


class SlackService(HTTPService[SlackConfig]):
    """The ``[[slack]]`` workspaces, their TLS settings, and the one request per message."""

    kind = KIND
    section = SECTION
    element = "workspace"
    element_key = "workspace"

    def __init__(self, configs: Sequence[SlackConfig], client: HTTPClient | None = None) -> None:
        self._ssl: dict[str, SSLSetting] = {}
        super().__init__(configs, client)

    def update(self, sections: list[Any]) -> None:
        """Replace the workspaces at once; a TLS file that cannot be used keeps the old ones."""
        ssl: dict[str, SSLSetting] = {}
        for config in sections:
            try:
                ssl[config.workspace] = build_ssl_context(
                    config.ssl_ca, config.ssl_cert, config.ssl_key, config.insecure_skip_verify
                )
            except TLSConfigError as exc:
                where = f' "{config.workspace}"' if config.workspace else ""
                raise IntegrationError(f"slack workspace{where}: {exc}") from None
        self._ssl = ssl
        super().update(sections)

    def _channel(self, config: SlackConfig, channel: str) -> str:
        return channel or config.channel

    def destination(self, opts: SlackOptions) -> str:
        """Secret-free: the webhook (redacted, with a digest), the token's digest, the channel.
        A workspace that does not resolve yet gets a name of its own."""
        try:
            config = self.resolve(opts.workspace)
        except IntegrationError:
            return f"slack workspace {opts.workspace or '(default)'}"
        parts = ["slack", url_destination(config.url)]
        if config.token:
            parts.append(f"token #{secret_digest(config.token)}")
        channel = self._channel(config, opts.channel)
        if channel:
            parts.append(channel)
        return " ".join(parts)

    def rate_limits(self, opts: SlackOptions) -> tuple[RateLimit, ...]:
        """One message per second: per incoming webhook (its channel is fixed), per token and
        channel through chat.postMessage.  Keys hold digests, never the URL or the token."""
        try:
            config = self.resolve(opts.workspace)
        except IntegrationError:
            return ()
        key = f"slack {url_destination(config.url)}"
        if config.token:
            key += f" token #{secret_digest(config.token)} {self._channel(config, opts.channel)}"
        return (RateLimit(key, MESSAGES_PER_SECOND, 1.0),)

    async def alert(self, opts: SlackOptions, message: str, level: Level) -> DeliveryResult:
        """ONE attempt to post ``message`` at ``level`` as ``opts`` say."""
        try:
            config = self.resolve(opts.workspace)
        except IntegrationError as exc:
            return DeliveryResult("permanent", None, str(exc))
        body = payload(
            channel=self._channel(config, opts.channel),
            message=message,
            username=opts.username or config.username,
            icon_emoji=opts.icon_emoji or config.icon_emoji,
            level=level,
        )
        headers = {"Content-Type": "application/json"}
        if config.token:
            headers["Authorization"] = "Bearer " + config.token
        return await self._client.request(
            "POST",
            config.url,
            body=body,
            headers=headers,
            ssl=self._ssl.get(config.workspace),
            secrets=[config.token],
            refused_in_body=refused_in_body,
        )

    # --- service test --------------------------------------------------------------------

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's testOptions: the default workspace and its channel, a CRITICAL message."""
        config = self.config()
        return {
            "workspace": config.workspace,
            "channel": config.channel,
            "message": TEST_MESSAGE,
            "level": "CRITICAL",
            "username": "",
            "icon-emoji": "",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        """Post one test message (one attempt): ``(True, "")`` or ``(False, reason)``."""
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            opts = SlackOptions(*(o.text(key) for key in OPTION_KEYS))
            message, level = o.text("message"), o.level(any_case=True)
        except IntegrationError as exc:
            return False, str(exc)
        return service_test_answer(await self.alert(opts, message, level))


class SlackHandler(SingleSend):
    """One ``.slack()`` / ``kind: slack`` handler: the service sends, this names the limits."""

    kind = KIND

    def __init__(self, service: SlackService, opts: SlackOptions) -> None:
        self.service = service
        self.options = opts
        self.destination = service.destination(opts)

    @property
    def rate_limits(self) -> tuple[RateLimit, ...]:  # type: ignore[override]
        """Slack's limit for the workspace as configured now (the config API may enable it
        or change its URL after the task started)."""
        return self.service.rate_limits(self.options)

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        return await self.service.alert(self.options, event.state.message, event.state.level)


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> SlackHandler:
    """From ``.slack().workspace().channel().username().iconEmoji()``."""
    tick_keys = ("workspace", "channel", "username", "iconEmoji")
    opts = SlackOptions(*(option(props, KIND, key, str, "") for key in tick_keys))
    return SlackHandler(service_of(ctx, KIND, SlackService, "Slack"), opts)


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> SlackHandler:
    """From a ``kind: slack`` handler file's ``options``."""
    check_keys(options, KIND, OPTION_KEYS)
    opts = SlackOptions(*(option(options, KIND, key, str, "") for key in OPTION_KEYS))
    return SlackHandler(service_of(ctx, KIND, SlackService, "Slack"), opts)


def check(settings: Mapping[str, Any], service: SlackService, tick: bool) -> Problem | None:
    """A workspace the server does not have is refused at definition, naming the configured."""
    return service.check_name(settings, "workspace")


def _log_start(service: SlackService, log: logging.Logger) -> None:
    for config in service.configs:
        if config.enabled:
            log.info(
                "slack workspace configured",
                extra={"fields": {"workspace": config.workspace or '""'}},
            )


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=SlackService.from_config,
    check=check,
    service_test=True,
    global_handler=SlackService.global_enabled,
    global_state_changes_only=SlackService.state_changes_only,
    log_start=_log_start,
)
