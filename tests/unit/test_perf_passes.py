"""The checker's walks after the twelfth round (docs/performance.md, perfpasses): `find` enters
only the fields that can hold what it looks for, and must give the same nodes, in the same order,
as the full walks it replaced. Every `.mora` file of the repository is the corpus."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from mora import ast
from mora.check import walk
from mora.check.walk import find
from mora.contracts import check as contracts_check
from mora.steps import check as steps_check
from tests.unit.test_perf_check import _reference_nodes

REPO = Path(__file__).resolve().parents[2]
NODE_CLASSES = sorted(
    (
        v
        for v in vars(ast).values()
        if isinstance(v, type) and issubclass(v, ast.Node) and v is not ast.Node
    ),
    key=lambda c: c.__name__,
)


@cache
def _modules() -> list[ast.Module]:
    from mora.diagnostics import Diagnostics
    from mora.parse_cache import load_module
    from mora.source import SourceFile

    skip = {".tools", ".venv", ".git", ".mora", "build", "node_modules"}  # .mora: a site store
    files = sorted(
        p for p in REPO.rglob("*.mora") if p.is_file() and not skip & set(p.relative_to(REPO).parts)
    )
    assert len(files) > 200
    return [
        load_module(SourceFile(str(p), p.read_text(errors="replace")), Diagnostics()) for p in files
    ]


def _old_refs(node: object) -> list[ast.Ref]:
    """The steps check's reference walk as it was: recursive, fields in order."""
    found: list[ast.Ref] = []

    def walk(n: object) -> None:
        if isinstance(n, ast.Ref):
            found.append(n)
        elif isinstance(n, ast.Node):
            for f in n._fields:
                walk(getattr(n, f))
        elif isinstance(n, tuple):
            for x in n:
                walk(x)

    walk(node)
    return found


def _same(got: list[object], want: list[object]) -> bool:
    return len(got) == len(want) and all(a is b for a, b in zip(got, want, strict=True))


@pytest.mark.parametrize("kind", NODE_CLASSES, ids=lambda c: c.__name__)
def test_find_gives_what_the_full_walk_gives_for_every_node_class(kind: type) -> None:
    for module in _modules():
        want = [n for n in _reference_nodes(module) if isinstance(n, kind)]
        assert _same(find(module, (kind,)), want), (module.file.path, kind)


def test_find_gives_the_full_walk_for_the_kinds_the_checks_ask_for() -> None:
    """The narrowing, request, reader and emptiness walks (several kinds at once)."""
    asked = [
        contracts_check._NARROWING,
        (ast.Request,),
        (ast.Call,),
        (ast.Binary,),
        (ast.Ref,),
        (ast.Call, ast.Ref),
        (ast.Name, ast.Block),
    ]
    for module in _modules():
        every = _reference_nodes(module)
        for kinds in asked:
            want = [n for n in every if isinstance(n, kinds)]
            assert _same(find(module, kinds), want), (module.file.path, kinds)
        for decl in module.decls:  # a walk may start at any node, not only a module
            for kinds in asked:
                want = [n for n in _reference_nodes(decl) if isinstance(n, kinds)]
                assert _same(find(decl, kinds), want), (module.file.path, kinds)


def test_source_order_is_the_recursive_walks_order() -> None:
    """`_edges_of_instance` keeps the first reference to each service: the order matters."""
    for module in _modules():
        assert _same(find(module, (ast.Ref,), source_order=True), _old_refs(module))
        assert _same(steps_check._refs(module), _old_refs(module))
        for decl in module.decls:
            assert _same(steps_check._refs(decl), _old_refs(decl))


def test_only_fields_that_cannot_hold_the_kinds_are_skipped() -> None:
    """The names of a reference and the key of an entry hold no call: skipped. Asked for names,
    the walk enters them. An annotation naming anything else (an alias like `Expr`) is entered."""
    skips = walk._holds_nothing_of
    assert skips(ast.Ref, "parts", (ast.Call,))
    assert skips(ast.Attr, "key", (ast.IfEntry,))
    assert skips(ast.Call, "func", (ast.Binary,))  # a `Ref`: only names below it
    assert not skips(ast.Call, "func", (ast.Ref,))
    assert not skips(ast.Ref, "parts", (ast.Name,))
    assert not skips(ast.Call, "func", (ast.Name,))  # the names inside the reference
    assert not skips(ast.Attr, "value", (ast.Call,))  # `Expr`: anything
    assert not skips(ast.Body, "entries", (ast.Call,))


def test_a_node_class_of_unknown_fields_is_entered(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node class added later whose annotation names a class of another module, or no
    annotation the walk can read, is walked whole: nothing under it is lost."""

    class Wrapper(ast.Node):
        inner: SomethingElse  # type: ignore[name-defined]  # noqa: F821
        span: object

    call = ast.Call(ast.Ref((), None), (), None)  # type: ignore[arg-type]
    assert find(Wrapper(call, None), (ast.Call,)) == [call]
    assert find(Wrapper((call, (call,)), None), (ast.Call,)) == [call, call]


def test_an_entry_the_entry_alias_does_not_list_is_still_found() -> None:
    """`Entry` (the annotation of a body's entries) does not name `SecretDecl`, yet a template
    body holds `secret` declarations: aliases are not trusted to prune (a first version of the
    walk that expanded them lost these)."""
    from mora.diagnostics import Diagnostics
    from mora.parse_cache import load_module
    from mora.source import SourceFile

    text = 'template t() {\n  image = "x:1"\n  secret key = hex(16)\n}\n'
    module = load_module(SourceFile("t.mora", text), Diagnostics())
    assert [s.name.text for s in find(module, (ast.SecretDecl,))] == ["key"]
