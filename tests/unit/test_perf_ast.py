"""Syntax tree nodes are slotted (no per-node `__dict__`) and survive the parse cache's pickle."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from mora import ast
from mora.diagnostics import Diagnostics
from mora.parser import parse_module
from mora.source import SourceFile

REPO = Path(__file__).resolve().parents[2]


def _nodes(value: object) -> Iterator[ast.Node]:
    if isinstance(value, ast.Node):
        yield value
        for field in value._fields:
            yield from _nodes(getattr(value, field))
    elif isinstance(value, tuple):
        for item in value:
            yield from _nodes(item)


def _media() -> ast.Module:
    path = REPO / "projects" / "media" / "media.mora"
    diags = Diagnostics()
    module = parse_module(SourceFile(str(path), path.read_text()), diags)
    assert not diags.items
    return module


def test_no_node_carries_a_dict() -> None:
    nodes = list(_nodes(_media()))
    kinds = {type(n) for n in nodes}
    assert len(kinds) > 10  # a real tree, many node classes
    assert [type(n).__name__ for n in nodes if hasattr(n, "__dict__")] == []


def test_nodes_stay_immutable() -> None:
    name = ast.Name("x", None)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        name.text = "y"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        name.other = 1  # type: ignore[attr-defined]


def test_pickle_round_trip_gives_an_equal_tree() -> None:
    module = _media()
    again = pickle.loads(pickle.dumps(module, protocol=pickle.HIGHEST_PROTOCOL))
    # SourceFile compares by identity, so compare the (location-bearing) reprs.
    assert [type(n) for n in _nodes(again)] == [type(n) for n in _nodes(module)]
    assert repr(again.decls) == repr(module.decls)
