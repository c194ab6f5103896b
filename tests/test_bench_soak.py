"""The soak (``bench/soak.py``, ``make soak``) run tiny, so it cannot rot unnoticed: 30 s of
load on 40 series with storms of 4 hosts, the outage, the restart and the redefinitions all
in.  It judges itself (no event lost, no 5xx, RSS bounded); a failed judgement fails here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_tiny_soak_loses_nothing() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPACITOR_", "LEYDEN_"))}
    argv = [sys.executable, "-m", "bench.soak", "--seconds", "30", "--hosts", "40"]
    done = subprocess.run(
        [*argv, "--storm-hosts", "4"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    figures = dict(
        (line[:36].strip(), line[36:].strip())
        for line in done.stdout.splitlines()
        if line[:1] != " "
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert figures["passed"] == "yes"
    assert int(figures["events expected"]) == int(figures["events delivered"]) > 0
    assert figures["events lost"] == "0" and figures["5xx answers"] == "0"
    assert "restarted in" in done.stderr and "Discord outage begins" in done.stderr
