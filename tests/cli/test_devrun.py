"""``make run`` (``leyden.devtools.devrun``) with a port already taken — a second ``make run``
— says so in one ``Error:`` line and exits 1, as ``leyden serve`` does; never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from leyden.devtools.devrun import EMULATOR_HOST, EMULATOR_PORT


def _devrun(conf: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPACITOR_", "LEYDEN_"))}
    return subprocess.run(
        [sys.executable, "-m", "leyden.devtools.devrun", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_busy_server_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        conf = tmp_path / "k.conf"
        conf.write_text(f'data_dir = "{tmp_path}"\n[http]\nbind-address = "127.0.0.1:{port}"\n')
        done = _devrun(conf)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0], done.stderr


def test_busy_emulator_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        try:
            busy.bind((EMULATOR_HOST, EMULATOR_PORT))
        except OSError:
            pytest.skip(f"{EMULATOR_HOST}:{EMULATOR_PORT} is in use by another process")
        busy.listen()
        conf = tmp_path / "k.conf"
        conf.write_text(
            f'data_dir = "{tmp_path}"\n[http]\nbind-address = "127.0.0.1:0"\n'
            "[[discord]]\nenabled = true\n"
            f'url = "http://{EMULATOR_HOST}:{EMULATOR_PORT}/api/webhooks/1/token"\n'
        )
        done = _devrun(conf)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"Error: the Discord emulator cannot listen on {EMULATOR_HOST}:{EMULATOR_PORT}: "
        "Address already in use (is another `make run` running?)\n"
    )
