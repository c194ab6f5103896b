"""``httpPost``: POSTs each point or batch as a row (semantics §2.4; Kapacitor's http_post.go).

The body is ``models.Result`` JSON with one series, or the endpoint's ``row-template``.  The URL
(``httpPost('url')`` or an ``[[httppost]]`` endpoint's ``url``) is itself a Go template over the
row (``{{ .Name }}``, ``{{ index .Tags "host" }}``).

Sending never blocks the per-point path: the request is rendered at once and queued; one asyncio
worker per node sends the queue in order (Kapacitor posts one request at a time per node).
With ``.codeField()`` a message can only go on once its response is known, so in that mode every
message waits in the same queue and the worker forwards it after its request.  ``Task.drain()``
waits for the queue to empty; without a running event loop the queue simply waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict

from leyden.engine.model import Batch, BatchPoint, Point
from leyden.engine.node import Barrier, Node, TaskContext, TaskError, register
from leyden.engine.result import batch_row, point_row, result
from leyden.engine.services import HTTPEndpoint
from leyden.go.template import Template, TemplateError, TemplateExecError
from leyden.go.types import GoStruct, StringMap, go_json

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("leyden.task")

Message = Point | Batch | Barrier | str  # a str is a deleted group


@dataclass(slots=True)
class _Request:
    url: str
    body: bytes
    headers: CIMultiDict[str]


@dataclass(slots=True)
class _Item:
    """One queued request, and in ``.codeField()`` mode the message to forward after it."""

    request: _Request | None
    message: Message | None


def mapped_row(row: dict[str, Any]) -> GoStruct:
    """Kapacitor's ``mappedRow``, what URL and row templates see: Name, Tags, Values by column."""
    columns = row.get("columns", [])
    values = [dict(zip(columns, v, strict=False)) for v in row.get("values", [])]
    return GoStruct(
        Name=row.get("name", ""),
        Tags=StringMap(row.get("tags", {})),
        Values=values,
        type_name="kapacitor.mappedRow",
    )


@register("httpPost")
class HTTPPostNode(Node):
    def __init__(self, spec: Any, ctx: TaskContext) -> None:
        super().__init__(spec, ctx)
        p = spec.properties
        urls: list[str] = list(p.get("urls", []))
        endpoints: list[str] = list(p.get("endpoints", []))
        self.code_field: str = p.get("codeField", "") or ""
        self.capture_response = bool(p.get("captureResponse", False))
        self.timeout = int(p.get("timeout", 0) or 0)
        self.node_headers: dict[str, str] = dict(p.get("headers", {}))
        self.endpoint_headers: dict[str, str] = {}
        self.row_template: Template | None = None
        url_text = urls[0] if urls else ""
        if endpoints:
            found = ctx.services.httppost_endpoints.get(endpoints[0])
            if found is None:
                raise TaskError(f"{self.name}: endpoint '{endpoints[0]}' does not exist")
            url_text = found.url
            self.endpoint_headers = dict(found.headers)
            self.row_template = self._row_template(found)
        if not url_text:
            raise TaskError(f"{self.name}: httpPost needs a url or an endpoint")
        try:
            self.url_template = Template.parse(url_text, name="url")
        except TemplateError as exc:
            raise TaskError(f"{self.name}: error in url templating: {exc}") from None
        self.queue: deque[_Item] = deque()
        self.worker: asyncio.Task[None] | None = None
        #: Kapacitor's grouped consumer counts the groups seen; a request per message costs
        #: far more than this set
        self._groups: set[str] = set()

    def cardinality(self) -> int:
        return len(self._groups)

    def forget_group(self, group: str) -> None:
        self._groups.discard(group)

    def _row_template(self, endpoint: HTTPEndpoint) -> Template | None:
        try:
            text = endpoint.row_template_text()
        except OSError as exc:
            raise TaskError(
                f"{self.name}: [[httppost]] {endpoint.name}: cannot read row-template-file "
                f"{endpoint.row_template_file}: {exc.strerror}"
            ) from None
        if not text:
            return None
        try:
            return Template.parse(text, name="row")
        except TemplateError as exc:
            raise TaskError(
                f"{self.name}: [[httppost]] {endpoint.name}: bad row-template: {exc}"
            ) from None

    # --- edges ---------------------------------------------------------------------------

    def point(self, p: Point) -> None:
        self.stats.collected += 1
        self._groups.add(p.group)
        request = self._request(point_row(p))
        if self.code_field:
            self._enqueue(_Item(request, p))
        else:
            if request is not None:
                self._enqueue(_Item(request, None))
            self.emit_point(p)

    def batch(self, b: Batch) -> None:
        self.stats.collected += 1
        self._groups.add(b.group)
        request = self._request(batch_row(b))
        if self.code_field:
            self._enqueue(_Item(request, b))
        else:
            if request is not None:
                self._enqueue(_Item(request, None))
            self.emit_batch(b)

    def barrier(self, b: Barrier) -> None:
        if self.code_field and self.queue:
            self._enqueue(_Item(None, b))
        else:
            self.emit_barrier(b)

    def delete_group(self, group: str) -> None:
        if self.code_field and self.queue:
            self._enqueue(_Item(None, group))
        else:
            self.emit_delete(group)

    # --- requests ------------------------------------------------------------------------

    def _request(self, row: dict[str, Any]) -> _Request | None:
        """Render URL, body and headers now, while the message is at hand."""
        data = mapped_row(row)
        try:
            url = self.url_template.execute(data)
        except TemplateExecError as exc:
            self.error("failed to POST data", err=f"failed to execute url template: {exc}")
            return None
        # Go: endpoint headers, then Content-Type, then the node's .header()s, each replacing
        # a header of the same (case-insensitive) name.
        headers: CIMultiDict[str] = CIMultiDict(self.endpoint_headers)
        if self.row_template is not None:
            try:
                body = self.row_template.execute(data).encode()
            except TemplateExecError as exc:
                self.error("failed to POST data", err=f"failed to execute template: {exc}")
                return None
        else:
            body = (go_json(result([row])) + "\n").encode()
            headers["Content-Type"] = "application/json"
        headers.update(self.node_headers)
        return _Request(url, body, headers)

    def _enqueue(self, item: _Item) -> None:
        self.queue.append(item)
        if self.worker is None or self.worker.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no event loop here: drain() sends the queue
            self.worker = loop.create_task(self._work())

    async def _work(self) -> None:
        # aiohttp on first use: an engine worker process never posts (httpPost tasks stay in
        # the server's process) and importing it is a third of the worker's start-up
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.timeout / 1e9 if self.timeout > 0 else None)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while self.queue:
                item = self.queue.popleft()
                code = 0
                if item.request is not None:
                    code = await self._send(session, item.request)
                if item.message is not None:
                    try:
                        self._forward(item.message, code)
                    except Exception as exc:  # a child's failure must not stop the queue
                        self.error("failed to forward after POST", err=repr(exc))

    async def _send(self, session: aiohttp.ClientSession, req: _Request) -> int:
        """POST one request; its status code, or 0 when there is no response."""
        import aiohttp
        from yarl import URL

        try:
            async with session.post(
                URL(req.url, encoded=True),
                data=req.body,
                headers=req.headers,
                skip_auto_headers=("Content-Type",),
            ) as resp:
                if resp.status // 100 != 2:
                    if self.capture_response:
                        err = await resp.text(errors="replace")
                    else:
                        err = "unknown error, use .captureResponse() to capture the HTTP response"
                    self.error("POST returned non 2xx status code", err=err, code=str(resp.status))
                return resp.status
        except TimeoutError:
            self.error("failed to POST data", err="request timed out")
        except aiohttp.InvalidURL:
            self.error("failed to POST data", err="invalid URL")  # the URL may hold a token
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            text = str(exc).replace(req.url, "<url>")
            self.error("failed to POST data", err=f"{type(exc).__name__}: {text}")
        return 0

    def _forward(self, m: Message, code: int) -> None:
        if isinstance(m, Point):
            fields = dict(m.fields)
            fields[self.code_field] = code
            self.emit_point(m.copy(fields=fields))
        elif isinstance(m, Batch):
            points = [
                BatchPoint(bp.time, {**bp.fields, self.code_field: code}, bp.tags)
                for bp in m.points
            ]
            self.emit_batch(m.copy(points=points))
        elif isinstance(m, Barrier):
            self.emit_barrier(m)
        else:
            self.emit_delete(m)

    async def drain(self) -> None:
        while self.queue or (self.worker is not None and not self.worker.done()):
            if self.worker is None or self.worker.done():
                self.worker = asyncio.get_running_loop().create_task(self._work())
            await asyncio.shield(self.worker)
