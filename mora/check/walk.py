"""Walks that look for a few kinds of node, entering only the fields that can hold them.

The contract, request and step checks ask "which `if`s, list items and `setup` blocks", "which
calls", "which references" of whole template bodies; a full walk visits every `Name` and `Key`
too (about half of a tree's nodes). `find` reads each node class's field annotations once and
skips the fields that can hold none of the kinds asked for (docs/performance.md, twelfth round).
"""

from __future__ import annotations

from operator import attrgetter

from mora import ast

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def find(root: object, kinds: tuple[type[ast.Node], ...], source_order: bool = False) -> list[Any]:
    """The nodes of `kinds` under `root` (itself included), in the order of
    `mora.contracts.check._nodes` (depth first from the last field), or in source
    order (each node before its children, fields first to last) when `source_order` is set.

    Fields whose declared type holds only nodes that cannot be or contain one of `kinds` (the
    `Name`s of a reference, the `Key` of an entry, literals) are not entered: they are about half
    of a tree's nodes, and the contract, request and step checks walk every template body."""
    plans = _PLANS.get((kinds, source_order))
    if plans is None:
        plans = _PLANS[(kinds, source_order)] = {}
    found: list[Any] = []
    stack = [root]
    pop, push, extend, append = stack.pop, stack.append, stack.extend, found.append
    while stack:
        item = pop()
        cls = type(item)
        if cls is tuple:
            extend(item[::-1] if source_order else item)
            continue
        plan = plans.get(cls)
        if plan is None:
            plan = plans[cls] = _plan(cls, kinds, source_order)
        wanted, get, many = plan
        if wanted:
            append(item)
        if get is not None:
            if many:
                extend(get(item))
            else:
                push(get(item))
    return found


# (kinds, source order) -> node class -> (is one of kinds, getter of the fields to enter or
# None, whether the getter returns several fields).
if TYPE_CHECKING:
    _Plan = tuple[bool, Callable[[Any], Any] | None, bool]
_PLANS: dict[tuple[tuple[type, ...], bool], dict[type, _Plan]] = {}
_SCALARS = frozenset(("str", "int", "bool", "None", "tuple", "Span", "SourceFile"))
_BELOW: dict[tuple[type, str], frozenset[type] | None] = {}


def _plan(cls: type, kinds: tuple[type, ...], source_order: bool) -> _Plan:
    if not (isinstance(cls, type) and issubclass(cls, ast.Node)):
        if isinstance(cls, type) and issubclass(cls, tuple):  # a tuple subclass: its items
            return False, (lambda t: t[::-1]) if source_order else tuple, True
        return False, None, False
    names = [f for f in cls._fields if f != "span" and not _holds_nothing_of(cls, f, kinds)]
    if source_order:
        names.reverse()
    if not names:
        return issubclass(cls, kinds), None, False
    return issubclass(cls, kinds), attrgetter(*names), len(names) > 1


def _holds_nothing_of(cls: type, field: str, kinds: tuple[type, ...]) -> bool:
    """Whether `field` of `cls` is declared to hold only scalars and nodes that neither are nor
    can contain one of `kinds` (an annotation naming anything else may hold anything)."""
    below = _below(cls, field)
    return below is not None and not any(
        issubclass(node, kinds) or any(issubclass(k, node) for k in kinds) for node in below
    )


def _below(cls: type, field: str) -> frozenset[type] | None:
    """The node classes `field` of `cls` can hold, at any depth, read from the annotations;
    None when one of them names something else (a class of another module, a string type)."""
    key = (cls, field)
    if key not in _BELOW:
        _BELOW[key] = _reach(_direct(cls, field))
    return _BELOW[key]


def _reach(start: frozenset[type] | None) -> frozenset[type] | None:
    """`start` and every node class that can sit below one of them (None: unknown)."""
    if start is None:
        return None
    seen = set(start)
    todo = list(start)
    while todo:
        cls = todo.pop()
        for f in cls._fields:
            if f == "span":
                continue
            inner = _direct(cls, f)
            if inner is None:
                return None
            for node in inner - seen:
                seen.add(node)
                todo.append(node)
    return frozenset(seen)


def _direct(cls: type, field: str) -> frozenset[type] | None:
    """The node classes named by the annotation of `field`; None when it names anything else.

    Aliases (`Expr`, `Entry`) count as anything: `Entry` does not list every entry a body can
    hold (a template's `secret`), and a walk must not miss what the parser put there."""
    annotation = cls.__dict__.get("__annotations__", {}).get(field)  # noqa: RUF063
    if not isinstance(annotation, str):
        return None
    found: set[type] = set()
    for word in annotation.replace("|", " ").replace("[", " ").replace("]", " ").split():
        word = word.strip(",.")
        if not word or word in _SCALARS:
            continue
        node = getattr(ast, word, None)
        if not (isinstance(node, type) and issubclass(node, ast.Node)):
            return None
        found.add(node)
    return frozenset(found)
