"""Runtime node kinds, one module per family; each registers its kinds with ``@register``.

Every module is imported here, by name, so importing this package completes
:data:`leyden.engine.node.NODE_CLASSES`: what this server runs is known without starting a
task, and a new family is one module plus one line below.
"""

from leyden.engine.nodes import (
    alert,
    barrier,
    combine,
    holtwinters,
    httppost,
    influxdb_out,
    influxql,
    join,
    loopback,
    output,
    query,
    sideload,
    source,
    state,
    stats,
    transform,
    window,
)

__all__ = [
    "alert",
    "barrier",
    "combine",
    "holtwinters",
    "httppost",
    "influxdb_out",
    "influxql",
    "join",
    "loopback",
    "output",
    "query",
    "sideload",
    "source",
    "state",
    "stats",
    "transform",
    "window",
]
