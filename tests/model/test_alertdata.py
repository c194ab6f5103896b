"""Kapacitor's alert-data JSON, byte for byte (semantics §4.1, §4.9)."""

from __future__ import annotations

import json

from leyden.engine.model import Dimensions, Point
from leyden.engine.result import point_row, result
from leyden.go.types import Duration, Time
from leyden.model.alert import Event, EventData, EventState, Level
from leyden.model.alertdata import alert_data, event_to_json, level_text

S = 1_000_000_000
T10 = (31_536_000 + 10) * S  # 1971-01-01T00:00:10Z


def make_event(**changes: object) -> Event:
    p = Point("cpu", {"host": "serverA"}, {"count": 10.0}, T10, Dimensions(tag_names=("host",)))
    state = EventState(
        id="kapacitor/cpu/serverA",
        message="kapacitor/cpu/serverA is CRITICAL",
        details="details",
        time=Time(T10),
        duration=Duration(0),
        level=Level.CRITICAL,
    )
    data = EventData(
        name="cpu",
        task_name="t",
        group="host=serverA",
        tags={"host": "serverA"},
        fields={"count": 10.0},
        result=result([point_row(p)]),
    )
    event = Event(topic="main:t:alert2", state=state, data=data)
    for key, value in changes.items():
        target = event.state if hasattr(event.state, key) else event
        setattr(target, key, value)
    return event


def test_kapacitor_example_bytes() -> None:
    assert event_to_json(make_event()) == (
        '{"id":"kapacitor/cpu/serverA","message":"kapacitor/cpu/serverA is CRITICAL",'
        '"details":"details","time":"1971-01-01T00:00:10Z","duration":0,"level":"CRITICAL",'
        '"data":{"series":[{"name":"cpu","tags":{"host":"serverA"},"columns":["time","count"],'
        '"values":[["1971-01-01T00:00:10Z",10]]}]},"previousLevel":"OK","recoverable":true}\n'
    )


def test_key_order_is_alert_data_struct_order() -> None:
    keys = list(json.loads(event_to_json(make_event())))
    assert keys == [
        "id",
        "message",
        "details",
        "time",
        "duration",
        "level",
        "data",
        "previousLevel",
        "recoverable",
    ]


def test_go_formatting_of_times_durations_levels_and_html() -> None:
    event = make_event(
        time=Time(T10 + 500_000_000),
        duration=Duration(90 * S + 1),
        level=Level.OK,
        previous_level=Level.WARNING,
        message="a <b> & c",
        details="{&#34;x&#34;:1}\n",
    )
    event.data.recoverable = False
    text = event_to_json(event)
    assert '"time":"1971-01-01T00:00:10.5Z"' in text
    assert '"duration":90000000001' in text
    assert '"level":"OK"' in text and '"previousLevel":"WARNING"' in text
    assert '"message":"a \\u003cb\\u003e \\u0026 c"' in text
    assert '"details":"{\\u0026#34;x\\u0026#34;:1}\\n"' in text
    assert text.endswith(',"recoverable":false}\n')
    assert text.count("\n") == 1


def test_floats_print_like_go() -> None:
    event = make_event()
    event.data.result["series"][0]["values"] = [[Time(T10), 1e-07], [Time(T10), 1e21]]
    text = event_to_json(event)
    # encoding/json trims the exponent's leading zero (e-07 → e-7) but keeps e+21
    assert '["1971-01-01T00:00:10Z",1e-7]' in text and '["1971-01-01T00:00:10Z",1e+21]' in text


def test_empty_result_has_null_series() -> None:
    event = make_event()
    event.data.result = {}
    assert '"data":{"series":null}' in event_to_json(event)


def test_unknown_level_text() -> None:
    assert level_text(7) == "unknown"
    assert level_text(Level.INFO) == "INFO"


def test_alert_data_round_trips_as_json() -> None:
    data = alert_data(make_event())
    decoded = json.loads(event_to_json(make_event()))
    assert decoded["data"]["series"][0]["values"] == [["1971-01-01T00:00:10Z", 10]]
    assert data["level"] == "CRITICAL"


def test_event_from_the_alert_node_serialises() -> None:
    """The node's own events: default details (entity-escaped JSON) survive Go's escaping."""
    from leyden.clock import SimulatedClock
    from leyden.engine.node import TaskContext
    from leyden.engine.nodes.alert import AlertNode
    from leyden.engine.services import TaskServices
    from leyden.tick.builder import build_pipeline

    published: list[Event] = []

    class Publisher:
        def publish(self, event: Event) -> None:
            published.append(event)

        def is_inhibited(self, category: str, tags: dict[str, str]) -> bool:
            return False

        def close(self) -> None: ...

        def delete(self) -> None: ...

    class Service:
        def register_alert_node(self, **_: object) -> Publisher:
            return Publisher()

    pipeline = build_pipeline(
        "stream|from().measurement('cpu')|alert().crit(lambda: \"value\" > 1)", filename="t"
    )
    spec = next(n for n in pipeline.nodes if n.kind == "alert")
    ctx = TaskContext("tsk", SimulatedClock(), TaskServices(alerts=Service()), hostname="h")
    node = AlertNode(spec, ctx)
    node.point(Point("cpu", {}, {"value": 2.5}, T10))
    assert event_to_json(published[0]) == (
        '{"id":"cpu:nil","message":"cpu:nil is CRITICAL","details":"{\\u0026#34;Name\\u0026#34;:'
        "\\u0026#34;cpu\\u0026#34;,\\u0026#34;TaskName\\u0026#34;:\\u0026#34;tsk\\u0026#34;,"
        "\\u0026#34;Group\\u0026#34;:\\u0026#34;nil\\u0026#34;,\\u0026#34;Tags\\u0026#34;:{},"
        "\\u0026#34;ServerInfo\\u0026#34;:{\\u0026#34;Hostname\\u0026#34;:\\u0026#34;h\\u0026#34;,"
        "\\u0026#34;ClusterID\\u0026#34;:\\u0026#34;\\u0026#34;,\\u0026#34;ServerID\\u0026#34;:"
        "\\u0026#34;\\u0026#34;},\\u0026#34;ID\\u0026#34;:\\u0026#34;cpu:nil\\u0026#34;,"
        "\\u0026#34;Fields\\u0026#34;:{\\u0026#34;value\\u0026#34;:2.5},\\u0026#34;Level"
        "\\u0026#34;:\\u0026#34;CRITICAL\\u0026#34;,\\u0026#34;Time\\u0026#34;:\\u0026#34;"
        "1971-01-01T00:00:10Z\\u0026#34;,\\u0026#34;Duration\\u0026#34;:0,\\u0026#34;Message"
        '\\u0026#34;:\\u0026#34;cpu:nil is CRITICAL\\u0026#34;}\\n","time":"1971-01-01T00:00:10Z",'
        '"duration":0,"level":"CRITICAL","data":{"series":[{"name":"cpu","columns":["time",'
        '"value"],"values":[["1971-01-01T00:00:10Z",2.5]]}]},"previousLevel":"OK",'
        '"recoverable":true}\n'
    )
