"""Task templates in the SQLite store: saved, renamed, deleted with their task associations,
and an older file gaining their tables (``leyden.store``, migration 5)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from leyden.model.records import TaskRecord, TemplateRecord
from leyden.store import SCHEMA_VERSION, Store

TEMPLATE = TemplateRecord(
    id="cpu_tpl",
    type="stream",
    tickscript="var crit float\nstream\n    |from()\n        .measurement('cpu')\n",
    created=1_700_000_000_000_000_001,
    modified=1_700_000_000_000_000_002,
)


def test_templates_survive_reopen_sorted_by_id(tmp_path: Path) -> None:
    db = tmp_path / "leyden.db"
    with Store(db) as store:
        store.put_template(TEMPLATE)
        store.put_template(TemplateRecord("a_tpl", "batch", "batch|query('q')", 1, 2))
        store.associate_task("cpu_tpl", "t2")
        store.associate_task("cpu_tpl", "t1")
        store.associate_task("cpu_tpl", "t1")  # twice is once
    with Store(db) as store:
        assert store.get_template("cpu_tpl") == TEMPLATE
        assert [t.id for t in store.list_templates()] == ["a_tpl", "cpu_tpl"]
        assert store.template_tasks("cpu_tpl") == ["t1", "t2"]
        assert store.get_template("missing") is None


def test_rename_and_delete_forget_the_associations(tmp_path: Path) -> None:
    with Store(tmp_path / "leyden.db") as store:
        store.put_template(TEMPLATE)
        store.associate_task("cpu_tpl", "t1")
        renamed = TemplateRecord("new_tpl", "stream", TEMPLATE.tickscript, 1, 3)
        store.put_template(renamed, replaces="cpu_tpl")
        assert store.get_template("cpu_tpl") is None
        assert store.get_template("new_tpl") == renamed
        assert store.template_tasks("cpu_tpl") == []
        store.associate_task("new_tpl", "t1")
        store.disassociate_task("new_tpl", "t9")  # not there: nothing happens
        assert store.template_tasks("new_tpl") == ["t1"]
        assert store.delete_template("new_tpl") is True
        assert store.template_tasks("new_tpl") == []
        assert store.delete_template("new_tpl") is False


def test_a_version_5_file_gains_the_template_tables_and_keeps_its_tasks(tmp_path: Path) -> None:
    db = tmp_path / "leyden.db"
    task = TaskRecord(id="t", type="stream", dbrps=(("db", "rp"),), tickscript="stream|from()")
    with Store(db) as store:
        store.put_task(task)
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE templates")
    conn.execute("DROP TABLE template_tasks")
    conn.execute("UPDATE schema_version SET version = 5")
    conn.commit()
    conn.close()
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.get_task("t") == task
        assert store.list_templates() == []
    conn = sqlite3.connect(db)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(templates)")]
    conn.close()
    assert columns == ["id", "type", "tickscript", "created", "modified"]
