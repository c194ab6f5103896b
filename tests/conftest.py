"""Fixtures shared by the whole suite.

Helpers with names of their own sit beside this file (``threaded_server``, ``seed_page``): this
folder is on the import path because this ``conftest.py`` is, and only one ``conftest`` can be
imported by that name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from leyden.config import Config, load_config
from leyden.notify import INTEGRATIONS
from threaded_server import LiveServer, running


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """``live_server(config=None)`` starts a real server in a thread (the default config when
    None, a SQLite store under ``tmp_path``); every server started is stopped at the end."""
    with ExitStack() as stack:

        def start(config: Config | None = None) -> LiveServer:
            config = (
                config
                if config is not None
                else load_config(None, {}, integrations=INTEGRATIONS.sections())
            )
            return stack.enter_context(running(config, tmp_path / "leyden.db"))

        yield start
