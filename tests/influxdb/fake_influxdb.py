"""A small InfluxDB 1.x double on loopback: enough of ``/query`` for subscriptions (SHOW
DATABASES / RETENTION POLICIES / SUBSCRIPTIONS, CREATE / DROP SUBSCRIPTION), ``/write`` and
``/ping``, recording every request.  The real ``influxd`` is used by the e2e tests; this one
lets the client and the linker be tested for answers influxd cannot be made to give (errors,
401s, a server that comes up late)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

#: an identifier as InfluxQL's QuoteIdent writes it: bare, or double-quoted
_ID = r'(?:"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*)'
_CREATE = re.compile(
    rf"CREATE SUBSCRIPTION (?P<name>{_ID}) ON (?P<db>{_ID})\.(?P<rp>{_ID}) "
    r"DESTINATIONS (?P<mode>ANY|ALL) '(?P<dest>[^']+)'"
)
_DROP = re.compile(rf"DROP SUBSCRIPTION (?P<name>{_ID}) ON (?P<db>{_ID})\.(?P<rp>{_ID})")
_RPS = re.compile(rf"SHOW RETENTION POLICIES ON (?P<db>{_ID})")


def _ident(text: str) -> str:
    return text[1:-1].replace('\\"', '"') if text.startswith('"') else text


@dataclass
class FakeInfluxDB:
    databases: dict[str, list[str]] = field(default_factory=dict)
    #: (db, rp, name) → (mode, destinations)
    subscriptions: dict[tuple[str, str, str], tuple[str, list[str]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)
    #: answer every request with this status (and an error body) when set
    status: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/query", self._query)
        app.router.add_post("/write", self._write)
        app.router.add_get("/ping", self._ping)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _record(self, request: web.Request, body: bytes = b"") -> None:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": body,
            }
        )

    async def _ping(self, request: web.Request) -> web.Response:
        self._record(request)
        if self.status:
            return web.json_response({"error": "nope"}, status=self.status)
        return web.Response(status=204, headers={"X-Influxdb-Version": "1.6.7~fake"})

    async def _write(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self._record(request, raw)
        if self.status:
            return web.json_response({"error": "write refused"}, status=self.status)
        # aiohttp has already undone a Content-Encoding: gzip
        self.writes.append({"query": dict(request.query), "body": raw.decode()})
        return web.Response(status=204)

    async def _query(self, request: web.Request) -> web.Response:
        form = await request.post() if request.method == "POST" else {}
        self._record(request)
        if self.status:
            return web.json_response({"error": "authorization failed"}, status=self.status)
        q = str(request.query.get("q") or form.get("q") or "")
        return web.json_response({"results": [{"statement_id": 0, **self._answer(q)}]})

    def _answer(self, q: str) -> dict[str, Any]:
        if q == "SHOW DATABASES":
            return _series("databases", ["name"], [[db] for db in self.databases])
        if m := _RPS.fullmatch(q):
            rps = self.databases.get(_ident(m["db"]))
            if rps is None:
                return {"error": f"database not found: {m['db']}"}
            return _series("", ["name", "duration", "default"], [[rp, "0s", True] for rp in rps])
        if q == "SHOW SUBSCRIPTIONS":
            series = []
            for db in sorted({db for db, _, _ in self.subscriptions}):
                rows = [
                    [rp, name, mode, dests]
                    for (d, rp, name), (mode, dests) in self.subscriptions.items()
                    if d == db
                ]
                series.append(
                    {
                        "name": db,
                        "columns": ["retention_policy", "name", "mode", "destinations"],
                        "values": rows,
                    }
                )
            return {"series": series}
        if m := _CREATE.fullmatch(q):
            key = (_ident(m["db"]), _ident(m["rp"]), _ident(m["name"]))
            if key in self.subscriptions:
                return {"error": "subscription already exists"}
            self.subscriptions[key] = (m["mode"], [m["dest"]])
            return {}
        if m := _DROP.fullmatch(q):
            key = (_ident(m["db"]), _ident(m["rp"]), _ident(m["name"]))
            if self.subscriptions.pop(key, None) is None:
                return {"error": "subscription not found"}
            return {}
        return {"error": f"fake influxdb: unsupported query {q!r}"}


def _series(name: str, columns: list[str], values: list[list[Any]]) -> dict[str, Any]:
    if not values:
        return {}
    return {"series": [{"name": name, "columns": columns, "values": values}]}
