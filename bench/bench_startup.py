"""Start-up, as issue 11 judges it: ``leyden serve`` from spawn to its first answered ping
(target 0.5 s), and ``leyden vet`` / ``leyden fmt`` on one script (target 0.25 s).

Each is a fresh interpreter, timed from spawn to exit (vet, fmt) or to the first ``GET
/kapacitor/v1/ping`` answered (serve: polled every 5 ms, with a config that has a data dir, an
HTTP port and one Discord workspace, as ``bench.procs`` writes it); best of ``ROUNDS``.  The
floor is ``python -c pass`` with the same interpreter in the same run.  ``LEYDEN_BENCH_SRC``
runs the verbs from another tree (see :mod:`bench.procs`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.procs import LEYDEN, server, server_env

ROUNDS = int(os.environ.get("LEYDEN_BENCH_STARTUP_ROUNDS", "5"))

SCRIPT = """\
stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .warn(lambda: "usage_user" > 90)
    .crit(lambda: "usage_user" > 95)
    .message('{{ .ID }} is {{ .Level }}')
    .discord()
"""


def _exit_time(argv: list[str]) -> float:
    """Seconds from spawn to a successful exit, best of :data:`ROUNDS`."""
    best = float("inf")
    env = server_env()
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def _serve_time(tmp: Path) -> float:
    """Seconds from spawning ``leyden serve`` to its first answered ping, best of ROUNDS (a
    fresh data dir each time: a first start, as after an install)."""
    best = float("inf")
    for i in range(ROUNDS):
        start = time.perf_counter()
        with server(tmp / f"serve{i}", "http://127.0.0.1:9", "555555555555555555"):
            best = min(best, time.perf_counter() - start)
    return best


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="leyden-startup-") as tmp_name:
        tmp = Path(tmp_name)
        script = tmp / "cpu.tick"
        script.write_text(SCRIPT)
        floor = _exit_time([LEYDEN[0], "-c", "pass"])
        vet = _exit_time([*LEYDEN, "vet", str(script)])
        fmt = _exit_time([*LEYDEN, "fmt", str(script)])
        serve = _serve_time(tmp)
    return {
        "python -c pass s (floor)": floor,
        "leyden vet one script s": vet,
        "leyden vet ÷ floor": vet / floor,
        "leyden fmt one script s": fmt,
        "leyden serve → first ping s": serve,
        "leyden serve ÷ floor": serve / floor,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<40}{value}")
