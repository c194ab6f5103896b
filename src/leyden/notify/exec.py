"""``.exec(prog, args…)`` and ``kind: exec``: a program run per event, alert-data JSON on stdin.

As Kapacitor's exec handler: the program is started directly (no shell), its output is kept
only to explain a failure, and a non-zero exit is a permanent failure (the program ran: running
it again could repeat what it did).  A program that could not be started is retried by the
dispatcher, unless it does not exist.
"""

from __future__ import annotations

import asyncio
import errno
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
    str_list,
)

OPTION_KEYS = ("prog", "args")
_MAX_OUTPUT = 2048


class ExecHandler(SingleSend):
    kind = "exec"

    def __init__(self, ctx: HandlerContext, prog: str, args: Sequence[str] = ()) -> None:
        if not prog:
            raise HandlerConfigError("exec handler needs a program to run")
        self._ctx = ctx
        self.prog = prog
        self.args = [str(a) for a in args]
        self.destination = f"exec:{prog}"

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        data = self._ctx.alert_json(event).encode()
        try:
            process = await asyncio.create_subprocess_exec(
                self.prog,
                *self.args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as exc:
            missing = exc.errno in (errno.ENOENT, errno.EACCES, errno.ENOEXEC)
            return DeliveryResult(
                "permanent" if missing else "retry",
                None,
                f"exec command {self.prog} failed to start: {exc.strerror or exc}",
            )
        output, _ = await process.communicate(data)
        if process.returncode != 0:
            text = output[:_MAX_OUTPUT].decode(errors="replace").strip()
            return DeliveryResult(
                "permanent",
                None,
                f"exec command {self.prog} failed: exit status {process.returncode}"
                + (f"; output: {text}" if text else ""),
            )
        return DeliveryResult("delivered")

    async def close(self) -> None:
        return None


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> ExecHandler:
    command = list(props.get("command") or [])
    if not command:
        raise HandlerConfigError("exec handler needs a program to run")
    return ExecHandler(ctx, str(command[0]), command[1:])


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> ExecHandler:
    check_keys(options, "exec", OPTION_KEYS)
    args = str_list(option(options, "exec", "args", list, []), "exec handler option 'args'")
    return ExecHandler(ctx, option(options, "exec", "prog", str, ""), args)


INTEGRATION = Integration("exec", from_options=from_options, from_tick=from_tick)
