"""``.telegram()`` and ``kind: telegram``: an alert's message sent by a Telegram bot.

As Kapacitor's ``services/telegram``: ``[telegram]`` holds the bot (``url`` + ``token``), the
default ``chat-id`` and ``parse-mode`` and the two switches; a handler may name its own chat,
parse mode and switch either on.  One event is one ``POST <url><token>/sendMessage`` with the
JSON body ``{"chat_id", "text", "parse_mode"?, "disable_web_page_preview"?,
"disable_notification"?}`` (the switches only when true, from the handler or the section);
the text is the event's message.  ``parse-mode`` is ``Markdown`` or ``HTML`` (any case);
Kapacitor refuses anything else when it sends, Leyden already when the section is loaded or the
handler defined.

The bot token is in the URL path: it never appears in a log, an error, a destination or an
API answer (``token`` is redacted).  Telegram's limits (about one message per second per chat,
20 per minute per group chat, 30 per second per bot) are the handler's ``rate_limits``, keyed
by a digest of the bot; a 429 is retried after the wait Telegram names, in ``Retry-After`` or
in the body's ``parameters.retry_after``.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from leyden.config import Key, Section, SectionSpec
from leyden.go.types import go_json_body
from leyden.model.alert import Event
from leyden.notify._http import (
    DeliveryResult,
    http_url_problem,
    secret_digest,
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

__all__ = ["INTEGRATION", "TelegramConfig", "TelegramHandler", "TelegramService"]

KIND = "telegram"
DEFAULT_URL = "https://api.telegram.org/bot"
TEST_MESSAGE = "test telegram message"
OPTION_KEYS = ("chat-id", "parse-mode", "disable-web-page-preview", "disable-notification")
PARSE_MODES = ("markdown", "html")


def parse_mode_problem(mode: str) -> str | None:
    """Kapacitor's rule (and its words): empty, ``Markdown`` or ``HTML``, in any case."""
    if mode and mode.lower() not in PARSE_MODES:
        return f"parseMode {mode} is not valid, please use 'Markdown' or 'HTML'"
    return None


@dataclass
class TelegramConfig(Section):
    """``[telegram]`` (Kapacitor's services/telegram Config and its NewConfig defaults)."""

    enabled: bool = False
    url: str = DEFAULT_URL
    token: str = field(default="", repr=False)
    chat_id: str = ""
    parse_mode: str = ""
    disable_web_page_preview: bool = False
    disable_notification: bool = False
    global_: bool = False
    state_changes_only: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("url", "url", "str"),
        Key("token", "token", "str"),
        Key("chat-id", "chat_id", "str"),
        Key("parse-mode", "parse_mode", "str"),
        Key("disable-web-page-preview", "disable_web_page_preview", "bool"),
        Key("disable-notification", "disable_notification", "bool"),
        Key("global", "global_", "bool"),
        Key("state-changes-only", "state_changes_only", "bool"),
    )
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"token"})

    def validate(self) -> list[str]:
        problems: list[str] = []
        if self.enabled and not self.url:
            problems.append("url: must specify url")
        if self.enabled and not self.token:
            problems.append("token: must specify token")
        if problem := http_url_problem("url", self.url):
            problems.append(problem)
        mode = parse_mode_problem(self.parse_mode)
        if mode:
            problems.append(f"parse-mode: {mode}")
        return problems


SECTION = SectionSpec("telegram", TelegramConfig, multiple=False, defaults=({},))


def bot_digest(config: TelegramConfig) -> str:
    """A short digest naming the bot (URL and token) in keys and destinations, never the token."""
    return secret_digest(config.url, config.token, length=12)


def send_message_url(base: str, token: str) -> str:
    """``<url><token>/sendMessage``: the token appended to the URL's path, as Kapacitor joins it."""
    split = urlsplit(base)
    path = posixpath.normpath(split.path + token + "/sendMessage")
    return urlunsplit((split.scheme, split.netloc, path, split.query, split.fragment))


def _retry_after_in_body(raw: bytes) -> float | None:
    """Telegram's 429 body: ``{"ok": false, "parameters": {"retry_after": 35}, …}``."""
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    parameters = answer.get("parameters") if isinstance(answer, dict) else None
    wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if isinstance(wait, bool) or not isinstance(wait, int | float) or wait < 0:
        return None
    return float(wait)


#: Telegram's longest message text, in UTF-16 code units (how Telegram counts text)
TEXT_LIMIT = 4096
_MARK = "…"


def fit_text(text: str) -> str:
    """``text`` cut to Telegram's 4096 units with a visible ``…`` (Kapacitor sends it whole and
    Telegram refuses the message: the alert is lost).  An empty text, which Telegram refuses
    too, becomes the marker alone."""
    if not text:
        return _MARK
    if len(text.encode("utf-16-le", "surrogatepass")) // 2 <= TEXT_LIMIT:
        return text
    kept: list[str] = []
    units = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if units + width > TEXT_LIMIT - 1:
            break
        kept.append(char)
        units += width
    return "".join(kept) + _MARK


@dataclass(frozen=True, slots=True)
class TelegramOptions:
    """A handler's settings (Kapacitor's HandlerConfig); empty / false: the section's."""

    chat_id: str = ""
    parse_mode: str = ""
    disable_web_page_preview: bool = False
    disable_notification: bool = False


class TelegramService(HTTPService[TelegramConfig]):
    """The ``[telegram]`` bot: builds each request and makes it, one attempt each."""

    kind: ClassVar[str] = KIND
    section = SECTION

    def chat(self, options: TelegramOptions) -> str:
        return options.chat_id or self.config().chat_id

    def request(self, options: TelegramOptions, text: str) -> tuple[str, bytes, TelegramConfig]:
        """The URL, JSON body and section of one message; IntegrationError when it cannot be sent."""
        config = self.resolve()
        chat_id = options.chat_id or config.chat_id
        if not chat_id:
            raise IntegrationError(
                "telegram: no chat-id: set chat-id in the handler (.chatId()) or in [telegram]"
            )
        parse_mode = options.parse_mode or config.parse_mode
        problem = parse_mode_problem(parse_mode)
        if problem:
            raise IntegrationError(f"telegram: {problem}")
        body: dict[str, Any] = {"chat_id": chat_id, "text": fit_text(text)}
        if parse_mode:
            body["parse_mode"] = parse_mode
        if options.disable_web_page_preview or config.disable_web_page_preview:
            body["disable_web_page_preview"] = True
        if options.disable_notification or config.disable_notification:
            body["disable_notification"] = True
        url = send_message_url(config.url, config.token)
        return url, go_json_body(body), config

    async def send(self, options: TelegramOptions, text: str) -> DeliveryResult:
        """One ``sendMessage``; a configuration that cannot send is a permanent failure."""
        try:
            url, body, config = self.request(options, text)
        except IntegrationError as exc:
            return DeliveryResult("permanent", None, str(exc))
        return await self._client.request(
            "POST",
            url,
            body=body,
            headers={"Content-Type": "application/json"},
            secrets=[config.token],
            retry_after_in_body=_retry_after_in_body,
        )

    def default_test_options(self) -> dict[str, Any]:
        """Kapacitor's TestOptions: the section's chat and switches, its test message."""
        config = self.config()
        return {
            "chat-id": config.chat_id,
            "parse-mode": config.parse_mode,
            "message": TEST_MESSAGE,
            "disable-web-page-preview": config.disable_web_page_preview,
            "disable-notification": config.disable_notification,
        }

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        try:
            o = ServiceTestOptions(KIND, self.default_test_options(), options)
            parsed = TelegramOptions(
                chat_id=o.text("chat-id"),
                parse_mode=o.text("parse-mode"),
                disable_web_page_preview=o.flag("disable-web-page-preview"),
                disable_notification=o.flag("disable-notification"),
            )
            message = o.text("message")
        except IntegrationError as exc:
            return False, str(exc)
        return service_test_answer(await self.send(parsed, message))


class TelegramHandler(SingleSend):
    kind = KIND

    def __init__(self, service: TelegramService, options: TelegramOptions) -> None:
        self.service = service
        self.options = options
        bot = bot_digest(service.config())
        chat = service.chat(options)
        self.destination = f"telegram:bot#{bot} chat {chat or '(none)'}"

    @property
    def rate_limits(self) -> tuple[RateLimit, ...]:  # type: ignore[override]
        """Telegram's limits for the bot and chat configured now (the config API may change
        them).  A 429 for one chat holds that chat, not the bot's other chats."""
        bot = bot_digest(self.service.config())
        chat = self.service.chat(self.options)
        limits = [
            RateLimit(f"telegram:{bot}", 30, 1.0, held=False),
            RateLimit(f"telegram:{bot}:{chat}", 1, 1.0),
        ]
        if chat.startswith("-"):  # a group or supergroup
            limits.append(RateLimit(f"telegram:{bot}:{chat}:group", 20, 60.0))
        return tuple(limits)

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        return await self.service.send(self.options, event.state.message)


def _tick_options(props: Mapping[str, Any]) -> TelegramOptions:
    return TelegramOptions(
        chat_id=props.get("chatId") or "",
        parse_mode=props.get("parseMode") or "",
        disable_web_page_preview=bool(props.get("disableWebPagePreview", False)),
        disable_notification=bool(props.get("disableNotification", False)),
    )


def _file_options(options: Mapping[str, Any]) -> TelegramOptions:
    check_keys(options, KIND, OPTION_KEYS)
    return TelegramOptions(
        chat_id=option(options, KIND, "chat-id", str, ""),
        parse_mode=option(options, KIND, "parse-mode", str, ""),
        disable_web_page_preview=option(options, KIND, "disable-web-page-preview", bool, False),
        disable_notification=option(options, KIND, "disable-notification", bool, False),
    )


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> TelegramHandler:
    """From ``.telegram().chatId().parseMode().disableWebPagePreview().disableNotification()``."""
    return TelegramHandler(service_of(ctx, KIND, TelegramService, "Telegram"), _tick_options(props))


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> TelegramHandler:
    """From a ``kind: telegram`` handler file's ``options``."""
    return TelegramHandler(
        service_of(ctx, KIND, TelegramService, "Telegram"), _file_options(options)
    )


def check(settings: Mapping[str, Any], service: TelegramService, tick: bool) -> Problem | None:
    """At definition: a parse mode Telegram does not have; a topic handler without any chat."""
    try:
        options = _tick_options(settings) if tick else _file_options(settings)
    except HandlerConfigError as exc:
        return Problem(str(exc))
    problem = parse_mode_problem(options.parse_mode)
    if problem:
        where = {"prop": "parseMode", "value": options.parse_mode} if tick else {}
        return Problem(problem, **where)
    if not tick and not service.chat(options):
        return Problem(
            "telegram handler: no chat-id: set the chat-id option or chat-id in [telegram]"
        )
    return None


INTEGRATION = Integration(
    KIND,
    from_options=from_options,
    from_tick=from_tick,
    section=SECTION,
    build_service=TelegramService.from_config,
    check=check,
    service_test=True,
    global_handler=TelegramService.global_enabled,
    global_state_changes_only=TelegramService.state_changes_only,
)
