"""``.log(path).mode(0644)`` and ``kind: log``: alert-data JSON lines appended to a file.

As Kapacitor's log handler: the path must be absolute, the mode (default ``0600``, subject to
the umask when the file is created) must let the owner write; the file is opened, appended to
and closed for every event, so log rotation needs no signal; a failed write (a full disk) is
retried by the dispatcher.  The write runs in a thread so a
slow disk never holds up the event loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import Any

from leyden.model.alert import Event
from leyden.notify._http import DeliveryResult
from leyden.notify._registry import Integration
from leyden.notify.base import (
    HandlerConfigError,
    HandlerContext,
    SingleSend,
    check_keys,
    option,
)

DEFAULT_MODE = 0o600
OPTION_KEYS = ("path", "mode")


class LogHandler(SingleSend):
    kind = "log"

    def __init__(self, ctx: HandlerContext, path: str, mode: int = DEFAULT_MODE) -> None:
        if not 0 <= mode <= 0o7777:
            raise HandlerConfigError(f"invalid file mode {mode:#o} for log handler {path!r}")
        if not mode & 0o200:
            raise HandlerConfigError(
                f"invalid file mode {mode:04o} for log handler {path!r}, must be user writable"
            )
        if not os.path.isabs(path):
            raise HandlerConfigError(f"log path must be absolute: {path} is not absolute")
        self._ctx = ctx
        self.path = path
        self.mode = mode
        self.destination = f"log:{path}"

    def _append(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        data = self._ctx.alert_json(event).encode()
        try:
            await asyncio.to_thread(self._append, data)
        except OSError as exc:
            return DeliveryResult(
                "retry", None, f"failed to write alert log {self.path}: {exc.strerror or exc}"
            )
        return DeliveryResult("delivered")

    async def close(self) -> None:
        return None


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> LogHandler:
    mode = props.get("mode") or DEFAULT_MODE  # Kapacitor: mode 0 means "the default"
    return LogHandler(ctx, str(props.get("path") or ""), int(mode))


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> LogHandler:
    check_keys(options, "log", OPTION_KEYS)
    mode = option(options, "log", "mode", int, 0) or DEFAULT_MODE
    return LogHandler(ctx, option(options, "log", "path", str, ""), mode)


INTEGRATION = Integration("log", from_options=from_options, from_tick=from_tick)
