"""Every rule Chronograf generates is defined, enabled and delivers to Slack, email and VictorOps.

``chronograf_rules/`` holds the TICKscripts Chronograf's own tests expect its rule builder to
generate (influxdata/chronograf ``kapacitor/tickscripts_test.go``: threshold, its string,
range, detail and no-aggregate forms, relative, relative change, deadman), each with its
``.email()``, ``.victorOps()`` and ``.slack()`` handlers (the string rules: ``.email()``
only), ``influxDBOut()`` into ``chronograf.autogen.alerts`` and ``httpOut('output')``.  They
are defined and enabled through the task manager as Chronograf does through the API, on a
runtime from the composition root with the three services pointed at loopback servers (a
real SMTP server for email), and fed one hour of ``cpu`` points on a simulated clock whose
phases trip every rule: high usage, low usage, a surge, then silence.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from servers import HTTPServer, SMTPServer

from leyden.clock import SimulatedClock
from leyden.config import load_config
from leyden.engine.influx import MemoryCluster, MemoryInfluxDB
from leyden.lineprotocol import parse
from leyden.notify import INTEGRATIONS
from leyden.runtime import build_runtime
from leyden.store import Store

RULES = Path(__file__).resolve().parent / "chronograf_rules"
#: the rules on a string field: their handler is ``.email()`` only, and the ``float("value")``
#: Chronograf puts before ``influxDBOut()`` fails on every point, as it does in Kapacitor
STRING_RULES = {"ThresholdStringCrit", "ThresholdStringCritGreater"}

CONF = """
[[slack]]
  enabled = true
  default = true
  url = "{http}/slack"
  channel = "#alerts"

[victorops]
  enabled = true
  url = "{http}/victorops"
  api-key = "my-api-key-0123456789"
  routing-key = "my-routing-key"

[smtp]
  enabled = true
  host = "127.0.0.1"
  port = {smtp_port}
  no-verify = true
  from = "kapacitor@example.com"
  to = ["oncall@example.com"]
"""

S = 10**9
OUTPUT = ("chronograf", "autogen")
START = 1_800_000_000 * S


def _points(measurement: str) -> list[tuple[int, bytes]]:
    """One hour at one point every 30 s, then 30 minutes of silence and one last point.
    usage_user: 95 (threshold, inside range), 5 (outside range), 5000 (relative and
    relative-change surges); status DOWN then UP (string equal, string greater).  Tags: those
    the rules group by and filter on (Telegraf's cpu and haproxy inputs)."""
    series = f"{measurement},host=prod,cpu=cpu_total,cluster_id=c1,pxname=web,server=web1"
    out = []
    phases = [(95.0, "DOWN"), (5.0, "UP"), (5000.0, "UP")]
    t = START
    for value, status in phases:
        for _ in range(40):  # 20 minutes
            out.append((t, f'{series} usage_user={value},status="{status}" {t}'.encode()))
            t += 30 * S
    t += 30 * 60 * S
    out.append((t, f"{series} usage_user=1 {t}".encode()))
    return out


def _var(script: str, name: str) -> str:
    found = re.search(rf"^var {name} = '([^']*)'$", script, re.M)
    assert found, f"no var {name}"
    return found.group(1)


@pytest.mark.parametrize("rule", sorted(p.stem for p in RULES.glob("*.tick")))
async def test_a_chronograf_rule_is_enabled_and_delivers(rule: str, tmp_path: Path) -> None:
    http, smtp = HTTPServer(), SMTPServer()
    holes = {**await http.start({}), **await smtp.start({})}
    try:
        conf = tmp_path / "kapacitor.conf"
        conf.write_text(
            CONF.format(http=holes["HTTP_URL"], smtp_port=holes["SMTP_PORT"]), encoding="utf-8"
        )
        config = load_config(str(conf), {}, integrations=INTEGRATIONS.sections())
        clock = SimulatedClock(START)
        runtime = build_runtime(config, store=Store(":memory:"), clock=clock, simulated=True)
        cluster = MemoryCluster("default")
        runtime.runner.services = replace(runtime.task_services, influxdb=MemoryInfluxDB([cluster]))
        await runtime.start()
        try:
            script = (RULES / f"{rule}.tick").read_text(encoding="utf-8")
            db, rp = _var(script, "db"), _var(script, "rp")
            record, _ = await runtime.tasks.create(
                {
                    "id": f"chronograf-v1-{rule}",
                    "type": "stream",
                    "dbrps": [{"db": db, "rp": rp}],
                    "script": script,
                    "status": "enabled",
                }
            )
            assert runtime.tasks.is_executing(record.id)
            for t, line in _points(_var(script, "measurement")):
                clock.advance_to(t)
                parsed = parse(line, precision="ns")
                assert not parsed.errors
                runtime.router.write_points(db, rp, parsed.points)
            await runtime.alerts.drain()
            # httpOut('output') serves the last alert data, as Chronograf reads it
            task = runtime.tasks.running(record.id)
            assert task is not None and task.http_out().get("output"), f"{rule}: no httpOut"
        finally:
            await runtime.close()
    finally:
        await http.stop()
        await smtp.stop()
    # influxDBOut().create() wrote the alert rows where Chronograf's alert history reads them
    rows = [w.body for w in cluster.writes if (w.database, w.retention_policy) == OUTPUT]
    if rule not in STRING_RULES:
        assert any(b.startswith(b"alerts,") for b in rows), f"{rule}: no alert rows written"
    paths = [r["path"] for r in http.received()]
    mails = smtp.received()
    assert mails, f"{rule}: no email"
    if rule not in STRING_RULES:
        assert any(p.startswith("/slack") for p in paths), f"{rule}: nothing to Slack: {paths}"
        assert any(p.startswith("/victorops") for p in paths), f"{rule}: nothing to VictorOps"
