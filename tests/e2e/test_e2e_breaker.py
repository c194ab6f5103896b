"""Broken-webhook protection as issue 12 judges it, with a real ``leyden serve`` and the
emulator: a webhook answering 404 Unknown Webhook (10015) gets one request, after which later
alerts for it make none (also across a restart) until an operator runs ``leyden
retry-delivery``; ``/metrics`` and ``leyden list deliveries`` show the breaker meanwhile, and
the log says so once, without the token."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from e2e_stack import ALERTS_WEBHOOK, Stack, all_embeds, http_json, wait_until

ALERT_TICK = """\
stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .crit(lambda: "usage_idle" < 10)
    .message('{{ .ID }}')
    .discord()
"""


def metric(stack: Stack, name: str) -> float:
    """A metric summed over its series, from ``GET /metrics``."""
    with urllib.request.urlopen(f"{stack.url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert "secret-token" not in text
    found = re.findall(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", text, re.M)
    assert found, f"{name} not in /metrics"
    return sum(float(v) for v in found)


def deliveries(stack: Stack) -> list[dict[str, Any]]:
    return list(http_json("GET", f"{stack.url}/kapacitor/v1/deliveries")["deliveries"])


def webhook_requests(stack: Stack) -> list[dict[str, Any]]:
    """What reached the emulator's webhook routes (accepted or not)."""
    return list(http_json("GET", f"{stack.emulator}/_emulator/requests"))


def crit(stack: Stack, host: str) -> None:
    point = {"measurement": "cpu", "tags": {"host": host}, "fields": {"usage_idle": 2.0}}
    assert stack.influx().write_points([point], retention_policy="autogen")


def wait_held(stack: Stack, count: int) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        rows = [d for d in deliveries(stack) if d["state"] == "held"]
        return rows if len(rows) >= count else None

    try:
        found: list[dict[str, Any]] = wait_until(enough, f"{count} held deliveries", 20)
    except AssertionError as exc:
        log = stack.server.log() if stack.server else ""
        raise AssertionError(
            f"{exc}: {deliveries(stack)}; {webhook_requests(stack)}\n{log}"
        ) from None
    return found


def test_a_404_webhook_is_not_asked_again_until_a_retry(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stack.file("alert.tick", ALERT_TICK)
    stack.ok("define", "alert", "-tick", "alert.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "alert")
    # the webhook answers its next request 404 Unknown Webhook (10015), as a deleted one does
    http_json(
        "POST",
        f"{stack.emulator}/_emulator/faults",
        {"status": 404, "count": 1, "webhook_id": ALERTS_WEBHOOK},
    )

    crit(stack, "h0")
    wait_held(stack, 1)
    assert [r["status"] for r in webhook_requests(stack)] == [404]
    for host in ("h1", "h2"):
        crit(stack, host)
    held = wait_held(stack, 3)
    time.sleep(1.0)  # time enough for a request, if one were made
    assert [r["status"] for r in webhook_requests(stack)] == [404]  # no second request
    assert all(
        "webhook broken (HTTP 404: Unknown Webhook (10015))" in d["last-error"] for d in held
    )

    # what an operator sees: the metric and the list, no token anywhere
    assert metric(stack, "leyden_delivery_breaker_open") == 1
    assert metric(stack, "leyden_deliveries_held") == 3
    assert metric(stack, "leyden_delivery_breaker_opened_total") == 1
    listed = stack.ok("list", "deliveries").stdout
    assert "secret-token" not in listed
    lines = listed.splitlines()
    assert lines[0].split()[:2] == ["ID", "State"]
    assert len(lines) == 1 + 3
    assert all(line.split()[1] == "held" and "webhook broken" in line for line in lines[1:])

    # still broken after a restart with the same URL
    log = stack.restart_server()
    assert log.count("webhook is broken") == 1
    crit(stack, "h3")
    held = wait_held(stack, 4)
    time.sleep(1.0)
    assert [r["status"] for r in webhook_requests(stack)] == [404]
    assert metric(stack, "leyden_delivery_breaker_open") == 1

    # an operator retries one of them: the breaker closes and the webhook (fine again) gets
    # all four alerts, in one message
    stack.ok("retry-delivery", held[0]["id"])

    def delivered() -> list[dict[str, Any]] | None:
        got = all_embeds(stack.messages())
        return got if len(got) >= 4 else None

    got = wait_until(delivered, "the held alerts to be delivered", 20)
    assert sorted(e["description"] for e in got) == [f"cpu:host=h{i}" for i in range(4)]
    wait_until(lambda: not deliveries(stack), "the outbox to empty")
    assert metric(stack, "leyden_delivery_breaker_open") == 0
    assert [r["status"] for r in webhook_requests(stack)] == [404, 204]  # one 404 in all
