"""Graphviz DOT of a task's pipeline, exactly as Kapacitor shows it for a task that is not running.

Kapacitor walks the nodes in topological order and writes each node's edges to its children;
the batch source writes none (its only child is the query), and the text has no final newline:
``digraph testTaskID {\\nstream0 -> from1;\\n}``.
"""

from __future__ import annotations

from leyden.tick.pipeline import Pipeline


def to_dot(pipeline: Pipeline, name: str) -> str:
    lines = [f"digraph {name} {{"]
    for node in pipeline.walk():
        if node.kind == "batch":
            continue
        lines.extend(f"{node.name} -> {child.name};" for child in node.children)
    return "\n".join(lines) + "\n}"
