"""``Store.backup``: a consistent SQLite copy taken from a thread while the owner keeps
committing (``GET /kapacitor/v1/storage/backup``)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from leyden.model.records import TaskRecord
from leyden.store import Store


def _task(i: int) -> TaskRecord:
    return TaskRecord(id=f"t{i:05}", type="stream", dbrps=(), tickscript="s" * 2000)


def test_backup_while_transactions_commit_is_whole(tmp_path: Path) -> None:
    """A page at a time from a thread, while this thread commits tasks: the copy opens, passes
    SQLite's integrity check, and holds every task committed before it started, each whole."""
    with Store(tmp_path / "leyden.db") as store:
        for i in range(300):
            store.put_task(_task(i))
        target = tmp_path / "copy.db"
        failed: list[BaseException] = []

        def copy() -> None:
            try:
                store.backup(target, pages=1)
            except BaseException as exc:  # reported below
                failed.append(exc)

        worker = threading.Thread(target=copy)
        worker.start()
        for i in range(300, 350):  # commits go on during the copy (some, or all, of them)
            store.put_task(_task(i))
        worker.join(120)
        assert not worker.is_alive()
        assert failed == []
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute("SELECT id, length(tickscript) FROM tasks ORDER BY id").fetchall()
    ids = [r[0] for r in rows]
    assert ids[:300] == [f"t{i:05}" for i in range(300)]
    assert ids == sorted(ids) and all(length == 2000 for _, length in rows)
    with Store(target) as copy_store:  # the copy is a store Leyden opens (restore)
        assert len(copy_store.list_tasks()) == len(rows)


def test_backup_of_a_memory_store(tmp_path: Path) -> None:
    with Store(":memory:") as store:
        store.put_task(_task(1))
        store.backup(tmp_path / "copy.db")
    with closing(sqlite3.connect(tmp_path / "copy.db")) as conn:
        assert conn.execute("SELECT id FROM tasks").fetchall() == [("t00001",)]


class _Abandoned(Exception):
    pass


def test_a_transaction_open_when_the_backup_starts_is_not_copied_half(tmp_path: Path) -> None:
    """The backup waits for the lock every transaction holds: a row inserted by a
    transaction that is then rolled back never reaches the copy."""
    store = Store(tmp_path / "leyden.db")
    target = tmp_path / "copy.db"
    copier = threading.Thread(target=store.backup, args=(target,), kwargs={"pages": 1})
    with pytest.raises(_Abandoned), store.unit_of_work() as conn:
        conn.execute("INSERT INTO server_ids (name, value) VALUES ('half', 'done')")
        copier.start()
        copier.join(timeout=0.2)
        assert copier.is_alive()  # blocked behind the open transaction
        raise _Abandoned  # rolled back
    copier.join(timeout=30)
    store.close()
    with closing(sqlite3.connect(target)) as copy:
        assert copy.execute("SELECT count(*) FROM server_ids WHERE name = 'half'").fetchone() == (
            0,
        )
