"""The evaluator's part of contracts: field values and the implied `depends_on`.

`args.db.password` is the provider's `provides` field evaluated where the provider is (its own
`self` and secrets), or the record literal's entry; a field left out takes the contract's default.
A secret field stays a secret even when a record gives it as plain text, so it is delivered as a
secret like every other (docs/security.md, taint).
"""

from __future__ import annotations

from mora import ast
from mora.contracts.check import contract_of, provided_by

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from mora.check.program import ServiceSym
    from mora.eval import Evaluator
    from mora.eval.scope import _Scope


def field_value(
    ev: Evaluator, scope: _Scope, value: object, names: list[str], ref: ast.Ref
) -> object:
    """`args.NAME.FIELD` where NAME is contract-typed (or `args.NAME` when optional)."""
    from mora.eval.scope import E_EVAL, _Scope
    from mora.eval.values import Secret, ServiceRef, _Abort

    svc = scope.service
    assert svc is not None and svc.template is not None
    ptype = svc.template.params[names[0]][0]
    if len(names) == 1:
        return value
    if value is None:  # the checker allows fields only where `!= none` holds: a bug if here
        ev.diags.error(E_EVAL, f"`args.{names[0]}` is none here", ref.span, "used here")
        raise _Abort
    cname = contract_of(ptype)
    assert cname is not None
    contract = ev.program.contracts[cname]
    ftype, fdecl = contract.fields[names[1]]
    raw: object = None
    found = False
    if isinstance(value, dict):
        found = names[1] in value
        raw = value.get(names[1])
    elif isinstance(value, ServiceRef):
        provider = ev.program.services[value.name]
        entry = provided_by(provider.body)[cname]
        for e in entry.body.entries:
            if isinstance(e, ast.Attr) and e.key.text == names[1]:
                raw = ev._eval(e.value, ev._scope_for(provider))
                found = True
    if not found:
        if fdecl.default is None:
            return None  # an optional field nobody set
        raw = ev._eval(fdecl.default, _Scope())
    if ftype.secret and isinstance(raw, str | int) and not isinstance(raw, bool):
        raw = Secret(str(raw), frozenset())  # plain text in a secret field: still a secret
    return raw


def field_source(
    ev: Evaluator, scope: _Scope, arg: str, name: str
) -> tuple[ast.Expr, _Scope, bool] | None:
    """Where `args.ARG.NAME` of a contract-typed argument is written, for a setup step that keeps
    secrets as references (mora/steps): the provider's `provides` entry with the provider's
    scope, the record literal's entry, or the contract's default; and whether it is secret.
    None when ARG is not contract-typed or the field has no value."""
    from mora.eval.scope import _Scope
    from mora.eval.values import ServiceRef

    svc = scope.service
    if svc is None or svc.template is None or arg not in svc.template.params:
        return None
    cname = contract_of(svc.template.params[arg][0])
    if cname is None:
        return None
    ftype, fdecl = ev.program.contracts[cname].fields[name]
    value = ev._arg(scope, arg)
    expr: ast.Expr | None = None
    where = _Scope()
    if isinstance(value, ServiceRef):
        provider = ev.program.services[value.name]
        entries = provided_by(provider.body)[cname].body.entries
        expr = next(
            (e.value for e in entries if isinstance(e, ast.Attr) and e.key.text == name), None
        )
        where = ev._scope_for(provider)
    elif isinstance(value, dict) and isinstance(scope.args.get(arg), ast.MapExpr):
        entries = scope.args[arg].entries  # type: ignore[attr-defined]
        expr = next((e.value for e in entries if e.key.text == name), None)
    if expr is None:
        expr = fdecl.default
    return None if expr is None else (expr, where, ftype.secret)


def implied_depends_on(ev: Evaluator, svc: ServiceSym, scope: _Scope) -> list[str]:
    """Providers passed to this instance's contract-typed arguments (ordered contracts only)."""
    from mora.eval.values import ServiceRef

    if svc.template is None:
        return []
    out: list[str] = []
    for pname, (ptype, _tp) in svc.template.params.items():
        cname = contract_of(ptype)
        if cname is None or not ev.program.contracts[cname].ordered:
            continue
        value = ev._arg(scope, pname)
        if isinstance(value, ServiceRef) and value.name != svc.name:
            out.append(value.name)
    return out
