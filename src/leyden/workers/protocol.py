"""Framed messages between the server and an engine worker: a 4-byte length, then a pickle.

Every command gets exactly one answer, in order: ``(status, payload, effects)`` where
``status`` is ``"ok"`` or ``"error"`` (payload: the message) and ``effects`` are the alert
service calls the command caused in the worker (events published, topics closed), applied by
the server in order.  An :class:`~leyden.model.alert.EventData` travels with its ``result``
built (its lazy builder is a closure, which does not pickle).
"""

from __future__ import annotations

import asyncio
import io
import pickle
import struct
from typing import Any, BinaryIO

from leyden.model.alert import EventData

__all__ = ["encode", "read_frame", "read_frame_sync", "write_frame_sync"]

_HEAD = struct.Struct("!I")


def _event_data(
    name: str,
    task_name: str,
    category: str,
    group: str,
    tags: dict[str, str],
    fields: dict[str, Any],
    recoverable: bool,
    result: dict[str, Any],
) -> EventData:
    return EventData(name, task_name, category, group, tags, fields, recoverable, result)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is EventData:
            return _event_data, (
                obj.name,
                obj.task_name,
                obj.category,
                obj.group,
                obj.tags,
                obj.fields,
                obj.recoverable,
                obj.result,
            )
        return NotImplemented


def encode(message: Any) -> bytes:
    """``message`` as one frame."""
    buffer = io.BytesIO()
    buffer.write(b"\0\0\0\0")
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(message)
    data = buffer.getbuffer()
    data[:4] = _HEAD.pack(len(data) - 4)
    return bytes(data)


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message; ``asyncio.IncompleteReadError`` when the other side is gone."""
    (size,) = _HEAD.unpack(await reader.readexactly(4))
    return pickle.loads(await reader.readexactly(size))


def read_frame_sync(stream: BinaryIO) -> Any:
    """The next message, or None at the end of the stream."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    (size,) = _HEAD.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


def write_frame_sync(stream: BinaryIO, message: Any) -> None:
    stream.write(encode(message))
    stream.flush()
