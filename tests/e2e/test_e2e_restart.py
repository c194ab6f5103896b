"""A restart in the middle of an alert: the seed's ``cpu`` topic flow, the server stopped with
SIGTERM while the alert is CRITICAL and started again on the same data_dir.

The task comes back enabled and executing, the topic handler is still defined, the alert state
survives (a further CRITICAL point is not a state change, so nothing is sent again), and the
recovery after the restart arrives exactly once — through the topic handler and through an
inline ``.discord()`` alike.
"""

from __future__ import annotations

from e2e_stack import ALERTS_WEBHOOK, Stack, embeds, levels

from seed_page import CPU_ALERT_TICK as SEED_CPU_ALERT_TICK
from seed_page import DISCORD_CPU_HANDLER

# the seed's cpu_alert.tick, with the level and the value in the message
CPU_ALERT_TICK = SEED_CPU_ALERT_TICK.replace(
    "'Hey, check your CPU'", "'{{ .Level }}: CPU idle {{ index .Fields \"usage_idle\" }}'"
)

# the same alert with an inline handler: its state lives in the task's anonymous topic
INLINE_TICK = CPU_ALERT_TICK.replace(".topic('cpu')", ".discord()\n      .embedTitle('Uh Oh!')")


def write(stack: Stack, *idle: float) -> None:
    client = stack.influx()
    for value in idle:  # one write each, so the points arrive in this order
        point = {"measurement": "cpu", "tags": {"host": "web01"}, "fields": {"usage_idle": value}}
        assert client.write_points([point], retention_policy="autogen")


def test_restart_keeps_task_handler_and_alert_state(stack: Stack) -> None:
    stack.file("cpu_alert.tick", CPU_ALERT_TICK)
    stack.ok("define", "cpu_alert", "-tick", "cpu_alert.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "cpu_alert")
    stack.file("inline.tick", INLINE_TICK)
    stack.ok("define", "inline", "-tick", "inline.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "inline")
    stack.file("discord_cpu_handler.yaml", DISCORD_CPU_HANDLER)
    stack.ok("define-topic-handler", "discord_cpu_handler.yaml")

    write(stack, 50.0, 2.0)
    assert levels(stack.wait_messages(2)) == ["CRITICAL", "CRITICAL"]

    log = stack.restart_server()
    assert "stopped" in log

    listed = [line.split() for line in stack.ok("list", "tasks").stdout.splitlines()[1:]]
    assert listed == [
        ["cpu_alert", "stream", "enabled", "true", '["telegraf"."autogen"]'],
        ["inline", "stream", "enabled", "true", '["telegraf"."autogen"]'],
    ]
    handlers = stack.ok("list", "topic-handlers").stdout.splitlines()
    assert handlers[1].split() == ["cpu", "discord-cpu-alert", "discord"]
    topic = stack.ok("show-topic", "cpu").stdout
    assert "Level: CRITICAL" in topic

    # still CRITICAL (no message), recovery, still OK (no message), CRITICAL again (the marker:
    # once it arrived, anything sent for the points before it has arrived too)
    write(stack, 1.0, 40.0, 45.0, 3.0)
    got = stack.wait_messages(6)
    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK] * 6
    for title in ("Hey, Listen!", "Uh Oh!"):  # the two tasks' messages may interleave
        mine = [m for m in got if m["payload"]["embeds"][0]["title"] == title]
        assert levels(mine) == ["CRITICAL", "OK", "CRITICAL"], title
        assert [e["description"] for e in embeds(mine)] == [
            "CRITICAL: CPU idle 2",
            "OK: CPU idle 40",
            "CRITICAL: CPU idle 3",
        ]
