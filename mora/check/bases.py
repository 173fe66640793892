"""Templates built on another: `template sonarr = servarr(app: "sonarr", port: 8989)`.

The new template has the base's parameters and body; the arguments given (named, each one the
base takes) become its defaults, so an instance may still pass any of them. Each is resolved here
into an ordinary `TemplateDecl` before the declarations are collected: every later pass (checker,
evaluator, setup steps, editor) sees a template like any other, and the manifest records the new
template's name. A base may itself be built on another; a cycle is an error.
"""

from __future__ import annotations

from collections.abc import Iterable

from mora import ast
from mora.diagnostics import Diagnostics, Label, did_you_mean

E_BASE_UNKNOWN = "E0357"
E_BASE_ARGUMENT = "E0358"
E_BASE_CYCLE = "E0359"

_Decl = ast.TemplateDecl | ast.TemplateBase


def resolve(modules: Iterable[ast.Module], diags: Diagnostics) -> dict[int, ast.TemplateDecl]:
    """`id(TemplateBase)` -> the template it stands for; one that cannot be built is left out
    (and reported), so its instances are reported as of an unknown template only once here."""
    decls: dict[str, _Decl] = {}
    broken: set[str] = set()
    for module in modules:
        broken |= {name for kind, name in module.broken if kind == "template"}
        for d in module.decls:
            if isinstance(d, ast.TemplateDecl | ast.TemplateBase):
                decls.setdefault(d.name.text, d)  # a second one is E0201 (declarations)
    built: dict[str, ast.TemplateDecl | None] = {}
    cycles: set[frozenset[str]] = set()

    def build(d: ast.TemplateBase, chain: list[str]) -> ast.TemplateDecl | None:
        name = d.name.text
        if name in built and decls.get(name) is d:
            return built[name]
        out = _build(d, chain)
        if decls.get(name) is d:
            built[name] = out
        return out

    def _build(d: ast.TemplateBase, chain: list[str]) -> ast.TemplateDecl | None:
        bname = d.base.func.dotted
        base = decls.get(bname)
        if base is None:
            if bname not in broken:
                diags.error(
                    E_BASE_UNKNOWN,
                    f"unknown template `{bname}` to build `{d.name.text}` on",
                    d.base.func.span,
                    "no template of this name",
                    help=did_you_mean(bname, decls)
                    or "define it with `template NAME(...) { ... }` or import its module",
                )
            return None
        if isinstance(base, ast.TemplateBase):
            if bname in chain:
                loop = [*chain[chain.index(bname) :], bname]
                if frozenset(loop) not in cycles:
                    cycles.add(frozenset(loop))
                    diags.error(
                        E_BASE_CYCLE,
                        "templates built on each other: " + " -> ".join(loop),
                        d.base.func.span,
                        "closes the cycle",
                        help="build each template on one with a body of its own "
                        "(`template NAME(...) { ... }`)",
                    )
                return None
            resolved = build(base, [*chain, bname])
            if resolved is None:
                return None
        else:
            resolved = base
        params = {p.name.text: p for p in resolved.params}
        given: dict[str, ast.Arg] = {}
        ok = True
        for arg in d.base.args:
            if arg.name is None:
                diags.error(
                    E_BASE_ARGUMENT,
                    "the arguments a template is built with are named",
                    arg.span,
                    "no name",
                    help="write `NAME: value`; the base's parameters: " + ", ".join(params),
                )
                ok = False
            elif arg.name.text not in params:
                diags.error(
                    E_BASE_ARGUMENT,
                    f"template `{bname}` has no parameter `{arg.name.text}`",
                    arg.name.span,
                    "not a parameter of the base",
                    help=did_you_mean(arg.name.text, params)
                    or f"`{bname}` takes: " + ", ".join(params),
                )
                ok = False
            elif arg.name.text in given:
                diags.error(
                    E_BASE_ARGUMENT,
                    f"`{arg.name.text}` is given twice",
                    arg.name.span,
                    "given again here",
                    labels=[Label(given[arg.name.text].span, "first given here")],
                )
                ok = False
            else:
                given[arg.name.text] = arg
        if not ok:
            return None
        return ast.TemplateDecl(
            d.name,
            tuple(
                ast.TemplateParam(p.name, p.type, given[p.name.text].value, p.span)
                if p.name.text in given
                else p
                for p in resolved.params
            ),
            resolved.body,
            d.span,
        )

    out: dict[int, ast.TemplateDecl] = {}
    for module in modules:
        for d in module.decls:
            if isinstance(d, ast.TemplateBase):
                built_decl = build(d, [d.name.text])
                if built_decl is not None:
                    out[id(d)] = built_decl
    return out
