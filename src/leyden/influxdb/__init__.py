"""InfluxDB 1.x clusters (``[[influxdb]]``): the HTTP client behind the engine's port
(:mod:`leyden.engine.influx`) and the automatic subscriptions Kapacitor makes on start.

The composition root (:mod:`leyden.runtime`) builds one :class:`InfluxDBService` per server.
"""

from __future__ import annotations

from leyden.influxdb.client import HTTPCluster
from leyden.influxdb.service import InfluxDBService
from leyden.influxdb.subscriptions import SubscriptionLinker, SyncResult

__all__ = ["HTTPCluster", "InfluxDBService", "SubscriptionLinker", "SyncResult"]
