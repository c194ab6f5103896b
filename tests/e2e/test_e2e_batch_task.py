"""A batch task against a real InfluxDB, as hand-written Kapacitor scripts use them: every 5 s,
the mean of the last 10 s per host; a host whose mean drops under the threshold alerts to
Discord.  The points go into InfluxDB with the ``influx`` CLI; Leyden only queries (its
subscriptions are off here, so nothing reaches it but the query's answers).
"""

from __future__ import annotations

from collections.abc import Callable

from e2e_stack import ALERTS_WEBHOOK, Stack, embeds, levels
from influxd import Influxd

BATCH_TICK = """\
batch
  |query('SELECT mean(usage_idle) AS usage_idle FROM "telegraf"."autogen"."cpu"')
    .period(10s)
    .every(5s)
    .groupBy('host')
  |alert()
    .crit(lambda: "usage_idle" < 10)
    .message('{{ .ID }} is {{ .Level }}')
    .discord()
"""


def test_a_batch_task_alerts_when_the_queried_mean_crosses_the_threshold(
    influxd: Influxd, make_stack: Callable[..., Stack]
) -> None:
    influxd.cli("CREATE DATABASE telegraf")
    stack = make_stack(conf_head=influxd.conf_head(disable_subscriptions=True))
    stack.file("batch_cpu.tick", BATCH_TICK)
    stack.ok("define", "batch_cpu", "-tick", "batch_cpu.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "batch_cpu")

    def insert(host: str, idle: float) -> None:
        influxd.cli(f"INSERT cpu,host={host} usage_idle={idle}", database="telegraf")

    insert("serverB", 60.0)  # healthy: nothing is sent for a first OK
    insert("serverA", 12.0)
    insert("serverA", 2.0)  # serverA's mean: 7, under the threshold
    got = stack.wait_messages(1, timeout=60)
    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK]
    assert levels(got) == ["CRITICAL"]
    (embed,) = embeds(got)
    assert embed["description"] == "cpu:host=serverA is CRITICAL"
    show = stack.ok("show", "batch_cpu").stdout
    assert "batches_queried" in show
