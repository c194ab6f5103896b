"""``alert()``: levels, state per group, events (semantics §3, Kapacitor's ``alert.go``).

The rules users depend on are reproduced exactly, surprises included:

* the level of a point is found by ``determine_level`` (§3.3): predicates from CRITICAL down to
  the current level, then the current level's reset gate, then the current level and below
  again, so a predicate at the current level is evaluated twice for one point;
* an evaluation error (a missing field, a type mismatch) makes a predicate false, and a failing
  reset expression lets the level fall, so a point without the field usually means OK;
* ``stateChangesOnly``, durations, ``noRecoveries`` and flapping are decided from the group's
  history ring (§3.4-3.6), including the flapping weights' quirk;
* the info/warn/crit/reset lambdas are one instance shared by every group, as in Kapacitor, so
  ``count()`` or ``sigma()`` inside them see all groups' points (``AlertNodeOptions`` offers the
  per-group alternative; see ``reference/compatibility.md``).

Times are integer nanoseconds since the Unix epoch.  Go's zero ``time.Time`` (year 1) is the
initial trigger time, and Go's saturating ``Time.Sub`` is reproduced, because both leak into
``stateChangesOnly(d)`` expiry and into durations after suppressed events.
"""

from __future__ import annotations

from typing import Any

from leyden.engine.model import Batch, BatchPoint, Dimensions, Point, group_id
from leyden.engine.node import Node, TaskContext, TaskError, register
from leyden.engine.result import batch_row, point_row, result
from leyden.engine.services import AlertNodeOptions, AlertSink
from leyden.go.template import FUNCS_DETAILS, Template, TemplateError, TemplateExecError
from leyden.go.time import GO_ZERO_NS
from leyden.go.types import Duration, GoStruct, StringMap, Time, go_json
from leyden.model.alert import Event, EventData, EventState, Inhibitor, Level
from leyden.tick.lambdas import CompiledLambda, CompileError, EvalError, compile_lambda
from leyden.tick.pipeline import (
    DEFAULT_DETAILS_TEMPLATE,
    DEFAULT_ID_TEMPLATE,
    DEFAULT_MESSAGE_TEMPLATE,
)

__all__ = ["AlertNode", "percent_change"]


OK, INFO, WARNING, CRITICAL = 0, 1, 2, 3
_LEVELS = (Level.OK, Level.INFO, Level.WARNING, Level.CRITICAL)
_LEVEL_NAMES = ("OK", "INFO", "WARNING", "CRITICAL")
_PREDICATES = ("", "info", "warn", "crit")

_MAX_DURATION = (1 << 63) - 1
_MIN_DURATION = -(1 << 63)

# Flapping weights (alert.go): the newest change weighs maxWeight, the oldest maxWeight/weightDiff.
# Go folds the constant 1.2/1.5 exactly to 0.8; Python's 1.2 / 1.5 would be 0.7999999999999999.
_MAX_WEIGHT = 1.2
_MIN_WEIGHT = 0.8


def go_sub(a: int, b: int) -> int:
    """Go's ``a.Sub(b)`` for times: the difference, saturated to the int64 Duration range."""
    d = a - b
    if d > _MAX_DURATION:
        return _MAX_DURATION
    if d < _MIN_DURATION:
        return _MIN_DURATION
    return d


def percent_change(history: list[int], idx: int) -> float:
    """Kapacitor's ``percentChange``, quirk included (semantics §3.6).

    The loop starts at the newest entry, so the newest transition gets the lowest weight, the
    (oldest, newest) pair is compared as if adjacent, and the transition between the 2nd and 3rd
    newest entries is never counted.
    """
    n = len(history)
    changes = 0.0
    weight = _MIN_WEIGHT
    step = (_MAX_WEIGHT - weight) / (n - 1)
    for i in range(n - 1):
        c = (i + idx) % n
        p = c - 1 if c else n - 1
        if history[c] != history[p]:
            changes += weight
        weight += step
    return changes / (n - 1)


def percent_change_chronological(history: list[int], idx: int) -> float:
    """What ``percentChange`` means to do: every adjacent transition once, newest weighs most."""
    n = len(history)
    changes = 0.0
    weight = _MIN_WEIGHT
    step = (_MAX_WEIGHT - weight) / (n - 1)
    oldest = (idx + 1) % n
    for k in range(1, n):
        if history[(oldest + k) % n] != history[(oldest + k - 1) % n]:
            changes += weight
        weight += step
    return changes / (n - 1)


class _GroupState:
    """Kapacitor's ``alertState``: one group's level history and trigger times."""

    __slots__ = (
        "changed",
        "expired",
        "first_triggered",
        "flapping",
        "history",
        "idx",
        "inhibitors",
        "last_triggered",
        "levels",
        "resets",
    )

    def __init__(
        self,
        size: int,
        levels: tuple[CompiledLambda | None, ...],
        resets: tuple[CompiledLambda | None, ...],
        inhibitors: list[Inhibitor],
    ) -> None:
        self.history = [OK] * size
        self.idx = 0
        self.changed = False
        self.expired = False
        self.flapping = False
        self.first_triggered = GO_ZERO_NS
        self.last_triggered = GO_ZERO_NS
        self.levels = levels
        self.resets = resets
        self.inhibitors = inhibitors


def _constant(text: str) -> str | None:
    """The output of a template without actions, which needs no rendering."""
    return None if "{{" in text else text


@register("alert")
class AlertNode(Node):
    """Decides alert levels per group, publishes events and forwards the alerting data."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        props: dict[str, Any] = spec.properties
        opts = ctx.services.alert_options
        self.options: AlertNodeOptions = opts

        self.id_text: str = props.get("id", DEFAULT_ID_TEMPLATE)
        self.message_text: str = props.get("message", DEFAULT_MESSAGE_TEMPLATE)
        self.details_text: str = props.get("details", DEFAULT_DETAILS_TEMPLATE)
        self._id_tmpl = self._template(self.id_text, "id")
        self._message_tmpl = self._template(self.message_text, "message")
        self._details_tmpl = self._template(
            self.details_text, "details", funcs=FUNCS_DETAILS, html_escape=True
        )
        # The defaults are rendered without the template engine (same output, per point).
        self._id_default = self.id_text == DEFAULT_ID_TEMPLATE
        self._message_default = self.message_text == DEFAULT_MESSAGE_TEMPLATE
        self._id_constant = _constant(self.id_text)
        # An id template that cannot see the point's tags (``.Tags`` holds all of them) is a
        # function of the name and group: render it once per group.
        self._id_per_group = "Tags" not in self.id_text
        self._id_cache: dict[str, tuple[str, str]] = {}
        # The default details are ``{{ json . }}``: encoded directly, the same bytes.
        self._details_default = self.details_text == DEFAULT_DETAILS_TEMPLATE
        # group -> (name, id, tags, escaped JSON up to "Fields":, level -> escaped message)
        self._details_prefix: dict[str, tuple[str, str, dict[str, str], str, dict[str, str]]] = {}
        self._message_constant = _constant(self.message_text)
        self._details_constant = _constant(self.details_text)

        levels: list[CompiledLambda | None] = [None] * 4
        resets: list[CompiledLambda | None] = [None] * 4
        for lvl in (INFO, WARNING, CRITICAL):
            name = _PREDICATES[lvl]
            if props.get(name) is None:
                continue  # a reset without its level is ignored, as in Kapacitor
            levels[lvl] = self._compile(props[name], name)
            if props.get(name + "Reset") is not None:
                resets[lvl] = self._compile(props[name + "Reset"], name + "Reset")
        self._levels = tuple(levels)
        self._resets = tuple(resets)

        self.history_size: int = max(2, int(props.get("history", 21)))
        self.use_flapping = bool(props.get("flapping", False))
        self.flap_low = float(props.get("flapLow", 0.0))
        self.flap_high = float(props.get("flapHigh", 0.0))
        if self.use_flapping and (self.flap_low > 1 or self.flap_high > 1):
            raise TaskError(
                f"{self.name}: alert flap thresholds are percentages and should be between 0 and 1"
            )
        self._percent_change = (
            percent_change_chronological if opts.chronological_flapping else percent_change
        )
        self.sco_interval = int(props.get("stateChangesOnlyDuration", 0) or 0)
        self.no_recoveries = bool(props.get("noRecoveries", False))
        self.all = bool(props.get("all", False))
        self.category: str = props.get("category", "")
        self.topic: str | None = props.get("topic") or None
        self.inhibit_specs: list[tuple[str, list[str]]] = [
            (i["category"], list(i["equalTags"])) for i in props.get("inhibitors", [])
        ]

        self.level_tag: str = props.get("levelTag", "")
        self.id_tag: str = props.get("idTag", "")
        self.level_field: str = props.get("levelField", "")
        self.message_field: str = props.get("messageField", "")
        self.id_field: str = props.get("idField", "")
        self.duration_field: str = props.get("durationField", "")
        self._augment_tags = bool(self.level_tag or self.id_tag)
        self._augment_fields = bool(
            self.level_field or self.message_field or self.id_field or self.duration_field
        )

        self.server_info = GoStruct(
            [
                ("Hostname", ctx.hostname),
                ("ClusterID", str(getattr(ctx, "cluster_id", ""))),
                ("ServerID", str(getattr(ctx, "server_id", ""))),
            ],
            type_name="kapacitor.serverInfo",
        )
        self._server_info_json = go_json(self.server_info)
        #: Kapacitor's alert-node statistics (``events_dropped`` is counted under its own name)
        self.alert_stats: dict[str, int] = dict.fromkeys(
            (
                "alerts_triggered",
                "alerts_inhibited",
                "oks_triggered",
                "infos_triggered",
                "warns_triggered",
                "crits_triggered",
                "events_dropped",
            ),
            0,
        )
        self._states: dict[str, _GroupState] = {}

        self.publisher: AlertSink = self._register(spec, ctx)
        self.state_changes_only = bool(props.get("stateChangesOnly", False)) or bool(
            getattr(self.publisher, "state_changes_only", False)
        )
        self._restore = getattr(self.publisher, "restore_event", None)
        self._add_inhibitor = getattr(self.publisher, "add_inhibitor", None)
        self._remove_inhibitor = getattr(self.publisher, "remove_inhibitor", None)

    # --- construction --------------------------------------------------------------------

    def _template(
        self, text: str, name: str, funcs: Any = None, html_escape: bool = False
    ) -> Template:
        try:
            return Template.parse(text, name=name, funcs=funcs, html_escape=html_escape)
        except TemplateError as exc:
            raise TaskError(f"{self.name}: invalid .{name}() template: {exc}") from None

    def _compile(self, node: Any, what: str) -> CompiledLambda:
        try:
            return compile_lambda(node)
        except CompileError as exc:
            raise TaskError(
                f"{self.name}: Failed to compile stateful expression for {what}: {exc}"
            ) from None

    def _register(self, spec: Any, ctx: TaskContext) -> AlertSink:
        return ctx.services.alerts.register_alert_node(
            task=ctx.task_name,
            node=self.name,
            handlers=list(getattr(spec, "handlers", [])),
            topic=self.topic,
            category=self.category,
            inhibitors=[(c, *tags) for c, tags in self.inhibit_specs],
            no_recoveries=self.no_recoveries,
        )

    # --- per-group state -----------------------------------------------------------------

    def _new_state(self, group: str, group_tags: dict[str, str], id_: str, t: int) -> _GroupState:
        """Kapacitor's ``NewGroup``: inhibitors for the group, then the stored state restored."""
        inhibitors = []
        for category, equal_tags in self.inhibit_specs:
            inh = Inhibitor(category, {tag: group_tags.get(tag, "") for tag in equal_tags})
            if self._add_inhibitor is not None:
                self._add_inhibitor(inh)
            inhibitors.append(inh)
        levels, resets = self._levels, self._resets
        if self.options.per_group_lambdas:
            levels = tuple(e.clone() if e is not None else None for e in levels)
            resets = tuple(e.clone() if e is not None else None for e in resets)
        st = _GroupState(self.history_size, levels, resets, inhibitors)
        self._states[group] = st
        if self._restore is not None:
            stored = self._restore(id_)
            if stored is not None and int(stored.level) != OK:
                self._add_event(st, t, int(stored.level))
                self._triggered(st, int(stored.time))
        return st

    def _drop_state(self, st: _GroupState) -> None:
        if self._remove_inhibitor is not None:
            for inh in st.inhibitors:
                self._remove_inhibitor(inh)

    def forget_group(self, group: str) -> None:
        """A barrier deleted the group: its history and inhibitors go, as on Kapacitor's Done."""
        st = self._states.pop(group, None)
        self._id_cache.pop(group, None)
        self._details_prefix.pop(group, None)
        if st is not None:
            self._drop_state(st)

    def stop(self) -> None:
        """Task stop: inhibitors are withdrawn and the anonymous topic is closed (§3.8)."""
        for st in self._states.values():
            self._drop_state(st)
        self._states.clear()
        self.publisher.close()

    def delete(self) -> None:
        """Task delete: the anonymous topic and its stored state are deleted too."""
        self.publisher.delete()

    def levels_of(self, group: str) -> list[Level]:
        """The group's history ring from oldest to newest (for tests and the status page)."""
        st = self._states.get(group)
        if st is None:
            return []
        n = len(st.history)
        return [_LEVELS[st.history[(st.idx + 1 + k) % n]] for k in range(n)]

    # --- level and history ---------------------------------------------------------------

    def _eval(self, expr: CompiledLambda, what: str, t: int, fields: Any, tags: Any) -> bool | None:
        """A predicate's value, or None after logging an evaluation error."""
        try:
            return bool(expr.eval_point_bool(t, fields, tags))
        except EvalError as exc:
            self.error(f"error evaluating {what}", error=str(exc))
            return None

    def _determine_level(self, st: _GroupState, t: int, fields: Any, tags: Any) -> int:
        """Kapacitor's ``determineLevel`` (§3.3), with its second look at the current level."""
        cur = st.history[st.idx]
        levels = st.levels
        for lvl in range(CRITICAL, max(cur, INFO) - 1, -1):
            e = levels[lvl]
            if e is not None and self._eval(e, "expression for level", t, fields, tags):
                return lvl
        if cur == OK:
            return OK
        reset = st.resets[cur]
        if reset is not None:
            ok = self._eval(reset, "reset expression for current level", t, fields, tags)
            if ok is False:
                return cur
        for lvl in range(cur, OK, -1):
            e = levels[lvl]
            if e is not None and self._eval(e, "expression for level", t, fields, tags):
                return lvl
        return OK

    def _add_event(self, st: _GroupState, t: int, level: int) -> None:
        history = st.history
        st.changed = history[st.idx] != level
        st.idx = (st.idx + 1) % len(history)
        history[st.idx] = level
        if self.use_flapping:
            p = self._percent_change(history, st.idx)
            if st.flapping and p < self.flap_low:
                st.flapping = False
            elif not st.flapping and p > self.flap_high:
                st.flapping = True
        st.expired = (
            not st.changed
            and self.sco_interval != 0
            and go_sub(t, st.last_triggered) >= self.sco_interval
        )

    def _triggered(self, st: _GroupState, t: int) -> None:
        st.last_triggered = t
        prev = st.idx - 1 if st.idx else len(st.history) - 1
        if st.history[prev] == OK:
            st.first_triggered = t
        active = st.history[st.idx] != OK
        for inh in st.inhibitors:
            inh.active = active

    def _suppressed(self, st: _GroupState) -> bool:
        return (self.use_flapping and st.flapping) or (
            self.state_changes_only and not st.changed and not st.expired
        )

    # --- templates -----------------------------------------------------------------------

    def _id_data(self, name: str, group: str, tags: dict[str, str]) -> GoStruct:
        return GoStruct(
            [
                ("Name", name),
                ("TaskName", self.ctx.task_name),
                ("Group", group or "nil"),
                ("Tags", StringMap(tags)),
                ("ServerInfo", self.server_info),
            ],
            type_name="kapacitor.idInfo",
        )

    def _render_id(self, name: str, group: str, tags: dict[str, str]) -> str:
        if self._id_default:
            return f"{name}:{group or 'nil'}"
        if self._id_constant is not None:
            return self._id_constant
        if self._id_per_group:
            cached = self._id_cache.get(group)
            if cached is not None and cached[0] == name:
                return cached[1]
            id_ = self._id_tmpl.execute(self._id_data(name, group, tags))
            self._id_cache[group] = (name, id_)
            return id_
        return self._id_tmpl.execute(self._id_data(name, group, tags))

    def _message_data(
        self,
        id_: str,
        name: str,
        group: str,
        tags: dict[str, str],
        fields: dict[str, Any],
        level_name: str,
        t: int,
        duration: Duration,
    ) -> GoStruct:
        """Kapacitor's ``messageInfo`` (the ID data embedded, so its fields come first)."""
        data = self._id_data(name, group, tags)
        data.type_name = "kapacitor.messageInfo"
        data["ID"] = id_
        data["Fields"] = fields
        data["Level"] = level_name
        data["Time"] = Time(t)
        data["Duration"] = duration
        return data

    def _build_event(
        self,
        st: _GroupState,
        id_: str,
        name: str,
        group: str,
        tags: dict[str, str],
        fields: dict[str, Any],
        level: int,
        t: int,
        rows: list[dict[str, Any]] | None,
    ) -> Event:
        """The event for an emission; raises TemplateExecError from the message or details.

        ``rows=None`` stands for the stream point's row, built when a handler first asks."""
        duration = Duration(go_sub(st.last_triggered, st.first_triggered))
        level_name = _LEVEL_NAMES[level]
        data: GoStruct | None = None
        message = self._message_constant
        if message is None and self._message_default:
            message = f"{id_} is {level_name}"
        if message is None:
            data = self._message_data(id_, name, group, tags, fields, level_name, t, duration)
            message = self._message_tmpl.execute(data)
        details = self._details_constant
        if details is None and self._details_default:
            try:
                details = self._default_details(
                    id_, name, group, tags, fields, level_name, t, duration, message
                )
            except (TypeError, ValueError):  # NaN and the like: the template path reports it
                details = None
        if details is None:
            if data is None:
                data = self._message_data(id_, name, group, tags, fields, level_name, t, duration)
            data["Message"] = message
            data.type_name = "kapacitor.detailsInfo"
            details = self._details_tmpl.execute(data)
        tags = dict(tags)
        fields = dict(fields)
        data_ = EventData(
            name,
            self.ctx.task_name,
            self.category,
            group,
            tags,
            fields,
            not self.no_recoveries,
            None if rows is None else result(rows),
            make_result=None if rows is not None else lambda: _point_result(name, tags, fields, t),
        )
        return Event(
            "", EventState(id_, message, details, Time(t), duration, _LEVELS[level]), data_
        )

    def _default_details(
        self,
        id_: str,
        name: str,
        group: str,
        tags: dict[str, str],
        fields: dict[str, Any],
        level_name: str,
        t: int,
        duration: Duration,
        message: str,
    ) -> str:
        """``{{ json . }}`` of Kapacitor's ``detailsInfo`` in html/template, without the
        template engine: the struct's fields in order, HTML-escaped piece by piece (the
        escaping maps characters one by one).  The part up to ``"ID"`` is kept per group."""
        cached = self._details_prefix.get(group)
        if cached is None or cached[0] != name or cached[1] != id_ or cached[2] != tags:
            prefix = _html_text_escape(
                "".join(
                    (
                        '{"Name":',
                        go_json(name),
                        ',"TaskName":',
                        go_json(self.ctx.task_name),
                        ',"Group":',
                        go_json(group or "nil"),
                        ',"Tags":',
                        go_json(StringMap(tags)),
                        ',"ServerInfo":',
                        self._server_info_json,
                        ',"ID":',
                        go_json(id_),
                        ',"Fields":',
                    )
                )
            )
            cached = (name, id_, dict(tags), prefix, {})
            self._details_prefix[group] = cached
        if self._message_default:
            # "<id> is <LEVEL>": the same four messages again and again, escaped once each
            message_escaped = cached[4].get(level_name)
            if message_escaped is None:
                message_escaped = cached[4][level_name] = _html_text_escape(
                    go_json(id_)[:-1] + " is " + level_name + '"'
                )
        else:
            message_escaped = _html_text_escape(go_json(message))
        return "".join(
            (
                cached[3],
                _fields_json_escaped(fields),
                _Q_LEVEL,
                level_name,
                _Q_TIME,
                _rfc3339nano(t),
                _Q_DURATION,
                str(int(duration)),
                _Q_MESSAGE,
                message_escaped,
                "}\n",
            )
        )

    # --- publication ---------------------------------------------------------------------

    def _handle_event(self, event: Event) -> None:
        """Kapacitor's ``handleEvent``: inhibition, statistics, then the topics (§3.8)."""
        stats = self.alert_stats
        if self.publisher.is_inhibited(event.data.category, event.data.tags):
            stats["alerts_inhibited"] += 1
            return
        stats["alerts_triggered"] += 1
        stats[_STAT_BY_LEVEL[event.state.level]] += 1  # (a tuple: Enum's hash is slow)
        try:
            self.publisher.publish(event)
        except Exception as exc:  # a full queue or a broken handler must not stop the task
            stats["events_dropped"] += 1
            self.error("encountered error collecting event", error=str(exc), id=event.state.id)

    # --- stream --------------------------------------------------------------------------

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        try:
            id_ = self._render_id(p.name, p.group, p.tags)
        except TemplateExecError as exc:
            self.error("failed to render alert id", error=str(exc))
            return
        st = self._states.get(p.group)
        if st is None:
            st = self._new_state(p.group, p.group_tags(), id_, p.time)
        level = self._determine_level(st, p.time, p.fields, p.tags)
        self._add_event(st, p.time, level)
        if self._suppressed(st):
            return
        if level == OK and not st.changed:
            return
        self._triggered(st, p.time)
        if self.no_recoveries and level == OK:
            return
        try:
            event = self._build_event(
                st, id_, p.name, p.group, p.tags, p.fields, level, p.time, None
            )
        except TemplateExecError as exc:
            self.error("failed to render alert message or details", error=str(exc), id=id_)
            return
        self._handle_event(event)
        self.emit_point(self._augment_point(p, event.state))

    def _augment_point(self, p: Point, state: EventState) -> Point:
        if not (self._augment_tags or self._augment_fields):
            return p
        changes: dict[str, Any] = {}
        if self._augment_tags:
            changes["tags"] = self._augmented_tags(p.tags, state)
        if self._augment_fields:
            changes["fields"] = self._augmented_fields(p.fields, state)
        return p.copy(**changes) if changes else p

    def _augmented_tags(self, tags: dict[str, str], state: EventState) -> dict[str, str]:
        tags = dict(tags)
        if self.level_tag:
            tags[self.level_tag] = _LEVEL_NAMES[state.level]
        if self.id_tag:
            tags[self.id_tag] = state.id
        return tags

    def _augmented_fields(self, fields: dict[str, Any], state: EventState) -> dict[str, Any]:
        fields = dict(fields)
        if self.level_field:
            fields[self.level_field] = _LEVEL_NAMES[state.level]
        if self.message_field:
            fields[self.message_field] = state.message
        if self.id_field:
            fields[self.id_field] = state.id
        if self.duration_field:
            fields[self.duration_field] = int(state.duration)
        return fields

    # --- batch ---------------------------------------------------------------------------

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        try:
            id_ = self._render_id(b.name, b.group, b.tags)
        except TemplateExecError as exc:
            self.error("failed to render alert id", error=str(exc))
            return
        st = self._states.get(b.group)
        if st is None:
            st = self._new_state(b.group, b.tags, id_, b.tmax)
        if not b.points:
            return
        lowest, highest = CRITICAL, OK
        highest_point: BatchPoint | None = None
        for bp in b.points:
            lvl = self._determine_level(st, bp.time, bp.fields, bp.tags)
            if lvl < lowest:
                lowest = lvl
            if lvl > highest or highest_point is None:
                highest = lvl
                highest_point = bp
        assert highest_point is not None
        level = lowest if self.all else highest
        t = b.tmax if (self.all or level == OK) else highest_point.time
        self._add_event(st, t, level)
        # Unlike a stream, a batch recovery is sent even while flapping.
        if not ((st.changed and level == OK) or (level != OK and not self._suppressed(st))):
            return
        self._triggered(st, t)
        if self.no_recoveries and level == OK:
            return
        try:
            event = self._build_event(
                st, id_, b.name, b.group, b.tags, highest_point.fields, level, t, [batch_row(b)]
            )
        except TemplateExecError as exc:
            self.error("failed to render alert message or details", error=str(exc), id=id_)
            return
        self._handle_event(event)
        self.emit_batch(self._augment_batch(b, event.state))

    def _augment_batch(self, b: Batch, state: EventState) -> Batch:
        if not (self._augment_tags or self._augment_fields):
            return b
        points = []
        for bp in b.points:
            tags = self._augmented_tags(bp.tags, state) if self._augment_tags else bp.tags
            fields = self._augmented_fields(bp.fields, state) if self._augment_fields else bp.fields
            points.append(BatchPoint(bp.time, fields, tags))
        if not self._augment_tags:
            return b.copy(points=points)
        # Kapacitor's BeginBatchMessage.SetTags makes every tag of the batch a dimension.
        tags = self._augmented_tags(b.tags, state)
        dims = Dimensions(b.dims.by_name, tuple(sorted(tags)))
        return b.copy(points=points, tags=tags, dims=dims, group=group_id(b.name, tags, dims))


#: html/template's escaping in an HTML text context, "&" first so no escape is escaped again
_HTML_TEXT_ESCAPES = (
    ("&", "&amp;"),
    ('"', "&#34;"),
    ("'", "&#39;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ("+", "&#43;"),
    ("\0", "\ufffd"),
)


def _html_text_escape(text: str) -> str:
    """html/template's text escaper (the template engine's, for plain strings)."""
    for char, escaped in _HTML_TEXT_ESCAPES:
        if char in text:
            text = text.replace(char, escaped)
    return text


def _point_result(name: str, tags: dict[str, str], fields: dict[str, Any], t: int) -> Any:
    """The models.Result of a stream point, from the event's own copies of its dicts."""
    return result([point_row(Point(name, tags, fields, t))])


def _value_json_escaped(v: Any) -> str:
    """``_html_text_escape(go_json(v))`` with shortcuts for the common field values."""
    tv = type(v)
    if tv is float:
        # Python's repr and Go's encoder agree on the shortest digits; in this range both
        # write them without an exponent (Go adds no ".0", and no escaping is needed).
        if 1e-4 <= abs(v) < 1e16:
            r = repr(v)
            return r[:-2] if r.endswith(".0") else r
    elif tv is int:
        return int.__repr__(v)
    elif tv is bool:
        return "true" if v else "false"
    return _html_text_escape(go_json(v))


#: a fields dict's keys in insertion order -> its sorted keys, each with the escaped JSON
#: that comes before its value (``{"a":`` then ``,"b":``)
_FIELD_KEYS: dict[tuple[Any, ...], tuple[tuple[Any, str], ...]] = {}


def _fields_json_escaped(fields: dict[str, Any]) -> str:
    """``_html_text_escape(go_json(fields))``: the escaping maps characters one by one, so
    the key pieces are escaped once per key set and the values one by one."""
    if not fields:
        return "{}"
    order = tuple(fields)
    keys = _FIELD_KEYS.get(order)
    if keys is None:
        if len(_FIELD_KEYS) > 1024:
            _FIELD_KEYS.clear()
        if not all(type(k) is str for k in order):
            return _html_text_escape(go_json(fields))
        sep = "{"
        built = []
        for k in sorted(order):
            built.append((k, _html_text_escape(sep + go_json(k) + ":")))
            sep = ","
        keys = _FIELD_KEYS[order] = tuple(built)
    if len(keys) == 1:
        ((k, piece),) = keys
        return piece + _value_json_escaped(fields[k]) + "}"
    parts = [piece + _value_json_escaped(fields[k]) for k, piece in keys]
    parts.append("}")
    return "".join(parts)


#: day number since the epoch -> Go's RFC 3339 date part of it, ``YYYY-MM-DDT``
_DAYS: dict[int, str] = {}


def _rfc3339nano(t: int) -> str:
    """``Time(t).rfc3339nano()``, with the date part formatted once per day; the last time is
    kept, since every task alerting on a point formats the same one."""
    global _LAST_TIME
    last = _LAST_TIME
    if last[0] == t:
        return last[1]
    text = _format_rfc3339nano(t)
    _LAST_TIME = (t, text)
    return text


_LAST_TIME: tuple[int | None, str] = (None, "")


def _format_rfc3339nano(t: int) -> str:
    secs, nanos = divmod(t, 1_000_000_000)
    day, sod = divmod(secs, 86400)
    date = _DAYS.get(day)
    if date is None:
        if len(_DAYS) > 4096:
            _DAYS.clear()
        date = _DAYS[day] = Time(day * 86400 * 1_000_000_000).rfc3339()[:-9]
    hh, rest = divmod(sod, 3600)
    mm, ss = divmod(rest, 60)
    if nanos:
        return f"{date}{hh:02d}:{mm:02d}:{ss:02d}.{str(nanos).rjust(9, '0').rstrip('0')}Z"
    return f"{date}{hh:02d}:{mm:02d}:{ss:02d}Z"


# The details' constant JSON between values, already escaped (``"`` is ``&#34;``).
_Q_LEVEL = _html_text_escape(',"Level":"')
_Q_TIME = _html_text_escape('","Time":"')
_Q_DURATION = _html_text_escape('","Duration":')
_Q_MESSAGE = _html_text_escape(',"Message":')

_STAT_BY_LEVEL = ("oks_triggered", "infos_triggered", "warns_triggered", "crits_triggered")
