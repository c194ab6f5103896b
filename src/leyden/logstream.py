"""Log streams: the server's log lines, as they are written, to the clients of
``GET /kapacitor/v1preview/logs`` (``leyden logs``, ``leyden watch``).

Kapacitor's diagnostic service keeps a set of log *sessions* (``services/diagnostic/
sessions.go``): each has key/value tags, and a line goes to a session when every tag matches
(``msg`` the message, ``lvl`` the level, any other key one of the line's keys with that
value; ``task=cpu`` picks the lines of task ``cpu``); ``lvl=info+`` is not a tag but the
session's lowest level, which is debug otherwise.  Lines are logfmt, or JSON objects (``ts``,
``lvl``, ``msg``, then the line's keys) for a client that accepts ``application/json``.

Here a session is fed by :class:`LogStreams`, a :class:`logging.Handler` on the ``leyden``
logger while at least one session is open, and by :func:`publish` with the lines of tasks in
engine worker processes (which send their lines back while a session wants them).  Logging
must never wait for a client: each session has a bounded queue; a line that finds it full is
dropped and counted, and the client is told how many it missed when it catches up.  Records
emitted on another thread reach the event loop through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from leyden.log import entry, level_name, logfmt, want_level

__all__ = [
    "SESSION_QUEUE",
    "LogSession",
    "LogStreams",
    "describe",
    "parse_filter",
    "portable",
    "publish",
]

#: lines a session holds for a slow client before it drops
SESSION_QUEUE = 1000

#: what ``lvl=X+`` may name (Kapacitor: debug, info, error; Leyden logs warnings too)
_MIN_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def parse_filter(params: Sequence[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
    """A session's tags and lowest level from its query parameters; ValueError with
    Kapacitor's text for a parameter given twice, or an unknown ``lvl=X+``."""
    seen: set[str] = set()
    tags: list[tuple[str, str]] = []
    level = logging.DEBUG
    for key, value in params:
        if key in seen:
            raise ValueError("query params cannot contain duplicate params")
        seen.add(key)
        if key == "lvl" and value.endswith("+"):
            found = _MIN_LEVELS.get(value[:-1].lower())
            if found is None:
                raise ValueError(f"unknown level {value!r}: use debug+, info+, warn+ or error+")
            level = found
            continue
        if key == "lvl" and value.lower() == "warn":
            value = "warning"  # the lvl Leyden writes
        tags.append((key, value))
    return tags, level


@dataclass(eq=False)
class LogSession:
    """One client's stream: its filter, its queue, what it missed."""

    tags: list[tuple[str, str]]
    level: int
    json: bool
    queue: asyncio.Queue[str | None]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: lines dropped because the client read too slowly: in all, and not yet told
    dropped: int = 0
    untold: int = 0

    def matches(self, pairs: list[tuple[str, Any]]) -> bool:
        return all(any(k == key and str(v) == value for k, v in pairs) for key, value in self.tags)

    def render(self, pairs: list[tuple[str, Any]]) -> str:
        if self.json:
            return json.dumps(dict((k, _plain(v)) for k, v in pairs), ensure_ascii=False) + "\n"
        return logfmt(pairs) + "\n"

    def offer(self, line: str) -> None:
        """Queue a line, or count it dropped (never waits)."""
        try:
            self.queue.put_nowait(line)
        except asyncio.QueueFull:
            self.dropped += 1
            self.untold += 1

    def notice(self) -> str | None:
        """The line telling the client what it missed since the last notice, if anything."""
        if not self.untold:
            return None
        pairs: list[tuple[str, Any]] = [
            ("lvl", "warning"),
            ("msg", "log lines dropped: this client reads more slowly than the server logs"),
            ("service", "sessions"),
            ("dropped", self.untold),
        ]
        self.untold = 0
        return self.render(pairs)


def _plain(value: Any) -> Any:
    """A field value as JSON: numbers and booleans stay, the rest is text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class LogStreams(logging.Handler):
    """Fans the ``leyden`` logger's records out to the open sessions (see the module)."""

    #: not a file handler: :mod:`leyden.log` leaves its level alone
    log_stream = True

    def __init__(self, logger: str = "leyden") -> None:
        super().__init__(logging.NOTSET)
        self._logger = logging.getLogger(logger)
        self._sessions: list[LogSession] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._formatter = logging.Formatter()
        #: lines dropped for slow clients, every session counted
        self.dropped = 0

    @property
    def sessions(self) -> list[LogSession]:
        return list(self._sessions)

    def open(
        self, tags: list[tuple[str, str]], level: int, *, as_json: bool, size: int = SESSION_QUEUE
    ) -> LogSession:
        """A new session (on the event loop's thread); the handler is attached while any is."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        session = LogSession(tags, level, as_json, asyncio.Queue(size))
        self._sessions = [*self._sessions, session]
        if self not in self._logger.handlers:
            self._logger.addHandler(self)
            _ACTIVE.append(self)
        want_level(id(self), min(s.level for s in self._sessions))
        return session

    def end(self, session: LogSession) -> None:
        self.dropped += session.dropped
        self._sessions = [s for s in self._sessions if s is not session]
        if self._sessions:
            want_level(id(self), min(s.level for s in self._sessions))
        else:
            self._logger.removeHandler(self)
            if self in _ACTIVE:
                _ACTIVE.remove(self)
            want_level(id(self), None)

    def close_all(self) -> None:
        """End every stream (the server is stopping): each gets its end marker."""
        for session in self._sessions:
            while True:
                try:
                    session.queue.put_nowait(None)
                    break
                except asyncio.QueueFull:
                    session.queue.get_nowait()

    def emit(self, record: logging.LogRecord) -> None:
        if not self._sessions:
            return
        try:
            self.fan_out(record.levelno, lambda: entry(record, self._formatter))
        except Exception:
            self.handleError(record)

    def fan_out(self, levelno: int, pairs_of: Callable[[], list[tuple[str, Any]]]) -> None:
        """A line at ``levelno`` to every session it matches (``pairs_of`` makes it, once)."""
        loop = self._loop
        if loop is None:
            return
        pairs: list[tuple[str, Any]] | None = None
        for session in self._sessions:
            if levelno < session.level:
                continue
            if pairs is None:
                pairs = pairs_of()
            if not session.matches(pairs):
                continue
            line = session.render(pairs)
            if threading.get_ident() == self._loop_thread:
                session.offer(line)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(session.offer, line)


#: the streams with open sessions, for the lines engine workers send back (:func:`publish`)
_ACTIVE: list[LogStreams] = []


def publish(levelno: int, pairs: list[tuple[str, Any]]) -> None:
    """A line logged elsewhere (an engine worker process, which wrote it to its own log
    file already) to the open sessions of this process."""
    for streams in list(_ACTIVE):
        streams.fan_out(levelno, lambda: pairs)


def portable(pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """A line's key/values with every value a number, bool, None or text (to send it)."""
    return [(k, _plain(v)) for k, v in pairs]


def describe(tags: list[tuple[str, str]], level: int) -> str:
    """A session's filter as its client wrote it, for the session's own log lines."""
    parts = [f"{k}={v}" for k, v in tags]
    if level != logging.DEBUG:
        parts.append(f"lvl={level_name(level)}+")
    return " ".join(parts) or "nil"
