"""The status page's Discord preview: the real payload code's body, drawn as Discord's client
draws it (:mod:`leyden.server.status.preview`), with every text escaped first."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from leyden.alerting.topics import Topics
from leyden.delivery.dispatcher import Dispatcher
from leyden.delivery.outbox import MemoryOutbox, NewDelivery
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.notify.discord.config import DiscordConfig
from leyden.notify.discord.payload import LEVEL_COLORS
from leyden.notify.discord.sender import DiscordSender
from leyden.notify.discord.service import DiscordService
from leyden.server.status.preview import discord_markdown, draw, preview
from leyden.server.status.view import Selection

NOW = 1_700_000_600.0
S = 1_000_000_000
TOKEN = "very-secret-token"


def md(text: str) -> str:
    return str(discord_markdown(text, NOW))


def test_markdown_is_discord_s_subset_over_escaped_text() -> None:
    assert md("**bold** *it* _it_ __under__ ~~gone~~") == (
        "<strong>bold</strong> <em>it</em> <em>it</em> <u>under</u> <s>gone</s>"
    )
    assert md("usage_idle_total is 5 * 3 * 2") == "usage_idle_total is 5 * 3 * 2"
    assert md("`**not bold** <b>`") == "<code>**not bold** &lt;b&gt;</code>"
    assert md("```py\nx = '<i>'\n```") == "<pre><code>x = &#39;&lt;i&gt;&#39;\n</code></pre>"
    assert md('<script>alert("x")</script> & **<img src=x>**') == (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; <strong>&lt;img src=x&gt;</strong>"
    )
    assert isinstance(discord_markdown("x", NOW), Markup)


def test_timestamps_and_mentions_as_discord_shows_them() -> None:
    assert md("<t:1700000000:R>") == (
        '<time class="ts" datetime="2023-11-14T22:13:20Z">10m ago</time>'
    )
    assert md("<t:1700000660:R>") == (
        '<time class="ts" datetime="2023-11-14T22:24:20Z">in 1m</time>'
    )
    assert md("<t:1700000000>") == (
        '<time class="ts local" data-style="f" datetime="2023-11-14T22:13:20Z">'
        "14 November 2023 22:13 UTC</time>"
    )
    assert md("<@&123> <@456> <@!789> @everyone") == (
        '<span class="mention">@role 123</span> <span class="mention">@user 456</span> '
        '<span class="mention">@user 789</span> <span class="mention">@everyone</span>'
    )
    assert md("<t:99999999999999:R>") == "&lt;t:99999999999999:R&gt;"  # not a time: as written


def test_a_payload_is_drawn_with_its_colour_fields_footer_and_time() -> None:
    payload: dict[str, Any] = {
        "username": "AlertBot",
        "content": "<@&1> look",
        "flags": 1 << 12,
        "embeds": [
            {
                "color": 0xF95F53,
                "title": "CPU <b>",
                "url": "javascript:alert(1)",
                "description": "**high**",
                "fields": [
                    {"name": "Since", "value": "<t:1700000000:R>", "inline": True},
                    {"name": "host", "value": "a", "inline": True},
                    {"name": "note", "value": "wide", "inline": False},
                ],
                "footer": {"text": "cpu · cpu:a"},
                "timestamp": "2023-11-14T22:13:20Z",
            },
            {"color": 0x2ECC71, "url": "https://grafana.example/d/1", "description": "ok"},
        ],
    }
    drawn = draw(payload, NOW)
    assert drawn.username == "AlertBot" and drawn.silent
    assert str(drawn.content) == '<span class="mention">@role 1</span> look'
    first, second = drawn.embeds
    assert (first.color, first.title, first.url) == ("#f95f53", "CPU <b>", "")
    assert str(first.description) == "<strong>high</strong>"
    assert [(str(f.name), f.inline) for f in first.fields] == [
        ("Since", True),
        ("host", True),
        ("note", False),
    ]
    assert (first.footer, first.timestamp) == ("cpu · cpu:a", "2023-11-14T22:13:20Z")
    assert first.timestamp_text == "2023-11-14 22:13:20 UTC"
    assert (second.color, second.url, second.title) == (
        "#2ecc71",
        "https://grafana.example/d/1",
        "",
    )


def _topics_with(event: Event) -> Topics:
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    topics.collect(event)
    return topics


def _event(topic: str = "cpu", level: Level = Level.CRITICAL) -> Event:
    state = EventState("cpu:a", "CPU is **high**", "", Time(1_700_000_000 * S), Duration(0), level)
    return Event(topic, state, EventData(name="cpu", task_name="t", tags={"host": "a"}))


def test_without_a_discord_handler_the_default_workspace_s_message() -> None:
    service = DiscordService(
        [
            DiscordConfig(
                enabled=True,
                default=True,
                workspace="w",
                url=f"https://discord.com/api/webhooks/1/{TOKEN}",
                username="Bot",
                embed_title='{{ .ID }} on {{ index .Tags "host" }}',
                timestamp=True,
            )
        ],
        sender=DiscordSender(),
    )
    topics = _topics_with(_event())
    shown = preview(
        Selection(topic="cpu", event="cpu:a"), topics, MemoryOutbox(), service, clock=lambda: NOW
    )
    assert shown is not None and not shown.error
    assert shown.source == (
        "no Discord handler bound: as .discord() with the default workspace would send it"
    )
    assert shown.username == "Bot"
    (embed,) = shown.embeds
    assert embed.title == "cpu:a on a"  # the tags of the latest event, kept by its topic
    assert embed.color == f"#{LEVEL_COLORS[Level.CRITICAL]:06x}"
    assert str(embed.description) == "CPU is <strong>high</strong>"
    assert embed.footer == "t · cpu:a"
    assert [(str(f.name), str(f.value)) for f in embed.fields] == [
        ("Since", '<time class="ts" datetime="2023-11-14T22:13:20Z">10m ago</time>')
    ]
    assert TOKEN not in repr(shown)


def test_without_any_workspace_kapacitor_s_embed() -> None:
    topics = _topics_with(_event(level=Level.WARNING))
    shown = preview(
        Selection(topic="cpu", event="cpu:a"), topics, MemoryOutbox(), None, clock=lambda: NOW
    )
    assert shown is not None
    assert shown.source == "no Discord workspace applies: Kapacitor's alert embed"
    (embed,) = shown.embeds
    assert (embed.color, embed.title, embed.footer) == (
        f"#{LEVEL_COLORS[Level.WARNING]:06x}",
        "",
        "",
    )
    assert preview(Selection(), topics, MemoryOutbox(), None, clock=lambda: NOW) is None


def test_a_discord_dead_letter_whose_handler_is_gone() -> None:
    """A delivery carries its whole event (tags included); without its handler, the default
    workspace's message, and the preview says why."""
    service = DiscordService(
        [
            DiscordConfig(
                enabled=True,
                default=True,
                workspace="w",
                url=f"https://discord.com/api/webhooks/1/{TOKEN}",
                embed_title='{{ index .Tags "host" }}',
            )
        ],
        sender=DiscordSender(),
    )
    outbox = MemoryOutbox()
    (row_id,) = outbox.add(
        [NewDelivery.of(_event(), handler="task:gone:alert2:0", kind="discord", destination="d")]
    )
    topics = Topics(dispatcher=Dispatcher(MemoryOutbox()))
    shown = preview(Selection(delivery=row_id), topics, outbox, service, clock=lambda: NOW)
    assert shown is not None and not shown.error
    assert shown.subject == f"delivery {row_id} (cpu:a)"
    assert shown.notes == ("its handler is not bound any more (its task or topic handler is gone)",)
    (embed,) = shown.embeds
    assert (embed.title, embed.footer) == ("a", "t · cpu:a")
    assert TOKEN not in repr(shown)
