"""``.tcp(address)`` and ``kind: tcp``: one connection per event carrying the alert-data JSON.

As Kapacitor's TCP handler: dial, write the JSON document, its newline and one more newline,
close.  One attempt per :meth:`TCPHandler.send`; the dispatcher retries a failed connection
(Kapacitor does not retry).
"""

from __future__ import annotations

import asyncio
import contextlib
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

CONNECT_TIMEOUT = 30.0
OPTION_KEYS = ("address",)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` as Go's ``net.Dial("tcp", …)`` takes it."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise HandlerConfigError(
            f"tcp handler address {address!r} must be host:port with a port from 1 to 65535"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "localhost", int(port_text)


class TCPHandler(SingleSend):
    kind = "tcp"

    def __init__(self, ctx: HandlerContext, address: str) -> None:
        self._ctx = ctx
        self.address = address
        self._host, self._port = split_address(address)
        self.destination = f"tcp://{address}"

    async def send(self, events: Sequence[Event]) -> DeliveryResult:
        (event,) = events
        body = (self._ctx.alert_json(event) + "\n").encode()
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "timed out"
            return DeliveryResult(
                "retry", None, f"tcp handler failed to connect to {self.address}: {reason}"
            )
        try:
            writer.write(body)
            await writer.drain()
        except OSError as exc:
            return DeliveryResult(
                "retry", None, f"tcp handler failed to write to {self.address}: {exc}"
            )
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return DeliveryResult("delivered")

    async def close(self) -> None:
        return None


def from_tick(props: Mapping[str, Any], ctx: HandlerContext) -> TCPHandler:
    return TCPHandler(ctx, str(props.get("address") or ""))


def from_options(options: Mapping[str, Any], ctx: HandlerContext) -> TCPHandler:
    check_keys(options, "tcp", OPTION_KEYS)
    return TCPHandler(ctx, option(options, "tcp", "address", str, ""))


INTEGRATION = Integration("tcp", from_options=from_options, from_tick=from_tick)
