"""The service-test verbs of the ``leyden`` CLI: Kapacitor's ``service-tests`` and ``list
service-tests`` (``cmd/kapacitor/main.go``), with its output formats.

Leyden adds ``-workspace W`` (repeatable) to test each Discord workspace by name; Kapacitor
tests only the default one unless options are given in a file.  A test that fails makes the
command fail (exit 3, the count on stderr) where Kapacitor exits 0, so a script or a deploy
check can rely on it; the table is printed whole either way.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import TextIO

from leyden.cli._common import EXIT_ERROR, UsageError, parser
from leyden.client import Client, ClientError

__all__ = ["cmd_service_tests", "list_service_tests"]


def cmd_service_tests(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    p = parser("leyden service-tests")
    p.add_argument("-workspace", "--workspace", action="append", default=[])
    p.add_argument("patterns", nargs="*")
    args = p.parse_args(argv)
    patterns = args.patterns or ["*"]
    names = sorted(
        {
            s["name"]
            for s in client.list_service_tests()
            if any(fnmatch.fnmatchcase(s["name"], pat) for pat in patterns)
        }
    )
    if not names:
        raise ClientError(f"no service matches {' '.join(patterns)}")
    if args.workspace and names != ["discord"]:
        raise UsageError(
            "-workspace applies to the discord service only: "
            "leyden service-tests -workspace W discord"
        )
    out.write(f"{'Service':<20}{'Success':<10}Message\n")
    failed: list[str] = []
    for name in names:
        runs: list[tuple[str, dict[str, str]]] = [(name, {})]
        if args.workspace:
            runs = [(f"{name}[{ws}]", {"workspace": ws}) for ws in args.workspace]
        for label, options in runs:
            result = client.test_service(name, options)
            success = "true" if result.get("success") else "false"
            out.write(f"{label:<20}{success:<10}{result.get('message', '')}\n")
            if not result.get("success"):
                failed.append(label)
    if failed:
        err.write(f"Error: service test failed: {', '.join(failed)}\n")
        return EXIT_ERROR
    return 0


def list_service_tests(client: Client, patterns: Sequence[str], out: TextIO) -> None:
    names = sorted(s["name"] for s in client.list_service_tests())
    out.write("Service Name\n")
    for name in names:
        if any(fnmatch.fnmatchcase(name, pat) for pat in patterns or ["*"]):
            out.write(f"{name}\n")
