"""Leyden's domain model: alert levels, events and their state, and the stored records.

A leaf: it imports nothing of Leyden's but the Go kernel (:mod:`leyden.go`), so the engine,
the alert service, the integrations and the stores can all depend on it without pointing back
into one another.
"""
