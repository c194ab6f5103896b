"""Issue 12's payload options through a real ``leyden serve``, the CLI and the emulator:
mentions that ping at CRITICAL and on its recovery but not at WARNING, silence below a level,
tags as fields and a link; bad values refused at ``define`` with their position."""

from __future__ import annotations

from e2e_stack import ALERTS_WEBHOOK, ERRORS_WEBHOOK, Stack, embeds, levels

from seed_page import CPU_ALERT_TICK

ROLE = "123456789012345678"

SCRIPT = """\
stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .warn(lambda: "usage_idle" < 20)
    .crit(lambda: "usage_idle" < 5)
    .stateChangesOnly()
    .message('{{ .Level }} on {{ index .Tags "host" }} @everyone')
    .discord()
      .mentionRoles('ROLE')
      .silentBelow('CRITICAL')
      .tagsAsFields(TRUE)
      .link('https://grafana.example.com/d/cpu?var-host={{ index .Tags "host" }}')
"""

HANDLER = """\
id: pager
topic: cpu
kind: discord
options:
  mention-users: ['not-an-id']
"""


def test_mentions_silence_tags_and_link_end_to_end(stack: Stack) -> None:
    define = ("define", "cpu_alert", "-tick", "cpu.tick", "-dbrp", "telegraf.autogen")
    stack.file("cpu.tick", SCRIPT.replace("ROLE", "ops-team"))
    refused = stack.cli(*define)
    assert refused.returncode == 3
    assert refused.stderr.startswith(
        "Error: invalid TICKscript: cpu.tick:11:21: discord .mentionRoles() must be a "
        "Discord ID (a snowflake: 17 to 20 decimal digits), got 'ops-team'"
    )
    stack.file("cpu.tick", SCRIPT.replace("ROLE", ROLE))
    stack.ok(*define)
    stack.ok("enable", "cpu_alert")

    stack.file("pager.yaml", HANDLER)
    bad = stack.cli("define-topic-handler", "pager.yaml")
    assert bad.returncode != 0 and '"mention-users" must be a Discord ID' in bad.stderr

    client = stack.influx()
    write = [{"measurement": "cpu", "tags": {"host": "web01"}, "fields": {"usage_idle": 0.0}}]
    for count, idle in enumerate((15.0, 2.0, 60.0), start=1):  # WARNING, CRITICAL, OK
        write[0]["fields"] = {"usage_idle": idle}
        assert client.write_points(write, retention_policy="autogen")
        got = stack.wait_messages(count)

    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK] * 3
    assert levels(got) == ["WARNING", "CRITICAL", "OK"]
    warning, critical, ok = (m["payload"] for m in got)
    # WARNING: below the default mention-level and below silent-below: no ping, no notification
    assert "content" not in warning and warning["allowed_mentions"] == {"parse": []}
    assert warning["flags"] == 4096
    # CRITICAL pings the role, and only it (the @everyone of the message stays text)
    assert critical["content"] == f"<@&{ROLE}>"
    assert critical["allowed_mentions"] == {"parse": [], "roles": [ROLE]}
    assert "flags" not in critical
    # its recovery pings again, so whoever was woken hears it is over
    assert ok["content"] == f"<@&{ROLE}>" and "flags" not in ok
    # what the (strict) emulator says Discord would have done: who was notified, and how
    assert [m["pings"] for m in got] == [
        {"users": [], "roles": [], "everyone": False},
        {"users": [], "roles": [ROLE], "everyone": False},
        {"users": [], "roles": [ROLE], "everyone": False},
    ]
    assert [m["silent"] for m in got] == [True, False, False]
    first, _, last = embeds(got)
    assert first["description"] == "WARNING on web01 @everyone"
    assert first["url"] == "https://grafana.example.com/d/cpu?var-host=web01"
    assert first["fields"][0]["name"] == "Since"
    assert first["fields"][1:] == [{"name": "host", "value": "web01", "inline": True}]
    assert first["footer"]["text"] == "cpu_alert · cpu:host=web01"
    assert last["fields"][0]["name"] == "Lasted"


THREAD = "423456789012345678"

THREAD_HANDLER = f"""\
id: into-thread
topic: cpu
kind: discord
options:
  workspace: guild-errors
  thread-id: {THREAD}
  mention-users: ['223456789012345678']
  mention-level: WARNING
"""


def test_a_handler_file_posts_into_a_thread_and_pings_a_user(stack: Stack) -> None:
    stack.file("cpu_alert.tick", CPU_ALERT_TICK)
    stack.ok("define", "cpu_alert", "-tick", "cpu_alert.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "cpu_alert")
    stack.file("thread.yaml", THREAD_HANDLER)  # the ID unquoted: YAML reads a number
    stack.ok("define-topic-handler", "thread.yaml")
    client = stack.influx()
    write = [{"measurement": "cpu", "tags": {"host": "web01"}, "fields": {"usage_idle": 1.0}}]
    assert client.write_points(write, retention_policy="autogen")
    [message] = stack.wait_messages(1)
    assert (message["webhook_id"], message["thread_id"]) == (ERRORS_WEBHOOK, THREAD)
    assert message["payload"]["content"] == "<@223456789012345678>"
    assert message["pings"]["users"] == ["223456789012345678"]
