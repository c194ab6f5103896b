"""Task templates: a TICKscript with ``var x type`` declarations that tasks are made from.

Kapacitor keeps templates in its task store (``services/task_store``, ``/kapacitor/v1/templates``
and ``kapacitor define-template``); Leyden follows its rules and error texts:

* a template is validated as Kapacitor's ``NewTemplate`` does: the script is built with the
  vars it declares but gives no value to standing in as zero values, so ``var x int`` passes
  and a script error is refused ("invalid TICKscript: …");
* its type is the script's (``stream``/``batch``); a ``type`` given with the request must agree
  (Kapacitor ignores it on create and keeps it on update, so a ``batch`` template of a stream
  script could be saved and then never build; Leyden refuses it, naming both);
* its ``vars`` are listed from the declarations: type, default value (null for a var without
  one) and the comment above it as the description;
* updating a template re-defines every task made from it (enabled ones restart with the new
  script); the first task that cannot restart rolls the tasks back and the answer names it —
  the template itself stays updated, as in Kapacitor;
* deleting a template is allowed while tasks use it: they keep running and keep their
  ``template-id``, but later template updates no longer reach them (Kapacitor forgets the
  associations with the template).

Nothing here knows HTTP: refusals are :class:`~leyden.tasks.manager.TaskRequestError`.
"""

from __future__ import annotations

import fnmatch
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from leyden.go.types import Duration
from leyden.model.records import TemplateRecord
from leyden.tasks.compile import CompileTimeout, compile_off_loop
from leyden.tasks.manager import TaskManager, TaskRequestError, json_string, tick_error
from leyden.tick import ast as A
from leyden.tick.builder import build_pipeline
from leyden.tick.dot import to_dot
from leyden.tick.errors import TickError
from leyden.tick.fmt import format_node, formatted
from leyden.tick.parser import parse
from leyden.tick.pipeline import Pipeline
from leyden.tick.pipeline.graph import Var
from leyden.tick.values import go_pattern

__all__ = [
    "TemplateManager",
    "TemplateStore",
    "TemplateView",
    "build_template",
    "template_vars",
]


class TemplateStore(Protocol):
    """Where templates and their task associations live (:class:`leyden.store.Store`)."""

    def get_template(self, template_id: str) -> TemplateRecord | None: ...

    def list_templates(self) -> list[TemplateRecord]: ...

    def put_template(self, template: TemplateRecord, *, replaces: str | None = None) -> None: ...

    def delete_template(self, template_id: str) -> bool: ...

    def associate_task(self, template_id: str, task_id: str) -> None: ...

    def disassociate_task(self, template_id: str, task_id: str) -> None: ...

    def template_tasks(self, template_id: str) -> list[str]: ...


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class TemplateView:
    """What the API shows of a template besides its record: the built graph and its vars."""

    record: TemplateRecord
    dot: str
    vars: dict[str, dict[str, Any]]
    error: str


def _valid_id(template_id: str) -> bool:
    """Kapacitor's ``^[-\\._\\p{L}0-9]+$``."""
    return bool(template_id) and all(c.isalpha() or c in "0123456789-._" for c in template_id)


def build_template(template_id: str, script: str, asked_type: str = "") -> Pipeline:
    """The template's pipeline, its declared-only vars standing in as zero values; raises
    :class:`TaskRequestError` as Kapacitor answers a template it refuses."""
    try:
        pipeline = build_pipeline(script, filename=template_id, ignore_missing_vars=True)
    except TickError as exc:
        raise tick_error(exc) from None
    except ValueError as exc:
        raise TaskRequestError(f"invalid TICKscript: {exc}") from None
    if pipeline.task_type is None:
        raise TaskRequestError("invalid task type: invalid")
    if asked_type and asked_type != pipeline.task_type:
        raise TaskRequestError(
            f"invalid template type {asked_type}: the TICKscript reads {pipeline.task_type}"
        )
    return pipeline


def _view(record: TemplateRecord) -> TemplateView:
    """What :meth:`TemplateManager.view` shows (run on the compile thread, which also
    formats the script for the API's answer)."""
    formatted(record.tickscript, record.id)
    try:
        pipeline = build_template(record.id, record.tickscript)
    except TaskRequestError as exc:
        return TemplateView(record, "", {}, exc.message)
    return TemplateView(
        record, to_dot(pipeline, record.id), template_vars(pipeline, record.tickscript), ""
    )


def _regex_literals(script: str) -> dict[str, str]:
    """The Go pattern of each ``var r = /…/`` (the built value is Python's translation)."""
    try:
        program = parse(script)
    except TickError:
        return {}
    return {
        n.left.ident: n.right.pattern
        for n in program.nodes
        if isinstance(n, A.DeclarationNode) and isinstance(n.right, A.RegexNode)
    }


def _var_value(var: Var, regex_text: str | None) -> Any:
    """A var's value in Kapacitor's client JSON (durations in nanoseconds, regexes and lambdas
    as their text, lists as a list of typed vars); None for a var without a value."""
    value = var.value
    if value is None:
        return None
    if var.type == "duration":
        return int(value)
    if var.type == "regex":
        if regex_text is not None:
            return regex_text
        return go_pattern(value) if isinstance(value, re.Pattern) else None
    if var.type == "lambda":
        return format_node(value.expression) if isinstance(value, A.LambdaNode) else None
    if var.type == "list":
        return [_list_item(v) for v in value] if isinstance(value, list) else None
    if var.type == "star":
        return None
    if var.type in ("bool", "int", "float", "string"):
        return value
    return None


def _list_item(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"type": "string", "value": value, "description": ""}
    if isinstance(value, bool):
        return {"type": "bool", "value": value, "description": ""}
    if isinstance(value, Duration):
        return {"type": "duration", "value": int(value), "description": ""}
    if isinstance(value, int):
        return {"type": "int", "value": value, "description": ""}
    if isinstance(value, float):
        return {"type": "float", "value": value, "description": ""}
    return {"type": "star", "value": None, "description": ""}  # StarValue


def template_vars(pipeline: Pipeline, script: str) -> dict[str, dict[str, Any]]:
    """The vars a template declares, as Kapacitor lists them: ``{name: {type, value,
    description}}`` (value null when only the type is declared)."""
    regexes = _regex_literals(script)
    return {
        name: {
            "type": var.type,
            "value": _var_value(var, regexes.get(name)),
            "description": var.description,
        }
        for name, var in pipeline.vars.items()
    }


def _type_option(options: Mapping[str, Any]) -> str:
    value = options.get("type")
    if value in (None, ""):
        return ""
    if value not in ("stream", "batch"):
        raise TaskRequestError(f"invalid JSON: unknown TaskType {value}")
    return str(value)


class TemplateManager:
    """Defines, lists, updates and deletes templates; one per server, beside the tasks."""

    def __init__(
        self,
        *,
        store: TemplateStore,
        tasks: TaskManager,
        now: Callable[[], int] = time.time_ns,
    ) -> None:
        self.store = store
        self.tasks = tasks
        self._now = now
        #: views by template ID, script: a template is built once per script, off the loop
        self._views: dict[str, tuple[str, TemplateView]] = {}

    def get(self, template_id: str) -> TemplateRecord | None:
        return self.store.get_template(template_id)

    def find(self, pattern: str = "", offset: int = 0, limit: int = 100) -> list[TemplateRecord]:
        """Templates whose ID matches the glob ``pattern`` (empty: all), by ID, then paged."""
        records = [
            t
            for t in self.store.list_templates()
            if not pattern or fnmatch.fnmatchcase(t.id, pattern)
        ]
        return records[max(offset, 0) :][: max(limit, 0)]

    async def view(self, record: TemplateRecord) -> TemplateView:
        """The record with its graph, vars and build error (empty when it builds); built on
        the compile thread once per script."""
        cached = self._views.get(record.id)
        if cached is not None and cached[0] == record.tickscript:
            return replace(cached[1], record=record)
        try:
            view = await self._off_loop(_view, record)
        except TaskRequestError as exc:  # over the time limit
            return TemplateView(record, "", {}, exc.message)
        if len(self._views) >= 1024:
            self._views.clear()
        self._views[record.id] = (record.tickscript, view)
        return view

    async def _off_loop(self, fn: Callable[..., _T], *args: Any) -> _T:
        try:
            return await compile_off_loop(fn, *args, timeout=self.tasks.compile_timeout)
        except CompileTimeout as exc:
            raise TaskRequestError(str(exc)) from None

    def task_ids(self, template_id: str) -> list[str]:
        return self.store.template_tasks(template_id)

    async def create(self, options: Mapping[str, Any]) -> TemplateRecord:
        """``POST /templates``."""
        template_id = json_string(options, "id") or str(uuid.uuid4())
        if not _valid_id(template_id):
            raise TaskRequestError(
                "template ID must contain only letters, numbers, '-', '.' and '_'. "
                f'"{template_id}"'
            )
        if self.store.get_template(template_id) is not None:
            raise TaskRequestError(f"template {template_id} already exists")
        asked_type = _type_option(options)
        script = json_string(options, "script")
        if not script:
            raise TaskRequestError("must provide TICKscript")
        pipeline = await self._off_loop(build_template, template_id, script, asked_type)
        now = self._now()
        record = TemplateRecord(
            id=template_id,
            type=pipeline.task_type,  # type: ignore[arg-type]
            tickscript=script,
            created=now,
            modified=now,
        )
        self.store.put_template(record)
        return record

    async def update(self, template_id: str, options: Mapping[str, Any]) -> TemplateRecord:
        """``PATCH /templates/<id>``: non-empty fields replace, then every task made from it is
        re-defined (see the module docstring for a task that fails)."""
        original = self.store.get_template(template_id)
        if original is None:
            raise TaskRequestError("template does not exist, cannot update", 404)
        new_id = json_string(options, "id") or original.id
        if not _valid_id(new_id):
            raise TaskRequestError(
                f"template ID must contain only letters, numbers, '-', '.' and '_'. \"{new_id}\""
            )
        asked_type = _type_option(options)
        script = json_string(options, "script") or original.tickscript
        pipeline = await self._off_loop(build_template, new_id, script, asked_type)
        updated = replace(
            original,
            id=new_id,
            type=pipeline.task_type,  # type: ignore[arg-type]
            tickscript=script,
            modified=self._now(),
        )
        task_ids = self.store.template_tasks(original.id)
        if new_id != original.id:
            if self.store.get_template(new_id) is not None:
                # Kapacitor answers 500; the name clash is the client's mistake (issue 16)
                raise TaskRequestError(
                    "failed to create new template for ID change: template already exists", 400
                )
            self.store.put_template(updated, replaces=original.id)
        else:
            self.store.put_template(updated)
        await self.tasks.apply_template(original, updated, task_ids)
        return updated

    def delete(self, template_id: str) -> None:
        """``DELETE /templates/<id>``: 204 whether or not it existed, tasks made from it stay."""
        self.store.delete_template(template_id)
