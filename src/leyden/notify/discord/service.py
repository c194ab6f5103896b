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

Leyden's own options (README "Discord features beyond Kapacitor") are merged handler over
workspace by :func:`merge_features`; the body always carries ``allowed_mentions`` (``parse``
empty: only the configured IDs can ping, at ``mention-level`` and above, or on the recovery of
an alert whose previous level did), a message below ``silent-below`` that pings nobody has
Discord's SUPPRESS_NOTIFICATIONS flag, each embed says since when (or how long) and names task
and alert in its footer, ``tags-as-fields`` and ``link`` add fields and the title's URL, and
``thread-id`` is the ``?thread_id=`` of the URL handed to the sender.

:meth:`DiscordService.send` is one attempt: the dispatcher (:mod:`leyden.delivery.dispatcher`)
owns retries, pacing and dead letters, as for every kind.

The embed title, from the handler or the workspace, is a Go template over the event's template
data, exactly as Kapacitor renders the handler's title.
"""

from __future__ import annotations

import logging
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
from leyden.notify._service import UNNAMED
from leyden.notify.base import IntegrationError
from leyden.notify.discord.config import DiscordConfig
from leyden.notify.discord.incidents import (
    IncidentMessages,
    IncidentStore,
    IncidentTarget,
    incident_scope,
)
from leyden.notify.discord.options import (
    SNOWFLAKE_RULE,
    level_problem,
    snowflake_problem,
    template_problem,
)
from leyden.notify.discord.payload import (
    CONTENT_LIMIT,
    SUPPRESS_NOTIFICATIONS,
    alert_embed,
    alert_footer,
    build_alert_payload,
    combine_embeds,
    fit_text,
    incident_field,
    mentions,
    tag_fields,
)
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.webhook import Kind, classify_url, normalize_webhook_url, with_query
from leyden.notify.discord.webhook import destination as webhook_destination

__all__ = [
    "DiscordError",
    "DiscordFeatures",
    "DiscordHandlerOptions",
    "DiscordOptionError",
    "DiscordService",
    "format_workspace_names",
    "merge_features",
]

TEST_MESSAGE = "test discord message"
TEST_USERNAME = "Kapacitor"
TEST_AVATAR_URL = (
    "https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png"
)
TEST_EMBED_TITLE = "Kapacitor Alert"
TEST_TIME = "1970-01-01T00:00:01Z"

_TEMPLATE_CACHE_SIZE = 512
#: the longest embed ``url`` sent (Discord documents none; its URLs elsewhere stop at 2048)
URL_LIMIT = 2048
#: room kept in ``content`` for the backlog digest when mentions share it
_DIGEST_ROOM = 500

log = logging.getLogger("leyden.discord")
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
    """Workspace names for a message: the unnamed default last, in words; ``none`` for none."""
    return ", ".join([n for n in names if n] + ([UNNAMED] if "" in names else [])) or "none"


class DiscordOptionError(DiscordError):
    """A bad handler option or ``.discord()`` property: ``key`` is its name as the user wrote
    it (``thread-id`` in a handler file, ``threadId`` in a TICKscript) and ``value`` the bad
    value as text, so a TICKscript error can point at it."""

    def __init__(self, message: str, *, key: str, value: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.value = value


#: Leyden's own options: (handler-file key, TICKscript property, kind)
_FEATURE_KEYS: tuple[tuple[str, str, str], ...] = (
    ("edit-in-place", "editInPlace", "bool"),
    ("thread-id", "threadId", "snowflake"),
    ("forum-thread", "forumThread", "bool"),
    ("mention-roles", "mentionRoles", "snowflakes"),
    ("mention-users", "mentionUsers", "snowflakes"),
    ("mention-level", "mentionLevel", "level"),
    ("silent-below", "silentBelow", "level"),
    ("tags-as-fields", "tagsAsFields", "bool"),
    ("link", "link", "template"),
)


def _feature_value(key: str, kind: str, value: Any, name: str, written: str) -> Any:
    """One of Leyden's own options, checked; ``name`` says in messages what it is and
    ``written`` is its key as the user wrote it (``thread-id`` or ``threadId``).  IDs may be
    YAML/JSON numbers: a snowflake written without quotes is common."""

    def bad(problem: str, shown: Any) -> DiscordOptionError:
        return DiscordOptionError(f"{name} {problem}, got {shown!r}", key=written, value=str(shown))

    if value is None:
        return None
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("must be true or false", value)
        return value
    if kind in ("snowflake", "snowflakes"):
        items = value if kind == "snowflakes" and isinstance(value, list | tuple) else [value]
        ids: list[str] = []
        for item in items:
            text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
            if not isinstance(text, str):
                raise bad(f"must be {SNOWFLAKE_RULE}", item)
            problem = snowflake_problem(text)
            if problem:
                raise bad(problem, text)
            ids.append(text)
        return tuple(ids) if kind == "snowflakes" else ids[0]
    if not isinstance(value, str):
        raise bad("must be a string", value)
    if kind == "level":
        problem = level_problem(value)
        if problem:
            raise bad(problem, value)
        return Level.parse(value)
    problem = template_problem(value, key)
    if problem:
        raise bad(problem, value)
    return value


def _features(options: Mapping[str, Any], *, tick: bool) -> dict[str, Any]:
    """The keyword arguments of :class:`DiscordHandlerOptions` for Leyden's own options."""
    found: dict[str, Any] = {}
    for key, prop, kind in _FEATURE_KEYS:
        name = f"discord .{prop}()" if tick else f'discord handler option "{key}"'
        written = prop if tick else key
        value = _feature_value(key, kind, options.get(written), name, written)
        if value is not None:
            found[key.replace("-", "_")] = value
    return found


@dataclass(slots=True)
class DiscordHandlerOptions:
    """What ``.discord()`` or a ``kind: discord`` handler sets; empty/None means "use the workspace"."""

    workspace: str = ""
    username: str = ""
    avatar_url: str = ""
    embed_title: str = ""
    timestamp: bool | None = None
    # Leyden's own options (issue 12); None/empty: the workspace's value.
    edit_in_place: bool | None = None
    thread_id: str = ""
    forum_thread: bool | None = None
    mention_roles: tuple[str, ...] | None = None
    mention_users: tuple[str, ...] | None = None
    mention_level: Level | None = None
    silent_below: Level | None = None
    tags_as_fields: bool | None = None
    link: str = ""

    KEYS = (
        "workspace",
        "username",
        "avatar-url",
        "embed-title",
        "timestamp",
        *(key for key, _, _ in _FEATURE_KEYS),
    )

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> DiscordHandlerOptions:
        """From handler-file ``options``; unknown keys and wrong types are errors naming the key
        (a bad value of Leyden's own options is a :class:`DiscordOptionError`)."""
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
            **_features(options, tick=False),
        )

    @classmethod
    def from_tick(cls, props: Mapping[str, Any]) -> DiscordHandlerOptions:
        """From ``.discord()``'s properties (the TICKscript's checked their types; the values
        are checked here, a bad one a :class:`DiscordOptionError` naming the property)."""
        timestamp = props.get("timestamp")
        return cls(
            workspace=props.get("workspace") or "",
            username=props.get("username") or "",
            avatar_url=props.get("avatarURL") or props.get("avatarUrl") or "",
            embed_title=props.get("embedTitle") or "",
            timestamp=None if timestamp is None else bool(timestamp),
            **_features(props, tick=True),
        )


@dataclass(frozen=True, slots=True)
class DiscordFeatures:
    """Leyden's own options for one handler, its values over its workspace's (see
    :func:`merge_features`)."""

    edit_in_place: bool = False
    thread_id: str = ""
    forum_thread: bool = False
    mention_roles: tuple[str, ...] = ()
    mention_users: tuple[str, ...] = ()
    mention_level: Level = Level.CRITICAL
    silent_below: Level | None = None
    tags_as_fields: bool = False
    link: str = ""


def merge_features(opts: DiscordHandlerOptions, config: DiscordConfig) -> DiscordFeatures:
    """The handler's values over the workspace's; raises :class:`DiscordOptionError` when the
    result both posts into one thread and opens forum posts, or when a workspace value is
    bad (a workspace built without :meth:`DiscordConfig.validate`)."""

    def pick(mine: Any, theirs: Any) -> Any:
        return theirs if mine is None or mine == "" else mine

    def workspace_level(key: str, text: str) -> Level | None:
        if not text:
            return None
        if level_problem(text):
            raise DiscordError(f"discord workspace {key}: {level_problem(text)}")
        return Level.parse(text)

    thread_id = opts.thread_id or config.thread_id
    forum_thread = bool(pick(opts.forum_thread, config.forum_thread))
    if thread_id and forum_thread:
        mine = "thread-id" if opts.thread_id else "forum-thread"
        raise DiscordOptionError(
            "thread-id and forum-thread exclude each other (a message goes either into one "
            "existing thread or opens a forum post per alert)"
            + ("" if opts.thread_id and opts.forum_thread else "; one of them is the workspace's"),
            key=mine,
            value=opts.thread_id,
        )
    mention_level = pick(opts.mention_level, workspace_level("mention-level", config.mention_level))
    return DiscordFeatures(
        edit_in_place=bool(pick(opts.edit_in_place, config.edit_in_place)),
        thread_id=thread_id,
        forum_thread=forum_thread,
        mention_roles=pick(opts.mention_roles, tuple(config.mention_roles)),
        mention_users=pick(opts.mention_users, tuple(config.mention_users)),
        mention_level=mention_level if mention_level is not None else Level.CRITICAL,
        silent_below=pick(opts.silent_below, workspace_level("silent-below", config.silent_below)),
        tags_as_fields=bool(pick(opts.tags_as_fields, config.tags_as_fields)),
        link=opts.link or config.link,
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


def _post_url(config: DiscordConfig, features: DiscordFeatures) -> str:
    """The workspace's webhook, into the ``thread-id`` thread when one is set."""
    return with_query(normalize_webhook_url(config.url), {"thread_id": features.thread_id})


def _pings(event: Event, level: Level) -> bool:
    """Whether ``event`` pings at ``mention-level`` ``level``: a problem at or above it, or the
    recovery of an alert whose previous event did (its previous level was at or above it)."""
    if event.state.level is Level.OK:
        return event.previous_level is not Level.OK and event.previous_level >= level
    return event.state.level >= level


def _event_fields(event: Event, tags_as_fields: bool) -> list[dict[str, Any]]:
    """Since when (or how long it lasted), then the group's tags when asked for."""
    fields: list[dict[str, Any]] = []
    since = incident_field(
        event.state.level, event.previous_level, int(event.state.time), int(event.state.duration)
    )
    if since is not None:
        fields.append(since)
    if tags_as_fields:
        fields.extend(tag_fields(event.data.tags))
    return fields


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
        incidents: IncidentStore | None = None,
    ) -> None:
        """``sender`` posts the bodies; the service owns it and closes it with :meth:`close`.
        ``incidents`` keeps the incident messages of ``edit-in-place``/``forum-thread``
        handlers (the server's store; in memory when None)."""
        self._state = _build_workspaces(list(configs))
        self._sender = sender
        self.incidents = IncidentMessages(sender, incidents)
        self._templates: dict[tuple[str, str], Template] = {}
        self._destinations: dict[str, str] = {}
        self._fingerprints: dict[str, str] = {}

    # --- configuration -------------------------------------------------------------------

    def use_incident_store(self, store: IncidentStore) -> None:
        """Keep incident messages in ``store`` (the server's SQLite store), so a restart edits
        the same message; called by the composition root before anything is sent."""
        self.incidents.store = store

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
                # Kapacitor's text first ("workspace id not found"), then which ones exist
                raise DiscordError(
                    f'workspace id not found: "{name}" is not configured; configured workspaces: '
                    + format_workspace_names(state.names)
                )
            config = found
        if not config.enabled:
            if config.workspace:
                raise DiscordError(f'discord workspace "{config.workspace}" is not enabled')
            raise DiscordError("the default discord workspace is not enabled")
        return config

    def configured(self, name: str = "") -> DiscordConfig | None:
        """The workspace called ``name`` (``""``: the default) enabled or not; None if there
        is none (define-time checks that need the workspace's values)."""
        state = self._state
        return state.default if name == "" else state.by_name.get(name)

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

    def _template(self, text: str, name: str = "embed-title") -> Template:
        template = self._templates.get((name, text))
        if template is None:
            try:
                template = Template.parse(text, name=name)
            except TemplateError as exc:
                raise DiscordError(f"invalid {name} template {text!r}: {exc}") from None
            if len(self._templates) >= _TEMPLATE_CACHE_SIZE:
                self._templates.clear()
            self._templates[(name, text)] = template
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
                # Leyden's own options change the request (URL, content, flags, embeds)
                str(opts.edit_in_place),
                opts.thread_id,
                str(opts.forum_thread),
                repr(opts.mention_roles),
                repr(opts.mention_users),
                repr(opts.mention_level),
                repr(opts.silent_below),
                str(opts.tags_as_fields),
                opts.link,
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
            config = self.resolve(opts.workspace)
            features = merge_features(opts, config)
            if features.edit_in_place or features.forum_thread:
                return await self._send_incidents(events, opts, config, features)
            payload = self._body(events, opts, config, features)
            url = _post_url(config, features)
        except DiscordError as exc:
            return DeliveryResult("permanent", None, str(exc))
        return await self._sender.post_once(url, payload, ssl=self.ssl_setting(config))

    def stateful(self, opts: DiscordHandlerOptions) -> bool:
        """Whether ``opts`` send one message or post per incident (``edit-in-place`` or
        ``forum-thread``): such a handler's events go one per request (see
        :meth:`_send_incidents`); False when its workspace does not resolve yet."""
        try:
            features = merge_features(opts, self.resolve(opts.workspace))
        except DiscordError:
            return bool(opts.edit_in_place or opts.forum_thread)
        return features.edit_in_place or features.forum_thread

    async def _send_incidents(
        self,
        events: Sequence[Event],
        opts: DiscordHandlerOptions,
        config: DiscordConfig,
        features: DiscordFeatures,
    ) -> DeliveryResult:
        """``edit-in-place`` / ``forum-thread``: each event as part of its alert's incident,
        in order (:class:`~leyden.notify.discord.incidents.IncidentMessages`).

        Such a handler is bound with ``max_batch`` 1, so this is one event: an incident's
        message carries exactly one embed, its alert's, because an edit replaces the whole
        message and a message shared by several alerts could not follow each one's incident.
        Several events (a workspace switched to edit-in-place while its handlers were bound
        for coalescing) are sent one after the other; the first failure is the answer, and a
        retry repeats only steps Discord did not confirm (an edit of the same state is
        harmless).
        """
        target = IncidentTarget(
            url=normalize_webhook_url(config.url),
            ssl=self.ssl_setting(config),
            # which message stream: the webhook, where in it (a thread, forum posts), and what
            # a message of it looks like to a reader (name, avatar, title); mentions, links,
            # flags may change mid-incident
            scope=incident_scope(
                self.destination(opts.workspace),
                "\x00".join(
                    (
                        opts.workspace,
                        opts.username,
                        opts.avatar_url,
                        opts.embed_title,
                        features.thread_id,
                        "forum" if features.forum_thread else "",
                    )
                ),
            ),
            edit=features.edit_in_place,
            forum=features.forum_thread,
            thread_id="" if features.forum_thread else features.thread_id,
        )
        result = DeliveryResult("delivered")
        for event in events:
            payload = self._body([event], opts, config, features)
            result = await self.incidents.send(event, payload, target)
            if not result.delivered:
                return result
        return result

    def prepare(self, event: Event, opts: DiscordHandlerOptions) -> tuple[str, dict[str, Any]]:
        """The URL to post to and the body to post; raises ``DiscordError`` for user mistakes."""
        config, payload = self._payload([event], opts)
        return _post_url(config, merge_features(opts, config)), payload

    def _payload(
        self, events: Sequence[Event], opts: DiscordHandlerOptions
    ) -> tuple[DiscordConfig, dict[str, Any]]:
        """The workspace and the body of one message carrying ``events``; raises
        ``DiscordError`` for a workspace that does not resolve or a title that cannot render."""
        config = self.resolve(opts.workspace)
        return config, self._body(events, opts, config, merge_features(opts, config))

    def _body(
        self,
        events: Sequence[Event],
        opts: DiscordHandlerOptions,
        config: DiscordConfig,
        features: DiscordFeatures,
    ) -> dict[str, Any]:
        """The body of one message carrying ``events`` to ``config`` with ``features``."""
        latest: dict[str, Event] = {}
        earlier: dict[str, list[Event]] = {}
        for event in events:
            previous = latest.get(event.state.id)
            if previous is not None:
                earlier.setdefault(event.state.id, []).append(previous)
            latest[event.state.id] = event
        title = opts.embed_title or config.embed_title
        show_time = opts.timestamp if opts.timestamp is not None else config.timestamp
        embeds = [
            alert_embed(
                message=event.state.message,
                level=event.state.level,
                title=self._render_title(title, event),
                timestamp=rfc3339_seconds(event.state.time) if show_time else "",
                url=self._render_link(features.link, event),
                fields=_event_fields(event, features.tags_as_fields),
                footer=alert_footer(event.data.task_name, event.state.id),
            )
            for event in latest.values()
        ]
        pings = any(_pings(event, features.mention_level) for event in events)
        digest = digest_line(earlier)
        mention_text, allowed = mentions(
            features.mention_roles if pings else (),
            features.mention_users if pings else (),
            CONTENT_LIMIT - (_DIGEST_ROOM if digest else 0),
        )
        if mention_text and digest:
            digest = fit_text(digest, CONTENT_LIMIT - len(mention_text) - 1)
        loudest = max(event.state.level for event in events)
        silent = (
            features.silent_below is not None
            and loudest < features.silent_below
            and not mention_text
        )
        payload = combine_embeds(
            embeds,
            username=opts.username or config.username,
            avatar_url=opts.avatar_url or config.avatar_url,
            content="\n".join(part for part in (mention_text, digest) if part),
            allowed_mentions=allowed,
            flags=SUPPRESS_NOTIFICATIONS if silent else 0,
        )
        return payload

    def _render_link(self, text: str, event: Event) -> str:
        """The embed's ``url`` from the ``link`` template, or ``""``: a link that cannot render
        or is not an http(s) URL is left out (logged without the URL, which may hold a
        secret), so the alert is still posted."""
        if not text:
            return ""
        try:
            url = self._template(text, "link").execute(event.template_data()).strip()
        except (DiscordError, TemplateExecError, TemplateError) as exc:
            log.warning(
                "discord link template does not render; posting without the link",
                extra={"fields": {"alert": event.state.id, "error": str(exc)}},
            )
            return ""
        if len(url) > URL_LIMIT or classify_url(url).kind is Kind.INVALID:
            log.warning(
                "discord link is not an http(s) URL; posting without the link",
                extra={"fields": {"alert": event.state.id, "length": len(url)}},
            )
            return ""
        return url

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
        }

    def _test_payload(self, options: Mapping[str, Any]) -> tuple[DiscordConfig, dict[str, Any]]:
        defaults = self.default_test_options()
        # ``timestamp`` (Leyden's: show the time or not; the workspace's setting when absent)
        # is accepted but not listed, so the listed options are Kapacitor's
        valid = [*defaults, "timestamp"]
        unknown = sorted(str(k) for k in options if k not in valid)
        if unknown:
            raise DiscordError(
                f"unknown discord test option(s): {', '.join(unknown)}; "
                f"valid options: {', '.join(valid)}"
            )
        merged = {**defaults, "timestamp": None, **options}
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
        payload["allowed_mentions"] = {"parse": []}  # a test message pings nobody
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
