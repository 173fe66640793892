"""The merge of an amend body into a service body, on the syntax tree (no evaluation).

Pkl's `amends` and Kustomize's strategic merge, for mora's vocabulary:

* a value attribute (`image`, `user`, ...) is replaced: every entry of the base that sets it,
  also inside an `if`, goes, and the amend's entry takes its place;
* `depends_on` and `placement` are unioned: both entries stay, the evaluator unions them;
* a block (`environment`, `resources`, `security`, ...) is merged by key: one block holds the
  base's items without the keys the amend sets, then the amend's items; a block the base sets
  only inside `if` branches is hoisted into one block with the same `if` inside it, so every
  branch gets the amend's items.

An amend entry under an `if` replaces the base only where its condition holds: the base's entry
is copied into the branches that do not set the key (an `else` is added where there is none).

The result reuses the amend's own nodes, so every diagnostic about them points at the amend's
lines; the synthetic blocks take the span of the amend's block.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mora import ast

UNION = frozenset({"depends_on", "placement"})

Item = ast.Attr | ast.Block | ast.IfEntry


class Unmergeable(Exception):
    """The base computes a block with an expression, so its keys are not known before evaluation."""

    def __init__(self, key: str, base: ast.Attr) -> None:
        super().__init__(key)
        self.key = key
        self.base = base


def keys_in_order(entries: Iterable[object]) -> list[str]:
    """The keys an entry list sets, first occurrence first, looking inside `if` branches."""
    out: dict[str, None] = {}
    for e in entries:
        if isinstance(e, ast.Attr | ast.Block):
            out.setdefault(e.key.text)
        elif isinstance(e, ast.IfEntry):
            for k in keys_in_order(_branch_entries(e)):
                out.setdefault(k)
    return list(out)


def _branch_entries(e: ast.IfEntry) -> Iterator[object]:
    yield from e.then.entries
    if isinstance(e.otherwise, ast.Body):
        yield from e.otherwise.entries
    elif isinstance(e.otherwise, ast.IfEntry):
        yield from _branch_entries(e.otherwise)


def _sets(entries: Iterable[object], key: str) -> bool:
    return key in keys_in_order(entries)


def restrict(entries: Iterable[object], key: str) -> list[Item]:
    """Only what sets `key`: its entries, and the `if` chains around them cut down to them."""
    out: list[Item] = []
    for e in entries:
        if isinstance(e, ast.Attr | ast.Block) and e.key.text == key:
            out.append(e)
        elif isinstance(e, ast.IfEntry) and _sets(_branch_entries(e), key):
            out.append(_restrict_if(e, key))
    return out


def _restrict_if(e: ast.IfEntry, key: str) -> ast.IfEntry:
    other: ast.Body | ast.IfEntry | None = None
    if isinstance(e.otherwise, ast.Body):
        kept = restrict(e.otherwise.entries, key)
        other = ast.Body(tuple(kept), e.otherwise.span) if kept else None
    elif isinstance(e.otherwise, ast.IfEntry) and _sets(_branch_entries(e.otherwise), key):
        other = _restrict_if(e.otherwise, key)
    then = ast.Body(tuple(restrict(e.then.entries, key)), e.then.span)
    return ast.IfEntry(e.condition, then, other, e.span)


def without(entries: Iterable[object], key: str) -> list[object]:
    """Everything but what sets `key`; an `if` left with nothing in any branch goes too."""
    out: list[object] = []
    for e in entries:
        if isinstance(e, ast.Attr | ast.Block) and e.key.text == key:
            continue
        if isinstance(e, ast.IfEntry) and _sets(_branch_entries(e), key):
            cut = _without_if(e, key)
            if cut is not None:
                out.append(cut)
            continue
        out.append(e)
    return out


def _without_if(e: ast.IfEntry, key: str) -> ast.IfEntry | None:
    then = without(e.then.entries, key)
    other: ast.Body | ast.IfEntry | None = None
    if isinstance(e.otherwise, ast.Body):
        rest = without(e.otherwise.entries, key)
        other = ast.Body(tuple(rest), e.otherwise.span) if rest else None  # type: ignore[arg-type]
    elif isinstance(e.otherwise, ast.IfEntry):
        other = _without_if(e.otherwise, key)
    if not then and other is None:
        return None
    return ast.IfEntry(e.condition, ast.Body(tuple(then), e.then.span), other, e.span)  # type: ignore[arg-type]


def _fill_body(body: ast.Body, key: str, base: list[Item]) -> ast.Body:
    """A branch of an amend's `if`: where it does not set `key`, the base's entries apply."""
    if any(isinstance(e, ast.Attr | ast.Block) and e.key.text == key for e in body.entries):
        return body
    if any(isinstance(e, ast.IfEntry) and _sets(_branch_entries(e), key) for e in body.entries):
        entries = tuple(
            fill_if(e, key, base)
            if isinstance(e, ast.IfEntry) and _sets(_branch_entries(e), key)
            else e
            for e in body.entries
        )
        return ast.Body(entries, body.span)
    return ast.Body((*body.entries, *base), body.span)


def fill_if(e: ast.IfEntry, key: str, base: list[Item]) -> ast.IfEntry:
    """An amend's `if` that sets `key`, with the base's entries in the branches that do not."""
    then = _fill_body(e.then, key, base)
    other: ast.Body | ast.IfEntry | None
    if isinstance(e.otherwise, ast.IfEntry):
        other = fill_if(e.otherwise, key, base)
    elif isinstance(e.otherwise, ast.Body):
        other = _fill_body(e.otherwise, key, base)
    else:
        other = ast.Body(tuple(base), e.span) if base else None
    return ast.IfEntry(e.condition, then, other, e.span)


def replace_key(entries: list[object], piece: list[Item], key: str) -> list[object]:
    """`entries` with `key` set by `piece` instead; an `if` in `piece` keeps the base elsewhere."""
    base = restrict(entries, key)
    filled: list[object] = [fill_if(p, key, base) if isinstance(p, ast.IfEntry) else p for p in piece]
    return without(entries, key) + filled


def hoist(entries: list[Item], key: str) -> list[Item]:
    """The items of block `key` as one list: a block's entries, a literal map's entries, and the
    `if` chains around them moved inside. Raises `Unmergeable` for a block computed by an
    expression (`environment = args.env`)."""
    out: list[Item] = []
    for e in entries:
        if isinstance(e, ast.Block):
            out += [x for x in e.body.entries if isinstance(x, ast.Attr | ast.Block | ast.IfEntry)]
        elif isinstance(e, ast.Attr):
            if not isinstance(e.value, ast.MapExpr):
                raise Unmergeable(key, e)
            out += [ast.Attr(m.key, m.value, m.span) for m in e.value.entries]
        else:
            out.append(_hoist_if(e, key))
    return out


def _hoist_if(e: ast.IfEntry, key: str) -> ast.IfEntry:
    other: ast.Body | ast.IfEntry | None = None
    if isinstance(e.otherwise, ast.Body):
        other = ast.Body(tuple(hoist(_items(e.otherwise), key)), e.otherwise.span)
    elif isinstance(e.otherwise, ast.IfEntry):
        other = _hoist_if(e.otherwise, key)
    return ast.IfEntry(e.condition, ast.Body(tuple(hoist(_items(e.then), key)), e.then.span), other, e.span)


def _items(body: ast.Body) -> list[Item]:
    return [e for e in body.entries if isinstance(e, ast.Attr | ast.Block | ast.IfEntry)]


def merge_block(base: list[Item], piece: list[Item], key: str) -> ast.Block | list[Item]:
    """Block `key`: the base's items merged with the amend's by item key. An amend that writes
    the whole block as an expression replaces it (returned as the amend's entries)."""
    try:
        amend_items = hoist(piece, key)
    except Unmergeable:
        return piece
    items: list[object] = list(hoist(base, key))
    for item_key in keys_in_order(amend_items):
        items = replace_key(items, restrict(amend_items, item_key), item_key)
    first = piece[0]
    span = first.span
    key_node = first.key if isinstance(first, ast.Attr | ast.Block) else ast.Key(key, False, span)
    return ast.Block(key_node, ast.Body(tuple(items), span), span)  # type: ignore[arg-type]


def merge(base: ast.Body, amend: ast.Body, blocks: frozenset[str] | set[str]) -> ast.Body:
    """`amend` merged into `base` (see the module doc). Raises `Unmergeable` when the amend adds
    to a block the base computes with an expression."""
    entries: list[object] = list(base.entries)
    for key in keys_in_order(amend.entries):
        piece = restrict(amend.entries, key)
        if key in UNION:
            entries += piece
        elif key in blocks:
            merged = merge_block(restrict(entries, key), piece, key)
            if isinstance(merged, list):
                entries = without(entries, key) + merged  # type: ignore[operator]
            else:
                entries = [*without(entries, key), merged]
        else:
            entries = replace_key(entries, piece, key)
    return ast.Body(tuple(entries), base.span)  # type: ignore[arg-type]
