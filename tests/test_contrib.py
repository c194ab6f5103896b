"""``contrib/leyden.service``: the systemd unit is one systemd accepts without a warning
(``systemd-analyze verify``, when this machine has it), and it runs ``leyden serve``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "contrib" / "leyden.service"


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = UNIT.read_text(encoding="utf-8")
    assert "ExecStart=/usr/local/bin/leyden serve -config /etc/leyden/kapacitor.conf" in text
    # verify checks that the program exists: point it at this environment's leyden
    leyden = Path(sys.executable).with_name("leyden")
    unit = tmp_path / "leyden.service"
    unit.write_text(text.replace("/usr/local/bin/leyden", str(leyden)), encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
