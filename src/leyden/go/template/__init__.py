"""The subset of Go's text/template (and html/template's text-context escaping) Kapacitor users write.

Alert ``.id()``, ``.message()`` and ``.details()`` and handler options such as the Discord embed
title are Go templates; users copy them from Kapacitor, so the output must match Go byte for byte,
including its quirks (``<no value>``, ``%!d(string=x)``, ``incompatible types for comparison``).

A template is parsed once into a tree and compiled into nested Python closures; executing it is
then a walk over closures with no parsing or dispatch on node types, because templates run for
every alert event.

Data model (see :mod:`leyden.go.types`): dicts are ``map[string]interface{}`` (a missing key reads as
``<no value>``), :class:`~leyden.go.types.StringMap` is ``map[string]string`` (``index`` of a missing
key is ``""``), :class:`~leyden.go.types.GoStruct` and plain objects are structs (a missing field is
an execution error), bound methods of objects are Go methods, ``None`` is nil.

The package mirrors Go's split: :mod:`._lex`, :mod:`._nodes` and :mod:`._parse` are
``text/template/parse``; :mod:`._funcs` is ``funcs.go`` (plus html/template's text escaper),
:mod:`._compile` is ``exec.go`` and :mod:`._template` is ``template.go``.  Only the names
below are public.
"""

from __future__ import annotations

from leyden.go.template._compile import TemplateExecError
from leyden.go.template._funcs import FUNCS_DETAILS, html_text_escape
from leyden.go.template._lex import TemplateError
from leyden.go.template._template import Template

__all__ = ["FUNCS_DETAILS", "Template", "TemplateError", "TemplateExecError", "html_text_escape"]
