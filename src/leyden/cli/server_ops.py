"""The verbs that look after a running server: ``stats``, ``vars``, ``ping``, ``level``,
``logs``, ``watch`` and ``backup`` (Kapacitor's ``doStats``, ``doVars``, ``doLevel``,
``doLogs``, ``doWatch``, ``doBackup`` in ``cmd/kapacitor/main.go``; ``ping`` is Leyden's).

Output is Kapacitor's: ``stats general`` prints ``%-30s%-30s`` rows (trailing blanks
included), ``stats ingress`` a table sized to its longest database, retention policy and
measurement with the points right-aligned in 15 columns, sorted; ``vars`` the server's JSON as
it came; ``logs`` and ``watch`` the lines as the server streams them (logfmt, or JSON with
``-json``) until Ctrl-C, which ends them quietly with exit 0.  ``backup`` checks that it wrote
as many bytes as the server announced.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any, TextIO

from leyden.cli._common import EXIT_ERROR, UsageError
from leyden.client import Client, ClientError

__all__ = [
    "cmd_backup",
    "cmd_level",
    "cmd_logs",
    "cmd_ping",
    "cmd_stats",
    "cmd_vars",
    "cmd_watch",
    "ingress_table",
]


def cmd_stats(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    if len(argv) != 1:
        raise UsageError("must provide a stats category")
    if argv[0] not in ("general", "ingress"):
        raise UsageError(f'unknown stats category "{argv[0]}": use general or ingress')
    doc = client.debug_vars()
    if argv[0] == "general":
        rows: list[tuple[str, Any]] = [
            ("ClusterID:", doc.get("cluster_id", "")),
            ("ServerID:", doc.get("server_id", "")),
            ("Host:", doc.get("host", "")),
            ("Tasks:", int(doc.get("num_tasks") or 0)),
            ("Enabled Tasks:", int(doc.get("num_enabled_tasks") or 0)),
            ("Subscriptions:", int(doc.get("num_subscriptions") or 0)),
            ("Platform:", doc.get("platform", "")),
            ("Version:", doc.get("version", "")),
        ]
        out.write("".join(f"{name:<30}{value!s:<30}\n" for name, value in rows))
    else:
        out.write(ingress_table((doc.get("kapacitor") or {}).values()))
    return 0


def ingress_table(stats: Any) -> str:
    """Kapacitor's ``stats ingress`` table from the ``"kapacitor"`` statistics."""
    rows: list[tuple[str, str, str, int]] = []
    for stat in stats:
        tags = stat.get("tags") or {}
        if stat.get("name") != "ingress" or tags.get("task_master") != "main":
            continue
        received = (stat.get("values") or {}).get("points_received")
        rows.append(
            (
                str(tags.get("database", "")),
                str(tags.get("retention_policy", "")),
                str(tags.get("measurement", "")),
                int(received) if isinstance(received, int | float) else 0,
            )
        )
    wdb = max([len("Database"), *(len(r[0]) for r in rows)]) + 1
    wrp = max([len("Retention Policy"), *(len(r[1]) for r in rows)]) + 1
    wm = max([len("Measurement"), *(len(r[2]) for r in rows)]) + 1
    lines = [f"{'Database':<{wdb}}{'Retention Policy':<{wrp}}{'Measurement':<{wm}}Points Received"]
    lines += [f"{db:<{wdb}}{rp:<{wrp}}{m:<{wm}}{n:>15}" for db, rp, m, n in sorted(rows)]
    return "\n".join(lines) + "\n"


def cmd_vars(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    if argv:
        raise UsageError("vars takes no arguments")
    text = client.debug_vars_raw().decode("utf-8", "replace")
    out.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_ping(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    if argv:
        raise UsageError("ping takes no arguments")
    took, version = client.ping()
    out.write(f"{client.base} is up: version {version or 'unknown'}, {took * 1000:.1f}ms\n")
    return 0


def cmd_level(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    if len(argv) != 1:
        raise UsageError("Must pass a log level")
    client.log_level(argv[0])
    return 0


def _pairs(argv: Sequence[str]) -> list[tuple[str, str]]:
    """``key=value`` words; a key given twice keeps its last value (Kapacitor builds a map)."""
    pairs: dict[str, str] = {}
    for arg in argv:
        key, eq, value = arg.partition("=")
        if not eq or not key:
            raise UsageError(f"bad keyvalue pair: '{arg}'")
        pairs.pop(key, None)
        pairs[key] = value
    return list(pairs.items())


def _tail(client: Client, tags: list[tuple[str, str]], as_json: bool, out: TextIO) -> int:
    """Print the stream until the server ends it or Ctrl-C (both exit 0, as Kapacitor)."""
    try:
        for line in client.logs(tags, as_json=as_json):
            out.write(line.decode("utf-8", "replace"))
            out.flush()
    except KeyboardInterrupt:
        return 0
    except ClientError as exc:
        raise ClientError(f"failed to retrieve logs: {exc}") from None
    except OSError as exc:  # the connection broke mid-stream
        raise ClientError(f"failed to retrieve logs: {exc}") from None
    return 0


def _json_flag(argv: Sequence[str]) -> tuple[bool, list[str]]:
    rest = [a for a in argv if a not in ("-json", "--json")]
    return len(rest) != len(argv), rest


def cmd_logs(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    as_json, rest = _json_flag(argv)
    return _tail(client, _pairs(rest), as_json, out)


def cmd_watch(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    as_json, rest = _json_flag(argv)
    if not rest:
        raise UsageError("must provide task ID.")
    return _tail(client, _pairs([f"task={rest[0]}", *rest[1:]]), as_json, out)


def cmd_backup(client: Client, argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    if len(argv) != 1:
        raise UsageError("must provide file path for backup.")
    target = argv[0]
    try:
        size, chunks = client.backup()
    except ClientError as exc:
        raise ClientError(f"failed to perform backup: {exc}") from None
    partial = target + ".partial"
    written = 0
    try:
        # 0600: the copy holds the handlers' webhook URLs and tokens
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
                written += len(chunk)
    except OSError as exc:
        if exc.filename:
            raise  # the file cannot be created: the CLI's one line, exit 5
        _remove(partial)
        raise ClientError(f"failed to save backup: {exc}") from None
    if size >= 0 and written != size:
        _remove(partial)
        print(
            f"Error: failed to download entire backup, only wrote {written} bytes out of a "
            f"total {size} bytes.",
            file=err,
        )
        return EXIT_ERROR
    os.replace(partial, target)
    return 0


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
