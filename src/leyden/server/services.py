"""What the HTTP layer talks to: one :class:`Services` per server, kept under
``_http.SERVICES_KEY`` in the aiohttp application.

A module of its own so the route modules and the application can all name the type without
importing each other (``app`` composes the routes; the routes must not import ``app``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leyden.alerting.service import AlertService
from leyden.config import Config
from leyden.engine import Engine
from leyden.store import Store

if TYPE_CHECKING:  # server.tasks imports the routes' helpers, which import this module
    from leyden.server.tasks import TaskManager

__all__ = ["Services"]


@dataclass
class Services:
    """What the HTTP layer talks to; one instance per server."""

    config: Config
    engine: Engine
    #: each integration's running service by kind (``leyden.notify.INTEGRATIONS``)
    integrations: dict[str, Any]
    #: SQLite persistence (tasks, handlers, alert states, config overrides); None: in memory
    store: Store | None = None
    #: the one alert service (topics, handlers); built by ``tasks.install`` when None
    alerts: AlertService | None = None
    #: tasks (``leyden.server.tasks.TaskManager``); built by ``tasks.install`` when None
    tasks: TaskManager | None = None
