"""The composition root: the one place that builds Leyden's object graph.

``leyden serve``, ``leyden replay`` and the tests all get their objects from
:func:`build_runtime`: the integrations' services (:data:`leyden.notify.INTEGRATIONS`: Discord's
workspaces), the alert service and its topic handlers,
the router, the services every task shares (:class:`~leyden.engine.services.TaskServices`),
the task runner and the task manager.  Nothing else constructs a collaborator: the store and
the clock come from the caller (:func:`open_store` and the wall clock for a server; an
in-memory store and a simulated clock for replay), and every constructor below requires what
it uses, so a missing piece is a ``TypeError`` here rather than a silent in-memory default somewhere
deep in a request.  This mirrors Kapacitor's ``server.New``, which builds every service and
hands each the others it needs before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from leyden.alerting.service import AlertService
from leyden.alerting.topic_handlers import TopicHandlers
from leyden.clock import Clock
from leyden.config import INFLUXDB_SECTION, Config, endpoint_headers
from leyden.delivery.breaker import BreakerStore, MemoryBreakerStore, SqliteBreakerStore
from leyden.delivery.dispatcher import DeliverySettings, Dispatcher
from leyden.delivery.metrics import DeliveryCounters
from leyden.delivery.outbox import MemoryOutbox, Outbox, SqliteOutbox
from leyden.delivery.pacing import PacingConfig
from leyden.delivery.pg_outbox import PostgresBreakerStore, PostgresOutbox
from leyden.engine.router import Router
from leyden.engine.services import AlertNodeOptions, HTTPEndpoint, TaskServices
from leyden.influxdb import InfluxDBService
from leyden.loopback import Loopback
from leyden.notify import INTEGRATIONS, IntegrationService
from leyden.store import StateStore, Store
from leyden.store.postgres import PostgresStore
from leyden.tasks.manager import TaskManager
from leyden.tasks.runner import TaskRunner
from leyden.tasks.templates import TemplateManager
from leyden.workers.pool import EnginePool

__all__ = [
    "Runtime",
    "alert_node_options",
    "build_runtime",
    "delivery_settings",
    "httppost_endpoints",
    "open_store",
]


@dataclass
class Runtime:
    """Everything one process runs, wired; :meth:`start` and :meth:`close` bracket its life."""

    config: Config
    store: StateStore
    clock: Clock
    #: each integration's running service by kind
    integrations: dict[str, IntegrationService]
    alerts: AlertService
    topic_handlers: TopicHandlers
    router: Router
    task_services: TaskServices
    runner: TaskRunner
    tasks: TaskManager
    #: the task templates tasks are made from (``/kapacitor/v1/templates``)
    templates: TemplateManager
    #: every event bound for a handler, durable before it is sent (issue 10)
    outbox: Outbox
    #: what the delivery dispatcher counted since start, for ``/metrics``
    delivery_counters: DeliveryCounters
    #: the ``[[influxdb]]`` clusters and their subscription loops (issue 13)
    influxdb: InfluxDBService
    #: ``kapacitorLoopback``'s way back into the router (and the workers)
    loopback: Loopback
    #: the engine worker processes (``[engine] workers`` > 1); None: every task in-process
    pool: EnginePool | None = None

    async def start(self) -> None:
        """Attach the stored topic handlers, run the enabled tasks again (their first events
        must find the handlers attached), then start delivering: rows left by the last run
        (in flight at a ``kill -9``, queued at a SIGTERM) find their handlers re-bound."""
        self.topic_handlers.load()
        if self.pool is not None:
            await self.pool.start()
        await self.tasks.start()
        self.alerts.start()
        self.influxdb.start()  # subscriptions: after the tasks, so the first writes find them

    async def close(self, *, timeout: float | None = None) -> int:
        """Stop every task and commit their last events; keep delivering for at most
        ``timeout`` seconds (None: until nothing is ready), then leave the rest in the outbox
        (the next start sends it); close the integrations and the store.

        Returns how many deliveries were left in the outbox (queued or cut off in flight).
        """
        try:
            await self.loopback.close()  # looped-back points reach tasks still running
            await self.tasks.close()
            if self.pool is not None:
                await self.pool.close()  # after the tasks: their last events are published
            left = await self.alerts.close(timeout)
            for service in self.integrations.values():
                await service.close()
            await self.influxdb.close()
        finally:
            self.store.close()
        return left


def alert_node_options(config: Config) -> AlertNodeOptions:
    """The ``[alert]`` options that change alert nodes' output."""
    return AlertNodeOptions(
        per_group_lambdas=config.alert.per_group_lambda_state,
        chronological_flapping=config.alert.chronological_flapping,
    )


def delivery_settings(config: Config) -> DeliverySettings:
    """The ``[delivery]`` section as the dispatcher takes it (seconds)."""
    delivery = config.delivery
    return DeliverySettings(
        max_age=delivery.max_age / 1e9,
        backoff_base=delivery.retry_backoff / 1e9,
        backoff_cap=delivery.retry_max_backoff / 1e9,
        digest_after=delivery.digest_after / 1e9,
        pacing=PacingConfig(channel_limit=delivery.discord_channel_limit),
        breaker=delivery.webhook_breaker,
        invalid_limit=delivery.invalid_request_limit,
    )


def httppost_endpoints(config: Config) -> dict[str, HTTPEndpoint]:
    """The ``[[httppost]]`` endpoints by name (the first of a name wins, as in Kapacitor's
    lookup); their headers carry the basic auth, as every request to them does."""
    endpoints: dict[str, HTTPEndpoint] = {}
    for c in config.httppost:
        endpoints.setdefault(
            c.endpoint,
            HTTPEndpoint(
                name=c.endpoint,
                url=c.url,
                headers=endpoint_headers(c),
                row_template=c.row_template,
                row_template_file=c.row_template_file,
            ),
        )
    return endpoints


def open_store(config: Config) -> StateStore:
    """The store ``config`` names: PostgreSQL when ``[storage] url`` is set, else the SQLite
    file (``[storage] sqlite``, by default ``<data_dir>/leyden.db``).  Raises StoreError."""
    if config.storage.url:
        return PostgresStore(config.storage.url)
    return Store(config.sqlite_path())


def _delivery_stores(store: StateStore) -> tuple[Outbox, BreakerStore]:
    """The outbox and breakers in ``store``, joining its units of work, so an alert's state
    and its deliveries commit together (SQLite: in its transaction; PostgreSQL: written
    behind in the same batch)."""
    if isinstance(store, Store):
        return SqliteOutbox(store), SqliteBreakerStore(store)
    if isinstance(store, PostgresStore):
        return PostgresOutbox(store), PostgresBreakerStore(store)
    return MemoryOutbox(unit_of_work=store.unit_of_work), MemoryBreakerStore()


def build_runtime(
    config: Config,
    *,
    store: StateStore,
    clock: Clock,
    simulated: bool = False,
    engine_workers: int = 1,
) -> Runtime:
    """Build the object graph of one process.

    Alert deliveries go through the outbox in ``store`` (:class:`SqliteOutbox`, or
    :class:`PostgresOutbox`), sent by one
    :class:`Dispatcher` on the wall clock (backoff and age survive restarts).  ``simulated``:
    points arrive back to back on a simulated clock (replay).  Raises ``IntegrationError``
    for a section an integration's service refuses (``[[discord]]``); the caller owns
    ``store`` until this returns.  ``engine_workers`` > 1 shards stream tasks over that
    many engine processes (:mod:`leyden.workers`); a server passes ``[engine] workers``.
    """
    integrations = INTEGRATIONS.build_services(config)
    # Discord's edit-in-place / forum-thread incident messages survive a restart (issue 12)
    INTEGRATIONS.use_store(integrations, store)
    outbox, breakers = _delivery_stores(store)
    dispatcher = Dispatcher(outbox, settings=delivery_settings(config), breakers=breakers)
    alerts = AlertService(services=integrations, config=config, store=store, dispatcher=dispatcher)
    router = Router(config.default_retention_policy)
    influxdb = InfluxDBService(
        config.sections(INFLUXDB_SECTION),
        server_id=store.server_id,
        hostname=config.hostname,
        http_port=config.http.host_port()[1],
        subscribe=not simulated,
        auth_enabled=config.http.auth_enabled,
    )
    alert_options = alert_node_options(config)
    endpoints = httppost_endpoints(config)
    pool = (
        EnginePool(
            config=config,
            count=engine_workers,
            alerts=alerts,
            router=router,
            alert_options=alert_options,
            httppost_endpoints=endpoints,
        )
        if engine_workers > 1 and not simulated
        else None
    )
    if pool is not None:  # a write without rp= that misses the workers' tasks is warned of too
        router.rps_elsewhere = pool.rps_read
    # replay delivers looped-back points after each recorded point; a server on the next turn
    loopback = Loopback(router, pool=pool, deferred=not simulated)
    task_services = TaskServices(
        alerts=alerts,
        alert_options=alert_options,
        httppost_endpoints=endpoints,
        influxdb=influxdb,
        loopback=loopback,
        simulated=simulated,
    )
    runner = TaskRunner(
        router=router, services=task_services, clock=clock, hostname=config.hostname
    )
    tasks = TaskManager(
        store=store,
        runner=runner,
        integrations=integrations,
        pool=pool,
        templates=store,
        compile_timeout=config.http.compile_timeout / 1e9,
    )
    return Runtime(
        config=config,
        store=store,
        clock=clock,
        integrations=integrations,
        alerts=alerts,
        # aggregate handlers tick on the tasks' clock (replay and tests simulate it)
        topic_handlers=TopicHandlers(alerts, store, clock=clock),
        router=router,
        task_services=task_services,
        runner=runner,
        tasks=tasks,
        templates=TemplateManager(store=store, tasks=tasks),
        outbox=outbox,
        delivery_counters=dispatcher.counters,
        influxdb=influxdb,
        loopback=loopback,
        pool=pool,
    )
