"""Leyden's payload features (issue 12): mentions, silent-below, tags as fields, link,
thread-id, and the on-by-default incident field and footer; every body within Discord's rules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from leyden.model.alert import Event, Level
from leyden.notify.discord.payload import (
    CONTENT_LIMIT,
    EMPTY_FIELD,
    FIELD_VALUE_LIMIT,
    FIELDS_LIMIT,
    SUPPRESS_NOTIFICATIONS,
    human_duration,
    validate_payload,
)
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.service import DiscordHandlerOptions, DiscordService

Opts = DiscordHandlerOptions
ROLE = "123456789012345678"
ROLE2 = "123456789012345679"
USER = "223456789012345678"
SECOND = 1_000_000_000
NOW = 1_700_000_000 * SECOND


@pytest.fixture
async def service(
    sender: DiscordSender, make_config: Callable[..., Any]
) -> AsyncIterator[Callable[..., DiscordService]]:
    made: list[DiscordService] = []

    def make(url: str = "https://discord.com/api/webhooks/1/tok", **config: Any) -> DiscordService:
        made.append(DiscordService([make_config(url=url, **config)], sender=sender))
        return made[-1]

    yield make
    for one in made:
        await one.close()


def body(service: DiscordService, events: list[Event], opts: Opts | None = None) -> dict[str, Any]:
    """The body ``service`` sends for ``events`` as one message; it must pass Discord's rules."""
    config = service.resolve("")
    _, payload = service._payload(events, opts or Opts())
    assert validate_payload(payload) == [], payload
    assert config.enabled
    return payload


# --- mentions --------------------------------------------------------------------------------


def test_critical_pings_the_roles_with_exactly_those_allowed(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    payload = body(service(mention_roles=[ROLE]), [make_event(level=Level.CRITICAL)])
    assert payload["content"] == f"<@&{ROLE}>"
    assert payload["allowed_mentions"] == {"parse": [], "roles": [ROLE]}


def test_warning_with_the_default_mention_level_pings_nobody(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    payload = body(
        service(mention_roles=[ROLE]), [make_event("@everyone disk", level=Level.WARNING)]
    )
    assert "content" not in payload
    assert payload["allowed_mentions"] == {"parse": []}  # the @everyone stays text


def test_handler_roles_users_and_level_override_the_workspace(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    opts = Opts(mention_roles=(ROLE2,), mention_users=(USER,), mention_level=Level.WARNING)
    payload = body(service(mention_roles=[ROLE]), [make_event(level=Level.WARNING)], opts)
    assert payload["content"] == f"<@&{ROLE2}> <@{USER}>"
    assert payload["allowed_mentions"] == {"parse": [], "roles": [ROLE2], "users": [USER]}


@pytest.mark.parametrize(
    ("previous", "pinged"),
    [(Level.CRITICAL, True), (Level.WARNING, False), (Level.OK, False)],
)
def test_a_recovery_pings_only_when_the_alert_pinged_before(
    service: Callable[..., DiscordService],
    make_event: Callable[..., Event],
    previous: Level,
    pinged: bool,
) -> None:
    event = make_event("ok", level=Level.OK, previous=previous, duration_ns=60 * SECOND)
    payload = body(service(mention_users=[USER]), [event])
    assert ("content" in payload) is pinged
    expected: dict[str, Any] = {"parse": [], "users": [USER]} if pinged else {"parse": []}
    assert payload["allowed_mentions"] == expected


def test_a_coalesced_message_pings_once_for_all_its_events(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    events = [
        make_event("a warn", level=Level.WARNING, id="a"),
        make_event("b crit", level=Level.CRITICAL, id="b"),
        make_event("a crit", level=Level.CRITICAL, id="a", previous=Level.WARNING),
    ]
    payload = body(service(mention_roles=[ROLE, ROLE]), events)
    assert payload["content"].startswith(f"<@&{ROLE}>\nEarlier states (backlog): a WARNING")
    assert payload["content"].count("<@&") == 1
    assert payload["allowed_mentions"] == {"parse": [], "roles": [ROLE]}
    assert len(payload["embeds"]) == 2


def test_many_mentions_stay_whole_and_allowed_names_exactly_those_sent(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    roles = [str(100000000000000000 + i) for i in range(150)]
    users = [str(200000000000000000 + i) for i in range(150)]
    events = [make_event(level=Level.CRITICAL, id="a"), make_event(level=Level.CRITICAL, id="a")]
    payload = body(service(mention_roles=roles, mention_users=users), events)
    content = payload["content"]
    assert len(content) <= CONTENT_LIMIT
    mention_line, digest = content.split("\n", 1)
    allowed = payload["allowed_mentions"]
    assert len(allowed["roles"]) == 65  # whole mentions that fit beside room kept for the digest
    assert mention_line == " ".join(f"<@&{r}>" for r in allowed["roles"])
    assert "users" not in allowed  # no room left: none are named, none ping
    assert digest.startswith("Earlier states (backlog)")


# --- silent-below ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "silent"),
    [(Level.OK, True), (Level.INFO, True), (Level.WARNING, False), (Level.CRITICAL, False)],
)
def test_below_silent_below_is_sent_without_notifications(
    service: Callable[..., DiscordService],
    make_event: Callable[..., Event],
    level: Level,
    silent: bool,
) -> None:
    payload = body(service(silent_below="WARNING"), [make_event(level=level)])
    assert payload.get("flags") == (SUPPRESS_NOTIFICATIONS if silent else None)
    assert SUPPRESS_NOTIFICATIONS == 4096


def test_a_message_that_pings_is_never_silent(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    event = make_event("ok", level=Level.OK, previous=Level.CRITICAL, duration_ns=SECOND)
    payload = body(service(silent_below="WARNING", mention_roles=[ROLE]), [event])
    assert "flags" not in payload and payload["content"] == f"<@&{ROLE}>"
    assert "flags" not in body(service(), [make_event(level=Level.OK)])  # off by default


# --- tags as fields --------------------------------------------------------------------------


def test_tags_become_inline_fields_after_the_incident_field(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    event = make_event(tags={"host": "serverA", "cpu": "cpu-total", "dc": ""})
    [embed] = body(service(tags_as_fields=True), [event])["embeds"]
    assert embed["fields"][1:] == [
        {"name": "host", "value": "serverA", "inline": True},
        {"name": "cpu", "value": "cpu-total", "inline": True},
        {"name": "dc", "value": EMPTY_FIELD, "inline": True},  # Discord refuses ""
    ]
    [plain] = body(service(), [event])["embeds"]
    assert [f["name"] for f in plain["fields"]] == ["Since"]  # off by default


def test_many_and_long_tags_fit_discords_limits(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    tags = {f"t{i:02}": "v" * 2000 for i in range(40)}
    [embed] = body(service(tags_as_fields=True), [make_event(tags=tags)])["embeds"]
    assert len(embed["fields"]) == FIELDS_LIMIT
    assert embed["fields"][-1]["value"] == "17 more fields not shown"  # Since + 40 tags
    assert all(len(f["value"]) <= FIELD_VALUE_LIMIT for f in embed["fields"])
    assert embed["fields"][0]["value"].startswith("<t:")  # short texts are never cut


# --- link ------------------------------------------------------------------------------------


def test_link_is_rendered_over_the_alert(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    link = 'https://grafana.example/d/cpu?var-host={{ index .Tags "host" }}&alert={{ .ID }}'
    [embed] = body(service(link=link), [make_event()])["embeds"]
    assert embed["url"] == "https://grafana.example/d/cpu?var-host=serverA&alert=cpu:host=serverA"
    [mine] = body(service(link=link), [make_event()], Opts(link="https://h/{{ .Level }}"))["embeds"]
    assert mine["url"] == "https://h/CRITICAL"


@pytest.mark.parametrize(
    "link",
    [
        "{{ .Message }}",  # renders "serverA is CRITICAL": not a URL
        "https://grafana.example/?token=s3cr3t&x={{ .Nope }}",  # does not execute
        "javascript:alert(1)",
    ],
)
def test_a_bad_link_is_dropped_and_logged_without_it(
    service: Callable[..., DiscordService],
    make_event: Callable[..., Event],
    leyden_logs: Any,
    link: str,
) -> None:
    [embed] = body(service(link=link), [make_event()])["embeds"]
    assert "url" not in embed and embed["description"] == "serverA is CRITICAL"
    texts = " ".join(leyden_logs.texts())
    assert "posting without the link" in texts
    assert "s3cr3t" not in texts and "javascript" not in texts


# --- on by default: since when, how long, which task and alert -------------------------------


def test_a_problem_says_since_when_the_incident_started(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    event = make_event(level=Level.WARNING, time_ns=NOW, duration_ns=90 * SECOND)
    [embed] = body(service(), [event])["embeds"]
    assert embed["fields"] == [
        {"name": "Since", "value": f"<t:{NOW // SECOND - 90}:R>", "inline": True}
    ]
    assert embed["description"] == "serverA is CRITICAL"  # exactly the alert's message
    assert embed["footer"] == {"text": "cpu · cpu:host=serverA"}


def test_a_recovery_says_how_long_it_lasted(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    event = make_event(
        "back", level=Level.OK, previous=Level.WARNING, time_ns=NOW, duration_ns=330 * SECOND
    )
    [embed] = body(service(), [event])["embeds"]
    assert embed["fields"] == [{"name": "Lasted", "value": "5m 30s", "inline": True}]
    assert embed["color"] == 0x2ECC71


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (12, "12s"), (330, "5m 30s"), (3600, "1h"), (7500, "2h 5m"), (183600, "2d 3h")],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds * SECOND) == text


def test_long_messages_still_fit_with_the_additions(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    events = [
        make_event("x" * 5000, id=f"alert-{i}-" + "i" * 300, tags={"host": "h" * 900})
        for i in range(10)
    ]
    payload = body(service(tags_as_fields=True, mention_roles=[ROLE]), events)
    assert len(payload["embeds"]) == 10


# --- thread-id -------------------------------------------------------------------------------


async def test_thread_id_posts_into_the_thread(
    service: Callable[..., DiscordService], make_event: Callable[..., Event], server: Any
) -> None:
    thread = "423456789012345678"
    one = service(url=server.url(server.path + "?thread_id=7"), thread_id=thread)
    assert (await one.send([make_event()], Opts())).delivered
    assert (await one.send([make_event()], Opts(thread_id="523456789012345678"))).delivered
    assert [s.query for s in server.seen] == [
        {"thread_id": thread},
        {"thread_id": "523456789012345678"},
    ]


def test_the_since_markup_is_never_cut_when_ten_full_embeds_share_6000(
    service: Callable[..., DiscordService], make_event: Callable[..., Event]
) -> None:
    tags = {f"tag{i:02}" + "n" * 200: "v" * 1000 for i in range(30)}
    events = [make_event("m" * 4000, id=f"a{i}", tags=tags, time_ns=NOW) for i in range(10)]
    payload = body(service(tags_as_fields=True), events)
    assert len(payload["embeds"]) == 10
    for embed in payload["embeds"]:
        assert embed["fields"][0]["value"] == f"<t:{NOW // SECOND}:R>"
