"""Hostile HTTP requests to every route of a live ``leyden serve``.

The server (and the Discord emulator its workspace points at) run as subprocesses
(:mod:`bench.procs`); a task, a template, a topic and a handler are created first so routes
with ids reach real objects.  Then, until the deadline, eight clients send requests with a
random method, a route of Kapacitor's API with real or junk path parts (long, percent-encoded,
``..``, unicode), random query parameters (huge numbers, bad enums), bodies (mutated JSON,
deeply nested JSON, huge numbers, line protocol, random bytes, gzip that is not) and headers;
now and then a raw malformed request on a socket.  Every request is a client error or a
success: a 5xx, a dropped connection or a dead server is a finding (written as JSON lines to
``<findings>/5xx.jsonl``).  Requests slower than a second are counted too.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench import procs
from bench.fuzz.mutate import Mutator
from bench.fuzz.targets import _lp_seeds, _scripts

API = "/kapacitor/v1"
ROUTES = [
    f"{API}/ping",
    f"{API}/write",
    "/write",
    f"{API}/tasks",
    f"{API}/tasks/",
    f"{API}/tasks/{{task}}",
    f"{API}/tasks/{{task}}/{{x}}",
    f"{API}/templates",
    f"{API}/templates/",
    f"{API}/templates/{{template}}",
    f"{API}/alerts/topics",
    f"{API}/alerts/topics/{{topic}}",
    f"{API}/alerts/topics/{{topic}}/events",
    f"{API}/alerts/topics/{{topic}}/events/{{x}}",
    f"{API}/alerts/topics/{{topic}}/handlers",
    f"{API}/alerts/topics/{{topic}}/handlers/{{handler}}",
    f"{API}/config",
    f"{API}/config/",
    f"{API}/config/{{section}}",
    f"{API}/config/{{section}}/{{x}}",
    f"{API}/service-tests",
    f"{API}/service-tests/{{section}}",
    f"{API}/debug/vars",
    "/metrics",
    f"{API}/logs",
    f"{API}/loglevel",
    f"{API}/storage/backup",
    f"{API}/deliveries",
    f"{API}/deliveries/{{x}}",
    f"{API}/deliveries/{{x}}/retry",
    f"{API}/deliveries/retry",
    "/status",
    "/status/live",
    "/status/static/{x}",
    "/",
    "/{x}",
]
METHODS = ["GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "FOO"]
PARAMS = [
    "fields",
    "pattern",
    "offset",
    "limit",
    "script-format",
    "dot-view",
    "replay-id",
    "db",
    "rp",
    "precision",
    "consistency",
    "min-level",
    "u",
    "p",
    "level",
    "status",
    "match",
    "task",
    "since",
    "topic",
    "x",
]
JUNK = [
    "",
    "x",
    "..",
    "%2e%2e",
    "%00",
    "%ff",
    "a" * 5000,
    "9" * 5000,
    "-1",
    "1e999",
    "NaN",
    "ü😀",
    "<script>",
    "' OR 1=1",
    "{{.}}",
    "lambda: TRUE",
    "discord",
    "cpu",
    "null",
    "[]",
    "{}",
    "9223372036854775808",
    "-9223372036854775809",
    "0x10",
    " ",
    "a/b",
    "%2F",
]
HEADERS = [
    (
        "Content-Type",
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "x/y",
            "multipart/form-data; boundary=x",
        ],
    ),
    ("Content-Encoding", ["gzip", "deflate", "br", "identity", "x"]),
    (
        "Authorization",
        ["Basic !!!", "Basic " + "QQ==" * 500, "Bearer a.b.c", "Bearer " + "x" * 6000, "Token t"],
    ),
    ("Accept", ["*/*", "text/html", "application/json;q=0"]),
    ("Origin", ["http://evil.example", "null"]),
    ("X-Forwarded-For", ["1.1.1.1, 2.2.2.2", "x" * 4000]),
]


@dataclass
class Report:
    requests: int = 0
    server_errors: int = 0
    dropped: int = 0
    slow: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    alive: bool = True

    @property
    def ok(self) -> bool:
        # a dropped connection is reported, not failed: aiohttp's server closes on a refused
        # body while the client still sends, and answers HEAD errors with a body
        return self.server_errors == 0 and self.alive

    def summary(self) -> str:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"api           {self.requests:>10,} requests {self.seconds:>8.1f}s "
            f"{self.server_errors} 5xx, {self.dropped} dropped connections, {self.slow} over 1s, "
            f"server {'up' if self.alive else 'DOWN'}\n    statuses: {codes}"
        )


def _deep(rng: random.Random) -> bytes:
    depth = rng.choice((50, 1000, 100_000))
    if rng.random() < 0.5:
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


class _Bodies:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        scripts = _scripts()[:80]
        task = [
            json.dumps(
                {
                    "id": "t",
                    "type": "stream",
                    "dbrps": [{"db": "d", "rp": "r"}],
                    "script": s,
                    "status": "disabled",
                }
            ).encode()
            for s in scripts
        ]
        others = [
            b'{"id":"h","kind":"discord","options":{"workspace":"w","embedTitle":"{{.ID}}"},"match":"TRUE"}',
            b'{"id":"tpl","type":"stream","script":"var x = 5\\nstream|from()|alert().crit(lambda: \\"v\\" > x)"}',
            b'{"set":{"enabled":true,"url":"http://x"},"delete":["url"],"add":{"workspace":"q"},"remove":["w"]}',
            b'{"workspace":"fuzz","content":"hi"}',
            b'{"level":"debug"}',
            b'{"action":"ack"}',
        ]
        self.json = Mutator([*task, *others], [b"{", b"}", b"[", b"]", b'"', b":", b","], rng)
        self.lines = Mutator(_lp_seeds(), [b",", b"=", b" ", b"\n", b"i"], rng)

    def __call__(self, path: str) -> bytes:
        rng = self.rng
        pick = rng.random()
        if pick < 0.05:
            return _deep(rng)
        if pick < 0.1:
            return rng.randbytes(rng.randint(0, 2048))
        if pick < 0.15:
            return b"9" * rng.choice((20, 400, 5000))
        if "write" in path or pick < 0.2:
            return self.lines()
        return self.json()


async def _seed_objects(session: aiohttp.ClientSession, url: str) -> None:
    """A task, a template, a topic with a handler: ids the random routes can name."""
    script = 'stream|from().measurement("cpu")|alert().id("x").crit(lambda: "v" > 1).topic("cpu")'
    await session.post(
        f"{url}{API}/tasks",
        json={
            "id": "fuzz",
            "type": "stream",
            "dbrps": [{"db": "d", "rp": "r"}],
            "script": script,
            "status": "enabled",
        },
    )
    await session.post(
        f"{url}{API}/templates",
        json={
            "id": "tpl",
            "type": "stream",
            "script": 'var x = 5\nstream|from()|alert().crit(lambda: "v" > x)',
        },
    )
    await session.post(
        f"{url}{API}/alerts/topics/cpu/handlers",
        json={"id": "h", "kind": "log", "options": {"path": "/dev/null"}},
    )
    await session.post(f"{url}{API}/write?db=d&rp=r", data=b"cpu v=5")


def _fill(route: str, rng: random.Random) -> str:
    real = {"task": "fuzz", "template": "tpl", "topic": "cpu", "handler": "h", "section": "discord"}
    out = route
    for key in ("task", "template", "topic", "handler", "section", "x"):
        while "{" + key + "}" in out:
            value = real.get(key, "x") if rng.random() < 0.5 else rng.choice(JUNK)
            out = out.replace("{" + key + "}", value, 1)
    return out


async def _one(
    session: aiohttp.ClientSession,
    url: str,
    rng: random.Random,
    bodies: _Bodies,
    report: Report,
    log: Path,
) -> None:
    path = _fill(rng.choice(ROUTES), rng)
    method = rng.choice(METHODS)
    params = [(rng.choice(PARAMS), rng.choice(JUNK)) for _ in range(rng.choice((0, 0, 1, 2, 4)))]
    headers = {k: rng.choice(v) for k, v in HEADERS if rng.random() < 0.15}
    body = bodies(path) if method not in ("GET", "HEAD") or rng.random() < 0.05 else b""
    start = time.monotonic()
    status, text = 0, ""
    try:
        async with session.request(
            method, url + path, params=params, data=body, headers=headers, allow_redirects=False
        ) as resp:
            status = resp.status
            if status >= 500:
                text = (await resp.text(errors="replace"))[:300]
            else:
                await resp.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        text = f"{type(exc).__name__}: {exc}"
    elapsed = time.monotonic() - start
    report.requests += 1
    report.statuses[status] = report.statuses.get(status, 0) + 1
    report.slow += elapsed > 1.0
    if status >= 500 or status == 0:
        if status:
            report.server_errors += 1
        else:
            report.dropped += 1
        entry = {
            "method": method,
            "path": path,
            "params": params,
            "headers": headers,
            "body": body[:500].decode("utf-8", "replace"),
            "body_len": len(body),
            "status": status,
            "answer": text,
        }
        with log.open("a") as f:
            f.write(json.dumps(entry) + "\n")


async def _raw(url: str, rng: random.Random, report: Report, log: Path) -> None:
    """A malformed request on a raw socket: the answer must be a 4xx (or a closed socket)."""
    host, port = url.removeprefix("http://").split(":")
    line = rng.choice(
        [
            b"GET / HTTP/1.1",
            b"POST /write HTTP/1.1",
            b"GET /%%% HTTP/9.9",
            b"\x00\xff",
            b"GET " + b"a" * 70000 + b" HTTP/1.1",
        ]
    )
    head = (
        line
        + b"\r\nHost: x\r\n"
        + rng.choice(
            [
                b"Content-Length: -1\r\n",
                b"Content-Length: 99999999999999999999\r\n",
                b"Transfer-Encoding: chunked\r\n",
                b"X: " + b"y" * 20000 + b"\r\n",
                b"",
            ]
        )
    )
    try:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(head + b"\r\n" + rng.randbytes(rng.randint(0, 64)))
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(64), 5)
        writer.close()
    except (OSError, TimeoutError):
        answer = b""
    report.requests += 1
    if answer.startswith(b"HTTP/1.") and answer[9:10] == b"5":
        report.server_errors += 1
        with log.open("a") as f:
            f.write(
                json.dumps(
                    {"raw": head[:300].decode("latin-1"), "answer": answer.decode("latin-1")}
                )
                + "\n"
            )


async def _drive(url: str, seconds: float, report: Report, log: Path) -> None:
    timeout = aiohttp.ClientTimeout(total=10)
    # one connection per request: a refused body or a stray byte cannot spill into the next one
    connector = aiohttp.TCPConnector(force_close=True, limit=16)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await _seed_objects(session, url)
        deadline = time.monotonic() + seconds

        async def client(k: int) -> None:
            rng = random.Random(k)
            bodies = _Bodies(rng)
            while time.monotonic() < deadline:
                if rng.random() < 0.02:
                    await _raw(url, rng, report, log)
                else:
                    await _one(session, url, rng, bodies, report, log)

        await asyncio.gather(*(client(k) for k in range(8)))


def campaign(seconds: float, findings: Path) -> Report:
    """Fuzz a fresh server for ``seconds``; the server is stopped afterwards."""
    findings.mkdir(parents=True, exist_ok=True)
    log = findings / "5xx.jsonl"
    report = Report()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="leyden-fuzz-api-") as tmp_name:
        tmp = Path(tmp_name)
        with procs.emulator(tmp) as emu, procs.server(tmp, emu, "1") as (url, proc):
            asyncio.run(_drive(url, seconds, report, log))
            try:
                procs.get_json(f"{url}{API}/debug/vars", timeout=10)
                report.alive = proc.poll() is None
            except OSError:
                report.alive = False
        # the server's log holds the tracebacks behind any 5xx
        (findings / "server.log").write_bytes((tmp / "server.log").read_bytes()[-2_000_000:])
    report.seconds = time.monotonic() - start
    return report
