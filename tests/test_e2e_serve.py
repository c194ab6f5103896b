"""End to end: a real ``leyden serve`` process, a real emulator process, the real CLI.

A Kapacitor config file (the seed's two ``[[discord]]`` sections among Kapacitor's other
sections) must load, and ``leyden service-tests discord`` must deliver through both workspaces.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

LEYDEN = [sys.executable, "-m", "leyden"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"process exited early ({proc.returncode}): {out}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer in {timeout}s")


def stop(proc: subprocess.Popen[bytes]) -> str:
    if proc.stdout is None or proc.stdout.closed:
        return ""
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode()


KAPACITOR_CONF = """\
hostname = "localhost"
data_dir = "{data}"
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

[[discord]]
  enabled = true
  default = true
  url = "{alerts_url}"
  workspace = "guild-alerts"
  timestamp = true
  username = "AlertBot"
  avatar-url = "https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png"
  embed-title = "Alert"
  global = false
  state-changes-only = false

[[discord]]
  enabled = true
  default = false
  url = "{errors_url}"
  workspace = "guild-errors"
  timestamp = true
  username = "StatsBot"
  avatar-url = "https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png"
  embed-title = "Errors"
  global = false
  state-changes-only = false
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("KAPACITOR_", "LEYDEN_")):
            del env[key]
    emu_port, port = free_port(), free_port()
    emu_base = f"http://127.0.0.1:{emu_port}"
    emulator = subprocess.Popen(
        [*LEYDEN, "discord-emulator", "--port", str(emu_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    conf = tmp_path / "kapacitor.conf"
    conf.write_text(
        KAPACITOR_CONF.format(
            data=tmp_path / "data",
            port=port,
            alerts_url=f"{emu_base}/api/webhooks/111111111111111111/alerts-secret-token",
            errors_url=f"{emu_base}/api/webhooks/222222222222222222/errors-secret-token",
        )
    )
    server = subprocess.Popen(
        [*LEYDEN, "serve", "-config", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    info: dict[str, Any] = {
        "url": f"http://127.0.0.1:{port}",
        "emulator": emu_base,
        "server": server,
    }
    try:
        wait_http(f"{emu_base}/messages", emulator)
        wait_http(f"{info['url']}/kapacitor/v1/debug/vars", server)
        yield info
    finally:
        stop(server)
        stop(emulator)


def leyden(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LEYDEN, "-url", url, *args], capture_output=True, text=True, timeout=60)


def messages(emulator: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{emulator}/messages", timeout=5) as resp:
        return list(json.load(resp))


def test_service_tests_deliver_through_both_workspaces(stack: dict[str, Any]) -> None:
    result = leyden(stack["url"], "service-tests", "discord")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Service             Success   Message",
        "discord             true      ",
    ]
    result = leyden(stack["url"], "service-tests", "-workspace", "guild-errors", "discord")
    assert result.returncode == 0, result.stderr
    assert "discord[guild-errors]true" in result.stdout.replace(" ", "")
    got = messages(stack["emulator"])
    assert [m["webhook_id"] for m in got] == ["111111111111111111", "222222222222222222"]
    first = got[0]["payload"]
    assert isinstance(first, dict)
    assert first["username"] == "Kapacitor"  # the service test's own default option
    assert first["embeds"][0]["description"] == "test discord message"
    assert first["embeds"][0]["title"] == "Kapacitor Alert"


def test_unknown_workspace_is_reported(stack: dict[str, Any]) -> None:
    result = leyden(stack["url"], "service-tests", "-workspace", "alerts", "discord")
    assert result.returncode == 0
    assert "false" in result.stdout
    assert "guild-alerts" in result.stdout and "guild-errors" in result.stdout


def test_list_service_tests(stack: dict[str, Any]) -> None:
    result = leyden(stack["url"], "list", "service-tests")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Service Name", "discord"]


def test_server_logs_ignored_sections_and_never_secrets(stack: dict[str, Any]) -> None:
    leyden(stack["url"], "service-tests", "discord")
    leyden(stack["url"], "service-tests", "-workspace", "nope", "discord")
    req = urllib.request.Request(
        f"{stack['url']}/write?db=telegraf&u=bob&p=hunter2", data=b"cpu v=1", method="POST"
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 204
    server = stack["server"]
    server.send_signal(signal.SIGINT)
    out, _ = server.communicate(timeout=15)
    log = out.decode()
    assert server.returncode == 0, log
    assert "[[slack]]" in log and "[[influxdb]]" in log
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
