"""Seed: "Send alerts to Discord from a TICKscript" — ``discord-cpu-alert.tick`` defined and
enabled with the CLI, points written by the ``influxdb`` client, messages in the emulator."""

from __future__ import annotations

from e2e_stack import ALERTS_WEBHOOK, Stack, embeds, levels

from seed_page import AVATAR, DISCORD_CPU_ALERT_TICK


def cpu(idle: float) -> dict[str, object]:
    return {
        "measurement": "cpu",
        "tags": {"host": "serverA", "cpu": "cpu-total"},
        "fields": {"usage_idle": idle},
    }


def test_discord_cpu_alert_warns_and_recovers(stack: Stack) -> None:
    stack.file("discord-cpu-alert.tick", DISCORD_CPU_ALERT_TICK)
    stack.ok("define", "cpu_alert", "-tick", "discord-cpu-alert.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "cpu_alert")
    listed = stack.ok("list", "tasks").stdout.splitlines()
    assert listed[1].split() == ["cpu_alert", "stream", "enabled", "true", '["telegraf"."autogen"]']

    client = stack.influx()
    # no retention policy: the server's default-retention-policy ("autogen") routes them
    assert client.write_points([cpu(55.0), cpu(42.0)])
    assert client.write_points([cpu(18.5)])  # WARNING
    got = stack.wait_messages(1)
    assert client.write_points([cpu(12.0), cpu(15.0)])  # still WARNING: nothing more
    assert client.write_points([cpu(35.0)])  # recovery
    got = stack.wait_messages(2)
    assert client.write_points([cpu(60.0), cpu(19.0)])  # WARNING again
    got = stack.wait_messages(3)

    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK] * 3
    assert levels(got) == ["WARNING", "OK", "WARNING"]
    for message in got:
        payload = message["payload"]
        assert payload["username"] == "AlertBot"
        assert payload["avatar_url"] == AVATAR
    for embed in embeds(got):
        assert embed["title"] == "Uh Oh!"
        assert embed["description"] == "Hey, check your CPU"
        assert embed["timestamp"].endswith("Z")  # timestamp = true in guild-alerts

    shown = stack.ok("show", "cpu_alert").stdout
    assert "Status: enabled" in shown and "Executing: true" in shown
