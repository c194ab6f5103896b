"""What every route module of the server shares: the application key of the process's
runtime, the handler type and Kapacitor's response encoders.

Kapacitor serves its API under ``/kapacitor/v1`` (``leyden.API_BASE``, ``services/httpd``;
the client needs that path too, so it lives in the package root) and answers in Go's
``encoding/json`` shapes: errors as ``httpd.HttpError`` (``{"error": msg, "message": msg}``,
indented), links as ``client.Link`` (``rel`` before ``href``).  The route modules
(``write``, ``tasks_api``, ``topics_api``, ``config_api``, ``auth`` …) import these from here and
never from ``app``, which only composes them; so no route module imports the application.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from leyden.go.types import GoStruct, go_json
from leyden.runtime import Runtime

__all__ = [
    "SERVICES_KEY",
    "Handler",
    "error_response",
    "json_response",
    "link",
]

#: where ``create_app`` keeps the process's :class:`~leyden.runtime.Runtime`
SERVICES_KEY = web.AppKey("services", Runtime)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(
    data: Any, status: int = 200, *, pretty: bool = False, newline: bool = False
) -> web.Response:
    """Encode as Kapacitor's Go ``encoding/json`` does: ``pretty`` answers are indented four
    spaces (``MarshalIndent``); ``newline`` ends answers Kapacitor writes with ``json.Encoder``."""
    text = go_json(data, indent="    " if pretty else None)
    return web.Response(
        text=text + "\n" if newline else text,
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def link(href: str, rel: str = "self") -> GoStruct:
    """Kapacitor's ``client.Link``: ``rel`` before ``href``."""
    return GoStruct([("rel", rel), ("href", href)])


def error_response(message: str, status: int, **extra: Any) -> web.Response:
    """Kapacitor's ``httpd.HttpError`` body: both keys carry the same text; ``extra`` keys follow."""
    body = GoStruct([("error", message), ("message", message), *extra.items()])
    return json_response(body, status, pretty=True)
