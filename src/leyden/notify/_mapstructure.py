"""Handler options as Kapacitor's handler services read them, and their Go templates.

Kapacitor decodes a topic handler's ``options`` with mapstructure (``ErrorUnused``): a key
names a field by its ``mapstructure`` tag or, for a field without one, by the field's name in
any case (Zenoss' ``TID``, ServiceNow's ``metricName``); any other key is an error.
:func:`fold_options` does that against a handler's option names, and also takes the names
Kapacitor's JSON tags and documentation use (``metric_name``) as aliases, naming the
handler and the valid options when a key is unknown.  Durations arrive as nanoseconds (a
number, what Kapacitor reads) or a Go duration string (``"1h"``, what people write).

The Alerta, ServiceNow and Zenoss handlers render several Go templates per event
(``text/template``, no extra functions): :func:`parse_template` refuses a bad one when the
handler is built, :func:`render` turns an execution failure into a :class:`HandlerError`
naming the property; :func:`building_check` refuses at definition (a task's ``define``, a
topic handler's) what the handler would refuse when it starts; :func:`cutoff` shortens a text to a byte length as Go's slicing does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from leyden.go.strconv import parse_go_duration
from leyden.go.template import Template, TemplateError, TemplateExecError
from leyden.notify._registry import Check, Factory, Problem
from leyden.notify.base import HandlerConfigError, HandlerContext, HandlerError

__all__ = [
    "building_check",
    "cutoff",
    "duration_option",
    "fold_options",
    "parse_template",
    "render",
]


def fold_options(
    options: Mapping[str, Any],
    kind: str,
    names: tuple[str, ...],
    aliases: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``options`` keyed by the canonical names in ``names``; unknown keys refused."""
    folded = {name.lower(): name for name in names}
    for alias, canonical in (aliases or {}).items():
        folded.setdefault(alias.lower(), canonical)
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in options.items():
        name: str | None = key if key in names else folded.get(str(key).lower())
        if name is None:
            unknown.append(str(key))
        else:
            out[name] = value
    if unknown:
        raise HandlerConfigError(
            f"invalid {kind} handler option(s): {', '.join(sorted(unknown))}; "
            f"valid options: {', '.join(names)}"
        )
    return out


def duration_option(value: Any, kind: str, key: str) -> int:
    """Nanoseconds from a number of nanoseconds or a Go duration string; 0 when absent."""
    if value is None:
        return 0
    if isinstance(value, str):
        try:
            return parse_go_duration(value)
        except ValueError as exc:
            raise HandlerConfigError(f"{kind} handler option {key!r}: {exc}") from None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not -(2**63) <= value < 2**63
    ):
        raise HandlerConfigError(
            f"{kind} handler option {key!r} must be a duration (nanoseconds or a string "
            f'such as "1h"), got {value!r}'
        )
    return int(value)


def cutoff(text: str, limit: int) -> str:
    """At most ``limit`` bytes of UTF-8, as Go's ``text[:limit]`` (never half a character)."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", "ignore")


def parse_template(text: str, kind: str, what: str) -> Template:
    """``text`` as a Go template; a :class:`HandlerConfigError` naming ``what`` otherwise."""
    try:
        return Template.parse(text, name=what)
    except TemplateError as exc:
        raise HandlerConfigError(f"{kind} handler: invalid {what} template: {exc}") from None


def render(template: Template, data: Any, what: str) -> str:
    """``template`` over ``data``; a :class:`HandlerError` naming ``what`` when it fails."""
    try:
        return template.execute(data)
    except TemplateExecError as exc:
        raise HandlerError(f"failed to render the {what} template: {exc}") from None


def building_check(kind: str, from_tick: Factory, from_options: Factory) -> Check:
    """An integration's ``check``: build the handler against the running service, so a bad
    template or option is refused when the task or topic handler is defined."""

    def check(settings: Mapping[str, Any], service: Any, tick: bool) -> Problem | None:
        ctx = HandlerContext(services={kind: service})
        try:
            (from_tick if tick else from_options)(settings, ctx)
        except HandlerConfigError as exc:
            return Problem(str(exc))
        return None

    return check
