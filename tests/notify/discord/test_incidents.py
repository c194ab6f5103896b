"""Edit-in-place and forum threads (issue 12): the sender's ``?wait=true`` and ``PATCH``, the
incident flow over the Discord emulator on loopback, and its durable state in the store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify.discord.handler import DiscordHandler
from leyden.notify.discord.incidents import (
    IncidentMessage,
    MemoryIncidents,
    incident_scope,
    message_link,
    thread_name,
)
from leyden.notify.discord.payload import EMBEDS_LIMIT, LEVEL_COLORS, validate_payload
from leyden.notify.discord.sender import DiscordSender, SentMessage
from leyden.notify.discord.service import DiscordHandlerOptions, DiscordService
from leyden.store import Store

WEBHOOK = "223456789012345678"
TOKEN = "emulator-SeCrEt-token"
EDIT = DiscordHandlerOptions(edit_in_place=True)
S = 1_000_000_000
WebhookServer = Any  # conftest's scripted server


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator(rate_limit=1000, channel_limit=None, global_limit=None)
    await emu.start()
    yield emu
    await emu.stop()


def _url(emulator: DiscordEmulator) -> str:
    return f"{emulator.base_url}/api/v10/webhooks/{WEBHOOK}/{TOKEN}"


def _event(
    level: Level,
    *,
    at: int,
    since: int | None = None,
    id: str = "cpu:host=a",
    message: str = "",
) -> Event:
    """An event at ``at`` seconds whose alert left OK at ``since`` seconds (Kapacitor's
    duration); ``since`` defaults to ``at`` (the first event of an incident)."""
    start = at if since is None else since
    return Event(
        topic="main:cpu:alert2",
        state=EventState(
            id=id,
            message=message or f"{id} is {level.name}",
            details="",
            time=Time(at * S),
            duration=Duration((at - start) * S),
            level=level,
        ),
        data=EventData(name="cpu", task_name="cpu", tags={"host": "a"}),
    )


@pytest.fixture
async def service_factory(
    sender: DiscordSender, make_config: Callable[..., Any], emulator: DiscordEmulator
) -> AsyncIterator[Callable[..., DiscordService]]:
    made: list[DiscordService] = []

    def make(store: Any = None, **config: Any) -> DiscordService:
        service = DiscordService(
            [make_config(url=_url(emulator), username="Leyden", **config)],
            sender=sender,
            incidents=store,
        )
        made.append(service)
        return service

    yield make
    for service in made:
        await service.close()


def _messages(emulator: DiscordEmulator) -> list[Any]:
    return [m for m in emulator.messages if m.webhook_id == WEBHOOK]


def _requests(emulator: DiscordEmulator) -> list[tuple[str, int]]:
    return [(r.method, r.status) for r in emulator.requests]


# --- the sender ------------------------------------------------------------------------------


async def test_execute_waits_for_the_message_and_edit_patches_it(
    sender: DiscordSender, emulator: DiscordEmulator
) -> None:
    body = {"username": "Leyden", "embeds": [{"color": 1, "description": "cpu is CRITICAL"}]}
    result, message = await sender.execute(_url(emulator), body)
    assert result.delivered and result.status == 200
    assert isinstance(message, SentMessage)
    [stored] = emulator.messages
    assert (message.id, message.channel_id) == (stored.message_id, message.channel_id)
    assert message.channel_id.isdigit()

    edited = await sender.edit(
        _url(emulator), message.id, {"embeds": [{"color": 2, "description": "cpu is OK"}]}
    )
    code = edited.code
    assert edited.delivered and code is None
    assert stored.edited_at is not None
    assert stored.payload["embeds"][0]["description"] == "cpu is OK"
    assert stored.payload["username"] == "Leyden"  # identity stays as posted
    assert [(r.method, r.path.split("/")[-2]) for r in emulator.requests][-1] == (
        "PATCH",
        "messages",
    )


async def test_edit_of_a_deleted_message_says_10008_without_the_token(
    sender: DiscordSender, emulator: DiscordEmulator
) -> None:
    result = await sender.edit(_url(emulator), "1234567890123", {"embeds": [{"description": "x"}]})
    code = result.code
    assert (result.outcome, result.status, code) == ("permanent", 404, 10008)
    assert "Unknown Message" in result.reason
    assert TOKEN not in result.describe()


async def test_wait_and_patch_are_classified_like_posts(
    sender: DiscordSender, server: WebhookServer
) -> None:
    server.script(
        (429, {"message": "slow down", "retry_after": 0.25, "global": False}),
        (503, {"message": "overloaded", "code": 130000}),
        (400, {"message": "Invalid Form Body", "code": 50035}),
    )
    body = {"embeds": [{"description": "x"}]}
    limited, none = await sender.execute(server.url(), body)
    assert (limited.outcome, limited.retry_after, none) == ("retry", 0.25, None)
    busy = await sender.edit(server.url(), "99", body)
    code = busy.code
    assert (busy.outcome, code) == ("retry", 130000)
    refused = await sender.edit(server.url(), "99", body)
    code = refused.code
    assert (refused.outcome, code) == ("permanent", 50035)
    assert server.seen[0].query == {"wait": "true"}
    assert server.seen[1].path.endswith("/messages/99")
    assert all(server.token not in r.describe() for r in (limited, busy, refused))


async def test_thread_id_goes_in_the_query_and_replaces_the_urls_own(
    sender: DiscordSender, server: WebhookServer
) -> None:
    server.script((200, {"id": "5", "channel_id": "77", "guild_id": "9"}))
    _, message = await sender.execute(
        server.url() + "?thread_id=1", {"content": "x"}, thread_id="77"
    )
    assert message == SentMessage("5", "77", "9")
    assert server.seen[0].query == {"thread_id": "77", "wait": "true"}
    await sender.edit(server.url() + "?thread_id=77", "5", {"content": "y"})
    assert server.seen[1].query == {"thread_id": "77"}
    assert server.seen[1].path == server.path + "/messages/5"


async def test_webhook_guild_reads_the_webhook_object(
    sender: DiscordSender, server: WebhookServer, emulator: DiscordEmulator
) -> None:
    server.script((200, {"id": "1", "guild_id": "4242", "channel_id": "7"}), 404)
    assert await sender.webhook_guild(server.url()) == "4242"
    assert await sender.webhook_guild(server.url()) == ""
    assert await sender.webhook_guild(_url(emulator)) == ""  # the emulator has no guild


# --- the incident flow -----------------------------------------------------------------------


async def test_critical_then_ok_leaves_one_message_edited_green_with_its_duration(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    service = service_factory()
    assert (await service.send([_event(Level.CRITICAL, at=1000)], EDIT)).delivered
    assert (await service.send([_event(Level.OK, at=1330, since=1000)], EDIT)).delivered
    [message] = _messages(emulator)
    assert _requests(emulator) == [("POST", 200), ("PATCH", 200)]
    [embed] = message.payload["embeds"]
    assert embed["color"] == LEVEL_COLORS[Level.OK]
    assert embed["description"] == "cpu:host=a is OK"
    assert {"name": "Lasted", "value": "5m 30s", "inline": True} in embed["fields"]
    assert message.payload["username"] == "Leyden"
    assert validate_payload(message.payload) == []


async def test_first_message_says_since_when(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    service = service_factory()
    await service.send([_event(Level.CRITICAL, at=1000)], EDIT)
    [message] = _messages(emulator)
    [embed] = message.payload["embeds"]
    assert embed["color"] == LEVEL_COLORS[Level.CRITICAL]
    assert embed["fields"] == [{"name": "Since", "value": "<t:1000:R>", "inline": True}]


async def test_a_rise_edits_and_posts_one_notice_a_fall_only_edits(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    service = service_factory()
    for level, at in [
        (Level.WARNING, 1000),
        (Level.CRITICAL, 1060),
        (Level.WARNING, 1120),
        (Level.CRITICAL, 1180),  # not above the incident's highest: no second notice
        (Level.OK, 1240),
    ]:
        event = _event(level, at=at, since=1000 if at > 1000 else None)
        assert (await service.send([event], EDIT)).delivered
    original, notice = _messages(emulator)
    assert [m for m, _ in _requests(emulator)] == ["POST", "PATCH", "POST"] + ["PATCH"] * 3
    assert original.payload["embeds"][0]["color"] == LEVEL_COLORS[Level.OK]
    [embed] = notice.payload["embeds"]
    assert embed["color"] == LEVEL_COLORS[Level.CRITICAL]
    assert "rose from WARNING to CRITICAL" in embed["description"]
    # the emulator's webhook has no guild: no link, the message is named instead
    assert "The incident's message above (posted <t:1000:R>)" in embed["description"]
    assert notice.payload["username"] == "Leyden"
    assert validate_payload(notice.payload) == []


async def test_the_notice_links_to_the_message_when_the_guild_is_known(
    sender: DiscordSender, server: WebhookServer, make_config: Callable[..., Any]
) -> None:
    server.script(
        (200, {"id": "501", "channel_id": "77"}),  # the first event, ?wait=true
        (200, {"id": "501", "channel_id": "77"}),  # the edit
        (200, {"id": "1", "channel_id": "77", "guild_id": "66"}),  # GET the webhook
        204,  # the notice
    )
    service = DiscordService([make_config(url=server.url())], sender=sender)
    await service.send([_event(Level.WARNING, at=1000)], EDIT)
    await service.send([_event(Level.CRITICAL, at=1010, since=1000)], EDIT)
    assert [s.path.rsplit("/", 2)[-2:] for s in server.seen][1] == ["messages", "501"]
    notice = server.seen[3].body
    assert "https://discord.com/channels/66/77/501" in notice["embeds"][0]["description"]


async def test_after_ok_the_next_problem_is_a_new_message(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    service = service_factory()
    await service.send([_event(Level.CRITICAL, at=1000)], EDIT)
    await service.send([_event(Level.OK, at=1100, since=1000)], EDIT)
    await service.send([_event(Level.OK, at=1150, since=1000)], EDIT)  # a repeated OK edits
    await service.send([_event(Level.WARNING, at=1200)], EDIT)
    first, second = _messages(emulator)
    assert first.payload["embeds"][0]["color"] == LEVEL_COLORS[Level.OK]
    assert second.payload["embeds"][0]["color"] == LEVEL_COLORS[Level.WARNING]
    assert second.payload["embeds"][0]["fields"][0]["value"] == "<t:1200:R>"


async def test_each_alert_has_its_own_message(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    service = service_factory()
    a, b = "cpu:host=a", "cpu:host=b"
    result = await service.send(
        [_event(Level.CRITICAL, at=1000, id=a), _event(Level.CRITICAL, at=1000, id=b)], EDIT
    )
    assert result.delivered
    await service.send([_event(Level.OK, at=1100, since=1000, id=b)], EDIT)
    first, second = _messages(emulator)
    assert [len(m.payload["embeds"]) for m in (first, second)] == [1, 1]  # never coalesced
    assert first.payload["embeds"][0]["color"] == LEVEL_COLORS[Level.CRITICAL]
    assert second.payload["embeds"][0]["color"] == LEVEL_COLORS[Level.OK]


async def test_a_deleted_message_falls_back_to_a_new_one(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    service = service_factory()
    await service.send([_event(Level.CRITICAL, at=1000)], EDIT)
    emulator.messages.clear()  # someone deleted it in Discord
    result = await service.send([_event(Level.OK, at=1060, since=1000)], EDIT)
    assert result.delivered
    assert _requests(emulator) == [("POST", 200), ("PATCH", 404), ("POST", 200)]
    [message] = _messages(emulator)
    assert message.payload["embeds"][0]["color"] == LEVEL_COLORS[Level.OK]
    # and the new message is the incident's from now on
    await service.send([_event(Level.OK, at=1070, since=1000)], EDIT)
    assert _requests(emulator)[-1] == ("PATCH", 200)


async def test_a_failed_edit_is_retried_as_a_whole(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    service = service_factory()
    await service.send([_event(Level.WARNING, at=1000)], EDIT)
    emulator.inject_fault(status=503)
    failed = await service.send([_event(Level.CRITICAL, at=1010, since=1000)], EDIT)
    assert failed.outcome == "retry"
    again = await service.send([_event(Level.CRITICAL, at=1010, since=1000)], EDIT)
    assert again.delivered
    original, notice = _messages(emulator)  # the rise still got its notice, once
    assert "rose from WARNING to CRITICAL" in notice.payload["embeds"][0]["description"]
    assert original.payload["embeds"][0]["color"] == LEVEL_COLORS[Level.CRITICAL]


async def test_without_the_option_nothing_changes(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    service = service_factory()
    await service.send([_event(Level.CRITICAL, at=1000)], DiscordHandlerOptions())
    await service.send([_event(Level.OK, at=1060, since=1000)], DiscordHandlerOptions())
    assert _requests(emulator) == [("POST", 204), ("POST", 204)]
    assert len(service.incidents.store) == 0  # type: ignore[arg-type]


async def test_the_workspace_setting_applies_and_the_handler_overrides_it(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    service = service_factory(edit_in_place=True)
    opts = DiscordHandlerOptions()
    await service.send([_event(Level.CRITICAL, at=1000)], opts)
    await service.send([_event(Level.OK, at=1060, since=1000)], opts)
    assert [m for m, _ in _requests(emulator)] == ["POST", "PATCH"]
    off = DiscordHandlerOptions(edit_in_place=False)
    await service.send([_event(Level.CRITICAL, at=2000, id="other")], off)
    assert _requests(emulator)[-1] == ("POST", 204)


# --- durable state ---------------------------------------------------------------------------


async def test_a_restart_between_two_events_edits_the_same_message(
    sender: DiscordSender,
    make_config: Callable[..., Any],
    emulator: DiscordEmulator,
    tmp_path: Path,
) -> None:
    db = tmp_path / "leyden.db"
    config = make_config(url=_url(emulator))
    with Store(db) as store:
        first = DiscordService([config], sender=sender, incidents=store)
        await first.send([_event(Level.CRITICAL, at=1000)], EDIT)
    with Store(db) as store:  # a new process: nothing in memory, the same file
        second = DiscordService([config], sender=sender, incidents=store)
        assert (await second.send([_event(Level.OK, at=1090, since=1000)], EDIT)).delivered
    [message] = _messages(emulator)
    assert _requests(emulator) == [("POST", 200), ("PATCH", 200)]
    assert message.payload["embeds"][0]["fields"][-1]["value"] == "1m 30s"


def test_the_store_keeps_incident_messages(tmp_path: Path) -> None:
    record = IncidentMessage(
        scope="discord https://discord.com/api/v10/webhooks/1/**** ~ab",
        alert_id="cpu:host=a",
        message_id="501",
        channel_id="77",
        thread_id="",
        guild_id="",
        level=int(Level.WARNING),
        peak=int(Level.CRITICAL),
        pinged=True,
        started=1000 * S,
    )
    with Store(tmp_path / "a.db") as store:
        assert store.get_incident(record.scope, record.alert_id) is None
        store.put_incident(record)
        store.put_incident(record)  # replaces
    with Store(tmp_path / "a.db") as store:
        assert store.get_incident(record.scope, record.alert_id) == record
        assert store.get_incident(record.scope, "other") is None
        assert store.delete_incident(record.scope, record.alert_id)
        assert not store.delete_incident(record.scope, record.alert_id)
    memory = MemoryIncidents()
    memory.put_incident(record)
    assert memory.get_incident(record.scope, record.alert_id) == record


def test_scopes_hold_no_token_and_differ_per_identity() -> None:
    a = incident_scope("discord https://discord.com/api/v10/webhooks/1/****", "\x00A")
    b = incident_scope("discord https://discord.com/api/v10/webhooks/1/****", "\x00B")
    assert a != b and a.startswith("discord https://discord.com/api/v10/webhooks/1/**** ~")


def test_thread_names_fit_and_are_never_empty() -> None:
    def name(title: str, alert: str = "cpu:host=a") -> str:
        return thread_name({"embeds": [{"title": title, "description": "x"}]}, alert)

    assert name("  CPU   high \n on a ") == "CPU high on a: cpu:host=a"
    assert name("CPU {cpu:host=a}") == "CPU {cpu:host=a}"  # the title names the alert
    assert thread_name({"embeds": [{"description": "x"}]}, "cpu:host=a") == "cpu:host=a"
    long = name("é" * 300)
    assert len(long) == 100 and long.endswith("…: cpu:host=a")
    assert len(name("t", "x" * 150)) == 100
    assert name(" ", " ") == "alert"


def test_message_link_needs_every_id() -> None:
    assert message_link("1", "2", "3") == "https://discord.com/channels/1/2/3"
    assert message_link("", "2", "3") == ""


# --- forum threads and fixed threads (the scripted server stands in for a forum channel) ------

FORUM = DiscordHandlerOptions(forum_thread=True)


async def test_forum_thread_opens_a_post_per_incident_and_posts_into_it(
    sender: DiscordSender, server: WebhookServer, make_config: Callable[..., Any]
) -> None:
    server.script(
        (200, {"id": "900", "channel_id": "900"}),  # a forum post: its thread is its id
        204,
        (200, {"id": "950", "channel_id": "950"}),
    )
    service = DiscordService([make_config(url=server.url())], sender=sender)
    title = DiscordHandlerOptions(forum_thread=True, embed_title="CPU {{ .ID }}")
    await service.send([_event(Level.CRITICAL, at=1000)], title)
    await service.send([_event(Level.OK, at=1100, since=1000)], title)
    await service.send([_event(Level.WARNING, at=1200)], title)
    opened, recovered, reopened = server.seen
    assert opened.query == {"wait": "true"}
    assert opened.body["thread_name"] == "CPU cpu:host=a"  # the title names the alert
    assert recovered.query == {"thread_id": "900"}
    assert "thread_name" not in recovered.body
    assert recovered.body["embeds"][0]["color"] == LEVEL_COLORS[Level.OK]
    assert reopened.query == {"wait": "true"}  # after OK the next incident is a new post
    assert reopened.body["thread_name"] == "CPU cpu:host=a"
    assert all(validate_payload(s.body) == [] for s in server.seen)


async def test_forum_thread_names_the_post_after_the_alert_without_a_title(
    sender: DiscordSender, server: WebhookServer, make_config: Callable[..., Any]
) -> None:
    server.script((200, {"id": "900", "channel_id": "900"}))
    # a thread named in the URL cannot go with thread_name (Discord's 220002): left out
    service = DiscordService([make_config(url=server.url() + "?thread_id=5")], sender=sender)
    await service.send([_event(Level.CRITICAL, at=1000, id="x" * 150)], FORUM)
    name = server.seen[0].body["thread_name"]
    assert server.seen[0].query == {"wait": "true"}
    assert len(name) == 100 and name.startswith("xxx")


async def test_forum_thread_with_edit_in_place_edits_the_posts_message(
    sender: DiscordSender, server: WebhookServer, make_config: Callable[..., Any]
) -> None:
    server.script(
        (200, {"id": "900", "channel_id": "900"}),
        (200, {"id": "900", "channel_id": "900"}),
        (404, {"message": "Unknown Webhook", "code": 10015}),  # GET the webhook: no guild
        204,
    )
    service = DiscordService([make_config(url=server.url())], sender=sender)
    both = DiscordHandlerOptions(forum_thread=True, edit_in_place=True)
    await service.send([_event(Level.WARNING, at=1000)], both)
    await service.send([_event(Level.CRITICAL, at=1010, since=1000)], both)
    opened, edited, _, notice = server.seen
    assert "thread_name" in opened.body
    assert edited.path.endswith("/messages/900") and edited.query == {"thread_id": "900"}
    assert "username" not in edited.body and "thread_name" not in edited.body
    assert notice.query == {"thread_id": "900"}  # the notice goes into the post too


async def test_a_deleted_forum_post_opens_a_new_one(
    sender: DiscordSender, server: WebhookServer, make_config: Callable[..., Any]
) -> None:
    server.script(
        (200, {"id": "900", "channel_id": "900"}),
        (404, {"message": "Unknown Channel", "code": 10003}),
        (200, {"id": "950", "channel_id": "950"}),
    )
    service = DiscordService([make_config(url=server.url())], sender=sender)
    await service.send([_event(Level.CRITICAL, at=1000)], FORUM)
    result = await service.send([_event(Level.OK, at=1100, since=1000)], FORUM)
    assert result.delivered
    assert server.seen[2].query == {"wait": "true"} and "thread_name" in server.seen[2].body


async def test_thread_id_posts_into_that_thread_and_edits_there(
    sender: DiscordSender, server: WebhookServer, make_config: Callable[..., Any]
) -> None:
    server.script(204, (200, {"id": "5", "channel_id": "4242"}), (200, {"id": "5"}))
    service = DiscordService([make_config(url=server.url())], sender=sender)
    await service.send([_event(Level.CRITICAL, at=1000)], DiscordHandlerOptions(thread_id="4242"))
    assert server.seen[0].query == {"thread_id": "4242"}
    both = DiscordHandlerOptions(thread_id="4242", edit_in_place=True)
    await service.send([_event(Level.CRITICAL, at=1000, id="b")], both)
    await service.send([_event(Level.OK, at=1100, since=1000, id="b")], both)
    assert server.seen[1].query == {"thread_id": "4242", "wait": "true"}
    assert server.seen[2].query == {"thread_id": "4242"}
    assert server.seen[2].path.endswith("/messages/5")


async def test_incident_handlers_send_one_event_per_request(
    service_factory: Callable[..., DiscordService],
) -> None:
    service = service_factory()
    assert DiscordHandler(service, EDIT).max_batch == 1
    assert DiscordHandler(service, FORUM).max_batch == 1
    assert DiscordHandler(service, DiscordHandlerOptions()).max_batch == EMBEDS_LIMIT
    # handlers differing only in the mode never share a message
    assert service.identity(EDIT) != service.identity(DiscordHandlerOptions())


async def test_the_notice_carries_the_mentions_that_ping(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    role = "312345678901234567"
    opts = DiscordHandlerOptions(edit_in_place=True, mention_roles=(role,))
    service = service_factory()
    await service.send([_event(Level.WARNING, at=1000)], opts)  # below mention-level: no ping
    await service.send([_event(Level.CRITICAL, at=1010, since=1000)], opts)
    original, notice = _messages(emulator)
    assert notice.payload["content"] == f"<@&{role}>"
    assert notice.payload["allowed_mentions"] == {"parse": [], "roles": [role]}
    assert notice.pings.roles == (role,)  # the emulator's reading: this one notifies
    assert original.pings.roles == ()  # the edited message never did
    [record] = service.incidents.store._records.values()  # type: ignore[attr-defined]
    assert record.pinged and record.peak == Level.CRITICAL
    assert validate_payload(notice.payload) == []


async def test_forum_posts_and_edits_on_the_emulators_forum(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    emulator.set_forum(WEBHOOK)
    service = service_factory()
    both = DiscordHandlerOptions(forum_thread=True, edit_in_place=True)
    await service.send([_event(Level.WARNING, at=1000)], both)
    await service.send([_event(Level.CRITICAL, at=1010, since=1000)], both)
    assert (await service.send([_event(Level.OK, at=1100, since=1000)], both)).delivered
    post, notice = _messages(emulator)
    assert post.thread_id and post.thread_id == post.message_id == notice.thread_id
    assert post.payload["embeds"][0]["color"] == LEVEL_COLORS[Level.OK]
    assert [(r.method, r.status) for r in emulator.requests] == [
        ("POST", 200),  # the post opens, ?wait=true
        ("PATCH", 200),  # WARNING → CRITICAL, in the thread
        ("POST", 204),  # the notice, in the thread
        ("PATCH", 200),  # OK
    ]


async def test_changing_mentions_mid_incident_still_edits_a_new_title_posts_anew(
    service_factory: Callable[..., DiscordService], emulator: DiscordEmulator
) -> None:
    service = service_factory()
    await service.send([_event(Level.CRITICAL, at=1000)], EDIT)
    roles = DiscordHandlerOptions(edit_in_place=True, mention_roles=("312345678901234567",))
    await service.send([_event(Level.CRITICAL, at=1010, since=1000)], roles)
    assert [m for m, _ in _requests(emulator)] == ["POST", "PATCH"]
    titled = DiscordHandlerOptions(edit_in_place=True, embed_title="CPU")
    await service.send([_event(Level.OK, at=1020, since=1000)], titled)
    assert [m for m, _ in _requests(emulator)] == ["POST", "PATCH", "POST"]
