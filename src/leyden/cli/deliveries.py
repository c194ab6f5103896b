"""The delivery verbs of the ``leyden`` CLI: ``list deliveries``, ``show-delivery``,
``retry-delivery`` and ``delete deliveries`` (issue 10 item 5).

Kapacitor has no such verbs (a notification it could not send is gone); these follow its CLI's
ways all the same (``cmd/kapacitor/main.go``): ``list KIND [patterns]`` prints a table with
columns as wide as their widest cell, ``show-…`` prints ``Key: value`` lines, ``delete KIND
ID…`` stops at the first error, and success is silent.  Widths count characters, not bytes as
Kapacitor's tables do: the redacted destinations end in ``…``.  ``retry-delivery -all`` says how many
dead deliveries it queued again, since nothing else would tell, and how many broken webhooks
it tries again (their breakers closed, :mod:`leyden.delivery.breaker`); deliveries held by
such a breaker are listed with state ``held``, and retrying one of them tries its webhook
again.  Patterns are globs over the
handler, the destination and the alert ID, as the server matches them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from leyden.cli._common import UsageError
from leyden.cli.topics import local_rfc822
from leyden.client import Client

__all__ = [
    "cmd_retry_delivery",
    "cmd_show_delivery",
    "delete_deliveries",
    "list_deliveries",
]

_COLUMNS = (
    ("ID", "id"),
    ("State", "state"),
    ("Attempts", "attempts"),
    ("Level", "level"),
    ("Handler", "handler"),
    ("Alert ID", "alert-id"),
    ("Destination", "destination"),
    ("Last Error", "last-error"),
)


def list_deliveries(client: Client, patterns: list[str], out: TextIO) -> None:
    found: dict[str, dict[str, Any]] = {}
    for pattern in patterns or [""]:
        for d in client.list_deliveries(pattern):
            found.setdefault(str(d.get("id", "")), d)
    rows = [
        [str(d.get(key, "")) for _, key in _COLUMNS]
        for d in sorted(found.values(), key=lambda d: int(d.get("id", 0)))
    ]
    header = [title for title, _ in _COLUMNS]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for cells in [header, *rows]:
        padded = [
            cell + " " * (width + 1 - len(cell))
            for cell, width in zip(cells[:-1], widths, strict=False)
        ]
        out.write(("".join(padded) + cells[-1]).rstrip() + "\n")


def _delivery_id(text: str) -> str:
    if not text.isascii() or not text.isdigit():
        raise UsageError(f'"{text}" is not a delivery ID (a number, as list deliveries shows)')
    return text


def cmd_show_delivery(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    if len(argv) != 1:
        raise UsageError("Must specify one delivery ID")
    d = client.get_delivery(_delivery_id(argv[0]))
    out.write(f"ID: {d.get('id', '')}\n")
    out.write(f"State: {d.get('state', '')}\n")
    out.write(f"Kind: {d.get('kind', '')}\n")
    out.write(f"Handler: {d.get('handler', '')}\n")
    out.write(f"Destination: {d.get('destination', '')}\n")
    out.write(f"Alert ID: {d.get('alert-id', '')}\n")
    out.write(f"Level: {d.get('level', '')} (previous: {d.get('previous-level', '')})\n")
    out.write(f"Message: {d.get('message', '')}\n")
    out.write(f"Attempts: {d.get('attempts', 0)}\n")
    out.write(f"Created: {local_rfc822(d.get('created', ''))}\n")
    out.write(f"Next attempt: {local_rfc822(d.get('next-attempt', ''))}\n")
    out.write(f"Last error: {d.get('last-error', '')}\n")
    out.write(f"Event: {json.dumps(d.get('event'), ensure_ascii=False)}\n")
    return 0


def cmd_retry_delivery(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    flags = [a for a in argv if a in ("-all", "--all")]
    if flags:
        if len(argv) != 1:
            raise UsageError("-all retries every dead delivery: give no ID with it")
        count, closed = client.retry_all_deliveries()
        out.write(f"{count} dead {'delivery' if count == 1 else 'deliveries'} queued again\n")
        if closed:
            webhooks = "webhook" if closed == 1 else "webhooks"
            out.write(f"{closed} broken {webhooks} tried again (their held deliveries too)\n")
        return 0
    if not argv:
        raise UsageError("Must pass at least one delivery ID, or -all")
    for delivery_id in [_delivery_id(a) for a in argv]:
        client.retry_delivery(delivery_id)
    return 0


def delete_deliveries(client: Client, ids: list[str], out: TextIO) -> None:
    if not ids:
        raise UsageError("Must pass at least one ID")
    for delivery_id in [_delivery_id(a) for a in ids]:
        client.delete_delivery(delivery_id)
