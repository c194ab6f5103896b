"""The container image's parts, checked without a Docker daemon (this machine has none):
the files the ``Dockerfile`` copies exist, ``leyden serve`` starts from the image's own
configuration (``contrib/docker/kapacitor.conf``, found through ``LEYDEN_CONFIG_PATH`` as the
image sets it), and the image's HEALTHCHECK command tells a running server from a stopped one.
What stays unverified here is the ``docker build`` itself."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from e2e_stack import Process, clean_env, free_port

from leyden.config.load import load_config
from leyden.notify import INTEGRATIONS

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
IMAGE_CONF = ROOT / "contrib" / "docker" / "kapacitor.conf"


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def test_every_file_the_image_copies_from_the_checkout_exists() -> None:
    copies = [args.split() for kw, args in _instructions() if kw == "COPY"]
    sources = [src for args in copies if not args[0].startswith("--from") for src in args[:-1]]
    assert sources, "the Dockerfile copies nothing from the checkout"
    for src in sources:
        assert (ROOT / src).exists(), f"Dockerfile copies {src}, which is not in the checkout"
    env = " ".join(args for kw, args in _instructions() if kw == "ENV")
    assert f"LEYDEN_CONFIG_PATH=/etc/leyden/{IMAGE_CONF.name}" in env


def test_the_image_config_listens_on_every_interface_and_keeps_data_on_the_volume() -> None:
    config = load_config(str(IMAGE_CONF), env={}, integrations=INTEGRATIONS.sections())
    assert config.http.host_port() == ("", 9092)
    assert config.sqlite_path() == "/var/lib/leyden/leyden.db"
    volumes = [args for kw, args in _instructions() if kw == "VOLUME"]
    assert volumes == ["/var/lib/leyden"]


def _healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    (args,) = [args for kw, args in _instructions() if kw == "HEALTHCHECK"]
    argv = json.loads(args[args.index("CMD") + 3 :])
    assert argv[0] == "python"
    code = argv[-1].replace("127.0.0.1:9092", f"127.0.0.1:{port}")
    return subprocess.run(
        [sys.executable, *argv[1:-1], code], capture_output=True, text=True, timeout=30
    )


def test_the_image_config_serves_and_the_healthcheck_sees_it(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env() | {
        "LEYDEN_CONFIG_PATH": str(IMAGE_CONF),
        # the image's volume and port, moved to where this test may write and listen
        "KAPACITOR_DATA_DIR": str(tmp_path / "data"),
        "KAPACITOR_HTTP_BIND_ADDRESS": f"127.0.0.1:{port}",
    }
    server = Process.spawn(
        [sys.executable, "-m", "leyden", "serve"], tmp_path / "serve.log", env, cwd=tmp_path
    )
    try:
        server.wait_http(f"http://127.0.0.1:{port}/kapacitor/v1/ping")
        alive = _healthcheck(port)
        assert alive.returncode == 0, alive.stderr
    finally:
        log = server.stop()
    assert server.popen.returncode == 0, log
    assert (tmp_path / "data" / "leyden.db").exists(), log
    assert _healthcheck(port).returncode == 1
