"""How the verbs that talk to a server are run: the client made from the global flags, the
``list``/``delete`` kinds, and a refused or unreachable server reported as ``Error:`` and exit 3.

Kapacitor's CLI makes its client before any verb runs (exit 4 when the URL is bad); the verb
modules (``tasks``, ``topics``, ``deliveries``, ``service_tests``) are imported only for the
verb or kind that needs them, as in :mod:`leyden.cli`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from leyden.cli._common import EXIT_CLIENT, EXIT_ERROR, UsageError, load
from leyden.client import DEFAULT_URL, Client, ClientError

__all__ = ["DELETE_KINDS", "LIST_KINDS", "cmd_delete", "cmd_list", "run"]

#: ``leyden list KIND …``: kind → ``"module:function"`` taking (client, arguments, stdout)
LIST_KINDS: dict[str, str] = {
    "service-tests": "leyden.cli.service_tests:list_service_tests",
    "tasks": "leyden.cli.tasks:list_tasks",
    "templates": "leyden.cli.templates:list_templates",
    "topics": "leyden.cli.topics:list_topics",
    "topic-handlers": "leyden.cli.topics:list_topic_handlers",
    "deliveries": "leyden.cli.deliveries:list_deliveries",
}
#: ``leyden delete KIND …``
DELETE_KINDS: dict[str, str] = {
    "tasks": "leyden.cli.tasks:delete_tasks",
    "templates": "leyden.cli.templates:delete_templates",
    "topics": "leyden.cli.topics:delete_topics",
    "topic-handlers": "leyden.cli.topics:delete_topic_handlers",
    "deliveries": "leyden.cli.deliveries:delete_deliveries",
}


def run(
    spec: str, url: str | None, skip_verify: bool, argv: Sequence[str], out: TextIO, err: TextIO
) -> int:
    """Run the client verb ``spec`` (``"module:function"``) against ``url`` (None: the
    default)."""
    try:
        client = Client(url or DEFAULT_URL, skip_verify=skip_verify)
    except ValueError as exc:
        print(f"Error: {exc}", file=err)
        return EXIT_CLIENT
    try:
        code: int = load(spec)(client, argv, out, err)
    except ClientError as exc:
        print(f"Error: {exc}", file=err)
        return EXIT_ERROR
    return code


def _kind(
    verb: str, kinds: dict[str, str], client: Client, argv: Sequence[str], out: TextIO
) -> int:
    if not argv or argv[0] not in kinds:
        what = f'cannot {verb} "{argv[0]}"' if argv else f"what to {verb}?"
        raise UsageError(f"leyden {verb}: {what} (use one of: {', '.join(sorted(kinds))})")
    load(kinds[argv[0]])(client, list(argv[1:]), out)
    return 0


def cmd_list(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    return _kind("list", LIST_KINDS, client, argv, out)


def cmd_delete(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    return _kind("delete", DELETE_KINDS, client, argv, out)
