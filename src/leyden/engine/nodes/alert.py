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

The node's parts live beside it: :mod:`.alert_settings` reads the TICKscript properties into a
frozen :class:`~.alert_settings.AlertSettings`, :mod:`.alert_state` holds a group's state and
the flapping measure, and :mod:`.alert_render` encodes the default details without the
template engine.  This module wires them: compiled lambdas and templates, the per-point
algorithm, events and the data sent on.

Work nobody can observe is skipped (issue 11): an OK group meeting an OK point only evaluates
its predicates (in one lambda when they are plain comparisons); an event that nothing would
read (no handler, topic or listener: the publisher's ``publish_unread``) is not built, only
counted; otherwise its message and details are rendered on first read
(:meth:`~leyden.model.alert.EventState.derived`), byte for byte what they would have been.
Whenever rendering could fail (custom templates, values Go's encoder refuses) it happens at
once, so the error drops the event as in Kapacitor.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from leyden.engine.model import Batch, BatchPoint, Dimensions, Point, group_id
from leyden.engine.node import Node, TaskContext, TaskError, register
from leyden.engine.nodes.alert_render import DefaultParts, DetailsRenderer
from leyden.engine.nodes.alert_settings import LEVEL_PROPERTIES, AlertSettings, AlertSettingsError
from leyden.engine.nodes.alert_state import (
    CRITICAL,
    INFO,
    OK,
    WARNING,
    GroupState,
    percent_change,
    percent_change_chronological,
)
from leyden.engine.result import batch_row, point_row, result
from leyden.engine.services import AlertNodeOptions, AlertSink
from leyden.go.template import FUNCS_DETAILS, Template, TemplateError, TemplateExecError
from leyden.go.time import sub as go_sub
from leyden.go.types import Duration, GoStruct, StringMap, Time, go_json
from leyden.model.alert import Event, EventData, EventState, Inhibitor, Level
from leyden.tick.ast import (
    BinaryNode,
    BoolNode,
    DurationNode,
    LambdaNode,
    NumberNode,
    ReferenceNode,
    RegexNode,
    StringNode,
    UnaryNode,
)
from leyden.tick.lambdas import CompiledLambda, CompileError, EvalError, compile_lambda
from leyden.tick.pipeline import (
    DEFAULT_DETAILS_TEMPLATE,
    DEFAULT_ID_TEMPLATE,
    DEFAULT_MESSAGE_TEMPLATE,
)

__all__ = ["AlertNode", "QuietSeam", "Threshold"]

#: :meth:`AlertNode.quiet_seam`: the states by group ID, and ``test(time, fields, tags)``
QuietSeam = tuple[dict[str, GroupState], Callable[[int, Any, Any], bool]]


_LEVELS = (Level.OK, Level.INFO, Level.WARNING, Level.CRITICAL)
_LEVEL_NAMES = ("OK", "INFO", "WARNING", "CRITICAL")


def _constant(text: str) -> str | None:
    """The output of a template without actions, which needs no rendering."""
    return None if "{{" in text else text


@register("alert")
class AlertNode(Node):
    """Decides alert levels per group, publishes events and forwards the alerting data."""

    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        try:
            settings = AlertSettings.from_spec(spec.properties)
        except AlertSettingsError as exc:
            raise TaskError(f"{self.name}: {exc}") from None
        self.settings = settings

        self._id_tmpl = self._template(settings.id_template, "id")
        self._message_tmpl = self._template(settings.message_template, "message")
        self._details_tmpl = self._template(
            settings.details_template, "details", funcs=FUNCS_DETAILS, html_escape=True
        )
        # The defaults are rendered without the template engine (same output, per point).
        self._id_default = settings.id_template == DEFAULT_ID_TEMPLATE
        self._message_default = settings.message_template == DEFAULT_MESSAGE_TEMPLATE
        self._id_constant = _constant(settings.id_template)
        # An id template that cannot see the point's tags (``.Tags`` holds all of them) is a
        # function of the name and group: render it once per group.
        self._id_per_group = "Tags" not in settings.id_template
        self._id_cache: dict[str, tuple[str, str]] = {}
        self._message_constant = _constant(settings.message_template)
        self._details_constant = _constant(settings.details_template)

        self._levels, self._resets = self._compile_levels(settings)
        self._any_level = self._compile_any_level(self._levels)
        self._quiet_test = self._compile_quiet_test(self._levels, self._any_level)
        self._thresholds = _thresholds(self._levels) if self._quiet_test is not None else None

        # Read for every point: kept as plain attributes (one lookup instead of two).
        self.use_flapping = settings.flapping
        self.sco_interval = settings.state_changes_only_interval
        self.no_recoveries = settings.no_recoveries
        self._augment_tags = settings.augments_tags
        self._augment_fields = settings.augments_fields

        self.server_info = _server_info(ctx)
        # The default details (``{{ json . }}``) are encoded directly: the same bytes.
        self._details_default = settings.details_template == DEFAULT_DETAILS_TEMPLATE
        self._details = DetailsRenderer(
            ctx.task_name, go_json(self.server_info), message_default=self._message_default
        )
        # Events are lazy (message and details rendered on first read) when rendering cannot
        # fail: an error would drop the event now (Kapacitor logs it and sends nothing on).
        # The default or a constant message cannot fail, nor can constant details; the
        # default details fail only on values Go's encoder refuses (checked per event).
        self._message_fixed = self._message_default or self._message_constant is not None
        self._parts = DefaultParts(self._details, self._message_constant, self._details_constant)
        # An ID rendered once for a group renders the same again (default, constant, or a
        # template that cannot see the point's tags): quiet points need not render it.
        self._id_reusable = self._id_default or self._id_constant is not None or self._id_per_group
        # An OK point in an all-OK, not flapping group changes nothing, unless a negative
        # flapHigh would make the measure 0 count as flapping.
        self._quiet_allowed = not (settings.flapping and settings.flap_high < 0)
        self._augments = self._augment_tags or self._augment_fields
        self._category = settings.category
        #: Kapacitor's alert-node statistics (``events_dropped`` is counted under its own name)
        self.alert_stats: dict[str, int] = dict.fromkeys(_STAT_NAMES, 0)
        self._states: dict[str, GroupState] = {}

        opts = ctx.services.alert_options
        self.options: AlertNodeOptions = opts
        self._percent_change = (
            percent_change_chronological if opts.chronological_flapping else percent_change
        )
        self.publisher: AlertSink = self._register(spec, ctx)
        self.state_changes_only = settings.state_changes_only or bool(
            getattr(self.publisher, "state_changes_only", False)
        )
        self._restore = getattr(self.publisher, "restore_event", None)
        self._publish_unread = getattr(self.publisher, "publish_unread", None)
        #: events of this node may go unbuilt (when nothing reads them: see _unread)
        self._unread_possible = (
            self._publish_unread is not None
            and not self._augments
            and self._message_fixed
            and (self._details_constant is not None or self._details_default)
        )
        self._add_inhibitor = getattr(self.publisher, "add_inhibitor", None)
        self._remove_inhibitor = getattr(self.publisher, "remove_inhibitor", None)
        count_errors_in = getattr(self.publisher, "count_errors_in", None)
        if count_errors_in is not None:  # lost deliveries are this node's errors (issue 10)
            count_errors_in(self.stats)

    # --- construction --------------------------------------------------------------------

    def _template(
        self, text: str, name: str, funcs: Any = None, html_escape: bool = False
    ) -> Template:
        try:
            return Template.parse(text, name=name, funcs=funcs, html_escape=html_escape)
        except TemplateError as exc:
            raise TaskError(f"{self.name}: invalid .{name}() template: {exc}") from None

    def _compile_levels(
        self, settings: AlertSettings
    ) -> tuple[tuple[CompiledLambda | None, ...], tuple[CompiledLambda | None, ...]]:
        """The level predicates and their resets, compiled, by level (OK's slot is None)."""
        levels: list[CompiledLambda | None] = [None] * 4
        resets: list[CompiledLambda | None] = [None] * 4
        for lvl in (INFO, WARNING, CRITICAL):
            name = LEVEL_PROPERTIES[lvl]
            if settings.predicates[lvl] is None:
                continue
            levels[lvl] = self._compile(settings.predicates[lvl], name)
            if settings.resets[lvl] is not None:
                resets[lvl] = self._compile(settings.resets[lvl], name + "Reset")
        return tuple(levels), tuple(resets)

    def _compile_any_level(
        self, levels: tuple[CompiledLambda | None, ...]
    ) -> CompiledLambda | None:
        """``crit OR warn OR info`` in one lambda (the field reads shared), for OK groups: when
        it is false, every predicate is false without an error, so the point is OK.  Only for
        predicates made of comparisons and logic, without functions: each then gives a bool or
        an error, and has no state that a second evaluation would disturb.  (True or an error:
        the predicates are evaluated one by one, as Kapacitor does.)"""
        exprs = [
            e.node.expression if isinstance(e.node, LambdaNode) else e.node
            for e in reversed(levels)
            if e is not None
        ]
        if len(exprs) < 2 or not all(_boolean_without_functions(x) for x in exprs):
            return None
        combined = exprs[0]
        for x in exprs[1:]:
            combined = BinaryNode(combined.pos, "OR", combined, x)
        try:
            return compile_lambda(combined)
        except CompileError:
            return None

    @staticmethod
    def _compile_quiet_test(
        levels: tuple[CompiledLambda | None, ...], any_level: CompiledLambda | None
    ) -> Callable[[int, Any, Any], bool] | None:
        """The test :meth:`quiet_seam` offers: ``any_level``, or the only predicate when it is
        a comparison without functions (a bool or an error, no state: evaluating it once more
        in :meth:`point` changes nothing)."""
        if any_level is not None:
            return any_level.eval_point_bool
        tests = [e for e in levels if e is not None]
        if len(tests) != 1:
            return None
        node = tests[0].node
        expr = node.expression if isinstance(node, LambdaNode) else node
        return tests[0].eval_point_bool if _boolean_without_functions(expr) else None

    def _compile(self, node: Any, what: str) -> CompiledLambda:
        try:
            return compile_lambda(node)
        except CompileError as exc:
            raise TaskError(
                f"{self.name}: Failed to compile stateful expression for {what}: {exc}"
            ) from None

    def _register(self, spec: Any, ctx: TaskContext) -> AlertSink:
        settings = self.settings
        return ctx.services.alerts.register_alert_node(
            task=ctx.task_name,
            node=self.name,
            handlers=list(getattr(spec, "handlers", [])),
            topic=settings.topic,
            category=settings.category,
            inhibitors=[(c, *tags) for c, tags in settings.inhibitors],
            no_recoveries=settings.no_recoveries,
        )

    # --- per-group state -----------------------------------------------------------------

    def _new_state(self, group: str, group_tags: dict[str, str], id_: str, t: int) -> GroupState:
        """Kapacitor's ``NewGroup``: inhibitors for the group, then the stored state restored."""
        inhibitors = []
        for category, equal_tags in self.settings.inhibitors:
            inh = Inhibitor(category, {tag: group_tags.get(tag, "") for tag in equal_tags})
            if self._add_inhibitor is not None:
                self._add_inhibitor(inh)
            inhibitors.append(inh)
        levels, resets = self._levels, self._resets
        if self.options.per_group_lambdas:
            levels = tuple(e.clone() if e is not None else None for e in levels)
            resets = tuple(e.clone() if e is not None else None for e in resets)
        st = GroupState(self.settings.history, levels, resets, inhibitors)
        self._states[group] = st
        if self._restore is not None:
            stored = self._restore(id_)
            if stored is not None and int(stored.level) != OK:
                self._add_event(st, t, int(stored.level))
                self._triggered(st, int(stored.time))
        return st

    def _drop_state(self, st: GroupState) -> None:
        if self._remove_inhibitor is not None:
            for inh in st.inhibitors:
                self._remove_inhibitor(inh)

    def forget_group(self, group: str) -> None:
        """A barrier deleted the group: its history and inhibitors go, as on Kapacitor's Done."""
        st = self._states.pop(group, None)
        self._id_cache.pop(group, None)
        self._details.forget(group)
        if st is not None:
            self._drop_state(st)

    def cardinality(self) -> int:
        return len(self._states)

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

    def _determine_level(self, st: GroupState, t: int, fields: Any, tags: Any) -> int:
        """Kapacitor's ``determineLevel`` (§3.3), with its second look at the current level."""
        cur = st.history[st.idx]
        for lvl, e in st.tests:  # the predicates from CRITICAL down to the current level
            if lvl < cur:
                break
            try:
                if e.eval_point_bool(t, fields, tags):
                    return lvl
            except EvalError as exc:  # (self._eval, inline)
                self.error("error evaluating expression for level", error=str(exc))
        if cur == OK:
            return OK
        reset = st.resets[cur]
        if reset is not None:
            ok = self._eval(reset, "reset expression for current level", t, fields, tags)
            if ok is False:
                return cur
        for lvl, e in st.tests:  # the current level and below, again
            if lvl <= cur and self._eval(e, "expression for level", t, fields, tags):
                return lvl
        return OK

    def _add_event(self, st: GroupState, t: int, level: int) -> None:
        history = st.history
        n = len(history)
        st.changed = changed = history[st.idx] != level
        st.idx = (st.idx + 1) % n
        history[st.idx] = level
        st.run = 1 if changed else min(st.run + 1, n)
        if self.use_flapping:
            p = self._percent_change(history, st.idx)
            if st.flapping and p < self.settings.flap_low:
                st.flapping = False
            elif not st.flapping and p > self.settings.flap_high:
                st.flapping = True
        st.quiet = level == OK and st.run == n and not st.flapping and self._quiet_allowed
        st.expired = (
            not st.changed
            and self.sco_interval != 0
            and go_sub(t, st.last_triggered) >= self.sco_interval
        )

    def _triggered(self, st: GroupState, t: int) -> None:
        st.last_triggered = t
        prev = st.idx - 1 if st.idx else len(st.history) - 1
        if st.history[prev] == OK:
            st.first_triggered = t
        active = st.history[st.idx] != OK
        for inh in st.inhibitors:
            inh.active = active

    def _suppressed(self, st: GroupState) -> bool:
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

    def _event(
        self,
        st: GroupState,
        id_: str,
        name: str,
        group: str,
        tags: dict[str, str],
        fields: dict[str, Any],
        level: int,
        t: int,
        batch: Batch | None,
        lazy: bool,
    ) -> Event:
        """The event for an emission; raises TemplateExecError from the message or details.

        ``lazy``: the details cannot fail to render (see ``__init__``), so they are rendered
        when first read, and so is a default message; otherwise both are rendered now.  The
        models.Result (the stream point's row, or ``batch``'s) is built when a handler first
        asks.  The event's data holds the point's own tags and fields: points are immutable
        (:mod:`leyden.engine.model`)."""
        duration = go_sub(st.last_triggered, st.first_triggered)
        data = EventData(
            name,
            self.ctx.task_name,
            self._category,
            group,
            tags,
            fields,
            not self.no_recoveries,
            make_result=partial(_point_result, name, tags, fields, t)
            if batch is None
            else partial(_batch_result, batch),
        )
        if lazy:
            message = self._message_constant
            if message is None and not self._message_default:
                message = self._message_tmpl.execute(
                    self._message_data(
                        id_, name, group, tags, fields, _LEVEL_NAMES[level], t, Duration(duration)
                    )
                )
            state = EventState.derived(
                id_,
                t,
                duration,
                _LEVELS[level],
                self._parts,
                data,
                message=message,
                details=self._details_constant,
            )
        else:
            state = self._rendered_state(id_, name, group, tags, fields, level, t, duration)
        return Event("", state, data)

    def _rendered_state(
        self,
        id_: str,
        name: str,
        group: str,
        tags: dict[str, str],
        fields: dict[str, Any],
        level: int,
        t: int,
        duration_ns: int,
    ) -> EventState:
        """The event state with its message and details rendered now (raises
        TemplateExecError: a template failed, or the fields hold what Go's encoder refuses)."""
        duration = Duration(duration_ns)
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
                details = self._details.render(
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
        return EventState(id_, message, details, Time(t), duration, _LEVELS[level])

    # --- publication ---------------------------------------------------------------------

    def _publish(
        self,
        st: GroupState,
        id_: str,
        name: str,
        group: str,
        tags: dict[str, str],
        fields: dict[str, Any],
        level: int,
        t: int,
        batch: Batch | None,
    ) -> Event | None:
        """Build and publish an emission's event: the event, or None when none was built as
        nothing would read it (then nothing is augmented either).  Raises TemplateExecError
        when rendering fails, before anything is counted or sent (Kapacitor drops the event).

        Nothing reads an event when the publisher says so (``publish_unread``: no handler,
        topic or listener) and the node augments no point; an event is left unbuilt only if
        its rendering cannot fail, as a render error is reported even then."""
        lazy = self._details_constant is not None or (self._details_default and _plain(fields))
        unread = self._publish_unread
        if unread is None or not (lazy and self._unread_possible):
            built = self._event(st, id_, name, group, tags, fields, level, t, batch, lazy)
            self._handle_event(built)
            return built
        stats = self.alert_stats
        if self.publisher.is_inhibited(self._category, tags):
            stats["alerts_inhibited"] += 1
            return None
        stats["alerts_triggered"] += 1
        stats[_STAT_BY_LEVEL[level]] += 1
        event: Event | None = None
        try:
            if unread(id_, _LEVELS[level]):
                return None
            event = self._event(st, id_, name, group, tags, fields, level, t, batch, True)
            self.publisher.publish(event)
        except Exception as exc:  # as in _handle_event
            stats["events_dropped"] += 1
            self.error("encountered error collecting event", error=str(exc), id=id_)
        return event

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
        except Exception as exc:  # a failing topic, listener or store must not stop the task
            stats["events_dropped"] += 1
            self.error("encountered error collecting event", error=str(exc), id=event.state.id)

    # --- stream --------------------------------------------------------------------------

    def quiet_seam(self) -> QuietSeam | None:
        """What a caller running :meth:`point` inline (:mod:`leyden.engine.fused`) needs to
        skip the common case itself: the groups' states by group ID and the one-lambda test.

        A point ``p`` may be skipped, counted only in ``stats.collected``, exactly when
        ``st = states.get(p.group)`` is a :class:`GroupState` with ``st.quiet`` true and
        ``st.quiet_name == p.name``, and ``test(p.time, p.fields, p.tags)`` returns false;
        every other point (the test true or raising included) goes to :meth:`point`, which
        then does what it always does.  None when there is no such test (a predicate with
        functions, or no level at all) or ``point`` is replaced on this instance.
        """
        if self._quiet_test is None or "point" in self.__dict__:
            return None
        return self._states, self._quiet_test

    def quiet_thresholds(self) -> tuple[Threshold, ...] | None:
        """:meth:`quiet_seam`'s test spelled out, for a caller compiling it into its own code,
        when every level predicate is one comparison of a field with a number (alert
        thresholds, the common case): ``(field, operator, number, field_on_the_left)`` each.

        For a point whose every such field holds an ``int`` or a ``float`` (not a bool) and
        whose tags have none of their names, the test is true exactly when a comparison holds
        (Python's, as the compiled lambdas compare two numbers); for any other point the
        caller must use the test of :meth:`quiet_seam`.  None when the predicates are other.
        """
        return self._thresholds

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        st = self._states.get(p.group)
        if st is None or st.quiet_name != p.name:
            self._point(p, st, None, None)
        elif st.quiet:
            # The common case, kept short: an OK group meets another OK point (Kapacitor's
            # determineLevel from an OK level: the predicates from CRITICAL down).
            t, fields, tags = p.time, p.fields, p.tags
            any_level = self._any_level
            if any_level is not None:
                try:
                    if not any_level.eval_point_bool(t, fields, tags):
                        return
                except EvalError:
                    pass  # one by one, reporting the error as Kapacitor does
            level = OK
            for lvl, e in st.tests:
                try:
                    if e.eval_point_bool(t, fields, tags):
                        level = lvl
                        break
                except EvalError as exc:
                    self.error("error evaluating expression for level", error=str(exc))
            if level != OK:
                self._point(p, st, st.id, level)
        else:
            self._point(p, st, st.id, None)

    def _point(self, p: Point, st: GroupState | None, id_: str | None, level: int | None) -> None:
        """A point's alert algorithm; ``id_`` and ``level`` when already known."""
        t = p.time
        if id_ is None:
            try:
                id_ = self._render_id(p.name, p.group, p.tags)
            except TemplateExecError as exc:
                self.error("failed to render alert id", error=str(exc))
                return
            if st is None:
                if not self.admit_group():
                    return
                st = self._new_state(p.group, p.group_tags(), id_, t)
            if self._id_reusable:
                st.quiet_name = p.name
                st.id = id_
        assert st is not None
        if level is None:
            level = self._determine_level(st, t, p.fields, p.tags)
        self._add_event(st, t, level)
        # _suppressed and _triggered, inline (this runs for every point of an alerting group)
        if (self.use_flapping and st.flapping) or (
            self.state_changes_only and not st.changed and not st.expired
        ):
            return
        if level == OK and not st.changed:
            return
        st.last_triggered = t
        history = st.history
        if history[st.idx - 1 if st.idx else len(history) - 1] == OK:
            st.first_triggered = t
        if st.inhibitors:
            active = level != OK
            for inh in st.inhibitors:
                inh.active = active
        if self.no_recoveries and level == OK:
            return
        try:
            event = self._publish(st, id_, p.name, p.group, p.tags, p.fields, level, t, None)
        except TemplateExecError as exc:
            self.error("failed to render alert message or details", error=str(exc), id=id_)
            return
        self.emit_point(p if event is None else self._augment_point(p, event.state))

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
        settings = self.settings
        tags = dict(tags)
        if settings.level_tag:
            tags[settings.level_tag] = _LEVEL_NAMES[state.level]
        if settings.id_tag:
            tags[settings.id_tag] = state.id
        return tags

    def _augmented_fields(self, fields: dict[str, Any], state: EventState) -> dict[str, Any]:
        settings = self.settings
        fields = dict(fields)
        if settings.level_field:
            fields[settings.level_field] = _LEVEL_NAMES[state.level]
        if settings.message_field:
            fields[settings.message_field] = state.message
        if settings.id_field:
            fields[settings.id_field] = state.id
        if settings.duration_field:
            fields[settings.duration_field] = int(state.duration)
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
            if not self.admit_group():
                return
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
        all_points = self.settings.all_points
        level = lowest if all_points else highest
        t = b.tmax if (all_points or level == OK) else highest_point.time
        self._add_event(st, t, level)
        # Unlike a stream, a batch recovery is sent even while flapping.
        if not ((st.changed and level == OK) or (level != OK and not self._suppressed(st))):
            return
        self._triggered(st, t)
        if self.no_recoveries and level == OK:
            return
        try:
            event = self._publish(
                st, id_, b.name, b.group, b.tags, highest_point.fields, level, t, b
            )
        except TemplateExecError as exc:
            self.error("failed to render alert message or details", error=str(exc), id=id_)
            return
        self.emit_batch(b if event is None else self._augment_batch(b, event.state))

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


def _server_info(ctx: TaskContext) -> GoStruct:
    """Kapacitor's ``serverInfo``, which every template sees as ``.ServerInfo``; Leyden has
    no cluster or server ID, so both print empty."""
    return GoStruct(
        [("Hostname", ctx.hostname), ("ClusterID", ""), ("ServerID", "")],
        type_name="kapacitor.serverInfo",
    )


def _point_result(name: str, tags: dict[str, str], fields: dict[str, Any], t: int) -> Any:
    """The models.Result of a stream point (built when a handler first asks for it)."""
    return result([point_row(Point(name, tags, fields, t))])


#: :meth:`AlertNode.quiet_thresholds`: field, comparison operator, number, field on the left
Threshold = tuple[str, str, int | float, bool]

_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


def _thresholds(levels: tuple[CompiledLambda | None, ...]) -> tuple[Threshold, ...] | None:
    """Each predicate as a ``"field" <op> number`` comparison (most severe first), or None
    unless every predicate is exactly one; the number as the lambda compiler writes it."""
    out: list[Threshold] = []
    for e in reversed(levels):
        if e is None:
            continue
        node = e.node.expression if isinstance(e.node, LambdaNode) else e.node
        if not (isinstance(node, BinaryNode) and node.operator in _COMPARISONS):
            return None
        left, right = node.left, node.right
        if isinstance(left, ReferenceNode) and isinstance(right, NumberNode):
            ref, num, on_left = left, right, True
        elif isinstance(left, NumberNode) and isinstance(right, ReferenceNode):
            ref, num, on_left = right, left, False
        else:
            return None
        value: int | float = int(num.int64) if num.is_int else float(num.float64)
        out.append((ref.reference, node.operator, value, on_left))
    return tuple(out) or None


#: operators whose result is a bool (or an evaluation error)
_BOOLEAN_OPERATORS = frozenset({"==", "!=", "<", ">", "<=", ">=", "=~", "!~", "AND", "OR"})
#: operands that call nothing
_PLAIN_OPERANDS = (ReferenceNode, NumberNode, StringNode, BoolNode, RegexNode, DurationNode)


def _boolean_without_functions(node: Any) -> bool:
    """A comparison or a logical combination of them, with no function call anywhere."""
    if isinstance(node, BinaryNode) and node.operator in _BOOLEAN_OPERATORS:
        return all(
            _boolean_without_functions(x) or isinstance(x, _PLAIN_OPERANDS) or _plain_math(x)
            for x in (node.left, node.right)
        )
    if isinstance(node, UnaryNode) and node.operator == "!":
        return _boolean_without_functions(node.node)
    return False


def _plain_math(node: Any) -> bool:
    """Arithmetic over plain operands (``"a" + 1 > 2``)."""
    if isinstance(node, BinaryNode) and node.operator in ("+", "-", "*", "/", "%"):
        return all(
            isinstance(x, _PLAIN_OPERANDS) or _plain_math(x) for x in (node.left, node.right)
        )
    if isinstance(node, UnaryNode) and node.operator == "-":
        return isinstance(node.node, _PLAIN_OPERANDS) or _plain_math(node.node)
    return False


def _batch_result(b: Batch) -> Any:
    """The models.Result of a batch (built when a handler first asks for it)."""
    return result([batch_row(b)])


def _plain(fields: dict[str, Any]) -> bool:
    """Whether Go's encoder takes every value: strings, ints, bools and finite floats (the
    default details of other values are rendered at once, so that an error is reported as
    Kapacitor reports it)."""
    for v in fields.values():
        c = v.__class__
        if c is float:
            if v - v:  # NaN or an infinity: NaN - NaN and inf - inf are NaN, which is true
                return False
        elif c is not str and c is not int and c is not bool:
            return False
    return True


#: Kapacitor's alert-node statistics, in its order
_STAT_NAMES = (
    "alerts_triggered",
    "alerts_inhibited",
    "oks_triggered",
    "infos_triggered",
    "warns_triggered",
    "crits_triggered",
    "events_dropped",
)
_STAT_BY_LEVEL = ("oks_triggered", "infos_triggered", "warns_triggered", "crits_triggered")
