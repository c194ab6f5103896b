"""A real InfluxDB 1.x in front of Leyden, as in the seed's setup: points are written to
InfluxDB, which forwards them to Leyden through a subscription, and the alert arrives in the
Discord emulator.

``influxd`` comes from Debian's ``influxdb`` package; without it the test is skipped (it tries
nothing).  It runs with a temporary configuration: data under ``tmp_path``, reporting off,
HTTP and its RPC port on free loopback ports, no other listeners.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import ALERTS_WEBHOOK, Process, Stack, clean_env, embeds, free_port, levels

from seed_page import DISCORD_CPU_ALERT_TICK

NO_INFLUXD = "influxd not found: install Debian's influxdb package: apt-get install influxdb"
pytestmark = pytest.mark.skipif(shutil.which("influxd") is None, reason=NO_INFLUXD)

INFLUXD_CONF = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = true
  # one writer: points reach Leyden in the order InfluxDB accepted them
  write-concurrency = 1

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
  pprof-enabled = false

[continuous_queries]
  enabled = false

[logging]
  suppress-logo = true
"""


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[Any]:
    """A running influxd; yields an ``InfluxDBClient`` for it."""
    binary = shutil.which("influxd")
    if binary is None:
        pytest.skip(
            "influxd not found: install Debian's influxdb package: apt-get install influxdb"
        )
    from influxdb import InfluxDBClient

    root = tmp_path / "influxdb"
    root.mkdir()
    http_port = free_port()
    conf = root / "influxdb.conf"
    conf.write_text(INFLUXD_CONF.format(root=root, rpc_port=free_port(), http_port=http_port))
    env = {k: v for k, v in clean_env().items() if not k.startswith("INFLUXDB_")}
    proc = Process.spawn([binary, "run", "-config", str(conf)], root / "influxd.log", env)
    try:
        proc.wait_http(f"http://127.0.0.1:{http_port}/ping", timeout=30)
        yield InfluxDBClient(host="127.0.0.1", port=http_port, timeout=5)
    finally:
        proc.stop()


def test_alert_through_influxdb_subscription(influxd: Any, stack: Stack) -> None:
    stack.file("discord-cpu-alert.tick", DISCORD_CPU_ALERT_TICK)
    stack.ok("define", "cpu_alert", "-tick", "discord-cpu-alert.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "cpu_alert")

    influxd.create_database("telegraf")
    influxd.query(
        f'CREATE SUBSCRIPTION "leyden" ON "telegraf"."autogen" DESTINATIONS ALL \'{stack.url}\''
    )
    shown = influxd.query("SHOW SUBSCRIPTIONS")
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
    assert influxd.write_points(points, database="telegraf", time_precision="n")
    got = stack.wait_messages(2)
    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK] * 2
    assert levels(got) == ["WARNING", "OK"]
    assert {e["title"] for e in embeds(got)} == {"Uh Oh!"}
    assert {m["payload"]["username"] for m in got} == {"AlertBot"}
    # the data is in InfluxDB too
    stored = influxd.query('SELECT count("usage_idle") FROM "cpu"', database="telegraf")
    assert next(stored.get_points())["count"] == 4
