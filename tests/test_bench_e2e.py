"""The end-to-end benchmark (``bench/bench_e2e.py``) run tiny, so it cannot rot unnoticed.

A real subprocess, as ``make bench`` runs it (``python -m bench e2e``), with the size knobs
turned down: 100-line bodies for about a second, two idle probes.  Only that it runs and that
its figures are there and sane is checked here; speed targets live in the benchmark, never in
a unit test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _figures(output: str) -> dict[str, str]:
    """``bench_e2e  figure  value`` lines of the runner's table, as figure → value."""
    out = {}
    for line in output.splitlines():
        if line.startswith("bench_e2e"):
            figure, _, value = line[24:].rpartition("  ")
            out[figure.strip()] = value.strip()
    return out


def test_tiny_e2e_bench_runs_and_reports_every_figure() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPACITOR_", "LEYDEN_"))}
    env.update(
        LEYDEN_BENCH_E2E_LINES="100",
        LEYDEN_BENCH_E2E_SECONDS="1.5",
        LEYDEN_BENCH_E2E_PROBES="2",
        LEYDEN_BENCH_E2E_WORKERS="1,2",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench", "e2e"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = _figures(done.stdout)
    assert "ERROR" not in figures, done.stdout
    assert 0.05 < float(figures["share of task-points raising events"]) < 0.15
    assert float(figures["line-protocol-parser lines/s (floor)"].replace(",", "")) > 0
    assert float(figures["1 worker: points/s accepted"].replace(",", "")) > 0
    assert float(figures["1 worker: points/s through all tasks"].replace(",", "")) > 0
    assert figures["1 worker: bodies refused"] == "0"
    assert figures["1 worker: alert idle probes arrived"] == "2/2"
    arrived, sent = figures["1 worker: alert saturated probes arrived"].split("/")
    assert int(sent) >= 1
    assert arrived == sent
    assert float(figures["1w points/s ÷ parser lines/s"]) > 0
    assert float(figures["1 worker: server cores busy (per process)"].split()[0]) > 0
    # a server without the worker pool says so instead of failing the run
    assert "2 workers: points/s through all tasks" in figures
