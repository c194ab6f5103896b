"""How much one request, script or file may hold: the explicit limits of issue 16.

Kapacitor has none of these: a 10 MB TICKscript is compiled, a ``|log()`` chain ten thousand
long or a lambda of 20,000 ``AND`` terms is built by recursion, and JSON bodies are decoded
whatever their nesting.  In Python each of those either exhausts the interpreter's recursion
limit (a 500 for what is the user's mistake) or holds the event loop for seconds.  A limit is
checked before the work that it bounds, and its error names the limit and where the input
crossed it (``script:1:20041: … more than 200 …``), so the work that does run has a known
bound: compiling a script within these limits takes well under a second, and that is what
keeps the compile-time limit (``[http] compile-timeout``) a backstop rather than the rule.

The values are far above what a hand-written script, template or request needs; they are
module constants (tests lower them with ``monkeypatch``), with the compile time limit the one
knob in the configuration.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "MAX_API_BODY",
    "MAX_CALL_NESTING",
    "MAX_CHAIN_LENGTH",
    "MAX_EXPRESSION_DEPTH",
    "MAX_EXPRESSION_NODES",
    "MAX_HANDLER_FILE_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_NESTING",
    "MAX_PIPELINE_NODES",
    "MAX_SCRIPT_BYTES",
    "JSONLimitError",
    "check_json_depth",
    "json_depth",
    "loads_json",
]

#: bytes of one TICKscript (a task's, a template's, or a lambda given on its own)
MAX_SCRIPT_BYTES = 256 * 1024
#: links (``|node``, ``.property``, ``@udf``) in one chain expression
MAX_CHAIN_LENGTH = 1000
#: nodes in one task's pipeline (chains continued through vars count too)
MAX_PIPELINE_NODES = 1000
#: levels of one expression: a flat ``a AND b AND …`` of N terms is N deep (it is a tree)
MAX_EXPRESSION_DEPTH = 200
#: parentheses, unary operators, function arguments and right-hand operators nested in one
#: another (each is one level of the parser's recursion)
MAX_NESTING = 64
#: function calls nested in one another inside a lambda (``abs(floor(sqrt(…))))``)
MAX_CALL_NESTING = 16
#: nodes of one lambda after its vars are inlined (a lambda var used twice in each of a chain
#: of lambda vars doubles at every step)
MAX_EXPRESSION_NODES = 20_000
# Go templates (alert message and details, handler templates) have theirs in
# leyden.go.template._parse (MAX_TEMPLATE_BYTES, MAX_TEMPLATE_NESTING): the Go kernel is a
# leaf that imports nothing of Leyden's.
#: bytes of one JSON request body to the API other than ``/write`` (a script at its limit,
#: escaped, fits with room to spare)
MAX_API_BODY = 2 << 20
#: levels of arrays and objects nested in one JSON body or handler file
MAX_JSON_DEPTH = 64
#: bytes of one topic-handler, task or vars file the CLI reads
MAX_HANDLER_FILE_BYTES = 1 << 20


class JSONLimitError(ValueError):
    """A JSON document nests deeper than :data:`MAX_JSON_DEPTH`."""


def json_depth(value: Any) -> int:
    """Levels of arrays and objects in a decoded JSON (or YAML) value; without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            # past the limit the exact depth does not matter; and a YAML alias that contains
            # itself is a cycle that would be walked forever (found by fuzzing)
            return depth
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest


def check_json_depth(value: Any, what: str = "JSON") -> Any:
    """``value``, or :class:`JSONLimitError` when it nests deeper than the limit."""
    if json_depth(value) > MAX_JSON_DEPTH:
        raise JSONLimitError(
            f"{what} nests deeper than {MAX_JSON_DEPTH} levels of arrays and objects (the limit)"
        )
    return value


def loads_json(raw: bytes | str, what: str = "JSON") -> Any:
    """``json.loads`` whose nesting is bounded: a document deeper than :data:`MAX_JSON_DEPTH`
    raises :class:`JSONLimitError` (a ``ValueError``), also when it is so deep that the decoder
    itself gives up; other malformed input raises ``json.JSONDecodeError`` as usual."""
    try:
        decoded = json.loads(raw)
    except RecursionError:
        raise JSONLimitError(
            f"{what} nests deeper than {MAX_JSON_DEPTH} levels of arrays and objects (the limit)"
        ) from None
    return check_json_depth(decoded, what)
