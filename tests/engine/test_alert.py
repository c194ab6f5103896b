"""The alert node: levels, history, emission rules, templates and augmentation (semantics §3)."""

from __future__ import annotations

from typing import Any

import pytest
from engine_support import context

from leyden.alerting.service import AlertService
from leyden.clock import SimulatedClock
from leyden.delivery.dispatcher import Dispatcher
from leyden.delivery.outbox import MemoryOutbox
from leyden.engine.model import Batch, BatchPoint, Dimensions, Point
from leyden.engine.node import Node, TaskError
from leyden.engine.nodes.alert import AlertNode
from leyden.engine.nodes.alert_state import percent_change, percent_change_chronological
from leyden.engine.services import AlertNodeOptions, TaskServices
from leyden.go.template import Template
from leyden.go.time import GO_ZERO_NS
from leyden.go.time import sub as go_sub
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventState, Inhibitor, Level
from leyden.tick.builder import build_pipeline
from leyden.tick.pipeline import DEFAULT_ID_TEMPLATE, DEFAULT_MESSAGE_TEMPLATE

S = 1_000_000_000
T0 = 31_536_000 * S  # 1971-01-01T00:00:00Z, the replay clock's zero
HOST = Dimensions(tag_names=("host",))
OK, INFO, WARNING, CRITICAL = Level.OK, Level.INFO, Level.WARNING, Level.CRITICAL


# --- a recording stand-in for the AlertService publisher contract --------------------------


class RecordingPublisher:
    def __init__(self, service: RecordingService, **registration: Any) -> None:
        self.service = service
        self.registration = registration
        self.events: list[Event] = []
        self.closed = False
        self.deleted = False
        self.state_changes_only = False

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def is_inhibited(self, category: str, tags: dict[str, str]) -> bool:
        return any(i.inhibits(category, tags) for i in self.service.inhibitors)

    def add_inhibitor(self, inh: Inhibitor) -> None:
        self.service.inhibitors.append(inh)

    def remove_inhibitor(self, inh: Inhibitor) -> None:
        self.service.inhibitors.remove(inh)

    def restore_event(self, id_: str) -> EventState | None:
        return self.service.stored.get(id_)

    def close(self) -> None:
        self.closed = True

    def delete(self) -> None:
        self.deleted = True


class RecordingService:
    def __init__(self) -> None:
        self.inhibitors: list[Inhibitor] = []
        self.stored: dict[str, EventState] = {}
        self.publishers: list[RecordingPublisher] = []
        self.force_sco = False

    def register_alert_node(self, **registration: Any) -> RecordingPublisher:
        pub = RecordingPublisher(self, **registration)
        pub.state_changes_only = self.force_sco
        self.publishers.append(pub)
        return pub


class Collector(Node):
    kind = "collector"

    def __init__(self) -> None:
        super().__init__(None, context("t", SimulatedClock()))
        self.points: list[Point] = []
        self.batches: list[Batch] = []

    def point(self, p: Point) -> None:
        self.points.append(p)

    def batch(self, b: Batch) -> None:
        self.batches.append(b)


def make_alert(
    props: str,
    *,
    group_by: str = ".groupBy('host')",
    service: RecordingService | None = None,
    options: AlertNodeOptions | None = None,
    task: str = "task1",
) -> tuple[AlertNode, RecordingPublisher, Collector]:
    script = f"stream|from().measurement('cpu'){group_by}|alert(){props}"
    pipeline = build_pipeline(script, filename="test.tick")
    spec = next(n for n in pipeline.nodes if n.kind == "alert")
    service = service or RecordingService()
    ctx = context(
        task,
        SimulatedClock(),
        hostname="leyden-host",
        alerts=service,
        alert_options=options or AlertNodeOptions(),
    )
    node = AlertNode(spec, ctx)
    out = Collector()
    node.children = [out]
    return node, service.publishers[-1], out


def pt(
    value: Any, sec: float = 0, host: str = "a", dims: Dimensions = HOST, **fields: Any
) -> Point:
    f = {} if value is None else {"value": value}
    f.update(fields)
    return Point("cpu", {"host": host, "type": "idle"}, f, T0 + int(sec * S), dims)


def feed(node: AlertNode, values: list[Any], **kw: Any) -> None:
    for i, v in enumerate(values):
        node.point(pt(v, i, **kw))


def levels(pub: RecordingPublisher) -> list[str]:
    return [str(e.state.level) for e in pub.events]


# --- level algorithm ------------------------------------------------------------------------

RESETS = (
    '.info(lambda: "value" > 60).infoReset(lambda: "value" < 50)'
    '.warn(lambda: "value" > 70).warnReset(lambda: "value" < 60)'
    '.crit(lambda: "value" > 80).critReset(lambda: "value" < 70)'
)
NO_RESETS = '.info(lambda: "value" > 60).warn(lambda: "value" > 70).crit(lambda: "value" > 80)'
CONFORMANCE_RESET_0 = (
    '.info(lambda: "value" > 40.0).infoReset(lambda: "value" < 10.0)'
    '.warn(lambda: "value" > 60.0).warnReset(lambda: "value" < 20.0)'
    '.crit(lambda: "value" > 80.0).critReset(lambda: "value" < 30.0)'
)


@pytest.mark.parametrize(
    ("props", "values", "expected"),
    [
        # the documented example: resets hold a level until the value falls below the reset
        (
            RESETS,
            [61, 73, 64, 85, 62, 56, 47],
            ["INFO", "WARNING", "WARNING", "CRITICAL", "INFO", "INFO", "OK"],
        ),
        # without resets the level follows the value, straight from CRITICAL to OK
        (
            NO_RESETS,
            [61, 73, 64, 85, 62, 56, 47],
            ["INFO", "WARNING", "INFO", "CRITICAL", "INFO", "OK"],
        ),
        (NO_RESETS, [85, 10], ["CRITICAL", "OK"]),
        # a level above the current one is always reachable; only the current level's reset is
        # consulted, so leaving CRITICAL at 65 lands on INFO without asking warnReset
        (RESETS, [85, 75, 65, 71, 69], ["CRITICAL", "CRITICAL", "INFO", "WARNING", "WARNING"]),
        # Kapacitor's TestStream_Alert_WithReset_0: resets far below the levels
        (
            CONFORMANCE_RESET_0,
            [45, 40, 30, 9, 45, 61, 30, 19, 45, 61, 81, 29],
            [
                "INFO",
                "INFO",
                "INFO",
                "OK",
                "INFO",
                "WARNING",
                "WARNING",
                "OK",
                "INFO",
                "WARNING",
                "CRITICAL",
                "OK",
            ],
        ),
        # only crit defined: the reset gate of CRITICAL holds it, then the level drops to OK
        (
            '.crit(lambda: "value" > 80).critReset(lambda: "value" < 50)',
            [90, 60, 40, 60],
            ["CRITICAL", "CRITICAL", "OK"],
        ),
    ],
)
def test_level_algorithm(props: str, values: list[float], expected: list[str]) -> None:
    node, pub, _ = make_alert(props)
    feed(node, values)
    assert levels(pub) == expected


def test_documented_reset_sequence_history() -> None:
    node, _, _ = make_alert(RESETS + ".history(7)")
    feed(node, [61, 73, 64, 85, 62, 56, 47])
    assert [str(lv) for lv in node.levels_of("host=a")] == [
        "INFO", "WARNING", "WARNING", "CRITICAL", "INFO", "INFO", "OK",
    ]  # fmt: skip


def test_current_level_predicate_is_evaluated_twice() -> None:
    # At WARNING, warn is checked in the "same or higher" pass and again after the (absent)
    # reset gate; count() therefore advances twice: 1 W, 2 W, 3 false then 4 W, 5 W.
    node, pub, _ = make_alert(".info(lambda: TRUE).warn(lambda: count() != 3)")
    feed(node, [1, 1, 1, 1])
    assert levels(pub) == ["WARNING"] * 4


def test_level_lambdas_are_shared_by_groups_as_in_kapacitor() -> None:
    node, pub, _ = make_alert(".crit(lambda: count() == 2)")
    node.point(pt(1, 0, host="a"))
    node.point(pt(1, 1, host="b"))
    assert [(e.state.id, str(e.state.level)) for e in pub.events] == [("cpu:host=b", "CRITICAL")]


def test_per_group_lambdas_option_clones_them() -> None:
    opts = AlertNodeOptions(per_group_lambdas=True)
    node, pub, _ = make_alert(".crit(lambda: count() == 2)", options=opts)
    for i, host in enumerate("abab"):
        node.point(pt(1, i, host=host))
    assert [(e.state.id, str(e.state.level)) for e in pub.events] == [
        ("cpu:host=a", "CRITICAL"),
        ("cpu:host=b", "CRITICAL"),
    ]


def test_missing_field_is_false_and_recovers() -> None:
    node, pub, _ = make_alert('.warn(lambda: "value" > 70).crit(lambda: "value" > 80)')
    node.point(pt(90, 0))
    node.point(pt(None, 1, other=1.0))
    assert levels(pub) == ["CRITICAL", "OK"]
    # crit fails twice (before and after the reset gate), then warn
    assert node.stats.errors == 3


def test_type_error_is_false() -> None:
    node, pub, _ = make_alert('.crit(lambda: "value" > 80)')
    node.point(pt("high", 0))
    node.point(pt(90, 1))
    assert levels(pub) == ["CRITICAL"]
    assert node.stats.errors == 1


def test_failing_reset_lets_the_level_fall() -> None:
    node, pub, _ = make_alert('.crit(lambda: "value" > 80).critReset(lambda: "other" < 50)')
    node.point(pt(90, 0, other=60.0))
    node.point(pt(60, 1, other=60.0))  # reset false: stays CRITICAL
    node.point(pt(60, 2))  # reset errors ("other" missing): falls through to OK
    assert levels(pub) == ["CRITICAL", "CRITICAL", "OK"]


def test_ok_points_without_change_emit_nothing() -> None:
    node, pub, out = make_alert(NO_RESETS)
    feed(node, [1, 2, 3])
    assert pub.events == [] and out.points == []


# --- duration, stateChangesOnly, noRecoveries -------------------------------------------------


def test_duration_example_with_state_changes_only() -> None:
    # TestStream_AlertDuration: warn>7, crit>8, stateChangesOnly, values at t=0..11s
    node, pub, out = make_alert(
        ".id('kapacitor/{{ .Name }}/{{ index .Tags \"host\" }}').details('details')"
        ".durationField('duration').warn(lambda: \"value\" > 7.0)"
        '.crit(lambda: "value" > 8.0).stateChangesOnly()'
    )
    feed(node, [9, 9, 8, 8, 6, 8, 8, 8, 3, 5, 7, 7])
    got = [(e.state.time - T0, str(e.state.level), int(e.state.duration)) for e in pub.events]
    assert got == [
        (0, "CRITICAL", 0),
        (2 * S, "WARNING", 2 * S),
        (4 * S, "OK", 4 * S),
        (5 * S, "WARNING", 0),
        (8 * S, "OK", 3 * S),
    ]
    assert [p.fields["duration"] for p in out.points] == [0, 2 * S, 4 * S, 0, 3 * S]
    assert all(type(p.fields["duration"]) is int for p in out.points)
    assert pub.events[0].state.id == "kapacitor/cpu/a"


def test_duration_grows_without_state_changes_only() -> None:
    node, pub, _ = make_alert('.crit(lambda: "value" > 8)')
    feed(node, [9, 9, 9, 1])
    assert [int(e.state.duration) // S for e in pub.events] == [0, 1, 2, 3]


def test_state_changes_only_one_event_per_change() -> None:
    node, pub, _ = make_alert(NO_RESETS + ".stateChangesOnly()")
    feed(node, [61, 62, 75, 76, 85, 90, 75, 10, 5, 65])
    assert levels(pub) == ["INFO", "WARNING", "CRITICAL", "WARNING", "OK", "INFO"]


def test_state_changes_only_with_interval_resends() -> None:
    # TestStream_AlertStateChangesOnlyExpired: crit<97, .stateChangesOnly(2s), CRIT t=1..9, OK t=10
    node, pub, _ = make_alert(
        ".crit(lambda: \"value\" < 97).details('').stateChangesOnly(2s)", group_by=""
    )
    feed(node, [99] + [90] * 9 + [99])
    got = [(e.state.time - T0, str(e.state.level), int(e.state.duration)) for e in pub.events]
    assert got == [
        (1 * S, "CRITICAL", 0),
        (3 * S, "CRITICAL", 2 * S),
        (5 * S, "CRITICAL", 4 * S),
        (7 * S, "CRITICAL", 6 * S),
        (9 * S, "CRITICAL", 8 * S),
        (10 * S, "OK", 9 * S),
    ]


def test_state_changes_only_interval_never_resends_ok() -> None:
    node, pub, _ = make_alert('.crit(lambda: "value" > 8).stateChangesOnly(1s)')
    feed(node, [1, 1, 9, 1, 1, 1])
    assert levels(pub) == ["CRITICAL", "OK"]


def test_global_handler_can_force_state_changes_only() -> None:
    service = RecordingService()
    service.force_sco = True
    node, pub, _ = make_alert('.crit(lambda: "value" > 8)', service=service)
    feed(node, [9, 9, 9, 1])
    assert levels(pub) == ["CRITICAL", "OK"]
    assert node.state_changes_only


def test_no_recoveries() -> None:
    node, pub, out = make_alert(".crit(lambda: \"value\" > 8).noRecoveries().levelField('lvl')")
    feed(node, [9, 1, 1, 9])
    assert levels(pub) == ["CRITICAL", "CRITICAL"]
    assert all(not e.data.recoverable for e in pub.events)
    assert [p.fields["lvl"] for p in out.points] == ["CRITICAL", "CRITICAL"]
    # the recovery still counted as a trigger: the second CRITICAL starts a new duration
    assert int(pub.events[1].state.duration) == 0
    assert pub.registration["no_recoveries"] is True


# --- flapping and history -------------------------------------------------------------------


def test_percent_change_quirk_arithmetic() -> None:
    # history ring of 4, newest at idx 1: [o1, n, o3, o2] = oldest..newest: o3, o2, o1, n
    h = [0, 1, 0, 0]
    # Kapacitor compares (1,0) w=0.8, (2,1) w=0.9333, (3,2) w=1.0667; pairs (c, c-1)
    w0 = 0.8
    step = (1.2 - w0) / 3
    expected = (w0 + (w0 + step)) / 3  # c=1 vs 0 differ; c=2 vs 1 differ; c=3 vs 2 same
    assert percent_change(h, 1) == pytest.approx(expected)
    # the time-ordered variant counts o3->o2 (same), o2->o1 (same), o1->n (changed, newest)
    assert percent_change_chronological(h, 1) == pytest.approx((w0 + 2 * step) / 3)
    assert percent_change([0] * 21, 5) == 0.0


def test_percent_change_weights_match_go_constants() -> None:
    # Go folds 1.2/1.5 to exactly 0.8 (Python's 1.2 / 1.5 is 0.7999999999999999): one change
    # at the lowest weight over a ring of 3 is exactly 0.4
    assert percent_change([0, 1, 1], 1) == 0.4
    # the newest/oldest wrap-around pair counts, the newest real change does not
    assert percent_change([1, 0, 1], 0) == 0.5


def test_flapping_suppresses_stream_events_including_recoveries() -> None:
    node, pub, _ = make_alert('.crit(lambda: "value" > 8).flapping(0.25, 0.5).history(6)')
    # the third point pushes the weighted share to 0.56 > 0.5: flapping from t=2 on, so the
    # alternating CRITICAL/OK and even the recovery at t=7 are not sent; at t=12 the share
    # falls under 0.25 and the CRITICAL at t=18 is sent again
    feed(node, [9, 1, 9, 1, 9, 1, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9])
    assert [((e.state.time - T0) // S, str(e.state.level)) for e in pub.events] == [
        (0, "CRITICAL"),
        (1, "OK"),
        (18, "CRITICAL"),
    ]


def test_history_below_two_becomes_two() -> None:
    node, _, _ = make_alert(".crit(lambda: TRUE).history(1)")
    assert node.settings.history == 2


def test_flap_thresholds_above_one_are_rejected() -> None:
    with pytest.raises(Exception, match="between 0 and 1"):
        make_alert(".crit(lambda: TRUE).flapping(0.2, 2.0)")


def test_duration_after_suppressed_trigger_saturates_like_go() -> None:
    # While flapping, a CRITICAL is recorded without a trigger; the next emitted CRITICAL has a
    # non-OK predecessor, so firstTriggered stays Go's zero time and Time.Sub saturates.
    assert go_sub(T0, GO_ZERO_NS) == (1 << 63) - 1
    node, pub, _ = make_alert('.crit(lambda: "value" > 8).flapping(0.1, 0.3).history(3)')
    feed(node, [1, 9, 1, 9, 9, 9, 9])
    first_after = [e for e in pub.events if e.state.time - T0 > 3 * S]
    assert first_after and all(int(e.state.duration) == (1 << 63) - 1 for e in first_after)


# --- templates and event contents -----------------------------------------------------------


def test_default_templates_nil_group() -> None:
    node, pub, _ = make_alert(".crit(lambda: TRUE)", group_by="", task="tsk")
    node.point(Point("cpu", {}, {"value": 1.5}, T0))
    e = pub.events[0]
    assert e.state.id == "cpu:nil"
    assert e.state.message == "cpu:nil is CRITICAL"
    assert e.data.group == ""
    assert e.state.details == (
        "{&#34;Name&#34;:&#34;cpu&#34;,&#34;TaskName&#34;:&#34;tsk&#34;,&#34;Group&#34;:&#34;nil&#34;,"
        "&#34;Tags&#34;:{},&#34;ServerInfo&#34;:{&#34;Hostname&#34;:&#34;leyden-host&#34;,"
        "&#34;ClusterID&#34;:&#34;&#34;,&#34;ServerID&#34;:&#34;&#34;},&#34;ID&#34;:&#34;cpu:nil&#34;,"
        "&#34;Fields&#34;:{&#34;value&#34;:1.5},&#34;Level&#34;:&#34;CRITICAL&#34;,"
        "&#34;Time&#34;:&#34;1971-01-01T00:00:00Z&#34;,&#34;Duration&#34;:0,"
        "&#34;Message&#34;:&#34;cpu:nil is CRITICAL&#34;}\n"
    )


def test_default_id_with_groups_and_by_measurement() -> None:
    node, pub, _ = make_alert(".crit(lambda: TRUE)")
    node.point(pt(1))
    assert pub.events[0].state.id == "cpu:host=a"
    assert pub.events[0].data.group == "host=a"
    node2, pub2, _ = make_alert(
        ".crit(lambda: TRUE)", group_by=".groupBy('host').groupByMeasurement()"
    )
    node2.point(pt(1, dims=Dimensions(True, ("host",))))
    assert pub2.events[0].state.id == "cpu:cpu\nhost=a"


def test_custom_templates_see_go_values() -> None:
    node, pub, _ = make_alert(
        ".id('{{ .TaskName }}/{{ .Name }}/{{ index .Tags \"host\" }}/{{ .ServerInfo.Hostname }}')"
        ".message('{{ .ID }} {{ .Level }} at {{ .Time }} for {{ .Duration }}"
        ' v={{ index .Fields "value" }} t={{ .Tags.type }}\')'
        ".details('{{ .Message }} <b>{{ jsonCompact .Tags }}</b>')"
        '.crit(lambda: "value" > 8)',
        task="tk",
    )
    node.point(pt(9.5, 0))
    node.point(pt(1e6 + 0.5, 90))
    e = pub.events[1]
    assert e.state.id == "tk/cpu/a/leyden-host"
    assert e.state.message == (
        "tk/cpu/a/leyden-host CRITICAL at 1971-01-01 00:01:30 +0000 UTC for 1m30s"
        " v=1.0000005e+06 t=idle"
    )
    assert e.state.details == (
        "tk/cpu/a/leyden-host CRITICAL at 1971-01-01 00:01:30 &#43;0000 UTC for 1m30s"
        " v=1.0000005e&#43;06 t=idle <b>{&#34;host&#34;:&#34;a&#34;,&#34;type&#34;:&#34;idle&#34;}</b>"
    )


def test_id_and_message_templates_have_no_json_function() -> None:
    with pytest.raises(TaskError, match=r'function "json" not defined'):
        make_alert(".id('{{ json . }}').crit(lambda: TRUE)")
    with pytest.raises(TaskError, match="message"):
        make_alert(".message('{{ jsonCompact . }}').crit(lambda: TRUE)")


def test_template_execution_error_drops_the_point() -> None:
    node, pub, out = make_alert(".id('{{ .Nope }}').crit(lambda: TRUE)")
    node.point(pt(1))
    assert pub.events == [] and out.points == [] and node.stats.errors == 1
    node, pub, out = make_alert(".message('{{ .Nope }}').crit(lambda: TRUE)")
    node.point(pt(1))
    assert pub.events == [] and node.stats.errors == 1


def test_event_data_for_a_stream_point() -> None:
    node, pub, _ = make_alert(".crit(lambda: TRUE).category('cat').topic('ops')", task="tk")
    node.point(pt(3, 0))
    e = pub.events[0]
    assert e.topic == "" and e.previous_level == OK
    assert isinstance(e.state.time, Time) and isinstance(e.state.duration, Duration)
    d = e.data
    assert (d.name, d.task_name, d.category, d.group) == ("cpu", "tk", "cat", "host=a")
    assert d.tags == {"host": "a", "type": "idle"}  # all tags of the point
    assert d.fields == {"value": 3}
    assert d.recoverable is True
    row = d.result["series"][0]
    assert row["columns"] == ["time", "value"] and row["values"] == [[T0, 3]]
    reg = pub.registration
    assert reg["task"] == "tk" and reg["node"] == node.name and reg["topic"] == "ops"
    assert reg["category"] == "cat" and reg["no_recoveries"] is False


def test_augmented_points_are_forwarded() -> None:
    node, _, out = make_alert(
        ".id('x/{{ index .Tags \"host\" }}').crit(lambda: TRUE).levelTag('level').idTag('id')"
        ".levelField('lvl').messageField('msg').idField('idf').durationField('dur')"
    )
    node.point(pt(1, 0))
    node.point(pt(2, 3))
    p = out.points[-1]
    assert p.tags == {"host": "a", "type": "idle", "level": "CRITICAL", "id": "x/a"}
    assert p.fields == {
        "value": 2, "lvl": "CRITICAL", "msg": "x/a is CRITICAL", "idf": "x/a", "dur": 3 * S,
    }  # fmt: skip
    assert p.group == "host=a"


def test_inhibition_suppresses_other_alerts_events() -> None:
    service = RecordingService()
    parent, ppub, _ = make_alert(
        ".crit(lambda: \"value\" > 8).inhibit('child', 'host')", service=service
    )
    child, cpub, cout = make_alert(".crit(lambda: TRUE).category('child')", service=service)
    child.point(pt(1, 0, host="a"))
    parent.point(pt(9, 1, host="a"))  # parent CRITICAL: host=a children inhibited
    child.point(pt(1, 2, host="a"))
    child.point(pt(1, 3, host="b"))  # other host: not inhibited
    parent.point(pt(1, 4, host="a"))  # parent recovers
    child.point(pt(1, 5, host="a"))
    assert [(e.state.time - T0) // S for e in cpub.events] == [0, 3, 5]
    assert child.alert_stats["alerts_inhibited"] == 1
    assert len(cout.points) == 4  # inhibited events still forward the augmented point
    parent.stop()
    assert service.inhibitors == []
    assert ppub.closed


def test_state_restored_from_the_topic() -> None:
    service = RecordingService()
    service.stored["cpu:host=a"] = EventState(
        "cpu:host=a", "m", "d", Time(T0 - 10 * S), Duration(0), CRITICAL
    )
    node, pub, _ = make_alert('.crit(lambda: "value" > 8).stateChangesOnly()', service=service)
    feed(node, [9, 9, 1])
    assert levels(pub) == ["OK"]
    assert int(pub.events[0].state.duration) == 12 * S  # from the stored event time


def test_stats_by_level() -> None:
    node, _, _ = make_alert(NO_RESETS)
    feed(node, [65, 75, 85, 1])
    st = node.alert_stats
    assert st["alerts_triggered"] == 4
    assert (st["infos_triggered"], st["warns_triggered"], st["crits_triggered"]) == (1, 1, 1)
    assert st["oks_triggered"] == 1


def test_stop_closes_and_delete_deletes() -> None:
    node, pub, _ = make_alert(".crit(lambda: TRUE)")
    node.stop()
    node.delete()
    assert pub.closed and pub.deleted


# --- batches --------------------------------------------------------------------------------


def batch(values: list[float], tmax_sec: float, host: str = "a", start: float = 0) -> Batch:
    points = [
        BatchPoint(T0 + int((start + i) * S), {"value": v}, {"host": host, "cpu": "0"})
        for i, v in enumerate(values)
    ]
    return Batch("cpu", f"host={host}", {"host": host}, HOST, T0 + int(tmax_sec * S), points)


def test_batch_level_is_highest_at_its_point_time() -> None:
    node, pub, out = make_alert(NO_RESETS)
    node.batch(batch([65, 85, 75, 90], 10))
    e = pub.events[0]
    assert str(e.state.level) == "CRITICAL"
    assert e.state.time == T0 + 1 * S  # the first point reaching the highest level
    assert e.data.fields == {"value": 85}
    assert e.data.tags == {"host": "a"}  # group tags only
    row = e.data.result["series"][0]
    assert row["columns"] == ["time", "cpu", "value"] and len(row["values"]) == 4
    assert out.batches and out.batches[0] is not None


def test_batch_all_uses_lowest_level_and_batch_time() -> None:
    node, pub, _ = make_alert(NO_RESETS + ".all()")
    node.batch(batch([65, 85, 75], 10))
    assert levels(pub) == ["INFO"]
    assert pub.events[0].state.time == T0 + 10 * S


def test_batch_recovery_uses_batch_time_and_empty_batch_is_ignored() -> None:
    node, pub, _ = make_alert(NO_RESETS)
    node.batch(batch([85], 10))
    node.batch(batch([], 20))
    node.batch(batch([1, 2], 30, start=20))
    assert levels(pub) == ["CRITICAL", "OK"]
    assert pub.events[1].state.time == T0 + 30 * S
    assert int(pub.events[1].state.duration) == 30 * S  # since the CRITICAL point at t=0


def test_batch_points_share_the_level_before_the_batch() -> None:
    # With resets, every point is judged from the level before the batch (OK here).
    node, pub, _ = make_alert(RESETS)
    node.batch(batch([85, 75], 10))
    node.batch(batch([75], 20))  # from CRITICAL, 75 is not < 70: stays CRITICAL
    assert levels(pub) == ["CRITICAL", "CRITICAL"]


def test_batch_recovery_sent_while_flapping() -> None:
    node, pub, _ = make_alert('.crit(lambda: "value" > 8).flapping(0.1, 0.3).history(3)')
    for i, v in enumerate([9, 1, 9, 1, 9, 1]):
        node.batch(batch([v], 10 * i, start=10 * i))
    # once flapping, CRITICAL batches are suppressed but every recovery is sent
    assert levels(pub)[-1] == "OK"
    assert levels(pub).count("OK") == 3


def test_batch_augmentation_makes_tags_dimensions() -> None:
    node, _, out = make_alert(NO_RESETS + ".levelTag('level').levelField('lvl')")
    node.batch(batch([85, 1], 10))
    b = out.batches[0]
    assert b.tags == {"host": "a", "level": "CRITICAL"}
    assert b.dims.tag_names == ("host", "level")
    assert b.group == "host=a,level=CRITICAL"
    assert all(bp.tags["level"] == "CRITICAL" and bp.fields["lvl"] == "CRITICAL" for bp in b.points)


def real_alert(props: str, service: AlertService, task: str = "tk") -> AlertNode:
    pipeline = build_pipeline(
        f"stream|from().measurement('cpu').groupBy('host')|alert(){props}", filename="t.tick"
    )
    spec = next(n for n in pipeline.nodes if n.kind == "alert")
    return AlertNode(spec, context(task, SimulatedClock(), alerts=service))


def test_an_alert_service_is_required_at_wiring() -> None:
    """No node builds its own alert service: services without one are refused."""
    with pytest.raises(TypeError):
        TaskServices()  # type: ignore[call-arg]


def test_with_the_alert_service_restart_restores_and_inhibits() -> None:
    service = AlertService(services={}, dispatcher=Dispatcher(MemoryOutbox()))
    events: list[Event] = []
    service.add_listener(events.append)
    services = service
    props = ".crit(lambda: \"value\" > 8).stateChangesOnly().topic('ops').inhibit('db', 'host')"
    first = real_alert(props, services)
    first.point(pt(9, 0))
    child = real_alert(".crit(lambda: TRUE).category('db').topic('db')", services, task="c")
    child.point(pt(1, 1, host="a"))  # inhibited: the parent's host=a group is CRITICAL
    child.point(pt(1, 1, host="b"))
    first.stop()  # a task restart: the named topic keeps the CRITICAL state
    again = real_alert(props, services)
    again.point(pt(9, 5))  # restored as CRITICAL: with stateChangesOnly nothing is re-sent
    again.point(pt(1, 6))
    got = [(e.topic, e.state.id, str(e.state.level), str(e.previous_level)) for e in events]
    assert got == [
        ("ops", "cpu:host=a", "CRITICAL", "OK"),
        ("db", "cpu:host=b", "CRITICAL", "OK"),
        ("ops", "cpu:host=a", "OK", "CRITICAL"),
    ]
    assert int(events[-1].state.duration) == 6 * S  # from the restored event's time
    assert child.alert_stats["alerts_inhibited"] == 1


@pytest.mark.parametrize("group", ["", "host=a", "cpu\nhost=a,dc=x", "cpu"])
def test_default_fast_paths_match_the_templates(group: str) -> None:
    node, _, _ = make_alert(".crit(lambda: TRUE)")
    tags = {"host": "a"}
    slow_id = Template.parse(DEFAULT_ID_TEMPLATE).execute(node._id_data("cpu", group, tags))
    assert node._render_id("cpu", group, tags) == slow_id
    data = node._message_data(slow_id, "cpu", group, tags, {}, "WARNING", T0, Duration(0))
    assert Template.parse(DEFAULT_MESSAGE_TEMPLATE).execute(data) == f"{slow_id} is WARNING"
