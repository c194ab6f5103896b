"""The alert node's shortcuts render exactly what the template engine renders.

The default details (``{{ json . }}``) are encoded without the template engine
(``leyden.engine.nodes.alert_render``) and ids that cannot see ``.Tags`` are rendered once per
group; both must be byte-identical to the slow path.
"""

from __future__ import annotations

from typing import Any

import pytest
from engine_support import DiscardAlerts, context
from hypothesis import given, settings
from hypothesis import strategies as st

from leyden.clock import SimulatedClock
from leyden.engine.model import Dimensions, Point
from leyden.engine.nodes import alert_render
from leyden.engine.nodes.alert import AlertNode
from leyden.engine.nodes.alert_render import ESCAPED_JSON, EscapedJson
from leyden.engine.result import point_row, result
from leyden.go.template import html_text_escape
from leyden.go.types import Duration, Time, go_json
from leyden.model.alert import Level
from leyden.tick.builder import build_pipeline

S = 1_000_000_000
T0 = 31_536_000 * S


def alert_node(props: str = "") -> AlertNode:
    text = f"stream|from().measurement('m')|alert().crit(lambda: TRUE){props}"
    spec = next(n for n in build_pipeline(text).nodes if n.kind == "alert")
    ctx = context("task <&'+>", SimulatedClock(0), hostname='h"<', alerts=DiscardAlerts())
    return AlertNode(spec, ctx)


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
values = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    text,
)


@settings(max_examples=200, deadline=None)
@given(
    name=text,
    group=text,
    tags=st.dictionaries(text, text, max_size=3),
    fields=st.dictionaries(text, values, max_size=3),
    t=st.integers(-(2**62), 2**62),
    other_tags=st.dictionaries(text, text, max_size=2),
)
def test_default_details_match_the_template(
    name: str,
    group: str,
    tags: dict[str, str],
    fields: dict[str, Any],
    t: int,
    other_tags: dict[str, str],
) -> None:
    node = alert_node()
    st_ = node._new_state(group, {}, "id", t)
    lazy = node._event(st_, "id<&>", name, group, tags, fields, 3, t, None, True)
    # the group's cached pieces change before the lazy event is read
    other = node._event(st_, "id2", name + "x", group, other_tags, {}, 2, t + 1, None, True)
    assert other.state.details.startswith("{")
    fast = node._rendered_state("id<&>", name, group, tags, fields, 3, t, 0)
    node._details_default = False
    slow = node._rendered_state("id<&>", name, group, tags, fields, 3, t, 0)
    assert lazy.state._details is None  # not rendered until read
    assert lazy.state.details == fast.details == slow.details
    assert lazy.state.message == fast.message == slow.message
    assert lazy.state == slow
    assert slow.duration == Duration(0)


@settings(max_examples=100, deadline=None)
@given(fields=st.dictionaries(text, values, max_size=3), level=st.sampled_from([0, 1, 2, 3]))
def test_lazy_details_under_a_message_template_match(fields: dict[str, Any], level: int) -> None:
    node = alert_node(".message('{{ .Level }}: {{ index .Fields \"v\" }} <b>')")
    st_ = node._new_state("g", {}, "id", T0)
    lazy = node._event(st_, "id", "m", "g", {"h": "<"}, fields, level, T0, None, True)
    node._details_default = False
    slow = node._rendered_state("id", "m", "g", {"h": "<"}, fields, level, T0, 0)
    assert lazy.state._message is not None  # a template may fail: rendered at once
    assert lazy.state._details is None
    assert lazy.state == slow


def test_nan_falls_back_to_the_template_error() -> None:
    node = alert_node()
    node.point(Point("m", {}, {"v": float("nan")}, T0))
    assert node.stats.errors == 1


@pytest.mark.parametrize(
    "template", ["{{ .Name }}_{{ .TaskName }}", "{{ .Group }}:{{ .Name }}", '{{ index .Tags "h" }}']
)
def test_ids_per_group_match_the_template(template: str) -> None:
    node = alert_node(f".id('{template}').idField('id')")
    out: list[str] = []
    node.children = [type("C", (), {"point": lambda self, p: out.append(p.fields["id"])})()]
    dims = Dimensions(tag_names=("g",))
    for i, (name, g, h) in enumerate([("m", "a", "x"), ("m", "a", "y"), ("n", "a", "x")]):
        node.point(Point(name, {"g": g, "h": h}, {"v": 1}, T0 + i * S, dims))
    expected = [
        node._id_tmpl.execute(node._id_data(n, "g=a", {"g": "a", "h": h}))
        for n, h in [("m", "x"), ("m", "y"), ("n", "x")]
    ]
    assert out == expected


@settings(max_examples=500, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["value", "a", "z<", "+b"]),
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.floats(min_value=1e-5, max_value=1e17),
            st.integers(-(10**20), 10**20).map(float),
            st.integers(-(2**63), 2**63 - 1),
            st.booleans(),
        ),
        max_size=4,
    )
)
def test_fields_json_matches_the_encoder(fields: dict[str, Any]) -> None:
    expected = html_text_escape(go_json(fields))
    assert EscapedJson().fields(fields) == expected  # cold caches
    assert ESCAPED_JSON.fields(fields) == expected  # the process's, warm
    assert ESCAPED_JSON.fields(fields) == expected


@settings(max_examples=500, deadline=None)
@given(t=st.integers(-(2**63), 2**63 - 1))
def test_rfc3339nano_matches_time(t: int) -> None:
    expected = Time(t).rfc3339nano()
    assert EscapedJson().rfc3339nano(t) == expected
    assert ESCAPED_JSON.rfc3339nano(t) == expected
    assert ESCAPED_JSON.rfc3339nano(t) == expected  # the last time, remembered


def test_escaped_json_caches_stay_bounded() -> None:
    encoder = EscapedJson()
    for i in range(3000):
        assert encoder.fields({f"k{i}": i}) == f"{{&#34;k{i}&#34;:{i}}}"
    for day in range(5000):
        t = day * 86400 * S
        assert encoder.rfc3339nano(t) == Time(t).rfc3339nano()
    assert len(encoder._field_keys) <= 1025
    assert len(encoder._days) <= 4097


def test_stream_event_result_is_the_point_row() -> None:
    node = alert_node()
    events: list[Any] = []
    node.publisher.publish = events.append  # type: ignore[method-assign]
    p = Point("m", {"h": "a<"}, {"v": 1.5, "s": "x"}, T0 + 5)
    node.point(p)
    (event,) = events
    assert event.data.result == result([point_row(p)])
    assert go_json(event.data.result) == go_json(result([point_row(p)]))


# --- the quiet path and events nothing reads change nothing observable ----------------------


class _Sink:
    """A publisher that records events; with ``unread`` set it offers ``publish_unread``
    (the alert service's shortcut) and records what it was told instead of events."""

    def __init__(self, reads: bool | None) -> None:
        self.events: list[Any] = []
        #: what was published, in order: ("event" or "unread", id, level)
        self.log: list[tuple[str, str, Level]] = []
        if reads is not None:
            self.publish_unread = self._publish_unread
            self.reads = reads

    def _publish_unread(self, event_id: str, level: Level) -> bool:
        if self.reads:
            return False
        self.log.append(("unread", event_id, level))
        return True

    def publish(self, event: Any) -> None:
        self.events.append(event)
        self.log.append(("event", event.state.id, event.state.level))

    def is_inhibited(self, category: str, tags: Any) -> bool:
        return False

    def close(self) -> None:
        pass

    def delete(self) -> None:
        pass


class _Sinks:
    def __init__(self, reads: bool | None) -> None:
        self.reads = reads
        self.sink: _Sink | None = None

    def register_alert_node(self, **registration: Any) -> _Sink:
        self.sink = _Sink(self.reads)
        return self.sink


class _Out:
    def __init__(self) -> None:
        self.points: list[Point] = []

    def point(self, p: Point) -> None:
        self.points.append(p)


def _wired(props: str, reads: bool | None, quiet: bool) -> tuple[AlertNode, _Sink, _Out]:
    text = (
        "stream|from().measurement('m').groupBy('h')|alert()"
        '.info(lambda: "v" > 10).warn(lambda: "v" > 20).crit(lambda: "v" > 30)' + props
    )
    spec = next(n for n in build_pipeline(text).nodes if n.kind == "alert")
    sinks = _Sinks(reads)
    node = AlertNode(spec, context("t", SimulatedClock(0), alerts=sinks))
    node._quiet_allowed = quiet
    out = _Out()
    node.children = [out]
    assert sinks.sink is not None
    return node, sinks.sink, out


PROPS = [
    "",
    ".stateChangesOnly()",
    ".stateChangesOnly(3s)",
    ".noRecoveries()",
    ".history(3).flapping(0.2, 0.6)",
    ".history(4).flapping(0.0, 0.1).stateChangesOnly()",
    ".idField('id').levelTag('lvl').messageField('msg').durationField('d')",
    ".message('{{ .ID }}: {{ index .Fields \"v\" }}')",
    ".details('<{{ .Level }}>')",
]


@settings(max_examples=150, deadline=None)
@given(
    props=st.sampled_from(PROPS),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.one_of(
                st.sampled_from([0, 5, 15, 25, 35, 0.0, 40.5, "s", None]), st.just(float("nan"))
            ),
        ),
        max_size=40,
    ),
)
def test_shortcuts_change_nothing_observable(props: str, steps: list[tuple[str, Any]]) -> None:
    """Quiet OK points and events nothing reads: the same statistics, levels, errors and
    points sent on as the full algorithm with every event built; the events a reader gets
    are equal (rendered on first read) to the events built at once."""
    reference, ref_sink, ref_out = _wired(props, None, quiet=False)
    assert reference._any_level is not None  # the quiet path's one lambda is used
    unread, unread_sink, unread_out = _wired(props, False, quiet=True)
    lazy, lazy_sink, lazy_out = _wired(props, True, quiet=True)
    dims = Dimensions(tag_names=("h",))
    for i, (host, v) in enumerate(steps):
        fields = {} if v is None else {"v": v}  # None: no field (an evaluation error)
        for node in (reference, unread, lazy):
            node.point(Point("m", {"h": host}, fields, T0 + i * S, dims))
    for node, out in ((unread, unread_out), (lazy, lazy_out)):
        assert node.alert_stats == reference.alert_stats
        assert node.stats.collected == reference.stats.collected
        assert node.stats.errors == reference.stats.errors
        assert [(p.tags, p.fields, p.time) for p in out.points] == [
            (p.tags, p.fields, p.time) for p in ref_out.points
        ]
        for group in ("h=a", "h=b"):
            assert node.levels_of(group) == reference.levels_of(group)
    assert lazy_sink.events == ref_sink.events  # EventState/EventData equality renders all
    published = [(e.state.id, e.state.level) for e in ref_sink.events]
    assert [(id_, level) for _, id_, level in unread_sink.log] == published
    if props in ("", ".stateChangesOnly()", ".noRecoveries()"):  # nothing can fail to render
        assert all(kind == "unread" for kind, _, _ in unread_sink.log)


@pytest.mark.parametrize("value", [0.0, -0.0, 1.0, 0.5, 1e-4, 1234567890123456.0])
def test_common_floats_take_the_fast_path(value: float, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = html_text_escape(go_json({"v": value}))
    encoder = EscapedJson()
    encoder.fields({"v": 1})  # the key's piece, cached

    def refused(v: Any) -> str:
        raise AssertionError(f"{v!r} took the slow path")

    monkeypatch.setattr(alert_render, "go_json", refused)
    assert encoder.fields({"v": value}) == expected
