"""``.pushover()`` and ``kind: pushover``: an alert's message as a Pushover notification.

As Kapacitor's ``services/pushover``: ``[pushover]`` holds the application ``token``, the
``user-key`` (a user or delivery group) and the API ``url``; a handler may name another user
key, a device, a title, a supplementary URL and its title, and a sound.  One event is one
form-encoded ``POST`` to the API URL with ``token``, ``user``, ``message`` (the event's
message) and ``priority`` from the level (OK -2: no notification, INFO -1: quiet, WARNING 0,
CRITICAL 1: bypasses quiet hours), plus ``device``, ``title``, ``url``, ``url_title`` and
``sound`` when set; keys in Go's ``url.Values`` order (sorted).  Kapacitor sends no
``timestamp`` (Pushover then stamps the time it receives the message), nor does Leyden.

The token and the user keys (the section's and a handler's) are secrets: redacted in the
config API, scrubbed from every reason, never in a destination (a digest of the key is).
Pushover has no ``global`` / ``state-changes-only`` (nor does Kapacitor's section).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote_plus

from leyden.config import Key, Section, SectionSpec
from leyden.model.alert import Event, Level
from leyden.notify._http import (
    DeliveryResult,
    http_url_problem,
    redact_url,
    secret_digest,
)
from leyden.notify._registry import Integration
from leyden.notify._service import HTTPService, ServiceTestOptions, service_test_answer
from leyden.notify.base import (
    HandlerContext,
    IntegrationError,
    SingleSend,
    check_keys,
    option,
    service_of,
)

__all__ = ["INTEGRATION", "PushoverConfig", "PushoverHandler", "PushoverService", "priority"]

KIND = "pushover"
DEFAULT_URL = "https://api.pushover.net/1/messages.json"
TEST_MESSAGE = "test pushover message"
OPTION_KEYS = ("device", "title", "url", "url-title", "sound", "user-key")

_PRIORITY = {Level.OK: -2, Level.INFO: -1, Level.WARNING: 0, Level.CRITICAL: 1}


def priority(level: Level) -> int:
    """Pushover's priority for an alert level (Kapacitor's mapping)."""
    return _PRIORITY.get(level, 0)


@dataclass
class PushoverConfig(Section):
    """``[pushover]`` (Kapacitor's services/pushover Config and its NewConfig defaults)."""

    enabled: bool = False
    token: str = field(default="", repr=False)
    user_key: str = field(default="", repr=False)
    url: str = DEFAULT_URL

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("token", "token", "str"),
        Key("user-key", "user_key", "str"),
        Key("url", "url", "str"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"token", "user-key"})

    def validate(self) -> list[str]:
        """Kapacitor's rules (checked when enabled), with the URL's form checked whenever set."""
        problems: list[str] = []
        if self.enabled and not self.token:
            problems.append("token: must specify token")
        if self.enabled and not self.user_key:
            problems.append("user-key: must specify user key")
        if self.enabled and not self.url:
            problems.append("url: must specify url")
        if problem := http_url_problem("url", self.url):
            problems.append(problem)
        return problems


SECTION = SectionSpec("pushover", PushoverConfig, multiple=False, defaults=({},))


@dataclass(frozen=True, slots=True)
class PushoverOptions:
    """A handler's settings (Kapacitor's HandlerConfig); an empty user key: the section's."""

    user_key: str = field(default="", repr=False)
    device: str = ""
    title: str = ""
    url: str = ""
    url_title: str = ""
    sound: str = ""


def form_body(token: str, user: str, message: str, level: Level, opts: PushoverOptions) -> bytes:
    """The request body as Go's ``url.Values.Encode`` writes it: keys sorted, ``+`` for spaces."""
    values = {"token": token, "user": user, "message": message, "priority": str(priority(level))}
    for key, value in (
        ("device", opts.device),
        ("title", opts.title),
        ("url", opts.url),
        ("url_title", opts.url_title),
        ("sound", opts.sound),
    ):
        if value:
            values[key] = value
    pairs = sorted(values.items())
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs).encode()


class PushoverService(HTTPService[PushoverConfig]):
    """The ``[pushover]`` application: one form POST per notification."""

    kind: ClassVar[str] = KIND
    section = SECTION

    async def send(self, opts: PushoverOptions, message: str, level: Level) -> DeliveryResult:
        """One attempt; a section that cannot send (disabled, missing) is a permanent failure."""
        try:
            config = self.resolve()
        except IntegrationError as exc:
            return DeliveryResult("permanent", None, str(exc))
        user = opts.user_key or config.user_key
        body = form_body(config.token, user, message, level, opts)
        return await self._client.request(
            "POST",
            config.url,
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            secrets=[config.token, user, quote_plus(config.token), quote_plus(user)],
        )

    def destination(self, opts: PushoverOptions) -> str:
        """The API host and a digest of the user key the notification goes to."""
        config = self.config()
        user = opts.user_key or config.user_key
        digest = secret_digest(config.url, user, length=12)
        return f"pushover:{redact_url(config.url)} user#{digest}"

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions (``user-key`` is the section's; the API shows it empty)."""
        return {
            "user-key": "",
            "message": TEST_MESSAGE,
            "device": "",
            "title": "",
            "url": "",
            "url-title": "",
            "sound": "",
            "level": "CRITICAL",
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            opts = PushoverOptions(
                user_key=o.text("user-key"),
                device=o.text("device"),
                title=o.text("title"),
                url=o.text("url"),
                url_title=o.text("url-title"),
                sound=o.text("sound"),
            )
            message, level = o.text("message"), o.level(any_case=True)
        except IntegrationError as exc:
            return False, str(exc)
        return service_test_answer(await self.send(opts, message, level))


class PushoverHandler(SingleSend):
    kind = KIND

    def __init__(self, service: PushoverService, options: PushoverOptions) -> None:
        self.service = service
        self.options = options
        self.destination = service.destination(options)

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        return await self.service.send(self.options, event.state.message, event.state.level)


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> PushoverHandler:
    """From ``.pushover().userKey().device().title().URL().URLTitle().sound()``."""
    return PushoverHandler(
        service_of(ctx, KIND, PushoverService, "Pushover"),
        PushoverOptions(
            user_key=props.get("userKey") or "",
            device=props.get("device") or "",
            title=props.get("title") or "",
            url=props.get("uRL") or "",
            url_title=props.get("uRLTitle") or "",
            sound=props.get("sound") or "",
        ),
    )


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> PushoverHandler:
    """From a ``kind: pushover`` handler file's ``options``."""
    check_keys(options, KIND, OPTION_KEYS)
    return PushoverHandler(
        service_of(ctx, KIND, PushoverService, "Pushover"),
        PushoverOptions(
            user_key=option(options, KIND, "user-key", str, ""),
            device=option(options, KIND, "device", str, ""),
            title=option(options, KIND, "title", str, ""),
            url=option(options, KIND, "url", str, ""),
            url_title=option(options, KIND, "url-title", str, ""),
            sound=option(options, KIND, "sound", str, ""),
        ),
    )


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=PushoverService.from_config,
    service_test=True,
    secret_options=("user-key",),
)
