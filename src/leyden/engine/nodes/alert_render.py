"""The default alert details, ``{{ json . }}`` under html/template, encoded without the engine.

Kapacitor renders ``.details()`` with html/template, and its default template ``{{ json . }}``
prints Kapacitor's ``detailsInfo`` struct as Go's ``json.Encoder`` writes it, then escapes the
whole text for an HTML text context.  Most tasks keep that default and an alerting task renders
it for nearly every point, so this module writes the same bytes directly: the struct's fields in
order, each piece escaped with :func:`leyden.go.template.html_text_escape` (the escaping maps
characters one by one, so escaping the pieces equals escaping the whole), and the pieces that
repeat cached.  ``tests/engine/test_alert_fastpaths.py`` checks, by property, that the output
is byte for byte what the template engine renders.

State, and who owns it (a cache miss always gives the same bytes, so no cache is observable):

* :class:`DetailsRenderer`, one per alert node: per group, the escaped JSON up to ``"Fields":``
  (name, task, group, tags, server info, ID) and the escaped default message per level; a
  group's entry goes with :meth:`DetailsRenderer.forget` when a barrier deletes the group.
* :class:`EscapedJson`, one per process (:data:`ESCAPED_JSON`), shared by every renderer:
  the escaped key pieces per field-key order (up to 1024 orders, then cleared), the RFC 3339
  date per day (up to 4096 days, then cleared), and the last time formatted, because every
  task alerting on the same point formats the same time next.
"""

from __future__ import annotations

from typing import Any

from leyden.go.template import html_text_escape
from leyden.go.types import Duration, StringMap, Time, go_json
from leyden.model.alert import EventData, EventState

__all__ = ["ESCAPED_JSON", "DefaultParts", "DetailsRenderer", "EscapedJson"]

#: field-key orders remembered before the cache starts again
_MAX_KEY_ORDERS = 1024
#: days whose RFC 3339 date part is remembered before the cache starts again
_MAX_DAYS = 4096


def _value_escaped(v: Any) -> str:
    """``html_text_escape(go_json(v))`` with shortcuts for the common field values."""
    tv = type(v)
    if tv is float:
        # Python's repr and Go's encoder agree on the shortest digits; in this range both
        # write them without an exponent (Go adds no ".0", and no escaping is needed).
        if 1e-4 <= abs(v) < 1e16 or v == 0.0:  # 0.0 -> "0", -0.0 -> "-0", as Go writes them
            r = repr(v)
            return r[:-2] if r.endswith(".0") else r
    elif tv is int:
        return int.__repr__(v)
    elif tv is bool:
        return "true" if v else "false"
    return html_text_escape(go_json(v))


class EscapedJson:
    """Go-compatible JSON of field dicts and times, html-escaped, with bounded caches."""

    __slots__ = ("_days", "_field_keys", "_last_time")

    def __init__(self) -> None:
        #: a fields dict's keys in insertion order -> its sorted keys, each with the escaped
        #: JSON that comes before its value (``{"a":`` then ``,"b":``)
        self._field_keys: dict[tuple[Any, ...], tuple[tuple[Any, str], ...]] = {}
        #: day number since the epoch -> Go's RFC 3339 date part of it, ``YYYY-MM-DDT``
        self._days: dict[int, str] = {}
        #: the last (time, text) formatted
        self._last_time: tuple[int | None, str] = (None, "")

    def fields(self, fields: dict[str, Any]) -> str:
        """``html_text_escape(go_json(fields))``: the key pieces are escaped once per key
        order, the values one by one."""
        if not fields:
            return "{}"
        order = tuple(fields)
        keys = self._field_keys.get(order)
        if keys is None:
            if len(self._field_keys) > _MAX_KEY_ORDERS:
                self._field_keys.clear()
            if not all(type(k) is str for k in order):
                return html_text_escape(go_json(fields))
            sep = "{"
            built = []
            for k in sorted(order):
                built.append((k, html_text_escape(sep + go_json(k) + ":")))
                sep = ","
            keys = self._field_keys[order] = tuple(built)
        if len(keys) == 1:
            ((k, piece),) = keys
            return piece + _value_escaped(fields[k]) + "}"
        parts = [piece + _value_escaped(fields[k]) for k, piece in keys]
        parts.append("}")
        return "".join(parts)

    def rfc3339nano(self, t: int) -> str:
        """``Time(t).rfc3339nano()``, with the date part formatted once per day."""
        last = self._last_time
        if last[0] == t:
            return last[1]
        secs, nanos = divmod(t, 1_000_000_000)
        day, sod = divmod(secs, 86400)
        date = self._days.get(day)
        if date is None:
            if len(self._days) > _MAX_DAYS:
                self._days.clear()
            date = self._days[day] = Time(day * 86400 * 1_000_000_000).rfc3339()[:-9]
        hh, rest = divmod(sod, 3600)
        mm, ss = divmod(rest, 60)
        if nanos:
            text = f"{date}{hh:02d}:{mm:02d}:{ss:02d}.{str(nanos).rjust(9, '0').rstrip('0')}Z"
        else:
            text = f"{date}{hh:02d}:{mm:02d}:{ss:02d}Z"
        self._last_time = (t, text)
        return text


#: the process's one :class:`EscapedJson`, shared by every alert node
ESCAPED_JSON = EscapedJson()

# The details' constant JSON between values, already escaped (``"`` is ``&#34;``).
_Q_LEVEL = html_text_escape(',"Level":"')
_Q_TIME = html_text_escape('","Time":"')
_Q_DURATION = html_text_escape('","Duration":')
_Q_MESSAGE = html_text_escape(',"Message":')


class DetailsRenderer:
    """One alert node's default details: ``{{ json . }}`` of ``detailsInfo``, html-escaped.

    ``message_default`` says the node's message is Kapacitor's default ``{{ .ID }} is
    {{ .Level }}``, whose four escaped forms are then kept per group.
    """

    __slots__ = (
        "_fields",
        "_groups",
        "_message_default",
        "_server_info_json",
        "_task_name",
        "_time",
    )

    def __init__(
        self,
        task_name: str,
        server_info_json: str,
        *,
        message_default: bool,
        encoder: EscapedJson = ESCAPED_JSON,
    ) -> None:
        self._task_name = task_name
        self._server_info_json = server_info_json
        self._message_default = message_default
        self._fields = encoder.fields
        self._time = encoder.rfc3339nano
        #: group -> (name, id, tags, escaped JSON up to "Fields":, level -> escaped message)
        self._groups: dict[str, tuple[str, str, dict[str, str], str, dict[str, str]]] = {}

    def render(
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
        """The details text; raises TypeError or ValueError for values Go's encoder refuses
        (NaN and the like), which the template path then reports as Kapacitor does."""
        cached = self._groups.get(group)
        if cached is None or cached[0] != name or cached[1] != id_ or cached[2] != tags:
            prefix = html_text_escape(
                "".join(
                    (
                        '{"Name":',
                        go_json(name),
                        ',"TaskName":',
                        go_json(self._task_name),
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
            self._groups[group] = cached
        if self._message_default:
            # "<id> is <LEVEL>": the same four messages again and again, escaped once each
            message_escaped = cached[4].get(level_name)
            if message_escaped is None:
                message_escaped = cached[4][level_name] = html_text_escape(
                    go_json(id_)[:-1] + " is " + level_name + '"'
                )
        else:
            message_escaped = html_text_escape(go_json(message))
        return "".join(
            (
                cached[3],
                self._fields(fields),
                _Q_LEVEL,
                level_name,
                _Q_TIME,
                self._time(t),
                _Q_DURATION,
                str(int(duration)),
                _Q_MESSAGE,
                message_escaped,
                "}\n",
            )
        )

    def forget(self, group: str) -> None:
        """Drop a group's cached pieces (a barrier deleted the group)."""
        self._groups.pop(group, None)


class DefaultParts:
    """The message and details of one alert node's lazy events
    (:meth:`leyden.model.alert.EventState.derived`), when both need no template engine.

    ``message``: the node's constant message, or None for Kapacitor's default ``{{ .ID }} is
    {{ .Level }}``; ``details``: the constant details, or None for the default ``{{ json . }}``
    (then ``renderer`` writes them).  The alert node makes an event lazy only when rendering
    cannot fail (see ``AlertNode``), so the text rendered on first read is what it would have
    rendered when the event happened.
    """

    __slots__ = ("_details", "_message", "_renderer")

    def __init__(self, renderer: DetailsRenderer, message: str | None, details: str | None) -> None:
        self._renderer = renderer
        self._message = message
        self._details = details

    def message(self, state: EventState, data: EventData) -> str:
        if self._message is not None:
            return self._message
        return f"{state.id} is {state.level.name}"

    def details(self, state: EventState, data: EventData) -> str:
        if self._details is not None:
            return self._details
        return self._renderer.render(
            state.id,
            data.name,
            data.group,
            data.tags,
            data.fields,
            state.level.name,
            int(state.time),
            state.duration,
            state.message,
        )
