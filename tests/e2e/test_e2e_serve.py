"""End to end: a real ``leyden serve`` process, a real emulator process, the real CLI.

A Kapacitor config file (the seed's two ``[[discord]]`` sections among Kapacitor's other
sections) must load, and ``leyden service-tests discord`` must deliver through both workspaces.
"""

from __future__ import annotations

import signal
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_stack import ALERTS_WEBHOOK, ERRORS_WEBHOOK, LEYDEN, Stack, free_port

# kapacitord's sample config, with the seed's Discord workspaces after it (Stack adds them)
KAPACITOR_HEAD = """\
hostname = "localhost"
data_dir = "{data_dir}"
default-retention-policy = "autogen"
skip-config-overrides = false

[http]
  bind-address = "127.0.0.1:{port}"
  auth-enabled = false
  log-enabled = true
  write-tracing = false
  pprof-enabled = false
  https-enabled = false
  https-certificate = "/etc/ssl/kapacitor.pem"

[config-override]
  enabled = true

[logging]
  file = "STDERR"
  level = "INFO"

[load]
  enabled = true
  dir = "/etc/kapacitor/load"

[replay]
  dir = "/var/lib/kapacitor/replay"

[task]
  dir = "/var/lib/kapacitor/tasks"
  snapshot-interval = "60s"

[storage]
  boltdb = "/var/lib/kapacitor/kapacitor.db"

[deadman]
  global = false
  threshold = 0.0
  interval = "10s"
  id = "node 'NODE_NAME' in task '{{{{ .TaskName }}}}'"
  message = "{{{{ .ID }}}} is {{{{ if eq .Level \\"OK\\" }}}}alive{{{{ else }}}}dead{{{{ end }}}}"

[[influxdb]]
  enabled = true
  default = true
  name = "localhost"
  urls = ["http://localhost:8086"]
  username = ""
  password = ""
  timeout = 0
  [influxdb.subscriptions]
  [influxdb.excluded-subscriptions]
    _kapacitor = ["autogen"]

[[slack]]
  enabled = false
  default = true
  workspace = ""
  url = ""
  channel = ""

[smtp]
  enabled = false
  host = "localhost"
  port = 25

[reporting]
  enabled = false

[stats]
  enabled = true
  stats-interval = "10s"
  database = "_kapacitor"
  retention-policy= "autogen"

[udf]
[udf.functions]

[alert]
  persist-topics = true
"""


@pytest.fixture
def kapacitor_stack(make_stack: Callable[..., Stack]) -> Stack:
    """A server on Kapacitor's full sample config: the sections Leyden ignores must load."""
    return make_stack(conf_head=KAPACITOR_HEAD)


def leyden(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LEYDEN, "-url", url, *args], capture_output=True, text=True, timeout=60)


def test_service_tests_deliver_through_both_workspaces(kapacitor_stack: Stack) -> None:
    result = kapacitor_stack.cli("service-tests", "discord")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Service             Success   Message",
        "discord             true      ",
    ]
    result = kapacitor_stack.cli("service-tests", "-workspace", "guild-errors", "discord")
    assert result.returncode == 0, result.stderr
    assert "discord[guild-errors]true" in result.stdout.replace(" ", "")
    got = kapacitor_stack.messages()
    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK, ERRORS_WEBHOOK]
    first = got[0]["payload"]
    assert isinstance(first, dict)
    assert first["username"] == "Kapacitor"  # the service test's own default option
    assert first["embeds"][0]["description"] == "test discord message"
    assert first["embeds"][0]["title"] == "Kapacitor Alert"


def test_unknown_workspace_is_reported(kapacitor_stack: Stack) -> None:
    result = kapacitor_stack.cli("service-tests", "-workspace", "alerts", "discord")
    assert result.returncode == 3  # a failed test fails the command
    assert result.stderr == "Error: service test failed: discord[alerts]\n"
    assert "false" in result.stdout
    assert "guild-alerts" in result.stdout and "guild-errors" in result.stdout


def test_list_service_tests(kapacitor_stack: Stack) -> None:
    result = kapacitor_stack.cli("list", "service-tests")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Service Name" and lines[1:] == sorted(lines[1:])
    assert {"discord", "slack", "smtp", "pagerduty2", "victorops"} <= set(lines[1:])


def test_server_logs_ignored_sections_and_never_secrets(kapacitor_stack: Stack) -> None:
    kapacitor_stack.cli("service-tests", "discord")
    kapacitor_stack.cli("service-tests", "-workspace", "nope", "discord")
    req = urllib.request.Request(
        f"{kapacitor_stack.url}/write?db=telegraf&u=bob&p=hunter2", data=b"cpu v=1", method="POST"
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 204
    server = kapacitor_stack.server
    assert server is not None
    log = server.stop(signal.SIGINT)
    assert server.popen.returncode == 0, log
    assert "[udf]" in log and "[[slack]]" not in log  # ignored; the slack handler reads its own
    # [[influxdb]] is read (issue 13): nothing listens on localhost:8086, which is logged
    # without holding the server up
    assert "InfluxDB cluster unreachable" in log and "cluster=localhost" in log
    assert "listening" in log and "stopped" in log
    assert "alerts-secret-token" not in log and "errors-secret-token" not in log
    assert "hunter2" not in log


def test_client_errors_and_exit_codes() -> None:
    port = free_port()  # nothing listens there
    result = leyden(f"http://127.0.0.1:{port}", "service-tests", "discord")
    assert result.returncode == 3
    assert result.stderr.startswith("Error: ")
    result = leyden("not a url", "service-tests", "discord")
    assert result.returncode == 4
    result = subprocess.run([*LEYDEN, "frobnicate"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert 'unknown command "frobnicate"' in result.stderr


def test_bad_config_stops_server_with_one_line(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(
        '[[discord]]\n  enabled = true\n  workspace = "a"\n'
        '[[discord]]\n  enabled = true\n  workspace = "b"\n  url = "http://x/y"\n'
    )
    result = subprocess.run(
        [*LEYDEN, "serve", "-config", str(conf)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "bad.conf" in lines[0] and "discord" in lines[0]
    assert "Traceback" not in result.stderr
