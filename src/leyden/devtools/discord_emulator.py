"""A local stand-in for Discord's execute-webhook API.

Tests talk to it over real HTTP instead of mocking a client, and newcomers point Leyden at it
when they have no real webhook. It answers the way Discord answers (see
``reference/discord-and-peers.md`` §1), so code that works against it has a fair chance of
working against Discord, including on the unhappy paths: validation errors, rate limits,
deleted webhooks and server faults.

**An independent oracle, on purpose.** The emulator keeps its own copy of Discord's rules
(field limits, forbidden usernames, error codes and wording) instead of importing the ones
Leyden's Discord integration enforces (:mod:`leyden.notify.discord`): a test that sends
through the integration and is judged by the emulator then checks two independent readings of
Discord's documentation against each other, and a mistake in one cannot hide in both.

Behaviour worth knowing, where Discord's own is undocumented or we had to choose:

* **API versions.** ``/api/webhooks/...`` is the unversioned URL Discord hands out and behaves
  as v6. ``/api/v6`` .. ``/api/v10`` are accepted; v5 and below answer 400
  ``{"code": 50041, "message": "Invalid API version provided"}``; v11 and above 404.
* **Validation error shapes.** v8, v9 and v10 answer ``{"code": 50035, "message": "Invalid Form
  Body", "errors": {...}}`` with the nested tree (array indices as string keys, leaves
  ``{"_errors": [{"code", "message"}]}``, whole-request errors at ``errors._errors``). v6 and v7
  answer Discord's legacy flat form: one key per top-level field whose value is a list of
  strings. Errors on the field itself contribute their messages; errors inside an array element
  contribute the element's index once, so a too-long description in the first embed gives
  ``{"embeds": ["0"]}`` and an empty username gives ``{"username": ["Must be between 1 and 80 in
  length.", "Username cannot be \\"\\""]}``. Whole-request errors (wrong Content-Type, body not
  an object) go under ``"_misc"``.
* **Other errors** are the same on every version: invalid JSON → 400 ``50109``; nothing to
  send → 400 ``50006``; deleted webhook → 404 ``10015``; body over 25 MiB → 413 ``40005``.
* **Checks in order:** API version; injected fault; host-wide limit; per-webhook limit;
  per-channel limit (execute only); deleted webhook; token (after :meth:`set_token`); ids in
  the path and query; ``wait``; Content-Type; JSON; form validation; empty message; forum
  and thread rules.
* **Three rate limits, as Discord has them** (reference §1.6). All are fixed windows: a window
  opens at the first request after the previous one closed, at most ``limit`` requests pass in
  it, the rest get 429 until it closes. This is how Discord's buckets behave (a reset time, not
  a sliding log). The emulator's own 429s never spend a slot (the budget is already empty).

  - **Per webhook** (``rate_limit`` per ``rate_window``, default 5 per 2 s; announced): every
    request that passes the host limit counts, failed ones and injected faults too, as on
    Discord. Its 429 has ``X-RateLimit-Scope: user`` and Discord's body
    ``{"message": "You are being rate limited.", "retry_after": s, "global": false}``.
  - **Per channel** (``channel_limit`` messages per ``channel_window``, default 30 per 60 s;
    unannounced, discord-api-docs #367 and #1454): only executes count, and only those that
    post a message (a rejected request gives its slot back), since the limit is on writes to
    the channel. Each webhook id is its own channel unless ``channels`` (or ``--channel``) maps
    several webhooks onto one, as webhooks of one Discord channel share its limit. Like on
    Discord the ``X-RateLimit-*`` headers describe the webhook's bucket only, so a client can
    be told ``Remaining: 2`` and still get this 429: ``X-RateLimit-Scope: shared`` (the
    resource is limited for everyone) and the body Discord documents for error ``20028``
    (discord-api-docs PR #8290): ``{"message": "The write action you are performing on the
    channel has hit the write rate limit.", "retry_after": s, "global": false, "code": 20028}``.
  - **Host-wide** (``global_limit`` per ``global_window``, default 50 per 1 s): webhooks carry
    no Authorization header, so Discord applies its global limit per IP, and every request of
    the host counts. Its 429 has ``X-RateLimit-Global: true``, ``X-RateLimit-Scope: global``
    and ``{"message": "You are being rate limited.", "retry_after": s, "global": true}``.

  Every answer on a webhook route carries ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``
  (epoch seconds), ``-Reset-After`` and ``-Bucket`` for the webhook's bucket; a 429 adds
  ``Retry-After``. ``Retry-After`` is whole seconds rounded up (an HTTP header is an integer);
  the body's ``retry_after`` is the exact float, seconds on every version (Discord's v6 used
  milliseconds, but 2026 observations show seconds). ``channel_limit=None`` or
  ``global_limit=None`` (``0`` on the command line) turns a limit off. The 429s answered are
  counted per scope in :attr:`DiscordEmulator.rate_limited` (``user``, ``shared``,
  ``global``; injected 429 faults count as ``user``) and served by ``GET /_emulator/stats``.
* **Injected faults** answer before the rate limit is consulted, so "the next N requests fail"
  holds exactly. A fault with a 2xx status only delays: the request is then handled normally.
* Only ``application/json`` bodies are accepted (no form or multipart uploads).
* **``?wait=true``** answers 200 with the message object (``id``, ``channel_id`` (the
  thread's id in a thread), ``content``, ``embeds``, ``flags``, ``webhook_id``, ``author``,
  ``timestamp``, ``edited_timestamp``, ``mentions``/``mention_roles``/``mention_everyone``
  and, in a thread, ``position``); without it, 204 and no body.
* **Edit in place** (webhook.mdx, Get/Edit/Delete Webhook Message): ``GET``/``PATCH``/
  ``DELETE .../webhooks/{id}/{token}/messages/{message_id}`` work on messages the emulator
  accepted (with the same token, and ``?thread_id=`` when the message is in a thread, else
  404 ``10008 Unknown Message``). They have their own rate-limit window per webhook, as
  Discord gives them their own bucket. A PATCH is validated like a new message; the keys
  it may change are Discord's edit parameters (``content``, ``embeds``, ``allowed_mentions``,
  ``flags``, ``components``, ``attachments``; null clears); others (``username``,
  ``avatar_url``, ``tts``, ``thread_name``) are not parameters of the edit endpoint and are
  ignored, as Discord ignores unknown fields, so the author stays (each edit records them
  under ``ignored``). Every edit is kept (:attr:`ReceivedMessage.edits`, the first version in
  ``original_payload``). As the docs say, an edit of ``content`` rebuilds the mentions with
  the edit's own ``allowed_mentions`` (or the defaults), and an edit notifies nobody.
* **Threads and forum channels** (webhook.mdx, Execute Webhook; JSON error codes
  220001-220003). :meth:`DiscordEmulator.set_forum` (``--forum ID``) makes a webhook's
  channel a forum: it needs ``thread_name`` (opens a post: a thread whose id is also the id
  of its first message, as on Discord; name 1-100 characters) or ``?thread_id=``; neither →
  400 ``220001``, both → 400 ``220002``; ``thread_name`` in a non-forum channel → 400
  ``220003``. ``?thread_id=`` must name a thread of the webhook's channel (opened by a post
  or :meth:`DiscordEmulator.add_thread`), else 404 ``10003 Unknown Channel`` (Discord
  answers its "Unknown ..." errors with 404; the status here is our reading), in a forum
  and with ``strict_threads`` (``--strict-threads``); otherwise, as before these rules, an
  unknown thread id is taken as an existing thread of unknown name.
* **Mentions** (message.mdx, Allowed Mentions Reference): ``allowed_mentions.parse`` holds
  only ``users``/``roles``/``everyone``; ``users``/``roles`` are at most 100 snowflakes
  (null or [] is fine); ``parse`` naming a type and a non-empty list of that type → 400
  ``MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE``; ``replied_user`` is a boolean. Each message
  records whom it pinged (:class:`Pings`: ``<@id>``/``<@!id>``, ``<@&id>``, ``@everyone``/
  ``@here`` in ``content`` only, never in embeds, filtered by ``allowed_mentions``; without
  it everything in the content pings).
* **Flags**: on execute only ``SUPPRESS_EMBEDS`` (1<<2), ``SUPPRESS_NOTIFICATIONS`` (1<<12)
  and ``IS_COMPONENTS_V2`` (1<<15, then no ``content``/``embeds``/``poll``) may be set,
  anything else → 400. An edit may set or clear ``SUPPRESS_EMBEDS`` and set
  ``IS_COMPONENTS_V2`` (Discord's edit table); sending back a bit the message already has
  (``SUPPRESS_NOTIFICATIONS``, as clients that round-trip ``message.flags`` do) is accepted
  and changes nothing, setting another bit → 400 (our reading of "only"). A message with
  ``SUPPRESS_NOTIFICATIONS`` is ``silent``: its pings are recorded, but push nobody.
* **Broken webhooks**: :meth:`DiscordEmulator.delete_webhook` → 404 ``10015 Unknown
  Webhook`` on every route (:meth:`DiscordEmulator.restore_webhook` undoes it);
  :meth:`DiscordEmulator.set_token` → 401 ``50027 Invalid Webhook Token`` for any other
  token, as after a token reset; injected faults give one-off 401/403/404 with Discord's
  bodies.
* Where Discord's exact wording is not on record (string type errors, bad ``wait`` values) the
  messages below are ours, in Discord's style.

HTTP surface besides Discord's: ``GET /`` (a page for people); ``GET``/``DELETE /messages``
(``?webhook_id=`` filters; tokens are never included; DELETE also empties the request log);
``GET /_emulator/requests`` (every request with status and reason); ``GET /_emulator/stats``
(429s per scope, messages, requests, the limits in force);
``GET``/``POST``/``DELETE /_emulator/faults``; ``POST /_emulator/webhooks/{id}/delete`` and
``.../restore``; ``POST /_emulator/webhooks/{id}/token`` (``{"token": "..."}``, null for any);
``POST /_emulator/webhooks/{id}/forum`` (``{"forum": false}`` to undo);
``POST /_emulator/webhooks/{id}/threads`` (``{"name": ..., "id": ...?}``, answers the thread);
``GET /_emulator/threads`` (each thread with its name and message ids);
``POST /_emulator/reset`` (forget messages, requests, faults, deletions, token resets, threads
opened by posts, rate-limit windows and counters; the channel map, forums and registered
threads stay). Each message of ``GET /messages`` has ``id``, ``thread_id``, ``thread_name``,
``flags``, ``silent``, ``pings`` and ``mentions`` (``{"users", "roles", "everyone"}``),
``edits`` (``edited_at``, ``changes``, ``ignored``) and ``original_payload``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import html
import http
import json
import math
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit

from aiohttp import web

__all__ = [
    "DiscordEmulator",
    "ReceivedMessage",
    "RequestRecord",
    "main",
    "serve",
]

DEFAULT_WEBHOOK_ID = "123456789012345678"
DEFAULT_TOKEN = "emulator-token"
DEFAULT_USERNAME = "Captain Hook"  # the name Discord gives a new webhook
DISCORD_EPOCH_MS = 1420070400000
MAX_BODY_BYTES = 25 * 1024 * 1024

# Opaque bucket ids per route; like Discord's they leave the webhook id out, so every webhook
# reports the same bucket while being limited separately.
RATE_LIMIT_BUCKETS = {
    kind: hashlib.sha1(route.encode()).hexdigest()[:32]
    for kind, route in (
        ("execute", "POST /webhooks/{id}/{token}"),
        ("messages", "/webhooks/{id}/{token}/messages/{message_id}"),
    )
}

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_TEXT_MAX = 2048
AUTHOR_NAME_MAX = 256
USERNAME_MIN, USERNAME_MAX = 1, 80
COLOR_MAX = 0xFFFFFF
THREAD_NAME_MIN, THREAD_NAME_MAX = 1, 100
MENTION_IDS_MAX = 100  # users / roles in allowed_mentions

# Message flags (Discord's message resource): the ones a webhook may set on execute, and
# those an edit may change.
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15
EXECUTE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
FLAG_NAMES = {
    SUPPRESS_EMBEDS: "SUPPRESS_EMBEDS",
    SUPPRESS_NOTIFICATIONS: "SUPPRESS_NOTIFICATIONS",
    IS_COMPONENTS_V2: "IS_COMPONENTS_V2",
}
MENTION_TYPES = ("everyone", "roles", "users")

LINK_SCHEMES = ("http", "https")
MEDIA_SCHEMES = ("http", "https", "attachment")

# Names for the colours peers use, so the console line says "WARNING" instead of "#F48D38".
COLOR_NAMES = {
    0xF95F53: "CRITICAL",  # Kapacitor
    0xF48D38: "WARNING",  # Kapacitor
    0x7A65F2: "INFO",  # Kapacitor (also OK)
    0x992D22: "FIRING",  # Alertmanager
    0x2ECC71: "RESOLVED",  # Alertmanager
    0x95A5A6: "GREY",  # Alertmanager
    0xD63232: "FIRING",  # Grafana
    0x36A64F: "RESOLVED",  # Grafana
}

STATUS_BODIES: dict[int, dict[str, Any]] = {
    400: {"code": 50035, "message": "Invalid Form Body", "errors": {}},
    401: {"code": 50027, "message": "Invalid Webhook Token"},
    403: {"code": 50013, "message": "Missing Permissions"},
    404: {"code": 10015, "message": "Unknown Webhook"},
    429: {"message": "You are being rate limited.", "global": False},
    503: {"code": 130000, "message": "API resource is currently overloaded. Try again later."},
}


_USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
_ROLE_MENTION = re.compile(r"<@&(\d{1,20})>")
_EVERYONE_MENTION = re.compile(r"@(?:everyone|here)\b")


@dataclass(frozen=True)
class Pings:
    """Who a message mentions so that they are notified: only mentions in ``content`` count
    (never those in embeds), and only those ``allowed_mentions`` lets through."""

    users: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    everyone: bool = False  # @everyone or @here

    @property
    def nobody(self) -> bool:
        return not (self.users or self.roles or self.everyone)

    def to_json(self) -> dict[str, Any]:
        return {"users": list(self.users), "roles": list(self.roles), "everyone": self.everyone}


def compute_pings(content: Any, allowed_mentions: Any) -> Pings:
    """The mentions in ``content`` that ``allowed_mentions`` allows (Discord's "Allowed
    Mentions Reference"): without it (absent or null) everything in the content is parsed;
    with it, ``parse`` names the types parsed wholesale, ``users``/``roles`` list the only ids
    of that type that may ping, and an id not in the content pings nobody."""
    text = content if isinstance(content, str) else ""
    users = tuple(dict.fromkeys(_USER_MENTION.findall(text)))
    roles = tuple(dict.fromkeys(_ROLE_MENTION.findall(text)))
    everyone = bool(_EVERYONE_MENTION.search(text))
    if not isinstance(allowed_mentions, dict):
        return Pings(users, roles, everyone)
    parse = allowed_mentions.get("parse") or []

    def allowed(kind: str, found: tuple[str, ...]) -> tuple[str, ...]:
        if kind in parse:
            return found
        listed = {str(i) for i in allowed_mentions.get(kind) or []}
        return tuple(i for i in found if i in listed)

    return Pings(allowed("users", users), allowed("roles", roles), everyone and "everyone" in parse)


@dataclass
class MessageEdit:
    """One PATCH of a message: what it changed, and the keys it sent that an edit cannot
    change (``username``, ``avatar_url``, ``tts``, ``thread_name``: Discord ignores them)."""

    edited_at: float  # wall-clock epoch seconds
    changes: dict[str, Any]
    ignored: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"edited_at": self.edited_at, "changes": self.changes, "ignored": self.ignored}


@dataclass
class Thread:
    """A thread the emulator knows: opened by a forum post (``thread_name``), registered by a
    test (:meth:`DiscordEmulator.add_thread`), or, when threads are not strict, first seen as
    a ``?thread_id=`` (then its channel and name are unknown: ``None``)."""

    thread_id: str
    channel: str | None  # the channel key (DiscordEmulator.channel_of) it belongs to
    name: str | None
    webhook_id: str | None  # the webhook whose post opened it
    forum_post: bool
    created_at: float
    registered: bool = False  # added by a test: kept by reset()
    next_position: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.thread_id,
            "name": self.name,
            "channel": self.channel,
            "webhook_id": self.webhook_id,
            "forum_post": self.forum_post,
            "created_at": self.created_at,
        }


@dataclass
class ReceivedMessage:
    """A message the emulator accepted (and would have posted to the channel)."""

    webhook_id: str
    token: str = field(repr=False)  # a secret on real Discord: kept for tests, never shown
    thread_id: str | None
    received_at: float  # wall-clock epoch seconds
    payload: dict[str, Any]  # the current version (edits merged in)
    status: int  # what we answered: 200 or 204
    message_id: str = ""
    edited_at: float | None = None  # wall-clock epoch seconds of the last edit
    thread_name: str | None = None
    position: int | None = None  # its place in its thread (Discord's message.position)
    flags: int = 0  # the message's flags now (SUPPRESS_EMBEDS can be edited)
    #: who was notified when it was posted (an edit never notifies anyone)
    pings: Pings = field(default_factory=Pings)
    #: who its current content mentions (recomputed when an edit changes the content)
    mentions: Pings = field(default_factory=Pings)
    edits: list[MessageEdit] = field(default_factory=list)
    original_payload: dict[str, Any] | None = None  # as posted, before any edit

    @property
    def silent(self) -> bool:
        """Sent with SUPPRESS_NOTIFICATIONS: its pings badge but push no notification."""
        return bool(self.flags & SUPPRESS_NOTIFICATIONS)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.message_id,
            "webhook_id": self.webhook_id,
            "thread_id": self.thread_id,
            "thread_name": self.thread_name,
            "received_at": self.received_at,
            "status": self.status,
            "payload": self.payload,
            "edited_at": self.edited_at,
            "flags": self.flags,
            "silent": self.silent,
            "pings": self.pings.to_json(),
            "mentions": self.mentions.to_json(),
            "edits": [e.to_json() for e in self.edits],
            "original_payload": (
                self.payload if self.original_payload is None else self.original_payload
            ),
        }


@dataclass
class RequestRecord:
    """Every request to a webhook route, accepted or not, with why it was answered so."""

    method: str
    path: str  # token replaced by "***"
    webhook_id: str
    thread_id: str | None
    received_at: float
    status: int
    reason: str  # "" when accepted

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "webhook_id": self.webhook_id,
            "thread_id": self.thread_id,
            "received_at": self.received_at,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass
class _Fault:
    status: int
    remaining: int
    webhook_id: str | None
    retry_after: float | None
    body: dict[str, Any] | None
    delay: float

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "count": self.remaining,
            "webhook_id": self.webhook_id,
            "retry_after": self.retry_after,
            "body": self.body,
            "delay": self.delay,
        }


# --------------------------------------------------------------------------- validation

Path = tuple[str | int, ...]


class FormErrors:
    """Collects Discord form errors by JSON path and renders both wire shapes."""

    def __init__(self) -> None:
        self.items: list[tuple[Path, str, str]] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, path: Path, code: str, message: str) -> None:
        self.items.append((path, code, message))

    def nested(self) -> dict[str, Any]:
        """The v8+ ``errors`` tree."""
        tree: dict[str, Any] = {}
        for path, code, message in self.items:
            node = tree
            for key in path:
                node = node.setdefault(str(key), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        return tree

    def flat(self) -> dict[str, list[str]]:
        """The legacy v6 form: top-level field → messages, or indices of bad elements."""
        out: dict[str, list[str]] = {}
        for path, _code, message in self.items:
            if not path:
                out.setdefault("_misc", []).append(message)
                continue
            entries = out.setdefault(str(path[0]), [])
            if len(path) > 1 and isinstance(path[1], int):
                if str(path[1]) not in entries:
                    entries.append(str(path[1]))
            else:
                entries.append(message)
        return out

    def summary(self) -> str:
        return "; ".join(
            f"{'.'.join(str(p) for p in path) or 'body'}: {message}"
            for path, _code, message in self.items
        )


def _not_a_string(value: Any) -> tuple[str, str]:
    return "STRING_TYPE_CONVERT", f'Could not interpret "{value}" as string.'


def _check_text(
    errors: FormErrors, path: Path, value: Any, limit: int, *, required: bool = False
) -> int:
    """Check one text field; return its counted length (code points after trimming)."""
    if value is None:
        if required:
            errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return 0
    if not isinstance(value, str):
        errors.add(path, *_not_a_string(value))
        return 0
    length = len(value.strip())
    if required and length == 0:
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
    elif length > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
    return length


def _check_url(errors: FormErrors, path: Path, value: Any, schemes: tuple[str, ...]) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        errors.add(path, *_not_a_string(value))
        return
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or not parts.scheme or not parts.netloc or value != value.strip():
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    elif parts.scheme.lower() not in schemes:
        allowed = "(" + ", ".join(f"'{s}'" for s in schemes) + ")"
        errors.add(
            path,
            "URL_TYPE_INVALID_SCHEME",
            f'Scheme "{parts.scheme}" is not supported. Scheme must be one of {allowed}.',
        )


def _check_username(errors: FormErrors, value: Any) -> None:
    path: Path = ("username",)
    if value is None:
        return
    if not isinstance(value, str):
        errors.add(path, *_not_a_string(value))
        return
    name = value.strip()
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX:
        errors.add(
            path,
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between {USERNAME_MIN} and {USERNAME_MAX} in length.",
        )
    lowered = name.lower()
    for word in ("discord", "clyde"):
        if word in lowered:
            errors.add(path, "USERNAME_INVALID_CONTAINS", f'Username cannot contain "{word}"')
    if lowered in ("", "here", "everyone"):
        errors.add(path, "USERNAME_INVALID", f'Username cannot be "{lowered}"')


def _check_color(errors: FormErrors, path: Path, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
    elif value < 0:
        errors.add(path, "NUMBER_TYPE_MIN", "int value should be greater than or equal to 0.")
    elif value > COLOR_MAX:
        errors.add(
            path, "NUMBER_TYPE_MAX", f"int value should be less than or equal to {COLOR_MAX}."
        )


def _check_timestamp(errors: FormErrors, path: Path, value: Any) -> None:
    if value is None:
        return
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.strip())
            return
        except ValueError:
            pass
    errors.add(path, "DATE_TYPE_PARSE", f"Could not parse {shown}. Should be ISO8601.")


def _as_dict(errors: FormErrors, path: Path, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return None
    return value


def _as_list(errors: FormErrors, path: Path, value: Any) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return None
    return value


def _check_embed(errors: FormErrors, index: int, value: Any) -> int:
    """Check one embed; return the characters it spends of the 6000 shared budget."""
    base: Path = ("embeds", index)
    embed = _as_dict(errors, base, value)
    if embed is None:
        return 0
    spent = _check_text(errors, (*base, "title"), embed.get("title"), TITLE_MAX)
    spent += _check_text(errors, (*base, "description"), embed.get("description"), DESCRIPTION_MAX)
    _check_url(errors, (*base, "url"), embed.get("url"), LINK_SCHEMES)
    _check_timestamp(errors, (*base, "timestamp"), embed.get("timestamp"))
    _check_color(errors, (*base, "color"), embed.get("color"))
    footer = _as_dict(errors, (*base, "footer"), embed.get("footer"))
    if footer is not None:
        spent += _check_text(
            errors, (*base, "footer", "text"), footer.get("text"), FOOTER_TEXT_MAX, required=True
        )
        _check_url(errors, (*base, "footer", "icon_url"), footer.get("icon_url"), MEDIA_SCHEMES)
    for media in ("image", "thumbnail"):
        part = _as_dict(errors, (*base, media), embed.get(media))
        if part is not None:
            _check_url(errors, (*base, media, "url"), part.get("url"), MEDIA_SCHEMES)
    author = _as_dict(errors, (*base, "author"), embed.get("author"))
    if author is not None:
        spent += _check_text(
            errors, (*base, "author", "name"), author.get("name"), AUTHOR_NAME_MAX, required=True
        )
        _check_url(errors, (*base, "author", "url"), author.get("url"), LINK_SCHEMES)
        _check_url(errors, (*base, "author", "icon_url"), author.get("icon_url"), MEDIA_SCHEMES)
    fields = _as_list(errors, (*base, "fields"), embed.get("fields"))
    if fields is not None:
        if len(fields) > FIELDS_MAX:
            errors.add(
                (*base, "fields"),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {FIELDS_MAX} or fewer in length.",
            )
        for i, raw in enumerate(fields):
            fpath: Path = (*base, "fields", i)
            item = _as_dict(errors, fpath, raw)
            if item is None:
                continue
            spent += _check_text(
                errors, (*fpath, "name"), item.get("name"), FIELD_NAME_MAX, required=True
            )
            spent += _check_text(
                errors, (*fpath, "value"), item.get("value"), FIELD_VALUE_MAX, required=True
            )
            inline = item.get("inline")
            if inline is not None and not isinstance(inline, bool):
                errors.add((*fpath, "inline"), "BASE_TYPE_BOOLEAN", "Must be either true or false.")
    return spent


def _is_snowflake_value(value: Any) -> bool:
    """A snowflake as JSON may carry it: a string of digits or a non-negative integer."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value < 1 << 64
    return isinstance(value, str) and _is_snowflake(value)


def _check_snowflakes(errors: FormErrors, path: Path, value: Any) -> None:
    """``roles`` / ``users`` of allowed_mentions: null or [] are fine (Discord's docs say a
    falsy value is no error), else a list of at most 100 snowflakes."""
    items = _as_list(errors, path, value)
    if not items:
        return
    if len(items) > MENTION_IDS_MAX:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {MENTION_IDS_MAX} or fewer in length.")
    for i, item in enumerate(items):
        if not _is_snowflake_value(item):
            errors.add((*path, i), "NUMBER_TYPE_COERCE", f'Value "{item}" is not snowflake.')


def _check_allowed_mentions(errors: FormErrors, value: Any) -> None:
    """Discord's allowed mentions object: ``parse`` from users/roles/everyone, explicit
    ``users``/``roles`` lists, and a list excludes its own type in ``parse``."""
    base: Path = ("allowed_mentions",)
    mentions = _as_dict(errors, base, value)
    if mentions is None:
        return
    parse = _as_list(errors, (*base, "parse"), mentions.get("parse"))
    for i, item in enumerate(parse or []):
        if item not in MENTION_TYPES:
            errors.add(
                (*base, "parse", i),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {{{', '.join(repr(t) for t in MENTION_TYPES)}}}.",
            )
    for kind in ("users", "roles"):
        listed = mentions.get(kind)
        _check_snowflakes(errors, (*base, kind), listed)
        if parse and kind in parse and isinstance(listed, list) and listed:
            errors.add(
                base,
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
    replied = mentions.get("replied_user")
    if replied is not None and not isinstance(replied, bool):
        errors.add((*base, "replied_user"), "BASE_TYPE_BOOLEAN", "Must be either true or false.")


def _flag_names(bits: int) -> str:
    return ", ".join(
        FLAG_NAMES.get(1 << b, f"1<<{b}") for b in range(bits.bit_length()) if bits >> b & 1
    )


def _check_flags(errors: FormErrors, value: Any, *, edit_of: int | None) -> None:
    """``flags`` on execute (SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2) or on
    an edit of a message whose flags are ``edit_of`` (SUPPRESS_EMBEDS both ways,
    IS_COMPONENTS_V2 on only; bits the message already has may be sent back unchanged)."""
    path: Path = ("flags",)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
        return
    if value < 0:
        errors.add(path, "NUMBER_TYPE_MIN", "int value should be greater than or equal to 0.")
        return
    if edit_of is None:
        refused = value & ~EXECUTE_FLAGS
        if refused:
            errors.add(
                path,
                "MESSAGE_FLAGS_INVALID",
                f"Webhook messages can only set SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS and "
                f"IS_COMPONENTS_V2, not {_flag_names(refused)}.",
            )
        return
    refused = value & ~(SUPPRESS_EMBEDS | IS_COMPONENTS_V2 | edit_of)
    if refused:
        errors.add(
            path,
            "MESSAGE_FLAGS_INVALID",
            f"An edit can only change SUPPRESS_EMBEDS and set IS_COMPONENTS_V2, not "
            f"{_flag_names(refused)}.",
        )
    if edit_of & IS_COMPONENTS_V2 and not value & IS_COMPONENTS_V2:
        errors.add(path, "MESSAGE_FLAGS_INVALID", "IS_COMPONENTS_V2 cannot be unset.")


def _check_components_v2(errors: FormErrors, payload: dict[str, Any], flags: int) -> None:
    """With IS_COMPONENTS_V2 a message may hold only components (Discord answers 400)."""
    if not flags & IS_COMPONENTS_V2:
        return
    for key in ("content", "embeds", "poll"):
        if payload.get(key) is not None:
            errors.add(
                (key,),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                f'The "{key}" field cannot be used when using MessageFlags.IS_COMPONENTS_V2',
            )


def _check_thread_name(errors: FormErrors, value: Any) -> None:
    path: Path = ("thread_name",)
    if value is None:
        return
    if not isinstance(value, str):
        errors.add(path, *_not_a_string(value))
        return
    if not THREAD_NAME_MIN <= len(value.strip()) <= THREAD_NAME_MAX:
        errors.add(
            path,
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between {THREAD_NAME_MIN} and {THREAD_NAME_MAX} in length.",
        )


def validate_execute_body(payload: Any, *, edit_of: int | None = None) -> FormErrors:
    """Discord's form validation for an execute-webhook JSON body (not the empty check).

    With ``edit_of`` (the flags of the message being edited) it checks an edit's body: the
    same rules, except for which ``flags`` may change.
    """
    errors = FormErrors()
    if not isinstance(payload, dict):
        errors.add((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return errors
    _check_text(errors, ("content",), payload.get("content"), CONTENT_MAX)
    _check_username(errors, payload.get("username"))
    _check_url(errors, ("avatar_url",), payload.get("avatar_url"), LINK_SCHEMES)
    tts = payload.get("tts")
    if tts is not None and not isinstance(tts, bool):
        errors.add(("tts",), "BASE_TYPE_BOOLEAN", "Must be either true or false.")
    embeds = _as_list(errors, ("embeds",), payload.get("embeds"))
    if embeds is not None:
        if len(embeds) > EMBEDS_MAX:
            errors.add(
                ("embeds",), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length."
            )
        total = sum(_check_embed(errors, i, embed) for i, embed in enumerate(embeds))
        if total > EMBED_TOTAL_MAX:
            errors.add(
                ("embeds",),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
            )
    _check_allowed_mentions(errors, payload.get("allowed_mentions"))
    flags = payload.get("flags")
    _check_flags(errors, flags, edit_of=edit_of)
    if isinstance(flags, int) and not isinstance(flags, bool) and flags > 0:
        _check_components_v2(errors, payload, flags)
    _check_thread_name(errors, payload.get("thread_name"))
    return errors


def _is_empty_message(payload: dict[str, Any]) -> bool:
    content = payload.get("content")
    has_content = isinstance(content, str) and content.strip() != ""
    return not (
        has_content
        or payload.get("embeds")
        or payload.get("components")
        or payload.get("poll")
        or payload.get("sticker_ids")
    )


# --------------------------------------------------------------------------- rate limit


@dataclass
class _Window:
    start: float
    used: int


class _FixedWindowLimiter:
    """Per-webhook fixed windows: ``limit`` requests per ``window`` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.windows: dict[str, _Window] = {}

    def _current(self, key: str, now: float) -> _Window:
        current = self.windows.get(key)
        if current is None or now >= current.start + self.window:
            current = self.windows[key] = _Window(start=now, used=0)
        return current

    def take(self, key: str) -> tuple[bool, int, float]:
        """Spend one request if possible; return (allowed, remaining, seconds until reset)."""
        now = self.clock()
        current = self._current(key, now)
        reset_after = max(0.0, current.start + self.window - now)
        if current.used >= self.limit:
            return False, 0, reset_after
        current.used += 1
        return True, self.limit - current.used, reset_after

    def peek(self, key: str) -> tuple[int, float]:
        """(remaining, seconds until reset) without spending anything."""
        now = self.clock()
        current = self._current(key, now)
        return self.limit - current.used, max(0.0, current.start + self.window - now)

    def give_back(self, key: str) -> None:
        """Return a slot taken by :meth:`take` (the request turned out not to count)."""
        current = self.windows.get(key)
        if current is not None and current.used > 0:
            current.used -= 1

    def clear(self) -> None:
        self.windows.clear()


# --------------------------------------------------------------------------- the emulator


_EMPTY_MESSAGE = {"message": "Cannot send an empty message", "code": 50006}

#: Discord's wording for each scope of 429 (``X-RateLimit-Scope``), reference §1.6.
_RATE_LIMITED = "You are being rate limited."
_CHANNEL_RATE_LIMITED = (
    "The write action you are performing on the channel has hit the write rate limit."
)
#: JSON error code of the per-channel write limit (discord-api-docs PR #8290).
CHANNEL_WRITE_LIMIT_CODE = 20028
RATE_LIMIT_SCOPES = ("user", "shared", "global")

# What PATCH .../messages/{id} may change (identity, tts and thread are fixed at send time).
EDITABLE_KEYS = ("content", "embeds", "allowed_mentions", "flags", "components", "attachments")


class _Answer(Exception):
    """Raised inside the execute handler to answer early with a Discord-shaped body."""

    def __init__(self, status: int, body: dict[str, Any] | None, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.body = body
        self.reason = reason


_RouteAction = Callable[
    [web.Request, int, str, "str | None"], Awaitable[tuple[int, "dict[str, Any] | None"]]
]


def _parse_bool(value: str) -> bool | None:
    if value in ("true", "True", "1"):
        return True
    if value in ("false", "False", "0"):
        return False
    return None


def _is_snowflake(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 20


def _short_id(webhook_id: str) -> str:
    return webhook_id if len(webhook_id) <= 9 else f"{webhook_id[:4]}…{webhook_id[-4:]}"


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _color_name(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return "-"
    return COLOR_NAMES.get(value, f"#{value:06X}")


def _describe_pings(message: ReceivedMessage) -> str:
    """ " (pings role 1, user 2)" for the console; "" when nobody is pinged."""
    pings = message.pings
    named = [f"role {r}" for r in pings.roles] + [f"user {u}" for u in pings.users]
    if pings.everyone:
        named.append("everyone")
    if not named:
        return ""
    silent = ", silently" if message.silent else ""
    return f" (pings {', '.join(named)}{silent})"


def describe_message(payload: dict[str, Any]) -> str:
    """One human line for a payload: username, content, then each embed."""
    parts: list[str] = []
    username = payload.get("username")
    if isinstance(username, str) and username.strip():
        parts.append(f"<{username.strip()}>")
    content = payload.get("content")
    if isinstance(content, str) and content.strip():
        parts.append(_one_line(content))
    embeds = payload.get("embeds") or []
    rendered: list[str] = []
    for embed in embeds if isinstance(embeds, list) else []:
        if not isinstance(embed, dict):
            continue
        title = embed.get("title")
        description = embed.get("description")
        text = title.strip() if isinstance(title, str) else ""
        if isinstance(description, str) and description.strip():
            text = f"{text} — {description}" if text else description
        rendered.append(f"{_color_name(embed.get('color')):<8} {_one_line(text)}")
    if rendered:
        parts.append(" ‖ ".join(rendered))
    return " ".join(parts)


class DiscordEmulator:
    """An in-process fake of Discord's execute-webhook endpoint, with faults and inspection."""

    def __init__(
        self,
        *,
        rate_limit: int = 5,
        rate_window: float = 2.0,
        channel_limit: int | None = 30,
        channel_window: float = 60.0,
        channels: Mapping[str, str] | None = None,
        global_limit: int | None = 50,
        global_window: float = 1.0,
        forum_webhooks: Iterable[str] = (),
        strict_threads: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        echo: TextIO | None = None,
    ) -> None:
        """``channels`` maps webhook ids to a channel name: webhooks mapped to the same name
        share one per-channel budget (by default every webhook is its own channel).
        ``forum_webhooks`` post into forum channels (see :meth:`set_forum`); with
        ``strict_threads`` a ``?thread_id=`` must name a thread the emulator knows, as on
        Discord (by default an unknown one is taken as an existing thread)."""
        if rate_limit < 1:
            raise ValueError(f"rate_limit must be at least 1, got {rate_limit}")
        for name, limit in (("channel_limit", channel_limit), ("global_limit", global_limit)):
            if limit is not None and limit < 1:
                raise ValueError(f"{name} must be at least 1 (or None for no limit), got {limit}")
        for name, window in (
            ("rate_window", rate_window),
            ("channel_window", channel_window),
            ("global_window", global_window),
        ):
            if not window > 0:
                raise ValueError(f"{name} must be more than 0 seconds, got {window}")
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.channel_limit = channel_limit
        self.channel_window = channel_window
        self.global_limit = global_limit
        self.global_window = global_window
        self.channels: dict[str, str] = dict(channels or {})
        #: 429s answered, by ``X-RateLimit-Scope``
        self.rate_limited: dict[str, int] = dict.fromkeys(RATE_LIMIT_SCOPES, 0)
        self.clock = clock
        self.wall_clock = wall_clock
        self.echo = echo
        self.messages: list[ReceivedMessage] = []
        self.requests: list[RequestRecord] = []
        self.deleted_webhooks: set[str] = set()
        self.forum_webhooks: set[str] = set(forum_webhooks)
        self.strict_threads = strict_threads
        #: threads by id (see :class:`Thread`)
        self.threads: dict[str, Thread] = {}
        #: webhooks whose token was reset: only this token is valid (others answer 401)
        self.tokens: dict[str, str] = {}
        self._faults: list[_Fault] = []
        self._limiter = _FixedWindowLimiter(rate_limit, rate_window, clock)
        self._channel_limiter = (
            None
            if channel_limit is None
            else _FixedWindowLimiter(channel_limit, channel_window, clock)
        )
        self._host_limiter = (
            None
            if global_limit is None
            else _FixedWindowLimiter(global_limit, global_window, clock)
        )
        self._channel_snowflakes: dict[str, str] = {}
        self._last_snowflake = 0
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.app = self._build_app()

    # ---------------------------------------------------------------- control

    def inject_fault(
        self,
        *,
        status: int,
        count: int = 1,
        webhook_id: str | None = None,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``count`` requests (to ``webhook_id``, or to any) with ``status``."""
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise ValueError(f"fault status must be an HTTP status 200..599, got {status!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"fault count must be a whole number of at least 1, got {count!r}")
        if webhook_id is not None and not isinstance(webhook_id, str):
            raise ValueError(f"fault webhook_id must be a string, got {webhook_id!r}")
        if retry_after is not None and (
            isinstance(retry_after, bool)
            or not isinstance(retry_after, int | float)
            or not math.isfinite(retry_after)
            or retry_after < 0
        ):
            raise ValueError(f"fault retry_after must be seconds >= 0, got {retry_after!r}")
        if body is not None and not isinstance(body, dict):
            raise ValueError(f"fault body must be a JSON object, got {type(body).__name__}")
        if (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not math.isfinite(delay)
            or delay < 0
        ):
            raise ValueError(f"fault delay must be seconds >= 0, got {delay!r}")
        self._faults.append(
            _Fault(
                status=status,
                remaining=count,
                webhook_id=webhook_id,
                retry_after=None if retry_after is None else float(retry_after),
                body=body,
                delay=float(delay),
            )
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def delete_webhook(self, webhook_id: str) -> None:
        """Make the webhook answer 404 Unknown Webhook from now on, as a deleted one does."""
        self.deleted_webhooks.add(webhook_id)

    def restore_webhook(self, webhook_id: str) -> None:
        """Undo :meth:`delete_webhook` (on Discord a new webhook would have a new id; this lets
        a test bring the same URL back after, say, a circuit breaker opened)."""
        self.deleted_webhooks.discard(webhook_id)

    def set_token(self, webhook_id: str, token: str | None) -> None:
        """Make ``token`` the webhook's only valid token, as when someone resets it in Discord:
        requests with any other token answer 401 ``50027 Invalid Webhook Token``. ``None``
        accepts any token again (the default)."""
        if token is None:
            self.tokens.pop(webhook_id, None)
        elif not isinstance(token, str) or not token:
            raise ValueError("the token must be a non-empty string")
        else:
            self.tokens[webhook_id] = token

    def set_forum(self, webhook_id: str, forum: bool = True) -> None:
        """Say whether the webhook's channel is a forum channel. A forum webhook must be given
        ``thread_name`` (open a post) or ``?thread_id=`` (post in one), never both; a webhook
        of another channel refuses ``thread_name`` (Discord's errors 220001-220003)."""
        if forum:
            self.forum_webhooks.add(webhook_id)
        else:
            self.forum_webhooks.discard(webhook_id)

    def add_thread(self, webhook_id: str, name: str, thread_id: str | None = None) -> str:
        """Register an existing thread (or forum post) ``name`` in the webhook's channel, so
        ``?thread_id=`` can target it even with strict threads; returns its id."""
        if not isinstance(name, str) or not THREAD_NAME_MIN <= len(name.strip()) <= THREAD_NAME_MAX:
            raise ValueError(
                f"a thread name must be {THREAD_NAME_MIN} to {THREAD_NAME_MAX} characters"
            )
        if thread_id is None:
            thread_id = self._next_snowflake()
        elif not isinstance(thread_id, str) or not _is_snowflake(thread_id):
            raise ValueError(f"a thread id must be a snowflake (digits), got {thread_id!r}")
        self.threads[thread_id] = Thread(
            thread_id=thread_id,
            channel=self.channel_of(webhook_id),
            name=name.strip(),
            webhook_id=None,
            forum_post=webhook_id in self.forum_webhooks,
            created_at=self.wall_clock(),
            registered=True,
        )
        return thread_id

    def set_channel(self, webhook_id: str, channel: str) -> None:
        """Post ``webhook_id``'s messages into ``channel``: webhooks of one channel share its
        per-channel limit (call it again with the same name for each webhook)."""
        self.channels[webhook_id] = channel

    def channel_of(self, webhook_id: str) -> str:
        """The channel a webhook posts into: its own unless :meth:`set_channel` said otherwise."""
        return self.channels.get(webhook_id, webhook_id)

    def reset(self) -> None:
        """Forget messages, requests, faults, deletions, token resets, threads opened by
        messages, rate-limit windows and counters (channels, forums and threads a test
        registered stay)."""
        self.messages.clear()
        self.requests.clear()
        self._faults.clear()
        self.deleted_webhooks.clear()
        self.tokens.clear()
        self.threads = {k: t for k, t in self.threads.items() if t.registered}
        for thread in self.threads.values():
            thread.next_position = 0
        self._limiter.clear()
        for limiter in (self._channel_limiter, self._host_limiter):
            if limiter is not None:
                limiter.clear()
        self.rate_limited = dict.fromkeys(RATE_LIMIT_SCOPES, 0)

    def stats(self) -> dict[str, Any]:
        """429s answered per scope, messages and requests, and the limits in force."""
        return {
            "rate_limited": dict(self.rate_limited),
            "messages": len(self.messages),
            "requests": len(self.requests),
            "limits": {
                "webhook": {"limit": self.rate_limit, "window": self.rate_window},
                "channel": {"limit": self.channel_limit, "window": self.channel_window},
                "global": {"limit": self.global_limit, "window": self.global_window},
            },
            "channels": dict(self.channels),
            "forum_webhooks": sorted(self.forum_webhooks),
            "strict_threads": self.strict_threads,
            "threads": len(self.threads),
        }

    # ---------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port); return the base URL."""
        if self._runner is not None:
            raise RuntimeError("the Discord emulator is already running")
        self._stopping = asyncio.Event()
        # No access log: the request line holds the webhook token.
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = runner.addresses[0]
        shown_host = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self._base_url = f"http://{shown_host}:{bound[1]}"
        return self._base_url

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the Discord emulator is not running; call start() first")
        return self._base_url

    def webhook_url(self, webhook_id: str = DEFAULT_WEBHOOK_ID, token: str = DEFAULT_TOKEN) -> str:
        return f"{self.base_url}/api/webhooks/{webhook_id}/{token}"

    async def stop(self) -> None:
        self._stopping.set()  # ends injected delays so shutdown does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._base_url = None

    # ---------------------------------------------------------------- app

    def _build_app(self) -> web.Application:
        app = web.Application(
            client_max_size=MAX_BODY_BYTES, middlewares=[self._discord_style_http_errors]
        )
        app.router.add_post("/api/webhooks/{webhook_id}/{token}", self._execute)
        app.router.add_post(r"/api/v{version:\d+}/webhooks/{webhook_id}/{token}", self._execute)
        for prefix in ("/api", r"/api/v{version:\d+}"):
            path = prefix + "/webhooks/{webhook_id}/{token}/messages/{message_id}"
            app.router.add_get(path, self._fetch)
            app.router.add_patch(path, self._edit)
            app.router.add_delete(path, self._remove)
        app.router.add_get("/api/webhooks/{webhook_id}/{token}", self._get_webhook)
        app.router.add_get(r"/api/v{version:\d+}/webhooks/{webhook_id}/{token}", self._get_webhook)
        app.router.add_get("/", self._index)
        app.router.add_get("/messages", self._list_messages)
        app.router.add_delete("/messages", self._clear_messages)
        app.router.add_get("/_emulator/requests", self._list_requests)
        app.router.add_get("/_emulator/stats", self._stats)
        app.router.add_get("/_emulator/faults", self._list_faults)
        app.router.add_post("/_emulator/faults", self._add_fault)
        app.router.add_delete("/_emulator/faults", self._clear_faults)
        app.router.add_post("/_emulator/webhooks/{webhook_id}/delete", self._delete_webhook)
        app.router.add_post("/_emulator/webhooks/{webhook_id}/restore", self._restore_webhook)
        app.router.add_post("/_emulator/webhooks/{webhook_id}/token", self._set_token)
        app.router.add_post("/_emulator/webhooks/{webhook_id}/forum", self._set_forum)
        app.router.add_post("/_emulator/webhooks/{webhook_id}/threads", self._add_thread)
        app.router.add_get("/_emulator/threads", self._list_threads)
        app.router.add_post("/_emulator/reset", self._reset)
        return app

    @web.middleware
    async def _discord_style_http_errors(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        """Unknown paths and methods answer in Discord's JSON shape instead of aiohttp's text."""
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status not in (404, 405):
                raise
            body = {"message": f"{exc.status}: {exc.reason}", "code": 0}
            return web.json_response(body, status=exc.status)

    # ---------------------------------------------------------------- execute webhook

    async def _execute(self, request: web.Request) -> web.StreamResponse:
        return await self._webhook_route(request, "execute", self._accept)

    async def _edit(self, request: web.Request) -> web.StreamResponse:
        return await self._webhook_route(request, "messages", self._edit_message)

    async def _fetch(self, request: web.Request) -> web.StreamResponse:
        return await self._webhook_route(request, "messages", self._fetch_message)

    async def _remove(self, request: web.Request) -> web.StreamResponse:
        return await self._webhook_route(request, "messages", self._delete_message)

    async def _webhook_route(
        self, request: web.Request, bucket: str, action: _RouteAction
    ) -> web.StreamResponse:
        """What every webhook route shares: version, faults, rate limit, headers, records."""
        webhook_id = request.match_info["webhook_id"]
        thread_id = request.query.get("thread_id")
        headers: dict[str, str] = {}
        try:
            version = self._api_version(request)
            fault = self._take_fault(webhook_id)
            key = f"{bucket}:{webhook_id}"
            host_allowed, host_reset_after = self._take_host()
            if host_allowed:
                allowed, remaining, reset_after = self._limiter.take(key)
            else:  # refused before the route's bucket is consulted: it keeps its slot
                allowed = False
                remaining, reset_after = self._limiter.peek(key)
            headers = self._rate_limit_headers(bucket, remaining, reset_after)
            if fault is not None and not 200 <= fault.status < 300:
                await self._sleep(fault.delay)
                raise self._fault_answer(fault, headers)
            if not host_allowed:
                raise self._rate_limited(
                    headers,
                    "global",
                    host_reset_after,
                    f"host rate limited ({self.global_limit} per {self.global_window:g}s)",
                )
            if not allowed:
                raise self._rate_limited(
                    headers,
                    "user",
                    reset_after,
                    f"rate limited ({self.rate_limit} per {self.rate_window:g}s)",
                )
            channel = self._take_channel(webhook_id, headers) if bucket == "execute" else None
            try:
                if fault is not None:
                    await self._sleep(fault.delay)
                self._check_webhook(webhook_id, request.match_info["token"], thread_id, version)
                status, body = await action(request, version, webhook_id, thread_id)
            except _Answer:
                if channel is not None and self._channel_limiter is not None:
                    self._channel_limiter.give_back(channel)  # nothing was written
                raise
        except _Answer as answer:
            if answer.status == 429:
                scope = headers.get("X-RateLimit-Scope", "user")
                self.rate_limited[scope] = self.rate_limited.get(scope, 0) + 1
            self._record(request, webhook_id, thread_id, answer.status, answer.reason)
            if answer.body is None:
                return web.Response(status=answer.status, headers=headers)
            return web.json_response(answer.body, status=answer.status, headers=headers)
        self._record(request, webhook_id, thread_id, status, "")
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    def _take_host(self) -> tuple[bool, float]:
        """Spend a slot of the host-wide limit: (allowed, seconds until it resets)."""
        if self._host_limiter is None:
            return True, 0.0
        allowed, _remaining, reset_after = self._host_limiter.take("host")
        return allowed, reset_after

    def _take_channel(self, webhook_id: str, headers: dict[str, str]) -> str | None:
        """Spend a slot of the webhook's channel; the channel's key, or None when unlimited."""
        if self._channel_limiter is None:
            return None
        channel = self.channel_of(webhook_id)
        allowed, _remaining, reset_after = self._channel_limiter.take(channel)
        if not allowed:
            raise self._rate_limited(
                headers,
                "shared",
                reset_after,
                f"channel rate limited ({self.channel_limit} per {self.channel_window:g}s)",
            )
        return channel

    def _rate_limited(
        self, headers: dict[str, str], scope: str, retry_after: float, reason: str
    ) -> _Answer:
        """A 429 of ``scope`` with Discord's headers and body for it (reference §1.6)."""
        headers["Retry-After"] = str(math.ceil(retry_after))
        headers["X-RateLimit-Scope"] = scope
        body: dict[str, Any] = {
            "message": _CHANNEL_RATE_LIMITED if scope == "shared" else _RATE_LIMITED,
            "retry_after": round(retry_after, 3),
            "global": scope == "global",
        }
        if scope == "global":
            headers["X-RateLimit-Global"] = "true"
        elif scope == "shared":
            body["code"] = CHANNEL_WRITE_LIMIT_CODE
        return _Answer(429, body, reason)

    def _api_version(self, request: web.Request) -> int:
        raw = request.match_info.get("version")
        if raw is None:
            return 6
        version = int(raw)
        if version <= 5:
            raise _Answer(
                400,
                {"code": 50041, "message": "Invalid API version provided"},
                f"API v{version} is discontinued",
            )
        if version > 10:
            raise _Answer(404, {"message": "404: Not Found", "code": 0}, f"no API v{version}")
        return version

    def _take_fault(self, webhook_id: str) -> _Fault | None:
        for fault in self._faults:
            if fault.webhook_id is None or fault.webhook_id == webhook_id:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_answer(self, fault: _Fault, headers: dict[str, str]) -> _Answer:
        if fault.body is not None:
            body: dict[str, Any] | None = fault.body
        elif fault.status in STATUS_BODIES:
            body = dict(STATUS_BODIES[fault.status])
        else:
            try:
                phrase = http.HTTPStatus(fault.status).phrase
            except ValueError:
                phrase = "Error"
            body = {"message": f"{fault.status}: {phrase}", "code": 0}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(math.ceil(fault.retry_after))
        if fault.status == 429:
            headers["X-RateLimit-Scope"] = "user"
            if fault.body is None and body is not None:
                body["retry_after"] = fault.retry_after if fault.retry_after is not None else 1.0
                headers.setdefault("Retry-After", str(math.ceil(body["retry_after"])))
        return _Answer(fault.status, body, f"injected fault {fault.status}")

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    def _rate_limit_headers(
        self, bucket: str, remaining: int, reset_after: float
    ) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{self.wall_clock() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": RATE_LIMIT_BUCKETS[bucket],
        }

    def _check_webhook(
        self, webhook_id: str, token: str, thread_id: str | None, version: int
    ) -> None:
        if webhook_id in self.deleted_webhooks:
            raise _Answer(404, {"message": "Unknown Webhook", "code": 10015}, "unknown webhook")
        valid = self.tokens.get(webhook_id)
        if valid is not None and token != valid:
            raise _Answer(
                401, {"message": "Invalid Webhook Token", "code": 50027}, "invalid webhook token"
            )
        errors = FormErrors()
        if not _is_snowflake(webhook_id):
            errors.add(
                ("webhook_id",), "NUMBER_TYPE_COERCE", f'Value "{webhook_id}" is not snowflake.'
            )
        if thread_id is not None and not _is_snowflake(thread_id):
            errors.add(
                ("thread_id",), "NUMBER_TYPE_COERCE", f'Value "{thread_id}" is not snowflake.'
            )
        if errors:
            raise self._form_error(version, errors)

    async def _read_json(self, request: web.Request, version: int) -> Any:
        if request.content_type != "application/json":
            errors = FormErrors()
            errors.add(
                (),
                "CONTENT_TYPE_INVALID",
                "Expected \"Content-Type\" header to be one of {'application/json'}.",
            )
            raise self._form_error(version, errors)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            raise _Answer(
                413, {"message": "Request entity too large", "code": 40005}, "body too large"
            ) from exc
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise _Answer(
                400,
                {"message": "The request body contains invalid JSON.", "code": 50109},
                "invalid JSON",
            ) from exc

    async def _accept(
        self, request: web.Request, version: int, webhook_id: str, thread_id: str | None
    ) -> tuple[int, dict[str, Any] | None]:
        """Execute: Discord's own checks on the body, the thread rules, then store it."""
        wait = _parse_bool(request.query.get("wait", "false"))
        if wait is None:
            errors = FormErrors()
            errors.add(
                ("wait",),
                "BOOLEAN_TYPE_COERCE",
                f'Value "{request.query.get("wait")}" is not a boolean.',
            )
            raise self._form_error(version, errors)
        payload = await self._read_json(request, version)
        errors = validate_execute_body(payload)
        if errors:
            raise self._form_error(version, errors)
        if _is_empty_message(payload):
            raise _Answer(400, _EMPTY_MESSAGE, "empty message")
        thread_name = payload.get("thread_name")
        thread = self._execute_thread(webhook_id, thread_id, thread_name)
        status = 200 if wait else 204
        message_id = self._next_snowflake()
        if thread is None and isinstance(thread_name, str):
            # A forum post: the thread and its starter message share one id, as on Discord.
            thread = Thread(
                thread_id=message_id,
                channel=self.channel_of(webhook_id),
                name=thread_name.strip(),
                webhook_id=webhook_id,
                forum_post=True,
                created_at=self.wall_clock(),
            )
            self.threads[message_id] = thread
        position = None
        if thread is not None:
            position = thread.next_position
            thread.next_position += 1
        flags = payload.get("flags") or 0
        pings = compute_pings(payload.get("content"), payload.get("allowed_mentions"))
        message = ReceivedMessage(
            webhook_id=webhook_id,
            token=request.match_info["token"],
            thread_id=None if thread is None else thread.thread_id,
            received_at=self.wall_clock(),
            payload=payload,
            status=status,
            message_id=message_id,
            thread_name=None if thread is None else thread.name,
            position=position,
            flags=flags,
            pings=pings,
            mentions=pings,
            original_payload=payload,
        )
        self.messages.append(message)
        self._say(
            f"{self._prefix(webhook_id, message.thread_id, message.thread_name)} "
            f"{describe_message(payload)}{_describe_pings(message)}"
        )
        return status, (self._message_object(message) if wait else None)

    def _execute_thread(
        self, webhook_id: str, thread_id: str | None, thread_name: Any
    ) -> Thread | None:
        """Where an execute posts: the thread of ``?thread_id=``, or None for the channel (or
        for a new forum post, which the caller opens). Discord's forum rules (webhook.mdx,
        Execute Webhook; JSON error codes 220001-220003) are checked here."""
        forum = webhook_id in self.forum_webhooks
        if thread_name is not None:
            if not forum:
                raise _Answer(
                    400,
                    {
                        "message": "Webhooks can only create threads in forum channels",
                        "code": 220003,
                    },
                    "thread_name outside a forum channel",
                )
            if thread_id is not None:
                raise _Answer(
                    400,
                    {
                        "message": "Webhooks posted to forum channels cannot have both a "
                        "thread_name and thread_id",
                        "code": 220002,
                    },
                    "both thread_name and thread_id",
                )
            return None
        if thread_id is None:
            if forum:
                raise _Answer(
                    400,
                    {
                        "message": "Webhooks posted to forum channels must have a thread_name "
                        "or thread_id",
                        "code": 220001,
                    },
                    "forum post without thread_name or thread_id",
                )
            return None
        return self._thread(webhook_id, thread_id, create=True)

    def _thread(self, webhook_id: str, thread_id: str, *, create: bool) -> Thread | None:
        """The thread ``thread_id`` of the webhook's channel. An unknown one answers 404
        ``10003 Unknown Channel`` when threads are strict or the channel is a forum; else it
        is taken as a thread that exists (created if ``create``, None if not)."""
        thread = self.threads.get(thread_id)
        channel = self.channel_of(webhook_id)
        if thread is not None and thread.channel in (None, channel):
            return thread
        if thread is None and not (self.strict_threads or webhook_id in self.forum_webhooks):
            if not create:
                return None
            thread = Thread(
                thread_id=thread_id,
                channel=None,
                name=None,
                webhook_id=None,
                forum_post=False,
                created_at=self.wall_clock(),
            )
            self.threads[thread_id] = thread
            return thread
        raise _Answer(
            404, {"message": "Unknown Channel", "code": 10003}, f"unknown thread {thread_id}"
        )

    def _find_message(
        self, request: web.Request, webhook_id: str, thread_id: str | None
    ) -> ReceivedMessage:
        """The message a webhook sent; Discord wants the same token and, in a thread, its id."""
        message_id = request.match_info["message_id"]
        if thread_id is not None:
            self._thread(webhook_id, thread_id, create=False)
        for message in self.messages:
            if message.message_id == message_id and message.webhook_id == webhook_id:
                if message.token != request.match_info["token"]:
                    raise _Answer(
                        401, {"message": "Invalid Webhook Token", "code": 50027}, "wrong token"
                    )
                if message.thread_id == thread_id:
                    return message
        raise _Answer(
            404, {"message": "Unknown Message", "code": 10008}, f"unknown message {message_id}"
        )

    async def _fetch_message(
        self, request: web.Request, version: int, webhook_id: str, thread_id: str | None
    ) -> tuple[int, dict[str, Any] | None]:
        return 200, self._message_object(self._find_message(request, webhook_id, thread_id))

    async def _delete_message(
        self, request: web.Request, version: int, webhook_id: str, thread_id: str | None
    ) -> tuple[int, dict[str, Any] | None]:
        message = self._find_message(request, webhook_id, thread_id)
        self.messages.remove(message)
        self._say(f"{self._prefix(webhook_id, thread_id)} deleted message {message.message_id}")
        return 204, None

    async def _edit_message(
        self, request: web.Request, version: int, webhook_id: str, thread_id: str | None
    ) -> tuple[int, dict[str, Any] | None]:
        """Edit in place (webhook.mdx, Edit Webhook Message): given keys replace the old ones,
        null clears; keys an edit does not take (``username``, ``avatar_url``, ``tts``,
        ``thread_name``) are ignored, as Discord ignores unknown fields, so identity stays."""
        message = self._find_message(request, webhook_id, thread_id)
        changes = await self._read_json(request, version)
        if not isinstance(changes, dict):
            errors = validate_execute_body(changes)
            raise self._form_error(version, errors)
        editable = {k: v for k, v in changes.items() if k in EDITABLE_KEYS}
        ignored = sorted(k for k in changes if k not in EDITABLE_KEYS)
        errors = validate_execute_body(editable, edit_of=message.flags)
        if errors:
            raise self._form_error(version, errors)
        merged = {k: v for k, v in message.payload.items() if k not in editable}
        merged.update({k: v for k, v in editable.items() if v is not None})
        flags = message.flags
        if "flags" in editable:
            wanted = editable["flags"] or 0
            flags = (flags & ~SUPPRESS_EMBEDS) | (wanted & (SUPPRESS_EMBEDS | IS_COMPONENTS_V2))
        _check_components_v2(errors, merged, flags)
        if errors:
            raise self._form_error(version, errors)
        if _is_empty_message(merged):
            raise _Answer(400, _EMPTY_MESSAGE, "edit would leave an empty message")
        if "content" in editable:
            # Discord rebuilds the mentions from the new content with this request's
            # allowed_mentions, or the defaults, never the original request's; no one is
            # notified by an edit, so ``pings`` stays as posted.
            message.mentions = compute_pings(
                merged.get("content"), editable.get("allowed_mentions")
            )
        message.payload = merged
        message.flags = flags
        message.edited_at = self.wall_clock()
        message.edits.append(MessageEdit(message.edited_at, editable, ignored))
        note = f" (ignored: {', '.join(ignored)})" if ignored else ""
        self._say(
            f"{self._prefix(webhook_id, thread_id, message.thread_name)} edited "
            f"{message.message_id}: {describe_message(merged)}{note}"
        )
        return 200, self._message_object(message)

    def _form_error(self, version: int, errors: FormErrors) -> _Answer:
        if version >= 8:
            body: dict[str, Any] = {
                "code": 50035,
                "message": "Invalid Form Body",
                "errors": errors.nested(),
            }
        else:
            body = dict(errors.flat())
        return _Answer(400, body, f"invalid form body: {errors.summary()}")

    def _next_snowflake(self) -> str:
        candidate = (int(self.wall_clock() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_snowflake = max(candidate, self._last_snowflake + 1)
        return str(self._last_snowflake)

    def _channel_id(self, webhook_id: str) -> str:
        channel = self.channel_of(webhook_id)
        if channel not in self._channel_snowflakes:
            self._channel_snowflakes[channel] = self._next_snowflake()
        return self._channel_snowflakes[channel]

    def _message_object(self, message: ReceivedMessage) -> dict[str, Any]:
        payload = message.payload
        username = payload.get("username")
        content = payload.get("content")
        embeds = [{"type": "rich", **embed} for embed in payload.get("embeds") or []]
        timestamp = datetime.fromtimestamp(message.received_at, tz=UTC)
        mentions = message.mentions
        extra: dict[str, Any] = {}
        if message.position is not None:
            extra["position"] = message.position
        return {
            "id": message.message_id,
            "type": 0,
            "content": content.strip() if isinstance(content, str) else "",
            "channel_id": message.thread_id or self._channel_id(message.webhook_id),
            "webhook_id": message.webhook_id,
            "author": {
                "id": message.webhook_id,
                "username": username.strip() if isinstance(username, str) else DEFAULT_USERNAME,
                "avatar": None,
                "discriminator": "0000",
                "bot": True,
            },
            "attachments": [],
            "embeds": embeds,
            "mentions": [
                {"id": user, "username": f"user{user}", "discriminator": "0", "avatar": None}
                for user in mentions.users
            ],
            "mention_roles": list(mentions.roles),
            "mention_everyone": mentions.everyone,
            "pinned": False,
            "tts": bool(payload.get("tts")),
            "timestamp": timestamp.isoformat(timespec="microseconds"),
            "edited_timestamp": (
                None
                if message.edited_at is None
                else datetime.fromtimestamp(message.edited_at, tz=UTC).isoformat(
                    timespec="microseconds"
                )
            ),
            "flags": message.flags,
            "components": [],
            **extra,
        }

    async def _get_webhook(self, request: web.Request) -> web.StreamResponse:
        """GET on the webhook URL: the webhook object, as a config check would see it."""
        webhook_id = request.match_info["webhook_id"]
        if webhook_id in self.deleted_webhooks or not _is_snowflake(webhook_id):
            return web.json_response({"message": "Unknown Webhook", "code": 10015}, status=404)
        return web.json_response(
            {
                "type": 1,
                "id": webhook_id,
                "name": DEFAULT_USERNAME,
                "avatar": None,
                "channel_id": self._channel_id(webhook_id),
                "guild_id": None,
                "application_id": None,
            }
        )

    # ---------------------------------------------------------------- records and console

    def _record(
        self,
        request: web.Request,
        webhook_id: str,
        thread_id: str | None,
        status: int,
        reason: str,
    ) -> None:
        token = request.match_info.get("token", "")
        path = request.path.replace(f"/{token}", "/***") if token else request.path
        self.requests.append(
            RequestRecord(
                method=request.method,
                path=path,
                webhook_id=webhook_id,
                thread_id=thread_id,
                received_at=self.wall_clock(),
                status=status,
                reason=reason,
            )
        )
        if reason:
            self._say(f"{self._prefix(webhook_id, thread_id)} rejected {status}: {reason}")

    def _prefix(
        self, webhook_id: str, thread_id: str | None, thread_name: str | None = None
    ) -> str:
        where = f"webhook {_short_id(webhook_id)}"
        if thread_id:
            where += f" thread {thread_id}"
        if thread_name:
            where += f" {_one_line(thread_name, 40)!r}"
        return f"[{where}]"

    def _say(self, line: str) -> None:
        if self.echo is not None:
            print(line, file=self.echo, flush=True)

    # ---------------------------------------------------------------- inspection API

    def _messages_json(self, webhook_id: str | None) -> list[dict[str, Any]]:
        return [
            m.to_json() for m in self.messages if webhook_id is None or m.webhook_id == webhook_id
        ]

    async def _list_messages(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._messages_json(request.query.get("webhook_id")))

    async def _clear_messages(self, request: web.Request) -> web.StreamResponse:
        self.messages.clear()
        self.requests.clear()
        return web.Response(status=204)

    async def _list_requests(self, request: web.Request) -> web.StreamResponse:
        webhook_id = request.query.get("webhook_id")
        return web.json_response(
            [r.to_json() for r in self.requests if webhook_id is None or r.webhook_id == webhook_id]
        )

    async def _stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.stats())

    async def _list_faults(self, request: web.Request) -> web.StreamResponse:
        return web.json_response([f.to_json() for f in self._faults])

    async def _add_fault(self, request: web.Request) -> web.StreamResponse:
        try:
            spec = await request.json()
        except ValueError:
            return _control_error('the fault must be a JSON object, e.g. {"status": 500}')
        if not isinstance(spec, dict):
            return _control_error('the fault must be a JSON object, e.g. {"status": 500}')
        known = {"status", "count", "webhook_id", "retry_after", "body", "delay"}
        unknown = sorted(set(spec) - known)
        if unknown:
            return _control_error(
                f"unknown fault key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        if "status" not in spec:
            return _control_error('the fault needs a "status", e.g. {"status": 500}')
        try:
            self.inject_fault(**spec)
        except (TypeError, ValueError) as exc:
            return _control_error(str(exc))
        return web.json_response({"faults": [f.to_json() for f in self._faults]}, status=201)

    async def _clear_faults(self, request: web.Request) -> web.StreamResponse:
        self.clear_faults()
        return web.Response(status=204)

    async def _delete_webhook(self, request: web.Request) -> web.StreamResponse:
        self.delete_webhook(request.match_info["webhook_id"])
        return web.Response(status=204)

    async def _restore_webhook(self, request: web.Request) -> web.StreamResponse:
        self.restore_webhook(request.match_info["webhook_id"])
        return web.Response(status=204)

    async def _control_json(self, request: web.Request, example: str) -> dict[str, Any]:
        try:
            spec = await request.json()
        except ValueError:
            spec = None
        if not isinstance(spec, dict):
            raise _ControlError(f"the body must be a JSON object, e.g. {example}")
        return spec

    async def _set_token(self, request: web.Request) -> web.StreamResponse:
        """``{"token": "..."}``: the only valid token from now on; ``{"token": null}``: any."""
        try:
            spec = await self._control_json(request, '{"token": "new-token"}')
            self.set_token(request.match_info["webhook_id"], spec.get("token"))
        except (_ControlError, ValueError) as exc:
            return _control_error(str(exc))
        return web.Response(status=204)

    async def _set_forum(self, request: web.Request) -> web.StreamResponse:
        """``{"forum": true}`` (the default for an empty body) or ``{"forum": false}``."""
        forum = True
        if request.can_read_body:
            try:
                spec = await self._control_json(request, '{"forum": true}')
            except _ControlError as exc:
                return _control_error(str(exc))
            forum = spec.get("forum", True)
            if not isinstance(forum, bool):
                return _control_error('"forum" must be true or false')
        self.set_forum(request.match_info["webhook_id"], forum)
        return web.Response(status=204)

    async def _add_thread(self, request: web.Request) -> web.StreamResponse:
        """``{"name": "...", "id": "..."?}``: register a thread; answers it (201)."""
        try:
            spec = await self._control_json(request, '{"name": "incidents"}')
            name: Any = spec.get("name")
            thread_id = self.add_thread(request.match_info["webhook_id"], name, spec.get("id"))
        except (_ControlError, ValueError) as exc:
            return _control_error(str(exc))
        return web.json_response(self.threads[thread_id].to_json(), status=201)

    async def _list_threads(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._threads_json())

    def _threads_json(self) -> list[dict[str, Any]]:
        out = []
        for thread in self.threads.values():
            item = thread.to_json()
            item["messages"] = [
                m.message_id for m in self.messages if m.thread_id == thread.thread_id
            ]
            out.append(item)
        return out

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return web.Response(status=204)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        """The page for people: recent messages (latest version, an "edited N×" mark and the
        earlier versions), then each thread with its name and messages, then rejections."""
        rows = [self._message_row(m, where=True) for m in reversed(self.messages[-50:])]
        threads = []
        for thread in list(self.threads.values())[-20:]:
            in_thread = [m for m in self.messages if m.thread_id == thread.thread_id]
            kind = "forum post" if thread.forum_post else "thread"
            title = thread.name if thread.name else f"thread {thread.thread_id}"
            body = "".join(self._message_row(m, where=False) for m in in_thread[-20:])
            threads.append(
                f"<h3>{html.escape(title)} <small>({kind} {thread.thread_id}, "
                f"{len(in_thread)} messages)</small></h3>"
                f"<table>{body or '<tr><td>no messages</td></tr>'}</table>"
            )
        rejected = [r for r in self.requests if r.reason][-20:]
        rejections = "".join(
            f"<li>{r.status} {html.escape(_short_id(r.webhook_id))}: {html.escape(r.reason)}</li>"
            for r in reversed(rejected)
        )
        page = _INDEX_PAGE.format(
            count=len(self.messages),
            rows="".join(rows) or '<tr><td colspan="4">no messages yet</td></tr>',
            threads="".join(threads) or "<p>none</p>",
            rejections=rejections or "<li>none</li>",
            example=html.escape(self.webhook_url() if self._base_url else "/api/webhooks/ID/TOKEN"),
        )
        return web.Response(text=page, content_type="text/html")

    def _message_row(self, m: ReceivedMessage, *, where: bool) -> str:
        when = datetime.fromtimestamp(m.received_at, tz=UTC).strftime("%H:%M:%S")
        cells = [f"<td>{when}</td>"]
        if where:
            place = _short_id(m.webhook_id)
            if m.thread_id:
                place += f" thread {m.thread_name or m.thread_id}"
            cells.append(f"<td>{html.escape(place)}</td>")
        notes = []
        if m.edits:
            notes.append(f'<span class="edited">edited {len(m.edits)}×</span>')
        if not m.pings.nobody:
            notes.append(html.escape(_describe_pings(m).strip(" ()")))
        if m.silent:
            notes.append("silent")
        text = html.escape(describe_message(m.payload))
        if m.edits:
            original = describe_message(m.original_payload or {})
            history = f"<li>{html.escape(original)}</li>" + "".join(
                f"<li>{datetime.fromtimestamp(e.edited_at, tz=UTC).strftime('%H:%M:%S')} "
                f"{html.escape(json.dumps(e.changes, ensure_ascii=False)[:300])}</li>"
                for e in m.edits
            )
            text += f"<details><summary>history</summary><ol>{history}</ol></details>"
        cells.append(f"<td>{text}</td><td>{' · '.join(notes)}</td>")
        return f"<tr>{''.join(cells)}</tr>"


_INDEX_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Leyden Discord emulator</title>
<style>body{{font-family:sans-serif;margin:2em}}td{{padding:.2em .8em;vertical-align:top}}
.edited{{color:#a60}}</style>
</head><body>
<h1>Leyden Discord emulator</h1>
<p>Webhook URL to use: <code>{example}</code> (any id and token work).
JSON: <a href="/messages">/messages</a>, <a href="/_emulator/threads">/_emulator/threads</a>,
<a href="/_emulator/requests">/_emulator/requests</a>.</p>
<h2>Recent messages ({count} received)</h2>
<table>{rows}</table>
<h2>Threads</h2>
{threads}
<h2>Recent rejections</h2>
<ul>{rejections}</ul>
</body></html>
"""


class _ControlError(Exception):
    """A bad request to the emulator's own control API (answered 400 with the reason)."""


def _control_error(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


# --------------------------------------------------------------------------- command line


async def serve(host: str, port: int, *, banner: TextIO | None = None, **kw: Any) -> None:
    """Run an emulator until cancelled, announcing where it listens."""
    emulator = DiscordEmulator(**kw)
    base = await emulator.start(host, port)
    out = banner if banner is not None else sys.stdout
    print(
        f"Discord emulator listening on {base} — webhook URL: {emulator.webhook_url()}",
        file=out,
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def _limit(text: str) -> int | None:
    """A limit in requests; 0 turns it off (None)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, got {value}")
    return value or None


def _channel(text: str) -> tuple[str, list[str]]:
    name, sep, ids = text.partition("=")
    webhooks = [w.strip() for w in ids.split(",") if w.strip()]
    if not sep or not name.strip() or not webhooks:
        raise argparse.ArgumentTypeError(f"must be NAME=WEBHOOK_ID[,WEBHOOK_ID...], got {text!r}")
    return name.strip(), webhooks


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leyden discord-emulator",
        description="Run a local fake of Discord's webhook API for trying Leyden without Discord.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=_port, default=9093, help="port to listen on (9093)")
    parser.add_argument(
        "--rate-limit",
        type=_positive_int,
        default=5,
        help="requests allowed per webhook per window (5)",
    )
    parser.add_argument(
        "--rate-window", type=_positive_seconds, default=2.0, help="window in seconds (2)"
    )
    parser.add_argument(
        "--channel-limit",
        type=_limit,
        default=30,
        help="messages allowed per channel per channel window, 0 for no limit (30)",
    )
    parser.add_argument(
        "--channel-window",
        type=_positive_seconds,
        default=60.0,
        help="per-channel window in seconds (60)",
    )
    parser.add_argument(
        "--channel",
        type=_channel,
        action="append",
        default=[],
        metavar="NAME=ID,ID...",
        help="webhook ids that post into one channel and share its limit (repeatable)",
    )
    parser.add_argument(
        "--global-limit",
        type=_limit,
        default=50,
        help="requests allowed per second from the host, 0 for no limit (50)",
    )
    parser.add_argument(
        "--forum",
        action="append",
        default=[],
        metavar="WEBHOOK_ID",
        help="this webhook posts into a forum channel: thread_name or thread_id required "
        "(repeatable)",
    )
    parser.add_argument(
        "--strict-threads",
        action="store_true",
        help="answer 404 Unknown Channel to a thread_id no forum post opened",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not print a line per message received"
    )
    return parser


async def _run_until_signal(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    server = asyncio.create_task(
        serve(
            args.host,
            args.port,
            rate_limit=args.rate_limit,
            rate_window=args.rate_window,
            channel_limit=args.channel_limit,
            channel_window=args.channel_window,
            channels={webhook: name for name, ids in args.channel for webhook in ids},
            global_limit=args.global_limit,
            forum_webhooks=args.forum,
            strict_threads=args.strict_threads,
            echo=None if args.quiet else sys.stdout,
        )
    )
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({server, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        stopper.cancel()
        if not server.done():
            server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server  # re-raises a startup error such as "address in use"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(_run_until_signal(args))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            f"leyden discord-emulator: cannot listen on {args.host}:{args.port}: {reason}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
