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

import tempfile
import time
import urllib.request
from pathlib import Path

from bench.procs import emulator, get_json, server
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


def _delivered(emulator: str) -> tuple[set[str], int]:
    """The alert IDs delivered as embeds, and how many messages carried them."""
    messages = get_json(f"{emulator}/messages")
    ids = {
        str(e.get("description", "")) for m in messages for e in m["payload"].get("embeds") or []
    }
    return ids, len(messages)


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="leyden-storm-") as tmp_name:
        tmp = Path(tmp_name)
        with (
            emulator(tmp) as emu,
            server(tmp, emu, WEBHOOK, workspace="storm") as (srv, _),
        ):
            Client(srv).create_task(
                {
                    "id": "storm",
                    "dbrps": [{"db": "telegraf", "rp": "autogen"}],
                    "script": TICK,
                    "status": "enabled",
                }
            )
            body = "\n".join(f"cpu,host=h{i:04d} usage_idle=2" for i in range(ALERTS))
            request = urllib.request.Request(
                f"{srv}/write?db=telegraf&rp=autogen", data=body.encode(), method="POST"
            )
            start = time.monotonic()
            with urllib.request.urlopen(request, timeout=30):
                pass
            written = time.monotonic() - start
            last_seen, last_count = start, 0
            ids: set[str] = set()
            messages = 0
            while time.monotonic() - start < DEADLINE:
                ids, messages = _delivered(emu)
                if len(ids) != last_count:
                    last_seen, last_count = time.monotonic(), len(ids)
                if len(ids) >= ALERTS:
                    break
                time.sleep(0.25)
            # all delivered: the rate up to the last one; otherwise over the whole wait
            done = len(ids) >= ALERTS
            elapsed = (last_seen if done else time.monotonic()) - start
            stats = get_json(f"{emu}/_emulator/stats")
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
