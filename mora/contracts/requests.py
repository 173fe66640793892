"""Two-way contracts: a consumer registers a record with the provider it was given (issue 15).

    template grafana(identity: optional(identity) = none) {
      if args.identity != none {
        request args.identity oidc_client { client_id = self.name  client_secret = ... }
      }
    }
    template authelia(...) {
      provides identity { ... }
      files { "/config/oidc.yml" = yaml({ clients: self.requests(oidc_client) }) }
    }

The provider's configuration needs every consumer's registration while each consumer needs the
provider's fields (its issuer URL): so a request body reads only what belongs to the consumer
(its own arguments, `self`, its secrets, params, the site), never the provider it registers with
(E0361). The provider's `self.requests(C)` evaluates the request bodies of the services that passed
it, one record per consumer in the order of their service names, with the contract's defaults
filled in. A request whose provider reads no `C` is E0362; a field unknown or missing is E0352,
as in `provides`. A request carrying a secret is a secret record: the provider's file that holds
it is a secret file, by the ordinary taint rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from mora import ast
from mora import types as T
from mora.contracts.check import (
    E_MAYBE_NONE,
    E_UNKNOWN_CONTRACT,
    ContractSym,
    _nodes,
    check_fields,
    contract_of,
    named_contract,
    narrowed,
)
from mora.diagnostics import Label, did_you_mean

if TYPE_CHECKING:
    from mora.check import Checker
    from mora.check.context import _Ctx
    from mora.eval import Evaluator

E_REQUEST_PLACE = "E0360"
E_REQUEST_READS_PROVIDER = "E0361"
E_REQUEST_UNREAD = "E0362"
E_REQUESTS_CALL = "E0363"

READER = "self.requests"


# --- the checker ---------------------------------------------------------------------------------


def check_request(ck: Checker, entry: ast.Request, ctx: _Ctx) -> None:
    """`request args.X C { ... }`: X a contract-typed argument, C a contract, its fields typed."""
    tmpl = ctx.template
    parts = [p.text for p in entry.target.parts]
    target = parts[1] if len(parts) == 2 and parts[0] == "args" else None
    if tmpl is None or target is None or target not in tmpl.params:
        ck.diags.error(
            E_REQUEST_PLACE,
            f"`request {entry.target.dotted}` does not name a contract argument of a template",
            entry.target.span,
            "not a template argument",
            help="a request belongs in a template body and goes to one of its contract-typed "
            "arguments: `request args.identity oidc_client { ... }`"
            + (f"; this template's arguments: {', '.join(tmpl.params)}" if tmpl else ""),
        )
        _check_fields(ck, entry, ctx, None, None)
        return
    ptype = tmpl.params[target][0]
    if contract_of(ptype) is None:
        ck.diags.error(
            E_REQUEST_PLACE,
            f"`args.{target}` is not a contract-typed argument",
            entry.target.span,
            f"this is `{ptype.public()}`",
            labels=[Label(tmpl.params[target][1].type.span, "declared here")],
            help="a request goes to a provider: give the parameter a contract type "
            f"(`{target}: identity` or `{target}: optional(identity) = none`)",
        )
    elif ptype.kind == "optional" and not narrowed(ck, tmpl, target, entry.target.span):
        ck.diags.error(
            E_MAYBE_NONE,
            f"`args.{target}` may be `none`",
            entry.target.span,
            "a request to it needs a provider",
            help=f"put the request inside `if args.{target} != none {{ ... }}`",
        )
    ck.used.add(("arg", f"{tmpl.decl.name.text}.{target}"))
    contract = named_contract(ck, entry.contract)
    _check_fields(ck, entry, ctx, contract, target)


def _check_fields(
    ck: Checker, entry: ast.Request, ctx: _Ctx, contract: ContractSym | None, target: str | None
) -> None:
    def not_a_field(e: ast.Entry) -> None:
        ck.diags.error(
            E_REQUEST_PLACE,
            "a `request` block holds only `field = value` entries",
            e.span,
            "not a field",
            help="compute the value in the field's expression",
        )

    def each(e: ast.Attr) -> None:
        if target is not None:
            _reads_provider(ck, e.value, target)

    what = f"`request {contract.name}`" if contract is not None else ""
    check_fields(ck, entry.body, contract, ctx, what, entry.contract.span, not_a_field, each)


def _reads_provider(ck: Checker, expr: ast.Expr, target: str) -> None:
    """E0361: the body reads the provider the request goes to (its config needs this body)."""
    for node in _nodes(expr):
        if (
            isinstance(node, ast.Ref)
            and len(node.parts) >= 2
            and node.parts[0].text == "args"
            and node.parts[1].text == target
        ):
            ck.diags.error(
                E_REQUEST_READS_PROVIDER,
                f"a request to `args.{target}` reads `args.{target}`",
                node.span,
                "the provider's value",
                help="the provider's configuration is made from this request, so the request "
                "cannot depend on the provider: use the consumer's own values (its arguments, "
                "`self`, its secrets) here, and the provider's fields in the service body",
            )


def no_identity_help(ck: Checker, what: str, arg: ast.Arg) -> str | None:
    """The help for `identity: ...` given to a template without that parameter: what it can do."""
    if not what.startswith("template"):
        return None
    able = sorted(
        name
        for name, tmpl in ck.program.templates.items()
        if contract_of(tmpl.params.get("identity", (T.ANY, None))[0]) == "identity"
    )
    given = arg.value.span.text()
    note = _own_login(ck, what)
    if note is not None:  # the template's header says why (mora/contracts/login.py)
        method, _, reason = note.partition(":")
        said = f"its header says its login is `{method.strip()}`: {reason.strip().rstrip('.')}"
        return f"this template cannot use an identity: {said}. " + (
            f"Leave `identity` out. Templates that sign in through an identity: {', '.join(able)}"
            if able
            else "Leave `identity` out"
        )
    return (
        f"this template cannot use an identity: its app has no single sign-on settings mora "
        f"knows (no OpenID Connect client). Leave `identity` out; for an app with no login of its "
        f'own, put its route behind forward auth in the service: `routes {{ "SUBDOMAIN" = '
        f"route(auth: {given}) }}`"
        + (f". Templates that sign in through an identity: {', '.join(able)}" if able else "")
    )


def _own_login(ck: Checker, what: str) -> str | None:
    """The `# login:` note in the header of the module declaring the template `what` names."""
    from mora.contracts.login import login_note

    tmpl = ck.program.templates.get(what.partition("`")[2].rstrip("`"))
    return None if tmpl is None else login_note(tmpl.decl.span.file.text)


def misplaced(ck: Checker, entry: ast.Request) -> None:
    """`request` inside a block or a step: it belongs to a template body."""
    ck.diags.error(
        E_REQUEST_PLACE,
        "`request` belongs in a template body (or an `if` in it)",
        entry.target.span,
        "not allowed in this block",
        help="move it out of the block, next to `image`",
    )


def type_of_requests(ck: Checker, call: ast.Call, ctx: _Ctx) -> T.Type:
    """`self.requests(C)`: the records registered with this service, a list of C's fields."""
    arg = call.args[0].value if len(call.args) == 1 and call.args[0].name is None else None
    cname = arg.parts[0].text if isinstance(arg, ast.Ref) and len(arg.parts) == 1 else None
    if ctx.service is None and ctx.template is None:
        ck.diags.error(
            E_REQUESTS_CALL,
            "`self.requests(...)` is read in a service or template body",
            call.span,
            "no service here",
            help="a provider reads the requests registered with it in its own body",
        )
        return T.ANY
    if cname is None:
        ck.diags.error(
            E_REQUESTS_CALL,
            "`self.requests` takes one contract name",
            call.span,
            "like self.requests(oidc_client)",
            help="name the contract the consumers' `request` blocks use",
        )
        return T.ANY
    contract: ContractSym | None = ck.program.contracts.get(cname)
    if contract is None:
        ck.diags.error(
            E_UNKNOWN_CONTRACT,
            f"unknown contract `{cname}`",
            arg.span,  # type: ignore[union-attr]
            "no contract of this name",
            help=did_you_mean(cname, ck.program.contracts) or "declare it with `contract NAME`",
        )
        return T.ANY
    # The list itself is not tainted (`!= []` says only whether anyone registered); the secret
    # fields inside stay `Secret` values when evaluated, so a file holding them is a secret file.
    return T.list_of(T.map_of(T.ANY))


def _requests_in(body: ast.Body) -> Iterator[ast.Request]:
    """Every `request` of a body, in its `if` branches too."""
    for node in _nodes(body):
        if isinstance(node, ast.Request):
            yield node


def _reads(body: ast.Body, cname: str) -> bool:
    """Whether a provider's body reads `self.requests(cname)`."""
    for node in _nodes(body):
        if isinstance(node, ast.Call) and node.func.dotted == READER and node.args:
            arg = node.args[0].value
            if isinstance(arg, ast.Ref) and arg.dotted == cname:
                return True
    return False


def check_unread(ck: Checker) -> None:
    """E0362: an instance sends a request to a provider service that never reads it."""
    from mora.contracts.defaults import with_defaults

    for svc in ck.program.services.values():
        if svc.template is None or svc.decl.instance is None:
            continue
        requests = sorted(_requests_in(svc.template.decl.body), key=lambda r: r.span.start)
        if not requests:
            continue
        names = list(svc.template.params)
        args: dict[str, ast.Expr] = {}
        for i, a in enumerate(svc.decl.instance.args):
            args[a.name.text if a.name else names[i] if i < len(names) else ""] = a.value
        args = with_defaults(ck.program, svc, args)
        reported: set[tuple[str, str]] = set()
        for req in requests:
            key = (req.target.dotted, req.contract.text)
            if len(req.target.parts) != 2 or key in reported:
                continue
            reported.add(key)
            expr = args.get(req.target.parts[1].text)
            if not (isinstance(expr, ast.Ref) and len(expr.parts) == 1):
                continue
            provider = ck.program.services.get(expr.parts[0].text)
            if provider is None or _reads(provider.body, req.contract.text):
                continue
            ck.diags.error(
                E_REQUEST_UNREAD,
                f"`{provider.name}` reads no `{req.contract.text}` requests, so `{svc.name}`'s "
                "would be lost",
                expr.span,
                f"passed as `{req.target.parts[1].text}`",
                labels=[Label(req.contract.span, "the request")],
                help=f"pass a provider that reads `self.requests({req.contract.text})`, or "
                f"add that to `{provider.name}`'s configuration",
            )


# --- the evaluator -------------------------------------------------------------------------------


def requests_for(ev: Evaluator, provider: str, cname: str) -> list[object]:
    """The records registered with `provider` under `cname`, by consumer service name."""
    cache: dict[tuple[str, str], list[object]] = ev.__dict__.setdefault("_requests", {})
    if (provider, cname) in cache:
        return cache[(provider, cname)]
    busy: set[tuple[str, str]] = ev.__dict__.setdefault("_requests_busy", set())
    if (provider, cname) in busy:  # a request that (through other values) reads this list
        from mora.eval.scope import E_EVAL
        from mora.eval.values import _Abort

        ev.diags.error(
            E_EVAL,
            f"the `{cname}` requests sent to `{provider}` depend on themselves",
            ev.program.services[provider].decl.name.span,
            "read while they are being made",
            help="a request's fields may not depend on what its provider reads from requests",
        )
        raise _Abort
    busy.add((provider, cname))
    try:
        out = _collect(ev, provider, cname)
    finally:
        busy.discard((provider, cname))
    cache[(provider, cname)] = out
    return out


def _collect(ev: Evaluator, provider: str, cname: str) -> list[object]:
    from mora.eval.values import ServiceRef

    if "_requests_disabled" not in ev.__dict__:
        from mora.contracts.enabled import disabled_services

        ev.__dict__["_requests_disabled"] = disabled_services(ev)
    disabled: set[str] = ev.__dict__["_requests_disabled"]
    out: list[object] = []
    contract = ev.program.contracts[cname]
    for name in sorted(ev.program.services):
        svc = ev.program.services[name]
        if name in disabled or svc.template is None or name == provider:
            continue
        scope = ev._scope_for(svc)
        for req in _applying(ev, svc.template.decl.body, scope):
            if req.contract.text != cname or len(req.target.parts) != 2:
                continue
            target = ev._arg(scope, req.target.parts[1].text)
            if not (isinstance(target, ServiceRef) and target.name == provider):
                continue
            out.append(_record(ev, req, scope, contract))
    return out


def _applying(ev: Evaluator, body: ast.Body, scope: object) -> Iterator[ast.Request]:
    """The requests of a body whose `if` conditions hold for this site."""
    for entry in body.entries:
        if isinstance(entry, ast.Request):
            yield entry
        elif isinstance(entry, ast.IfEntry):
            yield from _applying(ev, ev._branch(entry, scope, None), scope)  # type: ignore[arg-type]


def _record(ev: Evaluator, req: ast.Request, scope: object, contract: ContractSym) -> dict:
    """One request's fields, the contract's defaults for the ones left out, in field order."""
    from mora.eval.scope import _Scope
    from mora.eval.values import Secret

    given = {e.key.text: e.value for e in req.body.entries if isinstance(e, ast.Attr)}
    record: dict[str, object] = {}
    for fname, (ftype, fdecl) in contract.fields.items():
        if fname in given:
            value = ev._eval(given[fname], scope)  # type: ignore[arg-type]
        elif fdecl.default is not None:
            value = ev._eval(fdecl.default, _Scope())
        else:
            continue  # an optional field nobody set
        if ftype.secret and isinstance(value, str):
            value = Secret(value, frozenset())
        record[fname] = value
    return record
