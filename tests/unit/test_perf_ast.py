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


def _node_classes() -> list[type[ast.Node]]:
    return [
        c
        for c in vars(ast).values()
        if isinstance(c, type) and issubclass(c, ast.Node) and c is not ast.Node
    ]


@pytest.mark.parametrize("cls", _node_classes(), ids=lambda c: c.__name__)
def test_the_parsers_constructor_builds_the_node_init_builds(cls: type[ast.Node]) -> None:
    """`ast.positional` fills the slots without `__init__`: the node must be the same one
    (fields, equality, hash, immutability, no `__dict__`, the pickle byte for byte)."""
    values = [f"v{i}" for i in range(len(cls._fields))]
    made = ast.positional(cls)(*values)
    init = cls(*values)
    assert type(made) is cls and made == init and hash(made) == hash(init)
    assert [getattr(made, f) for f in cls._fields] == values
    assert not hasattr(made, "__dict__")
    assert pickle.dumps(made) == pickle.dumps(init)
    with pytest.raises(AttributeError):
        made.span = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        ast.positional(cls)(*values, "one too many")


def _rebuilt(value: object) -> object:
    """The same tree, every node made again through `__init__`."""
    if isinstance(value, ast.Node):
        return type(value)(*(_rebuilt(getattr(value, f)) for f in value._fields))
    if isinstance(value, tuple):
        return tuple(_rebuilt(v) for v in value)
    return value


def test_parsed_trees_pickle_as_trees_built_through_init() -> None:
    """The parser builds nodes with `ast.positional` and spans with `span_at`: a whole parsed
    tree must pickle (the parse cache's entry) exactly as the same tree built the old way."""
    module = _media()
    assert pickle.dumps(module.decls) == pickle.dumps(_rebuilt(module.decls))


@pytest.mark.parametrize(
    "start,end", [(0, 0), (5, 9), (7, 3), (-1, 2), (2, 1 << 33), (1 << 31, (1 << 32) - 1)]
)
def test_span_at_is_the_span_the_constructor_makes(start: int, end: int) -> None:
    from mora.source import Span, span_at

    f = SourceFile("a.mora", "text")
    s = span_at(f, start, end)
    assert type(s) is Span and s == Span(f, start, end)
    assert (s.start, s.end) == (start, end) and s._pos == Span(f, start, end)._pos  # type: ignore[attr-defined]
    assert pickle.dumps(s) == pickle.dumps(Span(f, start, end))
    with pytest.raises(AttributeError):
        s.file = f  # type: ignore[misc]


def test_a_node_pickles_as_its_class_and_field_values() -> None:
    """The parse cache's format: `__reduce__` (one attrgetter call per node) gives the class's
    slot-filling rebuilder and the fields' values in order, for every class (none, one or
    several fields); unpickling gives an equal node of the same class without `__init__`."""
    nodes = list(_nodes(_media()))
    for node in [*nodes, ast.NoneLit(None), ast.Name("x", None)]:  # type: ignore[arg-type]
        values = tuple(getattr(node, f) for f in node._fields)
        assert node.__reduce__() == (type(node)._unpickle, values)  # type: ignore[attr-defined]
    real_init = ast.Node.__init__

    def refuse(self: ast.Node, *args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling called Node.__init__")

    blob = pickle.dumps(nodes, protocol=pickle.HIGHEST_PROTOCOL)
    ast.Node.__init__ = refuse  # type: ignore[method-assign]
    try:
        back = pickle.loads(blob)
    finally:
        ast.Node.__init__ = real_init  # type: ignore[method-assign]
    assert [type(n) for n in back] == [type(n) for n in nodes]
    assert pickle.dumps(back, protocol=pickle.HIGHEST_PROTOCOL) == blob  # the same trees
