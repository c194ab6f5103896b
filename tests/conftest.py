"""Fixtures shared by the whole suite.

``make_runtime`` builds a server's object graph the way ``leyden serve`` does, through the one
composition root (:func:`leyden.runtime.build_runtime`), so tests never wire services by hand;
``live_server`` runs one over HTTP in a thread.

Helpers with names of their own sit beside this file (``threaded_server``, ``seed_page``): this
folder is on the import path because this ``conftest.py`` is, and only one ``conftest`` can be
imported by that name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from leyden.clock import Clock, WallClock
from leyden.config import Config, load_config
from leyden.notify import INTEGRATIONS
from leyden.runtime import Runtime, build_runtime
from leyden.store import Store
from pg_cluster import PgCluster, pg_cluster
from threaded_server import LiveServer, running

MakeRuntime = Callable[..., Runtime]


@pytest.fixture
def make_runtime() -> Iterator[MakeRuntime]:
    """``make_runtime(config, db=":memory:", clock=None)``: a server runtime on a store at
    ``db`` and the wall clock (or ``clock``); its store is closed at the end of the test."""
    made: list[Runtime] = []

    def make(config: Config, *, db: str | Path = ":memory:", clock: Clock | None = None) -> Runtime:
        runtime = build_runtime(config, store=Store(db), clock=clock or WallClock())
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.store.close()


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgCluster]:
    """A private PostgreSQL cluster for the session (``tests/pg_cluster.py``); skipped with
    the reason when PostgreSQL is not installed."""
    try:
        with pg_cluster() as cluster:
            yield cluster
    except LookupError as exc:
        pytest.skip(str(exc))
