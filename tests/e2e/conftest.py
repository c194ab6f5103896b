"""Fixtures of the end-to-end tests: one emulator process per session, servers per test.

The helpers live in ``e2e_stack`` (a module with a name of its own, since several test folders
have a ``conftest.py`` and only one of them can be imported as ``conftest``).
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import LEYDEN, Process, Stack, clean_env, free_port, http_json
from influxd import NO_INFLUXD, Influxd, influxd_binary


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One emulator process for the whole e2e session, emptied before each test."""
    port = free_port()
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    proc = Process.spawn([*LEYDEN, "discord-emulator", "--port", str(port)], log, clean_env())
    base = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(f"{base}/messages")
        yield base
    finally:
        proc.stop(signal.SIGINT)


@pytest.fixture
def make_stack(tmp_path: Path, emulator: str) -> Iterator[Callable[..., Stack]]:
    """``make_stack(global_=..., state_changes_only=...)`` starts a server; stopped at the end."""
    stacks: list[Stack] = []

    def make(**options: Any) -> Stack:
        http_json("POST", f"{emulator}/_emulator/reset")
        stack = Stack(tmp=tmp_path, emulator=emulator, env=clean_env(), **options)
        stacks.append(stack)
        stack.start_server()
        return stack

    try:
        yield make
    finally:
        for stack in stacks:
            if stack.server is not None:
                stack.logs.append(stack.server.stop())
            for log in stack.logs:  # a webhook URL holds a token: never logged
                assert "secret-token" not in log, log


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """The seed's configuration: guild-alerts (default) and guild-errors, not global."""
    return make_stack()


@pytest.fixture
def make_influxd(tmp_path: Path) -> Iterator[Callable[[], Influxd]]:
    """``make_influxd()``: a real influxd, not started yet (``.start()``); stopped at the end.
    Skips the test when Debian's influxdb package is not installed."""
    if influxd_binary() is None or shutil.which("influx") is None:
        pytest.skip(NO_INFLUXD)
    servers: list[Influxd] = []

    def make() -> Influxd:
        server = Influxd(tmp_path / f"influxdb-{len(servers)}")
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def influxd(make_influxd: Callable[[], Influxd]) -> Influxd:
    """A running influxd."""
    server = make_influxd()
    server.start()
    return server
