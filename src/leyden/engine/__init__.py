"""The stream engine: written points are routed to the tasks that read them.

The per-point path is synchronous Python.  :class:`Engine` is the single entry point the
write endpoint and ``leyden replay`` hand points to; tasks register receivers with the router.
"""

from leyden.engine.router import Engine, PointReceiver

__all__ = ["Engine", "PointReceiver"]
