"""``[[discord]]``: Discord workspaces in kapacitor.conf (Kapacitor's services/discord Config).

One section per workspace; a single ``[discord]`` table counts as one section, and without any
Leyden has one built-in default section (disabled), so ``KAPACITOR_DISCORD_0_URL`` and friends
can configure Discord from the environment alone, as in Kapacitor.  The keys, their validation
and the cross-section rules (one default, ``global`` only on the default …) are Kapacitor's;
URL and username rules come from :mod:`leyden.notify.discord.webhook`, which the sender and the
payload checker use too.  Webhook URLs hold their token: ``url`` is redacted in ``to_options``
and never appears in a message.

Leyden adds the keys of its own Discord features (``edit-in-place``, ``thread-id``,
``forum-thread``, ``mention-roles``, ``mention-users``, ``mention-level``, ``silent-below``,
``tags-as-fields``, ``link``): each is the workspace's default for the handler option and the
``.discord()`` property of the same name, and their values follow the rules of
:mod:`leyden.notify.discord.options`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self

from leyden.config import Key, Section, SectionSpec, quote
from leyden.notify._service import check_workspaces
from leyden.notify.discord.options import level_problem, snowflake_problem, template_problem
from leyden.notify.discord.webhook import (
    FOREIGN_FORMATS,
    HOSTS,
    USERNAME_MAX,
    USERNAME_MIN,
    Kind,
    classify_url,
    forbidden_username,
)

__all__ = [
    "DEFAULT_MENTION_LEVEL",
    "SECTION",
    "DiscordConfig",
    "by_workspace",
    "validate_discord_configs",
]

#: the lowest level that pings when neither the handler nor the workspace says
DEFAULT_MENTION_LEVEL = "CRITICAL"


@dataclass
class DiscordConfig(Section):
    """One ``[[discord]]`` section (Kapacitor's services/discord Config)."""

    enabled: bool = False
    default: bool = False
    workspace: str = ""
    url: str = field(default="", repr=False)
    timestamp: bool = False
    username: str = ""
    avatar_url: str = ""
    embed_title: str = ""
    global_: bool = False
    state_changes_only: bool = False
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    insecure_skip_verify: bool = False
    # Leyden's own keys (issue 12); each is also a handler option and a .discord() property.
    edit_in_place: bool = False
    thread_id: str = ""
    forum_thread: bool = False
    mention_roles: list[str] = field(default_factory=list)
    mention_users: list[str] = field(default_factory=list)
    mention_level: str = DEFAULT_MENTION_LEVEL
    silent_below: str = ""
    tags_as_fields: bool = False
    link: str = ""

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("default", "default", "bool"),
        Key("workspace", "workspace", "str"),
        Key("url", "url", "str"),
        Key("timestamp", "timestamp", "bool"),
        Key("username", "username", "str"),
        Key("avatar-url", "avatar_url", "str"),
        Key("embed-title", "embed_title", "str"),
        Key("global", "global_", "bool"),
        Key("state-changes-only", "state_changes_only", "bool"),
        Key("ssl-ca", "ssl_ca", "str"),
        Key("ssl-cert", "ssl_cert", "str"),
        Key("ssl-key", "ssl_key", "str"),
        Key("insecure-skip-verify", "insecure_skip_verify", "bool"),
        Key("edit-in-place", "edit_in_place", "bool"),
        Key("thread-id", "thread_id", "str"),
        Key("forum-thread", "forum_thread", "bool"),
        Key("mention-roles", "mention_roles", "str_list"),
        Key("mention-users", "mention_users", "str_list"),
        Key("mention-level", "mention_level", "str"),
        Key("silent-below", "silent_below", "str"),
        Key("tags-as-fields", "tags_as_fields", "bool"),
        Key("link", "link", "str"),
    )
    _ELEMENT_KEY: ClassVar[str] = "workspace"
    #: Keys whose values are secrets; to_options shows them as "is it set" booleans.
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset({"url"})

    def validate(self) -> list[str]:
        """Rules for one section, each message starting with the key it is about."""
        problems: list[str] = []
        if self.enabled and not self.url:
            problems.append("url: must specify the Discord channel webhook URL when enabled")
        if self.url:
            problems.extend(_url_problems(self.url))
        if self.avatar_url and classify_url(self.avatar_url).kind is Kind.INVALID:
            problems.append("avatar-url: must be an http:// or https:// URL with a host")
        problems.extend(_username_problems(self.username))
        problems.extend(self._feature_problems())
        if self.ssl_cert and not self.ssl_key:
            problems.append("ssl-key: must be set when ssl-cert is set")
        if self.ssl_key and not self.ssl_cert:
            problems.append("ssl-cert: must be set when ssl-key is set")
        if self.enabled:
            for key in ("ssl-ca", "ssl-cert", "ssl-key"):
                path = getattr(self, key.replace("-", "_"))
                if path and not os.path.isfile(path):
                    problems.append(f"{key}: file {quote(path)} does not exist")
        return problems

    def _feature_problems(self) -> list[str]:
        """Leyden's own keys: IDs are snowflakes, levels are levels, the link parses, and a
        workspace posts either into one thread or opens forum posts, not both."""
        problems: list[str] = []
        if self.thread_id:
            problem = snowflake_problem(self.thread_id)
            if problem:
                problems.append(f"thread-id: {problem}")
        for key, ids in (
            ("mention-roles", self.mention_roles),
            ("mention-users", self.mention_users),
        ):
            for i, value in enumerate(ids):
                problem = snowflake_problem(value)
                if problem:
                    problems.append(f"{key}: element {i}: {problem}")
        for key, level in (
            ("mention-level", self.mention_level),
            ("silent-below", self.silent_below),
        ):
            if key == "silent-below" and not level:
                continue  # empty: no message is silent
            problem = level_problem(level)
            if problem:
                problems.append(f"{key}: {problem}")
        if self.link:
            problem = template_problem(self.link, "link")
            if problem:
                problems.append(f"link: {problem}")
        if self.thread_id and self.forum_thread:
            problems.append(
                "forum-thread: must not be true when thread-id is set (a message goes either "
                "into one existing thread or opens a forum post per alert)"
            )
        return problems

    def warnings(self) -> list[str]:
        """Things that are allowed but probably not what the user meant."""
        if not (self.enabled and self.url):
            return []
        found = classify_url(self.url)
        host = found.host
        if found.kind is Kind.EXECUTE and found.webhook is not None:
            if found.webhook.scheme == "http":
                return [
                    f"url: http:// on {host}; Leyden posts to https://{host} instead "
                    "(Discord serves webhooks only over https, and the token must not travel "
                    "in clear)"
                ]
            return []
        if found.kind is not Kind.OTHER:
            return []
        if host in HOSTS:
            return [
                f"url: on {host} but not of the form https://{host}/api/webhooks/<numeric id>/"
                "<token>; posting to it anyway"
            ]
        return [
            f"url: host {host} is not a Discord webhook URL "
            "(https://discord.com/api/webhooks/<id>/<token>); posting to it anyway, "
            "as to a self-hosted relay"
        ]

    @classmethod
    def check_all(cls, sections: Sequence[Self], *, where: str) -> None:
        validate_discord_configs(sections, where=where)


def _url_problems(url: str) -> list[str]:
    found = classify_url(url)
    if found.kind is Kind.INVALID:
        return [
            "url: must be an http:// or https:// URL with a host "
            "(the value is not shown: it holds the webhook token)"
        ]
    if found.kind is Kind.OTHER_ENDPOINT and found.webhook is not None:
        suffix = found.webhook.suffix
        expected = FOREIGN_FORMATS.get(suffix.rstrip("/").lower())
        if expected is not None:
            return [
                f"url: a Discord webhook URL ending in {suffix} takes {expected} message "
                "format, not the embeds Leyden sends; use the URL without it"
            ]
        return [
            f"url: on {found.host}, a Discord webhook URL must end with the token "
            f"(https://{found.host}/api/webhooks/<numeric id>/<token>), not another endpoint"
        ]
    return []


def _username_problems(username: str) -> list[str]:
    if not username:
        return []  # empty means "the name set on the webhook"
    name = username.strip()
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX:
        return [
            f"username: must be {USERNAME_MIN} to {USERNAME_MAX} characters after trimming "
            f"spaces, got {len(name)}"
        ]
    words, whole = forbidden_username(name)
    problems = [f'username: must not contain "{word}" (Discord rejects it)' for word in words]
    if whole:
        problems.append(f'username: must not be "{whole}" (Discord rejects it)')
    return problems


def validate_discord_configs(configs: Sequence[DiscordConfig], *, where: str) -> None:
    """Kapacitor's cross-section rules for ``[[discord]]`` (checked at startup); a single
    section is made the default first, as Kapacitor does."""
    check_workspaces(SECTION, configs, where=where, title="Discord")


def by_workspace(configs: Sequence[DiscordConfig], workspace: str) -> DiscordConfig | None:
    """Kapacitor's lookup: ``""`` is the default section, otherwise the named one."""
    for config in configs:
        if config.workspace == workspace or (
            not workspace and (config.default or len(configs) == 1)
        ):
            return config
    return None


#: ``[[discord]]`` for the loader; without one in the file, one disabled default section.
SECTION = SectionSpec(
    "discord", DiscordConfig, multiple=True, defaults=({"default": True, "enabled": False},)
)
