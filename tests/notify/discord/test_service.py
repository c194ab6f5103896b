from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from leyden.model.alert import Level
from leyden.notify.discord.handler import check
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.service import (
    DiscordError,
    DiscordFeatures,
    DiscordHandlerOptions,
    DiscordOptionError,
    DiscordService,
    merge_features,
    rfc3339_seconds,
)

LOGO = "https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png"
Opts = DiscordHandlerOptions


@pytest.fixture
async def services(sender: DiscordSender) -> AsyncIterator[Callable[..., DiscordService]]:
    made: list[DiscordService] = []

    def make(*configs: Any) -> DiscordService:
        service = DiscordService(list(configs), sender=sender)
        made.append(service)
        return service

    yield make
    for service in made:
        await service.close()


def _embed(payload: dict[str, Any]) -> dict[str, Any]:
    [embed] = payload["embeds"]
    return embed


# --- handler options -------------------------------------------------------------------------


def test_from_options_reads_every_documented_key() -> None:
    opts = Opts.from_options(
        {
            "workspace": "guild-alerts",
            "username": "AlertBot",
            "avatar-url": LOGO,
            "embed-title": "Hey, Listen!",
            "timestamp": True,
        }
    )
    assert opts == Opts("guild-alerts", "AlertBot", LOGO, "Hey, Listen!", True)
    assert Opts.from_options({}) == Opts()
    assert Opts.from_options(None) == Opts()
    assert Opts.from_options({"username": None, "timestamp": None}) == Opts()


def test_from_options_unknown_key_is_named() -> None:
    with pytest.raises(
        DiscordError, match=r"invalid discord handler option\(s\): avatarUrl, color"
    ):
        Opts.from_options({"avatarUrl": "x", "color": 1, "username": "u"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timestamp": "yes"}, "\"timestamp\" must be true or false, got 'yes'"),
        ({"username": 5}, '"username" must be a string, got 5'),
        ({"embed-title": ["a"]}, "\"embed-title\" must be a string, got ['a']"),
    ],
)
def test_from_options_wrong_types_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DiscordError) as info:
        Opts.from_options(options)
    assert message in str(info.value)


# --- fallbacks: handler option → workspace config --------------------------------------------


@pytest.mark.parametrize(
    ("handler", "workspace", "expected"),
    [
        ("Handler", "Workspace", "Handler"),
        ("", "Workspace", "Workspace"),
        ("Handler", "", "Handler"),
        ("", "", None),
    ],
)
@pytest.mark.parametrize(
    ("option", "config_key", "payload_key"),
    [("username", "username", "username"), ("avatar_url", "avatar_url", "avatar_url")],
)
def test_username_and_avatar_fall_back_to_workspace(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
    option: str,
    config_key: str,
    payload_key: str,
    handler: str,
    workspace: str,
    expected: str | None,
) -> None:
    if option == "avatar_url":
        handler = handler and f"https://img.example/{handler}.png"
        workspace = workspace and f"https://img.example/{workspace}.png"
        expected = expected and f"https://img.example/{expected}.png"
    service = services(make_config(url="http://127.0.0.1:9/hook", **{config_key: workspace}))
    _url, payload = service.prepare(make_event(), Opts(**{option: handler}))
    assert payload.get(payload_key) == expected


@pytest.mark.parametrize(
    ("handler", "workspace", "expected"),
    [
        ("Handler", "Workspace", "Handler"),
        ("", "Workspace", "Workspace"),
        ("Handler", "", "Handler"),
        ("", "", None),
    ],
)
def test_embed_title_falls_back_to_workspace(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
    handler: str,
    workspace: str,
    expected: str | None,
) -> None:
    service = services(make_config(url="http://127.0.0.1:9/hook", embed_title=workspace))
    _url, payload = service.prepare(make_event(), Opts(embed_title=handler))
    assert _embed(payload).get("title") == expected


@pytest.mark.parametrize(
    ("handler", "workspace", "shown"),
    [
        (True, True, True),
        (True, False, True),
        (False, True, False),
        (False, False, False),
        (None, True, True),
        (None, False, False),
    ],
)
def test_timestamp_falls_back_to_workspace(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
    handler: bool | None,
    workspace: bool,
    shown: bool,
) -> None:
    service = services(make_config(url="http://127.0.0.1:9/hook", timestamp=workspace))
    _url, payload = service.prepare(make_event(time_ns=1_999_999_999), Opts(timestamp=handler))
    if shown:
        assert _embed(payload)["timestamp"] == "1970-01-01T00:00:01Z"
    else:
        assert "timestamp" not in _embed(payload)


def test_embed_title_is_a_template_over_the_event(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
) -> None:
    service = services(
        make_config(
            url="http://127.0.0.1:9/hook", embed_title='{{ .Level }} on {{ index .Tags "host" }}'
        )
    )
    _url, payload = service.prepare(make_event(level=Level.WARNING), Opts())
    assert _embed(payload)["title"] == "WARNING on serverA"
    _url, payload = service.prepare(make_event(), Opts(embed_title="{{ .ID }}"))
    assert _embed(payload)["title"] == "cpu:host=serverA"


def test_bad_embed_title_template_is_a_clear_error(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
) -> None:
    service = services(make_config(url="http://127.0.0.1:9/hook"))
    with pytest.raises(DiscordError, match=r"invalid embed-title template '\{\{ \.ID '"):
        service.prepare(make_event(), Opts(embed_title="{{ .ID "))


def test_prepare_builds_kapacitors_body_and_pins_the_api_version(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
) -> None:
    service = services(
        make_config(
            url="https://discordapp.com/api/webhooks/1/tok?thread_id=5",
            username="AlertBot",
            timestamp=True,
            embed_title="Alert",
        )
    )
    url, payload = service.prepare(make_event(), Opts())
    assert url == "https://discordapp.com/api/v10/webhooks/1/tok?thread_id=5"
    # Kapacitor's body, plus Leyden's: since when (a field), which task and alert (the footer)
    # and allowed_mentions that let nothing in the message ping
    assert payload == {
        "username": "AlertBot",
        "embeds": [
            {
                "color": 0xF95F53,
                "title": "Alert",
                "description": "serverA is CRITICAL",
                "fields": [{"name": "Since", "value": "<t:1:R>", "inline": True}],
                "footer": {"text": "cpu · cpu:host=serverA"},
                "timestamp": "1970-01-01T00:00:01Z",
            }
        ],
        "allowed_mentions": {"parse": []},
    }


@pytest.mark.parametrize(
    ("level", "color"),
    [
        (Level.OK, 0x2ECC71),
        (Level.INFO, 0x7A65F2),
        (Level.WARNING, 0xF48D38),
        (Level.CRITICAL, 0xF95F53),
    ],
)
def test_colour_follows_event_level(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
    level: Level,
    color: int,
) -> None:
    service = services(make_config(url="http://127.0.0.1:9/hook"))
    assert _embed(service.prepare(make_event(level=level), Opts())[1])["color"] == color


def test_long_message_is_fitted(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
) -> None:
    service = services(make_config(url="http://127.0.0.1:9/hook"))
    _url, payload = service.prepare(make_event(message="𝄞" * 5000), Opts())
    assert len(_embed(payload)["description"]) == 4096


@pytest.mark.parametrize(
    ("time_ns", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1_999_999_999, "1970-01-01T00:00:01Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (1_700_000_000_123_456_789, "2023-11-14T22:13:20Z"),
    ],
)
def test_rfc3339_seconds(time_ns: int, text: str) -> None:
    assert rfc3339_seconds(time_ns) == text


# --- workspaces --------------------------------------------------------------------------------


def test_resolve_by_name_and_default(
    services: Callable[..., DiscordService], make_config: Callable[..., Any]
) -> None:
    a = make_config(workspace="a", default=True, url="http://127.0.0.1:9/a")
    b = make_config(workspace="b", default=False, url="http://127.0.0.1:9/b")
    service = services(a, b)
    assert service.workspace_names() == ["a", "b"]
    assert service.resolve("") is a
    assert service.resolve("a") is a
    assert service.resolve("b") is b


def test_single_section_is_the_default(
    services: Callable[..., DiscordService], make_config: Callable[..., Any]
) -> None:
    only = make_config(workspace="ops", default=False, url="http://127.0.0.1:9/a")
    assert services(only).resolve("") is only


def test_resolve_errors(
    services: Callable[..., DiscordService], make_config: Callable[..., Any]
) -> None:
    with pytest.raises(DiscordError, match=r"^no discord configuration found$"):
        services().resolve("")
    service = services(
        make_config(workspace="a", url="http://127.0.0.1:9/a"),
        make_config(workspace="b", default=False, enabled=False),
    )
    with pytest.raises(
        DiscordError,
        match=r'^workspace id not found: "x" is not configured; configured workspaces: a, b$',
    ):
        service.resolve("x")
    with pytest.raises(DiscordError, match=r'^discord workspace "b" is not enabled$'):
        service.resolve("b")
    with pytest.raises(DiscordError, match=r"^the default discord workspace is not enabled$"):
        services(make_config(enabled=False)).resolve("")
    no_default = services(
        make_config(workspace="a", default=False), make_config(workspace="b", default=False)
    )
    with pytest.raises(
        DiscordError, match=r"^no default discord workspace; configured workspaces: a, b$"
    ):
        no_default.resolve("")


@pytest.mark.parametrize(
    ("enabled", "global_", "sco", "want_global", "want_sco"),
    [
        (True, False, False, False, False),
        (True, True, False, True, False),  # Kapacitor would force state-changes-only here
        (True, True, True, True, True),
        (True, False, True, False, False),  # state-changes-only needs global
        (False, True, True, False, False),  # a disabled workspace is never global
    ],
)
def test_global_and_state_changes_only(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    enabled: bool,
    global_: bool,
    sco: bool,
    want_global: bool,
    want_sco: bool,
) -> None:
    service = services(
        make_config(
            workspace="a", enabled=enabled, global_=global_, state_changes_only=sco, url="http://x/"
        ),
        make_config(workspace="b", default=False, global_=True, state_changes_only=True),
    )
    assert service.global_enabled() is want_global
    assert service.state_changes_only() is want_sco


def test_update_replaces_all_workspaces_or_nothing(
    services: Callable[..., DiscordService], make_config: Callable[..., Any], tmp_path: Path
) -> None:
    service = services(make_config(workspace="a", url="http://127.0.0.1:9/a"))
    service.update([make_config(workspace="c", url="http://127.0.0.1:9/c")])
    assert service.workspace_names() == ["c"]
    with pytest.raises(DiscordError, match='workspace id not found: "a" is not configured'):
        service.resolve("a")
    missing = str(tmp_path / "missing-ca.pem")
    with pytest.raises(
        DiscordError, match=f'^discord workspace "d": ssl-ca: cannot read "{missing}"'
    ):
        service.update([make_config(workspace="d", ssl_ca=missing)])
    assert service.workspace_names() == ["c"]
    with pytest.raises(DiscordError, match='"c" is configured more than once'):
        service.update([make_config(workspace="c"), make_config(workspace="c", default=False)])
    assert service.workspace_names() == ["c"]


def test_disabled_workspace_tls_files_are_not_read(
    services: Callable[..., DiscordService], make_config: Callable[..., Any]
) -> None:
    service = services(make_config(enabled=False, ssl_ca="/nonexistent/ca.pem"))
    assert service.workspace_names() == [""]


# --- handle --------------------------------------------------------------------------------


async def test_send_posts_to_the_workspace_webhook(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
    server: Any,
) -> None:
    service = services(
        make_config(workspace="alerts", url=server.url(), username="AlertBot"),
        make_config(
            workspace="errors", default=False, url=server.url(server.path + "?thread_id=7")
        ),
    )
    result = await service.send([make_event()], Opts(workspace="errors", username="StatsBot"))
    assert result.delivered
    [seen] = server.seen
    assert seen.query == {"thread_id": "7"}
    assert seen.body == {
        "username": "StatsBot",
        "embeds": [
            {
                "color": 0xF95F53,
                "description": "serverA is CRITICAL",
                "fields": [{"name": "Since", "value": "<t:1:R>", "inline": True}],
                "footer": {"text": "cpu · cpu:host=serverA"},
            }
        ],
        "allowed_mentions": {"parse": []},
    }


async def test_send_is_one_attempt_and_hands_back_discords_hint(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
    server: Any,
    fake_time: Any,
) -> None:
    server.script((429, {"message": "You are being rate limited.", "retry_after": 0.25}))
    service = services(make_config(url=server.url()))
    result = await service.send([make_event()], Opts())
    assert (result.outcome, result.retry_after) == ("retry", 0.25)
    assert len(server.seen) == 1
    assert fake_time.waits == []  # the dispatcher schedules the retry


@pytest.mark.parametrize(
    ("opts", "reason"),
    [
        (
            Opts(workspace="nope"),
            'workspace id not found: "nope" is not configured; configured workspaces: a',
        ),
        (Opts(embed_title="{{ .ID "), "invalid embed-title template '{{ .ID '"),
    ],
)
async def test_send_user_mistakes_are_permanent_failures(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
    server: Any,
    opts: Opts,
    reason: str,
) -> None:
    service = services(make_config(workspace="a", url=server.url()))
    result = await service.send([make_event()], opts)
    assert result.outcome == "permanent"
    assert result.reason.startswith(reason)
    assert server.seen == []


async def test_send_uses_the_workspace_tls_settings(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
    server_factory: Callable[..., Awaitable[Any]],
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = await server_factory(context)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    service = services(
        make_config(workspace="tls", url=server.url(), ssl_ca=str(ca_path)),
        make_config(workspace="plain", default=False, url=server.url()),
    )
    assert (await service.send([make_event()], Opts(workspace="tls"))).delivered
    refused = await service.send([make_event()], Opts(workspace="plain"))
    assert refused.outcome == "permanent"
    assert "certificate verify failed" in refused.reason


async def test_url_never_in_results_or_logs(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    make_event: Callable[..., Any],
    server: Any,
    leyden_logs: Any,
) -> None:
    server.script(
        (404, {"message": "Unknown Webhook", "code": 10015}),
        (429, {"message": "You are being rate limited.", "retry_after": 0.1}),
        500,
    )
    service = services(make_config(url=server.url()))
    texts = []
    for _ in range(3):  # the third waits for the 429's bucket, and logs that it does
        result = await service.send([make_event()], Opts())
        texts += [result.reason, result.describe()]
    _ok, message = await service.test({})
    texts.append(message)
    texts += leyden_logs.texts()
    assert leyden_logs.records
    for text in texts:
        assert server.token not in text
        assert server.url() not in text


# --- service test ----------------------------------------------------------------------------


def test_default_test_options(
    services: Callable[..., DiscordService], make_config: Callable[..., Any]
) -> None:
    service = services(
        make_config(workspace="b", default=False), make_config(workspace="a", default=True)
    )
    assert service.default_test_options() == {
        "workspace": "a",
        "message": "test discord message",
        "level": "INFO",
        "username": "Kapacitor",
        "avatar-url": LOGO,
        "embed-title": "Kapacitor Alert",
        "time-val": "1970-01-01T00:00:01Z",
    }  # Kapacitor's keys only: ``timestamp`` is accepted but not listed
    assert services().default_test_options()["workspace"] == ""


async def test_service_test_with_defaults(
    services: Callable[..., DiscordService], make_config: Callable[..., Any], server: Any
) -> None:
    service = services(make_config(url=server.url()))
    assert await service.test({}) == (True, "")
    assert server.seen[0].body == {
        "username": "Kapacitor",
        "avatar_url": LOGO,
        "embeds": [
            {"color": 0x7A65F2, "title": "Kapacitor Alert", "description": "test discord message"}
        ],
        "allowed_mentions": {"parse": []},  # Leyden: a test message pings nobody
    }


@pytest.mark.parametrize(
    ("ws_timestamp", "option", "expected"),
    [
        (False, None, None),
        (True, None, "1970-01-01T00:00:01Z"),
        (False, True, "1970-01-01T00:00:01Z"),
        (True, False, None),
    ],
)
async def test_service_test_timestamp(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    server: Any,
    ws_timestamp: bool,
    option: bool | None,
    expected: str | None,
) -> None:
    service = services(make_config(url=server.url(), timestamp=ws_timestamp))
    assert await service.test({"timestamp": option}) == (True, "")
    assert _embed(server.seen[0].body).get("timestamp") == expected


async def test_service_test_options_are_used_as_given(
    services: Callable[..., DiscordService], make_config: Callable[..., Any], server: Any
) -> None:
    service = services(
        make_config(workspace="a", url="http://127.0.0.1:9/unused"),
        make_config(workspace="ops", default=False, url=server.url(), username="OpsBot"),
    )
    ok = await service.test(
        {
            "workspace": "ops",
            "message": "disk full",
            "level": "CRITICAL",
            "username": "",
            "avatar-url": "",
            "embed-title": "{{ .ID }}",
            "time-val": "2024-02-29T12:34:56.789+02:00",
            "timestamp": True,
        }
    )
    assert ok == (True, "")
    assert server.seen[0].body == {
        "username": "OpsBot",
        "embeds": [
            {
                "color": 0xF95F53,
                "title": "{{ .ID }}",  # as in Kapacitor: not rendered
                "description": "disk full",
                "timestamp": "2024-02-29T10:34:56Z",
            }
        ],
        "allowed_mentions": {"parse": []},
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level": "info"}, "invalid level 'info': must be one of OK, INFO, WARNING, CRITICAL"),
        ({"level": "WARN"}, "invalid level 'WARN': must be one of OK, INFO, WARNING, CRITICAL"),
        ({"time-val": "yesterday"}, "invalid \"time-val\" 'yesterday': want an RFC3339 time"),
        ({"time-val": "1970-01-01T00:00:01"}, "invalid \"time-val\" '1970-01-01T00:00:01'"),
        ({"channel": "x"}, "unknown discord test option(s): channel; valid options: workspace,"),
        ({"timestamp": "true"}, "\"timestamp\" must be true or false, got 'true'"),
        ({"message": 3}, '"message" must be a string, got 3'),
        (
            {"workspace": "nope"},
            'workspace id not found: "nope" is not configured; configured workspaces: a',
        ),
    ],
)
async def test_service_test_rejects_bad_options(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    server: Any,
    options: dict[str, Any],
    message: str,
) -> None:
    service = services(make_config(workspace="a", url=server.url()))
    ok, reason = await service.test(options)
    assert not ok
    assert message in reason
    assert server.seen == []


async def test_service_test_reports_discords_reason_in_one_attempt(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    server: Any,
    fake_time: Any,
) -> None:
    server.script((404, {"message": "Unknown Webhook", "code": 10015}), 500)
    service = services(make_config(url=server.url()))
    assert await service.test({}) == (False, "HTTP 404: Unknown Webhook (10015)")
    assert await service.test({}) == (False, "HTTP 500: no response body")
    assert len(server.seen) == 2
    assert fake_time.waits == []


async def test_service_test_without_configuration(services: Callable[..., DiscordService]) -> None:
    assert await services().test({}) == (False, "no discord configuration found")


async def test_close_closes_the_sender_it_was_given(
    make_config: Callable[..., Any], sender: DiscordSender, server: Any
) -> None:
    service = DiscordService([make_config(url=server.url())], sender=sender)
    await service.close()
    with pytest.raises(RuntimeError, match="closed"):
        await sender.post_once(server.url(), {"content": "closed with its service"})


# --- destinations (the outbox's ordering, pacing and metrics key) ----------------------------


@pytest.mark.parametrize(
    "first, second",
    [
        (
            "https://discord.com/api/webhooks/111/tokenAAAA",
            "https://discord.com/api/webhooks/222/tokenBBBB",
        ),
        (  # an emulator or relay: the host alone would merge both webhooks into one queue
            "http://127.0.0.1:9093/api/webhooks/111/tokenAAAA",
            "http://127.0.0.1:9093/api/webhooks/222/tokenBBBB",
        ),
    ],
)
def test_each_webhook_is_its_own_destination_and_shows_no_token(
    services: Callable[..., DiscordService],
    make_config: Callable[..., Any],
    first: str,
    second: str,
) -> None:
    service = services(
        make_config(workspace="a", url=first), make_config(workspace="b", url=second, default=False)
    )
    a, b = service.destination("a"), service.destination("b")
    assert a != b
    assert a == service.destination("a")  # stable
    for name in (a, b):
        assert name.startswith("discord ")
        assert "token" not in name


# --- Leyden's own options (issue 12): handler values, checks, merged over the workspace ------

ROLE = "123456789012345678"
USER = "223456789012345678"
THREAD = "323456789012345678"


def test_from_options_reads_the_feature_keys() -> None:
    opts = Opts.from_options(
        {
            "edit-in-place": True,
            "thread-id": int(THREAD),  # YAML without quotes: a number
            "forum-thread": False,
            "mention-roles": [ROLE],
            "mention-users": USER,  # one ID without a list
            "mention-level": "WARNING",
            "silent-below": "OK",
            "tags-as-fields": True,
            "link": "https://grafana.example/{{ .ID }}",
        }
    )
    assert opts == Opts(
        edit_in_place=True,
        thread_id=THREAD,
        forum_thread=False,
        mention_roles=(ROLE,),
        mention_users=(USER,),
        mention_level=Level.WARNING,
        silent_below=Level.OK,
        tags_as_fields=True,
        link="https://grafana.example/{{ .ID }}",
    )
    assert Opts.from_tick(
        {"mentionRoles": [ROLE], "threadId": THREAD, "editInPlace": True, "silentBelow": "INFO"}
    ) == Opts(edit_in_place=True, thread_id=THREAD, mention_roles=(ROLE,), silent_below=Level.INFO)


@pytest.mark.parametrize(
    ("options", "key", "message"),
    [
        ({"thread-id": "abc"}, "thread-id", '"thread-id" must be a Discord ID'),
        ({"mention-roles": [ROLE, "@ops"]}, "mention-roles", "got '@ops'"),
        ({"mention-users": [True]}, "mention-users", "must be a Discord ID"),
        ({"mention-level": "warn"}, "mention-level", "must be one of OK, INFO, WARNING, CRITICAL"),
        ({"silent-below": 2}, "silent-below", '"silent-below" must be a string, got 2'),
        ({"edit-in-place": "yes"}, "edit-in-place", "must be true or false, got 'yes'"),
        ({"link": "{{ if }}"}, "link", '"link" is not a valid template'),
    ],
)
def test_feature_option_errors_name_the_key(
    options: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(DiscordOptionError) as info:
        Opts.from_options(options)
    assert info.value.key == key
    assert message in str(info.value)


def test_handler_values_override_the_workspaces(make_config: Callable[..., Any]) -> None:
    workspace = make_config(
        mention_roles=[ROLE],
        mention_level="WARNING",
        silent_below="WARNING",
        tags_as_fields=True,
        link="https://w/{{ .ID }}",
        thread_id=THREAD,
    )
    assert merge_features(Opts(), workspace) == DiscordFeatures(
        thread_id=THREAD,
        mention_roles=(ROLE,),
        mention_level=Level.WARNING,
        silent_below=Level.WARNING,
        tags_as_fields=True,
        link="https://w/{{ .ID }}",
    )
    mine = Opts(
        mention_roles=(),
        mention_users=(USER,),
        mention_level=Level.OK,
        silent_below=Level.OK,
        tags_as_fields=False,
        link="https://h/",
    )
    assert merge_features(mine, workspace) == DiscordFeatures(
        thread_id=THREAD,
        mention_roles=(),
        mention_users=(USER,),
        mention_level=Level.OK,
        silent_below=Level.OK,
        link="https://h/",
    )
    assert merge_features(Opts(), make_config()) == DiscordFeatures()  # off by default


def test_thread_id_and_forum_thread_exclude_each_other_after_merging(
    make_config: Callable[..., Any], services: Callable[..., DiscordService]
) -> None:
    with pytest.raises(
        DiscordOptionError, match=r"exclude each other .*; one of them is the workspace.s$"
    ):
        merge_features(Opts(forum_thread=True), make_config(thread_id=THREAD))
    with pytest.raises(DiscordOptionError) as info:
        merge_features(Opts(thread_id=THREAD, forum_thread=True), make_config())
    assert info.value.key == "thread-id"
    # the handler's forum-thread over the workspace's thread: refused when defined
    service = services(make_config(workspace="ops", thread_id=THREAD))
    problem = check({"workspace": "ops", "forum-thread": True}, service, False)
    assert problem is not None and "exclude each other" in problem.message
    tick_problem = check({"workspace": "ops", "forumThread": True}, service, True)
    assert tick_problem is not None and tick_problem.prop == "forumThread"
    assert check({"workspace": "ops", "forum-thread": False}, service, False) is None
    bad = check({"workspace": "ops", "mentionRoles": [ROLE, "ops"]}, service, True)
    assert bad is not None and (bad.prop, bad.value) == ("mentionRoles", "ops")
