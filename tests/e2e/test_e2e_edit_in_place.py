"""Edit in place and forum threads (issue 12) with real ``leyden serve`` processes and the
Discord emulator: one message per incident, edited to green on recovery, a notice when the
level rises, the same message after a restart; one forum post per alert ID.
"""

from __future__ import annotations

from typing import Any

from e2e_stack import ALERTS_WEBHOOK, COLORS, ERRORS_WEBHOOK, Stack, http_json, level_of, wait_until

from seed_page import CPU_ALERT_TICK

# the seed's topic flow, with a WARNING level below its CRITICAL one
WARN_CRIT_TICK = CPU_ALERT_TICK.replace(
    ".crit(lambda", '.warn(lambda: "usage_idle" < 20)\n    .crit(lambda'
)

# the same alert with an inline handler that edits in place
INLINE_EDIT_TICK = CPU_ALERT_TICK.replace(".topic('cpu')", ".discord()\n      .editInPlace(TRUE)")

EDIT_HANDLER = """\
id: discord-cpu-alert
topic: cpu
kind: discord
options:
  workspace: 'guild-alerts'
  embed-title: 'Hey, Listen!'
  edit-in-place: true
"""


def write(stack: Stack, *idle: float, host: str = "web01") -> None:
    client = stack.influx()
    for value in idle:  # one write each, so the points arrive in this order
        point = {"measurement": "cpu", "tags": {"host": host}, "fields": {"usage_idle": value}}
        assert client.write_points([point], retention_policy="autogen")


def define(stack: Stack, tick: str, handler: str = "") -> None:
    stack.file("cpu_alert.tick", tick)
    stack.ok("define", "cpu_alert", "-tick", "cpu_alert.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "cpu_alert")
    if handler:
        stack.file("handler.yaml", handler)
        stack.ok("define-topic-handler", "handler.yaml")


def wait_for(stack: Stack, what: str, check: Any) -> list[dict[str, Any]]:
    """Poll the emulator's messages until ``check(messages)`` holds; returns them."""

    def done() -> list[dict[str, Any]] | None:
        got = stack.messages(ALERTS_WEBHOOK)
        return got if check(got) else None

    try:
        found: list[dict[str, Any]] = wait_until(done, what, 10.0)
        return found
    except AssertionError as exc:
        raise AssertionError(f"{exc}; got {stack.messages()}") from None


def test_critical_then_ok_across_a_restart_edits_one_message(stack: Stack) -> None:
    define(stack, CPU_ALERT_TICK, EDIT_HANDLER)
    write(stack, 50.0, 2.0)
    [first] = wait_for(stack, "the CRITICAL message", lambda got: len(got) == 1)
    assert level_of(first["payload"]["embeds"][0]) == "CRITICAL"
    assert first["status"] == 200  # sent with ?wait=true: its id is kept

    stack.restart_server()  # the id must come from the store, not from memory

    write(stack, 40.0)
    [message] = wait_for(
        stack,
        "the message edited to OK",
        lambda got: got and got[0]["edited_at"] is not None,
    )
    assert message["id"] == first["id"]
    [embed] = message["payload"]["embeds"]
    assert embed["color"] == COLORS["OK"]
    assert embed["title"] == "Hey, Listen!"
    assert embed["description"] == "Hey, check your CPU"
    [lasted] = [f for f in embed["fields"] if f["name"] == "Lasted"]
    assert lasted["value"].endswith("s")
    assert len(stack.messages()) == 1


def test_warning_then_critical_edits_and_posts_one_notice(stack: Stack) -> None:
    define(stack, WARN_CRIT_TICK, EDIT_HANDLER)
    write(stack, 50.0, 10.0)
    wait_for(stack, "the WARNING message", lambda got: len(got) == 1)
    write(stack, 2.0)
    original, notice = wait_for(stack, "the notice", lambda got: len(got) == 2)
    assert level_of(original["payload"]["embeds"][0]) == "CRITICAL"
    assert original["edited_at"] is not None
    [said] = notice["payload"]["embeds"]
    assert level_of(said) == "CRITICAL"
    assert "rose from WARNING to CRITICAL" in said["description"]

    write(stack, 60.0)  # recovery: an edit, no third message
    wait_for(
        stack,
        "the message edited to OK",
        lambda got: level_of(got[0]["payload"]["embeds"][0]) == "OK",
    )
    assert len(stack.messages()) == 2


def test_kill_9_after_the_first_message_still_edits_it(stack: Stack) -> None:
    define(stack, INLINE_EDIT_TICK)  # .discord().editInPlace(TRUE) in the TICKscript
    write(stack, 50.0, 2.0)
    [first] = wait_for(stack, "the CRITICAL message", lambda got: len(got) == 1)

    stack.kill_server()  # whatever was in flight is sent again: as an edit, never a new post
    stack.start_server()
    write(stack, 40.0)
    wait_for(
        stack,
        "the message edited to OK",
        lambda got: level_of(got[0]["payload"]["embeds"][0]) == "OK",
    )
    assert [m["id"] for m in stack.messages()] == [first["id"]]


# --- forum channels --------------------------------------------------------------------------

# the seed's topic flow, one alert per host
PER_HOST_TICK = CPU_ALERT_TICK.replace(
    ".measurement('cpu')", ".measurement('cpu')\n    .groupBy('host')"
)

FORUM_HANDLER = """\
id: discord-cpu-forum
topic: cpu
kind: discord
options:
  workspace: 'guild-errors'
  forum-thread: true
"""


def test_forum_thread_opens_a_post_per_alert_and_each_recovery_lands_in_its_own(
    stack: Stack,
) -> None:
    forum = f"{stack.emulator}/_emulator/webhooks/{ERRORS_WEBHOOK}/forum"
    http_json("POST", forum, {"forum": True})  # a strict forum: thread_name or thread_id
    try:
        define(stack, PER_HOST_TICK, FORUM_HANDLER)
        write(stack, 2.0, host="web01")
        write(stack, 3.0, host="web02")
        wait_for_webhook(stack, ERRORS_WEBHOOK, 2)
        stack.restart_server()  # the threads' ids come from the store
        write(stack, 40.0, host="web01")
        write(stack, 45.0, host="web02")
        got = wait_for_webhook(stack, ERRORS_WEBHOOK, 4)
    finally:
        http_json("POST", forum, {"forum": False})
    posts = [m for m in got if m["payload"].get("thread_name")]
    assert sorted(m["payload"]["thread_name"] for m in posts) == [
        "Errors: cpu:host=web01",  # guild-errors' embed title and the alert ID
        "Errors: cpu:host=web02",
    ]
    threads = {m["payload"]["thread_name"]: m["thread_id"] for m in posts}
    assert len(set(threads.values())) == 2 and all(threads.values())
    for name, thread in threads.items():
        mine = [m for m in got if m["thread_id"] == thread]
        assert [level_of(m["payload"]["embeds"][0]) for m in mine] == ["CRITICAL", "OK"], name
        assert mine[1]["payload"]["embeds"][0]["description"] == "Hey, check your CPU"
    assert len(got) == 4


def wait_for_webhook(stack: Stack, webhook: str, count: int) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        got = stack.messages(webhook)
        return got if len(got) >= count else None

    try:
        found: list[dict[str, Any]] = wait_until(done, f"{count} message(s)", 10.0)
        return found
    except AssertionError as exc:
        raise AssertionError(f"{exc}; got {stack.messages()}") from None
