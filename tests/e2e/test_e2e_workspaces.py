"""Seed: "Using multiple Discord configurations".

The seed's script names ``.workspace('alerts')`` while its kapacitor.conf only has
``guild-alerts`` and ``guild-errors``: Kapacitor would accept it and fail at the first alert;
Leyden refuses it at ``define``, pointing at the name and listing the configured workspaces.
With ``guild-alerts`` the alert arrives under the script's embed title.
"""

from __future__ import annotations

from e2e_stack import ALERTS_WEBHOOK, Stack, embeds, levels

SCRIPT = """\
stream
  |from()
    .measurement('cpu')
  |alert()
    .crit(lambda: "usage_idle" < 5)
    .stateChangesOnly()
    .message('Hey, I think the machine is on fire.')
    .discord()
      .workspace('alerts')
      .embedTitle('AAAAAAAAAAAAAAAAAAAAAA')
"""


def test_unknown_workspace_is_refused_and_the_configured_one_works(stack: Stack) -> None:
    stack.file("discord-cpu-alert.tick", SCRIPT)
    define = ("define", "cpu_alert", "-tick", "discord-cpu-alert.tick", "-dbrp", "telegraf.autogen")
    refused = stack.cli(*define)
    assert (refused.returncode, refused.stdout) == (3, "")
    first, source, caret = refused.stderr.rstrip("\n").split("\n")
    assert first == (
        "Error: invalid TICKscript: discord-cpu-alert.tick:9:18: "
        'discord workspace "alerts" is not configured; '
        "configured workspaces: guild-alerts, guild-errors"
    )
    assert source.strip() == ".workspace('alerts')"
    assert caret.strip() == "^^^^^^^^"
    assert stack.ok("list", "tasks").stdout.splitlines()[1:] == []  # nothing was stored

    stack.file("discord-cpu-alert.tick", SCRIPT.replace("'alerts'", "'guild-alerts'"))
    stack.ok(*define)
    stack.ok("enable", "cpu_alert")
    client = stack.influx()
    points = [
        {"measurement": "cpu", "tags": {"host": "web01"}, "fields": {"usage_idle": idle}}
        for idle in (30.0, 1.0)
    ]
    assert client.write_points(points, retention_policy="autogen")
    got = stack.wait_messages(1)
    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK]
    assert levels(got) == ["CRITICAL"]
    assert embeds(got)[0]["title"] == "AAAAAAAAAAAAAAAAAAAAAA"
    assert embeds(got)[0]["description"] == "Hey, I think the machine is on fire."
    assert got[0]["payload"]["username"] == "AlertBot"
