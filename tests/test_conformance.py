"""Kapacitor's own stream/alert integration tests, run through ``leyden replay``.

The kit lives beside the repository in ``../shared/conformance`` (CI lays it there). Every case
must pass: this is how compatibility with Kapacitor is measured rather than assumed.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2] / "shared" / "conformance"


def test_conformance_kit_passes_completely() -> None:
    if not (KIT / "run.py").exists():
        if os.environ.get("CI"):
            pytest.fail(
                f"conformance kit not found at {KIT}: CI must lay ../shared beside the repo"
            )
        pytest.skip(f"conformance kit not found at {KIT}")
    env = dict(os.environ, LEYDEN=shlex.join([sys.executable, "-m", "leyden"]))
    proc = subprocess.run(
        [sys.executable, str(KIT / "run.py"), "--json", "-j", "2", "--timeout", "120"],
        capture_output=True,
        text=True,
        env=env,
        cwd=KIT,
        timeout=1200,
    )
    report = json.loads(proc.stdout)
    failures = [f"{r['name']}: {r['reason']}" for r in report["results"] if r["status"] != "pass"]
    print(f"conformance: {report['passed']} passed, {report['failed']} failed")
    assert not failures, "\n".join(failures)
    assert report["passed"] == len(report["results"]) > 0
