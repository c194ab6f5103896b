"""Automatic InfluxDB subscriptions, as Kapacitor's ``services/influxdb`` links them.

On start and every ``subscriptions-sync-interval``, for each database and retention policy
(``SHOW DATABASES``, ``SHOW RETENTION POLICIES``) that ``subscriptions`` allows (all when it
is empty) and ``excluded-subscriptions`` does not exclude, a subscription named
``kapacitor-<id>`` (the cluster ID, or this server's ID with ``subscription-mode = "server"``)
sends every write to ``<protocol>://<kapacitor-hostname or hostname>:<http-port or the [http]
port><subscription-path>``, mode ``ANY``.  A subscription of that name whose destination is not
that URL any more, or whose database/retention policy is now excluded, is dropped (and
recreated where it should exist).  Subscriptions of other names are never touched.

A cluster that does not answer at start is tried again with a growing pause (1 s doubling to
the sync interval) until ``startup-timeout``, then at every sync interval; the server does not
wait for it (Kapacitor refuses to start instead).  Each change of state (unreachable,
linked) is logged once, not once per attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from leyden.config import InfluxDBConfig
from leyden.engine.influx import InfluxDBCluster, InfluxDBError
from leyden.engine.influxql_select import quote_ident, quote_string

__all__ = [
    "SUB_PREFIX",
    "SubscriptionLinker",
    "SyncResult",
    "destination",
]

log = logging.getLogger("leyden.influxdb")

SUB_PREFIX = "kapacitor-"


def destination(config: InfluxDBConfig, *, hostname: str, http_port: int) -> str:
    """Where InfluxDB should send the writes of a subscription (Kapacitor's URL)."""
    host = config.kapacitor_hostname or hostname
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = config.http_port or http_port
    return f"{config.subscription_protocol}://{host}:{port}{config.subscription_path}"


@dataclass
class SyncResult:
    """What one pass did."""

    created: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    #: the subscriptions of ours that exist after the pass
    linked: int = 0


def _allowed(entries: Mapping[str, list[str]], db: str, rp: str) -> bool:
    return rp in entries.get(db, ())


class SubscriptionLinker:
    """Keeps one cluster's subscriptions in line with the configuration."""

    def __init__(
        self,
        cluster: InfluxDBCluster,
        config: InfluxDBConfig,
        *,
        name: str,
        destination: str,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cluster = cluster
        self.config = config
        #: the subscription name, ``kapacitor-<id>``
        self.name = name
        self.destination = destination
        self._sleep = sleep
        self._monotonic = monotonic
        #: the last pass's outcome: "" (not yet), "linked" or the error text
        self.state = ""
        self._linked_once = False
        #: our subscriptions on the cluster after the last pass (Kapacitor's num_subscriptions)
        self.linked = 0

    def should_exist(self, db: str, rp: str) -> bool:
        allow = self.config.subscriptions
        return (not allow or _allowed(allow, db, rp)) and not _allowed(
            self.config.excluded_subscriptions, db, rp
        )

    async def sync(self) -> SyncResult:
        """One pass; raises :class:`InfluxDBError` when InfluxDB cannot be asked or refuses."""
        result = SyncResult()
        wanted: list[tuple[str, str]] = []
        for db_series in await self.cluster.query("SHOW DATABASES"):
            for row in db_series.values:
                db = str(row[0])
                rps = await self.cluster.query(f"SHOW RETENTION POLICIES ON {quote_ident(db)}")
                for rp_series in rps:
                    wanted.extend((db, str(rp_row[0])) for rp_row in rp_series.values)
        existing: set[tuple[str, str]] = set()
        for sub_series in await self.cluster.query("SHOW SUBSCRIPTIONS"):
            columns = sub_series.columns
            for row in sub_series.values:
                fields = dict(zip(columns, row, strict=False))
                if fields.get("name") != self.name:
                    continue
                key = (sub_series.name, str(fields.get("retention_policy", "")))
                destinations = fields.get("destinations") or []
                if list(destinations) == [self.destination] and self.should_exist(*key):
                    existing.add(key)
                else:
                    await self._drop(*key)
                    result.dropped.append(key)
        for key in wanted:
            if key not in existing and self.should_exist(*key):
                await self._create(*key)
                result.created.append(key)
                existing.add(key)
        result.linked = len(existing)
        return result

    async def unlink(self) -> int:
        """Drop every subscription of this name on the cluster (Kapacitor's
        ``unlinkSubscriptions``: the cluster was disabled, removed, given
        ``disable-subscriptions`` or a new subscription name); how many were dropped."""
        dropped = 0
        for sub_series in await self.cluster.query("SHOW SUBSCRIPTIONS"):
            for row in sub_series.values:
                fields = dict(zip(sub_series.columns, row, strict=False))
                if fields.get("name") == self.name:
                    await self._drop(sub_series.name, str(fields.get("retention_policy", "")))
                    dropped += 1
        return dropped

    async def _create(self, db: str, rp: str) -> None:
        await self.cluster.query(
            f"CREATE SUBSCRIPTION {quote_ident(self.name)} ON {quote_ident(db, rp)} "
            f"DESTINATIONS ANY {quote_string(self.destination)}",
            post=True,
        )
        log.info(
            "InfluxDB subscription created",
            extra={"fields": {"cluster": self.config.name, "dbrp": f"{db}.{rp}"}},
        )

    async def _drop(self, db: str, rp: str) -> None:
        await self.cluster.query(
            f"DROP SUBSCRIPTION {quote_ident(self.name)} ON {quote_ident(db, rp)}",
            post=True,
        )
        log.info(
            "InfluxDB subscription dropped",
            extra={"fields": {"cluster": self.config.name, "dbrp": f"{db}.{rp}"}},
        )

    async def run(self) -> None:
        """Sync now, then every sync interval; retry faster until ``startup-timeout``."""
        interval = self.config.sync_interval_ns() / 1e9
        started = self._monotonic()
        startup = self.config.startup_timeout_ns() / 1e9
        pause = 1.0
        while True:
            try:
                result = await self.sync()
            except InfluxDBError as exc:
                waited = self._monotonic() - started
                if self.state in ("", "linked") or str(exc) != self.state:
                    log.error(
                        "InfluxDB cluster unreachable or refusing: subscriptions not synced; "
                        "trying again",
                        extra={"fields": {"cluster": self.config.name, "reason": str(exc)}},
                    )
                self.state = str(exc)
                if waited < startup and not self._linked_once:
                    await self._sleep(min(pause, interval))
                    pause = min(pause * 2, interval)
                    continue
            else:
                self.linked = result.linked
                if self.state != "linked":
                    log.info(
                        "InfluxDB subscriptions linked",
                        extra={
                            "fields": {
                                "cluster": self.config.name,
                                "subscriptions": result.linked,
                                "destination": self.destination,
                            }
                        },
                    )
                self.state = "linked"
                self._linked_once = True
            await self._sleep(interval)
