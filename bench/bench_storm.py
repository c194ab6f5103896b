"""The storm of issue 10: 500 alerts within 3 s to one Discord webhook, at Discord's limits.

Real processes, as the issue judges it: ``leyden discord-emulator`` with its limits on (5
requests per 2 s per webhook, 30 messages per minute per channel, 50 requests per second from
the host) and ``leyden serve`` on a SQLite store, both subprocesses on free loopback ports.  One
TICKscript alert per host sends ``.discord()`` to one webhook; one write of 500 points (one
host each) makes 500 CRITICAL alerts at once.

The physical limit is Discord's channel budget times the embeds a message carries: 30
messages a minute × 10 embeds = 300 alerts a minute.  Figures: alerts delivered (as embeds,
each alert counted once), seconds from the write to the last one (to the end of the wait when
some never came), delivered alerts per minute over that time and that rate as a ratio of the 300 (above 1 is possible: a burst can use the rest of one
minute's budget and the start of the next), the 429s the emulator answered (the issue allows
3), messages sent, and whether all 500 arrived within the issue's 150 s.

Nothing can hang: every wait has a deadline, and both processes are stopped at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leyden.client import Client

ALERTS = 500
#: the issue's deadline for all 500
DEADLINE = 150.0
#: Discord's channel budget (messages a minute) × embeds per message
PHYSICAL_LIMIT_PER_MINUTE = 30 * 10
WEBHOOK = "333333333333333333"

TICK = """\
stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .crit(lambda: "usage_idle" < 10)
    .message('{{ .ID }}')
    .discord()
"""

CONF = """\
hostname = "localhost"
data_dir = "{data_dir}"
default-retention-policy = "autogen"

[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false

[logging]
  file = "STDERR"
  level = "WARN"

[[discord]]
  enabled = true
  default = true
  workspace = "storm"
  url = "{emulator}/api/webhooks/{webhook}/storm-token"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited early ({proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout:g}s")


@contextlib.contextmanager
def _process(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPACITOR_", "LEYDEN_"))}
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _delivered(emulator: str) -> tuple[set[str], int]:
    """The alert IDs delivered as embeds, and how many messages carried them."""
    messages = _get(f"{emulator}/messages")
    ids = {
        str(e.get("description", "")) for m in messages for e in m["payload"].get("embeds") or []
    }
    return ids, len(messages)


def run() -> dict[str, object]:
    leyden = [sys.executable, "-m", "leyden"]
    with tempfile.TemporaryDirectory(prefix="leyden-storm-") as tmp_name:
        tmp = Path(tmp_name)
        emulator_port, server_port = _free_port(), _free_port()
        emulator = f"http://127.0.0.1:{emulator_port}"
        server = f"http://127.0.0.1:{server_port}"
        conf = tmp / "kapacitor.conf"
        conf.write_text(
            CONF.format(data_dir=tmp / "data", port=server_port, emulator=emulator, webhook=WEBHOOK)
        )
        emu_argv = [*leyden, "discord-emulator", "--port", str(emulator_port), "--quiet"]
        with (
            _process(emu_argv, tmp / "emulator.log") as emu,
            _process([*leyden, "serve", "-config", str(conf)], tmp / "server.log") as srv,
        ):
            _wait_http(f"{emulator}/messages", emu)
            _wait_http(f"{server}/kapacitor/v1/ping", srv)
            Client(server).create_task(
                {
                    "id": "storm",
                    "dbrps": [{"db": "telegraf", "rp": "autogen"}],
                    "script": TICK,
                    "status": "enabled",
                }
            )
            body = "\n".join(f"cpu,host=h{i:04d} usage_idle=2" for i in range(ALERTS))
            request = urllib.request.Request(
                f"{server}/write?db=telegraf&rp=autogen", data=body.encode(), method="POST"
            )
            start = time.monotonic()
            with urllib.request.urlopen(request, timeout=30):
                pass
            written = time.monotonic() - start
            last_seen, last_count = start, 0
            ids: set[str] = set()
            messages = 0
            while time.monotonic() - start < DEADLINE:
                ids, messages = _delivered(emulator)
                if len(ids) != last_count:
                    last_seen, last_count = time.monotonic(), len(ids)
                if len(ids) >= ALERTS:
                    break
                time.sleep(0.25)
            # all delivered: the rate up to the last one; otherwise over the whole wait
            done = len(ids) >= ALERTS
            elapsed = (last_seen if done else time.monotonic()) - start
            stats = _get(f"{emulator}/_emulator/stats")
    per_minute = len(ids) / elapsed * 60 if elapsed > 0 else 0.0
    return {
        "alerts written": ALERTS,
        "write seconds": written,
        "alerts delivered": len(ids),
        "seconds to last delivered": elapsed,
        "delivered alerts/min": per_minute,
        "ratio to physical limit (300/min)": per_minute / PHYSICAL_LIMIT_PER_MINUTE,
        "messages": messages,
        "429s (issue allows 3)": sum(stats["rate_limited"].values()),
        "all within 150 s": "yes" if done and elapsed <= DEADLINE else "no",
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<40}{value}")
