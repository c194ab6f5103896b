"""The soak of issue 16: ten minutes of mixed load on a real ``leyden serve``, judged by what
the Discord emulator received.

Real processes on loopback: ``leyden discord-emulator`` with Discord's limits on (so 429s come
as they do from Discord) and ``leyden serve`` on a SQLite store.  Every second, one write
carries every host's steady ``cpu`` point (``--hosts`` series, 2,000 by default) through two
tasks: an alert per host, and a 10-second window per host averaged and alerted on (it never
fires: it is there to hold state for every series).  On a schedule spread over the run:

- **alert storms**: ``--storm-hosts`` hosts go CRITICAL in one write and back to OK in the
  next, 13 times: each storm is that many CRITICAL events and as many OK events;
- **a Discord outage**: the emulator answers 500 to every webhook request for a tenth of the
  run;
- **a restart**: the server gets SIGTERM and is started again on the same store (writes wait
  for it, as Telegraf's retry does);
- **task redefinitions**: the alert task's script is replaced twice (its message gains a
  version), while no host is CRITICAL, as an operator would.

Every event's message names its host, level and storm, so the judge is exact: the events the
writes that were answered 204 must have made, against the embeds the emulator received
(``[delivery] digest-after`` is set past the run, so no state is folded into a digest line:
each event must arrive as its own embed).  Figures: points written, events expected,
delivered, lost (must be 0), duplicates (at-least-once allows some only after a kill, and
there is none here), 5xx answers (must be 0), the emulator's 429s, the server's RSS after the
warm-up, at its largest and at the end (bounded: at most twice the warm-up figure).

``python -m bench.soak`` (``make soak``) runs 600 s; ``--seconds`` shortens it for a try.
Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import (
    LEYDEN,
    SERVER_CONF,
    emulator,
    free_port,
    get_json,
    process,
    server_env,
    wait_http,
)
from bench.procs import stop as stop_process

WEBHOOK = "444444444444444444"
STORMS = 13
#: after the schedule, how long the outbox may take to drain (Discord's 300 alerts a minute
#: per channel bound it; the outage and the storms' backlog come first)
DRAIN_DEADLINE = 600.0
#: a storm's hosts read this; everyone else reads STEADY
CRITICAL, STEADY = 5.0, 80.0

ALERT_TICK = """\
stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .crit(lambda: "usage_idle" < 10)
    .message('v{version} {{{{ index .Tags "host" }}}} {{{{ .Level }}}} r{{{{ index .Fields "storm" }}}}')
    .discord()
"""

WINDOW_TICK = """\
stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |window()
    .period(10s)
    .every(10s)
  |mean('usage_idle')
  |alert()
    .crit(lambda: "mean" < 1)
    .discord()
"""

EVENT = re.compile(r"\b(h\d+) (CRITICAL|OK) r(\d+)\b")


@dataclass
class Tally:
    """What the load generator did and saw."""

    points: int = 0
    writes: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    expected: set[tuple[str, str, int]] = field(default_factory=set)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds into the run, kB)
    restart_seconds: float = 0.0


class Server:
    """``leyden serve`` on a fixed port and store, restartable."""

    def __init__(self, tmp: Path, emulator_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = tmp / "kapacitor.conf"
        self.conf.write_text(
            SERVER_CONF.format(
                data_dir=tmp / "data",
                port=self.port,
                emulator=emulator_url,
                webhook=WEBHOOK,
                workspace="soak",
                extra='\n[delivery]\n  digest-after = "24h"\n',
            )
        )
        self.log = tmp / "server.log"
        self._stack = contextlib.ExitStack()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [*LEYDEN, "serve", "-config", str(self.conf)]
        self.proc = self._stack.enter_context(process(argv, self.log, server_env()))
        wait_http(f"{self.url}/kapacitor/v1/ping", self.proc, timeout=60)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def rss_kb(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def close(self) -> None:
        self._stack.close()


def _request(
    tally: Tally, method: str, url: str, body: bytes | None = None, timeout: float = 60.0
) -> int:
    """One request; its status is tallied (a refused connection is 0)."""
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None and method != "POST":
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0
    tally.statuses[status] += 1
    return status


def _task(tally: Tally, srv: Server, task_id: str, script: str, create: bool) -> None:
    body: dict[str, Any] = {"script": script}
    if create:
        body |= {"id": task_id, "dbrps": [{"db": "telegraf", "rp": "autogen"}]}
        body["status"] = "enabled"
        status = _request(tally, "POST", f"{srv.url}/kapacitor/v1/tasks", json.dumps(body).encode())
    else:
        status = _request(
            tally, "PATCH", f"{srv.url}/kapacitor/v1/tasks/{task_id}", json.dumps(body).encode()
        )
    if status != 200:
        raise RuntimeError(f"task {task_id}: HTTP {status}")


def _write(
    tally: Tally, srv: Server, second: int, hosts: int, storm: int, critical: set[int]
) -> bool:
    lines = [
        f"cpu,host=h{h:05d} usage_idle={CRITICAL if h in critical else STEADY},storm={storm}i "
        f"{second}"
        for h in range(hosts)
    ]
    body = "\n".join(lines).encode()
    status = _request(tally, "POST", f"{srv.url}/write?db=telegraf&rp=autogen&precision=s", body)
    tally.writes += 1
    if status == 204:
        tally.points += len(lines)
        return True
    return False


def _delivered(emulator_url: str) -> tuple[Counter[tuple[str, str, int]], int]:
    """Every (host, level, storm) an embed carried, with how many times; and the messages."""
    seen: Counter[tuple[str, str, int]] = Counter()
    messages = get_json(f"{emulator_url}/messages", timeout=60)
    for m in messages:
        for embed in m["payload"].get("embeds") or []:
            for host, level, storm in EVENT.findall(str(embed.get("description", ""))):
                seen[(host, level, int(storm))] += 1
    return seen, len(messages)


@contextlib.contextmanager
def _soak_stack(tmp: Path) -> Iterator[tuple[str, Server]]:
    with emulator(tmp) as emu:
        srv = Server(tmp, emu)
        try:
            srv.start()
            yield emu, srv
        finally:
            srv.stop()
            srv.close()


def soak(seconds: int, hosts: int, storm_hosts: int, log: Any = sys.stderr) -> dict[str, object]:
    """Run the mixed load for ``seconds`` and judge it; the figures, ``"passed"`` among them."""
    storms = {int(seconds * (i + 1) / (STORMS + 1)) for i in range(STORMS)}
    outage = (int(seconds * 0.35), int(seconds * 0.45))
    restart_at = int(seconds * 0.6) + 1
    redefine_at = {int(seconds * 0.25) + 2: 2, int(seconds * 0.8) + 2: 3}
    # nothing else happens in the second of a storm or the one after (its recovery)
    busy = storms | {s + 1 for s in storms}
    restart_at = next(s for s in range(restart_at, seconds) if s not in busy)
    redefine_at = {
        next(s for s in range(t, seconds) if s not in busy): v for t, v in redefine_at.items()
    }
    tally = Tally()
    base = int(time.time()) - seconds - 60  # point times: one per second of the run, all past
    with (
        tempfile.TemporaryDirectory(prefix="leyden-soak-") as tmp_name,
        _soak_stack(Path(tmp_name)) as (emu, srv),
    ):
        _task(tally, srv, "soak_alert", ALERT_TICK.format(version=1), create=True)
        _task(tally, srv, "soak_window", WINDOW_TICK, create=True)
        start = time.monotonic()
        storm_no, critical = 0, set[int]()
        for second in range(seconds):
            # one write a second, on the run's own clock
            time.sleep(max(0.0, start + second - time.monotonic()))
            if second == outage[0]:
                _request(
                    tally,
                    "POST",
                    f"{emu}/_emulator/faults",
                    b'{"status": 500, "count": 1000000000}',
                )
                print(f"soak: {second}s: Discord outage begins", file=log)
            if second == outage[1]:
                _request(tally, "DELETE", f"{emu}/_emulator/faults")
                print(f"soak: {second}s: Discord is back", file=log)
            if second == restart_at:
                t0 = time.monotonic()
                srv.stop()
                srv.start()
                tally.restart_seconds = time.monotonic() - t0
                print(f"soak: {second}s: restarted in {tally.restart_seconds:.1f}s", file=log)
            if second in redefine_at:
                _task(
                    tally,
                    srv,
                    "soak_alert",
                    ALERT_TICK.format(version=redefine_at[second]),
                    create=False,
                )
                print(f"soak: {second}s: soak_alert redefined", file=log)
            recovering = critical
            if second in storms:
                storm_no += 1
                critical = {(storm_no * 7919 + i * 104729) % hosts for i in range(storm_hosts)}
            else:
                critical = set()
            written = False
            while not written:  # a refused write (the restart) is written again, as Telegraf does
                written = _write(tally, srv, base + second, hosts, storm_no, critical)
                if not written:
                    time.sleep(0.2)
            tally.expected |= {(f"h{h:05d}", "CRITICAL", storm_no) for h in critical}
            tally.expected |= {(f"h{h:05d}", "OK", storm_no) for h in recovering}
            if second % 5 == 0:
                tally.rss.append((second, srv.rss_kb()))
        # wait for the outbox to drain into the emulator
        drain_start = time.monotonic()
        seen: Counter[tuple[str, str, int]] = Counter()
        messages = 0
        while time.monotonic() - drain_start < DRAIN_DEADLINE:
            seen, messages = _delivered(emu)
            if tally.expected <= set(seen):
                break
            time.sleep(2)
        drained = time.monotonic() - drain_start
        tally.rss.append((seconds, srv.rss_kb()))
        stats = get_json(f"{emu}/_emulator/stats")
    lost = tally.expected - set(seen)
    unexpected = set(seen) - tally.expected
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    errors_5xx = sum(n for status, n in tally.statuses.items() if status >= 500)
    warm = [kb for s, kb in tally.rss if s >= min(60, seconds // 4)]
    warm_kb = warm[0] if warm else 0
    max_kb = max(kb for _, kb in tally.rss)
    bounded = max_kb <= 2 * warm_kb
    passed = not lost and not unexpected and errors_5xx == 0 and bounded
    figures: dict[str, object] = {
        "seconds of load": seconds,
        "series": hosts,
        "points written": tally.points,
        "writes": tally.writes,
        "events expected": len(tally.expected),
        "events delivered": len(set(seen) & tally.expected),
        "events lost": len(lost),
        "unexpected events": len(unexpected),
        "duplicate deliveries": duplicates,
        "messages": messages,
        "seconds to drain after the load": round(drained, 1),
        "5xx answers": errors_5xx,
        "emulator 429s": sum(stats["rate_limited"].values()),
        "restart seconds": round(tally.restart_seconds, 1),
        "RSS MB after warm-up": round(warm_kb / 1024, 1),
        "RSS MB largest": round(max_kb / 1024, 1),
        "RSS MB at the end": round(tally.rss[-1][1] / 1024, 1),
        "passed": "yes" if passed else "no",
    }
    if lost:
        figures["first lost"] = ", ".join(f"{h} {lv} r{s}" for h, lv, s in sorted(lost)[:5])
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=int, default=600, help="length of the load (default 600)")
    parser.add_argument("--hosts", type=int, default=2000, help="series written every second")
    parser.add_argument(
        "--storm-hosts", type=int, default=60, help="hosts going CRITICAL per storm"
    )
    args = parser.parse_args(argv)
    if args.seconds < 30 or args.storm_hosts > args.hosts:
        parser.error("--seconds must be at least 30 and --storm-hosts at most --hosts")
    figures = soak(args.seconds, args.hosts, args.storm_hosts)
    for key, value in figures.items():
        print(f"{key:<36}{value}")
    return 0 if figures["passed"] == "yes" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
