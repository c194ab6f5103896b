"""What a task's nodes may use besides their own spec: the typed services of one process.

The composition root (:mod:`leyden.runtime`) builds one :class:`TaskServices` per process and
hands it to every task; a missing collaborator is a ``TypeError`` there, not a silent default
here, and no node builds a service of its own.

The engine owns its ports: an alert node publishes through :class:`AlertSink`, which the alert
service implements (``leyden.alerting.service.AlertPublisher``), so the engine imports nothing
of alerting, the integrations, the store or the server.  Kapacitor's nodes likewise reach the
alert service and the ``[[httppost]]`` endpoints through interfaces the task master injects
(``kapacitor.TaskMaster.AlertService``, ``HTTPPostService``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from leyden.engine.influx import NO_INFLUXDB, InfluxDBClusters
from leyden.lineprotocol import WirePoint
from leyden.model.alert import Event

__all__ = [
    "DEFAULT_MAX_GROUPS",
    "MAX_GROUPS_KEY",
    "AlertNodeOptions",
    "AlertSink",
    "AlertSinkFactory",
    "HTTPEndpoint",
    "Loopback",
    "TaskServices",
]

#: ``[engine] max-groups-per-task``'s default (0 = unlimited); Kapacitor has no such limit
DEFAULT_MAX_GROUPS = 100_000
MAX_GROUPS_KEY = "[engine] max-groups-per-task"

#: ``kapacitorLoopback``'s way back into this server: ``loopback(db, rp, points)`` queues the
#: points and returns at once; the composition root delivers them after the current write,
#: through the same route as ``/write`` (Kapacitor's ``TaskMaster.WriteKapacitorPoint``).  It
#: never calls the router from inside the per-point path.
Loopback = Callable[[str, str, Sequence[WirePoint]], None]


class AlertSink(Protocol):
    """Where one alert node's events go (what :meth:`AlertSinkFactory.register_alert_node`
    returns).

    Optional, used when present: ``state_changes_only: bool`` (a global handler forces
    ``stateChangesOnly``, §3.10); ``restore_event(id) -> EventState | None`` (the stored state
    of an event ID, §3.2); ``add_inhibitor(Inhibitor)`` / ``remove_inhibitor(Inhibitor)``
    (per-group inhibitors for ``is_inhibited``, §4.8); ``count_errors_in(stats)`` (the node's
    :class:`~leyden.engine.node.NodeStats`, whose ``errors`` then count lost deliveries);
    ``publish_unread(id, level) -> bool`` (an event is due but nothing would read it: the sink
    keeps what it needs of the alert's level and says True, so the node builds no event;
    False: build it and ``publish``).  A sink without it gets every event.
    """

    def publish(self, event: Event) -> None: ...

    def is_inhibited(self, category: str, tags: Mapping[str, str]) -> bool: ...

    def close(self) -> None: ...

    def delete(self) -> None: ...


class AlertSinkFactory(Protocol):
    """The alert service as the engine sees it: one :class:`AlertSink` per alert node."""

    def register_alert_node(
        self,
        *,
        task: str,
        node: str,
        handlers: Iterable[Any],
        topic: str | None,
        category: str,
        inhibitors: Iterable[Any],
        no_recoveries: bool,
    ) -> AlertSink: ...


@dataclass(frozen=True, slots=True)
class AlertNodeOptions:
    """Leyden's opt-in fixes of Kapacitor behaviours that change alert output.

    Set in ``kapacitor.conf`` (``[alert] per-group-lambda-state``, ``chronological-flapping``);
    the defaults are Kapacitor's.
    """

    #: give every group its own copy of the level lambdas (stateful functions count per group)
    per_group_lambdas: bool = False
    #: weigh flapping transitions in time order, each counted once (fixes the §3.6 quirk)
    chronological_flapping: bool = False


@dataclass(frozen=True, slots=True)
class HTTPEndpoint:
    """An ``[[httppost]]`` endpoint as ``httpPost('…').endpoint(name)`` and ``sideload``
    use it: its URL, the headers every request carries (basic auth already applied) and its
    row template, inline or in a file read when a task starts (Kapacitor reads it then too).

    The URL (a token in its path) and the headers (the credentials) stay out of ``repr``, as
    they do in ``HTTPPostConfig``: a task's services may end up in a log or a traceback.
    """

    name: str
    url: str = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    row_template: str = ""
    row_template_file: str = ""

    def row_template_text(self) -> str:
        """The file's contents when ``row_template_file`` is set, else the inline text.

        Raises ``OSError`` for an unreadable file; the node names itself in its error.
        """
        if self.row_template_file:
            return Path(self.row_template_file).read_text(encoding="utf-8")
        return self.row_template


@dataclass(frozen=True, slots=True)
class TaskServices:
    """The services every task of one process shares; built by :mod:`leyden.runtime`."""

    #: the alert service alert nodes register with
    alerts: AlertSinkFactory
    #: ``[alert]`` options that change alert output
    alert_options: AlertNodeOptions = AlertNodeOptions()
    #: ``[[httppost]]`` endpoints by name
    httppost_endpoints: Mapping[str, HTTPEndpoint] = field(default_factory=dict)
    #: the ``[[influxdb]]`` clusters (``batch|query``, ``influxDBOut``); none by default
    influxdb: InfluxDBClusters = NO_INFLUXDB
    #: ``kapacitorLoopback``'s door back into this server (None: a process without one, an
    #: engine worker: such tasks stay in the server's process)
    loopback: Loopback | None = None
    #: points arrive on a simulated clock, back to back (``leyden replay``): clock jumps are
    #: not idleness (see ``nodes/barrier.py``)
    simulated: bool = False
    #: ``[engine] max-groups-per-task``: the groups one node of a task may hold (0: no bound)
    max_groups_per_task: int = DEFAULT_MAX_GROUPS
