"""A small synchronous client for Leyden's (and Kapacitor's) HTTP API, used by the CLI.

Errors follow Kapacitor's ``client/v1``: the ``error`` key of a JSON body when there is one,
otherwise ``invalid response: code N: body: …``.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from leyden import API_BASE

__all__ = ["DEFAULT_URL", "Client", "ClientError"]

DEFAULT_URL = "http://localhost:9092"


class ClientError(Exception):
    """The server answered with an error, or could not be reached."""

    #: the HTTP status of an error answer (0: no answer) and its decoded JSON body, if any
    status: int = 0
    body: Any = None


class Client:
    def __init__(self, url: str, *, skip_verify: bool = False, timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f'invalid URL "{url}": want http(s)://host:port')
        self._headers: dict[str, str] = {}
        if parsed.username is not None:
            creds = f"{urllib.parse.unquote(parsed.username)}:"
            creds += urllib.parse.unquote(parsed.password or "")
            self._headers["Authorization"] = "Basic " + base64.b64encode(creds.encode()).decode()
        netloc = parsed.hostname if parsed.port is None else f"{parsed.hostname}:{parsed.port}"
        if ":" in (parsed.hostname or "") and parsed.port is not None:
            netloc = f"[{parsed.hostname}]:{parsed.port}"
        self.base = urllib.parse.urlunsplit(
            (parsed.scheme, netloc, parsed.path.rstrip("/"), "", "")
        )
        self._timeout = timeout
        self._ssl: ssl.SSLContext | None = None
        if skip_verify:
            self._ssl = ssl.create_default_context()
            self._ssl.check_hostname = False
            self._ssl.verify_mode = ssl.CERT_NONE

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; return (status, decoded JSON or None). Raises ClientError."""
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        headers = dict(self._headers)
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self._timeout, context=self._ssl) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except urllib.error.URLError as exc:
            raise ClientError(f"cannot reach {self.base}: {exc.reason}") from None
        except (TimeoutError, ConnectionError, OSError) as exc:
            raise ClientError(f"cannot reach {self.base}: {exc}") from None
        decoded: Any = None
        if raw.strip():
            try:
                decoded = json.loads(raw)
            except json.JSONDecodeError:
                decoded = None
        if status >= 400:
            if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
                error = ClientError(decoded["error"])
            else:
                text = raw.decode("utf-8", "replace").strip()
                error = ClientError(f"invalid response: code {status}: body: {text}")
            error.status, error.body = status, decoded
            raise error
        return status, decoded

    def _open(
        self,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        timeout: float | None = 60.0,
    ) -> Any:
        """A GET whose answer is read by the caller (a stream, a file): the open response.
        Raises ClientError for an error answer, as :meth:`request`."""
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        req = urllib.request.Request(url, headers={**self._headers, **(headers or {})})
        try:
            return urllib.request.urlopen(req, timeout=timeout, context=self._ssl)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                decoded = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                decoded = None
            if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
                error = ClientError(decoded["error"])
            else:
                text = raw.decode("utf-8", "replace").strip()
                error = ClientError(f"invalid response: code {exc.code}: body: {text}")
            error.status, error.body = exc.code, decoded
            raise error from None
        except urllib.error.URLError as exc:
            raise ClientError(f"cannot reach {self.base}: {exc.reason}") from None
        except (TimeoutError, ConnectionError, OSError) as exc:
            raise ClientError(f"cannot reach {self.base}: {exc}") from None

    def ping(self) -> tuple[float, str]:
        """Kapacitor's client ``Ping``: how long the request took (seconds) and the server's
        ``X-Kapacitor-Version``."""
        started = time.monotonic()
        with self._open(f"{API_BASE}/ping") as resp:
            resp.read()
            version = resp.headers.get("X-Kapacitor-Version", "")
        return time.monotonic() - started, version

    def debug_vars_raw(self) -> bytes:
        """``GET /kapacitor/v1/debug/vars`` as the server wrote it."""
        with self._open(f"{API_BASE}/debug/vars") as resp:
            data: bytes = resp.read()
        return data

    def debug_vars(self) -> dict[str, Any]:
        _, body = self.request("GET", f"{API_BASE}/debug/vars")
        return dict(body or {})

    def log_level(self, level: str) -> None:
        """``POST /kapacitor/v1/loglevel`` with ``{"level": level}`` (204 expected)."""
        self.request("POST", f"{API_BASE}/loglevel", {"level": level})

    def logs(self, tags: Sequence[tuple[str, str]], *, as_json: bool = False) -> Iterator[bytes]:
        """The server's log lines matching ``tags`` as they are written (Kapacitor's
        ``/kapacitor/v1preview/logs``), one line at a time, until the server ends the
        stream; no timeout while it is quiet."""
        headers = {"Accept": "application/json"} if as_json else {}
        with self._open(f"{API_BASE}preview/logs", tags, headers, timeout=None) as resp:
            while line := resp.readline():
                yield line

    def backup(self) -> tuple[int, Iterator[bytes]]:
        """``GET /kapacitor/v1/storage/backup``: the size the server announced (-1: none) and
        the file's bytes in chunks."""
        resp = self._open(f"{API_BASE}/storage/backup", timeout=None)
        length = resp.headers.get("Content-Length")

        def chunks() -> Iterator[bytes]:
            with resp:
                while chunk := resp.read(1 << 20):
                    yield chunk

        return (int(length) if length and length.isdigit() else -1), chunks()

    def list_service_tests(self, pattern: str = "*") -> list[dict[str, Any]]:
        _, body = self.request("GET", f"{API_BASE}/service-tests", query={"pattern": pattern})
        return list((body or {}).get("services", []))

    def test_service(self, name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        _, body = self.request("POST", f"{API_BASE}/service-tests/{name}", options or {})
        if not isinstance(body, dict):
            raise ClientError(f"invalid response to service test {name}")
        return body

    # --- tasks (Kapacitor's client/v1 task calls) ------------------------------------------

    def list_tasks(
        self,
        pattern: str = "",
        fields: Sequence[str] = (),
        offset: int = 0,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        query = [("pattern", pattern), ("offset", str(offset)), ("limit", str(limit))]
        query += [("fields", f) for f in fields]
        _, body = self.request("GET", f"{API_BASE}/tasks", query=query)
        return list((body or {}).get("tasks", []))

    def all_tasks(self, pattern: str = "", fields: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every task matching ``pattern``, fetched in pages of 100 as Kapacitor's CLI does."""
        out: list[dict[str, Any]] = []
        while True:
            page = self.list_tasks(pattern, fields, offset=len(out), limit=100)
            out.extend(page)
            if len(page) != 100:
                return out

    def get_task(
        self, task_id: str, *, script_format: str = "formatted", dot_view: str = "attributes"
    ) -> dict[str, Any]:
        query = {"script-format": script_format, "dot-view": dot_view}
        _, body = self.request("GET", _task_path(task_id), query=query)
        return dict(body or {})

    def find_task(self, task_id: str) -> dict[str, Any] | None:
        """The task, or None when the server has no task of that ID."""
        try:
            return self.get_task(task_id)
        except ClientError as exc:
            if exc.status == 404:
                return None
            raise

    def create_task(self, options: Mapping[str, Any]) -> dict[str, Any]:
        _, body = self.request("POST", f"{API_BASE}/tasks", dict(options))
        return dict(body or {})

    def update_task(self, task_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
        _, body = self.request("PATCH", _task_path(task_id), dict(options))
        return dict(body or {})

    def delete_task(self, task_id: str) -> None:
        self.request("DELETE", _task_path(task_id))

    # --- templates (client/v1 template calls) ---------------------------------------------

    def list_templates(
        self, pattern: str = "", fields: Sequence[str] = (), offset: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        query = [("pattern", pattern), ("offset", str(offset)), ("limit", str(limit))]
        query += [("fields", f) for f in fields]
        _, body = self.request("GET", TEMPLATES_PATH, query=query)
        return list((body or {}).get("templates", []))

    def all_templates(self, pattern: str = "", fields: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every template matching ``pattern``, in pages of 100 as Kapacitor's CLI does."""
        out: list[dict[str, Any]] = []
        while True:
            page = self.list_templates(pattern, fields, offset=len(out), limit=100)
            out.extend(page)
            if len(page) != 100:
                return out

    def get_template(self, template_id: str) -> dict[str, Any]:
        _, body = self.request("GET", _under(TEMPLATES_PATH, template_id))
        return dict(body or {})

    def find_template(self, template_id: str) -> dict[str, Any] | None:
        """The template, or None when the server has no template of that ID."""
        try:
            return self.get_template(template_id)
        except ClientError as exc:
            if exc.status == 404:
                return None
            raise

    def create_template(self, options: Mapping[str, Any]) -> dict[str, Any]:
        _, body = self.request("POST", TEMPLATES_PATH, dict(options))
        return dict(body or {})

    def update_template(self, template_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
        _, body = self.request("PATCH", _under(TEMPLATES_PATH, template_id), dict(options))
        return dict(body or {})

    def delete_template(self, template_id: str) -> None:
        self.request("DELETE", _under(TEMPLATES_PATH, template_id))

    # --- alert topics and topic handlers (client/v1 topic calls) ---------------------------

    def list_topics(self, pattern: str = "", min_level: str = "OK") -> list[dict[str, Any]]:
        query = {"pattern": pattern, "min-level": min_level}
        _, body = self.request("GET", TOPICS_PATH, query=query)
        return list((body or {}).get("topics") or [])

    def get_topic(self, topic: str) -> dict[str, Any]:
        _, body = self.request("GET", _topic_path(topic))
        return dict(body or {})

    def delete_topic(self, topic: str) -> None:
        self.request("DELETE", _topic_path(topic))

    def list_topic_events(self, topic: str, min_level: str = "OK") -> list[dict[str, Any]]:
        _, body = self.request("GET", _topic_path(topic, "events"), query={"min-level": min_level})
        return list((body or {}).get("events") or [])

    def list_topic_handlers(self, topic: str, pattern: str = "") -> list[dict[str, Any]]:
        _, body = self.request("GET", _topic_path(topic, "handlers"), query={"pattern": pattern})
        return list((body or {}).get("handlers") or [])

    def get_topic_handler(self, topic: str, handler_id: str) -> dict[str, Any]:
        _, body = self.request("GET", _topic_path(topic, "handlers", handler_id))
        return dict(body or {})

    def find_topic_handler(self, topic: str, handler_id: str) -> dict[str, Any] | None:
        """The handler, or None when the topic has no handler of that ID."""
        try:
            return self.get_topic_handler(topic, handler_id)
        except ClientError as exc:
            if exc.status == 404:
                return None
            raise

    def create_topic_handler(self, topic: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        _, body = self.request("POST", _topic_path(topic, "handlers"), dict(spec))
        return dict(body or {})

    def replace_topic_handler(
        self, topic: str, handler_id: str, spec: Mapping[str, Any]
    ) -> dict[str, Any]:
        _, body = self.request("PUT", _topic_path(topic, "handlers", handler_id), dict(spec))
        return dict(body or {})

    def delete_topic_handler(self, topic: str, handler_id: str) -> None:
        self.request("DELETE", _topic_path(topic, "handlers", handler_id))

    # --- deliveries: the outbox (Leyden's own, issue 10) -----------------------------------

    def list_deliveries(self, pattern: str = "", state: str = "") -> list[dict[str, Any]]:
        """Deliveries whose handler, destination or alert ID matches the glob ``pattern``."""
        query = {k: v for k, v in (("pattern", pattern), ("state", state)) if v}
        _, body = self.request("GET", DELIVERIES_PATH, query=query)
        return list((body or {}).get("deliveries") or [])

    def get_delivery(self, delivery_id: str) -> dict[str, Any]:
        _, body = self.request("GET", _delivery_path(delivery_id))
        return dict(body or {})

    def retry_delivery(self, delivery_id: str) -> dict[str, Any]:
        _, body = self.request("POST", _delivery_path(delivery_id, "retry"))
        return dict(body or {})

    def retry_dead_deliveries(self) -> int:
        """Every dead delivery queued again; how many."""
        return self.retry_all_deliveries()[0]

    def retry_all_deliveries(self) -> tuple[int, int]:
        """Every dead delivery queued again and every broken webhook's breaker closed;
        (deliveries queued again, breakers closed)."""
        _, body = self.request("POST", f"{DELIVERIES_PATH}/retry")
        body = body or {}
        return int(body.get("retried", 0)), int(body.get("breakers-closed", 0))

    def delete_delivery(self, delivery_id: str) -> None:
        self.request("DELETE", _delivery_path(delivery_id))


def _task_path(task_id: str) -> str:
    return f"{API_BASE}/tasks/" + urllib.parse.quote(task_id, safe="")


TOPICS_PATH = f"{API_BASE}/alerts/topics"
TEMPLATES_PATH = f"{API_BASE}/templates"


def _under(base: str, *parts: str) -> str:
    """``base`` followed by ``parts``, each quoted whole (a ``/`` in a topic name stays one
    segment)."""
    return base + "".join("/" + urllib.parse.quote(p, safe="") for p in parts)


def _topic_path(topic: str, *rest: str) -> str:
    return _under(TOPICS_PATH, topic, *rest)


DELIVERIES_PATH = f"{API_BASE}/deliveries"


def _delivery_path(delivery_id: str, *rest: str) -> str:
    return _under(DELIVERIES_PATH, delivery_id, *rest)
