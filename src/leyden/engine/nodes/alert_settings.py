"""What one ``alert()`` node asks for: its TICKscript properties, read once, with Kapacitor's defaults.

The builder hands the runtime node a ``properties`` dict keyed by TICKscript names
(``flapLow``, ``stateChangesOnlyDuration``, ``levelTag`` …).  :meth:`AlertSettings.from_spec`
reads every key the alert node uses in one place, applies the defaults of Kapacitor's
``pipeline/alert.go`` (history 21, never below 2; the default id, message and details
templates) and the one check Kapacitor's ``AlertNode.validate`` makes on them (flap thresholds
are fractions), so the node, its tests and a future status page share one typed, frozen value
instead of string keys.

Compiling is left to the node: templates and lambdas are compiled per node because lambdas
carry state (``count()``, ``sigma()``), and a frozen value must not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leyden.tick.pipeline import (
    DEFAULT_DETAILS_TEMPLATE,
    DEFAULT_ID_TEMPLATE,
    DEFAULT_MESSAGE_TEMPLATE,
)

__all__ = ["LEVEL_PROPERTIES", "AlertSettings", "AlertSettingsError"]

#: the TICKscript property of each level's predicate, by level (OK has none)
LEVEL_PROPERTIES = ("", "info", "warn", "crit")


class AlertSettingsError(ValueError):
    """Properties Kapacitor's ``AlertNode.validate`` refuses; the node adds its name."""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """An alert node's properties, typed; levels are indexed OK=0 … CRITICAL=3."""

    id_template: str = DEFAULT_ID_TEMPLATE
    message_template: str = DEFAULT_MESSAGE_TEMPLATE
    details_template: str = DEFAULT_DETAILS_TEMPLATE
    #: ``.info()``/``.warn()``/``.crit()`` lambdas (AST nodes) by level; OK's slot is None
    predicates: tuple[Any, ...] = (None, None, None, None)
    #: their ``…Reset()`` lambdas by level; a reset without its level is dropped, as in Kapacitor
    resets: tuple[Any, ...] = (None, None, None, None)
    #: length of each group's level ring (``.history()``), at least 2
    history: int = 21
    flapping: bool = False
    flap_low: float = 0.0
    flap_high: float = 0.0
    state_changes_only: bool = False
    #: ``stateChangesOnly(d)``: nanoseconds after which an unchanged level is sent again; 0 never
    state_changes_only_interval: int = 0
    no_recoveries: bool = False
    #: ``.all()``: a batch alerts at the lowest level of its points instead of the highest
    all_points: bool = False
    category: str = ""
    #: the named topic, or None for the task's anonymous one
    topic: str | None = None
    #: ``.inhibit(category, tags…)`` in order: (category, equal tags)
    inhibitors: tuple[tuple[str, tuple[str, ...]], ...] = ()
    level_tag: str = ""
    id_tag: str = ""
    level_field: str = ""
    message_field: str = ""
    id_field: str = ""
    duration_field: str = ""

    @classmethod
    def from_spec(cls, props: Mapping[str, Any]) -> AlertSettings:
        """The settings of a node spec's ``properties``; raises :class:`AlertSettingsError`."""
        predicates: list[Any] = [None] * 4
        resets: list[Any] = [None] * 4
        for level in (1, 2, 3):
            name = LEVEL_PROPERTIES[level]
            if props.get(name) is None:
                continue
            predicates[level] = props[name]
            resets[level] = props.get(name + "Reset")
        flapping = bool(props.get("flapping", False))
        flap_low = float(props.get("flapLow", 0.0))
        flap_high = float(props.get("flapHigh", 0.0))
        if flapping and (flap_low > 1 or flap_high > 1):
            raise AlertSettingsError(
                "alert flap thresholds are percentages and should be between 0 and 1"
            )
        return cls(
            id_template=props.get("id", DEFAULT_ID_TEMPLATE),
            message_template=props.get("message", DEFAULT_MESSAGE_TEMPLATE),
            details_template=props.get("details", DEFAULT_DETAILS_TEMPLATE),
            predicates=tuple(predicates),
            resets=tuple(resets),
            history=max(2, int(props.get("history", 21))),
            flapping=flapping,
            flap_low=flap_low,
            flap_high=flap_high,
            state_changes_only=bool(props.get("stateChangesOnly", False)),
            state_changes_only_interval=int(props.get("stateChangesOnlyDuration", 0) or 0),
            no_recoveries=bool(props.get("noRecoveries", False)),
            all_points=bool(props.get("all", False)),
            category=props.get("category", ""),
            topic=props.get("topic") or None,
            inhibitors=tuple(
                (i["category"], tuple(i["equalTags"])) for i in props.get("inhibitors", [])
            ),
            level_tag=props.get("levelTag", ""),
            id_tag=props.get("idTag", ""),
            level_field=props.get("levelField", ""),
            message_field=props.get("messageField", ""),
            id_field=props.get("idField", ""),
            duration_field=props.get("durationField", ""),
        )

    @property
    def augments_tags(self) -> bool:
        """Whether emitted data gets the level or id as a tag."""
        return bool(self.level_tag or self.id_tag)

    @property
    def augments_fields(self) -> bool:
        """Whether emitted data gets the level, message, id or duration as a field."""
        return bool(self.level_field or self.message_field or self.id_field or self.duration_field)
