"""A real InfluxDB 1.x in front of Leyden, as in the seed's setup: points are written to
InfluxDB, which forwards them to Leyden through a subscription, and the alert arrives in the
Discord emulator.

``influxd`` comes from Debian's ``influxdb`` package (see ``influxd.py``); without it the test
is skipped.
"""

from __future__ import annotations

import time

from e2e_stack import ALERTS_WEBHOOK, Stack, embeds, levels
from influxd import Influxd

from seed_page import DISCORD_CPU_ALERT_TICK


def test_alert_through_influxdb_subscription(influxd: Influxd, stack: Stack) -> None:
    """A subscription made by hand, as before ``[[influxdb]]`` (and as users of Telegraf's
    InfluxDB output still may); test_e2e_subscriptions has the automatic ones."""
    client = influxd.client()
    stack.file("discord-cpu-alert.tick", DISCORD_CPU_ALERT_TICK)
    stack.ok("define", "cpu_alert", "-tick", "discord-cpu-alert.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "cpu_alert")

    client.create_database("telegraf")
    client.query(
        f'CREATE SUBSCRIPTION "leyden" ON "telegraf"."autogen" DESTINATIONS ALL \'{stack.url}\''
    )
    shown = client.query("SHOW SUBSCRIPTIONS")
    assert list(shown.get_points("telegraf")) == [
        {
            "retention_policy": "autogen",
            "name": "leyden",
            "mode": "ALL",
            "destinations": [stack.url],
        }
    ]

    # explicit, increasing times: one batch, kept in order by InfluxDB and its subscriber
    start = time.time_ns() - 10_000_000_000
    points = [
        {
            "measurement": "cpu",
            "tags": {"host": "serverA", "cpu": "cpu-total"},
            "fields": {"usage_idle": idle},
            "time": start + i * 1_000_000_000,
        }
        for i, idle in enumerate((55.0, 18.5, 12.0, 35.0))
    ]
    assert client.write_points(points, database="telegraf", time_precision="n")
    got = stack.wait_messages(2)
    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK] * 2
    assert levels(got) == ["WARNING", "OK"]
    assert {e["title"] for e in embeds(got)} == {"Uh Oh!"}
    assert {m["payload"]["username"] for m in got} == {"AlertBot"}
    # the data is in InfluxDB too
    stored = client.query('SELECT count("usage_idle") FROM "cpu"', database="telegraf")
    assert next(stored.get_points())["count"] == 4
