"""``[[influxdb]]`` against a real InfluxDB: Leyden subscribes itself, as Kapacitor does.

A user's migration, step by step: InfluxDB holds databases; Leyden starts with an
``[[influxdb]]`` section pointing at it; ``SHOW SUBSCRIPTIONS`` lists Leyden's subscription on
every database (and on one created later) within the sync interval; a point inserted with the
``influx`` CLI reaches a task and the alert arrives in the Discord emulator.  Also: an InfluxDB
that is down when Leyden starts is subscribed once it comes up (the server answering all along),
and ``disable-subscriptions`` leaves InfluxDB alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from e2e_stack import ALERTS_WEBHOOK, Stack, embeds, levels, wait_until
from influxd import Influxd

from seed_page import DISCORD_CPU_ALERT_TICK


def ours(influxd: Influxd) -> dict[tuple[str, str], dict[str, Any]]:
    """Leyden's subscriptions, by (database, retention policy)."""
    shown = influxd.client().query("SHOW SUBSCRIPTIONS")
    found = {}
    for (db, _), rows in shown.items():
        for row in rows:
            if row["name"].startswith("kapacitor-"):
                found[(db, row["retention_policy"])] = row
    return found


def test_leyden_subscribes_to_every_database_and_alerts_from_an_insert(
    influxd: Influxd, make_stack: Callable[..., Stack]
) -> None:
    client = influxd.client()
    client.create_database("telegraf")
    client.create_database("app")
    stack = make_stack(conf_head=influxd.conf_head(subscriptions_sync_interval="1s"))
    stack.file("discord-cpu-alert.tick", DISCORD_CPU_ALERT_TICK)
    stack.ok("define", "cpu_alert", "-tick", "discord-cpu-alert.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "cpu_alert")

    subs = wait_until(
        lambda: (s := ours(influxd)) and len(s) == 2 and s,
        "Leyden's subscriptions on both databases",
        timeout=30,
    )
    assert set(subs) == {("telegraf", "autogen"), ("app", "autogen")}
    for row in subs.values():
        assert row["mode"] == "ANY"
        assert row["destinations"] == [stack.url]
    (name,) = {row["name"] for row in subs.values()}

    # a database made after start is subscribed within the sync interval
    influxd.cli("CREATE DATABASE late")
    wait_until(lambda: ("late", "autogen") in ours(influxd), "a subscription on late", 30)

    # points inserted with the influx CLI reach the task through the subscription
    start = time.time_ns() - 10_000_000_000
    for i, idle in enumerate((55.0, 18.5, 12.0, 35.0)):
        influxd.cli(
            f"INSERT cpu,host=serverA,cpu=cpu-total usage_idle={idle} {start + i * 10**9}",
            database="telegraf",
        )
    got = stack.wait_messages(2)
    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK] * 2
    assert levels(got) == ["WARNING", "OK"]
    assert {e["title"] for e in embeds(got)} == {"Uh Oh!"}

    # a restart keeps the same subscription name: nothing is dropped or made again
    log = stack.restart_server()
    assert "InfluxDB subscriptions linked" in log
    wait_until(
        lambda: "InfluxDB subscriptions linked" in stack.server.log(),  # type: ignore[union-attr]
        "the restarted server to link",
        30,
    )
    assert {row["name"] for row in ours(influxd).values()} == {name}
    assert "InfluxDB subscription created" not in stack.server.log()  # type: ignore[union-attr]


def test_an_influxdb_down_at_start_is_subscribed_when_it_comes_up(
    make_influxd: Callable[[], Influxd], make_stack: Callable[..., Stack]
) -> None:
    influxd = make_influxd()  # its port is known, nothing listens there yet
    # make_stack returns once the server answers its ping: it did not wait for InfluxDB
    stack = make_stack(conf_head=influxd.conf_head(subscriptions_sync_interval="1s"))
    wait_until(
        lambda: "InfluxDB cluster unreachable" in stack.server.log(),  # type: ignore[union-attr]
        "the unreachable line",
        30,
    )
    influxd.start()
    influxd.client().create_database("telegraf")
    wait_until(lambda: ("telegraf", "autogen") in ours(influxd), "the late subscription", 30)
    log = stack.stop_server()
    assert log.count("InfluxDB cluster unreachable") == 1  # once, not once per retry


def test_disable_subscriptions_leaves_influxdb_untouched(
    influxd: Influxd, make_stack: Callable[..., Stack]
) -> None:
    influxd.client().create_database("telegraf")
    stack = make_stack(
        conf_head=influxd.conf_head(subscriptions_sync_interval="1s", disable_subscriptions=True)
    )
    # the server's start line for the cluster says no subscription loop runs for it, so
    # nothing can be made after this point: no waiting for a sync that never comes
    wait_until(
        lambda: "subscriptions=disabled" in stack.server.log(),  # type: ignore[union-attr]
        "the cluster's start line",
        30,
    )
    assert ours(influxd) == {}
    assert "InfluxDB subscription" not in stack.stop_server()
