"""``GET /kapacitor/v1/storage/backup``: a consistent copy of the server's store (``leyden
backup FILE``).

Kapacitor answers a snapshot of its BoltDB file in one read transaction
(``services/storage/api.go``): ``Content-Type: application/octet-stream``,
``Content-Disposition: attachment; filename="kapacitor.db"`` and a ``Content-Length`` the client
compares with what it read.  Leyden's store is SQLite: the copy is made with SQLite's online
backup (:meth:`leyden.store.Store.backup`) into a temporary file, on a thread so the event loop
goes on serving writes meanwhile, then sent with its length.  To restore, stop the server,
delete the SQLite file's ``-wal`` and ``-shm`` companions (SQLite would replay a crashed
server's log onto the restored file) and put the file in place of its SQLite file
(``[storage] sqlite``, by default ``<data_dir>/leyden.db``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile

from aiohttp import web

from leyden import API_BASE
from leyden.server._http import SERVICES_KEY, error_response
from leyden.server.auth import USER_KEY
from leyden.store import Store, StoreError

__all__ = ["BACKUP_PATH", "install"]

BACKUP_PATH = f"{API_BASE}/storage/backup"
_CHUNK = 1 << 20

log = logging.getLogger("leyden.storage")


async def backup(request: web.Request) -> web.StreamResponse:
    store = request.app[SERVICES_KEY].store
    if not isinstance(store, Store):
        return error_response(
            "backup is not available with [storage] url: the store is PostgreSQL "
            "(back it up with pg_dump)",
            501,
        )
    fd, path = tempfile.mkstemp(prefix="leyden-backup-", suffix=".db")
    os.close(fd)
    try:
        await asyncio.to_thread(store.backup, path)
        # opened, then unlinked: the file goes away with the last descriptor, whatever happens
        stream = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except StoreError as exc:
        log.error("backup failed", extra={"fields": {"err": str(exc)}})
        return error_response(f"backup failed: {exc}", 500)
    finally:
        os.unlink(path)
    with stream:
        size = os.fstat(stream.fileno()).st_size
        name = os.path.basename(store.path) if store.path != ":memory:" else "leyden.db"
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": f'attachment; filename="{name}"',
            }
        )
        response.content_length = size
        await response.prepare(request)
        while chunk := await asyncio.to_thread(stream.read, _CHUNK):
            await response.write(chunk)
        await response.write_eof()
    # the copy holds every handler's options (webhook URLs and tokens): say who took it
    user = request.get(USER_KEY)
    fields = {"user": user.name if user is not None else "-", "remote": request.remote or ""}
    log.info("backup sent", extra={"fields": {**fields, "bytes": size}})
    return response


def install(app: web.Application) -> None:
    app.router.add_get(BACKUP_PATH, backup)
