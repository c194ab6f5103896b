"""A real InfluxDB 1.x (Debian's ``influxdb`` package) for the end-to-end tests.

Each server runs with a temporary configuration: data under the test's directory, reporting
and the monitor store off (no ``_internal`` database), HTTP and its RPC port on loopback, the
subscriber on with one writer (points reach Leyden in the order InfluxDB accepted them).
Without ``influxd`` the tests that need it are skipped with how to install it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e_stack import CONF, Process, clean_env, free_port

NO_INFLUXD = (
    "influxd or influx not found: install Debian's influxdb and influxdb-client packages: "
    "apt-get install influxdb influxdb-client"
)

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


def influxd_binary() -> str | None:
    return shutil.which("influxd")


@dataclass
class Influxd:
    """One influxd process (started by :meth:`start`), on ``http_port``."""

    root: Path
    http_port: int = field(default_factory=free_port)
    proc: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        binary = influxd_binary()
        assert binary is not None, NO_INFLUXD
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "influxdb.conf"
        conf.write_text(
            INFLUXD_CONF.format(root=self.root, rpc_port=free_port(), http_port=self.http_port)
        )
        env = {k: v for k, v in clean_env().items() if not k.startswith("INFLUXDB_")}
        self.proc = Process.spawn(
            [binary, "run", "-config", str(conf)], self.root / "influxd.log", env
        )
        self.proc.wait_http(f"{self.url}/ping", timeout=30)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def conf_head(self, **options: str | bool) -> str:
        """The e2e server's config head (``Stack.conf_head``) with an ``[[influxdb]]`` section
        for this server: the default cluster, reaching Leyden at 127.0.0.1, plus ``options``
        (``disable_subscriptions=True`` → ``disable-subscriptions = true``)."""
        lines = [
            "[[influxdb]]",
            "  enabled = true",
            "  default = true",
            '  name = "localhost"',
            f'  urls = ["{self.url}"]',
            '  kapacitor-hostname = "127.0.0.1"',
        ]
        for key, value in options.items():
            text = str(value).lower() if isinstance(value, bool) else f'"{value}"'
            lines.append(f"  {key.replace('_', '-')} = {text}")
        section = "\n".join(lines) + "\n"
        return CONF + "\n" + section.replace("{", "{{").replace("}", "}}")

    def client(self) -> Any:
        """The ``influxdb`` package's client for this server."""
        from influxdb import InfluxDBClient

        return InfluxDBClient(host="127.0.0.1", port=self.http_port, timeout=5)

    def cli(self, statement: str, database: str = "") -> str:
        """Run ``influx -execute`` (Debian's influxdb-client), as a user would."""
        influx = shutil.which("influx")
        assert influx is not None, "the influx CLI is missing: apt-get install influxdb-client"
        argv = [influx, "-host", "127.0.0.1", "-port", str(self.http_port), "-execute", statement]
        if database:
            argv += ["-database", database]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, f"influx {statement!r}: {done.stdout}{done.stderr}"
        return done.stdout
