"""Durable delivery (issue 10): what stands between an alert event and the handler sending it.

* :mod:`leyden.delivery.outbox` — every event bound for a handler is a row that survives
  ``kill -9``; rows are claimed in order per (destination, alert ID), retried until they are
  sent or too old, and dead-lettered with a reason, never dropped silently.
* :mod:`leyden.delivery.pacing` — when a destination may send next, at Discord's real limits
  (per-webhook buckets from the headers, the unannounced per-channel limit, the host-wide one).

Kapacitor keeps pending notifications only in memory and drops them on error, on a full buffer
and at shutdown (its issues #1607, #828, #1131); this package is where Leyden does better.
"""
