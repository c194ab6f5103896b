"""The value rules of Leyden's own Discord options, shared by ``[[discord]]``, handler files
and ``.discord()`` in TICKscripts, so the three refuse the same values with the same words.

* Discord IDs (``thread-id``, ``mention-roles``, ``mention-users``) are snowflakes: unsigned
  64-bit integers written in decimal.  Any ID Discord has handed out since 2015 has 17 to 20
  digits (Discord's "Snowflakes" reference), so a shorter or longer value is a paste mistake
  (a channel *name*, a ``<@&…>`` mention, a URL) caught before the first alert, not after.
* Levels are spelled as Kapacitor's ``alert.ParseLevel`` accepts them: ``OK``, ``INFO``,
  ``WARNING``, ``CRITICAL``, upper case.
* ``link`` is a Go template (rendered per event, like ``embed-title``); it must parse.

Each function answers with the problem (None when the value is fine) so callers put the key
and their own location in front of it: a config error names section and key, a handler file
its key, a TICKscript its line and column.
"""

from __future__ import annotations

import re

from leyden.go.template import Template, TemplateError
from leyden.model.alert import Level

__all__ = [
    "LEVEL_NAMES",
    "SNOWFLAKE_RULE",
    "level_problem",
    "snowflake_problem",
    "template_problem",
]

#: what a snowflake must look like, said in messages
SNOWFLAKE_RULE = "a Discord ID (a snowflake: 17 to 20 decimal digits)"
_SNOWFLAKE = re.compile(r"[0-9]{17,20}")
_UINT64_MAX = 2**64 - 1

#: the levels a level option takes, in Kapacitor's spelling and order
LEVEL_NAMES = tuple(level.name for level in Level)


def snowflake_problem(value: str) -> str | None:
    """Why ``value`` is not a Discord ID, or None."""
    if _SNOWFLAKE.fullmatch(value) is None or int(value) > _UINT64_MAX:
        return f"must be {SNOWFLAKE_RULE}"
    return None


def level_problem(value: str) -> str | None:
    """Why ``value`` is not an alert level, or None."""
    if value in LEVEL_NAMES:
        return None
    hint = f" (levels are upper case: {value.upper()})" if value.upper() in LEVEL_NAMES else ""
    return f"must be one of {', '.join(LEVEL_NAMES)}{hint}"


def template_problem(text: str, name: str) -> str | None:
    """Why ``text`` is not a Go template, or None."""
    try:
        Template.parse(text, name=name)
    except TemplateError as exc:
        return f"is not a valid template: {exc}"
    return None
