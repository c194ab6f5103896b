"""An InfluxDB 1.x HTTP client: the real side of the engine's port (:mod:`leyden.engine.influx`).

What Kapacitor's ``influxdb`` client does, over aiohttp: ``/query`` (GET to read, POST for
statements that change something, as InfluxDB 1.x requires), ``/write`` (line protocol,
gzip-compressed unless ``compression = "none"``), ``/ping``; basic auth from ``username`` /
``password`` or ``Authorization: Token`` from ``token``; the TLS keys; ``timeout`` (0: no
limit of its own, as in Kapacitor, but a connection attempt still gives up after 10 s).

Several ``urls``: requests go to the one that last answered; a connection error moves to the
next, so a cluster behind several URLs keeps working while one is down.

Errors name the cluster and the URL's host, never the password or the token (a URL written
with ``user:pass@`` is reduced to its host and port everywhere).
"""

from __future__ import annotations

import base64
import gzip
import json
import ssl
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from leyden.config import InfluxDBConfig
from leyden.engine.influx import InfluxDBError, Series
from leyden.tls import build_ssl_context

__all__ = ["HTTPCluster", "host_of"]

_CONNECT_TIMEOUT = 10.0


def host_of(url: str) -> str:
    """``http://user:pass@db1:8086/x`` → ``db1:8086``: what a message may show of a URL."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


class HTTPCluster:
    """One ``[[influxdb]]`` cluster over HTTP (implements ``InfluxDBCluster``)."""

    def __init__(self, config: InfluxDBConfig) -> None:
        self.config = config
        self._urls = [u.rstrip("/") for u in config.urls]
        self._current = 0
        self._ssl: ssl.SSLContext | None = build_ssl_context(
            config.ssl_ca, config.ssl_cert, config.ssl_key, config.insecure_skip_verify
        )
        self._headers: dict[str, str] = {}
        if config.token:
            self._headers["Authorization"] = f"Token {config.token}"
        elif config.username or config.password:
            pair = f"{config.username}:{config.password}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        self._session: aiohttp.ClientSession | None = None

    @property
    def name(self) -> str:
        return self.config.name

    def __repr__(self) -> str:
        return f"HTTPCluster({self.config.name!r}, {[host_of(u) for u in self._urls]!r})"

    # --- the port --------------------------------------------------------------------------

    async def query(
        self,
        command: str,
        *,
        database: str = "",
        retention_policy: str = "",
        post: bool = False,
    ) -> list[Series]:
        params = {"q": command, "epoch": "ns"}
        if database:
            params["db"] = database
        if retention_policy:
            params["rp"] = retention_policy
        status, body = await self._request("POST" if post else "GET", "/query", params=params)
        answer = _json(body)
        if status >= 300 or not isinstance(answer, dict):
            raise self._http_error("query", status, answer)
        if answer.get("error"):
            raise InfluxDBError(f"InfluxDB cluster {self.name!r}: query: {answer['error']}")
        series: list[Series] = []
        for result in answer.get("results") or []:
            if result.get("error"):
                raise InfluxDBError(f"InfluxDB cluster {self.name!r}: query: {result['error']}")
            for row in result.get("series") or []:
                series.append(
                    Series(
                        name=str(row.get("name", "")),
                        tags=dict(row.get("tags") or {}),
                        columns=tuple(row.get("columns") or ()),
                        values=list(row.get("values") or []),
                    )
                )
        return series

    async def write(
        self,
        body: bytes,
        *,
        database: str,
        retention_policy: str = "",
        precision: str = "ns",
        consistency: str = "",
    ) -> None:
        params = {"db": database}
        if retention_policy:
            params["rp"] = retention_policy
        if precision and precision != "ns":
            params["precision"] = precision
        if consistency:
            params["consistency"] = consistency
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.config.compression == "gzip":
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        status, answer = await self._request(
            "POST", "/write", params=params, data=body, headers=headers
        )
        if status >= 300:
            raise self._http_error("write", status, _json(answer))

    async def ping(self) -> str:
        """The server's version (``X-Influxdb-Version``); raises :class:`InfluxDBError`."""
        session = self._open()
        url = self._urls[self._current] + "/ping"
        try:
            async with session.get(url, headers=self._headers) as response:
                await response.read()
                if response.status >= 300:
                    raise self._http_error("ping", response.status, None)
                return response.headers.get("X-Influxdb-Version", "")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self._current = (self._current + 1) % len(self._urls)
            raise self._connection_error("ping", url, exc) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- plumbing --------------------------------------------------------------------------

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            total = self.config.timeout / 1e9 if self.config.timeout else None
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=total, sock_connect=_CONNECT_TIMEOUT),
                connector=aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True),
            )
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Try each URL once, starting at the one that last answered."""
        session = self._open()
        last: Exception | None = None
        url = ""
        for _ in range(len(self._urls)):
            url = self._urls[self._current] + path
            try:
                async with session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers={**self._headers, **(headers or {})},
                ) as response:
                    return response.status, await response.read()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                last = exc
                self._current = (self._current + 1) % len(self._urls)
        assert last is not None
        raise self._connection_error(path.strip("/"), url, last)

    def _connection_error(self, doing: str, url: str, exc: BaseException) -> InfluxDBError:
        if isinstance(exc, TimeoutError):
            why = "timed out"
        elif isinstance(exc, aiohttp.ClientConnectorError):
            why = f"cannot connect ({exc.os_error.strerror or exc.os_error})"
        else:
            why = type(exc).__name__
        return InfluxDBError(
            f"InfluxDB cluster {self.name!r}: {doing}: {host_of(url)}: {why}", retryable=True
        )

    def _http_error(self, doing: str, status: int, answer: Any) -> InfluxDBError:
        detail = answer.get("error") if isinstance(answer, dict) else None
        if status in (401, 403):
            detail = detail or "authorization failed"
            detail += " (check username/password or token)"
        text = f"InfluxDB cluster {self.name!r}: {doing}: HTTP {status}"
        if detail:
            text += f": {detail}"
        return InfluxDBError(text, retryable=status >= 500 or status == 429)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
