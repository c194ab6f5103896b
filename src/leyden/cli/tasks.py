"""The task verbs of the ``leyden`` CLI: Kapacitor's ``define``, ``enable``, ``disable``,
``reload``, ``delete tasks``, ``list tasks`` and ``show`` (``cmd/kapacitor/main.go``).

Output formats are Kapacitor's, so scripts that parse ``kapacitor list tasks`` keep working.
Where Leyden says more than Kapacitor, it says it on stderr: builder warnings after ``define``,
and a TICKscript error shown at the line of the user's file with a caret under the mistake.
Enabling, disabling or reloading a pattern that matches no task is an error here (Kapacitor
silently does nothing); deleting one is not, since the task is gone either way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

import yaml

from leyden import limits
from leyden.cli._common import FileError, UsageError, parser
from leyden.client import Client, ClientError
from leyden.go.time import GO_ZERO_TIME
from leyden.go.types import Duration, go_quote
from leyden.tick.errors import TickError
from leyden.tick.values import format_float_v

_GLOB_CHARS = frozenset("*?[")


# --- define ---------------------------------------------------------------------------------


def parse_dbrp(value: str) -> tuple[str, str]:
    """Kapacitor's ``-dbrp`` value: ``db.rp`` or ``"db"."rp"`` (quotes optional, ``\\"``
    escapes a quote inside a quoted name)."""
    if not value:
        raise ValueError("dbrp cannot be empty")
    if value[0] == '"':
        db, n = _quoted(value)
    else:
        n = value.find(".")
        if n == -1:
            raise ValueError(
                'does not contain a \'.\', it must be in the form "dbname"."rpname" where '
                "the quotes are optional."
            )
        db = value[:n]
    if n >= len(value) or value[n] != ".":
        raise ValueError("dbrp must specify retention policy, do you have a missing or extra '.'?")
    rest = value[n + 1 :]
    rp = _quoted(rest)[0] if rest.startswith('"') else rest
    if not rp:
        raise ValueError("dbrp must specify retention policy, do you have a missing or extra '.'?")
    return db, rp


def _quoted(text: str) -> tuple[str, int]:
    """The quoted string at the start of ``text`` and how many characters it took."""
    quote = text[0]
    out: list[str] = []
    i = 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] == quote:
            out.append(quote)
            i += 2
            continue
        if c == quote:
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise ValueError(f"unterminated quote in {text!r}")


def read_file(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise FileError(f"failed to open {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise FileError(f"failed to read {what} {path}: not UTF-8 text") from None


def read_vars(path: str) -> dict[str, Any]:
    """``-vars f.json|f.yaml``: a vars object, or an object with a ``vars`` key (Kapacitor
    accepts both in JSON; Leyden reads the same shapes from a ``.yaml``/``.yml`` file)."""
    text = read_file(path, "task vars file")
    is_yaml = os.path.splitext(path)[1].lower() in (".yaml", ".yml")
    kind = "YAML" if is_yaml else "JSON"
    try:
        data = limits.check_json_depth(
            yaml.safe_load(text) if is_yaml else json.loads(text), f"file {path}"
        )
    except (RecursionError, limits.JSONLimitError):
        raise ClientError(
            f"invalid {kind} in file {path}: it nests deeper than {limits.MAX_JSON_DEPTH} "
            "levels (the limit)"
        ) from None
    except json.JSONDecodeError as exc:
        raise ClientError(f"invalid JSON in file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ClientError(f"invalid YAML in file {path}: {exc}") from None
    if isinstance(data, dict):
        if all(isinstance(v, dict) and "type" in v for v in data.values()):
            return data
        if isinstance(data.get("vars"), dict):
            return dict(data["vars"])
    raise ClientError(
        f'invalid {kind} in file {path}: expected {{"name": {{"type": …, "value": …}}}}'
    )


def _read_task_file(path: str) -> dict[str, Any]:
    """``-file f.yaml|json``: Kapacitor's TaskVars (id, template-id, dbrps, vars)."""
    text = read_file(path, "file")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif ext == ".json":
            data = json.loads(text)
        else:
            raise ClientError("bad file extension. Must be YAML or JSON")
        limits.check_json_depth(data, f"file {path}")
    except ClientError:
        raise
    except (RecursionError, limits.JSONLimitError):
        raise ClientError(
            f'task vars file "{path}" nests deeper than {limits.MAX_JSON_DEPTH} levels (the limit)'
        ) from None
    except Exception as exc:  # yaml.YAMLError, json.JSONDecodeError
        kind = "json" if ext == ".json" else "yaml"
        raise ClientError(f'failed to unmarshal {kind} task vars file "{path}": {exc}') from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ClientError(f"{path}: expected a mapping with keys id, template-id, dbrps, vars")
    unknown = sorted(set(data) - {"id", "template-id", "dbrps", "vars"})
    if unknown:
        raise ClientError(
            f"{path}: unknown keys {', '.join(unknown)} (valid: id, template-id, dbrps, vars)"
        )
    return data


def render_tick_error(exc: ClientError, path: str, script: str) -> ClientError:
    """A server TICKscript error shown at the user's file: ``file:line:col: message`` and the
    offending line with a caret."""
    body = exc.body if isinstance(exc.body, dict) else {}
    pos = body.get("position")
    reason = body.get("reason")
    if not isinstance(pos, dict) or not isinstance(reason, str):
        return exc
    try:
        line, column = int(pos["line"]), int(pos["column"])
        lines = script.split("\n")
        err = TickError(
            reason,
            filename=path,
            line=line,
            col=column,
            source_line=lines[line - 1] if 0 < line <= len(lines) else "",
            length=int(pos.get("length", 1)),
            caret_col=int(pos.get("caret-column", column)),
        )
    except (KeyError, TypeError, ValueError):
        return exc
    rendered = ClientError(f"invalid TICKscript: {err.render()}")
    rendered.status, rendered.body = exc.status, exc.body
    return rendered


def _show_warnings(task: dict[str, Any], path: str, err: TextIO) -> None:
    for w in task.get("warnings") or []:
        if isinstance(w, dict):
            err.write(f"{path}:{w.get('line')}:{w.get('column')}: warning: {w.get('message')}\n")


def cmd_define(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    argv = list(argv)
    if not argv or argv[0].startswith("-"):
        raise UsageError("Must provide a task ID.")
    task_id = argv.pop(0)
    p = parser("leyden define")
    p.add_argument("-tick", "--tick", default="")
    p.add_argument("-type", "--type", default="", choices=["", "stream", "batch"])
    p.add_argument("-dbrp", "--dbrp", action="append", default=[])
    p.add_argument("-template", "--template", default="")
    p.add_argument("-vars", "--vars", default="")
    p.add_argument("-file", "--file", default="")
    p.add_argument("-no-reload", "--no-reload", action="store_true")
    args = p.parse_args(argv)
    dbrps = []
    for value in args.dbrp:
        try:
            dbrps.append(parse_dbrp(value))
        except ValueError as exc:
            raise UsageError(f'invalid value "{value}" for flag -dbrp: {exc}') from None
    script = read_file(args.tick, "TICKscript") if args.tick else ""
    vars_ = read_vars(args.vars) if args.vars else {}
    template_id = args.template
    if args.file:
        spec = _read_task_file(args.file)
        file_id = spec.get("id") or ""
        if file_id and file_id != task_id:
            raise ClientError(f"Task id given on command line does not match id in {args.file}")
        template_id = template_id or str(spec.get("template-id") or "")
        vars_ = vars_ or dict(spec.get("vars") or {})
        if not dbrps:
            for item in spec.get("dbrps") or []:
                if not isinstance(item, dict):
                    raise ClientError(f"{args.file}: dbrps: expected entries {{db: …, rp: …}}")
                dbrps.append((str(item.get("db", "")), str(item.get("rp", ""))))
    options: dict[str, Any] = {}
    if template_id:
        options["template-id"] = template_id
    if args.type:
        options["type"] = args.type
    if dbrps:
        options["dbrps"] = [{"db": db, "rp": rp} for db, rp in dbrps]
    if script:
        options["script"] = script
    if vars_:
        options["vars"] = vars_
    existing = client.find_task(task_id)
    try:
        if existing is None:
            result = client.create_task({"id": task_id, **options, "status": "disabled"})
        else:
            result = client.update_task(task_id, options)
    except ClientError as exc:
        raise render_tick_error(exc, args.tick, script) if args.tick else exc from None
    _show_warnings(result, args.tick or task_id, err)
    if existing is not None and existing.get("status") == "enabled" and not args.no_reload:
        client.update_task(task_id, {"status": "disabled"})
        client.update_task(task_id, {"status": "enabled"})
    return 0


# --- enable, disable, reload, delete ---------------------------------------------------------


def _matching(client: Client, patterns: Sequence[str], *, must_match: bool) -> list[str]:
    """Task IDs matching each pattern, in order, without repeats."""
    ids: list[str] = []
    for pattern in patterns:
        try:
            found = [t["id"] for t in client.all_tasks(pattern, ["link"])]
        except ClientError as exc:
            raise ClientError(f"listing tasks: {exc}") from None
        if not found and must_match:
            what = "matches" if _GLOB_CHARS & set(pattern) else "is named"
            raise ClientError(f'no task {what} "{pattern}"')
        ids.extend(i for i in found if i not in ids)
    return ids


def _set_status(client: Client, argv: Sequence[str], status: str, verb: str) -> None:
    if not argv:
        raise UsageError("Must pass at least one task ID")
    doing = "enabling" if status == "enabled" else "disabling"
    for task_id in _matching(client, argv, must_match=True):
        try:
            client.update_task(task_id, {"status": status})
        except ClientError as exc:
            raise ClientError(f"{doing} task {task_id}: {exc}") from None


def cmd_enable(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    _set_status(client, argv, "enabled", "enable")
    return 0


def cmd_disable(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    _set_status(client, argv, "disabled", "disable")
    return 0


def cmd_reload(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    _set_status(client, argv, "disabled", "reload")
    _set_status(client, argv, "enabled", "reload")
    return 0


def delete_tasks(client: Client, patterns: Sequence[str], out: TextIO) -> None:
    if not patterns:
        raise UsageError("Must pass at least one ID")
    for task_id in _matching(client, patterns, must_match=False):
        client.delete_task(task_id)


# --- list, show -------------------------------------------------------------------------------


def format_dbrps(dbrps: Any) -> str:
    """Go's ``%v`` of ``[]client.DBRP``: ``["telegraf"."autogen" "db"."rp"]``."""
    items = dbrps if isinstance(dbrps, list) else []
    return (
        "["
        + " ".join(f"{go_quote(d.get('db', ''))}.{go_quote(d.get('rp', ''))}" for d in items)
        + "]"
    )


def _bool(v: Any) -> str:
    return "true" if v else "false"


def failed(task: dict[str, Any]) -> bool:
    """An enabled task that is not running because its start failed (the API keeps its
    ``error``); Kapacitor lists it as ``enabled``, not executing, and says why only in
    ``show``."""
    return task.get("status") == "enabled" and not task.get("executing") and bool(task.get("error"))


def list_tasks(client: Client, patterns: Sequence[str], out: TextIO) -> None:
    """Kapacitor's table; a task whose start failed reads ``failed`` in the Status column,
    and its error follows the table, as ``show`` prints it."""
    tasks: dict[str, dict[str, Any]] = {}
    for pattern in patterns or [""]:
        for t in client.all_tasks(pattern, ["type", "status", "executing", "dbrps", "error"]):
            tasks.setdefault(t["id"], t)
    width = max([2, *(len(i) for i in tasks)]) + 1
    out.write(
        f"{'ID':<{width}}{'Type':<10}{'Status':<10}{'Executing':<10}"
        "Databases and Retention Policies\n"
    )
    errors: list[str] = []
    for task_id in sorted(tasks):
        t = tasks[task_id]
        status = t.get("status", "")
        if failed(t):
            status = "failed"
            errors.append(f"{task_id}: Error: {t['error']}\n")
        out.write(
            f"{task_id:<{width}}{t.get('type', ''):<10}{status:<10}"
            f"{_bool(t.get('executing')):<10}{format_dbrps(t.get('dbrps'))}\n"
        )
    if errors:
        out.write("\n" + "".join(errors))


def rfc822(text: Any) -> str:
    """Go's ``time.RFC822`` (``02 Jan 06 15:04 MST``) of an RFC 3339 time from the API, in the
    offset it was sent with (UTC prints ``UTC``, another offset ``+0100``)."""
    if not isinstance(text, str) or len(text) < 19:
        return str(text)
    try:
        head = datetime(
            int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16])
        )
    except ValueError:
        return text
    rest = text[19:]
    zone = "UTC"
    if len(rest) >= 6 and rest[-6] in "+-" and rest[-5:] != "00:00":
        zone = rest[-6] + rest[-5:-3] + rest[-2:]
    return f"{head:%d %b %y %H:%M} {zone}"


def var_value(var: dict[str, Any]) -> str:
    kind, value = var.get("type"), var.get("value")
    if kind == "list":
        parts = []
        for item in value or []:
            if not isinstance(item, dict) or item.get("type") not in ("string", "star"):
                got = item.get("type") if isinstance(item, dict) else type(item).__name__
                raise ClientError(f"lists can only contain strings or a star, got {got}")
            parts.append("*" if item.get("type") == "star" else str(item.get("value", "")))
        return "[" + ", ".join(parts) + "]"
    if value is None:
        return "<nil>"
    if kind == "duration" and isinstance(value, int):
        return str(Duration(value))
    if isinstance(value, bool):
        return _bool(value)
    if kind == "float" and isinstance(value, int | float):
        return format_float_v(float(value))  # Go JSON writes 1e6 as 1000000
    return str(value)


def show_task(client: Client, task_id: str, out: TextIO) -> None:
    t = client.get_task(task_id)
    w = out.write
    w(f"ID: {t.get('id', '')}\n")
    w(f"Error: {t.get('error', '')}\n")
    w(f"Template: {t.get('template-id', '')}\n")
    w(f"Type: {t.get('type', '')}\n")
    w(f"Status: {t.get('status', '')}\n")
    w(f"Executing: {_bool(t.get('executing'))}\n")
    w(f"Created: {rfc822(t.get('created'))}\n")
    w(f"Modified: {rfc822(t.get('modified'))}\n")
    w(f"LastEnabled: {rfc822(t.get('last-enabled') or GO_ZERO_TIME)}\n")
    w(f"Databases Retention Policies: {format_dbrps(t.get('dbrps'))}\n")
    w(f"TICKscript:\n{t.get('script', '')}\n")
    vars_ = t.get("vars") or {}
    if vars_:
        w("Vars:\n")
        w(f"{'Name':<30}{'Type':<10}{'Value':<40}\n")
        for name in sorted(vars_):
            var = vars_[name]
            try:
                value = var_value(var)
            except ClientError as exc:
                raise ClientError(f"invalid var {name}: {exc}") from None
            w(f"{name:<30}{var.get('type', ''):<10}{value:<40}\n")
    w(f"DOT:\n{t.get('dot', '')}\n")


def cmd_show(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        raise UsageError("Must specify one task ID")
    show_task(client, argv[0], out)
    return 0


__all__ = [
    "cmd_define",
    "cmd_disable",
    "cmd_enable",
    "cmd_reload",
    "cmd_show",
    "delete_tasks",
    "failed",
    "format_dbrps",
    "list_tasks",
    "parse_dbrp",
    "read_file",
    "read_vars",
    "render_tick_error",
    "rfc822",
    "show_task",
    "var_value",
]
