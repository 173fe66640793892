"""Optional site params: `param relay: optional(string) = none`.

A site may leave such a param out (or give YAML `null`) instead of a `""` sentinel. The value is
a `T` only where `param.NAME != none` is known to hold: the `then` branch of
`if param.NAME != none` (the `else` of `== none`, and a list item's condition), as for an
`optional` template argument (mora/contracts/check.py).
"""

from __future__ import annotations

from mora import ast
from mora import types as T
from mora.source import Span

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from mora.check import Checker


def param_decl_type(ck: Checker, texpr: ast.TypeExpr) -> T.Type:
    """A site param's declared type: the param types, and `optional(T)` of one of them."""
    if texpr.name.text != "optional":
        return ck._param_type(texpr)
    if len(texpr.args) != 1 or not isinstance(texpr.args[0], ast.TypeExpr):
        ck.diags.error("E0209", "`optional` takes one type", texpr.span, "like optional(string)")
        return T.ANY
    arg = texpr.args[0]
    if arg.name.text in ck.program.contracts and not arg.args:
        # a module's optional provider (`param identity: optional(identity)`): the importing
        # file gives it (argument or `defaults`); on its own it is none, a site cannot give one
        return T.Type("optional", (T.Type("contract", values=(arg.name.text,)),))
    inner = ck._param_type(arg)
    if inner.kind == "any":
        return inner
    return T.Type("optional", (inner,))


def param_ref_type(ck: Checker, ref: ast.Ref, ptype: T.Type) -> T.Type:
    """`param.NAME` of an optional param: its inner type where it is known to be set, else the
    optional type (fit to compare with `none` or to pass on as an optional value)."""
    name = ref.parts[1].text
    t = ptype.args[0] if _narrowed(ck, name, ref.span) else ptype
    return ck._no_more(ref, 2, t)


def _narrowed(ck: Checker, name: str, span: Span) -> bool:
    """Whether an `if param.NAME != none` (or a list item's, a step's `when`) holds at `span`.

    Only the service or template body holding `span` is walked, once per check: walking every
    body of the program on the first `param.x` was a sixth of a warm `mora check` of the media
    project (docs/performance.md, eighth round)."""
    from mora.contracts.check import _narrow_ranges

    cache: dict[int, dict[str, list[tuple[int, int]]]]
    cache = ck.__dict__.setdefault("_param_narrowing", {})
    roots = [s.decl for s in ck.program.services.values()]
    roots += [t.decl for t in ck.program.templates.values()]
    for root in roots:
        where: Span = root.span
        if where.file is not span.file or not (where.start <= span.start <= where.end):
            continue
        key = id(root)
        if key not in cache:
            cache[key] = _narrow_ranges(root, head="param")
        if any(lo <= span.start and span.end <= hi for lo, hi in cache[key].get(name, ())):
            return True
    return False
