"""One suite for every store (issue 17): each test runs against a SQLite file and a
database on a private PostgreSQL cluster (``open_store`` in ``conftest.py``), so both answer
every repository question the same way.  Reopening the store checks what survives."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from leyden.alerting.topics import TopicStore
from leyden.go.types import Duration, Time
from leyden.model.alert import EventState, Level
from leyden.model.records import (
    HandlerRecord,
    IncidentMessage,
    OverrideRecord,
    TaskRecord,
    TemplateRecord,
)
from leyden.store import SCHEMA_VERSION, StateStore, StoreError

#: opens the store under test (again, on the same database, at each call)
OpenStore = Callable[[], StateStore]

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
INCIDENT = IncidentMessage(
    scope="discord:abc",
    alert_id="cpu:host=a",
    message_id="111",
    channel_id="222",
    thread_id="",
    guild_id="333",
    level=3,
    peak=3,
    pinged=True,
    started=1_700_000_000_000_000_000,
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


def test_fresh_database_gets_the_current_schema(open_store: OpenStore) -> None:
    store = open_store()
    assert store.schema_version() == SCHEMA_VERSION
    assert store.list_tasks() == []
    store.close()
    assert open_store().schema_version() == SCHEMA_VERSION  # reopening migrates nothing


def test_everything_survives_reopen(open_store: OpenStore) -> None:
    store = open_store()
    store.put_task(TASK)
    store.put_handler(HANDLER)
    store.save_event("cpu", _state("serverA", Level.CRITICAL))
    store.save_event("cpu", _state("serverB", Level.WARNING, time=20))
    store.put_override(OverrideRecord("discord", "", {"enabled": True, "url": "https://x/y"}))
    store.put_template(TemplateRecord("tpl", "stream", "var x = 1", 5, 6))
    store.associate_task("tpl", "cpu_alert")
    store.put_incident(INCIDENT)
    cluster = store.server_id("cluster")
    store.close()

    store = open_store()
    assert store.get_task("cpu_alert") == TASK
    assert store.list_tasks() == [TASK]
    assert store.get_handler("cpu", "discord-cpu") == HANDLER
    assert store.list_handlers("cpu") == [HANDLER]
    states = store.load_topic("cpu")
    assert list(states) == ["serverA", "serverB"]
    assert states["serverA"] == _state("serverA", Level.CRITICAL)
    assert isinstance(states["serverA"].time, Time)
    assert isinstance(states["serverA"].duration, Duration)
    assert store.event_state_topics() == ["cpu"]
    assert store.list_overrides() == [
        OverrideRecord("discord", "", {"enabled": True, "url": "https://x/y"})
    ]
    assert store.list_templates() == [TemplateRecord("tpl", "stream", "var x = 1", 5, 6)]
    assert store.template_tasks("tpl") == ["cpu_alert"]
    assert store.get_incident("discord:abc", "cpu:host=a") == INCIDENT
    assert store.server_id("cluster") == cluster


def test_tasks_replace_rename_delete_sorted_by_bytes(open_store: OpenStore) -> None:
    store = open_store()
    store.put_task(TASK)
    store.put_task(TaskRecord(id="b", type="batch", dbrps=(), tickscript="batch"))
    store.put_task(TaskRecord(id="B", type="batch", dbrps=(), tickscript="batch"))
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
    renamed = TaskRecord(id="renamed", type="stream", dbrps=(), tickscript="y")
    store.put_task(renamed, replaces="cpu_alert")
    assert [t.id for t in store.list_tasks()] == ["B", "b", "renamed"]
    assert store.delete_task("b") is True
    assert store.delete_task("b") is False
    assert store.get_task("b") is None


def test_handlers_by_topic_rename_delete(open_store: OpenStore) -> None:
    store = open_store()
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


def test_ok_deletes_event_state_as_kapacitor_does(open_store: OpenStore) -> None:
    store = open_store()
    store.save_event("cpu", _state("a", Level.CRITICAL))
    store.save_event("cpu", _state("b", Level.INFO))
    store.save_event("mem", _state("a", Level.WARNING))
    store.save_event("cpu", _state("a", Level.OK))
    assert list(store.load_topic("cpu")) == ["b"]
    store.save_event("cpu", _state("b", Level.WARNING, time=99))
    assert store.load_topic("cpu")["b"].time == 99
    store.delete_topic("cpu")
    assert store.load_topic("cpu") == {}
    assert store.event_state_topics() == ["mem"]
    store.close()
    store = open_store()
    assert store.event_state_topics() == ["mem"]
    assert store.load_topic("mem") == {"a": _state("a", Level.WARNING)}


def test_store_is_a_topic_store(open_store: OpenStore) -> None:
    topic_store: TopicStore = open_store()
    topic_store.save_event("t", _state("x", Level.CRITICAL))
    assert list(topic_store.load_topic("t")) == ["x"]
    topic_store.delete_event("t", "x")
    assert topic_store.load_topic("t") == {}
    topic_store.save_event("t", _state("y", Level.CRITICAL))
    topic_store.delete_topic("t")
    assert topic_store.load_topic("t") == {}


def test_loaded_states_are_copies(open_store: OpenStore) -> None:
    store = open_store()
    store.save_event("t", _state("x", Level.CRITICAL))
    store.load_topic("t")["x"].message = "changed by a caller"
    assert store.load_topic("t")["x"].message == "x is CRITICAL"


def test_overrides_keep_first_position(open_store: OpenStore) -> None:
    store = open_store()
    store.put_override(OverrideRecord("discord", "a", {"workspace": "a"}, create=True))
    store.put_override(OverrideRecord("discord", "", {"username": "x"}))
    store.put_override(OverrideRecord("httppost", "e", {"url": "u"}))
    store.put_override(OverrideRecord("discord", "a", {"workspace": "a", "enabled": True}, True))
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


def test_update_overrides_deletes_then_puts(open_store: OpenStore) -> None:
    store = open_store()
    store.put_override(OverrideRecord("discord", "a", {"x": 1}, create=True))
    store.put_override(OverrideRecord("discord", "b", {"x": 2}, create=True))
    store.update_overrides(
        [OverrideRecord("discord", "c", {"x": 3}, create=True)], [("discord", "a")]
    )
    assert [o.element for o in store.list_overrides("discord")] == ["b", "c"]


def test_templates_rename_and_delete_forget_associations(open_store: OpenStore) -> None:
    store = open_store()
    store.put_template(TemplateRecord("t2", "batch", "b", 1, 1))
    store.put_template(TemplateRecord("t1", "stream", "a", 1, 1))
    assert [t.id for t in store.list_templates()] == ["t1", "t2"]
    store.associate_task("t1", "z")
    store.associate_task("t1", "a")
    store.associate_task("t1", "a")
    assert store.template_tasks("t1") == ["a", "z"]
    store.disassociate_task("t1", "z")
    assert store.template_tasks("t1") == ["a"]
    store.put_template(TemplateRecord("t3", "stream", "a", 1, 2), replaces="t1")
    assert store.get_template("t1") is None
    assert store.template_tasks("t1") == []
    assert store.get_template("t3") == TemplateRecord("t3", "stream", "a", 1, 2)
    store.associate_task("t3", "a")
    store.put_task(TaskRecord(id="a", type="stream", dbrps=(), tickscript="s"))
    assert store.delete_task("a") is True
    assert store.template_tasks("t3") == []
    assert store.delete_template("t3") is True
    assert store.delete_template("t3") is False


def test_incident_messages_replace_and_delete(open_store: OpenStore) -> None:
    store = open_store()
    store.put_incident(INCIDENT)
    edited = dataclasses.replace(INCIDENT, level=1, pinged=False)
    store.put_incident(edited)
    assert store.get_incident("discord:abc", "cpu:host=a") == edited
    assert store.get_incident("other", "cpu:host=a") is None
    assert store.delete_incident("discord:abc", "cpu:host=a") is True
    assert store.delete_incident("discord:abc", "cpu:host=a") is False


def test_server_ids_are_made_once(open_store: OpenStore) -> None:
    store = open_store()
    cluster = store.server_id("cluster")
    server = store.server_id("server")
    assert cluster != server
    assert store.server_id("cluster") == cluster


def test_closed_store_says_so(open_store: OpenStore) -> None:
    store = open_store()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.put_task(TASK)
    with pytest.raises(StoreError, match="closed"):
        store.list_tasks()


def test_unread_json_names_the_row(open_store: OpenStore) -> None:
    store = open_store()
    store.put_handler(HANDLER)
    raw = store._write(  # type: ignore[attr-defined]  # both stores have it
        "corrupt",
        lambda conn: conn.execute(
            "UPDATE topic_handlers SET options = 'not json' WHERE id = 'discord-cpu'"
        ),
    )
    del raw
    with pytest.raises(StoreError, match=r"handler 'discord-cpu' of topic 'cpu'.*unreadable"):
        store.list_handlers()


def test_unit_of_work_is_all_or_nothing(open_store: OpenStore) -> None:
    store = open_store()
    store.save_event("cpu", _state("kept", Level.CRITICAL))
    with pytest.raises(RuntimeError), store.unit_of_work():
        store.save_event("cpu", _state("a", Level.CRITICAL))
        store.delete_event("cpu", "kept")
        assert list(store.load_topic("cpu")) == ["a"]  # seen inside
        raise RuntimeError("cut")
    assert list(store.load_topic("cpu")) == ["kept"]
    with store.unit_of_work():
        store.save_event("cpu", _state("b", Level.WARNING))
        with store.unit_of_work():  # joins the outer one
            store.save_event("cpu", _state("c", Level.WARNING))
    store.close()
    assert list(open_store().load_topic("cpu")) == ["b", "c", "kept"]


def test_incident_writes_roll_back_with_a_unit_of_work(open_store: OpenStore) -> None:
    store = open_store()
    store.put_incident(INCIDENT)
    with pytest.raises(RuntimeError), store.unit_of_work():
        store.delete_incident("discord:abc", "cpu:host=a")
        store.put_incident(dataclasses.replace(INCIDENT, alert_id="other"))
        raise RuntimeError("cut")
    assert store.get_incident("discord:abc", "cpu:host=a") == INCIDENT
    assert store.get_incident("discord:abc", "other") is None
    store.close()
    store = open_store()
    assert store.get_incident("discord:abc", "cpu:host=a") == INCIDENT
    assert store.get_incident("discord:abc", "other") is None
