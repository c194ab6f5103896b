"""What only the SQLite store does (:mod:`leyden.store.sqlite`): the file, its lock and WAL
mode, abrupt death (``kill -9``), damaged files, migrating files of older schema versions.
What every store answers alike is tested once for both in ``test_repositories.py``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from store_records import HANDLER, TASK, state

from leyden.model.alert import Level
from leyden.model.records import TaskRecord
from leyden.store import SCHEMA_VERSION, Store, StoreError


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "leyden.db"


def _execute(db: Path, *statements: str) -> None:
    """Run ``statements`` on the file behind the store's back and commit them (to make a
    file of an older schema version, or a damaged row)."""
    conn = sqlite3.connect(db)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def _columns(db: Path, table: str) -> list[str]:
    conn = sqlite3.connect(db)
    columns = [str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")]
    conn.close()
    return columns


def test_creates_directory_and_schema(db: Path) -> None:
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.list_tasks() == []
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    conn.close()


def _run_child(db: Path, body: str) -> int:
    """Run ``body`` in a fresh interpreter that has ``store`` open on ``db``; return its code."""
    script = "import os, signal\nfrom leyden.store import *\nfrom leyden.model.alert import *\nfrom leyden.model.records import *\n"
    script += f"store = Store({str(db)!r})\n" + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    return done.returncode


def test_data_committed_before_sigkill_survives(db: Path) -> None:
    code = _run_child(
        db,
        """
        store.put_task(TaskRecord(id="t1", type="stream", dbrps=(("db", "rp"),), tickscript="s"))
        store.put_handler(HandlerRecord(topic="cpu", id="h", kind="log"))
        os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    assert code == -9
    with Store(db) as store:  # the dead process's lock is gone with it
        assert [t.id for t in store.list_tasks()] == ["t1"]
        assert [h.id for h in store.list_handlers()] == ["h"]


def test_transaction_cut_by_sigkill_leaves_nothing(db: Path) -> None:
    code = _run_child(
        db,
        """
        store.put_task(TaskRecord(id="before", type="stream", dbrps=(), tickscript="s"))
        with store._transaction() as conn:
            conn.execute("DELETE FROM tasks")
            conn.execute(
                "INSERT INTO tasks VALUES ('half','stream','[]','s','{}','disabled','',0,0,NULL,'')"
            )
            os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    assert code == -9
    with Store(db) as store:
        assert [t.id for t in store.list_tasks()] == ["before"]


def test_second_server_on_the_same_file_is_refused(db: Path) -> None:
    with Store(db), pytest.raises(StoreError) as info:
        Store(db, busy_timeout=0)
    message = str(info.value)
    assert message.startswith(f"{db}: ")
    assert "locked by another process" in message


def test_garbage_file_is_not_a_database(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is a TOML file, not a database\n" * 200)
    with pytest.raises(StoreError) as info:
        Store(db)
    assert str(info.value) == (
        f"{db}: cannot open the database: not a SQLite database "
        "(is [storage] sqlite pointing at the right file?)"
    )


def test_damaged_pages_are_reported_as_corrupt(db: Path) -> None:
    with Store(db) as store:
        for i in range(200):
            store.put_task(TaskRecord(id=f"t{i}", type="stream", dbrps=(), tickscript="s" * 500))
    # Checkpointed on close; now overwrite everything after the header page with garbage.
    data = bytearray(db.read_bytes())
    data[4096:] = b"\xa5" * (len(data) - 4096)
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError) as info, Store(db) as store:
        store.list_tasks()
    assert str(info.value).startswith(f"{db}: ")
    assert "corrupt" in str(info.value) or "not a SQLite database" in str(info.value)


def test_directory_in_place_of_the_file(db: Path) -> None:
    db.mkdir(parents=True)
    with pytest.raises(StoreError, match="is a directory"):
        Store(db)


def test_newer_schema_is_refused(db: Path) -> None:
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 5,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="written by a newer Leyden"):
        Store(db)


def test_old_schema_is_migrated_forward(db: Path) -> None:
    db.parent.mkdir(parents=True)
    _execute(
        db,
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        "INSERT INTO schema_version VALUES (0)",
    )
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        store.put_task(TASK)


def test_unreadable_json_names_the_row(db: Path) -> None:
    with Store(db) as store:
        store.put_handler(HANDLER)
    _execute(db, "UPDATE topic_handlers SET options = '{nope'")
    with Store(db) as store, pytest.raises(StoreError) as info:
        store.list_handlers()
    assert str(info.value) == (
        f"{db}: handler 'discord-cpu' of topic 'cpu': stored JSON is unreadable"
    )


def test_memory_store(tmp_path: Path) -> None:
    with Store(":memory:") as store:
        store.put_task(TASK)
        assert store.get_task(TASK.id) == TASK


def test_version_1_file_gains_the_outbox_and_keeps_its_data(db: Path) -> None:
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute(
        "CREATE TABLE tasks (id TEXT PRIMARY KEY, type TEXT NOT NULL, dbrps TEXT NOT NULL, "
        "tickscript TEXT NOT NULL, vars TEXT NOT NULL, status TEXT NOT NULL, "
        "template_id TEXT NOT NULL, created INTEGER NOT NULL, modified INTEGER NOT NULL, "
        "last_enabled INTEGER, error TEXT NOT NULL)"
    )
    conn.execute("INSERT INTO tasks VALUES ('t','stream','[]','s','{}','enabled','',1,2,NULL,'')")
    conn.commit()
    conn.close()
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert [t.id for t in store.list_tasks()] == ["t"]
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    conn.close()
    assert "outbox" in tables
    assert {"outbox_ready", "outbox_order"} <= indexes


def test_unit_of_work_commits_everything_inside_at_once(db: Path) -> None:
    with Store(db) as store:
        with store.unit_of_work() as conn:
            store.put_task(TASK)
            store.save_event_state("cpu", state("a", Level.CRITICAL))
            with store.unit_of_work():  # nested: joins, commits nothing by itself
                store.put_handler(HANDLER)
            assert conn.in_transaction
        assert not conn.in_transaction
        with pytest.raises(KeyError), store.unit_of_work():
            store.delete_task(TASK.id)
            store.save_event_state("cpu", state("b", Level.CRITICAL))
            raise KeyError("the turn failed")
        assert store.get_task(TASK.id) == TASK
        assert list(store.load_event_states("cpu")) == ["a"]
        assert store.list_handlers() == [HANDLER]
        store.put_task(TaskRecord(id="after", type="stream", dbrps=(), tickscript="s"))
        assert len(store.list_tasks()) == 2  # a plain write after a rollback commits


def test_unit_of_work_errors_are_store_errors(db: Path) -> None:
    with Store(db) as store:
        with pytest.raises(StoreError) as info, store.unit_of_work("queue deliveries") as conn:
            conn.execute("INSERT INTO nowhere VALUES (1)")
        assert str(info.value) == f"{db}: queue deliveries: no such table: nowhere"
        store.put_task(TASK)  # the failed unit left no transaction open
        assert store.get_task(TASK.id) == TASK


def test_unit_of_work_cut_by_sigkill_leaves_nothing(db: Path) -> None:
    code = _run_child(
        db,
        """
        store.put_task(TaskRecord(id="before", type="stream", dbrps=(), tickscript="s"))
        with store.unit_of_work():
            store.put_task(TaskRecord(id="half", type="stream", dbrps=(), tickscript="s"))
            store.save_event_state("cpu", EventState("x", "", "", 0, 0, Level.CRITICAL))
            os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    assert code == -9
    with Store(db) as store:
        assert [t.id for t in store.list_tasks()] == ["before"]
        assert store.load_event_states("cpu") == {}


def test_a_version_2_file_gains_the_breakers_table(db: Path) -> None:
    """Open delivery breakers (a broken webhook) are kept across restarts: an outbox-era file
    gains their table, without the webhook URL in it (only a digest)."""
    with Store(db) as store:
        pass
    _execute(
        db,
        "DROP TABLE breakers",
        "DROP TABLE incident_messages",  # later steps than the breakers'
        "DROP TABLE server_ids",
        "DROP TABLE templates",
        "DROP TABLE template_tasks",
        "UPDATE schema_version SET version = 2",
    )
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
    columns = _columns(db, "breakers")
    assert columns == ["destination", "kind", "fingerprint", "status", "code", "reason", "opened"]


def test_a_version_3_file_gains_the_incident_messages_table(db: Path) -> None:
    """Discord's edit-in-place / forum-thread incident messages (issue 12) are kept across
    restarts: a breaker-era file gains their table, without any webhook URL in it."""
    with Store(db) as store:
        pass
    _execute(
        db,
        "DROP TABLE incident_messages",
        "DROP TABLE server_ids",  # later steps
        "DROP TABLE templates",
        "DROP TABLE template_tasks",
        "UPDATE schema_version SET version = 3",
    )
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.get_incident("discord x", "cpu:nil") is None
    columns = _columns(db, "incident_messages")
    assert columns == [
        "scope",
        "alert_id",
        "message_id",
        "channel_id",
        "thread_id",
        "guild_id",
        "level",
        "peak",
        "pinged",
        "started",
    ]


def test_server_ids_are_made_once_and_kept(db: Path) -> None:
    """The cluster and server IDs name Leyden's InfluxDB subscriptions (issue 13): a restart
    must find the same ones, and a file from before them gains their table."""
    with Store(db) as store:
        cluster = store.server_id("cluster")
        assert cluster == store.server_id("cluster") != store.server_id("server")
    _execute(
        db,
        "DROP TABLE server_ids",
        "DROP TABLE templates",  # a later step
        "DROP TABLE template_tasks",
        "UPDATE schema_version SET version = 4",
    )
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        fresh = store.server_id("cluster")
    with Store(db) as store:
        assert store.server_id("cluster") == fresh
