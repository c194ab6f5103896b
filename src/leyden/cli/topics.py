"""The alert-topic verbs of the ``leyden`` CLI: Kapacitor's ``define-topic-handler``,
``show-topic``, ``show-topic-handler``, ``list topics``, ``list topic-handlers``, ``delete
topics`` and ``delete topic-handlers`` (``cmd/kapacitor/main.go``), with its output formats.

Handler files are Kapacitor's (``id``, ``topic``, ``kind``, ``match``, ``options``; YAML for
``.yaml``/``.yml``, JSON for ``.json``).  Where Kapacitor silently sends an empty or partial
spec (an unknown extension, a misspelt key, a number where a string belongs), Leyden stops with
an error naming the file, and for syntax errors the line and column.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Sequence
from typing import Any, TextIO

import yaml

from leyden import limits
from leyden.cli._common import FileError, UsageError
from leyden.client import Client, ClientError
from leyden.go.types import Time, go_json

HANDLER_FILE_KEYS = ("id", "topic", "kind", "match", "options")


# --- handler files --------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """YAML values as JSON has them (ghodss/yaml converts YAML to JSON first): dates become
    their text, keys become strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def _parse_yaml(path: str, text: str) -> Any:
    try:
        return limits.check_json_depth(yaml.safe_load(text), f'yaml handler file "{path}"')
    except limits.JSONLimitError as exc:
        raise ClientError(str(exc)) from None
    except RecursionError:
        raise ClientError(
            f'yaml handler file "{path}" nests deeper than {limits.MAX_JSON_DEPTH} levels '
            "(the limit)"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
        problem = exc.problem or exc.context or "invalid YAML"
        context = exc.context_mark
        if exc.problem and exc.context and context is not None and context is not mark:
            problem += f" ({exc.context} at line {context.line + 1}, column {context.column + 1})"
        raise ClientError(
            f'failed to unmarshal yaml handler file "{path}": {where}: {problem}'
        ) from None
    except yaml.YAMLError as exc:
        raise ClientError(f'failed to unmarshal yaml handler file "{path}": {exc}') from None
    except ValueError as exc:  # found by fuzzing: PyYAML's constructors raise it (2011-01-00)
        raise ClientError(
            f'failed to unmarshal yaml handler file "{path}": invalid value: {str(exc)[:120]}'
        ) from None


def _parse_json(path: str, text: str) -> Any:
    try:
        return limits.loads_json(text, f'json handler file "{path}"')
    except limits.JSONLimitError as exc:
        raise ClientError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise ClientError(
            f'failed to unmarshal json handler file "{path}": {path}:{exc.lineno}:{exc.colno}: '
            f"{exc.msg}"
        ) from None


def read_handler_file(path: str) -> dict[str, Any]:
    """The handler spec in a ``.yaml``/``.yml``/``.json`` file, checked before it is sent."""
    ext = os.path.splitext(path)[1]
    if ext not in (".yaml", ".yml", ".json"):
        raise ClientError(
            f'handler file "{path}": unknown extension "{ext}": use .yaml, .yml or .json'
        )
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise FileError(
            f'failed to open handler spec file "{path}": {exc.strerror or exc}'
        ) from None
    except UnicodeDecodeError:
        raise FileError(f'failed to read handler file "{path}": not UTF-8 text') from None
    if len(text) > limits.MAX_HANDLER_FILE_BYTES:
        raise ClientError(
            f'handler file "{path}" is over {limits.MAX_HANDLER_FILE_BYTES} bytes (the limit)'
        )
    doc = _parse_json(path, text) if ext == ".json" else _parse_yaml(path, text)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ClientError(
            f'handler file "{path}": expected a mapping of {", ".join(HANDLER_FILE_KEYS)}'
        )
    doc = _jsonable(doc)
    unknown = [k for k in doc if k not in HANDLER_FILE_KEYS]
    if unknown:
        raise ClientError(
            f'handler file "{path}": unknown key "{unknown[0]}" '
            f"(a handler file has {', '.join(HANDLER_FILE_KEYS)})"
        )
    for key in ("id", "topic", "kind", "match"):
        value = doc.get(key)
        if value is not None and not isinstance(value, str):
            raise ClientError(
                f'handler file "{path}": "{key}" must be a string, got {json.dumps(value)} '
                "(quote it)"
            )
    for key in ("id", "topic", "kind"):
        if not doc.get(key):
            raise ClientError(f'handler file "{path}": "{key}" is missing')
    options = doc.get("options")
    if options is not None and not isinstance(options, dict):
        raise ClientError(
            f'handler file "{path}": "options" must be a mapping of option names to values'
        )
    return {
        "topic": doc["topic"],
        "id": doc["id"],
        "kind": doc["kind"],
        "options": options,
        "match": doc.get("match") or "",
    }


def cmd_define_topic_handler(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    if len(argv) != 1:
        raise UsageError("Must provide a path to a handler file.")
    spec = read_handler_file(argv[0])
    if client.find_topic_handler(spec["topic"], spec["id"]) is None:
        client.create_topic_handler(spec["topic"], spec)
    else:
        client.replace_topic_handler(spec["topic"], spec["id"], spec)
    return 0


# --- show -----------------------------------------------------------------------------------


def local_rfc822(text: Any) -> str:
    """Go's ``t.Local().Format(time.RFC822)`` of an RFC 3339 time: ``02 Jan 06 15:04 MST``."""
    try:
        ns = Time.parse_rfc3339(str(text))
    except ValueError:
        return str(text)
    local = datetime.datetime.fromtimestamp(int(ns) // 1_000_000_000).astimezone()
    return local.strftime("%d %b %y %H:%M ") + (local.tzname() or local.strftime("%z"))


def _blen(text: str) -> int:
    return len(text.encode())  # Go's len() of a string counts bytes


def show_topic(client: Client, topic_id: str, out: TextIO) -> None:
    topic = client.get_topic(topic_id)
    events = client.list_topic_events(topic_id)
    max_event, max_message = 5, 7
    for e in events:
        max_event = max(max_event, _blen(str(e.get("id", ""))))
        max_message = max(max_message, _blen(str(e.get("state", {}).get("message", ""))))
    events.sort(key=lambda e: int(Time.parse_rfc3339(e["state"]["time"])))
    handlers = client.list_topic_handlers(topic_id)
    out.write(f"ID: {topic.get('id', topic_id)}\n")
    out.write(f"Level: {topic.get('level', '')}\n")
    out.write(f"Collected: {topic.get('collected', 0)}\n")
    if topic.get("delivery-errors"):  # Leyden's addition: shown only when there were losses
        out.write(f"Delivery errors: {topic['delivery-errors']}\n")
    out.write(f"Handlers: [{', '.join(str(h.get('id', '')) for h in handlers)}]\n")
    out.write("Events:\n")

    def row(event: str, level: str, message: str, date: str) -> str:
        return f"{event:<{max_event + 1}}{level:<9}{message:<{max_message + 1}}{date:<23}\n"

    out.write(row("Event", "Level", "Message", "Date"))
    for e in events:
        state = e.get("state", {})
        out.write(
            row(
                str(e.get("id", "")),
                str(state.get("level", "")),
                str(state.get("message", "")),
                local_rfc822(state.get("time", "")),
            )
        )


def cmd_show_topic(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    if len(argv) != 1:
        raise UsageError("Must specify one topic ID")
    show_topic(client, argv[0], out)
    return 0


def cmd_show_topic_handler(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    if len(argv) != 2:
        raise UsageError("Must specify both topic and handler IDs")
    topic, handler_id = argv
    h = client.get_topic_handler(topic, handler_id)
    out.write(f"ID: {h.get('id', '')}\n")
    out.write(f"Topic: {topic}\n")
    out.write(f"Kind: {h.get('kind', '')}\n")
    out.write(f"Match: {h.get('match', '')}\n")
    out.write(f"Options: {go_json(h.get('options'))}\n")
    return 0


# --- list and delete ------------------------------------------------------------------------


def list_topics(client: Client, patterns: list[str], out: TextIO) -> None:
    found: list[dict[str, Any]] = []
    for pattern in patterns or [""]:
        found.extend(client.list_topics(pattern))
    max_id = max([2, *(_blen(str(t.get("id", ""))) for t in found)])
    max_level = max([8, *(_blen(str(t.get("level", ""))) for t in found)])

    def row(a: Any, b: Any, c: Any) -> str:
        return f"{a!s:<{max_id + 1}}{b!s:<{max_level + 1}}{c!s:>10}\n"

    out.write(row("ID", "Level", "Collected"))
    for t in found:
        out.write(row(t.get("id", ""), t.get("level", ""), t.get("collected", 0)))


def list_topic_handlers(client: Client, patterns: list[str], out: TextIO) -> None:
    topic_pattern = patterns[0] if patterns else ""
    handler_patterns = patterns[1:] or [""]
    rows: list[tuple[str, str, str]] = []
    for topic in client.list_topics(topic_pattern):
        topic_id = str(topic.get("id", ""))
        for pattern in handler_patterns:
            for h in client.list_topic_handlers(topic_id, pattern):
                rows.append((topic_id, str(h.get("id", "")), str(h.get("kind", ""))))
    max_topic = max([10, *(_blen(r[0]) for r in rows)])
    max_id = max([10, *(_blen(r[1]) for r in rows)])
    max_kind = max([10, *(_blen(r[2]) for r in rows)])

    def row(a: str, b: str, c: str) -> str:
        return f"{a:<{max_topic + 1}}{b:<{max_id + 1}}{c:<{max_kind + 1}}\n"

    out.write(row("Topic", "ID", "Kind"))
    for r in rows:
        out.write(row(*r))


def delete_topics(client: Client, patterns: list[str], out: TextIO) -> None:
    if not patterns:
        raise UsageError("Must pass at least one ID")
    for pattern in patterns:
        for topic in client.list_topics(pattern):
            client.delete_topic(str(topic["id"]))


def delete_topic_handlers(client: Client, args: list[str], out: TextIO) -> None:
    if not args:
        raise UsageError("Must pass at least one ID")
    topic, patterns = args[0], args[1:]
    for pattern in patterns:
        for h in client.list_topic_handlers(topic, pattern):
            client.delete_topic_handler(topic, str(h["id"]))


__all__ = [
    "HANDLER_FILE_KEYS",
    "cmd_define_topic_handler",
    "cmd_show_topic",
    "cmd_show_topic_handler",
    "delete_topic_handlers",
    "delete_topics",
    "list_topic_handlers",
    "list_topics",
    "local_rfc822",
    "read_handler_file",
    "show_topic",
]
