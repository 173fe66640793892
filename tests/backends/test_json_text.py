"""The manifest's JSON writer (`mora.backends._json`) makes exactly `json.dumps`'s bytes.

`json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)` is the reference (it is what
`mora.model.manifest_json` and every golden manifest were written with): hypothesis compares the
two on random JSON values, with every kind of scalar, subclasses of the containers and scalars,
keys that are not text, and values json refuses (the same exception type).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mora.backends._json import dumps, key


def _reference(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


class Text(str):
    pass


class Number(IntEnum):
    ONE = 1


_text = st.text(st.characters(codec="utf-8"), max_size=10) | st.sampled_from(
    ["", "a\nb", 'q"uote', "back\\slash", "\t", "\u2028", "é", "😀", "\x00", "\x1f", "\x7f"]
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()  # NaN and the infinities too: json writes NaN, Infinity, -Infinity
    | st.sampled_from([1e16, 30.0, -0.0, 1.5e-7, Number.ONE, Text("sub"), 2**64])
    | _text
)
_keys = _text | st.builds(Text, _text)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_keys, inner, max_size=4)
        | st.dictionaries(_keys, inner, max_size=3).map(OrderedDict)
    )


_json = st.recursive(_scalars, _containers, max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_dumps_is_json_dumps_with_indent_two_sorted_keys_and_unicode(value: Any) -> None:
    assert dumps(value) == _reference(value)


@settings(max_examples=100, deadline=None)
@given(_json, st.integers(min_value=0, max_value=4))
def test_an_indented_value_is_json_dumps_with_its_lines_indented(value: Any, level: int) -> None:
    """What the manifest writer puts at a level: json's text with every line break indented."""
    indent = "  " * level
    assert dumps(value, indent) == _reference(value).replace("\n", "\n" + indent)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.one_of(
            st.integers(), st.floats(allow_nan=False), st.just(True), st.just(False), st.none()
        ),
        _scalars,
        max_size=1,
    )
)
def test_keys_that_are_not_text_are_converted_as_json_converts_them(value: dict[Any, Any]) -> None:
    """(One key: json sorts before converting, and keys of different types do not sort.)"""
    assert dumps(value) == _reference(value)


@given(_text)
def test_key_is_json_dumps_of_the_text(text: str) -> None:
    assert key(text) == json.dumps(text, ensure_ascii=False)


@pytest.mark.parametrize(
    "value",
    [
        {"a": object()},
        [b"bytes"],
        {1: "a", "b": 2},  # keys json cannot sort
        {(1, 2): "tuple key"},
        {"s": {1, 2}},
        {"x": {"y": [complex(1, 2)]}},
    ],
)
def test_what_json_refuses_is_refused_with_the_same_exception_type(value: Any) -> None:
    with pytest.raises(Exception) as expected:
        _reference(value)
    with pytest.raises(expected.type) as got:
        dumps(value)
    assert str(got.value) == str(expected.value)
