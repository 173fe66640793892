"""The nesting limit (E0008) is checked level by level; it must find what the depth-first walk
finds: whether a tree is too deep, and which node is reported."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mora import ast
from mora import parser as P
from mora.source import SourceFile, Span

_FILE = SourceFile("t.mora", "x")
_SPAN = Span(_FILE, 0, 1)
_LEAF = ast.Ref((ast.Name("x", _SPAN),), _SPAN)


def _wrap(kind: int, children: list[ast.Expr]) -> ast.Expr:
    """One level around the children: operators, brackets, calls, maps, bodies."""
    a, b = children[0], children[1] if len(children) > 1 else _LEAF  # a tree, never a DAG
    if kind == 0:
        return ast.Unary("!", a, _SPAN)
    if kind == 1:
        return ast.Binary("&&", a, b, _SPAN)
    if kind == 2:
        return ast.ListExpr(tuple(ast.ListItem(c, None, _SPAN) for c in children), _SPAN)
    if kind == 3:
        args = tuple(ast.Arg(None, c, _SPAN) for c in children)
        return ast.Call(_LEAF, args, _SPAN)
    key = ast.Key("k", False, _SPAN)
    return ast.MapExpr(tuple(ast.MapEntry(key, c, _SPAN) for c in children), _SPAN)


@st.composite
def _trees(draw: st.DrawFn) -> ast.Expr:
    """Chains near the limit (55-75 levels) with a few branches, so that two paths may cross
    it and the order of the walk decides which node is reported."""
    kinds = draw(st.lists(st.integers(0, 4), min_size=55, max_size=75))
    branches = draw(
        st.dictionaries(
            st.integers(0, 74), st.tuples(st.integers(0, 78), st.booleans()), max_size=4
        )
    )
    node: ast.Expr = _LEAF
    for level, kind in enumerate(kinds):
        children = [node]
        if level in branches:  # another chain beside this one, before or after it
            length, before = branches[level]
            side: ast.Expr = _LEAF
            for i in range(length):
                side = _wrap(kinds[i % len(kinds)], [side])
            children.insert(0 if before else 1, side)
        node = _wrap(kind, children)
    return node


@settings(max_examples=150, deadline=None)
@given(tree=_trees())
def test_level_by_level_finds_the_node_depth_first_finds(tree: ast.Expr) -> None:
    deep = P._first_too_deep(tree)
    assert P._exceeds(tree) is (deep is not None)
    assert P._too_deep(tree) is deep


def test_the_limit_itself() -> None:
    node: ast.Expr = _LEAF
    for _ in range(P.MAX_DEPTH - 1):
        node = ast.Unary("!", node, _SPAN)
    assert P._too_deep(node) is None  # the Ref at the bottom is the 64th level
    deeper = ast.Unary("!", node, _SPAN)
    assert P._too_deep(deeper) is _LEAF is P._first_too_deep(deeper)
    body = ast.Body((ast.Attr(ast.Key("k", False, _SPAN), deeper, _SPAN),), _SPAN)
    assert P._too_deep(body) is _LEAF  # a body, an attribute, a key add no level
