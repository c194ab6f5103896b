from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leyden.model.alert import Level
from leyden.notify.discord.payload import (
    DESCRIPTION_LIMIT,
    EMBEDS_LIMIT,
    EMPTY_DESCRIPTION,
    LEVEL_COLORS,
    LONG_MARKER,
    SHORT_MARKER,
    TITLE_LIMIT,
    TOTAL_EMBED_LIMIT,
    alert_embed,
    build_alert_payload,
    combine_embeds,
    fit_payload,
    fit_text,
    text_length,
    validate_payload,
)

CLEF = "𝄞"  # one code point, two UTF-16 units, four UTF-8 bytes


@pytest.mark.parametrize(
    ("level", "color"),
    [
        (Level.CRITICAL, 0xF95F53),
        (Level.WARNING, 0xF48D38),
        (Level.INFO, 0x7A65F2),
        (Level.OK, 0x2ECC71),
    ],
)
def test_colour_per_level(level: Level, color: int) -> None:
    payload = build_alert_payload(message="m", level=level)
    assert payload["embeds"][0]["color"] == color


def test_all_fields_in_kapacitor_order() -> None:
    payload = build_alert_payload(
        message="cpu is CRITICAL",
        level=Level.CRITICAL,
        title="Alert",
        username="AlertBot",
        avatar_url="https://example.invalid/a.png",
        timestamp="1970-01-01T00:00:01Z",
    )
    assert payload == {
        "username": "AlertBot",
        "avatar_url": "https://example.invalid/a.png",
        "embeds": [
            {
                "color": 0xF95F53,
                "title": "Alert",
                "description": "cpu is CRITICAL",
                "timestamp": "1970-01-01T00:00:01Z",
            }
        ],
    }
    assert list(payload) == ["username", "avatar_url", "embeds"]
    assert validate_payload(payload) == []


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_empty_fields_are_omitted_never_sent_empty(blank: str) -> None:
    payload = build_alert_payload(
        message="m",
        level=Level.INFO,
        title=blank,
        username=blank,
        avatar_url=blank,
        timestamp=blank,
    )
    assert payload == {"embeds": [{"color": 0x7A65F2, "description": "m"}]}


@pytest.mark.parametrize("message", ["", "  ", "\n"])
def test_empty_message_gets_a_placeholder(message: str) -> None:
    payload = build_alert_payload(message=message, level=Level.OK)
    assert payload["embeds"][0]["description"] == EMPTY_DESCRIPTION
    assert validate_payload(payload) == []


def test_text_length_counts_code_points_after_strip() -> None:
    assert text_length(f"  {CLEF * 3}\n") == 3
    assert text_length("\U0010ffff \uffff") == 3


def test_fit_text_leaves_fitting_text_alone() -> None:
    text = "  " + CLEF * 10 + "  "  # 10 code points after strip; surrounding blanks don't count
    assert fit_text(text, 10) is text


def test_description_truncated_at_4096_code_points() -> None:
    exact = CLEF * DESCRIPTION_LIMIT
    assert build_alert_payload(message=exact, level=Level.INFO)["embeds"][0]["description"] == exact
    long = CLEF * (DESCRIPTION_LIMIT + 1)
    description = build_alert_payload(message=long, level=Level.INFO)["embeds"][0]["description"]
    assert len(description) == DESCRIPTION_LIMIT
    assert description.endswith(LONG_MARKER)
    assert description.startswith(CLEF * 100)
    # The UTF-16 length is far above the limit: Discord counts code points, and so do we.
    assert len(description.encode("utf-16-le")) // 2 > DESCRIPTION_LIMIT


def test_title_truncated_at_256_code_points() -> None:
    exact = CLEF * TITLE_LIMIT
    payload = build_alert_payload(message="m", level=Level.INFO, title=exact)
    assert payload["embeds"][0]["title"] == exact
    payload = build_alert_payload(message="m", level=Level.INFO, title=CLEF * 300)
    title = payload["embeds"][0]["title"]
    assert len(title) == TITLE_LIMIT
    assert title == CLEF * (TITLE_LIMIT - 1) + SHORT_MARKER


def test_username_fitted_to_80() -> None:
    payload = build_alert_payload(message="m", level=Level.INFO, username=CLEF * 81)
    assert len(payload["username"]) == 80
    assert payload["username"].endswith(SHORT_MARKER)
    assert validate_payload(payload) == []


def test_truncation_keeps_leading_text_and_drops_trailing_blanks() -> None:
    # The " … (truncated)" note does not fit in 12, so the bare ellipsis is used.
    assert fit_text("  abc   def   ghi", 12) == "abc   def…"
    assert fit_text("abc   def   ghi jkl mno pqr", 20) == "abc" + LONG_MARKER


def test_fit_payload_enforces_the_6000_total_across_embeds() -> None:
    payload = {
        "embeds": [
            {"title": f"alert {i}", "description": CLEF * DESCRIPTION_LIMIT, "color": 1}
            for i in range(3)
        ]
    }
    assert any("6000" in p for p in validate_payload(payload))
    fitted = fit_payload(payload)
    assert validate_payload(fitted) == []
    titles = [e["title"] for e in fitted["embeds"]]
    assert titles == ["alert 0", "alert 1", "alert 2"]  # short texts untouched
    descriptions = [e["description"] for e in fitted["embeds"]]
    total = sum(text_length(t) for t in titles) + sum(text_length(d) for d in descriptions)
    assert total <= TOTAL_EMBED_LIMIT
    assert all(d.endswith(LONG_MARKER) for d in descriptions)
    assert len({len(d) for d in descriptions}) == 1  # the room is shared evenly
    assert payload["embeds"][0]["description"] == CLEF * DESCRIPTION_LIMIT  # input not mutated


def test_fit_payload_counts_fields_footer_and_author() -> None:
    embed = {
        "title": "t" * 256,
        "description": "d" * 4096,
        "fields": [{"name": "n" * 300, "value": "v" * 2000} for _ in range(3)],
        "footer": {"text": "f" * 3000},
        "author": {"name": "a" * 300},
    }
    fitted = fit_payload({"embeds": [embed]})
    assert validate_payload(fitted) == []
    out = fitted["embeds"][0]
    assert len(out["footer"]["text"]) <= 2048
    assert len(out["author"]["name"]) <= 256
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in out["fields"])


def test_fit_payload_caps_embeds_fields_and_content() -> None:
    payload = {
        "content": "c" * 2500,
        "embeds": [
            {"description": "x", "fields": [{"name": "n", "value": "v"}] * 30} for _ in range(12)
        ],
    }
    problems = validate_payload(payload)
    assert "content: Must be 2000 or fewer in length." in problems
    assert "embeds: Must be 10 or fewer in length." in problems
    assert "embeds.0.fields: Must be 25 or fewer in length." in problems
    fitted = fit_payload(payload)
    assert validate_payload(fitted) == []
    assert len(fitted["embeds"]) == 10
    assert "2 more alerts not shown" in fitted["content"]
    assert len(fitted["embeds"][0]["fields"]) == 25
    assert fitted["embeds"][0]["fields"][-1]["value"] == "6 more fields not shown"


def test_fit_payload_fills_empty_field_texts_and_drops_empty_strings() -> None:
    fitted = fit_payload(
        {
            "username": "",
            "content": "",
            "embeds": [
                {"title": "", "description": "d", "fields": [{"name": "", "value": " "}]},
            ],
        }
    )
    assert "username" not in fitted and "content" not in fitted
    assert "title" not in fitted["embeds"][0]
    assert fitted["embeds"][0]["fields"] == [{"name": "\u200b", "value": "\u200b"}]
    assert validate_payload(fitted) == []


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({}, "message: Cannot send an empty message"),
        ({"embeds": []}, "message: Cannot send an empty message"),
        ({"content": "x", "username": ""}, "username: Must be between 1 and 80 in length."),
        (
            {"content": "x", "username": "my discord bot"},
            'username: Username cannot contain "discord"',
        ),
        ({"content": "x", "username": "here"}, 'username: Username cannot be "here"'),
        ({"content": "x", "avatar_url": "not a url"}, "avatar_url: Not a well formed URL."),
        ({"embeds": [{"color": "#ff0000"}]}, "embeds.0.color: Value '#ff0000' is not int."),
        ({"embeds": [{"color": 0x1000000}]}, "embeds.0.color: Must be between 0 and 16777215."),
        (
            {"embeds": [{"timestamp": "1500218461229"}]},
            "embeds.0.timestamp: Could not parse '1500218461229'. Should be ISO8601.",
        ),
        ({"embeds": [{"title": "t" * 257}]}, "embeds.0.title: Must be 256 or fewer in length."),
        (
            {"embeds": [{"description": "d" * 4097}]},
            "embeds.0.description: Must be 4096 or fewer in length.",
        ),
        (
            {"embeds": [{"fields": [{"name": "n"}]}]},
            "embeds.0.fields.0.value: This field is required",
        ),
        (
            {"embeds": [{"footer": {"text": "f" * 2049}}]},
            "embeds.0.footer.text: Must be 2048 or fewer in length.",
        ),
        ("not an object", "message: Body must be a JSON object."),
    ],
)
def test_validate_payload_reports_what_discord_refuses(payload: object, problem: str) -> None:
    assert problem in validate_payload(payload)


def test_validate_counts_code_points_not_bytes() -> None:
    assert validate_payload({"embeds": [{"description": CLEF * 4096}]}) == []
    assert validate_payload({"embeds": [{"description": f"  {'d' * 4096}  "}]}) == []
    assert validate_payload({"content": CLEF * 2000}) == []


def test_timestamp_z_and_offset_forms_accepted() -> None:
    for ts in ("1970-01-01T00:00:01Z", "2017-07-11T17:27:07.299000+00:00"):
        assert validate_payload({"embeds": [{"description": "d", "timestamp": ts}]}) == []


_texts = st.builds(
    lambda parts: "".join(c * n for c, n in parts),
    st.lists(
        st.tuples(st.sampled_from(["a", CLEF, " ", "é\n", "\t"]), st.integers(0, 3000)), max_size=3
    ),
)
_fields = st.lists(st.fixed_dictionaries({"name": _texts, "value": _texts}), max_size=30)
_embeds = st.lists(
    st.fixed_dictionaries(
        {"color": st.integers(0, 0xFFFFFF)},
        optional={
            "title": _texts,
            "description": _texts,
            "fields": _fields,
            "footer": st.fixed_dictionaries({"text": _texts}),
            "author": st.fixed_dictionaries({"name": _texts}),
        },
    ),
    min_size=1,
    max_size=13,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(embeds=_embeds, content=_texts, username=_texts)
def test_fitted_payload_always_validates(embeds: list[dict], content: str, username: str) -> None:
    payload = {"content": content, "username": username.replace("discord", ""), "embeds": embeds}
    fitted = fit_payload(payload)
    assert validate_payload(fitted) == []
    assert fit_payload(fitted) == fitted  # fitting is idempotent


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


_alerts = st.lists(
    st.tuples(_texts, _texts, st.sampled_from(list(Level)), st.booleans()),
    min_size=1,
    max_size=EMBEDS_LIMIT,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alerts=_alerts, username=_texts, avatar=st.sampled_from(["", " ", "https://x/a.png"]))
def test_coalesced_alerts_never_break_discords_rules(
    alerts: list[tuple[str, str, Level, bool]], username: str, avatar: str
) -> None:
    """Up to 10 alerts in one message (issue 10): code points, no empty strings, the 6000
    total, 10 embeds, and every alert its own embed, in order."""
    embeds = [
        alert_embed(
            message=message,
            level=level,
            title=title,
            timestamp="2026-12-04T10:00:00Z" if stamped else "",
        )
        for message, title, level, stamped in alerts
    ]
    payload = combine_embeds(embeds, username=username.replace("discord", ""), avatar_url=avatar)
    assert validate_payload(payload) == []
    assert len(payload["embeds"]) == len(alerts) <= EMBEDS_LIMIT
    assert [e["color"] for e in payload["embeds"]] == [LEVEL_COLORS[a[2]] for a in alerts]
    assert all(text.strip() for text in _strings(payload))
    counted = sum(
        text_length(e.get("title", "")) + text_length(e.get("description", ""))
        for e in payload["embeds"]
    )
    assert counted <= TOTAL_EMBED_LIMIT
    for embed, (message, *_rest) in zip(payload["embeds"], alerts, strict=True):
        kept = embed["description"].removesuffix(LONG_MARKER).removesuffix(SHORT_MARKER).strip()
        assert message.strip().startswith(kept) or embed["description"] == EMPTY_DESCRIPTION
