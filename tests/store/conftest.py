"""The store suite's fixtures: every test taking ``open_store`` runs against a SQLite file
and a database on a private PostgreSQL cluster (``tests/pg_cluster.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leyden.store import StateStore, Store
from pg_cluster import TEST_PASSWORD, PgCluster


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], StateStore]]:
    """Opens the parametrized store (again, on the same database, each time it is called);
    closes what is left open at the end."""
    opened: list[StateStore] = []
    if request.param == "sqlite":
        path = tmp_path / "leyden.db"

        def make() -> StateStore:
            opened.append(Store(path))
            return opened[-1]
    else:
        from leyden.store.postgres import PostgresStore  # only where PostgreSQL runs

        cluster: PgCluster = request.getfixturevalue("postgres")
        url = cluster.database(password=TEST_PASSWORD)

        def make() -> StateStore:
            opened.append(PostgresStore(url))
            return opened[-1]

    yield make
    for store in opened:
        store.close()
