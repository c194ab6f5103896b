"""The ``[[influxdb]]`` clusters of one server: the engine's port by name, and the
subscription loops, replaced as a whole by the config API.

Kapacitor's ``services/influxdb.Service``: one client per enabled cluster, the default one
for ``.cluster('')``, and one subscription linker per cluster unless ``disable-subscriptions``
(or a replay, which must not touch InfluxDB's subscriptions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

from leyden.config import InfluxDBConfig
from leyden.engine.influx import InfluxDBCluster, InfluxDBError, Series
from leyden.go.types import go_quote
from leyden.influxdb.client import HTTPCluster, host_of
from leyden.influxdb.subscriptions import SUB_PREFIX, SubscriptionLinker, destination

__all__ = ["InfluxDBService"]

log = logging.getLogger("leyden.influxdb")


class InfluxDBService:
    """Implements ``InfluxDBClusters`` (the engine's port) and the config API's ``update``."""

    def __init__(
        self,
        configs: Sequence[InfluxDBConfig],
        *,
        server_id: Callable[[str], str],
        hostname: str,
        http_port: int,
        subscribe: bool = True,
        auth_enabled: bool = False,
    ) -> None:
        """``server_id("cluster" | "server")``: this server's stable IDs (the store keeps them);
        ``hostname``/``http_port``: where InfluxDB reaches this server, unless a cluster says
        otherwise; ``subscribe``: False for replay; ``auth_enabled``: ``[http] auth-enabled``
        (subscription writes carry no credentials: warned about at start)."""
        self._auth_enabled = auth_enabled
        self._server_id = server_id
        self._hostname = hostname
        self._http_port = http_port
        self._subscribe = subscribe
        self._started = False
        self._clusters: dict[str, HTTPCluster] = {}
        self._default = ""
        self._linkers: list[SubscriptionLinker] = []
        self._loops: list[asyncio.Task[None]] = []
        #: dropping the subscriptions of clusters an update unsubscribed, then closing them
        self._retiring: set[asyncio.Task[None]] = set()
        self._configure(configs)

    def _configure(self, configs: Sequence[InfluxDBConfig]) -> None:
        enabled = [c for c in configs if c.enabled]
        self._clusters = {c.name: HTTPCluster(c) for c in enabled}
        default = next((c.name for c in enabled if c.default), "")
        self._default = default or (enabled[0].name if len(enabled) == 1 else "")
        self._linkers = []
        if not self._subscribe:
            return
        for config in enabled:
            if config.disable_subscriptions or config.subscription_protocol == "udp":
                continue
            mode = "server" if config.subscription_mode == "server" else "cluster"
            self._linkers.append(
                SubscriptionLinker(
                    self._clusters[config.name],
                    config,
                    name=SUB_PREFIX + self._server_id(mode),
                    destination=destination(
                        config, hostname=self._hostname, http_port=self._http_port
                    ),
                )
            )

    # --- the engine's port -----------------------------------------------------------------

    def get(self, name: str) -> InfluxDBCluster:
        """The cluster called ``name`` as tasks hold it: a reference that follows the config
        API's updates (new URLs, credentials) instead of the client of the day, as Kapacitor's
        updatable clients do; ``""`` is the default cluster, bound when asked for."""
        return _ClusterRef(self, self._resolve(name))

    def _resolve(self, name: str) -> str:
        if not name:
            if self._default:
                return self._default
            if not self._clusters:
                raise KeyError("no [[influxdb]] cluster is enabled")
            raise KeyError(
                "no default InfluxDB cluster: set default = true on one of "
                + ", ".join(f'"{n}"' for n in self._clusters)
            )
        if name not in self._clusters:
            known = ", ".join(f'"{n}"' for n in self._clusters) or "none"
            raise KeyError(
                f'unknown InfluxDB cluster "{name}" (enabled [[influxdb]] clusters: {known})'
            )
        return name

    def current(self, name: str) -> HTTPCluster:
        """The client of cluster ``name`` now; raises :class:`InfluxDBError` when an update
        removed or disabled it."""
        cluster = self._clusters.get(name)
        if cluster is None:
            raise InfluxDBError(
                f'InfluxDB cluster "{name}" is no longer enabled (the [[influxdb]] '
                "configuration was updated)"
            )
        return cluster

    def names(self) -> list[str]:
        return list(self._clusters)

    # --- the service test (``POST /kapacitor/v1/service-tests/influxdb``) -------------------

    def default_test_options(self) -> dict[str, str]:
        """Kapacitor's ``testOptions``: a cluster name, empty by default."""
        return {"cluster": ""}

    async def test(self, options: Mapping[str, object]) -> tuple[bool, str]:
        """Ping the enabled cluster ``options["cluster"]``, with Kapacitor's texts."""
        name = str(options.get("cluster", ""))
        cluster = self._clusters.get(name)
        if cluster is None:
            return False, f"cluster {go_quote(name)} is not enabled or does not exist"
        try:
            await cluster.ping()
        except InfluxDBError as exc:
            return False, f"failed to ping the influxdb cluster {go_quote(name)}: {exc}"
        return True, ""

    # --- life ------------------------------------------------------------------------------

    def num_subscriptions(self) -> int:
        """Our subscriptions on every cluster after their last sync (Kapacitor's
        ``num_subscriptions`` in ``/debug/vars``)."""
        return sum(linker.linked for linker in self._linkers)

    def start(self) -> None:
        """Start the subscription loops (on the running event loop); never waits for InfluxDB."""
        self._started = True
        if self._linkers and self._auth_enabled:
            log.warning(
                "[http] auth-enabled is on but InfluxDB's subscription writes carry no "
                "credentials (Kapacitor's per-subscription tokens are not implemented): they "
                "will be refused; set disable-subscriptions = true and write with credentials, "
                "or point the subscription at a listener without auth"
            )
        linked = {linker.config.name: linker.destination for linker in self._linkers}
        for name, cluster in self._clusters.items():
            config = cluster.config
            if name in linked:
                subscriptions = linked[name]
            elif not self._subscribe:
                subscriptions = "off (replay)"
            elif config.disable_subscriptions:
                subscriptions = "disabled"
            else:
                subscriptions = f"not supported ({config.subscription_protocol})"
            # one line per cluster: what it is used for from now on (a test can wait for it)
            log.info(
                "InfluxDB cluster configured",
                extra={
                    "fields": {
                        "cluster": name,
                        "urls": ",".join(host_of(url) for url in config.urls),
                        "default": name == self._default,
                        "subscriptions": subscriptions,
                    }
                },
            )
        self._loops = [
            asyncio.get_running_loop().create_task(linker.run(), name=f"influxdb-{linker.name}")
            for linker in self._linkers
        ]

    async def _stop_loops(self) -> None:
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []

    def update(self, sections: list[InfluxDBConfig]) -> None:
        """The config API's new ``[[influxdb]]`` list: clusters and subscription loops are
        replaced (the old sessions close in the background)."""
        old = list(self._clusters.values())
        old_linkers = self._linkers
        loops = self._loops
        self._loops = []
        for task in loops:
            task.cancel()
        self._configure(sections)
        # Kapacitor's Update: a cluster no longer subscribed (disabled, removed,
        # disable-subscriptions, another subscription name) has its subscriptions dropped,
        # through its old client, before that client closes
        kept = {(linker.config.name, linker.name) for linker in self._linkers}
        gone = [linker for linker in old_linkers if (linker.config.name, linker.name) not in kept]
        if self._started:
            self.start()
        task = asyncio.get_running_loop().create_task(self._retire(gone, old))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        log.info("[[influxdb]] clusters updated", extra={"fields": {"clusters": self.names()}})

    async def _retire(
        self, linkers: Sequence[SubscriptionLinker], clusters: Sequence[HTTPCluster]
    ) -> None:
        for linker in linkers:
            fields = {"cluster": linker.config.name, "subscription": linker.name}
            try:
                dropped = await linker.unlink()
            except InfluxDBError as exc:
                log.warning(
                    "InfluxDB subscriptions of a cluster no longer subscribed not dropped",
                    extra={"fields": {**fields, "reason": str(exc)}},
                )
            else:
                log.info(
                    "InfluxDB subscriptions unlinked",
                    extra={"fields": {**fields, "dropped": dropped}},
                )
        for cluster in clusters:
            await cluster.close()

    async def close(self) -> None:
        await self._stop_loops()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        for cluster in self._clusters.values():
            await cluster.close()


class _ClusterRef:
    """One named cluster as a task holds it (implements ``InfluxDBCluster``): every request
    goes to the client the service has for that name at the time."""

    def __init__(self, service: InfluxDBService, name: str) -> None:
        self._service = service
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"ClusterRef({self._name!r})"

    async def query(
        self,
        command: str,
        *,
        database: str = "",
        retention_policy: str = "",
        post: bool = False,
    ) -> list[Series]:
        return await self._service.current(self._name).query(
            command, database=database, retention_policy=retention_policy, post=post
        )

    async def write(
        self,
        body: bytes,
        *,
        database: str,
        retention_policy: str = "",
        precision: str = "ns",
        consistency: str = "",
    ) -> None:
        await self._service.current(self._name).write(
            body,
            database=database,
            retention_policy=retention_policy,
            precision=precision,
            consistency=consistency,
        )
