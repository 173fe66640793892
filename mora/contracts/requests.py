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

from mora import ast
from mora import types as T
from mora.contracts.check import (
    E_MAYBE_NONE,
    E_UNKNOWN_CONTRACT,
    ContractSym,
    check_fields,
    contract_of,
    find,
    named_contract,
    narrowed,
)
from mora.diagnostics import Label, did_you_mean

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
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
    for node in find(expr, (ast.Ref,)):
        if len(node.parts) >= 2 and node.parts[0].text == "args" and node.parts[1].text == target:
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
        f"knows (no OpenID Connect client, no LDAP bind user). Leave `identity` out; for an app with no login of its "
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
    yield from find(body, (ast.Request,))


def _reads(body: ast.Body, cname: str) -> bool:
    """Whether a provider's body reads `self.requests(cname)`."""
    return cname in _read_contracts(body)


def _read_contracts(body: ast.Body) -> set[str]:
    """The contracts whose requests a body reads (`self.requests(C)`)."""
    names: set[str] = set()
    for node in find(body, (ast.Call,)):
        if node.func.dotted == READER and node.args:
            arg = node.args[0].value
            if isinstance(arg, ast.Ref):
                names.add(arg.dotted)
    return names


def check_unread(ck: Checker) -> None:
    """E0362: an instance sends a request to a provider service that never reads it."""
    from mora.contracts.defaults import with_defaults

    # template body -> (the body, its requests in source order): the instances of a template
    # share its body, so it is walked once, not once per instance (docs/performance.md)
    by_body: dict[int, tuple[ast.Body, list[ast.Request]]] = {}
    readers: dict[tuple[str, str], str | None] = {}  # (provider, contract) -> `_reader`
    for svc in ck.program.services.values():
        if svc.template is None or svc.decl.instance is None:
            continue
        body = svc.template.decl.body
        seen = by_body.get(id(body))
        if seen is None:
            seen = by_body[id(body)] = (
                body,
                sorted(_requests_in(body), key=lambda r: r.span.start),
            )
        requests = seen[1]
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
            if provider is None:
                continue
            route = (provider.name, req.contract.text)
            if route not in readers:  # many instances send to one provider: walk it once
                readers[route] = _reader(ck, *route)
            if readers[route]:
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


def _instance_args(ck: Checker, svc: object) -> dict[str, ast.Expr]:
    """An instance's argument expressions by parameter name, the file's defaults included."""
    from mora.contracts.defaults import with_defaults

    names = list(svc.template.params)  # type: ignore[attr-defined]
    args: dict[str, ast.Expr] = {}
    for i, a in enumerate(svc.decl.instance.args):  # type: ignore[attr-defined]
        args[a.name.text if a.name else names[i] if i < len(names) else ""] = a.value
    return with_defaults(ck.program, svc, args)  # type: ignore[arg-type]


def _reader(ck: Checker, name: str, cname: str, seen: frozenset[str] = frozenset()) -> str | None:
    """The service that reads the `cname` requests sent to `name`: itself when its body reads
    them, else (a relay) the one its own contract arguments lead to: Authelia, given an app's
    `ldap_bind`, hands it to the directory it was given as `ldap`."""
    svc = ck.program.services.get(name)
    if svc is None or name in seen:
        return None
    if _reads(svc.body, cname):
        return name
    if svc.template is None or svc.decl.instance is None:
        return None
    args = _instance_args(ck, svc)
    for pname in sorted(svc.template.params):
        if contract_of(svc.template.params[pname][0]) is None:
            continue
        expr = args.get(pname)
        if isinstance(expr, ast.Ref) and len(expr.parts) == 1:
            found = _reader(ck, expr.parts[0].text, cname, seen | {name})
            if found is not None:
                return found
    return None


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
    sources: list[tuple[ast.Request, object]] = []
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
            if not (isinstance(target, ServiceRef) and _route(ev, target.name, cname) == provider):
                continue
            out.append(_record(ev, req, scope, contract))
            sources.append((req, scope))
    ev.__dict__.setdefault("_request_sources", {})[(provider, cname)] = sources
    return out


def _route(ev: Evaluator, name: str, cname: str, seen: frozenset[str] = frozenset()) -> str | None:
    """The service that reads the `cname` requests sent to `name` (see `_reader`): a provider
    that reads none passes them on along its own contract arguments."""
    from mora.eval.values import ServiceRef

    svc = ev.program.services.get(name)
    if svc is None or name in seen:
        return None
    if _reads(svc.body, cname):
        return name
    if svc.template is None:
        return None
    scope = ev._scope_for(svc)
    for pname in sorted(svc.template.params):
        if contract_of(svc.template.params[pname][0]) is None:
            continue
        value = ev._arg(scope, pname)
        if isinstance(value, ServiceRef):
            found = _route(ev, value.name, cname, seen | {name})
            if found is not None:
                return found
    return None


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


# --- a setup step repeated per request -----------------------------------------------------------
#
#   add_bind_user {
#     for_each = self.requests(ldap_bind)     # one step per record sent to this provider
#     stdin = "${each.value.password}\n"      # a field; a secret one stays a store reference
#   }
#
# The item's key (`each.key`, `STEP[KEY]` in the store) is the record's first field, which must
# be public text: a directory's user id, a client id.


def each_contract(ck: Checker, value: ast.Expr) -> ContractSym | None:
    """The contract of `for_each = self.requests(C)`; None for any other list."""
    if isinstance(value, ast.Call) and value.func.dotted == READER and len(value.args) == 1:
        arg = value.args[0].value
        if isinstance(arg, ast.Ref) and len(arg.parts) == 1:
            return ck.program.contracts.get(arg.dotted)
    return None


def check_each(ck: Checker, value: ast.Expr, ctx: _Ctx, code: str) -> bool:
    """`for_each = self.requests(C)`: True when `value` is such a list (checked here)."""
    if not (isinstance(value, ast.Call) and value.func.dotted == READER):
        return False
    ck.type_of(value, ctx)  # E0363 / E0350 for a malformed call
    contract = each_contract(ck, value)
    if contract is None:
        return True
    first = next(iter(contract.fields), None)
    ftype = contract.fields[first][0] if first is not None else None
    if ftype is None or ftype.secret or ftype.kind not in ("string", "hostname", "email"):
        ck.diags.error(
            code,
            f"`{contract.name}`'s first field is not public text, so it cannot name each item",
            value.span,
            "repeated per request",
            help="each item's key (shown in progress and the plan) is the record's first "
            f"field: declare `{contract.name}` with a `string` field first (a user or client id)",
        )
    return True


def each_field_error(
    ck: Checker, contract: ContractSym, ref: ast.Ref, code: str
) -> tuple[bool, bool]:
    """`each.value.FIELD` of a step repeated per request: (whether it was an error, whether
    the field is a secret)."""
    names = [p.text for p in ref.parts]
    if names[1:2] == ["key"] and len(names) == 2:
        return False, False
    if len(names) == 3 and names[1] == "value" and names[2] in contract.fields:
        return False, contract.fields[names[2]][0].secret
    bad = ref.parts[-1] if len(names) > 1 else ref.parts[0]
    ck.diags.error(
        code,
        f"`{ref.dotted}` is not a field of a `{contract.name}` request",
        bad.span,
        "each item is one request",
        help=did_you_mean(names[-1], contract.fields)
        or f"read a field: `each.value.FIELD`, one of {', '.join(contract.fields)}; "
        "`each.key` is the first",
    )
    return True, False


class RequestItem:
    """One record of `for_each = self.requests(C)`: where its fields were written."""

    def __init__(
        self, key: str, request: ast.Request, scope: object, contract: ContractSym
    ) -> None:
        self.key = key
        self.request = request
        self.scope = scope
        self.contract = contract

    def __str__(self) -> str:
        return self.key


def request_items(ev: Evaluator, provider: str, value: ast.Expr) -> list[tuple[str, object]]:
    """The items of `for_each = self.requests(C)`: (the record's first field, its request)."""
    from mora.eval.values import Secret

    cname = value.args[0].value.dotted  # type: ignore[attr-defined]  # checked: a name
    records = requests_for(ev, provider, cname)
    sources = ev.__dict__.get("_request_sources", {}).get((provider, cname), [])
    contract = ev.program.contracts[cname]
    first = next(iter(contract.fields))
    items: list[tuple[str, object]] = []
    for record, (req, scope) in zip(records, sources, strict=True):
        key = record.get(first, "")  # type: ignore[attr-defined]
        if isinstance(key, Secret):  # refused by the checker; never shown
            key = ""
        items.append((str(key), RequestItem(str(key), req, scope, contract)))
    return items


def each_field(step: object, item: RequestItem, names: list[str]) -> object:
    """`each.key` / `each.value.FIELD` of a step repeated per request, as a step expression:
    the field's expression, written in the consumer's scope, so `secret.x` is the consumer's
    secret by its store name (never its value); a default in the contract's scope."""
    from mora import model as M
    from mora.eval.scope import E_EVAL, _Scope
    from mora.eval.values import _Abort

    if names[1:] in ([], ["key"], ["value"]) or len(names) != 3:
        return M.StepExpr(lit=item.key)
    given = {e.key.text: e.value for e in item.request.body.entries if isinstance(e, ast.Attr)}
    ftype, fdecl = item.contract.fields[names[2]]
    if names[2] in given:
        expr, out = given[names[2]], step.sx(given[names[2]], item.scope)  # type: ignore[attr-defined]
    elif fdecl.default is not None:
        expr, out = fdecl.default, step.sx(fdecl.default, _Scope())  # type: ignore[attr-defined]
    else:
        return M.StepExpr(lit="")  # an optional field nobody set
    if ftype.secret and out.lit is not None:  # type: ignore[attr-defined]
        step.ev.diags.error(  # type: ignore[attr-defined]
            E_EVAL,
            f"`{names[2]}` of a `{item.contract.name}` request is a secret written out as "
            "text: a setup step sends only secrets from the store",
            expr.span,
            "plain text in a secret field",
            help=f"give `{names[2]}` a secret (`secret.NAME`)",
        )
        raise _Abort
    return out


def is_emptiness_test(expr: ast.Expr) -> bool:
    """`self.requests(C) == []` / `!= []`: whether anyone sent one, known when compiling (so a
    setup step's `when` may read it; the records themselves never go into a step this way)."""
    if not (isinstance(expr, ast.Binary) and expr.op in ("==", "!=")):
        return False
    sides = (expr.left, expr.right)
    return any(isinstance(a, ast.Call) and a.func.dotted == READER for a in sides) and any(
        isinstance(b, ast.ListExpr) and not b.items for b in sides
    )


def emptiness_calls(expr: ast.Expr) -> set[int]:
    """The ids of the `self.requests(C)` calls in `expr` that are only tested for emptiness."""
    found: set[int] = set()
    for node in find(expr, (ast.Binary,)):
        if is_emptiness_test(node):  # type: ignore[arg-type]
            found |= {id(a) for a in (node.left, node.right) if isinstance(a, ast.Call)}  # type: ignore[attr-defined]
    return found
