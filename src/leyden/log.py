"""Logging set-up: Kapacitor-like logfmt lines on stderr, stdout or a file.

Every module logs through ``logging.getLogger("leyden.<service>")``; the formatter prints
``ts=… lvl=info msg="…" service=<service>`` so operators who grep Kapacitor logs feel at home.
Secrets are the callers' business: nothing that may hold a webhook token or password is ever
passed to a logger (see :func:`leyden.notify.redact_url`).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}


def _quote(value: str) -> str:
    if value and not any(c in value for c in ' ="\n\t'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    """``ts=2026-11-26T13:55:17.123Z lvl=info msg="…" service=http key=value…``."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ts += f".{int(record.msecs):03d}Z"
        service = record.name.removeprefix("leyden.").removeprefix("leyden") or "leyden"
        parts = [
            f"ts={ts}",
            f"lvl={record.levelname.lower()}",
            f"msg={_quote(record.getMessage())}",
            f"service={service}",
        ]
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            parts.extend(f"{k}={_quote(str(v))}" for k, v in extra.items())
        if record.exc_info and record.levelno >= logging.ERROR:
            # an unexpected exception (a bug): keep its traceback, escaped onto the one line
            if not (isinstance(extra, dict) and "err" in extra):
                parts.append(f"err={_quote(str(record.exc_info[1]))}")
            parts.append(f"trace={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


def setup_logging(target: str = "STDERR", level: str = "INFO") -> None:
    """Route the ``leyden`` logger to ``target`` (STDERR, STDOUT or a file path) at ``level``."""
    stream: TextIO | None
    if target.upper() == "STDERR" or not target:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
    elif target.upper() == "STDOUT":
        stream = sys.stdout
        handler = logging.StreamHandler(stream)
    else:
        handler = logging.FileHandler(target, encoding="utf-8")
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger("leyden")
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level.upper(), logging.INFO))
    root.propagate = False
