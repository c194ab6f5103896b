"""Go's ``Time.Truncate`` and ``Time.Round``, which count from Go's zero time, not the epoch.

Go's zero time is 0001-01-01T00:00:00Z, 62135596800 s before the Unix epoch.  For any
duration dividing a day the result equals epoch-based arithmetic, but ``1w`` aligns on Mondays
and ``7m`` is offset from epoch multiples (semantics §2.5).
"""

from __future__ import annotations

GO_ZERO_NS = -62_135_596_800 * 1_000_000_000
#: the same instant as Go's RFC 3339 text (Kapacitor prints it for a task never enabled)
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def truncate(t: int, d: int) -> int:
    """``t.Truncate(d)``: the largest multiple of d (from Go's zero) not after t; d <= 0 → t."""
    if d <= 0:
        return t
    return GO_ZERO_NS + ((t - GO_ZERO_NS) // d) * d


def round_(t: int, d: int) -> int:
    """``t.Round(d)``: the nearest multiple of d (from Go's zero); halfway rounds up."""
    if d <= 0:
        return t
    r = (t - GO_ZERO_NS) % d
    down = t - r
    return down + d if r + r >= d else down
