"""Start-up, as issue 11 judges it: ``leyden serve`` from spawn to its first answered ping
(target 0.5 s), and ``leyden vet`` / ``leyden fmt`` on one script (target 0.25 s).

Each is a fresh interpreter, timed from spawn to exit (vet, fmt) or to the first ``GET
/kapacitor/v1/ping`` answered (serve: polled every 5 ms, a fresh data dir each time, with a
config that has an HTTP port and one Discord workspace, as :mod:`bench.procs` writes it); best
of ``ROUNDS``.  The floor is ``python -c pass`` with the same interpreter in the same run.

Two conditions, because compiling Leyden's sources is a large share of a start without
bytecode: **warm**, with a bytecode cache (``PYTHONPYCACHEPREFIX`` in a temp dir, filled by a
first run that is not counted: every start after an install's first), and **cold**, with
``PYTHONDONTWRITEBYTECODE=1`` as these sessions run (every Leyden module compiled at each
start; installed packages keep their own caches).  ``LEYDEN_BENCH_SRC`` runs the verbs from
another tree (see :mod:`bench.procs`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
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


def _exit_time(argv: list[str], env: Mapping[str, str]) -> float:
    """Seconds from spawn to a successful exit, best of :data:`ROUNDS`."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def _serve_time(tmp: Path, env: Mapping[str, str]) -> float:
    """Seconds from spawning ``leyden serve`` to its first answered ping, best of ROUNDS."""
    best = float("inf")
    for i in range(ROUNDS):
        start = time.perf_counter()
        with server(tmp / f"serve{i}", "http://127.0.0.1:9", "555555555555555555", env=env):
            best = min(best, time.perf_counter() - start)
    return best


def _envs(tmp: Path) -> dict[str, dict[str, str]]:
    base = {k: v for k, v in server_env().items() if not k.startswith("PYTHONPYCACHEPREFIX")}
    warm = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
    warm["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return {"warm": warm, "cold": {**base, "PYTHONDONTWRITEBYTECODE": "1"}}


def run() -> dict[str, object]:
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="leyden-startup-") as tmp_name:
        tmp = Path(tmp_name)
        script = tmp / "cpu.tick"
        script.write_text(SCRIPT)
        for condition, env in _envs(tmp).items():
            vet_argv = [*LEYDEN, "vet", str(script)]
            if condition == "warm":  # fill the bytecode cache: vet, then serve below
                subprocess.run(vet_argv, env=env, check=True, stdout=subprocess.DEVNULL)
                with server(tmp / "warm-up", "http://127.0.0.1:9", "555555555555555555", env=env):
                    pass
            floor = _exit_time([LEYDEN[0], "-c", "pass"], env)
            vet = _exit_time(vet_argv, env)
            fmt = _exit_time([*LEYDEN, "fmt", str(script)], env)
            serve = _serve_time(tmp / condition, env)
            figures[f"{condition}: python -c pass s (floor)"] = floor
            figures[f"{condition}: leyden vet one script s"] = vet
            figures[f"{condition}: leyden vet ÷ floor"] = vet / floor
            figures[f"{condition}: leyden fmt one script s"] = fmt
            figures[f"{condition}: leyden serve → first ping s"] = serve
            figures[f"{condition}: leyden serve ÷ floor"] = serve / floor
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<44}{value}")
