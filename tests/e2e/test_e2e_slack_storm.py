"""A storm of alerts to Slack through a real ``leyden serve``: paced at Slack's one message per
second per webhook, nothing lost, and a 429 honoured.

The Slack double answers like Slack's incoming webhooks: ``ok``, or 429 with ``Retry-After:
1`` for a message that arrives less than a second after the previous one it accepted.  A
sender that only reacts to 429s (Kapacitor) gets a 429 for most of a burst; Leyden's
declared limit (``leyden.notify.slack``) keeps every message under it.  The check is on what
the double saw, never on how fast the machine is: a loaded machine only sends later.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from e2e_stack import CONF, Stack, wait_until

ALERTS = 8
#: what Slack allows per webhook; the double refuses anything closer
INTERVAL = 1.0

SCRIPT = """\
stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |alert()
        .id('{{ index .Tags "host" }}')
        .crit(lambda: "usage_idle" < 10)
        .slack()
"""


@dataclass
class SlackDouble:
    url: str
    accepted: list[tuple[float, str]] = field(default_factory=list)
    refused: int = 0


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    lock = threading.Lock()
    double = SlackDouble("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            now = time.monotonic()
            with lock:
                last = double.accepted[-1][0] if double.accepted else None
                too_soon = last is not None and now - last < INTERVAL * 0.95
                if too_soon:
                    double.refused += 1
                else:
                    double.accepted.append((now, body.decode()))
            status, text = (429, "rate_limited") if too_soon else (200, "ok")
            self.send_response(status)
            if too_soon:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    double.url = f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/slack-secret"
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()


def test_a_storm_to_slack_is_paced_at_its_limit_and_nothing_is_lost(
    make_stack: Callable[..., Stack], slack: SlackDouble
) -> None:
    conf = CONF + f'\n[[slack]]\n  enabled = true\n  url = "{slack.url}"\n  channel = "#ops"\n'
    stack = make_stack(conf_head=conf)
    stack.file("storm.tick", SCRIPT)
    stack.ok("define", "storm", "-tick", "storm.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "storm")
    lines = "\n".join(f"cpu,host=h{i} usage_idle=1 {i + 1}000000000" for i in range(ALERTS))
    req = urllib.request.Request(
        f"{stack.url}/write?db=telegraf&rp=autogen", data=lines.encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 204

    wait_until(lambda: len(slack.accepted) >= ALERTS, "every alert in Slack", 60)
    assert slack.refused == 0  # paced before sending, not after a 429
    texts = [body for _, body in slack.accepted]
    assert len(texts) == ALERTS
    assert all(f'"h{i} is CRITICAL"' in "".join(texts) for i in range(ALERTS))
    log = stack.stop_server()
    assert "slack-secret" not in log
