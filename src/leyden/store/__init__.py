"""Leyden's state on disk, behind repository protocols (issue 17, the review's P6).

:mod:`leyden.store.protocols` says what each part of Leyden asks of a store (tasks,
templates, topic handlers, topic/alert states, config overrides, incident messages, the
server's IDs); two implementations answer them the same way and one test suite runs against
both:

* :class:`Store` (:mod:`leyden.store.sqlite`): the embedded SQLite file, the default.  Its
  units of work also hold the delivery outbox and breakers, so an alert's state and the
  deliveries it causes commit together.
* :class:`~leyden.store.postgres.PostgresStore` (``[storage] url = "postgresql://..."``):
  PostgreSQL through psycopg 3 and a connection pool; topic states, the outbox and breakers
  are written behind by one writer thread so the per-point path never waits on the network.

:func:`leyden.runtime.open_store` is the one place that picks between them.
"""

from __future__ import annotations

from leyden.store.errors import StoreError
from leyden.store.protocols import StateStore
from leyden.store.sqlite import SCHEMA_VERSION, Store

__all__ = ["SCHEMA_VERSION", "StateStore", "Store", "StoreError"]
