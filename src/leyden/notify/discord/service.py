"""The Discord service: workspaces from ``[[discord]]``, handler options, alerts to webhooks.

Behaviour follows Kapacitor's *documentation* where its code disagrees (see
``reference/compatibility.md``):

* every handler option falls back to the workspace: ``username``, ``avatar-url``,
  ``embed-title`` (Kapacitor never reads the configured title) and ``timestamp`` (Kapacitor has
  no such handler option);
* ``state-changes-only`` is its own flag and applies only when the default workspace is also
  ``global`` (Kapacitor returns ``global`` instead);
* ``global`` only counts for an *enabled* default workspace: a disabled one would add a handler
  to every alert that can only fail;
* empty fields are left out of the body, texts are fitted to Discord's limits and OK is green
  (see :mod:`leyden.notify.discord.payload`).

:meth:`DiscordService.send` is one attempt: the dispatcher (:mod:`leyden.delivery.dispatcher`)
owns retries, pacing and dead letters, as for every kind.

The embed title, from the handler or the workspace, is a Go template over the event's template
data, exactly as Kapacitor renders the handler's title.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leyden.go.template import Template, TemplateError, TemplateExecError
from leyden.go.types import Time
from leyden.model.alert import Event, Level
from leyden.notify._http import (
    DeliveryResult,
    SSLSetting,
    TLSConfigError,
    build_ssl_context,
    url_fingerprint,
)
from leyden.notify.base import IntegrationError
from leyden.notify.discord.config import DiscordConfig
from leyden.notify.discord.payload import alert_embed, build_alert_payload, combine_embeds
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.webhook import destination as webhook_destination
from leyden.notify.discord.webhook import normalize_webhook_url

__all__ = ["DiscordError", "DiscordHandlerOptions", "DiscordService", "format_workspace_names"]

TEST_MESSAGE = "test discord message"
TEST_USERNAME = "Kapacitor"
TEST_AVATAR_URL = (
    "https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png"
)
TEST_EMBED_TITLE = "Kapacitor Alert"
TEST_TIME = "1970-01-01T00:00:01Z"

_TEMPLATE_CACHE_SIZE = 512
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DiscordError(IntegrationError):
    """A Discord handler or workspace problem a user can fix; the text never holds a URL."""


def _string_option(where: str, key: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DiscordError(f'{where} "{key}" must be a string, got {value!r}')
    return value


def _bool_option(where: str, key: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise DiscordError(f'{where} "{key}" must be true or false, got {value!r}')


def format_workspace_names(names: list[str]) -> str:
    """Workspace names for a message: the unnamed default as ``""``, ``none`` for no names."""
    return ", ".join(f'"{n}"' if n == "" else n for n in names) or "none"


@dataclass(slots=True)
class DiscordHandlerOptions:
    """What ``.discord()`` or a ``kind: discord`` handler sets; empty/None means "use the workspace"."""

    workspace: str = ""
    username: str = ""
    avatar_url: str = ""
    embed_title: str = ""
    timestamp: bool | None = None

    KEYS = ("workspace", "username", "avatar-url", "embed-title", "timestamp")

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> DiscordHandlerOptions:
        """From handler-file ``options``; unknown keys and wrong types are errors naming the key."""
        options = options or {}
        unknown = sorted(str(k) for k in options if k not in cls.KEYS)
        if unknown:
            raise DiscordError(
                f"invalid discord handler option(s): {', '.join(unknown)}; "
                f"valid options: {', '.join(cls.KEYS)}"
            )
        where = "discord handler option"
        return cls(
            workspace=_string_option(where, "workspace", options.get("workspace")),
            username=_string_option(where, "username", options.get("username")),
            avatar_url=_string_option(where, "avatar-url", options.get("avatar-url")),
            embed_title=_string_option(where, "embed-title", options.get("embed-title")),
            timestamp=_bool_option(where, "timestamp", options.get("timestamp")),
        )


def digest_line(earlier: Mapping[str, Sequence[Event]]) -> str:
    """The earlier states of each alert, folded under a backlog, as one line:
    ``Earlier states (backlog): cpu:a CRITICAL 10:00:01Z → OK 10:00:05Z; …``."""
    if not earlier:
        return ""
    parts = [
        f"{alert} "
        + " → ".join(f"{e.state.level.name} {rfc3339_seconds(e.state.time)[11:]}" for e in states)
        for alert, states in earlier.items()
    ]
    return "Earlier states (backlog): " + "; ".join(parts)


def rfc3339_seconds(time_ns: int) -> str:
    """Go's ``time.RFC3339`` for a UTC time: whole seconds, ``Z`` suffix."""
    return Time(time_ns).rfc3339()


def _parse_rfc3339(text: str) -> int:
    """Nanoseconds since the epoch for an RFC3339 time such as ``1970-01-01T00:00:01Z``."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise DiscordError(
            f'invalid "time-val" {text!r}: want an RFC3339 time such as "{TEST_TIME}"'
        )
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


@dataclass(frozen=True, slots=True)
class _Workspaces:
    """One consistent view of the configuration, swapped whole by ``update``."""

    configs: tuple[DiscordConfig, ...]
    by_name: dict[str, DiscordConfig]
    default: DiscordConfig | None
    ssl: dict[str, SSLSetting]

    @property
    def names(self) -> list[str]:
        return [c.workspace for c in self.configs]


def _build_workspaces(configs: list[DiscordConfig]) -> _Workspaces:
    by_name: dict[str, DiscordConfig] = {}
    ssl: dict[str, SSLSetting] = {}
    for config in configs:
        if config.workspace in by_name:
            raise DiscordError(
                f'discord workspace "{config.workspace}" is configured more than once'
            )
        by_name[config.workspace] = config
        if config.enabled:
            try:
                ssl[config.workspace] = build_ssl_context(
                    config.ssl_ca, config.ssl_cert, config.ssl_key, config.insecure_skip_verify
                )
            except TLSConfigError as exc:
                raise DiscordError(f'discord workspace "{config.workspace}": {exc}') from None
    # A single section is the default whatever it says (Kapacitor does the same).
    defaults = [c for c in configs if c.default] if len(configs) > 1 else list(configs)
    return _Workspaces(tuple(configs), by_name, defaults[0] if defaults else None, ssl)


class DiscordService:
    """Resolves workspaces, turns alert events into webhook bodies and hands them to the sender."""

    def __init__(
        self,
        configs: list[DiscordConfig],
        *,
        sender: DiscordSender,
    ) -> None:
        """``sender`` posts the bodies; the service owns it and closes it with :meth:`close`."""
        self._state = _build_workspaces(list(configs))
        self._sender = sender
        self._templates: dict[str, Template] = {}
        self._destinations: dict[str, str] = {}
        self._fingerprints: dict[str, str] = {}

    # --- configuration -------------------------------------------------------------------

    def update(self, configs: list[DiscordConfig]) -> None:
        """Replace every workspace at once; on error the old configuration stays in force."""
        self._state = _build_workspaces(list(configs))
        self._destinations = {}
        self._fingerprints = {}

    def destination(self, workspace: str) -> str:
        """The webhook ``workspace`` posts to, without its token (the outbox's destination).

        A workspace that does not resolve (not configured yet, disabled) gets a name of its
        own, so its rows wait in order and fail with the reason when tried.
        """
        found = self._destinations.get(workspace)
        if found is None:
            try:
                found = webhook_destination(self.resolve(workspace).url)
            except DiscordError:
                found = f"discord workspace {workspace or '(default)'}"
            self._destinations[workspace] = found
        return found

    def fingerprint(self, workspace: str) -> str:
        """A digest of the webhook URL ``workspace`` posts to, token included (``""`` when it
        does not resolve): the delivery breaker compares it to notice a changed URL."""
        found = self._fingerprints.get(workspace)
        if found is None:
            try:
                found = url_fingerprint(normalize_webhook_url(self.resolve(workspace).url))
            except DiscordError:
                found = ""
            self._fingerprints[workspace] = found
        return found

    def workspace_names(self) -> list[str]:
        return self._state.names

    def resolve(self, name: str = "") -> DiscordConfig:
        """The enabled workspace called ``name``; ``""`` is the default workspace."""
        state = self._state
        if not state.configs:
            raise DiscordError("no discord configuration found")
        if name == "":
            config = state.default
            if config is None:
                raise DiscordError(
                    "no default discord workspace; configured workspaces: "
                    + format_workspace_names(state.names)
                )
        else:
            found = state.by_name.get(name)
            if found is None:
                raise DiscordError(
                    f'workspace "{name}" is not configured; configured workspaces: '
                    + format_workspace_names(state.names)
                )
            config = found
        if not config.enabled:
            if config.workspace:
                raise DiscordError(f'discord workspace "{config.workspace}" is not enabled')
            raise DiscordError("the default discord workspace is not enabled")
        return config

    def ssl_setting(self, config: DiscordConfig) -> SSLSetting:
        """The TLS setting to post to ``config``'s webhook with (None: system defaults)."""
        return self._state.ssl.get(config.workspace)

    def global_enabled(self) -> bool:
        """Whether every alert node without ``.discord()`` gets one (default workspace only)."""
        default = self._state.default
        return default is not None and default.enabled and default.global_

    def state_changes_only(self) -> bool:
        """Whether every alert node is forced into stateChangesOnly.

        As documented: only when the default workspace is global *and* sets
        ``state-changes-only`` (Kapacitor's code answers with the ``global`` flag).
        """
        default = self._state.default
        return self.global_enabled() and default is not None and default.state_changes_only

    # --- alerts --------------------------------------------------------------------------

    def _template(self, text: str) -> Template:
        template = self._templates.get(text)
        if template is None:
            try:
                template = Template.parse(text, name="embed-title")
            except TemplateError as exc:
                raise DiscordError(f"invalid embed-title template {text!r}: {exc}") from None
            if len(self._templates) >= _TEMPLATE_CACHE_SIZE:
                self._templates.clear()
            self._templates[text] = template
        return template

    def _render_title(self, text: str, event: Event) -> str:
        if not text:
            return ""
        template = self._template(text)
        try:
            return template.execute(event.template_data())
        except (TemplateExecError, TemplateError) as exc:
            raise DiscordError(f"cannot render embed-title template {text!r}: {exc}") from None

    def identity(self, opts: DiscordHandlerOptions) -> str:
        """What makes two handlers' messages interchangeable: the same webhook, username,
        avatar, title template and timestamp flag (rows with one identity may share a message)."""
        return "\x00".join(
            (
                opts.workspace,
                opts.username,
                opts.avatar_url,
                opts.embed_title,
                str(opts.timestamp),
            )
        )

    async def send(self, events: Sequence[Event], opts: DiscordHandlerOptions) -> DeliveryResult:
        """ONE attempt: ``events`` as the embeds of one message, in order.

        Each alert ID is one embed showing its last state here; earlier states of the same
        alert (a backlog's digest, see :mod:`leyden.delivery.dispatcher`) become one line of
        the message's content, so the latest state of every alert is always its own embed.
        The dispatcher owns retries and pacing; a configuration problem (a workspace gone, a
        title template that cannot render) is a permanent failure whose reason names it.
        """
        try:
            config, payload = self._payload(events, opts)
        except DiscordError as exc:
            return DeliveryResult("permanent", None, str(exc))
        return await self._sender.post_once(
            normalize_webhook_url(config.url), payload, ssl=self.ssl_setting(config)
        )

    def prepare(self, event: Event, opts: DiscordHandlerOptions) -> tuple[str, dict[str, Any]]:
        """The URL to post to and the body to post; raises ``DiscordError`` for user mistakes."""
        config, payload = self._payload([event], opts)
        return normalize_webhook_url(config.url), payload

    def _payload(
        self, events: Sequence[Event], opts: DiscordHandlerOptions
    ) -> tuple[DiscordConfig, dict[str, Any]]:
        """The workspace and the body of one message carrying ``events``; raises
        ``DiscordError`` for a workspace that does not resolve or a title that cannot render."""
        latest: dict[str, Event] = {}
        earlier: dict[str, list[Event]] = {}
        for event in events:
            previous = latest.get(event.state.id)
            if previous is not None:
                earlier.setdefault(event.state.id, []).append(previous)
            latest[event.state.id] = event
        config = self.resolve(opts.workspace)
        title = opts.embed_title or config.embed_title
        show_time = opts.timestamp if opts.timestamp is not None else config.timestamp
        embeds = [
            alert_embed(
                message=event.state.message,
                level=event.state.level,
                title=self._render_title(title, event),
                timestamp=rfc3339_seconds(event.state.time) if show_time else "",
            )
            for event in latest.values()
        ]
        payload = combine_embeds(
            embeds,
            username=opts.username or config.username,
            avatar_url=opts.avatar_url or config.avatar_url,
            content=digest_line(earlier),
        )
        return config, payload

    # --- service test --------------------------------------------------------------------

    def default_test_options(self) -> dict[str, Any]:
        """Options of ``POST /kapacitor/v1/service-tests/discord`` and their defaults."""
        default = self._state.default
        return {
            "workspace": default.workspace if default is not None else "",
            "message": TEST_MESSAGE,
            "level": "INFO",
            "username": TEST_USERNAME,
            "avatar-url": TEST_AVATAR_URL,
            "embed-title": TEST_EMBED_TITLE,
            "time-val": TEST_TIME,
            "timestamp": None,
        }

    def _test_payload(self, options: Mapping[str, Any]) -> tuple[DiscordConfig, dict[str, Any]]:
        defaults = self.default_test_options()
        unknown = sorted(str(k) for k in options if k not in defaults)
        if unknown:
            raise DiscordError(
                f"unknown discord test option(s): {', '.join(unknown)}; "
                f"valid options: {', '.join(defaults)}"
            )
        merged = {**defaults, **options}
        where = "discord test option"
        text = {
            key: _string_option(where, key, merged[key])
            for key in (
                "workspace",
                "message",
                "level",
                "username",
                "avatar-url",
                "embed-title",
                "time-val",
            )
        }
        timestamp = _bool_option(where, "timestamp", merged["timestamp"])
        try:
            level = Level.parse(text["level"])
        except ValueError:
            raise DiscordError(
                f"invalid level {text['level']!r}: must be one of "
                + ", ".join(level.name for level in Level)
            ) from None
        time_ns = _parse_rfc3339(text["time-val"])
        config = self.resolve(text["workspace"])
        show_time = timestamp if timestamp is not None else config.timestamp
        # As in Kapacitor, the test's title is sent as written, not rendered as a template.
        payload = build_alert_payload(
            message=text["message"],
            level=level,
            title=text["embed-title"] or config.embed_title,
            username=text["username"] or config.username,
            avatar_url=text["avatar-url"] or config.avatar_url,
            timestamp=rfc3339_seconds(time_ns) if show_time else "",
        )
        return config, payload

    async def test(self, options: Mapping[str, Any]) -> tuple[bool, str]:
        """Send one test message (one attempt); ``(True, "")`` or ``(False, reason)``."""
        try:
            config, payload = self._test_payload(options)
        except DiscordError as exc:
            return False, str(exc)
        result = await self._sender.post_once(
            normalize_webhook_url(config.url), payload, ssl=self.ssl_setting(config)
        )
        return (True, "") if result.delivered else (False, result.describe())

    async def close(self) -> None:
        """Close the sender (its sessions)."""
        await self._sender.close()
