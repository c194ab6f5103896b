"""``leyden serve`` on PostgreSQL (``[storage] url``; issue 17): a fresh database gets its
schema at start, a task defined through the CLI alerts into the Discord emulator, and after a
restart the task, the topic handler and the alert state come back from PostgreSQL (a further
CRITICAL point sends nothing; the recovery is sent once).  Nothing is written to SQLite, and
the URL's password shows in no log."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from e2e_stack import ALERTS_WEBHOOK, CONF, Stack, http_json, levels, wait_until

from pg_cluster import PgCluster
from seed_page import CPU_ALERT_TICK, DISCORD_CPU_HANDLER

PASSWORD = "e2e-pg-s3cret"


def write(stack: Stack, *idle: float) -> None:
    client = stack.influx()
    for value in idle:  # one write each, so the points arrive in this order
        point = {"measurement": "cpu", "tags": {"host": "web01"}, "fields": {"usage_idle": value}}
        assert client.write_points([point], retention_policy="autogen")


def test_serve_on_postgres_keeps_everything_across_a_restart(
    postgres: PgCluster, make_stack: Callable[..., Stack]
) -> None:
    url = postgres.database(password=PASSWORD)
    stack = make_stack(conf_head=CONF + f'\n[storage]\n  url = "{url}"\n')
    stack.file("cpu_alert.tick", CPU_ALERT_TICK)
    stack.ok("define", "cpu_alert", "-tick", "cpu_alert.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "cpu_alert")
    stack.file("discord_cpu_handler.yaml", DISCORD_CPU_HANDLER)
    stack.ok("define-topic-handler", "discord_cpu_handler.yaml")

    write(stack, 50.0, 2.0)
    assert levels(stack.wait_messages(1)) == ["CRITICAL"]

    log = stack.restart_server()
    assert "stopped" in log
    assert not (stack.tmp / "data" / "leyden.db").exists()  # nothing went to SQLite
    with psycopg.connect(url) as conn:
        tasks = conn.execute("SELECT id, status FROM tasks").fetchall()
        states = conn.execute("SELECT topic, event_id, level FROM topic_events").fetchall()
    assert tasks == [("cpu_alert", "enabled")]
    assert states == [("cpu", "cpu:nil", 3)]

    listed = stack.ok("list", "tasks").stdout.splitlines()[1].split()
    assert listed[:4] == ["cpu_alert", "stream", "enabled", "true"]
    assert stack.ok("list", "topic-handlers").stdout.splitlines()[1].split() == [
        "cpu",
        "discord-cpu-alert",
        "discord",
    ]
    assert "Level: CRITICAL" in stack.ok("show-topic", "cpu").stdout

    # still CRITICAL (no message), then the recovery: exactly one more message
    write(stack, 3.0, 40.0)
    got = stack.wait_messages(2)
    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK] * 2
    assert levels(got) == ["CRITICAL", "OK"]

    backup = stack.cli("backup", "copy.db")  # SQLite's online backup has no meaning here
    assert backup.returncode != 0
    assert "pg_dump" in backup.stdout + backup.stderr

    stack.logs.append(stack.stop_server())
    for text in stack.logs:
        assert PASSWORD not in text, text


def test_a_delivery_queued_in_postgres_survives_kill_9(
    postgres: PgCluster, make_stack: Callable[..., Stack]
) -> None:
    url = postgres.database(password=PASSWORD)
    stack = make_stack(conf_head=CONF + f'\n[storage]\n  url = "{url}"\n')
    stack.file("cpu_alert.tick", CPU_ALERT_TICK)
    stack.ok("define", "cpu_alert", "-tick", "cpu_alert.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "cpu_alert")
    stack.file("discord_cpu_handler.yaml", DISCORD_CPU_HANDLER)
    stack.ok("define-topic-handler", "discord_cpu_handler.yaml")

    http_json("POST", f"{stack.emulator}/_emulator/faults", {"status": 500, "count": 1_000_000})
    write(stack, 2.0)

    def queued() -> bool:
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT alert_id FROM outbox WHERE state != 'dead'").fetchall()
        return rows == [("cpu:nil",)]

    wait_until(queued, "the CRITICAL's delivery to be written to PostgreSQL")
    stack.kill_server()  # kill -9 during the outage
    http_json("DELETE", f"{stack.emulator}/_emulator/faults")
    stack.start_server()
    assert levels(stack.wait_messages(1)) == ["CRITICAL"]
    wait_until(lambda: not queued(), "the outbox to empty")
    write(stack, 3.0)  # still CRITICAL: the state came back, nothing more is sent
    write(stack, 40.0)
    assert levels(stack.wait_messages(2)) == ["CRITICAL", "OK"]
