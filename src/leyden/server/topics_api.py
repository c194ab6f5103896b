"""Kapacitor's alert topic and topic-handler API (``services/alert/api.go``), semantics §6.3.

``/kapacitor/v1/alerts/topics`` lists topics (``pattern``, ``min-level``); a topic has its
events and its handlers below it.  Bodies are Go-encoded, pretty-printed with four spaces, with
Kapacitor's links and error texts; handler specs go through
:class:`~leyden.alerting.topic_handlers.TopicHandlers`, which persists them in the server's
store and re-attaches them when the server starts.  Handlers are PATCHed with JSON Patch
(RFC 6902), as Kapacitor's ``evanphx/json-patch``.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from leyden import API_BASE, limits
from leyden.alerting.topic_handlers import (
    HandlerSpecError,
    InvalidHandlerError,
    PatternError,
    RegistrationError,
    TopicHandlers,
    check_pattern,
    path_match,
    validate_spec,
)
from leyden.alerting.topics import TopicState
from leyden.go.types import Duration, GoStruct, Time, go_quote
from leyden.model.alert import Level
from leyden.model.records import HandlerRecord
from leyden.notify import INTEGRATIONS, redact_url
from leyden.server._http import SERVICES_KEY, error_response, json_response, link

log = logging.getLogger("leyden.http")

TOPICS_PATH = f"{API_BASE}/alerts/topics"
TOPIC_HANDLERS_KEY = web.AppKey("topic_handlers", TopicHandlers)


class _APIError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _json(data: Any) -> web.Response:
    return json_response(data, pretty=True)


def _parse_level(text: str) -> Level:
    """Kapacitor's ``alert.ParseLevel``: upper-cased first, empty means OK."""
    upper = text.upper()
    if upper == "":
        return Level.OK
    if upper in Level.__members__:
        return Level[upper]
    raise _APIError(f"unknown alert level '{upper}'", 400)


def _pattern(request: web.Request) -> str:
    pattern = request.query.get("pattern", "")
    try:
        check_pattern(pattern)
    except PatternError as exc:
        raise _APIError(f"invalid pattern: {exc}", 400) from None
    return pattern


def _registry(request: web.Request) -> TopicHandlers:
    return request.app[TOPIC_HANDLERS_KEY]


def _answer(handler: Any) -> Any:
    """Turn :class:`_APIError` into Kapacitor's error body."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except _APIError as exc:
            return error_response(exc.message, exc.status)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


# --- JSON shapes -----------------------------------------------------------------------------


def _topic_json(topic_id: str, state: TopicState) -> GoStruct:
    """Kapacitor's topic, then ``delivery-errors``: deliveries its handlers lost for good
    (Kapacitor has no such count; its clients ignore keys they do not know, and it comes last
    so Kapacitor's own keys keep their order)."""
    base = f"{TOPICS_PATH}/{topic_id}"
    return GoStruct(
        [
            ("link", link(base)),
            ("id", topic_id),
            ("level", str(state.level)),
            ("collected", state.collected),
            ("events-link", link(f"{base}/events", "events")),
            ("handlers-link", link(f"{base}/handlers", "handlers")),
            ("delivery-errors", state.delivery_errors),
        ]
    )


def _event_json(topic: str, event_id: str, state: Any) -> GoStruct:
    return GoStruct(
        [
            ("link", link(f"{TOPICS_PATH}/{topic}/events/{event_id}")),
            ("id", event_id),
            (
                "state",
                GoStruct(
                    [
                        ("message", state.message),
                        ("details", state.details),
                        ("time", Time(state.time)),
                        # client.Duration marshals as Go's duration text ("1m0s"), not ns
                        ("duration", str(Duration(state.duration))),
                        ("level", str(state.level)),
                    ]
                ),
            ),
        ]
    )


_SECRET_HEADER_WORDS = ("auth", "token", "secret", "key", "password", "cookie")


def _no_userinfo(value: Any) -> Any:
    """A URL option with a password in it (``https://user:pass@host/``, ServiceNow's) shows as
    scheme and host only; any other value as it is."""
    if isinstance(value, str) and "@" in value and "://" in value:
        try:
            if urlsplit(value).password:
                return redact_url(value)
        except ValueError:
            return value
    return value


def public_options(spec: HandlerRecord) -> dict[str, Any]:
    """Options as the API shows them: a ``post`` handler's URL (its path may hold a token, as
    webhook URLs do) and credential-like header values are redacted.  Kapacitor shows them in
    clear; the stored spec keeps them, so PATCH and restarts are unaffected.  So are the
    options an integration names as credentials (``secret_options``: PagerDuty's keys), and
    the password of any URL option."""
    integration = INTEGRATIONS.get(spec.kind)
    secret = {k.lower() for k in integration.secret_options} if integration is not None else set()
    # lower-cased: some kinds read their options in any case, as Kapacitor's decoder does
    options = {
        k: "[REDACTED]" if str(k).lower() in secret and v else _no_userinfo(v)
        for k, v in spec.options.items()
    }
    if spec.kind == "post":
        url = options.get("url")
        if isinstance(url, str) and url:
            options["url"] = redact_url(url)
        headers = options.get("headers")
        if isinstance(headers, dict):
            options["headers"] = {
                k: "[REDACTED]" if any(w in str(k).lower() for w in _SECRET_HEADER_WORDS) else v
                for k, v in headers.items()
            }
    return options


def _handler_json(spec: HandlerRecord) -> GoStruct:
    return GoStruct(
        [
            ("link", link(f"{TOPICS_PATH}/{spec.topic}/handlers/{spec.id}")),
            ("id", spec.id),
            ("kind", spec.kind),
            ("options", public_options(spec)),
            ("match", spec.match),
        ]
    )


def _spec_json(spec: HandlerRecord) -> dict[str, Any]:
    """``json.Marshal(HandlerSpec)``: what a JSON Patch applies to."""
    return {
        "id": spec.id,
        "topic": spec.topic,
        "kind": spec.kind,
        "options": copy.deepcopy(dict(spec.options)),
        "match": spec.match,
    }


_GO_JSON_TYPES = {str: "string", bool: "bool", int: "number", float: "number", list: "array"}


def _spec_from_json(doc: Any, topic: str) -> HandlerRecord:
    """Decode like ``json.Unmarshal`` into ``HandlerSpec``: unknown keys ignored, ``null``
    leaves a field empty, a wrong type is an error naming the field.  ``topic`` is the
    topic of the URL, which a ``topic`` key in ``doc`` overrides (a PATCH can try to move)."""
    if not isinstance(doc, dict):
        kind = "null" if doc is None else _GO_JSON_TYPES.get(type(doc), "value")
        raise ValueError(f"json: cannot unmarshal {kind} into Go value of type alert.HandlerSpec")
    fields: dict[str, Any] = {"id": "", "topic": topic, "kind": "", "match": ""}
    for key in fields:
        value = doc.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            kind = "object" if isinstance(value, dict) else _GO_JSON_TYPES.get(type(value), "value")
            raise ValueError(
                f"json: cannot unmarshal {kind} into Go struct field HandlerSpec.{key} of type string"
            )
        fields[key] = value
    options = doc.get("options")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        kind = _GO_JSON_TYPES.get(type(options), "value")
        raise ValueError(
            f"json: cannot unmarshal {kind} into Go struct field HandlerSpec.options of type "
            "map[string]interface {}"
        )
    return HandlerRecord(
        topic=fields["topic"],
        id=fields["id"],
        kind=fields["kind"],
        options=options,
        match=fields["match"],
    )


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return limits.loads_json(raw)
    except limits.JSONLimitError:
        raise
    except UnicodeDecodeError:
        raise ValueError("invalid UTF-8 in the request body") from None
    except json.JSONDecodeError as exc:
        if not raw.strip():
            raise ValueError("EOF") from None
        raise ValueError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None


# --- JSON Patch (RFC 6902) -------------------------------------------------------------------


class PatchError(ValueError):
    pass


def _pointer(path: object) -> tuple[str, list[str]]:
    """The pointer (a JSON value from the patch, checked to be one) and its reference tokens."""
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {path!r}")
    if path == "":
        return path, []
    return path, [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], op: str, path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"{op} operation does not apply: doc is missing path: {path}")
    return node


def _index(container: list[Any], part: str, op: str, path: str, *, insert: bool) -> int:
    if insert and part == "-":
        return len(container)
    limit = len(container) if insert else len(container) - 1
    if not part.isdigit() or int(part) > limit or (part != "0" and part.startswith("0")):
        raise PatchError(f"{op} operation does not apply: index out of range: {path}")
    return int(part)


def _get(doc: Any, pointer: object, op: str) -> Any:
    path, parts = _pointer(pointer)
    if not parts:
        return doc
    parent = _parent(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{op} operation does not apply: doc is missing key: {path}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, op, path, insert=False)]
    raise PatchError(f"{op} operation does not apply: doc is missing path: {path}")


def _remove(doc: Any, pointer: object, op: str) -> Any:
    path, parts = _pointer(pointer)
    if not parts:
        raise PatchError(f"{op} operation does not apply: cannot remove the whole document")
    parent = _parent(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{op} operation does not apply: doc is missing key: {path}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, op, path, insert=False))
    raise PatchError(f"{op} operation does not apply: doc is missing path: {path}")


def _add(doc: Any, pointer: object, value: Any, op: str, *, replace: bool = False) -> Any:
    path, parts = _pointer(pointer)
    if not parts:
        return value
    parent = _parent(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(f"{op} operation does not apply: doc is missing key: {path}")
        parent[last] = value
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, op, path, insert=False)] = value
        else:
            parent.insert(_index(parent, last, op, path, insert=True), value)
    else:
        raise PatchError(f"{op} operation does not apply: doc is missing path: {path}")
    return doc


def decode_patch(doc: Any) -> list[Mapping[str, Any]]:
    if not isinstance(doc, list) or not all(isinstance(op, dict) for op in doc):
        raise PatchError("a JSON Patch is an array of operation objects")
    return doc


def apply_patch(doc: Any, patch: list[Mapping[str, Any]]) -> Any:
    """Apply RFC 6902 operations to a copy of ``doc``."""
    doc = copy.deepcopy(doc)
    for operation in patch:
        op = operation.get("op")
        path = operation.get("path")
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"{op} operation needs a value")
        if op == "add":
            doc = _add(doc, path, copy.deepcopy(operation["value"]), "add")
        elif op == "remove":
            _remove(doc, path, "remove")
        elif op == "replace":
            doc = _add(doc, path, copy.deepcopy(operation["value"]), "replace", replace=True)
        elif op == "move":
            value = _remove(doc, operation.get("from"), "move")
            doc = _add(doc, path, value, "move")
        elif op == "copy":
            value = copy.deepcopy(_get(doc, operation.get("from"), "copy"))
            doc = _add(doc, path, value, "copy")
        elif op == "test":
            if _get(doc, path, "test") != operation["value"]:
                raise PatchError(f"testing value {path} failed")
        else:
            raise PatchError(f"Unexpected kind: {op}")
    return doc


# --- topics ----------------------------------------------------------------------------------


@_answer
async def list_topics(request: web.Request) -> web.Response:
    pattern = _pattern(request)
    min_level = _parse_level(request.query.get("min-level", ""))
    topics = _registry(request).alerts.topics
    entries = []
    for topic_id in topics.ids():
        topic = topics.listed(topic_id)
        if topic is None or not path_match(pattern, topic_id):
            continue
        state = topic.state()
        if state.level >= min_level:
            entries.append(_topic_json(topic_id, state))
    # the request's URL as sent (Go's ``r.URL.String()``: ``pattern=%2A`` stays escaped)
    return _json(GoStruct([("link", link(request.raw_path)), ("topics", entries)]))


@_answer
async def get_topic(request: web.Request) -> web.Response:
    topic_id = request.match_info["topic"]
    topic = _registry(request).alerts.topics.listed(topic_id)
    if topic is None:
        raise _APIError(f"unknown topic: {go_quote(topic_id)}", 404)
    state = topic.state()
    return _json(_topic_json(topic_id, state))


@_answer
async def delete_topic(request: web.Request) -> web.Response:
    topic_id = request.match_info["topic"]
    try:
        _registry(request).delete_topic(topic_id)
    except Exception as exc:  # the store failed; the text names the file
        raise _APIError(f"failed to delete topic {go_quote(topic_id)}: {exc}", 500) from None
    return web.Response(status=204)


@_answer
async def list_events(request: web.Request) -> web.Response:
    topic_id = request.match_info["topic"]
    min_level = _parse_level(request.query.get("min-level", ""))
    topic = _registry(request).alerts.topics.listed(topic_id)
    if topic is None:  # Kapacitor: 500, though the topic named is the client's mistake
        raise _APIError(f"failed to get topic events: unknown topic {go_quote(topic_id)}", 404)
    events = [
        _event_json(topic_id, event_id, state)
        for event_id, state in topic.event_states(min_level).items()
    ]
    return _json(
        GoStruct(
            [
                ("link", link(f"{TOPICS_PATH}/{topic_id}/events")),
                ("topic", topic_id),
                ("events", events),
            ]
        )
    )


@_answer
async def get_event(request: web.Request) -> web.Response:
    topic_id = request.match_info["topic"]
    event_id = request.match_info["event"]
    topic = _registry(request).alerts.topics.listed(topic_id)
    state = topic.event_state(event_id) if topic is not None else None
    if state is None:
        raise _APIError(f"unknown event {go_quote(event_id)} in topic {go_quote(topic_id)}", 404)
    return _json(_event_json(topic_id, event_id, state))


# --- handlers --------------------------------------------------------------------------------


@_answer
async def list_handlers(request: web.Request) -> web.Response:
    topic_id = request.match_info["topic"]
    pattern = _pattern(request)
    specs = _registry(request).specs(topic_id, pattern)
    return _json(
        GoStruct(
            [
                ("link", link(request.raw_path)),
                ("topic", topic_id),
                ("handlers", [_handler_json(s) for s in specs]),
            ]
        )
    )


def _existing(request: web.Request) -> HandlerRecord:
    topic_id = request.match_info["topic"]
    handler_id = request.match_info["handler"]
    spec = _registry(request).get(topic_id, handler_id)
    if spec is None:
        raise _APIError(f"unknown handler: {go_quote(handler_id)}", 404)
    return spec


def _validate(spec: HandlerRecord) -> None:
    try:
        validate_spec(spec)
    except HandlerSpecError as exc:
        raise _APIError(f"invalid handler spec: {exc}", 400) from None


def _update(request: web.Request, old: HandlerRecord, new: HandlerRecord) -> web.Response:
    _validate(new)
    try:
        _registry(request).update(old, new)
    except (RegistrationError, HandlerSpecError) as exc:
        raise _APIError(f"failed to update handler: {exc}", _status(exc)) from None
    _log_change("topic handler updated", new)
    return _json(_handler_json(new))


def _status(exc: Exception) -> int:
    """400 for a kind, option or match the user can fix; 500 for a store that failed."""
    return 400 if isinstance(exc, InvalidHandlerError | HandlerSpecError) else 500


def _log_change(what: str, spec: HandlerRecord) -> None:
    # Options may hold secrets (URLs with tokens): only names are logged.
    log.info(
        what, extra={"fields": {"topic": spec.topic, "handler_id": spec.id, "kind": spec.kind}}
    )


@_answer
async def get_handler(request: web.Request) -> web.Response:
    return _json(_handler_json(_existing(request)))


@_answer
async def create_handler(request: web.Request) -> web.Response:
    topic_id = request.match_info["topic"]
    try:
        spec = _spec_from_json(await _read_json(request), topic_id)
    except ValueError as exc:
        raise _APIError(f"invalid handler json: {exc}", 400) from None
    spec = HandlerRecord(
        topic=topic_id, id=spec.id, kind=spec.kind, options=spec.options, match=spec.match
    )
    _validate(spec)
    try:
        _registry(request).register(spec)
    except (RegistrationError, HandlerSpecError) as exc:
        raise _APIError(f"failed to create handler: {exc}", _status(exc)) from None
    _log_change("topic handler created", spec)
    return _json(_handler_json(spec))


@_answer
async def put_handler(request: web.Request) -> web.Response:
    old = _existing(request)
    try:
        new = _spec_from_json(await _read_json(request), old.topic)
    except ValueError as exc:
        raise _APIError(f"failed to unmarshal JSON: {exc}", 400) from None
    new = HandlerRecord(
        topic=old.topic, id=new.id, kind=new.kind, options=new.options, match=new.match
    )
    return _update(request, old, new)


@_answer
async def patch_handler(request: web.Request) -> web.Response:
    old = _existing(request)
    try:
        patch = decode_patch(await _read_json(request))
    except ValueError as exc:
        raise _APIError(f"invalid patch json: {exc}", 400) from None
    try:
        patched = apply_patch(_spec_json(old), patch)
    except PatchError as exc:
        raise _APIError(f"failed to apply patch: {exc}", 400) from None
    try:
        new = _spec_from_json(patched, old.topic)
    except ValueError as exc:
        raise _APIError(f"failed to unmarshal patched json: {exc}", 400) from None
    return _update(request, old, new)


@_answer
async def delete_handler(request: web.Request) -> web.Response:
    topic_id = request.match_info["topic"]
    handler_id = request.match_info["handler"]
    try:
        _registry(request).deregister(topic_id, handler_id)
    except RegistrationError as exc:
        raise _APIError(f"failed to delete handler: {exc}", 500) from None
    return web.Response(status=204)


def install(app: web.Application) -> TopicHandlers:
    """Add the topic routes to ``app`` over the runtime's alert service and topic handlers
    (the runtime attaches the stored handler specs when it starts)."""
    registry = app[SERVICES_KEY].topic_handlers
    app[TOPIC_HANDLERS_KEY] = registry
    r = app.router
    t = TOPICS_PATH
    r.add_get(t, list_topics)
    r.add_get(f"{t}/{{topic}}", get_topic)
    r.add_delete(f"{t}/{{topic}}", delete_topic)
    r.add_get(f"{t}/{{topic}}/events", list_events)
    r.add_get(f"{t}/{{topic}}/events/{{event:.+}}", get_event)
    r.add_get(f"{t}/{{topic}}/handlers", list_handlers)
    r.add_post(f"{t}/{{topic}}/handlers", create_handler)
    r.add_get(f"{t}/{{topic}}/handlers/{{handler}}", get_handler)
    r.add_put(f"{t}/{{topic}}/handlers/{{handler}}", put_handler)
    r.add_patch(f"{t}/{{topic}}/handlers/{{handler}}", patch_handler)
    r.add_delete(f"{t}/{{topic}}/handlers/{{handler}}", delete_handler)
    return registry
