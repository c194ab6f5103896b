"""What the dispatcher counts per (handler kind, destination): sent, retried, 429s, failed
attempts and dead-lettered rows.

The outbox answers what is queued, in flight and dead *now*; these are the totals since start,
which only the dispatcher sees happen.  ``/metrics`` (issue 10 item 5) reads them; the
destination is already secret-free (see :mod:`leyden.delivery.outbox`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["DeliveryCounters"]

Key = tuple[str, str]  # (kind, destination)


@dataclass(slots=True)
class DeliveryCounters:
    """Totals since start per (kind, destination); a row counts once per attempt's outcome."""

    #: rows confirmed by their handler
    sent: Counter[Key] = field(default_factory=Counter)
    #: rows put back for another attempt (429s included)
    retried: Counter[Key] = field(default_factory=Counter)
    #: requests answered 429
    rate_limited: Counter[Key] = field(default_factory=Counter)
    #: attempts that did not deliver (retry or permanent), per row
    failed: Counter[Key] = field(default_factory=Counter)
    #: rows dead-lettered: permanent failure, too old, handler gone, unreadable
    dead: Counter[Key] = field(default_factory=Counter)
    #: requests made (one per batch)
    requests: Counter[Key] = field(default_factory=Counter)
