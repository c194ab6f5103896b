"""Real processes for the end-to-end benchmarks: free ports, a config file, ``leyden serve`` and
the Discord emulator as subprocesses, waits with deadlines.

What ``bench_storm``, ``bench_e2e`` and ``bench_startup`` share.  ``LEYDEN_BENCH_SRC`` names
another tree's ``src`` folder: the server (never the emulator, which is the judge) then runs
from there, so the same benchmark measures an older commit for a before/after table.
Processes get an environment without ``KAPACITOR_*``/``LEYDEN_*`` (the config file says
everything) and are stopped with SIGTERM, then killed, whatever happens in the benchmark.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: ``python -m leyden`` with this interpreter
LEYDEN = [sys.executable, "-m", "leyden"]

#: a server config: a data dir, an HTTP port, quiet logs, one Discord workspace; ``extra`` is
#: appended as is (``[engine]`` for the worker pool)
SERVER_CONF = """\
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
  workspace = "{workspace}"
  url = "{emulator}/api/webhooks/{webhook}/{workspace}-token"
{extra}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def server_env() -> dict[str, str]:
    """The environment of a server subprocess: ``PYTHONPATH`` from ``LEYDEN_BENCH_SRC`` when
    set (another tree's ``src``), else this process's."""
    env = clean_env()
    src = os.environ.get("LEYDEN_BENCH_SRC")
    if src:
        env["PYTHONPATH"] = str(Path(src).resolve())
    return env


def clean_env() -> dict[str, str]:
    """This process's environment without the variables a Leyden process reads."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("KAPACITOR_", "LEYDEN_"))}


def cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds of ``pid`` and each of its live descendants (each with its
    reaped children's), from ``/proc``: pid → seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid → (parent, seconds)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # exited meanwhile
            continue
        # after "pid (comm) ": state, ppid, … utime, stime, cutime, cstime (fields 14-17)
        fields = stat[stat.rindex(")") + 2 :].split()
        stats[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / tick)
    tree, todo = {}, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            tree[p] = stats[p][1]
            todo += [c for c, (parent, _) in stats.items() if parent == p]
    return tree


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> float:
    """Poll ``url`` until it answers (any HTTP status); the monotonic time it first did.
    Raises when ``proc`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{' '.join(map(str, proc.args))} exited early ({proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return time.monotonic()
        except urllib.error.HTTPError:
            return time.monotonic()
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"{url} did not answer within {timeout:g}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def process(
    argv: list[str], log: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``argv`` running with its output in ``log``, stopped on the way out."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(clean_env() if env is None else env),
        )
    try:
        yield proc
    finally:
        stop(proc)


@contextlib.contextmanager
def emulator(tmp: Path, *, limits: bool = True) -> Iterator[str]:
    """The Discord emulator on a free port (Discord's limits on unless ``limits`` is false);
    yields its base URL once it answers."""
    port = free_port()
    argv = [*LEYDEN, "discord-emulator", "--port", str(port), "--quiet"]
    if not limits:
        argv += ["--rate-limit", "1000000", "--channel-limit", "0", "--global-limit", "0"]
    url = f"http://127.0.0.1:{port}"
    with process(argv, tmp / "emulator.log") as proc:
        wait_http(f"{url}/messages", proc)
        yield url


@contextlib.contextmanager
def server(
    tmp: Path,
    emulator_url: str,
    webhook: str,
    *,
    extra_conf: str = "",
    workspace: str = "bench",
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``leyden serve`` (from ``LEYDEN_BENCH_SRC`` when set) on a free port, with a config
    written under ``tmp``; yields its base URL and process once it answers ping.  A server that
    exits before answering raises RuntimeError carrying the last line of its log.  ``tmp`` is
    made if missing; ``env`` defaults to :func:`server_env`."""
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "kapacitor.conf"
    conf.write_text(
        SERVER_CONF.format(
            data_dir=tmp / "data",
            port=port,
            emulator=emulator_url,
            webhook=webhook,
            workspace=workspace,
            extra=extra_conf,
        )
    )
    url = f"http://127.0.0.1:{port}"
    log = tmp / "server.log"
    argv = [*LEYDEN, "serve", "-config", str(conf)]
    with process(argv, log, server_env() if env is None else env) as proc:
        try:
            wait_http(f"{url}/kapacitor/v1/ping", proc)
        except RuntimeError as exc:
            lines = log.read_text(errors="replace").strip().splitlines()
            raise RuntimeError(lines[-1] if lines else str(exc)) from exc
        yield url, proc
