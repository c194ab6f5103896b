"""The ``Template`` type (Go's ``template.go``): parse once, execute many times."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from leyden.go.template._compile import Compiler, Exec, ExecFailure, State, TemplateExecError
from leyden.go.template._funcs import DEFAULT_FUNCS
from leyden.go.template._lex import Source
from leyden.go.template._parse import Parser
from leyden.go.types import go_quote

__all__ = ["Template"]


class Template:
    """A parsed Go template, compiled once and executed many times.

    ``funcs`` adds functions (as Go's ``Funcs``), e.g. :data:`FUNCS_DETAILS` for Kapacitor's
    details template.  ``html_escape=True`` gives html/template's behaviour in an HTML text
    context: each action's output is entity-escaped and nil prints as nothing.
    """

    __slots__ = ("_run", "html_escape", "name", "text")

    def __init__(self, name: str, text: str, run: Exec, html_escape: bool) -> None:
        self.name = name
        self.text = text
        self._run = run
        self.html_escape = html_escape

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        name: str = "template",
        funcs: Mapping[str, Callable[..., Any]] | None = None,
        html_escape: bool = False,
    ) -> Template:
        all_funcs = dict(DEFAULT_FUNCS)
        if funcs:
            all_funcs.update(funcs)
        src = Source(name, text)
        parser = Parser(src, all_funcs)
        root = parser.parse()
        compiler = Compiler(src, all_funcs, html_escape, parser.defines)
        for def_name, body in parser.defines.items():
            compiler.compiled_defines[def_name] = compiler.list_(body)
        if name in parser.defines and not root.nodes:
            run = compiler.compiled_defines[name]
        else:
            run = compiler.list_(root)
        tmpl = cls(name, text, run, html_escape)
        tmpl._bind_errors(src)
        return tmpl

    def _bind_errors(self, src: Source) -> None:
        run = self._run
        name = self.name

        def execute(st: State, dot: Any) -> None:
            try:
                run(st, dot)
            except ExecFailure as exc:
                context = str(exc.node)
                if len(context) > 20:
                    context = context[:20] + "..."
                raise TemplateExecError(
                    f"template: {src.location(exc.node.pos)}: executing {go_quote(name)} "
                    f"at <{context}>: {exc.msg}"
                ) from None
            except RecursionError:
                raise TemplateExecError(
                    f"template: {name}: exceeded maximum template depth"
                ) from None

        self._run = execute

    def execute(self, data: Any) -> str:
        """Render with ``data`` as dot and ``$``; raises :class:`TemplateExecError` on failure."""
        out: list[str] = []
        self._run(State(out, data), data)
        return "".join(out)

    def __repr__(self) -> str:
        return f"Template(name={self.name!r})"
