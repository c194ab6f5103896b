"""A Chronograf-style threshold rule against a real InfluxDB, the way a migrated installation
runs one: data reaches Leyden through its automatic subscription, the rule (stream, window,
mean, alert with ``.stateChangesOnly()``) alerts to Discord, its ``influxDBOut()`` writes the
alert rows into ``chronograf.autogen.alerts`` (creating the database), where Chronograf's alert
history reads them, and ``httpOut('output')`` serves the last alert data.

The script is Chronograf's template for a threshold rule (its variable names, its
``eval … .keep()`` before ``influxDBOut``), with a Discord handler.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable

from e2e_stack import Stack, levels, wait_until
from influxd import Influxd

CHRONOGRAF_RULE = """\
var db = 'telegraf'
var rp = 'autogen'
var measurement = 'cpu'
var groupBy = ['host']
var whereFilter = lambda: TRUE
var period = 10s
var every = 1s
var name = 'cpu idle'
var idVar = name + ':{{.Group}}'
var message = '{{.ID}} is {{.Level}} value: {{ index .Fields "value" }}'
var idTag = 'alertID'
var levelTag = 'level'
var messageField = 'message'
var durationField = 'duration'
var outputDB = 'chronograf'
var outputRP = 'autogen'
var outputMeasurement = 'alerts'
var triggerType = 'threshold'
var crit = 10

var data = stream
    |from()
        .database(db)
        .retentionPolicy(rp)
        .measurement(measurement)
        .groupBy(groupBy)
        .where(whereFilter)
    |window()
        .period(period)
        .every(every)
        .align()
    |mean('usage_idle')
        .as('value')

var trigger = data
    |alert()
        .crit(lambda: "value" < crit)
        .message(message)
        .id(idVar)
        .idTag(idTag)
        .levelTag(levelTag)
        .messageField(messageField)
        .durationField(durationField)
        .stateChangesOnly()
        .discord()

trigger
    |eval(lambda: float("value"))
        .as('value')
        .keep()
    |influxDBOut()
        .create()
        .database(outputDB)
        .retentionPolicy(outputRP)
        .measurement(outputMeasurement)
        .tag('alertName', name)
        .tag('triggerType', triggerType)

trigger
    |httpOut('output')
"""


def test_a_chronograf_threshold_rule_alerts_and_writes_its_history(
    influxd: Influxd, make_stack: Callable[..., Stack]
) -> None:
    influxd.cli("CREATE DATABASE telegraf")
    stack = make_stack(conf_head=influxd.conf_head(subscriptions_sync_interval="1s"))
    stack.file("cpu_idle.tick", CHRONOGRAF_RULE)
    # Chronograf defines its rules with their dbrps through the API
    stack.ok("define", "chronograf-v1-cpu", "-tick", "cpu_idle.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "chronograf-v1-cpu")
    client = influxd.client()

    def subscribed() -> bool:
        series = client.query("SHOW SUBSCRIPTIONS").raw.get("series", [])
        return any(s["name"] == "telegraf" for s in series)

    wait_until(subscribed, "Leyden's subscription on telegraf", 30)

    # one point a second for six seconds, all far under the threshold: the aligned 1 s
    # windows close as the points pass their boundaries
    start = (time.time_ns() // 10**9 - 8) * 10**9
    for i in range(6):
        influxd.cli(
            f"INSERT cpu,host=serverA,cpu=cpu-total usage_idle={4.0 + i / 10} {start + i * 10**9}",
            database="telegraf",
        )
    got = stack.wait_messages(1, timeout=30)
    assert levels(got)[0] == "CRITICAL"

    # the alert rows: influxDBOut flushes every 10 s (its default), into the database it made
    def rows() -> list[dict[str, object]]:
        if "chronograf" not in {d["name"] for d in client.get_list_database()}:
            return []
        answer = client.query('SELECT * FROM "alerts"', database="chronograf")
        return list(answer.get_points())

    found = wait_until(rows, "alert rows in chronograf.autogen.alerts", 40)
    row = found[0]
    assert row["alertName"] == "cpu idle" and row["triggerType"] == "threshold"
    assert row["level"] == "CRITICAL"
    assert row["alertID"] == "cpu idle:host=serverA"
    assert row["host"] == "serverA"
    assert isinstance(row["value"], float) and row["value"] < 10
    assert str(row["message"]).startswith("cpu idle:host=serverA is CRITICAL value: ")
    assert len(found) == 1  # stateChangesOnly: one row for one change

    # httpOut('output') serves the last alert data, as Chronograf reads it
    with urllib.request.urlopen(
        f"{stack.url}/kapacitor/v1/tasks/chronograf-v1-cpu/output", timeout=5
    ) as resp:
        series = json.load(resp)["series"]
    assert series[0]["name"] == "cpu" and series[0]["tags"]["host"] == "serverA"
