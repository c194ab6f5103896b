"""Helpers for the end-to-end tests: a real Leyden stack for the seed's examples.

``leyden discord-emulator`` and ``leyden serve`` run as subprocesses on free loopback ports and
are driven by the ``leyden`` CLI as a user would, with data written by the ``influxdb`` client.

The server reads a kapacitor.conf holding the seed's two ``[[discord]]`` workspaces
(``guild-alerts``, the default, and ``guild-errors``) pointed at the emulator, with its data_dir
under the test's ``tmp_path`` so a restart finds the same store.  Every wait polls with short
sleeps under a bounded deadline: nothing here sleeps for a fixed number of seconds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seed_page import discord_sections

LEYDEN = [sys.executable, "-m", "leyden"]

ALERTS_WEBHOOK = "111111111111111111"
ERRORS_WEBHOOK = "222222222222222222"

#: Kapacitor's levels as the Discord embed colours Leyden sends
COLORS = {"OK": 0x2ECC71, "INFO": 0x7A65F2, "WARNING": 0xF48D38, "CRITICAL": 0xF95F53}

# The seed's "Discord settings in kapacitor.conf" (its workspaces, from seed_page) follow this
# head, with the URLs pointing at the emulator.  Writes without a retention policy are routed to
# "autogen" (Kapacitor's default is "", which would miss tasks on telegraf.autogen).
CONF = """\
hostname = "localhost"
data_dir = "{data_dir}"
default-retention-policy = "autogen"

[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = true

[logging]
  file = "STDERR"
  level = "INFO"

[reporting]
  enabled = false
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The environment without KAPACITOR_*/LEYDEN_* overrides a developer may have set."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("KAPACITOR_", "LEYDEN_"))}


def wait_until(
    check: Callable[[], Any], what: str, timeout: float = 10.0, interval: float = 0.02
) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Process:
    """A child process whose output goes to a file, so a full pipe can never block it."""

    popen: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def spawn(
        cls, argv: list[str], log_path: Path, env: dict[str, str], cwd: Path | None = None
    ) -> Process:
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
            )
        return cls(popen, log_path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_http(self, url: str, timeout: float = 20.0) -> None:
        """Wait until ``url`` answers (any HTTP status); fail at once if the process exits."""

        def answers() -> bool:
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"{self.popen.args} exited early ({self.popen.returncode}):\n{self.log()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return True
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False

        wait_until(answers, f"{url} to answer", timeout)

    def stop(self, sig: int = signal.SIGTERM) -> str:
        """Signal the process and return its log; killed if it does not stop in 15 s."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        return self.log()


@dataclass
class Emulator:
    """A ``leyden discord-emulator`` process of a test's own, with Discord's limits on (5
    requests per 2 s per webhook, 30 messages per minute per channel, 50 requests per second
    from the host) unless ``args`` say otherwise. Stopped and started again on the same port,
    it is Discord down entirely, then back."""

    tmp: Path
    args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    process: Process | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, "emulator already running"
        self.starts += 1
        self.process = Process.spawn(
            [*LEYDEN, "discord-emulator", "--port", str(self.port), "--quiet", *self.args],
            self.tmp / f"emulator-{self.starts}.log",
            clean_env(),
        )
        self.process.wait_http(f"{self.base}/messages")

    def stop(self) -> None:
        """Gone: requests to it are refused, and what it had received is forgotten."""
        assert self.process is not None, "emulator not running"
        proc, self.process = self.process, None
        proc.stop(signal.SIGINT)

    def fail(self, status: int = 500, count: int = 1_000_000) -> None:
        """Answer the next ``count`` webhook requests with ``status``."""
        http_json("POST", f"{self.base}/_emulator/faults", {"status": status, "count": count})

    def heal(self) -> None:
        http_json("DELETE", f"{self.base}/_emulator/faults")

    def stats(self) -> dict[str, Any]:
        """``GET /_emulator/stats``: 429s per scope, messages, requests, limits."""
        return dict(http_json("GET", f"{self.base}/_emulator/stats"))

    def rate_limited(self) -> int:
        """How many 429s it answered, every scope together."""
        return sum(self.stats()["rate_limited"].values())


def http_json(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=5) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


@dataclass
class Stack:
    """One emulator and one (restartable) server; ``tmp`` is the working directory of the CLI."""

    tmp: Path
    emulator: str
    env: dict[str, str]
    global_: bool = False
    state_changes_only: bool = False
    #: the config before the seed's workspaces: ``{data_dir}`` and ``{port}`` are filled in
    conf_head: str = CONF
    port: int = field(default_factory=free_port)
    server: Process | None = None
    logs: list[str] = field(default_factory=list)
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def conf(self) -> Path:
        return self.tmp / "kapacitor.conf"

    def write_conf(self) -> None:
        workspaces = discord_sections(
            f"{self.emulator}/api/webhooks/{ALERTS_WEBHOOK}/alerts-secret-token",
            f"{self.emulator}/api/webhooks/{ERRORS_WEBHOOK}/errors-secret-token",
            global_=self.global_,
            state_changes_only=self.state_changes_only,
        )
        head = self.conf_head.format(data_dir=self.tmp / "data", port=self.port)
        self.conf.write_text(head + workspaces)

    def start_server(self) -> None:
        assert self.server is None, "server already running"
        self.write_conf()
        self.starts += 1
        self.server = Process.spawn(
            [*LEYDEN, "serve", "-config", str(self.conf)],
            self.tmp / f"server-{self.starts}.log",
            self.env,
            self.tmp,
        )
        self.server.wait_http(f"{self.url}/kapacitor/v1/ping")

    def stop_server(self) -> str:
        """SIGTERM the server, as a service manager would; returns (and keeps) its log."""
        assert self.server is not None, "server not running"
        proc, self.server = self.server, None
        log = proc.stop(signal.SIGTERM)
        self.logs.append(log)
        assert proc.popen.returncode == 0, f"server exited {proc.popen.returncode}:\n{log}"
        return log

    def kill_server(self) -> None:
        """``kill -9``: no shutdown, no last commit."""
        assert self.server is not None, "server not running"
        proc, self.server = self.server, None
        proc.stop(signal.SIGKILL)
        self.logs.append(proc.log())

    def restart_server(self) -> str:
        log = self.stop_server()
        self.start_server()
        return log

    # --- the CLI ---------------------------------------------------------------------------

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``leyden -url <server> ARGS`` run in ``tmp`` (so seed commands use bare file names)."""
        return subprocess.run(
            [*LEYDEN, "-url", self.url, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
            cwd=self.tmp,
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the CLI and require success with nothing on stderr."""
        result = self.cli(*args)
        assert result.returncode == 0, f"leyden {' '.join(args)}: {result.stderr}"
        assert result.stderr == "", f"leyden {' '.join(args)}: {result.stderr}"
        return result

    def file(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.write_text(text)
        return path

    # --- data and the emulator -------------------------------------------------------------

    def influx(self) -> Any:
        """A real InfluxDB 1.x client (the ``influxdb`` package) pointed at the server."""
        from influxdb import InfluxDBClient

        return InfluxDBClient(host="127.0.0.1", port=self.port, database="telegraf", timeout=5)

    def messages(self, webhook_id: str | None = None) -> list[dict[str, Any]]:
        """What the emulator accepted (``GET /messages``), oldest first."""
        query = f"?webhook_id={webhook_id}" if webhook_id else ""
        return list(http_json("GET", f"{self.emulator}/messages{query}"))

    def wait_messages(
        self, count: int, webhook_id: str | None = None, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` messages arrived; returns all of them."""

        def enough() -> list[dict[str, Any]] | None:
            got = self.messages(webhook_id)
            return got if len(got) >= count else None

        try:
            found: list[dict[str, Any]] = wait_until(enough, f"{count} Discord message(s)", timeout)
            return found
        except AssertionError as exc:
            got = self.messages(webhook_id)
            raise AssertionError(f"{exc}; got {len(got)}: {got}") from None


def embeds(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first embed of each message."""
    return [m["payload"]["embeds"][0] for m in messages]


def all_embeds(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every embed of every message, in order (a message may carry up to 10 alerts)."""
    return [e for m in messages for e in m["payload"].get("embeds") or []]


def level_of(embed: dict[str, Any]) -> str:
    """An embed's alert level, read back from its colour."""
    by_color = {v: k for k, v in COLORS.items()}
    return by_color.get(embed.get("color"), f"#{embed.get('color')}")


def levels(messages: list[dict[str, Any]]) -> list[str]:
    """Each message's alert level, read back from its embed colour."""
    return [level_of(e) for e in embeds(messages)]
