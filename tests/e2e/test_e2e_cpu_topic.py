"""Seed: "Send alerts to Discord from a defined handler" — ``cpu_alert.tick`` publishes to the
``cpu`` topic and ``discord_cpu_handler.yaml`` sends what the topic collects to guild-alerts."""

from __future__ import annotations

from e2e_stack import ALERTS_WEBHOOK, Stack, embeds, levels

from seed_page import CPU_ALERT_TICK, DISCORD_CPU_HANDLER


def test_cpu_topic_handler_sends_to_guild_alerts(stack: Stack) -> None:
    stack.file("cpu_alert.tick", CPU_ALERT_TICK)
    # The seed's command has no dbrp. Kapacitor refuses it ("must specify dbrp"); Leyden runs
    # the task on every database and warns, so the documented commands work as written.
    defined = stack.cli("define", "cpu_alert", "-tick", "cpu_alert.tick")
    assert defined.returncode == 0, defined.stderr
    assert "warning: no dbrp given" in defined.stderr
    stack.ok("enable", "cpu_alert")

    stack.file("discord_cpu_handler.yaml", DISCORD_CPU_HANDLER)
    stack.ok("define-topic-handler", "discord_cpu_handler.yaml")
    listed = stack.ok("list", "topic-handlers").stdout.splitlines()
    assert [line.split() for line in listed] == [
        ["Topic", "ID", "Kind"],
        ["cpu", "discord-cpu-alert", "discord"],
    ]

    client = stack.influx()
    write = [{"measurement": "cpu", "tags": {"host": "web01"}, "fields": {"usage_idle": 0.0}}]
    for idle in (50.0, 3.0, 2.0):  # OK, CRITICAL, still CRITICAL
        write[0]["fields"] = {"usage_idle": idle}
        assert client.write_points(write, retention_policy="autogen")
    stack.wait_messages(1)
    write[0]["fields"] = {"usage_idle": 40.0}  # recovery
    assert client.write_points(write, retention_policy="autogen")
    got = stack.wait_messages(2)

    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK] * 2
    assert levels(got) == ["CRITICAL", "OK"]
    assert {e["title"] for e in embeds(got)} == {"Hey, Listen!"}
    assert {e["description"] for e in embeds(got)} == {"Hey, check your CPU"}
    assert {m["payload"]["username"] for m in got} == {"AlertBot"}  # the workspace's

    topic = stack.ok("show-topic", "cpu").stdout
    assert "ID: cpu" in topic and "Level: OK" in topic
    assert "Handlers: [discord-cpu-alert]" in topic
    handler = stack.ok("show-topic-handler", "cpu", "discord-cpu-alert").stdout
    assert "Kind: discord" in handler and '"embed-title":"Hey, Listen!"' in handler
