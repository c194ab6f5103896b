"""What only the PostgreSQL store has to show: the URL's password never shows, migrations
mirror SQLite's and serialize between servers, and topic states are written behind the
per-point path (answered from memory, committed by the writer in order)."""

from __future__ import annotations

import threading
import time

import pytest

from leyden.go.types import Duration, Time
from leyden.model.alert import EventState, Level
from leyden.model.records import TaskRecord
from leyden.store import SCHEMA_VERSION, StoreError
from leyden.store.postgres import PostgresStore
from leyden.store.postgres_schema import MIGRATIONS
from pg_cluster import TEST_PASSWORD as PASSWORD
from pg_cluster import PgCluster, pg_cluster


def _state(event_id: str, level: Level) -> EventState:
    return EventState(event_id, "m", "d", Time(1), Duration(2), level)


def test_migrations_mirror_sqlites_step_for_step() -> None:
    assert len(MIGRATIONS) == SCHEMA_VERSION


def test_password_never_in_repr_or_errors(postgres: PgCluster) -> None:
    url = postgres.database(password=PASSWORD)
    with PostgresStore(url) as store:
        assert PASSWORD not in repr(store)
        assert ":***@" in repr(store)
    # nothing listens on port 1: the error names the URL without the password
    dead = f"postgresql://leyden:{PASSWORD}@127.0.0.1:1/db?password={PASSWORD}"
    with pytest.raises(StoreError) as caught:
        PostgresStore(dead, connect_timeout=2)
    assert PASSWORD not in str(caught.value)
    assert str(caught.value).startswith("postgresql://leyden:***@127.0.0.1:1/db?password=***")
    assert "cannot connect: connection failed" in str(caught.value)


def test_a_database_of_a_newer_leyden_is_refused(postgres: PgCluster) -> None:
    url = postgres.database()
    with PostgresStore(url) as store:
        store._write("bump", lambda c: c.execute("UPDATE schema_version SET version = 99"))
    with pytest.raises(StoreError, match=r"newer Leyden.*99"):
        PostgresStore(url)


def test_a_second_server_on_the_database_is_refused(postgres: PgCluster) -> None:
    url = postgres.database(password=PASSWORD)
    with PostgresStore(url):
        with pytest.raises(StoreError) as caught:
            PostgresStore(url, lock_wait=0.5)
        assert "in use by another Leyden server" in str(caught.value)
        assert PASSWORD not in str(caught.value)
    PostgresStore(url).close()  # free again once the first is closed


def test_servers_starting_together_migrate_once(postgres: PgCluster) -> None:
    """Readers that do not hold the database (``exclusive=False``) start together on a
    fresh database: the migrations run once, under their lock, and all see the schema."""
    url = postgres.database()
    opened: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(PostgresStore(url, exclusive=False))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    try:
        assert [s.schema_version() for s in opened] == [SCHEMA_VERSION] * 3
    finally:
        for s in opened:
            s.close()


def test_topic_states_are_written_behind_in_order(postgres: PgCluster) -> None:
    url = postgres.database()
    with PostgresStore(url) as writer, PostgresStore(url, exclusive=False) as other:
        for i in range(50):
            writer.save_event("t", _state(f"e{i:02}", Level.CRITICAL))
        writer.delete_event("t", "e00")
        writer.save_event("t", _state("e01", Level.OK))  # deletes
        writer.delete_topic("u")
        assert writer.wait_written(timeout=60)
        rows = other._read("check", "SELECT event_id FROM topic_events ORDER BY event_id")
        assert [r[0] for r in rows] == [f"e{i:02}" for i in range(2, 50)]


def test_writes_queued_at_close_are_committed(postgres: PgCluster) -> None:
    url = postgres.database()
    store = PostgresStore(url)
    with store.unit_of_work():
        for i in range(20):
            store.save_event("t", _state(f"e{i:02}", Level.WARNING))
    store.close()
    with PostgresStore(url) as again:
        assert len(again.load_topic("t")) == 20


def test_other_writes_are_committed_before_they_return(postgres: PgCluster) -> None:
    url = postgres.database()
    with PostgresStore(url) as a, PostgresStore(url, exclusive=False) as b:
        a.put_task(TaskRecord(id="x", type="stream", dbrps=(), tickscript="s"))
        task = b.get_task("x")
        assert task is not None and task.id == "x"


def test_writes_behind_wait_out_a_database_restart(caplog: pytest.LogCaptureFixture) -> None:
    """The database goes away: saving a state still returns at once, the writer logs and
    retries (the password nowhere), and commits once the database is back."""
    try:
        own = pg_cluster()  # a cluster of its own: this test stops it
        cluster = own.__enter__()
    except LookupError as exc:
        pytest.skip(str(exc))
    try:
        url = cluster.database(password=PASSWORD)
        with PostgresStore(url, retry_cap=0.2) as store:
            store.save_event("t", _state("a", Level.CRITICAL))
            assert store.wait_written(timeout=60)
            cluster.stop_server()
            store.save_event("t", _state("b", Level.WARNING))  # written behind: no wait
            assert list(store.load_topic("t")) == ["a", "b"]
            deadline = time.monotonic() + 60
            while "failed to save topic states" not in caplog.text:
                assert time.monotonic() < deadline, "the writer never reported the failure"
                time.sleep(0.05)
            cluster.start_server()
            assert store.wait_written(timeout=60)
        with PostgresStore(url) as again:
            assert list(again.load_topic("t")) == ["a", "b"]
        assert PASSWORD not in caplog.text
    finally:
        own.__exit__(None, None, None)
