"""Go's template functions (``funcs.go``) and html/template's text escaper (``html.go``).

The built-ins (``eq``, ``index``, ``printf``, ``html``, ``js`` …) raise :class:`FuncError`,
which the compiler words as Go's ``error calling NAME: MSG``; :data:`FUNCS_DETAILS` adds
Kapacitor's ``json`` and ``jsonCompact``.  :data:`NO_VALUE` is Go's invalid ``reflect.Value``.

:func:`html_text_escape` is the one owner of html/template's escaping in an HTML text context:
the template engine prints every action of a details template through it, and the alert node's
fast path for the default details (``leyden.engine.nodes.alert_render``) escapes its JSON
pieces with it, so both stay byte-identical.  It is a chain of ``str.replace`` guarded by
``in``: on the short, mostly clean strings of alert data that is several times faster than
``str.translate`` with a table (which builds the result character by character).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote_plus

from leyden.go.types import (
    GoStruct,
    StringMap,
    Time,
    format_value,
    go_json,
    go_type_name,
    sprint,
    sprintf,
    sprintln,
)

__all__ = [
    "BUILTINS",
    "DEFAULT_FUNCS",
    "FUNCS_DETAILS",
    "NO_VALUE",
    "FuncError",
    "NoValue",
    "arity",
    "as_arg",
    "html_text_escape",
    "truth",
]


def _replacer(table: tuple[tuple[str, str], ...]) -> Callable[[str], str]:
    """An escaper replacing each character of ``table`` in order ("&" first, so that no
    entity written by a later entry is escaped again)."""

    def escape(text: str) -> str:
        for char, escaped in table:
            if char in text:
                text = text.replace(char, escaped)
        return text

    return escape


#: text/template's ``HTMLEscapeString`` (the ``html`` function)
_HTML_ESCAPES = (
    ("&", "&amp;"),
    ('"', "&#34;"),
    ("'", "&#39;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ("\0", "\ufffd"),
)
#: html/template's ``htmlEscaper`` in a text context: the same plus "+" (``htmlReplacementTable``)
_HTML_TEXT_ESCAPES = (*_HTML_ESCAPES, ("+", "&#43;"))

_html_escape_string = _replacer(_HTML_ESCAPES)
html_text_escape = _replacer(_HTML_TEXT_ESCAPES)
html_text_escape.__doc__ = "html/template's escaping of a string in an HTML text context."


class FuncError(Exception):
    """Raised by built-in functions; becomes ``error calling NAME: MSG``."""


class NoValue:
    """Go's invalid ``reflect.Value``: what a missing map key yields; prints ``<no value>``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE: Any = NoValue()


def truth(v: Any) -> bool:
    """Go's ``IsTrue``: the zero value of its type is false; structs are always true."""
    if v is NO_VALUE or v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, Time):
        return True
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, GoStruct):
        return True
    if isinstance(v, str | list | tuple | Mapping):
        return len(v) > 0
    return True


def as_arg(v: Any) -> Any:
    """A value passed to a function: Go turns the invalid value into nil."""
    return None if v is NO_VALUE else v


_BASIC_BOOL, _BASIC_INT, _BASIC_FLOAT, _BASIC_STRING = "bool", "int", "float", "string"


def _basic_kind(v: Any) -> str | None:
    if isinstance(v, bool):
        return _BASIC_BOOL
    if isinstance(v, Time):
        return None
    if isinstance(v, int):
        return _BASIC_INT
    if isinstance(v, float):
        return _BASIC_FLOAT
    if isinstance(v, str):
        return _BASIC_STRING
    return None


def _fn_eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in args:
        k2 = _basic_kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise FuncError("incompatible types for comparison")
            truth = arg1 is None and arg is None
        elif k1 is None:
            if isinstance(arg1, Mapping | list) or isinstance(arg, Mapping | list):
                raise FuncError(
                    f"non-comparable types {format_value(arg1)}: {go_type_name(arg1)}, "
                    f"{go_type_name(arg)}: {format_value(arg)}"
                )
            truth = arg1 == arg and type(arg1) is type(arg)
        else:
            truth = arg1 == arg
        if truth:
            return True
    return False


def _fn_ne(arg1: Any, arg2: Any) -> bool:
    return not _fn_eq(arg1, arg2)


def _fn_lt(arg1: Any, arg2: Any) -> bool:
    k1 = _basic_kind(arg1)
    k2 = _basic_kind(arg2)
    if k1 is None or k2 is None or k1 == _BASIC_BOOL:
        if k1 is not None and k2 is not None and k1 != k2:
            raise FuncError("incompatible types for comparison")
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError("incompatible types for comparison")
    if k2 == _BASIC_BOOL:
        raise FuncError("invalid type for comparison")
    return arg1 < arg2


def _fn_le(arg1: Any, arg2: Any) -> bool:
    return _fn_lt(arg1, arg2) or _fn_eq(arg1, arg2)


def _fn_gt(arg1: Any, arg2: Any) -> bool:
    return not _fn_le(arg1, arg2)


def _fn_ge(arg1: Any, arg2: Any) -> bool:
    return not _fn_lt(arg1, arg2)


def _fn_not(arg: Any) -> bool:
    return not truth(arg)


def _index_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if v is None:
            raise FuncError("cannot index slice/array with nil")
        raise FuncError(f"cannot index slice/array with type {go_type_name(v)}")
    return int(v)


def _fn_index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise FuncError("index of untyped nil")
    for idx in indexes:
        if item is None:
            raise FuncError("index of nil pointer")
        if isinstance(item, GoStruct) or not isinstance(item, str | list | tuple | Mapping):
            raise FuncError(f"can't index item of type {go_type_name(item)}")
        if isinstance(item, Mapping):
            if idx is None:
                raise FuncError("value is nil; should be of type string")
            if not isinstance(idx, str):
                raise FuncError(f"value has type {go_type_name(idx)}; should be string")
            if idx in item:
                item = item[idx]
            else:
                item = "" if isinstance(item, StringMap) else None
            continue
        i = _index_int(idx)
        seq: Any = item.encode("utf-8") if isinstance(item, str) else item
        if not 0 <= i < len(seq):
            raise FuncError(f"index out of range: {i}")
        item = seq[i]
    return item


def _fn_slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = item.encode("utf-8")
    elif isinstance(item, list | tuple):
        seq = item
    else:
        raise FuncError(f"can't slice item of type {go_type_name(item)}")
    bounds = [0, len(seq)]
    for k, idx in enumerate(indexes[:2]):
        i = _index_int(idx)
        if not 0 <= i <= len(seq):
            raise FuncError(f"index out of range: {i}")
        bounds[k] = i
    if bounds[0] > bounds[1]:
        raise FuncError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    result = seq[bounds[0] : bounds[1]]
    if isinstance(item, str):
        return result.decode("utf-8", "replace")
    return list(result)


def _fn_len(item: Any) -> int:
    if item is None:
        raise FuncError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode("utf-8"))
    if isinstance(item, list | tuple | Mapping) and not isinstance(item, GoStruct):
        return len(item)
    raise FuncError(f"len of type {go_type_name(item)}")


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*args)


def _fn_html(*args: Any) -> str:
    return _html_escape_string(_eval_args(args))


_JS_ESCAPES = {
    ord("\\"): "\\\\",
    ord("'"): "\\'",
    ord('"'): '\\"',
    ord("<"): "\\u003C",
    ord(">"): "\\u003E",
    ord("&"): "\\u0026",
    ord("="): "\\u003D",
}
_JS_ESCAPES.update({c: f"\\u{c:04X}" for c in range(0x20)})


def _fn_js(*args: Any) -> str:
    text = _eval_args(args).translate(_JS_ESCAPES)
    if text.isascii():
        return text
    return "".join(c if ord(c) < 0x80 or c.isprintable() else f"\\u{ord(c):04X}" for c in text)


def _fn_urlquery(*args: Any) -> str:
    return quote_plus(_eval_args(args), safe="")


def _fn_printf(fmt: Any, *args: Any) -> str:
    if not isinstance(fmt, str):
        raise FuncError(f"wrong type for value; expected string; got {go_type_name(fmt)}")
    return sprintf(fmt, *args)


#: built-ins: name -> (function, minimum args, maximum args or None)
BUILTINS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "eq": (_fn_eq, 1, None),
    "ne": (_fn_ne, 2, 2),
    "lt": (_fn_lt, 2, 2),
    "le": (_fn_le, 2, 2),
    "gt": (_fn_gt, 2, 2),
    "ge": (_fn_ge, 2, 2),
    "not": (_fn_not, 1, 1),
    "index": (_fn_index, 1, None),
    "slice": (_fn_slice, 1, None),
    "len": (_fn_len, 1, 1),
    "html": (_fn_html, 0, None),
    "js": (_fn_js, 0, None),
    "urlquery": (_fn_urlquery, 0, None),
    "print": (sprint, 0, None),
    "println": (sprintln, 0, None),
    "printf": (_fn_printf, 1, None),
    "and": (_fn_not, 1, None),  # placeholders: and/or short-circuit in the compiler
    "or": (_fn_not, 1, None),
}


def arity(fn: Callable[..., Any]) -> tuple[int, int | None]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 0, None
    lo, hi = 0, 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return lo, None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            hi += 1
            if p.default is p.empty:
                lo += 1
    return lo, hi


DEFAULT_FUNCS: dict[str, Callable[..., Any]] = {name: f for name, (f, _, _) in BUILTINS.items()}


def _json_func(v: Any) -> str:
    return go_json(v) + "\n"


def _json_compact_func(v: Any) -> str:
    return go_json(v)


#: Kapacitor's extra functions for the details template (and HTTP post alert templates):
#: ``json`` is Go's ``json.Encoder`` output (HTML-escaped, trailing newline); ``jsonCompact``
#: is the same compacted, which drops the newline.
FUNCS_DETAILS: dict[str, Callable[..., Any]] = {
    "json": _json_func,
    "jsonCompact": _json_compact_func,
}
