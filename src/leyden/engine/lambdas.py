"""Compiling a node's lambda properties for the per-point path."""

from __future__ import annotations

from typing import Any

from leyden.tick.lambdas import CompiledLambda, compile_lambda


def compile_predicate(node: Any, spec: Any = None) -> CompiledLambda:
    """Compile a lambda (an AST ``LambdaNode``) once; clone it per group for stateful functions."""
    return compile_lambda(node)
