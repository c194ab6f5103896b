"""Execute-webhook bodies that Discord accepts, and a checker for the ones it would refuse.

Discord rejects a whole message (HTTP 400, code 50035) when any text is over its limit, so an
alert with a long message would simply be lost.  Everything here therefore *fits* text instead
of failing: over-long text is cut and ends with a visible marker, so a reader knows more was
there.  Limits are counted the way Discord counts them: in Unicode code points, after stripping
leading and trailing whitespace (Python's ``len`` on ``str.strip()``).

Empty strings are never sent: Discord refuses ``"username": ""`` and an empty ``title`` or
``timestamp`` means nothing, so those keys are left out instead.

``validate_payload`` is pure and depends on nothing but the standard library, so the Discord
emulator can use it to refuse what real Discord would refuse.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from leyden.model.alert import Level
from leyden.notify.discord.webhook import USERNAME_MAX, USERNAME_MIN, forbidden_username

# Discord's documented limits (execute webhook / embed object).
CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_NAME_LIMIT = 256
TOTAL_EMBED_LIMIT = 6000
COLOR_MAX = 0xFFFFFF

#: Ends long texts (descriptions, field values, footers, content) that had to be cut.
LONG_MARKER = " … (truncated)"
#: Ends short texts (titles, names) that had to be cut, where a note would eat the room.
SHORT_MARKER = "…"
#: Sent instead of an empty alert message; Discord refuses a message with nothing to show.
EMPTY_DESCRIPTION = "(no message)"
#: Fills an empty embed field name or value, which Discord requires; it renders as nothing.
EMPTY_FIELD = "\u200b"

#: Embed colours per level.  Kapacitor's for CRITICAL, WARNING and INFO; OK is green here
#: (Kapacitor reuses the INFO purple, so a recovery looked like a new alert).
LEVEL_COLORS: dict[Level, int] = {
    Level.CRITICAL: 0xF95F53,
    Level.WARNING: 0xF48D38,
    Level.INFO: 0x7A65F2,
    Level.OK: 0x2ECC71,
}


def text_length(text: str) -> int:
    """Length as Discord counts it: code points after trimming surrounding whitespace."""
    return len(text.strip())


def fit_text(text: str, limit: int, marker: str = LONG_MARKER) -> str:
    """Return ``text`` unchanged if it fits ``limit``, else cut it and end it with ``marker``.

    The marker shrinks to a bare "…" when the limit is too small for the note.
    """
    if text_length(text) <= limit:
        return text
    if limit <= 0:
        return ""
    stripped = text.strip()
    if len(marker) >= limit:
        marker = SHORT_MARKER if limit > len(SHORT_MARKER) else ""
    kept = stripped[: limit - len(marker)].rstrip()
    return kept + marker


def alert_embed(
    *,
    message: str,
    level: Level,
    title: str = "",
    timestamp: str = "",
    url: str = "",
    fields: Sequence[Mapping[str, Any]] = (),
    footer: str = "",
) -> dict[str, Any]:
    """The embed Kapacitor sends for an alert: colour by level, the message as description
    (``EMPTY_DESCRIPTION`` when blank, so Discord does not refuse an empty embed), an optional
    title and RFC3339 timestamp; and Leyden's additions when given: the title's link
    (``url``), fields and a footer.  Not yet fitted (:func:`combine_embeds` fits it all)."""
    embed: dict[str, Any] = {"color": LEVEL_COLORS.get(level, LEVEL_COLORS[Level.INFO])}
    if title.strip():
        embed["title"] = title
    if url.strip():
        embed["url"] = url
    embed["description"] = message if message.strip() else EMPTY_DESCRIPTION
    if fields:
        embed["fields"] = [dict(f) for f in fields]
    if footer.strip():
        embed["footer"] = {"text": footer}
    if timestamp.strip():
        embed["timestamp"] = timestamp
    return embed


# --- Leyden's additions: incident time, tags, footer, mentions, silence -------------------------

#: Discord's message flag that sends without a push or desktop notification (1 << 12).
SUPPRESS_NOTIFICATIONS = 1 << 12
#: Discord takes at most 100 role and 100 user IDs in ``allowed_mentions``.
MENTIONS_LIMIT = 100


def human_duration(ns: int) -> str:
    """``2d 3h``, ``1h 5m``, ``4m 20s``, ``12s``: the two largest units, for people."""
    seconds = max(0, ns) // 1_000_000_000
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count or (unit == "s" and not parts):
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


def incident_field(
    level: Level, previous: Level, time_ns: int, duration_ns: int
) -> dict[str, Any] | None:
    """``Since <t:START:R>`` (Discord shows it in each reader's time, relative) for a problem;
    ``Lasted 4m 20s`` for a recovery; None for an OK that ends nothing.  The incident started
    at the event's time minus its duration (Kapacitor's ``.Duration``: since the alert's first
    non-OK event)."""
    if level is Level.OK:
        if previous is Level.OK and duration_ns <= 0:
            return None
        return {"name": "Lasted", "value": human_duration(duration_ns), "inline": True}
    start = (time_ns - max(0, duration_ns)) // 1_000_000_000
    return {"name": "Since", "value": f"<t:{start}:R>", "inline": True}


def tag_fields(tags: Mapping[str, str]) -> list[dict[str, Any]]:
    """The alert's group tags as inline fields, in order; an empty value (Discord refuses one)
    shows as ``EMPTY_FIELD``; names and values are cut by :func:`fit_payload`."""
    return [
        {"name": key, "value": value if value.strip() else EMPTY_FIELD, "inline": True}
        for key, value in tags.items()
    ]


def alert_footer(task: str, alert_id: str) -> str:
    """``task · alert ID``: which task and alert sent this, for finding it later."""
    return " · ".join(part for part in (task, alert_id) if part.strip())


def mentions(
    roles: Sequence[str], users: Sequence[str], room: int = CONTENT_LIMIT
) -> tuple[str, dict[str, Any]]:
    """The content that pings ``roles`` and ``users`` and the ``allowed_mentions`` naming
    exactly them (``parse`` empty, so nothing else in the message can ping: an ``@everyone``
    in an alert message stays text).  Mentions are never cut: those that do not fit ``room``
    (or Discord's 100 per kind) are left out of both."""
    allowed: dict[str, Any] = {"parse": []}
    texts: list[str] = []
    used = 0
    for key, ids, form in (("roles", roles, "<@&{}>"), ("users", users, "<@{}>")):
        kept: list[str] = []
        for snowflake in dict.fromkeys(ids):  # once each, in order
            text = form.format(snowflake)
            need = len(text) + (1 if texts else 0)
            if len(kept) >= MENTIONS_LIMIT or used + need > room:
                break
            texts.append(text)
            kept.append(snowflake)
            used += need
        if kept:
            allowed[key] = kept
    return " ".join(texts), allowed


def combine_embeds(
    embeds: list[dict[str, Any]],
    *,
    username: str = "",
    avatar_url: str = "",
    content: str = "",
    allowed_mentions: Mapping[str, Any] | None = None,
    flags: int = 0,
) -> dict[str, Any]:
    """One message carrying ``embeds`` in order (coalescing: up to ``EMBEDS_LIMIT`` alerts to
    one webhook share a request), fitted to every limit: the 6000-character total is shared
    out evenly (:func:`fit_payload`), empty identity fields are left out; ``allowed_mentions``
    and ``flags`` (0: none) are sent as given."""
    payload: dict[str, Any] = {}
    if username.strip():
        payload["username"] = username
    if avatar_url.strip():
        payload["avatar_url"] = avatar_url
    if content.strip():
        payload["content"] = content
    payload["embeds"] = embeds
    if allowed_mentions is not None:
        payload["allowed_mentions"] = dict(allowed_mentions)
    if flags:
        payload["flags"] = flags
    return fit_payload(payload)


def build_alert_payload(
    *,
    message: str,
    level: Level,
    title: str = "",
    username: str = "",
    avatar_url: str = "",
    timestamp: str = "",
) -> dict[str, Any]:
    """The one-embed body Kapacitor sends for an alert, with empty fields left out and fitted.

    The description is the alert message; an empty (or all-blank) message becomes
    ``EMPTY_DESCRIPTION`` so Discord does not refuse the post as an empty embed.
    """
    embed = alert_embed(message=message, level=level, title=title, timestamp=timestamp)
    return combine_embeds([embed], username=username, avatar_url=avatar_url)


# --- fitting any payload ---------------------------------------------------------------------

# Keys whose empty string value Discord refuses or which say nothing when empty.
_OPTIONAL_TOP_KEYS = ("content", "username", "avatar_url", "thread_name")
_OPTIONAL_EMBED_KEYS = ("title", "description", "url", "timestamp")


def _drop_empty(mapping: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str) and not value.strip():
            del mapping[key]


def _fit_embed(embed: dict[str, Any]) -> dict[str, Any]:
    embed = dict(embed)
    _drop_empty(embed, _OPTIONAL_EMBED_KEYS)
    if isinstance(embed.get("title"), str):
        embed["title"] = fit_text(embed["title"], TITLE_LIMIT, SHORT_MARKER)
    if isinstance(embed.get("description"), str):
        embed["description"] = fit_text(embed["description"], DESCRIPTION_LIMIT)
    footer = embed.get("footer")
    if isinstance(footer, dict):
        footer = dict(footer)
        text = footer.get("text")
        if isinstance(text, str) and not text.strip():
            del embed["footer"]
        else:
            if isinstance(text, str):
                footer["text"] = fit_text(text, FOOTER_LIMIT)
            embed["footer"] = footer
    author = embed.get("author")
    if isinstance(author, dict):
        author = dict(author)
        name = author.get("name")
        if isinstance(name, str) and not name.strip():
            del embed["author"]
        else:
            if isinstance(name, str):
                author["name"] = fit_text(name, AUTHOR_NAME_LIMIT, SHORT_MARKER)
            embed["author"] = author
    fields = embed.get("fields")
    if isinstance(fields, list):
        fitted = [_fit_field(f) if isinstance(f, dict) else f for f in fields]
        if len(fitted) > FIELDS_LIMIT:
            hidden = len(fitted) - (FIELDS_LIMIT - 1)
            fitted = [
                *fitted[: FIELDS_LIMIT - 1],
                {"name": SHORT_MARKER, "value": f"{hidden} more fields not shown"},
            ]
        if fitted:
            embed["fields"] = fitted
        else:
            del embed["fields"]
    return embed


def _fit_field(field: dict[str, Any]) -> dict[str, Any]:
    field = dict(field)
    for key, limit, marker in (
        ("name", FIELD_NAME_LIMIT, SHORT_MARKER),
        ("value", FIELD_VALUE_LIMIT, LONG_MARKER),
    ):
        text = field.get(key)
        if text is None or (isinstance(text, str) and not text.strip()):
            field[key] = EMPTY_FIELD
        elif isinstance(text, str):
            field[key] = fit_text(text, limit, marker)
    return field


# A counted text inside the embeds: (container, key, marker used when cutting it).
_Slot = tuple[dict[str, Any], str, str]


def _counted_slots(embeds: list[Any]) -> list[_Slot]:
    """Every text that counts toward the 6000 total, in message order."""
    slots: list[_Slot] = []
    for embed in embeds:
        if not isinstance(embed, dict):
            continue
        for key, marker in (("title", SHORT_MARKER), ("description", LONG_MARKER)):
            if isinstance(embed.get(key), str):
                slots.append((embed, key, marker))
        for field in embed.get("fields") or ():
            if isinstance(field, dict):
                for key, marker in (("name", SHORT_MARKER), ("value", LONG_MARKER)):
                    if isinstance(field.get(key), str):
                        slots.append((field, key, marker))
        footer = embed.get("footer")
        if isinstance(footer, dict) and isinstance(footer.get("text"), str):
            slots.append((footer, "text", LONG_MARKER))
        author = embed.get("author")
        if isinstance(author, dict) and isinstance(author.get("name"), str):
            slots.append((author, "name", SHORT_MARKER))
    return slots


_TIMESTAMP_MARKUP = re.compile(r"<t:-?[0-9]{1,16}(?::[tTdDfFR])?>")


def _fit_total(embeds: list[Any]) -> None:
    """Cut the longest texts to a common cap until the embeds fit the 6000 total.

    Water-filling: short texts (titles, names) are untouched while long ones share the room
    evenly, so with several coalesced alerts every one keeps a readable part of its message.
    """
    every = _counted_slots(embeds)
    if sum(text_length(container[key]) for container, key, _ in every) <= TOTAL_EMBED_LIMIT:
        return
    # A Discord timestamp (``<t:…:R>``) cut in half would show as garbage: it keeps its room.
    kept = [s for s in every if _TIMESTAMP_MARKUP.fullmatch(s[0][s[1]]) is not None]
    slots = [s for s in every if _TIMESTAMP_MARKUP.fullmatch(s[0][s[1]]) is None]
    lengths = [text_length(container[key]) for container, key, _ in slots]
    # Largest cap such that sum(min(length, cap)) <= limit.
    room = TOTAL_EMBED_LIMIT - sum(text_length(c[k]) for c, k, _ in kept)
    cap, remaining, count = 0, room, len(lengths)
    for length in sorted(lengths):
        share = remaining // count
        if length <= share:
            remaining -= length
            count -= 1
            continue
        cap = share
        break
    for container, key, marker in slots:
        if text_length(container[key]) > cap:
            container[key] = fit_text(container[key], cap, marker) or EMPTY_FIELD


def fit_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``payload`` that fits every Discord limit ``validate_payload`` checks by length.

    Over-long texts are cut with a marker; empty optional strings are dropped; more than 10
    embeds keep the first 10 and say in ``content`` how many were left out; more than 25
    fields per embed keep 24 and add a field saying how many were left out.  Values of the
    wrong type, bad colours and forbidden usernames are left for ``validate_payload`` to report:
    guessing what was meant would hide a bug.
    """
    payload = copy.deepcopy(payload)
    _drop_empty(payload, _OPTIONAL_TOP_KEYS)
    username = payload.get("username")
    if isinstance(username, str):
        payload["username"] = fit_text(username, USERNAME_MAX, SHORT_MARKER)
    note = ""
    embeds = payload.get("embeds")
    if isinstance(embeds, list):
        embeds = [_fit_embed(e) if isinstance(e, dict) else e for e in embeds]
        if len(embeds) > EMBEDS_LIMIT:
            note = f"({len(embeds) - EMBEDS_LIMIT} more alerts not shown)"
            embeds = embeds[:EMBEDS_LIMIT]
        _fit_total(embeds)
        payload["embeds"] = embeds
    content = payload.get("content")
    if isinstance(content, str):
        if note:  # the note must survive, so the content gives up room for it
            content = fit_text(content, CONTENT_LIMIT - len(note) - 1).rstrip() + "\n" + note
        payload["content"] = fit_text(content, CONTENT_LIMIT)
    elif note and content is None:
        payload["content"] = note
    return payload


# --- validation ------------------------------------------------------------------------------


def _too_long(limit: int) -> str:
    return f"Must be {limit} or fewer in length."


def _check_text(
    problems: list[str], path: str, value: Any, limit: int, *, required: bool = False
) -> int:
    """Record type/length problems of one text; return its counted length (0 if unusable)."""
    if value is None:
        if required:
            problems.append(f"{path}: This field is required")
        return 0
    if not isinstance(value, str):
        problems.append(f"{path}: Must be a string.")
        return 0
    length = text_length(value)
    if required and length == 0:
        problems.append(f"{path}: This field is required")
    if length > limit:
        problems.append(f"{path}: {_too_long(limit)}")
    return length


def _check_embed(problems: list[str], index: int, embed: Any) -> int:
    path = f"embeds.{index}"
    if not isinstance(embed, dict):
        problems.append(f"{path}: Must be an object.")
        return 0
    total = _check_text(problems, f"{path}.title", embed.get("title"), TITLE_LIMIT)
    total += _check_text(
        problems, f"{path}.description", embed.get("description"), DESCRIPTION_LIMIT
    )
    color = embed.get("color")
    if color is not None:
        if not isinstance(color, int) or isinstance(color, bool):
            problems.append(f"{path}.color: Value {color!r} is not int.")
        elif not 0 <= color <= COLOR_MAX:
            problems.append(f"{path}.color: Must be between 0 and {COLOR_MAX}.")
    timestamp = embed.get("timestamp")
    if timestamp is not None:
        if not isinstance(timestamp, str):
            problems.append(f"{path}.timestamp: Must be a string.")
        else:
            try:
                datetime.fromisoformat(timestamp)
            except ValueError:
                problems.append(
                    f"{path}.timestamp: Could not parse {timestamp!r}. Should be ISO8601."
                )
    fields = embed.get("fields")
    if fields is not None:
        if not isinstance(fields, list):
            problems.append(f"{path}.fields: Must be an array.")
        else:
            if len(fields) > FIELDS_LIMIT:
                problems.append(f"{path}.fields: {_too_long(FIELDS_LIMIT)}")
            for i, field in enumerate(fields):
                fpath = f"{path}.fields.{i}"
                if not isinstance(field, dict):
                    problems.append(f"{fpath}: Must be an object.")
                    continue
                total += _check_text(
                    problems, f"{fpath}.name", field.get("name"), FIELD_NAME_LIMIT, required=True
                )
                total += _check_text(
                    problems,
                    f"{fpath}.value",
                    field.get("value"),
                    FIELD_VALUE_LIMIT,
                    required=True,
                )
    for key, subkey, limit in (
        ("footer", "text", FOOTER_LIMIT),
        ("author", "name", AUTHOR_NAME_LIMIT),
    ):
        sub = embed.get(key)
        if sub is None:
            continue
        if not isinstance(sub, dict):
            problems.append(f"{path}.{key}: Must be an object.")
            continue
        total += _check_text(
            problems, f"{path}.{key}.{subkey}", sub.get(subkey), limit, required=True
        )
    return total


def validate_payload(payload: Any) -> list[str]:
    """What Discord would refuse in an execute-webhook JSON body; empty when it is acceptable.

    Each entry is ``"<path>: <reason>"`` with Discord's own path style (``embeds.0.title``) and,
    where known, Discord's wording, so an emulator can answer the way Discord does.  An entry
    with the path ``message`` is a whole-request problem.
    """
    if not isinstance(payload, dict):
        return ["message: Body must be a JSON object."]
    problems: list[str] = []
    content_length = _check_text(problems, "content", payload.get("content"), CONTENT_LIMIT)
    username = payload.get("username")
    if username is not None:
        if not isinstance(username, str):
            problems.append("username: Must be a string.")
        else:
            length = text_length(username)
            if not USERNAME_MIN <= length <= USERNAME_MAX:
                problems.append(
                    f"username: Must be between {USERNAME_MIN} and {USERNAME_MAX} in length."
                )
            words, whole = forbidden_username(username)
            for part in words:
                problems.append(f'username: Username cannot contain "{part}"')
            if whole:
                problems.append(f'username: Username cannot be "{whole}"')
    avatar_url = payload.get("avatar_url")
    if avatar_url is not None and (
        not isinstance(avatar_url, str) or not avatar_url.startswith(("http://", "https://"))
    ):
        problems.append("avatar_url: Not a well formed URL.")
    embeds = payload.get("embeds")
    has_embeds = False
    if embeds is not None:
        if not isinstance(embeds, list):
            problems.append("embeds: Must be an array.")
        else:
            has_embeds = bool(embeds)
            if len(embeds) > EMBEDS_LIMIT:
                problems.append(f"embeds: {_too_long(EMBEDS_LIMIT)}")
            total = sum(_check_embed(problems, i, e) for i, e in enumerate(embeds))
            if total > TOTAL_EMBED_LIMIT:
                problems.append(f"embeds: Embed size exceeds maximum size of {TOTAL_EMBED_LIMIT}")
    if content_length == 0 and not has_embeds:
        problems.append("message: Cannot send an empty message")
    return problems
