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


def test_a_span_packs_its_offsets_into_one_integer() -> None:
    """Spans are over half of a large tree: one int per span, not two slots with two ints."""
    from mora.source import Span

    spans = [n.span for n in _nodes(_media()) if isinstance(getattr(n, "span", None), Span)]
    assert len(spans) > 100
    assert "start" not in Span.__slots__ and "end" not in Span.__slots__
    assert {type(s._pos) for s in spans} == {int}  # type: ignore[attr-defined]
    back = pickle.loads(pickle.dumps(spans, protocol=pickle.HIGHEST_PROTOCOL))
    assert [(s.start, s.end, s.location()) for s in back] == [
        (s.start, s.end, s.location()) for s in spans
    ]


@pytest.mark.parametrize("start,end", [(0, 0), (7, 3), (-1, 2), (2, 1 << 33), (1 << 40, 1 << 40)])
def test_any_offsets_survive_the_packing(start: int, end: int) -> None:
    from mora.source import Span

    f = SourceFile("a.mora", "text")
    s = Span(f, start, end)
    assert (s.start, s.end) == (start, end)
    assert s == Span(f, start, end) and hash(s) == hash(Span(f, start, end))
    back = pickle.loads(pickle.dumps(s))
    assert (back.start, back.end, back.file.text) == (start, end, "text")
