"""Logging set-up: Kapacitor-like logfmt lines on stderr, stdout or a file, and the level the
running server logs at.

Every module logs through ``logging.getLogger("leyden.<service>")``; the formatter prints
``ts=… lvl=info msg="…" service=<service>`` so operators who grep Kapacitor logs feel at home.
:func:`entry` is that line as ordered key/values, shared by the formatter and the log streams
of ``GET /kapacitor/v1preview/logs`` (:mod:`leyden.logstream`), so both say the same.
Secrets are the callers' business: nothing that may hold a webhook token or password is ever
passed to a logger (see :func:`leyden.notify.redact_url`).

The level has two parts, as in Kapacitor's diagnostic service: the **server's level**
(``[logging] level``, ``-log-level``, changed at run time by ``POST /kapacitor/v1/loglevel``
through :func:`set_level`) filters what the log file gets; a **log stream** may want more (a
``leyden logs`` session sees debug lines unless it asks ``lvl=info+``), so while one is open
the ``leyden`` logger lets through the lowest level wanted (:func:`want_level`) and the file's
handler still filters at the server's level.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = [
    "LogfmtFormatter",
    "entry",
    "level_name",
    "on_levels",
    "parse_level",
    "server_level",
    "set_level",
    "set_level_number",
    "setup_logging",
    "stream_level",
    "want_level",
]

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}
_ROOT = "leyden"


def _quote(value: str) -> str:
    if value and not any(c in value for c in ' ="\n\t'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def level_name(levelno: int) -> str:
    """The ``lvl`` of a record: ``debug``, ``info``, ``warning``, ``error`` …"""
    return logging.getLevelName(levelno).lower()


def entry(record: logging.LogRecord, formatter: logging.Formatter) -> list[tuple[str, Any]]:
    """A record as the log line's ordered key/values: ``ts``, ``lvl``, ``msg``, ``service``,
    then its ``fields`` (the ``extra={"fields": {…}}`` of the call), then ``err`` and
    ``trace`` for an unexpected exception logged at error level."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    ts += f".{int(record.msecs):03d}Z"
    service = record.name.removeprefix("leyden.").removeprefix("leyden") or "leyden"
    pairs: list[tuple[str, Any]] = [
        ("ts", ts),
        ("lvl", level_name(record.levelno)),
        ("msg", record.getMessage()),
        ("service", service),
    ]
    extra = getattr(record, "fields", None)
    if isinstance(extra, dict):
        pairs.extend(extra.items())
    if record.exc_info and record.levelno >= logging.ERROR:
        # an unexpected exception (a bug): keep its traceback, escaped onto the one line
        if not (isinstance(extra, dict) and "err" in extra):
            pairs.append(("err", str(record.exc_info[1])))
        pairs.append(("trace", formatter.formatException(record.exc_info)))
    return pairs


def logfmt(pairs: list[tuple[str, Any]]) -> str:
    """``key=value …``, values quoted when they need it."""
    return " ".join(f"{k}={_quote(str(v))}" for k, v in pairs)


class LogfmtFormatter(logging.Formatter):
    """``ts=2026-11-26T13:55:17.123Z lvl=info msg="…" service=http key=value…``."""

    def format(self, record: logging.LogRecord) -> str:
        return logfmt(entry(record, self))


class _Levels:
    """The server's level and the levels open log streams want (see the module docstring)."""

    def __init__(self) -> None:
        #: NOTSET until :func:`setup_logging` or :func:`set_level`: the logger inherits
        self.server = logging.NOTSET
        self.wanted: dict[int, int] = {}
        self.listeners: list[Callable[[int, int | None], None]] = []
        self._told: tuple[int, int | None] | None = None

    def stream(self) -> int | None:
        return min(self.wanted.values()) if self.wanted else None

    def apply(self) -> None:
        before = self._told
        now = (self.server, self.stream())
        self._told = now
        self._apply()
        if now != before:
            for listener in list(self.listeners):
                listener(*now)

    def _apply(self) -> None:
        logger = logging.getLogger(_ROOT)
        server = self.server
        if self.wanted:
            base = server or (logger.parent.getEffectiveLevel() if logger.parent else 0)
            logger.setLevel(min(base, *self.wanted.values()))
        else:
            logger.setLevel(server)
        for handler in logger.handlers:
            if not getattr(handler, "log_stream", False):
                handler.setLevel(server)


_STATE = _Levels()


def server_level() -> int:
    """The level the server logs at (NOTSET: never set; the logger inherits its parent's)."""
    return _STATE.server


def stream_level() -> int | None:
    """The lowest level an open log stream wants (None: no stream is open)."""
    return _STATE.stream()


def on_levels(listener: Callable[[int, int | None], None]) -> Callable[[], None]:
    """Call ``listener(server level, stream level)`` whenever either changes (the engine
    workers follow them); the function that stops it."""
    _STATE.listeners.append(listener)

    def stop() -> None:
        if listener in _STATE.listeners:
            _STATE.listeners.remove(listener)

    return stop


def parse_level(name: str) -> int:
    """``debug``, ``info``, ``warn`` or ``error`` (any case) as a level number; ValueError
    ("invalid log level", Kapacitor's loglevel API's text) for anything else."""
    level = _LEVELS.get(name.upper())
    if level is None:
        raise ValueError("invalid log level")
    return level


def set_level(name: str) -> int:
    """Make the running server log at ``name`` (see :func:`parse_level`); the previous
    level."""
    return _set(parse_level(name))


def set_level_number(level: int) -> int:
    """:func:`set_level` with a level number (an engine worker told by its server)."""
    return _set(level)


def _set(level: int) -> int:
    before = _STATE.server
    _STATE.server = level
    _STATE.apply()
    return before


def want_level(key: int, level: int | None) -> None:
    """A log stream ``key`` wants records from ``level`` up (None: it is gone)."""
    if level is None:
        _STATE.wanted.pop(key, None)
    else:
        _STATE.wanted[key] = level
    _STATE.apply()


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
    root = logging.getLogger(_ROOT)
    root.handlers[:] = [handler]
    root.propagate = False
    _set(_LEVELS.get(level.upper(), logging.INFO))
