"""Go-flavoured value types (placeholder: the gotemplate work replaces this module)."""

from __future__ import annotations


class Duration(int):
    """A Go ``time.Duration``: integer nanoseconds."""


class Time(int):
    """A Go ``time.Time`` in UTC: integer nanoseconds since the Unix epoch."""
