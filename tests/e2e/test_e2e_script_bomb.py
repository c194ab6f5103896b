"""End to end (issue 16): a real ``leyden serve`` under a script bomb still answers ``/ping``.

Two clients post, over and over, scripts at the limits: a script of nearly
``limits.MAX_SCRIPT_BYTES`` that builds, and the hostile shapes the limits refuse (a
10,000-link chain, a 20,000-term ``AND``, parentheses thousands deep, a script over the size
limit).  Meanwhile ``/kapacitor/v1/ping`` is asked every 20 ms.  Every ping must be answered
and every bomb refused with a 4xx (or defined, for the valid one), never a 5xx.  The issue
asks for ping within 100 ms; the house rule is no timing assertions (a loaded two-core
machine), so the latencies are printed (``-s``) and only a hang (no answer in 10 s) fails.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from e2e_stack import Stack

from leyden import limits

HEAD = "stream|from().measurement('m')"


def _bombs() -> list[str]:
    statement = "var x{} = 1\n"
    count = (limits.MAX_SCRIPT_BYTES - 200) // len(statement.format(10_000))
    big_valid = "".join(statement.format(i) for i in range(count)) + HEAD + "|log()\n"
    assert len(big_valid) <= limits.MAX_SCRIPT_BYTES
    return [
        big_valid,
        HEAD + "|log()" * 10_000,
        HEAD + "|where(lambda: " + " AND ".join(['"v" > 1'] * 20_000) + ")",
        HEAD + "|where(lambda: " + "(" * 5000 + '"v" > 1' + ")" * 5000 + ")",
        HEAD + "\n" + "// pad\n" * (limits.MAX_SCRIPT_BYTES // 7 + 10),
    ]


def _post(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            print(exc.code, exc.read()[:300])
        return int(exc.code)


def test_ping_answers_during_a_script_bomb(stack: Stack) -> None:
    bombs = _bombs()
    statuses: list[int] = []
    done = threading.Event()

    def bomber(offset: int) -> None:
        for round_ in range(3):
            for i, script in enumerate(bombs):
                task_id = f"bomb-{offset}-{round_}-{i}"
                body = {
                    "id": task_id,
                    "dbrps": [{"db": "telegraf", "rp": "autogen"}],
                    "script": script,
                }
                statuses.append(_post(f"{stack.url}/kapacitor/v1/tasks", body))

    threads = [threading.Thread(target=bomber, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()

    def finish() -> None:
        for t in threads:
            t.join()
        done.set()

    threading.Thread(target=finish).start()
    latencies: list[float] = []
    while not done.is_set():
        started = time.perf_counter()
        with urllib.request.urlopen(f"{stack.url}/kapacitor/v1/ping", timeout=10) as resp:
            assert resp.status == 204
        latencies.append(time.perf_counter() - started)
        time.sleep(0.02)
    assert len(statuses) == 2 * 3 * len(bombs)
    assert all(s < 500 for s in statuses), statuses
    assert statuses.count(200) == 2 * 3  # the valid one, each time
    assert len(latencies) > 10, "the bomb ended before ping could be measured"
    latencies.sort()
    print(
        f"\nping during the script bomb: {len(latencies)} pings, "
        f"median {statistics.median(latencies) * 1000:.1f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms (the issue's target: 100 ms)"
    )
