"""``leyden.limits``: JSON nesting is bounded whatever the input (issue 16)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leyden import limits


def test_depth_at_and_over_the_limit() -> None:
    at = "[" * limits.MAX_JSON_DEPTH + "]" * limits.MAX_JSON_DEPTH
    assert limits.json_depth(limits.loads_json(at)) == limits.MAX_JSON_DEPTH
    over = '{"a": ' + at + "}"
    with pytest.raises(limits.JSONLimitError, match="deeper than 64 levels"):
        limits.loads_json(over, "the body")
    # so deep that json.loads itself gives up: the same error, not a RecursionError
    with pytest.raises(limits.JSONLimitError, match="the body nests deeper"):
        limits.loads_json("[" * 100_000 + "]" * 100_000, "the body")


def test_malformed_json_is_still_a_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        limits.loads_json("{")


@settings(max_examples=200, deadline=None)
@given(
    opens=st.lists(st.sampled_from(["[", '{"k": ']), max_size=3000),
    leaf=st.sampled_from(["1", '"s"', "null", "[]", "{}"]),
)
def test_any_nesting_is_a_value_or_the_limit_error(opens: list[str], leaf: str) -> None:
    text = "".join(opens) + leaf + "".join("]" if o == "[" else "}" for o in reversed(opens))
    try:
        value = limits.loads_json(text)
    except limits.JSONLimitError:
        assert len(opens) + (leaf in ("[]", "{}")) > limits.MAX_JSON_DEPTH
        return
    assert limits.json_depth(value) == len(opens) + (leaf in ("[]", "{}"))
