"""An alert event's Discord message as Discord would show it: built by the real payload code,
then drawn in HTML.

The body comes from the Discord integration itself (:meth:`DiscordService.prepare
<leyden.notify.discord.service.DiscordService.prepare>`, the code that posts it): the handler
bound to the event's topic, with its options over its workspace's; without one, the default
workspace's message; without any workspace, Kapacitor's embed
(:func:`~leyden.notify.discord.payload.build_alert_payload`).  Nothing here re-implements a
rule of the payload (limits, colours, fields, footer): a change there shows here.

Drawing follows Discord's client: the embed's colour as the bar on its left, the title (a link
when the embed has a ``url``), the description and field values with Discord's markdown
(bold, italics, underline, strikes, code; ``<t:…>`` timestamps and mentions), inline fields
three to a row, the footer with the timestamp.  Every text is escaped before any markup is
added (the markup is only this module's tags, never the text's), and the webhook URL, which
holds its token, never reaches the page; the avatar is not loaded either (it would leave the
page for another host): its initial stands in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from leyden.alerting.topics import Topics
from leyden.delivery.outbox import Outbox
from leyden.go.types import Time
from leyden.model.alert import Event, EventData
from leyden.notify.discord.handler import DiscordHandler
from leyden.notify.discord.payload import build_alert_payload
from leyden.notify.discord.service import (
    DiscordError,
    DiscordHandlerOptions,
    DiscordService,
)
from leyden.server.status.view import Selection, ago

__all__ = ["EmbedField", "EmbedView", "MessagePreview", "discord_markdown", "preview"]


@dataclass(frozen=True, slots=True)
class EmbedField:
    name: Markup
    value: Markup
    inline: bool


@dataclass(frozen=True, slots=True)
class EmbedView:
    #: ``#rrggbb``: the bar on the embed's left
    color: str
    title: str
    #: the title's link; only http(s)
    url: str
    description: Markup
    fields: tuple[EmbedField, ...]
    footer: str
    #: RFC 3339 (the ``datetime`` of a ``<time>``) and as shown
    timestamp: str
    timestamp_text: str


@dataclass(frozen=True, slots=True)
class MessagePreview:
    """One Discord message, or why there is none (``error``)."""

    #: what was previewed, for the caption: ``cpu:host=a in topic main:cpu:alert2``
    subject: str = ""
    #: which handler or workspace made it, and what the preview could not know
    source: str = ""
    notes: tuple[str, ...] = ()
    username: str = ""
    content: Markup = field(default_factory=Markup)
    embeds: tuple[EmbedView, ...] = ()
    silent: bool = False
    error: str = ""


# --- Discord's markdown ----------------------------------------------------------------------

_CODE = re.compile(r"```(?:[A-Za-z0-9_+-]*\n)?(.*?)```|`([^`\n]+)`", re.S)
# applied to escaped text: ``<`` is ``&lt;`` there, ``&`` is ``&amp;``
_STYLES = (
    (re.compile(r"\*\*(.+?)\*\*", re.S), r"<strong>\1</strong>"),
    (re.compile(r"__(.+?)__", re.S), r"<u>\1</u>"),
    (re.compile(r"~~(.+?)~~", re.S), r"<s>\1</s>"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", re.S), r"<em>\1</em>"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])", re.S), r"<em>\1</em>"),
)
_TIMESTAMP = re.compile(r"&lt;t:(-?\d{1,12})(?::([tTdDfFR]))?&gt;")
_ROLE = re.compile(r"&lt;@&amp;(\d{1,20})&gt;")
_USER = re.compile(r"&lt;@!?(\d{1,20})&gt;")
_EVERYONE = re.compile(r"@(everyone|here)\b")

#: Discord's timestamp styles (shown in UTC here; the page's script turns them local)
_STYLE_FORMATS = {
    "t": "%H:%M",
    "T": "%H:%M:%S",
    "d": "%Y-%m-%d",
    "D": "%d %B %Y",
    "f": "%d %B %Y %H:%M",
    "F": "%A, %d %B %Y %H:%M",
}


def _timestamp(match: re.Match[str], now: float) -> str:
    seconds = int(match.group(1))
    style = match.group(2) or "f"
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return match.group(0)
    iso = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "R":
        delta = now - seconds
        text = f"{ago(delta)} ago" if delta >= 0 else f"in {ago(-delta)}"
        return f'<time class="ts" datetime="{iso}">{text}</time>'
    text = moment.strftime(_STYLE_FORMATS[style]) + " UTC"
    return f'<time class="ts local" data-style="{style}" datetime="{iso}">{text}</time>'


def _inline(text: str, now: float) -> str:
    html = str(escape(text))
    for pattern, tag in _STYLES:
        html = pattern.sub(tag, html)
    html = _TIMESTAMP.sub(lambda m: _timestamp(m, now), html)
    html = _ROLE.sub(r'<span class="mention">@role \1</span>', html)
    html = _USER.sub(r'<span class="mention">@user \1</span>', html)
    return _EVERYONE.sub(r'<span class="mention">@\1</span>', html)


def discord_markdown(text: str, now: float) -> Markup:
    """``text`` as Discord's client shows a description, field value or content: escaped,
    then the markdown subset it renders (code first, whose inside stays as written)."""
    parts: list[str] = []
    pos = 0
    for match in _CODE.finditer(text):
        parts.append(_inline(text[pos : match.start()], now))
        if match.group(1) is not None:
            parts.append(f"<pre><code>{escape(match.group(1))}</code></pre>")
        else:
            parts.append(f"<code>{escape(match.group(2))}</code>")
        pos = match.end()
    parts.append(_inline(text[pos:], now))
    # every piece above is escaped text or one of this module's own tags
    return Markup("".join(parts))


# --- the payload, drawn ----------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _embed(embed: Mapping[str, Any], now: float) -> EmbedView:
    color = embed.get("color")
    url = _text(embed.get("url"))
    timestamp = _text(embed.get("timestamp"))
    shown = ""
    if timestamp:
        try:
            moment = Time.parse_rfc3339(timestamp)
            shown = Time(moment).rfc3339().replace("T", " ").replace("Z", " UTC")
        except ValueError:
            shown = timestamp
    footer = embed.get("footer")
    fields = embed.get("fields") if isinstance(embed.get("fields"), list) else []
    return EmbedView(
        color=f"#{color:06x}" if isinstance(color, int) and 0 <= color <= 0xFFFFFF else "",
        title=_text(embed.get("title")),
        url=url if url.startswith(("https://", "http://")) else "",
        description=discord_markdown(_text(embed.get("description")), now),
        fields=tuple(
            EmbedField(
                name=discord_markdown(_text(f.get("name")), now),
                value=discord_markdown(_text(f.get("value")), now),
                inline=bool(f.get("inline")),
            )
            for f in fields or ()
            if isinstance(f, dict)
        ),
        footer=_text(footer.get("text")) if isinstance(footer, dict) else "",
        timestamp=timestamp,
        timestamp_text=shown,
    )


def draw(payload: Mapping[str, Any], now: float) -> MessagePreview:
    """An execute-webhook body as Discord shows the message."""
    embeds = payload.get("embeds") if isinstance(payload.get("embeds"), list) else []
    flags = payload.get("flags")
    return MessagePreview(
        username=_text(payload.get("username")),
        content=discord_markdown(_text(payload.get("content")), now),
        embeds=tuple(_embed(e, now) for e in embeds or () if isinstance(e, dict)),
        silent=isinstance(flags, int) and bool(flags & (1 << 12)),
    )


# --- which event, which handler --------------------------------------------------------------


def _task_of(topic: str) -> str:
    """The task of an alert node's own topic (``main:<task>:<node>``; task IDs have no
    colon), or ``""`` for a named topic."""
    parts = topic.split(":")
    return parts[1] if len(parts) == 3 and parts[0] == "main" else ""


def _discord_handlers(topics: Topics, topic: str) -> list[tuple[str, DiscordHandler]]:
    """The Discord handlers bound to ``topic`` with their outbox keys."""
    found = topics.get(topic)
    if found is None:
        return []
    return [(a.key, a.target) for a in found.attached if isinstance(a.target, DiscordHandler)]


def _handler_named(topics: Topics, key: str) -> DiscordHandler | None:
    for topic_id in topics.ids():
        for handler_key, handler in _discord_handlers(topics, topic_id):
            if handler_key == key:
                return handler
    return None


def _workspace(name: str) -> str:
    return f'workspace "{name}"' if name else "the default workspace"


def _build(
    event: Event, handler: DiscordHandler | None, service: DiscordService | None
) -> tuple[dict[str, Any], str]:
    """(payload, source): the body Discord would get for ``event``."""
    if handler is not None:
        _, payload = handler.service.prepare(event, handler.options)
        return payload, f"as its Discord handler sends it ({_workspace(handler.options.workspace)})"
    if service is not None and service.workspace_names():
        try:
            _, payload = service.prepare(event, DiscordHandlerOptions())
            return payload, (
                "no Discord handler bound: as .discord() with the default workspace would send it"
            )
        except DiscordError:
            pass  # no default workspace: Kapacitor's own embed below
    payload = build_alert_payload(message=event.state.message, level=event.state.level)
    return payload, "no Discord workspace applies: Kapacitor's alert embed"


def preview(
    selection: Selection,
    topics: Topics,
    outbox: Outbox,
    service: DiscordService | None,
    *,
    clock: Callable[[], float],
) -> MessagePreview | None:
    """The selected event's Discord message; None when nothing is selected."""
    now = clock()
    notes: list[str] = []
    handler: DiscordHandler | None
    if selection.delivery is not None:
        row = outbox.get(selection.delivery)
        if row is None:
            return MessagePreview(error=f"no delivery with ID {selection.delivery}")
        try:
            event = row.to_event()
        except ValueError as exc:
            return MessagePreview(error=str(exc))
        handler = _handler_named(topics, row.handler) if row.kind == "discord" else None
        subject = f"delivery {row.id} ({event.state.id})"
        if row.kind != "discord":
            notes.append(f"this delivery goes to a {row.kind} handler, not Discord")
        elif handler is None:
            notes.append("its handler is not bound any more (its task or topic handler is gone)")
    elif selection.topic:
        topic = topics.get(selection.topic)
        found = topic.latest_event(selection.event) if topic is not None else None
        if topic is None or found is None:
            return MessagePreview(
                error=f"no event {selection.event!r} in topic {selection.topic!r} (any more)"
            )
        event = found
        if selection.event not in topic.latest_data:
            # restored from the store at start: the state is kept, not the point behind it
            event = Event(event.topic, event.state, EventData(task_name=_task_of(event.topic)))
            notes.append(
                "this state was restored at start: its tags and fields are not known, so "
                "templates and fields that use them show empty"
            )
        bound = _discord_handlers(topics, selection.topic)
        handler = bound[0][1] if bound else None
        if len(bound) > 1:
            notes.append(f"the first of {len(bound)} Discord handlers on this topic")
        subject = f"{event.state.id} in topic {selection.topic}"
    else:
        return None
    try:
        payload, source = _build(event, handler, service)
    except DiscordError as exc:
        return MessagePreview(subject=subject, error=str(exc))
    drawn = draw(payload, now)
    return MessagePreview(
        subject=subject,
        source=source,
        notes=tuple(notes),
        username=drawn.username,
        content=drawn.content,
        embeds=drawn.embeds,
        silent=drawn.silent,
    )
