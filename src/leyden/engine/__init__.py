"""The stream engine: written points are routed to the tasks that read them.

The per-point path is synchronous Python.  :class:`Router` is the single entry point the
write endpoint and ``leyden replay`` hand points to; tasks register receivers with it.  The
engine imports nothing of the alert service, the integrations, the store or the server: what a
task needs of them comes through the ports in :mod:`leyden.engine.services`.
"""

from leyden.engine.router import PointReceiver, Router, WriteStats

__all__ = ["PointReceiver", "Router", "WriteStats"]
