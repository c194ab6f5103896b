"""Where an alert's incident lives on Discord: the message edited in place, the forum post.

``edit-in-place`` and ``forum-thread`` (issue 12) need, per (handler destination, alert ID),
the message id and thread id of the incident and its state (last and highest level, whether
it pinged, when it started), and need them to survive a restart: the next event of the
incident must edit the same message / land in the same thread.  The server keeps them in its
SQLite store (table ``incident_messages``, :meth:`leyden.store.Store.get_incident`); this
module says what the Discord service asks of such a store (:class:`IncidentStore`; ``notify``
may not import the store) and gives its in-memory twin for tests and storeless runs.

The key's ``scope`` is secret-free: the webhook's outbox destination (its id, never its
token) and a digest of what a reader sees as "who posts this" (the handler's workspace,
username, avatar and title template).  Two handlers that would post alike to the same webhook
(a topic handler and a task's inline one for the same alert ID, say) share one incident
message; one with another title keeps its own.  Changing a handler's mentions, link or flags
mid-incident keeps editing the same message; changing its username, avatar or title starts a
new one (Discord cannot change a webhook message's identity on edit anyway).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from leyden.model.alert import Event, Level
from leyden.model.records import IncidentMessage
from leyden.notify._http import DeliveryResult, SSLSetting, secret_digest
from leyden.notify.discord.payload import LEVEL_COLORS, SHORT_MARKER, fit_payload, fit_text
from leyden.notify.discord.sender import DiscordSender

__all__ = [
    "IncidentMessage",
    "IncidentMessages",
    "IncidentStore",
    "IncidentTarget",
    "MemoryIncidents",
    "incident_scope",
    "message_link",
    "thread_name",
]


class IncidentStore(Protocol):
    """The incident messages by (scope, alert ID); :class:`leyden.store.Store` is one."""

    def get_incident(self, scope: str, alert_id: str) -> IncidentMessage | None: ...

    def put_incident(self, record: IncidentMessage) -> None: ...

    def delete_incident(self, scope: str, alert_id: str) -> bool: ...


class MemoryIncidents:
    """:class:`IncidentStore` in a dict: lost at exit (tests, ``leyden replay``)."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], IncidentMessage] = {}

    def get_incident(self, scope: str, alert_id: str) -> IncidentMessage | None:
        return self._records.get((scope, alert_id))

    def put_incident(self, record: IncidentMessage) -> None:
        self._records[(record.scope, record.alert_id)] = record

    def delete_incident(self, scope: str, alert_id: str) -> bool:
        return self._records.pop((scope, alert_id), None) is not None

    def __len__(self) -> int:
        return len(self._records)


def incident_scope(destination: str, identity: str) -> str:
    """The secret-free scope of a handler's incidents: its destination and identity digest."""
    return f"{destination} ~{secret_digest(identity, length=16)}"


# --- the incident flow ---------------------------------------------------------------------

#: Discord's "Unknown Message": the message to edit was deleted (or is not this webhook's)
UNKNOWN_MESSAGE = 10008
#: Discord's "Unknown Channel": the thread to post in was deleted
UNKNOWN_CHANNEL = 10003
#: Discord's limit on a thread's (forum post's) name, in code points
THREAD_NAME_LIMIT = 100
#: what an edit may not carry: Discord refuses to change a webhook message's identity, and
#: flags other than SUPPRESS_EMBEDS, on edit; a thread is chosen at creation only
_NOT_ON_EDIT = ("username", "avatar_url", "tts", "flags", "thread_name", "applied_tags")


@dataclass(frozen=True, slots=True)
class IncidentTarget:
    """Where and how one handler's incidents go.  ``url`` holds the webhook token: it is only
    handed to the sender, never logged or stored."""

    url: str
    ssl: SSLSetting
    scope: str
    edit: bool
    forum: bool
    #: a fixed existing thread (``thread-id``), "" for none
    thread_id: str = ""


def thread_name(payload: Mapping[str, Any], alert_id: str) -> str:
    """A forum post's name: the embed's title and the alert ID (``Errors: cpu:host=web01``;
    the title alone when it already names the alert, the ID alone without a title), at most
    100 code points with the ID kept whole when it fits, never empty (Discord refuses an
    empty name).  A constant title alone would name every post of the forum the same."""
    embeds = payload.get("embeds") or [{}]
    raw = embeds[0].get("title") if isinstance(embeds[0], dict) else None
    title = " ".join(raw.split()) if isinstance(raw, str) else ""
    ident = " ".join(alert_id.split())
    if not ident or ident in title:
        name = title
    elif not title:
        name = ident
    else:
        room = THREAD_NAME_LIMIT - len(ident) - len(": ")
        name = f"{fit_text(title, room, SHORT_MARKER)}: {ident}" if room >= 8 else ident
    return fit_text(name, THREAD_NAME_LIMIT, SHORT_MARKER) or "alert"


def _pings(payload: Mapping[str, Any]) -> bool:
    """Whether ``payload`` notifies someone by mention: content and a non-empty allow list."""
    allowed = payload.get("allowed_mentions")
    if not isinstance(allowed, dict) or not str(payload.get("content") or "").strip():
        return False
    return any(allowed.get(key) for key in ("parse", "roles", "users"))


def message_link(guild_id: str, channel_id: str, message_id: str) -> str:
    """Discord's jump URL to a message; "" without all three ids (a guild's channel needs its
    guild id: the ``?wait=true`` answer usually lacks it, :meth:`DiscordSender.webhook_guild`
    reads it from the webhook)."""
    if not (guild_id and channel_id and message_id):
        return ""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


class IncidentMessages:
    """Sends one alert's events as one incident: a message edited in place and/or a forum
    post (see the module docstring and README "Edit in place").

    Each call is ONE event, handled in full or reported as not delivered: the record is
    written only after Discord confirmed, so a retry of the same event repeats at most the
    step that did not complete (an edit is idempotent; a post whose answer was lost is the
    one case that can show twice, see :meth:`send`).
    """

    def __init__(
        self,
        sender: DiscordSender,
        store: IncidentStore | None = None,
        *,
        logger: logging.Logger | None = None,
    ) -> None:
        self._sender = sender
        self.store: IncidentStore = store if store is not None else MemoryIncidents()
        self._log = logger or logging.getLogger("leyden.discord")
        #: per webhook URL: its guild id ("" when it could not be read), asked once per process
        self._guilds: dict[str, str] = {}

    async def send(
        self, event: Event, payload: Mapping[str, Any], target: IncidentTarget
    ) -> DeliveryResult:
        """Deliver ``event`` (``payload`` is its one-embed message) as part of its incident.

        No open incident (none yet, or the last one ended with OK and this event is not OK):
        a new message, sent with ``?wait=true`` (a new forum post with ``thread_name``), whose
        ids are kept.  Otherwise: with ``edit`` the message is edited (a deleted message or
        thread, Discord's 10008 or 10003, starts a new one), and a rise above the incident's highest level
        also posts a short notice linking to it, so people are notified (an edit notifies
        nobody); with ``forum`` alone the event is posted into the incident's thread.

        A post whose answer is lost (a timeout after Discord created the message, a crash
        before the id was stored) is retried by the outbox and shows twice: Discord's execute
        has no idempotency key.  The later message becomes the incident's; the window is one
        round trip, and a duplicate is better than a lost alert.
        """
        alert = event.state.id
        level = event.state.level
        record = self.store.get_incident(target.scope, alert)
        ongoing = record is not None and not (record.level == Level.OK and level != Level.OK)
        if record is not None and ongoing:
            started = record.started
        else:
            started = int(event.state.time) - int(event.state.duration)
        # the payload already says since when the incident is on, or how long it lasted
        # (payload.incident_field, from the event's duration, as for every Discord message)
        body = dict(payload)
        if record is not None and ongoing:
            if target.edit and record.message_id:
                edit_body = {k: v for k, v in body.items() if k not in _NOT_ON_EDIT}
                # an edit keeps what it leaves out: null clears an earlier state's content
                # (its mentions, a digest line) when this state has none
                edit_body.setdefault("content", None)
                result = await self._sender.edit(
                    target.url,
                    record.message_id,
                    edit_body,
                    ssl=target.ssl,
                    thread_id=record.thread_id,
                )
                if result.delivered:
                    return await self._edited(event, body, record, target, result)
                if result.code not in (UNKNOWN_MESSAGE, UNKNOWN_CHANNEL):  # else: start anew
                    return result
                self._log.info(
                    "the incident's Discord message was deleted; posting a new one",
                    extra={"fields": {"destination": target.scope, "id": alert}},
                )
            elif not target.edit and record.thread_id:
                result, _ = await self._sender.request(
                    "POST", target.url, body, ssl=target.ssl, query={"thread_id": record.thread_id}
                )
                if result.delivered:
                    self.store.put_incident(
                        dataclasses.replace(
                            record, level=int(level), peak=max(record.peak, int(level))
                        )
                    )
                    return result
                if result.code != UNKNOWN_CHANNEL:
                    return result
                self._log.info(
                    "the incident's Discord thread was deleted; opening a new post",
                    extra={"fields": {"destination": target.scope, "id": alert}},
                )
        return await self._open(event, body, target, started)

    async def _open(
        self, event: Event, body: dict[str, Any], target: IncidentTarget, started: int
    ) -> DeliveryResult:
        """A new incident: a new message (a new forum post), its ids kept."""
        if target.forum:
            body = {**body, "thread_name": thread_name(body, event.state.id)}
        result, message = await self._sender.execute(
            target.url, body, ssl=target.ssl, thread_id=None if target.forum else target.thread_id
        )
        if not result.delivered:
            return result
        if message is None:  # delivered, but nothing to edit later: the next event posts anew
            self._log.warning(
                "Discord's answer named no message; the incident's next event posts a new one",
                extra={"fields": {"destination": target.scope, "id": event.state.id}},
            )
            return result
        level = int(event.state.level)
        self.store.put_incident(
            IncidentMessage(
                scope=target.scope,
                alert_id=event.state.id,
                message_id=message.id if target.edit else "",
                channel_id=message.channel_id,
                thread_id=message.channel_id if target.forum else target.thread_id,
                guild_id=message.guild_id,
                level=level,
                peak=level,
                pinged=_pings(body),
                started=started,
            )
        )
        return result

    async def _edited(
        self,
        event: Event,
        body: dict[str, Any],
        record: IncidentMessage,
        target: IncidentTarget,
        result: DeliveryResult,
    ) -> DeliveryResult:
        """After an edit: a notice when the level rose above the incident's highest; then the
        record.  A failed notice is retried with its event (the edit repeats, harmlessly)."""
        level = event.state.level
        pinged = record.pinged
        if level != Level.OK and level > record.peak:
            if not record.guild_id:
                record = dataclasses.replace(record, guild_id=await self._guild(target))
            notice = self._notice(body, record, event, Level(record.peak))
            notice_result, _ = await self._sender.request(
                "POST", target.url, notice, ssl=target.ssl, query={"thread_id": record.thread_id}
            )
            if not notice_result.delivered:
                return notice_result
            pinged = pinged or _pings(notice)
            result = notice_result
        self.store.put_incident(
            dataclasses.replace(
                record,
                level=int(level),
                peak=max(record.peak, int(level)),
                pinged=pinged,
            )
        )
        return result

    async def _guild(self, target: IncidentTarget) -> str:
        found = self._guilds.get(target.url)
        if found is None:
            found = self._guilds[target.url] = await self._sender.webhook_guild(
                target.url, ssl=target.ssl
            )
        return found

    @staticmethod
    def _notice(
        body: Mapping[str, Any], record: IncidentMessage, event: Event, was: Level
    ) -> dict[str, Any]:
        """The short message that says the incident rose, linking to its message (the only
        part that notifies: an edit pings nobody).  It keeps the event's identity and any
        mention ``content``/``allowed_mentions`` its message carries."""
        level = event.state.level
        link = message_link(record.guild_id, record.channel_id, record.message_id)
        where = (
            f"[The incident's message]({link}) is kept up to date."
            if link
            else f"The incident's message above (posted <t:{record.started // 1_000_000_000}:R>)"
            " is kept up to date."
        )
        embeds = body.get("embeds") or [{}]
        embed: dict[str, Any] = {
            "color": LEVEL_COLORS.get(level, LEVEL_COLORS[Level.INFO]),
            "description": f"**{event.state.id}** rose from {was.name} to {level.name}. {where}",
        }
        title = embeds[0].get("title") if isinstance(embeds[0], dict) else None
        if isinstance(title, str) and title.strip():
            embed["title"] = title
        notice = {
            k: v
            for k, v in body.items()
            if k in ("username", "avatar_url", "content", "allowed_mentions", "flags")
        }
        notice["embeds"] = [embed]
        return fit_payload(notice)
