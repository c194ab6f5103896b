"""Issue 11: a big write must not hold an alert's delivery back.

A body of tens of thousands of lines runs through several alert tasks while one small write
raises an alert bound for Discord (the emulator).  The alert must reach Discord while the big
body is still being routed: the server's own write statistics, read as soon as the message is
there, show the big body not yet through.  Progress is compared, never time.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable

from e2e_stack import CONF, Stack, http_json, wait_until

LOAD = """stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .crit(lambda: "usage_idle" < 10.0)
"""

PROBE = """stream
  |from()
    .measurement('probe')
  |alert()
    .crit(lambda: "v" > 0)
    .message('probe fired')
    .discord()
"""

BIG = 60_000
LOAD_TASKS = 5


def big_body() -> bytes:
    return "\n".join(
        f"cpu,host=h{i % 1000},cpu=cpu-total usage_idle={i % 100}.5,usage_user=1.5,usage_system=2.5 {i}"
        for i in range(BIG)
    ).encode()


def points_received(stack: Stack) -> int:
    return int(http_json("GET", f"{stack.url}/kapacitor/v1/debug/vars")["write"]["points_received"])


def test_an_alert_is_delivered_while_a_big_write_is_routed(
    make_stack: Callable[..., Stack],
) -> None:
    # the server's own engine (with workers, the write statistics count a body when it is done)
    stack = make_stack(conf_head=CONF + "\n[engine]\n  workers = 1\n")
    dbrps = [{"db": "telegraf", "rp": "autogen"}]
    for i in range(LOAD_TASKS):
        http_json(
            "POST",
            f"{stack.url}/kapacitor/v1/tasks",
            {"id": f"load{i}", "dbrps": dbrps, "script": LOAD, "status": "enabled"},
        )
    http_json(
        "POST",
        f"{stack.url}/kapacitor/v1/tasks",
        {"id": "probe", "dbrps": dbrps, "script": PROBE, "status": "enabled"},
    )
    statuses: list[int] = []

    def write_big() -> None:
        req = urllib.request.Request(
            f"{stack.url}/write?db=telegraf&rp=autogen", data=big_body(), method="POST"
        )
        with urllib.request.urlopen(req, timeout=300) as resp:
            statuses.append(resp.status)

    writer = threading.Thread(target=write_big)
    writer.start()
    try:
        # the server answers while the body is being routed, and shows it under half done: the
        # alert's way to Discord (commit, dispatcher, connect, post) takes a few dozen turns of
        # the loop, the rest of the body well over a hundred (slices of TURN_BUDGET each)
        wait_until(
            lambda: 0 < points_received(stack) < BIG // 2,
            "the big body to be under half routed",
            60,
        )
        req = urllib.request.Request(
            f"{stack.url}/write?db=telegraf&rp=autogen", data=b"probe v=1", method="POST"
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert resp.status == 204
        got = stack.wait_messages(1, timeout=60)
        # Discord has the alert, and the big body is still going through the tasks
        assert points_received(stack) <= BIG  # BIG + 1 once both writes are through
        assert not statuses
        assert "probe fired" in str(got[0]["payload"])
    finally:
        writer.join(300)
    assert statuses == [204]
    assert points_received(stack) == BIG + 1
