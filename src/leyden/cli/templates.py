"""The template verbs of the ``leyden`` CLI: Kapacitor's ``define-template``, ``show-template``,
``list templates`` and ``delete templates`` (``cmd/kapacitor/main.go``), with its output
formats.

As with ``define``, a TICKscript error is shown at the line of the user's file with a caret
under the mistake.  Tasks are made from a template with ``leyden define ID -template T -vars
F.json|yaml`` (:mod:`leyden.cli.tasks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from leyden.cli._common import UsageError, parser
from leyden.cli.tasks import read_file, render_tick_error, rfc822, var_value
from leyden.client import Client, ClientError

__all__ = ["cmd_define_template", "cmd_show_template", "delete_templates", "list_templates"]


def cmd_define_template(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    """Create the template, or update what the flags give of an existing one (its tasks are
    re-defined by the server)."""
    argv = list(argv)
    if not argv or argv[0].startswith("-"):
        raise UsageError("Must provide a template ID.")
    template_id = argv.pop(0)
    p = parser("leyden define-template")
    p.add_argument("-tick", "--tick", default="")
    p.add_argument("-type", "--type", default="", choices=["", "stream", "batch"])
    args = p.parse_args(argv)
    script = read_file(args.tick, "TICKscript") if args.tick else ""
    options: dict[str, Any] = {}
    if args.type:
        options["type"] = args.type
    if script:
        options["script"] = script
    try:
        if client.find_template(template_id) is None:
            client.create_template({"id": template_id, **options})
        else:
            client.update_template(template_id, options)
    except ClientError as exc:
        raise render_tick_error(exc, args.tick, script) if args.tick else exc from None
    return 0


def list_templates(client: Client, patterns: Sequence[str], out: TextIO) -> None:
    """``ID``, ``Type`` and the names of the template's vars, sorted by ID."""
    templates: dict[str, dict[str, Any]] = {}
    for pattern in patterns or [""]:
        for t in client.all_templates(pattern, ["type", "vars"]):
            templates.setdefault(t["id"], t)
    width = max([2, *(len(i) for i in templates)]) + 1
    out.write(f"{'ID':<{width}}{'Type':<10}{'Vars':<40}\n")
    for template_id in sorted(templates):
        t = templates[template_id]
        names = ",".join(sorted(t.get("vars") or {}))
        out.write(f"{template_id:<{width}}{t.get('type', ''):<10}{names:<40}\n")


def show_template(client: Client, template_id: str, out: TextIO) -> None:
    t = client.get_template(template_id)
    w = out.write
    w(f"ID: {t.get('id', '')}\n")
    w(f"Error: {t.get('error', '')}\n")
    w(f"Type: {t.get('type', '')}\n")
    w(f"Created: {rfc822(t.get('created'))}\n")
    w(f"Modified: {rfc822(t.get('modified'))}\n")
    w(f"TICKscript:\n{t.get('script', '')}\n")
    w("Vars:\n")
    w(f"{'Name':<30}{'Type':<10}{'Default Value':<40}{'Description':<40}\n")
    vars_ = t.get("vars") or {}
    for name in sorted(vars_):
        var = vars_[name]
        if var.get("value") is None:
            value = "<required>"
        else:
            try:
                value = var_value(var)
            except ClientError as exc:
                raise ClientError(f"invalid var {name}: {exc}") from None
        w(f"{name:<30}{var.get('type', ''):<10}{value:<40}{var.get('description', ''):<40}\n")
    w(f"DOT:\n{t.get('dot', '')}\n")


def cmd_show_template(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        raise UsageError("Must specify one template ID")
    show_template(client, argv[0], out)
    return 0


def delete_templates(client: Client, patterns: Sequence[str], out: TextIO) -> None:
    """Delete the templates matching each ID or glob (none matching is not an error: the
    template is gone either way); tasks made from them keep running."""
    if not patterns:
        raise UsageError("Must pass at least one ID")
    for pattern in patterns:
        for t in client.all_templates(pattern, ["link"]):
            client.delete_template(t["id"])
