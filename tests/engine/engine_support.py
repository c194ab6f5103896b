"""Task contexts for engine tests (a module with a name of its own: only one ``conftest`` can be
imported by name).

``context()`` gives nodes what the runtime would: typed services with an alert service that
refuses use unless the test brings one, so a test that never builds an alert node needs none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leyden.clock import Clock, SimulatedClock
from leyden.engine.node import TaskContext
from leyden.engine.services import AlertSink, TaskServices
from leyden.model.alert import Event


class NoAlerts:
    """The alert service of a test without alert nodes: registering one is a test bug."""

    def register_alert_node(self, **registration: Any) -> AlertSink:
        raise AssertionError("this test wires no alert service")


class _Discarded:
    def publish(self, event: Event) -> None:
        pass

    def is_inhibited(self, category: str, tags: Mapping[str, str]) -> bool:
        return False

    def close(self) -> None:
        pass

    def delete(self) -> None:
        pass


class DiscardAlerts:
    """An alert service that takes every alert node and drops its events."""

    def register_alert_node(self, **registration: Any) -> AlertSink:
        return _Discarded()


def context(
    task: str = "t",
    clock: Clock | None = None,
    *,
    hostname: str = "localhost",
    alerts: Any = None,
    **services: Any,
) -> TaskContext:
    """A task context on ``clock`` (a simulated one at 0 by default) with ``TaskServices``
    built from ``alerts`` and the other keyword arguments."""
    return TaskContext(
        task,
        clock if clock is not None else SimulatedClock(0),
        TaskServices(alerts=alerts if alerts is not None else NoAlerts(), **services),
        hostname,
    )
