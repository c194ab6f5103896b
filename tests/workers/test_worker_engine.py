"""The engine worker's side, in-process: commands in, answers and alert effects out; and the
pieces of the wire (frames, slices, line numbers, placement)."""

from __future__ import annotations

import io
import pickle

import pytest

from leyden.engine.services import AlertNodeOptions
from leyden.lineprotocol import LineError
from leyden.model.alert import Event, EventData
from leyden.tasks.runner import build
from leyden.tick.errors import TickError
from leyden.workers.pool import SLICE_LINES, _slices, runs_in_process, shifted
from leyden.workers.protocol import encode, read_frame_sync, write_frame_sync
from leyden.workers.worker import WorkerEngine

ALERT = """stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .crit(lambda: "idle" < 10)
    .discord()
"""


def engine() -> WorkerEngine:
    return WorkerEngine(
        default_retention_policy="autogen",
        hostname="h",
        alert_options=AlertNodeOptions(),
        httppost_endpoints={},
    )


def test_an_alert_node_registers_and_its_events_come_back_with_the_write() -> None:
    e = engine()
    registered = e.do_start("t", ALERT, {}, [("db", "autogen")], True)
    assert [(task, node) for task, node, _ in registered] == [("t", "alert2")]
    assert registered[0][2]["handlers"][0].kind == "discord"
    assert e.alerts.sinks[("t", "alert2")].state_changes_only is True
    e.do_restore("t", {"alert2": (True, {})})
    accepted, errors, routed, names = e.do_write(
        "db", "", "s", 0, b"cpu,host=a idle=5 1\ncpu,host=b idle=50 2"
    )
    assert (accepted, errors, routed, names) == (2, [], 2, {"cpu": 2})
    effects = e.alerts.take_effects()
    assert [(op, task, node) for op, task, node, _ in effects] == [("publish", "t", "alert2")]
    event = effects[0][3]
    assert event.state.level.name == "CRITICAL" and event.data.tags["host"] == "a"
    stats, dot, labelled = e.do_stats("t")
    assert stats["node-stats"]["alert2"]["crits_triggered"] == 1
    assert "digraph t" in dot and "xlabel" in labelled
    e.do_stop("t", True)
    assert e.alerts.take_effects() == [("close", "t", "alert2", ""), ("delete", "t", "alert2")]
    assert e.running == {}


def test_events_nobody_reads_stay_in_the_worker_and_stored_states_restore() -> None:
    e = engine()
    e.do_start("t", ALERT, {}, [("db", "autogen")], False)
    e.do_write("db", "autogen", "s", 0, b"cpu,host=a idle=5 1")
    critical = e.alerts.take_effects()[0][3].state
    e.do_stop("t", False)
    e.alerts.take_effects()
    # started again: the stored CRITICAL is restored, so the same level raises no new change
    e.do_start("t", ALERT, {}, [("db", "autogen")], False)
    e.do_restore("t", {"alert2": (False, {critical.id: critical})})
    e.do_write("db", "autogen", "s", 0, b"cpu,host=a idle=50 2")
    assert e.alerts.take_effects() == []  # not wanted: nothing shipped
    assert e.do_stats("t")[0]["node-stats"]["alert2"]["oks_triggered"] == 1  # a recovery


def test_a_worker_alert_node_builds_no_event_the_server_would_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    e = engine()
    e.do_start("t", ALERT, {}, [("db", "autogen")], False)
    e.do_restore("t", {"alert2": (False, {})})
    node = e.running["t"].task.nodes["alert2"]
    built: list[object] = []
    real = node._event
    monkeypatch.setattr(node, "_event", lambda *a: built.append(a) or real(*a))
    e.do_write("db", "autogen", "s", 0, b"cpu,host=a idle=5 1")
    assert built == [] and e.alerts.take_effects() == []
    assert e.do_stats("t")[0]["node-stats"]["alert2"]["crits_triggered"] == 1
    e.do_restore("t", {"alert2": (True, {})})  # now the server reads them: built and shipped
    e.do_write("db", "autogen", "s", 0, b"cpu,host=b idle=5 2")
    assert len(built) == 1 and [op for op, *_ in e.alerts.take_effects()] == ["publish"]


def test_a_task_that_does_not_build_is_an_error_and_leaves_nothing() -> None:
    e = engine()
    with pytest.raises(TickError, match="nosuchnode"):
        e.do_start("t", "stream|from().measurement('cpu')|nosuchnode()", {}, [], False)
    assert e.running == {}


def test_frames_carry_events_with_their_result_built() -> None:
    data = EventData("cpu", "t", "", "g", {"host": "a"}, {"v": 1.0}, make_result=lambda: {"x": 1})
    event = Event("topic", None, data)  # type: ignore[arg-type]
    stream = io.BytesIO()
    write_frame_sync(stream, ("ok", [event], []))
    write_frame_sync(stream, ("close",))
    stream.seek(0)
    status, (got,), effects = read_frame_sync(stream)
    assert (status, effects) == ("ok", [])
    assert got.data.result == {"x": 1} and got.data.tags == {"host": "a"}
    assert read_frame_sync(stream) == ("close",)
    assert read_frame_sync(stream) is None
    assert pickle.loads(encode(42)[4:]) == 42


def test_bodies_are_cut_between_lines_and_errors_numbered_as_in_the_body() -> None:
    body = b"\n".join(b"cpu v=%d" % i for i in range(SLICE_LINES * 2 + 50))
    slices = _slices(body)
    assert [offset for offset, _ in slices] == [0, SLICE_LINES, SLICE_LINES * 2]
    assert b"\n".join(part for _, part in slices) == body
    assert _slices(b'log msg="a\nb"\n' + body) == [(0, b'log msg="a\nb"\n' + body)]
    error = LineError(3, 5, 'line 3: invalid number "x" (column 5)', "cpu v=x")
    assert shifted(error, 200) == LineError(
        203, 5, 'line 203: invalid number "x" (column 5)', "cpu v=x"
    )


def test_what_stays_in_the_server_process() -> None:
    def placed_here(script: str) -> bool:
        return runs_in_process(build(script, filename="t"))

    assert not placed_here(ALERT)
    assert placed_here(ALERT.replace(".discord()", ".category('c')"))
    assert placed_here(ALERT.replace(".discord()", ".inhibit('c', 'host')"))
    assert placed_here("stream|from().measurement('cpu')|httpOut('x')")
    assert placed_here("batch|query('SELECT v FROM db.rp.m').period(1m).every(1m)|log()")
