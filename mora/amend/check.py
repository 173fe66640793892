"""Instance bodies and `amend` in the check pass: resolve, refuse what cannot be merged, check
each body with the service-body checker, and leave the merged body on the service.

Runs once, after every service body has been checked and before the graph, clash and unused
passes, so those (and the evaluator, the backends, the LSP) see one body per service: the merged
one. The amend's own nodes are in it, so diagnostics point at the amend's lines.

Order: a service's own body (a template's, or the `service x { }` written upstream), then its
instance body (`service x = t(...) { ... }`), then every `amend` of it in the order the project's
files are loaded. Two `amend`s setting one key (a value attribute, or one key of a block) are an
error naming both: which one wins would depend on file order. `depends_on` and `placement` union,
so any number of amends may add to them.
"""

from __future__ import annotations

from mora import ast
from mora.check.context import _Ctx
from mora.check.program import _BLOCK_ATTRS, ServiceSym, has_attr, static_keys
from mora.diagnostics import Label
from mora.source import Span

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from mora.check import Checker

E_AMEND_TARGET = "E0370"
E_AMEND_TWICE = "E0371"
E_AMEND_MERGE = "E0372"
W_AMEND_IMAGE = "W0373"


class _Amend:
    """One body to merge into a service: an instance body or an `amend`."""

    __slots__ = ("body", "instance", "svc")

    def __init__(self, svc: ServiceSym, body: ast.Body, instance: bool) -> None:
        self.svc = svc
        self.body = body
        self.instance = instance


def apply_amends(ck: Checker) -> None:
    """Check every instance body and `amend`, then give each amended service its merged body."""
    # Imported here: a project without instance bodies or `amend` (most) never merges, and
    # `mora check` pays for what it imports (docs/performance.md, twelfth round).
    from mora.amend.merge import Unmergeable, merge, restrict, without
    from mora.amend.target import Unresolved, resolve_target

    p = ck.program
    per_service: dict[str, list[_Amend]] = {}
    for module in ck.loaded.modules:
        for decl in module.decls:
            if isinstance(decl, ast.ServiceDecl) and decl.instance is not None and decl.body:
                svc = p.services.get(decl.name.text)
                if svc is not None and svc.decl is decl:  # not a duplicate (E0201 already)
                    per_service.setdefault(svc.name, []).insert(0, _Amend(svc, decl.body, True))
            elif isinstance(decl, ast.AmendDecl):
                try:
                    svc = resolve_target(p, decl.target)
                except Unresolved as why:
                    if why.reported:
                        continue
                    ck.diags.error(
                        E_AMEND_TARGET, why.what, decl.target.span, why.label, help=why.help
                    )
                    continue
                per_service.setdefault(svc.name, []).append(_Amend(svc, decl.body, False))
    for name, amends in per_service.items():
        svc = p.services[name]
        base = svc.body
        if svc.decl.instance is not None and svc.template is None:
            base = ast.Body((), svc.decl.span)  # unknown template (E0208): the body alone
        merged = base
        written: dict[str, Span] = {}  # key or block.key -> where an amend set it
        bodies: list[ast.Body] = []
        for am in amends:
            body = _without_declarations(ck, am.body)
            if not am.instance:
                _same_key_twice(ck, body, written, name)
            try:
                merged = merge(merged, body, _BLOCK_ATTRS)
            except Unmergeable as why:
                ck.diags.error(
                    E_AMEND_MERGE,
                    f"cannot add to `{why.key}` of `{name}`: it is computed by an expression",
                    _walk(restrict(body.entries, why.key))[0].key.span,
                    "added to here",
                    labels=[Label(why.base.value.span, "its keys are known only when evaluated")],
                    help="give the entries where that expression comes from (for a template: "
                    "the argument it reads)",
                )
                continue
            bodies.append(body)
        rest = without(merged.entries, "security")
        for body in bodies:
            # The merged service, but with only this body's own `security`: what it loosens
            # (the host's network too) needs a reason here, not one upstream gave for its own.
            own = [*rest, *restrict(body.entries, "security")]
            view = ServiceSym(svc.decl, ast.Body(tuple(own), merged.span), None)  # type: ignore[arg-type]
            ck._check_entries(body, _Ctx(service=view), {})
        for body in bodies:
            _image_note(ck, svc, base, body)
            if svc.template is not None:
                _ambiguous_locals(ck, svc, body)
        svc.body = merged
        _user_now_declared(ck, svc)


def _without_declarations(ck: Checker, body: ast.Body) -> ast.Body:
    """An amend body without `secret`, `input` and `provides` (each reported: they belong to the
    service's own body, where its template or author declares them)."""
    kept: list[ast.Entry] = []
    for e in body.entries:
        if isinstance(e, ast.SecretDecl | ast.InputDecl | ast.Provides):
            what = {ast.SecretDecl: "secret", ast.InputDecl: "input", ast.Provides: "provides"}[
                type(e)
            ]
            span = e.contract.span if isinstance(e, ast.Provides) else e.name.span
            ck.diags.error(
                E_AMEND_MERGE,
                f"`{what}` cannot be declared in an amend or instance body",
                span,
                "only attributes and blocks merge",
                help=f"declare it at the top of the file (`{what} NAME ...`) and use it here"
                if what != "provides"
                else "a service provides a contract in its own (or its template's) body",
            )
            continue
        kept.append(e)
    return ast.Body(tuple(kept), body.span)


def _paths(body: ast.Body) -> dict[str, Span]:
    """What an amend sets, as `key` (a value attribute, or a block written as an expression)
    and `block.key` (one item of a block), with the span of the key."""
    from mora.amend.merge import UNION, Unmergeable, hoist, keys_in_order, restrict

    out: dict[str, Span] = {}
    for key in keys_in_order(body.entries):
        if key in UNION:
            continue
        piece = restrict(body.entries, key)
        if key in _BLOCK_ATTRS:
            try:
                items = hoist(piece, key)
            except Unmergeable as why:
                out.setdefault(key, why.base.key.span)
                continue
            for item in _walk(items):
                out.setdefault(f"{key}.{item.key.text}", item.key.span)
        else:
            first = next(iter(_walk(piece)))
            out.setdefault(key, first.key.span)
    return out


def _walk(entries: list) -> list[ast.Attr | ast.Block]:  # type: ignore[type-arg]
    out: list[ast.Attr | ast.Block] = []
    for e in entries:
        if isinstance(e, ast.Attr | ast.Block):
            out.append(e)
        elif isinstance(e, ast.IfEntry):
            out += _walk(list(e.then.entries))
            if isinstance(e.otherwise, ast.Body):
                out += _walk(list(e.otherwise.entries))
            elif isinstance(e.otherwise, ast.IfEntry):
                out += _walk([e.otherwise])
    return out


def _same_key_twice(ck: Checker, body: ast.Body, written: dict[str, Span], name: str) -> None:
    """Two amends of one service setting one key: which wins would depend on file order."""
    for path, span in _paths(body).items():
        block = path.split(".", 1)[0]
        first = written.get(path) or (written.get(block) if "." in path else None)
        if first is None and "." not in path:  # a whole block after items of it
            first = next((s for p, s in written.items() if p.startswith(path + ".")), None)
        if first is not None:
            ck.diags.error(
                E_AMEND_TWICE,
                f"`{path}` of `{name}` is amended twice",
                span,
                "set again here",
                labels=[Label(first, "first amended here")],
                help="keep one of them: two amends of one key would depend on the order of "
                "the files",
            )
        else:
            written[path] = span


def _user_now_declared(ck: Checker, svc: ServiceSym) -> None:
    """An amend that says which user the image runs as answers the note (W0005) the service's
    own body got (a template's note is about every instance: it stays)."""
    declared = {k.text for k in static_keys(svc.body, "security")}
    if has_attr(svc.body, "user") or declared & {"run_as_user", "run_as_root", "privileged"}:
        span = svc.decl.name.span
        ck._unknown_users = [(w, s) for w, s in ck._unknown_users if s != span]


def _refs(node: object) -> list[ast.Ref]:
    """Every reference in a subtree (interpolations included)."""
    if isinstance(node, ast.Ref):
        return [node]
    if isinstance(node, ast.Node):
        return [r for f in node._fields for r in _refs(getattr(node, f))]
    if isinstance(node, tuple):
        return [r for x in node for r in _refs(x)]
    return []


def _ambiguous_locals(ck: Checker, svc: ServiceSym, body: ast.Body) -> None:
    """`secret.x` in an amend is the project's `x`; the template's own `x` is `secret.<svc>_x`.
    When both exist the evaluator (inside the instance) would pick the template's: refused."""
    assert svc.template is not None
    for ref in _refs(body):
        if len(ref.parts) < 2 or ref.parts[0].text not in ("secret", "input"):
            continue
        kind, name = ref.parts[0].text, ref.parts[1].text
        local = getattr(svc.template, kind + "s")
        table = ck.program.secrets if kind == "secret" else ck.program.inputs
        if name in local and name in table:
            ck.diags.error(
                E_AMEND_MERGE,
                f"`{kind}.{name}` is ambiguous in an amend of `{svc.name}`",
                ref.span,
                f"the project's `{name}` or the template's own",
                help=f"write `{kind}.{svc.name}_{name}` for the one template "
                f"`{svc.template.decl.name.text}` makes for this service, or rename the "
                f"project's `{name}`",
            )


def _image_of(base: ast.Body, svc: ServiceSym) -> str | None:
    """The image the base was written for: a literal, or a template argument's literal default."""
    for e in _walk(list(base.entries)):
        if isinstance(e, ast.Attr) and e.key.text == "image":
            v = e.value
            if isinstance(v, ast.Ref) and v.parts[0].text == "args" and svc.template is not None:
                param = svc.template.params.get(v.parts[-1].text)
                v = param[1].default if param is not None else None  # type: ignore[assignment]
            if isinstance(v, ast.StringLit) and v.is_plain:
                return v.plain
    return None


def _image_note(ck: Checker, svc: ServiceSym, base: ast.Body, body: ast.Body) -> None:
    """A replaced image: the template (or upstream body) was written and tested for another tag."""
    written = _image_of(base, svc)
    for e in _walk(list(body.entries)):
        if not (isinstance(e, ast.Attr) and e.key.text == "image") or written is None:
            continue
        new = e.value.plain if isinstance(e.value, ast.StringLit) and e.value.is_plain else None
        if new == written:
            continue
        who = f"template `{svc.template.decl.name.text}`" if svc.template else f"`{svc.name}`"
        ck.diags.note(
            W_AMEND_IMAGE,
            f"{who} was written for `{written}`",
            e.value.span,
            "the amend replaces it",
            help="its settings (environment, paths, setup steps) fit that image; check them "
            "against the new one's release notes",
        )
