"""The SQLite store: data survives reopening and abrupt death; bad files give clear errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leyden.alerting.topics import TopicStore
from leyden.go.types import Duration, Time
from leyden.model.alert import EventState, Level
from leyden.model.records import HandlerRecord, OverrideRecord, TaskRecord
from leyden.store import SCHEMA_VERSION, Store, StoreError

TASK = TaskRecord(
    id="cpu_alert",
    type="stream",
    dbrps=(("telegraf", "autogen"), ("telegraf", "")),
    tickscript="stream\n    |from()\n        .measurement('cpu')\n",
    vars={"crit": {"type": "float", "value": 80.5, "description": "é"}},
    status="enabled",
    created=1_700_000_000_000_000_001,
    modified=1_700_000_000_000_000_002,
    last_enabled=1_700_000_000_000_000_003,
    error="",
)
HANDLER = HandlerRecord(
    topic="cpu",
    id="discord-cpu",
    kind="discord",
    options={"workspace": "ops", "embed-title": "{{ .Level }}"},
    match="changed()",
)


def _state(event_id: str, level: Level, time: int = 10) -> EventState:
    return EventState(
        id=event_id,
        message=f"{event_id} is {level}",
        details="<b>d</b>",
        time=Time(time),
        duration=Duration(60_000_000_000),
        level=level,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "leyden.db"


def test_creates_directory_and_schema(db: Path) -> None:
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.list_tasks() == []
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    conn.close()


def test_everything_survives_reopen(db: Path) -> None:
    store = Store(db)
    store.put_task(TASK)
    store.put_handler(HANDLER)
    store.save_event_state("cpu", _state("serverA", Level.CRITICAL))
    store.save_event_state("cpu", _state("serverB", Level.WARNING, time=20))
    store.put_override(OverrideRecord("discord", "", {"enabled": True, "url": "https://x/y"}))
    store.close()

    with Store(db) as store:
        assert store.get_task("cpu_alert") == TASK
        assert store.list_tasks() == [TASK]
        assert store.get_handler("cpu", "discord-cpu") == HANDLER
        assert store.list_handlers("cpu") == [HANDLER]
        states = store.load_event_states("cpu")
        assert list(states) == ["serverA", "serverB"]
        assert states["serverA"] == _state("serverA", Level.CRITICAL)
        assert isinstance(states["serverA"].time, Time)
        assert isinstance(states["serverA"].duration, Duration)
        assert store.event_state_topics() == ["cpu"]
        assert store.list_overrides() == [
            OverrideRecord("discord", "", {"enabled": True, "url": "https://x/y"})
        ]


def test_tasks_replace_rename_delete(db: Path) -> None:
    with Store(db) as store:
        store.put_task(TASK)
        store.put_task(TaskRecord(id="b", type="batch", dbrps=(), tickscript="batch"))
        changed = TaskRecord(
            id="cpu_alert",
            type="stream",
            dbrps=(("db", "rp"),),
            tickscript="x",
            status="disabled",
            error="boom",
        )
        store.put_task(changed)
        assert store.get_task("cpu_alert") == changed
        assert store.get_task("cpu_alert").last_enabled is None  # type: ignore[union-attr]
        renamed = TaskRecord(id="renamed", type="stream", dbrps=(), tickscript="y")
        store.put_task(renamed, replaces="cpu_alert")
        assert [t.id for t in store.list_tasks()] == ["b", "renamed"]
        assert store.delete_task("b") is True
        assert store.delete_task("b") is False
        assert store.get_task("b") is None


def test_handlers_by_topic_rename_delete(db: Path) -> None:
    with Store(db) as store:
        other = HandlerRecord(topic="mem", id="log", kind="log", options={"path": "/tmp/x"})
        store.put_handler(HANDLER)
        store.put_handler(other)
        assert store.list_handlers() == [HANDLER, other]
        assert store.list_handlers("nope") == []
        moved = HandlerRecord(topic="cpu", id="discord-2", kind="discord")
        store.put_handler(moved, replaces="discord-cpu")
        assert store.list_handlers("cpu") == [moved]
        assert store.delete_handler("cpu", "discord-2") is True
        assert store.delete_handler("cpu", "discord-2") is False
        assert store.get_handler("cpu", "discord-2") is None


def test_ok_deletes_event_state_as_kapacitor_does(db: Path) -> None:
    with Store(db) as store:
        store.save_event_state("cpu", _state("a", Level.CRITICAL))
        store.save_event_state("cpu", _state("b", Level.INFO))
        store.save_event_state("mem", _state("a", Level.WARNING))
        store.save_event_state("cpu", _state("a", Level.OK))
        assert list(store.load_event_states("cpu")) == ["b"]
        store.save_event_state("cpu", _state("b", Level.WARNING, time=99))
        assert store.load_event_states("cpu")["b"].time == 99
        store.delete_topic_states("cpu")
        assert store.load_event_states("cpu") == {}
        assert store.event_state_topics() == ["mem"]


def test_store_is_a_topic_store(db: Path) -> None:
    with Store(db) as store:
        topic_store: TopicStore = store
        topic_store.save_event("t", _state("x", Level.CRITICAL))
        assert list(topic_store.load_topic("t")) == ["x"]
        topic_store.delete_event("t", "x")
        assert topic_store.load_topic("t") == {}
        topic_store.save_event("t", _state("y", Level.CRITICAL))
        topic_store.delete_topic("t")
        assert topic_store.load_topic("t") == {}


def test_overrides_keep_first_position(db: Path) -> None:
    with Store(db) as store:
        store.put_override(OverrideRecord("discord", "a", {"workspace": "a"}, create=True))
        store.put_override(OverrideRecord("discord", "", {"username": "x"}))
        store.put_override(OverrideRecord("httppost", "e", {"url": "u"}))
        store.put_override(
            OverrideRecord("discord", "a", {"workspace": "a", "enabled": True}, True)
        )
        assert [(o.section, o.element) for o in store.list_overrides()] == [
            ("discord", "a"),
            ("discord", ""),
            ("httppost", "e"),
        ]
        assert store.list_overrides("discord")[0].options == {"workspace": "a", "enabled": True}
        assert store.get_override("discord", "a") == OverrideRecord(
            "discord", "a", {"workspace": "a", "enabled": True}, create=True
        )
        assert store.delete_override("discord", "a") is True
        assert store.delete_override("discord", "a") is False
        assert store.get_override("discord", "a") is None


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
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (0)")
    conn.commit()
    conn.close()
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        store.put_task(TASK)


def test_closed_store_says_so(db: Path) -> None:
    store = Store(db)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="the store is closed"):
        store.list_tasks()


def test_unreadable_json_names_the_row(db: Path) -> None:
    with Store(db) as store:
        store.put_handler(HANDLER)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE topic_handlers SET options = '{nope'")
    conn.commit()
    conn.close()
    with Store(db) as store, pytest.raises(StoreError) as info:
        store.list_handlers()
    assert str(info.value) == (
        f"{db}: handler 'discord-cpu' of topic 'cpu': stored JSON is unreadable"
    )


def test_memory_store(tmp_path: Path) -> None:
    with Store(":memory:") as store:
        store.put_task(TASK)
        assert store.get_task(TASK.id) == TASK


def test_update_overrides_is_one_transaction(db: Path) -> None:
    with Store(db) as store:
        store.put_override(OverrideRecord("discord", "a", {"workspace": "a"}, create=True))
        store.update_overrides(
            [OverrideRecord("discord", "b", {"username": "x"})], [("discord", "a")]
        )
        assert [o.element for o in store.list_overrides()] == ["b"]
        bad = OverrideRecord("discord", "c", {"bad": float("nan")})  # not JSON: refused
        with pytest.raises(ValueError):
            store.update_overrides([bad], [("discord", "b")])
        assert [o.element for o in store.list_overrides()] == ["b"]


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
            store.save_event_state("cpu", _state("a", Level.CRITICAL))
            with store.unit_of_work():  # nested: joins, commits nothing by itself
                store.put_handler(HANDLER)
            assert conn.in_transaction
        assert not conn.in_transaction
        with pytest.raises(KeyError), store.unit_of_work():
            store.delete_task(TASK.id)
            store.save_event_state("cpu", _state("b", Level.CRITICAL))
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
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE breakers")
    conn.execute("DROP TABLE incident_messages")  # later steps than the breakers'
    conn.execute("DROP TABLE server_ids")
    conn.execute("DROP TABLE templates")
    conn.execute("DROP TABLE template_tasks")
    conn.execute("UPDATE schema_version SET version = 2")
    conn.commit()
    conn.close()
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
    conn = sqlite3.connect(db)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(breakers)")]
    conn.close()
    assert columns == ["destination", "kind", "fingerprint", "status", "code", "reason", "opened"]


def test_a_version_3_file_gains_the_incident_messages_table(db: Path) -> None:
    """Discord's edit-in-place / forum-thread incident messages (issue 12) are kept across
    restarts: a breaker-era file gains their table, without any webhook URL in it."""
    with Store(db) as store:
        pass
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE incident_messages")
    conn.execute("DROP TABLE server_ids")  # later steps
    conn.execute("DROP TABLE templates")
    conn.execute("DROP TABLE template_tasks")
    conn.execute("UPDATE schema_version SET version = 3")
    conn.commit()
    conn.close()
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.get_incident("discord x", "cpu:nil") is None
    conn = sqlite3.connect(db)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(incident_messages)")]
    conn.close()
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
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE server_ids")
    conn.execute("DROP TABLE templates")  # a later step
    conn.execute("DROP TABLE template_tasks")
    conn.execute("UPDATE schema_version SET version = 4")
    conn.commit()
    conn.close()
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        fresh = store.server_id("cluster")
    with Store(db) as store:
        assert store.server_id("cluster") == fresh
