"""One alert group's state (Kapacitor's ``alertState`` in ``alert.go``) and the flapping measure.

The alert node keeps one :class:`GroupState` per group: the ring of the last ``history``
levels, whether the newest level changed or a ``stateChangesOnly(d)`` interval expired, the
flapping flag, the group's inhibitors and its level lambdas (shared by every group, or the
group's own clones with ``AlertNodeOptions.per_group_lambdas``), and the first and last
trigger times, which start at Go's zero time as in Kapacitor.

:func:`percent_change` is Kapacitor's ``percentChange`` with its weighting quirk (semantics
§3.6); :func:`percent_change_chronological` is the opt-in fix.  Levels are plain ints here
(``OK`` … ``CRITICAL``), as the per-point path compares them millions of times.
"""

from __future__ import annotations

from leyden.go.time import GO_ZERO_NS
from leyden.model.alert import Inhibitor
from leyden.tick.lambdas import CompiledLambda

__all__ = [
    "CRITICAL",
    "INFO",
    "OK",
    "WARNING",
    "GroupState",
    "percent_change",
    "percent_change_chronological",
]

OK, INFO, WARNING, CRITICAL = 0, 1, 2, 3

# Flapping weights (alert.go): the newest change weighs maxWeight, the oldest maxWeight/weightDiff.
# Go folds the constant 1.2/1.5 exactly to 0.8; Python's 1.2 / 1.5 would be 0.7999999999999999.
_MAX_WEIGHT = 1.2
_MIN_WEIGHT = 0.8


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


class GroupState:
    """Kapacitor's ``alertState``: one group's level history and trigger times."""

    __slots__ = (
        "changed",
        "expired",
        "first_triggered",
        "flapping",
        "history",
        "id",
        "idx",
        "inhibitors",
        "last_triggered",
        "levels",
        "quiet",
        "quiet_name",
        "resets",
        "run",
        "tests",
    )

    def __init__(
        self,
        size: int,
        levels: tuple[CompiledLambda | None, ...],
        resets: tuple[CompiledLambda | None, ...],
        inhibitors: list[Inhibitor],
    ) -> None:
        #: the last ``size`` levels, a ring whose newest entry is at ``idx``
        self.history = [OK] * size
        self.idx = 0
        self.changed = False
        self.expired = False
        self.flapping = False
        self.first_triggered = GO_ZERO_NS
        self.last_triggered = GO_ZERO_NS
        self.levels = levels
        self.resets = resets
        #: the non-OK levels' predicates, most severe first: what an OK group evaluates
        self.tests = tuple(
            (lvl, e) for lvl, e in reversed(tuple(enumerate(levels))) if e is not None
        )
        #: how many of the newest levels in the ring are the newest one (at most ``size``)
        self.run = size
        #: the ring is all OK and the group is not flapping: an OK point changes nothing
        #: (the ring reads the same from any index, and the flapping measure stays 0)
        self.quiet = False
        #: the point name whose alert ID (``id``) is known in this group (set by the alert
        #: node when the ID needs no per-point rendering): its points skip the rendering
        self.quiet_name: str | None = None
        #: the alert ID of ``quiet_name``'s points
        self.id = ""
        #: the group's inhibitors, active while the group is not OK
        self.inhibitors = inhibitors
