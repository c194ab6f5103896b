"""Go's ``Time.Truncate``, ``Time.Round`` and ``Time.Sub`` on integer nanoseconds.

Go's zero time is 0001-01-01T00:00:00Z, 62135596800 s before the Unix epoch.  Truncate and
Round count from it, not from the epoch: for any duration dividing a day the result equals
epoch-based arithmetic, but ``1w`` aligns on Mondays and ``7m`` is offset from epoch multiples
(semantics §2.5).  ``Sub`` saturates at the int64 Duration range, which shows when the zero
time meets a real one (an alert's durations after suppressed events, semantics §3).
"""

from __future__ import annotations

__all__ = ["GO_ZERO_NS", "GO_ZERO_TIME", "round_", "sub", "truncate"]

GO_ZERO_NS = -62_135_596_800 * 1_000_000_000
#: the same instant as Go's RFC 3339 text (Kapacitor prints it for a task never enabled)
GO_ZERO_TIME = "0001-01-01T00:00:00Z"

_MAX_DURATION = (1 << 63) - 1
_MIN_DURATION = -(1 << 63)


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


def sub(a: int, b: int) -> int:
    """``a.Sub(b)`` for times: the difference, saturated to the int64 Duration range."""
    d = a - b
    if d > _MAX_DURATION:
        return _MAX_DURATION
    if d < _MIN_DURATION:
        return _MIN_DURATION
    return d
