"""What a TICKscript declares: the pipeline graph of node and handler specs, Kapacitor's layout.

Kapacitor splits the language's declarations (``pipeline/``: one file per node, plain structs)
from the runtime that executes them; so does Leyden. This package is the declarative half:

- :mod:`~leyden.tick.pipeline.graph`: :class:`Pipeline`, :class:`NodeSpec`, :class:`HandlerSpec`
  and the warnings, what the builder produces and the runtime consumes;
- one table module per node family (:mod:`~leyden.tick.pipeline.sources`, ``transforms``,
  ``influxql``, ``outputs``, ``alert``, ``handlers``), with the chaining methods every node has in
  ``chains`` and the table machinery in the private ``_sig``; ``tables`` assembles them.

The language says what a script may contain, never what this server can run: the runtime
passes its registries to :meth:`Pipeline.unsupported`. This face is what the rest of Leyden uses.
"""

from __future__ import annotations

from leyden.tick.pipeline.alert import (
    DEFAULT_DETAILS_TEMPLATE,
    DEFAULT_ID_TEMPLATE,
    DEFAULT_MESSAGE_TEMPLATE,
)
from leyden.tick.pipeline.chains import INFLUXQL_KINDS
from leyden.tick.pipeline.graph import (
    HandlerSpec,
    NodeSpec,
    Pipeline,
    TickWarning,
    TimeDimension,
    UnsupportedUse,
    Var,
)

__all__ = [
    "DEFAULT_DETAILS_TEMPLATE",
    "DEFAULT_ID_TEMPLATE",
    "DEFAULT_MESSAGE_TEMPLATE",
    "INFLUXQL_KINDS",
    "HandlerSpec",
    "NodeSpec",
    "Pipeline",
    "TickWarning",
    "TimeDimension",
    "UnsupportedUse",
    "Var",
]
