"""What the server tests share: a live app over a configuration file's text."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from leyden.config import load_config
from leyden.notify import INTEGRATIONS
from leyden.runtime import Runtime
from leyden.server.app import create_app

OpenClient = Callable[[str], Awaitable[TestClient]]


@pytest.fixture
def open_client(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    make_runtime: Callable[..., Runtime],
    tmp_path: Path,
) -> OpenClient:
    """``await open_client(conf_text)``: a server with that configuration file (no
    environment overrides) and its store in ``tmp_path``."""

    async def open_(text: str) -> TestClient:
        path = tmp_path / "kapacitor.conf"
        path.write_text(text)
        runtime = make_runtime(
            load_config(str(path), {}, integrations=INTEGRATIONS.sections()),
            db=tmp_path / "leyden.db",
        )
        client: TestClient = await aiohttp_client(create_app(runtime))
        return client

    return open_
