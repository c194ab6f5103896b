"""Start-up, as issue 11 judges it: ``leyden serve`` from spawn to its first answered ping
(target 0.5 s), and ``leyden vet`` / ``leyden fmt`` on one script (target 0.25 s).

Each is a fresh interpreter, timed from spawn to exit (vet, fmt) or to the first ``GET
/kapacitor/v1/ping`` answered (serve: polled every 5 ms, a fresh data dir each time, with a
config that has an HTTP port and one Discord workspace, as :mod:`bench.procs` writes it); best
of ``ROUNDS``.  The floor is ``python -c pass`` with the same interpreter in the same run.
The CPU-seconds each used (best of ``ROUNDS`` too; serve's read from ``/proc`` at its first
ping) are printed as well: they hardly move when other work shares the machine.

Two conditions, because compiling Leyden's sources is a large share of a start without
bytecode: **warm**, with a bytecode cache (``PYTHONPYCACHEPREFIX`` in a temp dir, filled by a
first run that is not counted: every start after an install's first), and **cold**, with
``PYTHONDONTWRITEBYTECODE=1`` as these sessions run (every Leyden module compiled at each
start; installed packages keep their own caches).  ``LEYDEN_BENCH_SRC`` runs the verbs from
another tree (see :mod:`bench.procs`).
"""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from bench.procs import LEYDEN, cpu_seconds, server, server_env

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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _exit_time(argv: list[str], env: Mapping[str, str]) -> tuple[float, float]:
    """Seconds from spawn to a successful exit and CPU-seconds used, each best of
    :data:`ROUNDS`."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(ROUNDS):
        start, start_cpu = time.perf_counter(), _children_cpu()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, _children_cpu() - start_cpu)
    return best, best_cpu


def _serve_time(tmp: Path, env: Mapping[str, str]) -> tuple[float, float]:
    """Seconds from spawning ``leyden serve`` to its first answered ping and the CPU-seconds
    it had used then, each best of ROUNDS."""
    best, best_cpu = float("inf"), float("inf")
    for i in range(ROUNDS):
        start = time.perf_counter()
        with server(tmp / f"serve{i}", "http://127.0.0.1:9", "555555555555555555", env=env) as (
            _,
            proc,
        ):
            best = min(best, time.perf_counter() - start)
            best_cpu = min(best_cpu, cpu_seconds(proc.pid)[proc.pid])
    return best, best_cpu


def _envs(tmp: Path) -> dict[str, dict[str, str]]:
    base = {k: v for k, v in server_env().items() if not k.startswith("PYTHONPYCACHEPREFIX")}
    warm = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
    warm["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    # cold: no bytecode written, and an empty cache prefix so none written earlier is read
    cold = {**base, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(tmp / "empty")}
    return {"warm": warm, "cold": cold}


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
            floor, floor_cpu = _exit_time([LEYDEN[0], "-c", "pass"], env)
            vet, vet_cpu = _exit_time(vet_argv, env)
            fmt, fmt_cpu = _exit_time([*LEYDEN, "fmt", str(script)], env)
            serve, serve_cpu = _serve_time(tmp / condition, env)
            figures[f"{condition}: python -c pass s (floor)"] = floor
            figures[f"{condition}: leyden vet one script s"] = vet
            figures[f"{condition}: leyden vet ÷ floor"] = vet / floor
            figures[f"{condition}: leyden fmt one script s"] = fmt
            figures[f"{condition}: leyden serve → first ping s"] = serve
            figures[f"{condition}: leyden serve ÷ floor"] = serve / floor
            figures[f"{condition}: CPU-s pass / vet / fmt / serve"] = (
                f"{floor_cpu:.3f} / {vet_cpu:.3f} / {fmt_cpu:.3f} / {serve_cpu:.3f}"
            )
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<44}{value}")
