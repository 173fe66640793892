"""The checker's part of contracts and optional values.

Called from `mora.checker.Checker` (each hook is a line or two there): contracts are collected
before templates (a parameter's type may name one), `provides` blocks and contract-typed
arguments are checked against the contract's fields, `args.db.password` gets its field's type
(secret stays secret), `optional(T)` values are only used as `T` inside `if args.x != none`, and
a provider passed to an argument is a dependency unless the contract is `unordered`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import attrgetter

from mora import ast
from mora import types as T
from mora.check.walk import find
from mora.diagnostics import Label, closest, did_you_mean
from mora.record import Record, field
from mora.source import Span

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from typing import Any

    from mora.check import Checker
    from mora.check.program import ServiceSym, TemplateSym

E_UNKNOWN_CONTRACT = "E0350"
E_NOT_PROVIDED = "E0351"
E_FIELDS = "E0352"
E_PROVIDES_PLACE = "E0353"
E_MAYBE_NONE = "E0354"

NONE = T.Type("none")


class ContractSym(Record):
    decl: ast.ContractDecl
    fields: dict[str, tuple[T.Type, ast.ContractField]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.decl.name.text

    @property
    def ordered(self) -> bool:
        return not self.decl.unordered


# --- types ---------------------------------------------------------------------------------------


def contract_of(t: T.Type) -> str | None:
    """The contract a (possibly optional) type requires, or None."""
    if t.kind == "optional" and t.args:
        t = t.args[0]
    return t.values[0] if t.kind == "contract" and t.values else None


def collect(ck: Checker) -> None:
    """Every `contract` of the project and its imports, before templates use them as types."""
    contracts: dict[str, ContractSym] = ck.program.contracts
    for module in ck.loaded.modules:
        for decl in module.decls:
            if not isinstance(decl, ast.ContractDecl):
                continue
            first = contracts.get(decl.name.text)
            if first is not None:
                ck.diags.error(
                    "E0201",
                    f"contract `{decl.name.text}` is defined more than once",
                    decl.name.span,
                    "defined again here",
                    labels=[Label(first.decl.name.span, "first defined here")],
                    help="rename one of them",
                )
                continue
            contracts[decl.name.text] = ContractSym(decl)
    for sym in contracts.values():  # field types may name no contract: records stay flat
        for f in sym.decl.fields:
            if f.name.text in sym.fields:
                ck.diags.error(
                    "E0201",
                    f"field `{f.name.text}` is declared twice",
                    f.name.span,
                    "declared again here",
                    labels=[Label(sym.fields[f.name.text][1].name.span, "first here")],
                )
                continue
            ftype = ck._param_type(f.type, template=True)
            if contract_of(ftype) is not None or ftype.kind == "service":
                ck.diags.error(
                    "E0209",
                    "a contract field cannot be a service or another contract",
                    f.type.span,
                    "not a value type",
                    help="give the field the values it needs (a host, a port, a URL...)",
                )
                ftype = T.ANY
            sym.fields[f.name.text] = (ftype, f)


def check_defaults(ck: Checker) -> None:
    """A field's default against the field's type (plain: a default is never a secret)."""
    from mora.check.context import _Ctx

    for sym in ck.program.contracts.values():
        for ftype, f in sym.fields.values():
            if f.default is not None:
                ck.expect(
                    f.default, ftype, _Ctx(), f"the default of `{f.name.text}`", secret_ok=False
                )


def type_of_name(ck: Checker, texpr: ast.TypeExpr) -> T.Type | None:
    """`optional(T)` or a contract's name as a template parameter's type; None for the others."""
    name = texpr.name.text
    if name == "optional":
        if len(texpr.args) != 1 or not isinstance(texpr.args[0], ast.TypeExpr):
            ck.diags.error(
                "E0209", "`optional` takes one type", texpr.span, "like optional(string)"
            )
            return T.ANY
        inner = ck._param_type(texpr.args[0], template=True)
        if inner.kind in ("optional", "any"):
            return inner
        return T.Type("optional", (inner,))
    if name in ck.program.contracts:
        if texpr.args:
            ck.diags.error(
                "E0209", f"`{name}` takes no arguments", texpr.span, "remove the brackets"
            )
        return T.Type("contract", values=(name,))
    guess = closest(name, ck.program.contracts)
    if guess is not None:  # a misspelt contract: say so, not just the built-in types
        ck.diags.error(
            "E0209",
            f"unknown type `{name}`",
            texpr.name.span,
            "not a type",
            help=f"did you mean `{guess}`? (a contract)",
        )
        return T.ANY
    return None


# --- provides ------------------------------------------------------------------------------------


def provided_by(body: ast.Body) -> dict[str, ast.Provides]:
    """The contracts a service body provides (top-level `provides` entries), by name."""
    out: dict[str, ast.Provides] = {}
    for entry in body.entries:
        if isinstance(entry, ast.Provides):
            out.setdefault(entry.contract.text, entry)
    return out


def check_provides(
    ck: Checker, entry: ast.Provides, ctx: object, seen: dict[str, Span], in_if: bool
) -> None:
    """A `provides` block: a known contract, each field once and of its type, none missing."""
    cname = entry.contract.text
    if in_if:
        ck.diags.error(
            E_PROVIDES_PLACE,
            "`provides` cannot be inside `if`",
            entry.contract.span,
            "provided conditionally",
            help="a service provides a contract or not: put `provides` in the body itself",
        )
        return
    key = f"provides:{cname}"
    if key in seen:
        ck.diags.error(
            "E0201",
            f"`provides {cname}` appears twice",
            entry.contract.span,
            "again here",
            labels=[Label(seen[key], "first here")],
        )
    seen[key] = entry.contract.span
    contract = named_contract(ck, entry.contract)

    def not_a_field(e: object) -> None:
        span = e.contract.span if isinstance(e, ast.Provides) else _entry_span(e)
        ck.diags.error(
            E_PROVIDES_PLACE,
            "a `provides` block holds only `field = value` entries",
            span,
            "not a field",
            help="compute the value in the field's expression",
        )

    check_fields(
        ck, entry.body, contract, ctx, f"`provides {cname}`", entry.contract.span, not_a_field
    )


def named_contract(ck: Checker, name: ast.Name) -> ContractSym | None:
    """The contract `name` names (`provides NAME`, `request ... NAME`), or E0350 with the fix."""
    contract: ContractSym | None = ck.program.contracts.get(name.text)
    if contract is None:
        ck.diags.error(
            E_UNKNOWN_CONTRACT,
            f"unknown contract `{name.text}`",
            name.span,
            "no contract of this name",
            help=did_you_mean(name.text, ck.program.contracts)
            or "declare it with `contract NAME { field: type ... }`, or `import contracts` "
            "for the standard ones",
        )
    return contract


def check_fields(
    ck: Checker,
    body: ast.Body,
    contract: ContractSym | None,
    ctx: object,
    what: str,
    anchor: Span,
    not_a_field: Callable[[Any], None],
    each: Callable[[ast.Attr], None] | None = None,
) -> None:
    """The `field = value` entries of a record body (`provides`, `request`) against its
    contract: each field set once, known to the contract and of its type, none required left
    out (`what` names the body in the message, `anchor` is where that is reported)."""
    given: dict[str, Span] = {}
    for e in body.entries:
        if not isinstance(e, ast.Attr):
            not_a_field(e)
            continue
        if each is not None:
            each(e)
        fname = e.key.text
        if fname in given:
            ck.diags.error(
                "E0201",
                f"field `{fname}` is set twice",
                e.key.span,
                "set again here",
                labels=[Label(given[fname], "first set here")],
            )
            continue
        given[fname] = e.key.span
        if contract is None or fname not in contract.fields:
            if contract is not None:
                _unknown_field(ck, fname, e.key.span, contract)
            ck.type_of(e.value, ctx)  # type: ignore[arg-type]
            continue
        ftype, fdecl = contract.fields[fname]
        ck.expect(
            e.value,
            ftype,
            ctx,  # type: ignore[arg-type]
            f"field `{fname}` of `{contract.name}`",
            secret_ok=_holds_secret(ftype),
            declared=fdecl.type.span,
        )
    if contract is not None:
        _missing(ck, contract, given, anchor, what)


def misplaced(ck: Checker, entry: ast.Provides) -> None:
    """`provides` inside a block (environment, setup...): it belongs to the service body."""
    ck.diags.error(
        E_PROVIDES_PLACE,
        "`provides` belongs in a service or template body",
        entry.contract.span,
        "not allowed in this block",
        help="move it out of the block, next to `image`",
    )


# --- arguments -----------------------------------------------------------------------------------


def expect_arg(
    ck: Checker, expr: ast.Expr, ptype: T.Type, what: str, declared: Span | None
) -> None:
    """A value for a contract-typed parameter: a provider service, a record, or `none`."""
    cname = contract_of(ptype)
    assert cname is not None
    contract: ContractSym = ck.program.contracts[cname]
    labels = [Label(declared, "required because of this")] if declared else []
    if isinstance(expr, ast.NoneLit):
        if ptype.kind != "optional":
            ck.diags.error(
                "E0301",
                f"type mismatch: expected `{cname}`, found `none`",
                expr.span,
                f"{what} is not optional",
                labels=labels,
                help=_how_to_provide(ck, cname),
            )
        return
    services = ck.program.services
    if isinstance(expr, ast.MapExpr):
        _check_record(ck, expr, contract)
        return
    if isinstance(expr, ast.StringLit) and expr.is_plain and expr.plain in services:
        ck.diags.error(
            "E0301",
            f'type mismatch: expected `{cname}`, found the string "{expr.plain}"',
            expr.span,
            "this is `string`",
            help=f"refer to the service by name, without quotes: `{expr.plain}`",
        )
        return
    if isinstance(expr, ast.Ref) and len(expr.parts) == 1 and expr.parts[0].text in services:
        name = expr.parts[0].text
        svc = services[name]
        if cname in provided_by(svc.body):
            return
        ck.diags.error(
            E_NOT_PROVIDED,
            f"service `{name}` does not provide `{cname}`",
            expr.span,
            f"passed as {what}",
            labels=labels,
            help=_how_to_provide(ck, cname, name),
        )
        return
    from mora.check.context import _Ctx

    t = ck.type_of(expr, _Ctx())
    if ptype.kind == "optional" and t.kind == "optional" and contract_of(t) == cname:
        return  # an optional provider passed on (a module's `param identity: optional(identity)`)
    if t.kind != "any":
        ck.diags.error(
            "E0301",
            f"type mismatch: expected `{cname}`, found `{t.public()}`",
            expr.span,
            f"this is `{t.public()}`",
            labels=labels,
            help=_how_to_provide(ck, cname),
        )


def _how_to_provide(ck: Checker, cname: str, wrong: str | None = None) -> str:
    """The fix: the services that provide the contract (the likeliest first), or how to get one."""
    providers = [n for n, s in ck.program.services.items() if cname in provided_by(s.body)]
    if providers:
        guess = closest(wrong, providers) if wrong else None
        listing = ", ".join(f"`{p}`" for p in providers)
        head = f"did you mean `{guess}`? " if guess else ""
        return f"{head}services that provide `{cname}`: {listing}"
    contract = ck.program.contracts[cname]
    fields = ", ".join(f"{n}: ..." for n, (_t, f) in contract.fields.items() if f.default is None)
    return (
        f"no service of this project provides `{cname}`: add `provides {cname} {{ ... }}` to "
        f"one, or pass a record for one outside the project: {{ {fields} }}"
    )


def _check_record(ck: Checker, expr: ast.MapExpr, contract: ContractSym) -> None:
    from mora.check.context import _Ctx

    given: dict[str, Span] = {}
    for e in expr.entries:
        fname = e.key.text
        if fname in given:
            ck.diags.error(
                "E0201",
                f"key `{fname}` appears twice",
                e.key.span,
                "again here",
                labels=[Label(given[fname], "first here")],
            )
            continue
        given[fname] = e.key.span
        if fname not in contract.fields:
            _unknown_field(ck, fname, e.key.span, contract)
            ck.type_of(e.value, _Ctx())
            continue
        ftype, fdecl = contract.fields[fname]
        ck.expect(
            e.value,
            ftype,
            _Ctx(),
            f"field `{fname}` of `{contract.name}`",
            secret_ok=_holds_secret(ftype),
            declared=fdecl.type.span,
        )
    _missing(ck, contract, given, expr.span, "the record")


def _unknown_field(ck: Checker, fname: str, span: Span, contract: ContractSym) -> None:
    ck.diags.error(
        E_FIELDS,
        f"contract `{contract.name}` has no field `{fname}`",
        span,
        "unknown field",
        help=did_you_mean(fname, contract.fields)
        or f"its fields: {', '.join(contract.fields) or 'none'}",
    )


def _missing(
    ck: Checker, contract: ContractSym, given: dict[str, Span], span: Span, what: str
) -> None:
    missing = [
        n
        for n, (t, f) in contract.fields.items()
        if n not in given and f.default is None and t.kind != "optional"
    ]
    if missing:
        ck.diags.error(
            E_FIELDS,
            f"{what} is missing "
            + ", ".join(f"`{m}`" for m in missing)
            + f" of contract `{contract.name}`",
            span,
            "field" + ("s" if len(missing) > 1 else "") + " missing",
            labels=[Label(contract.decl.name.span, "the contract")],
            help="set " + ", ".join(f"`{m} = ...`" for m in missing),
        )


# --- references ----------------------------------------------------------------------------------


def arg_type(
    ck: Checker, ref: ast.Ref, rest: tuple[ast.Name, ...], ptype: T.Type, template: TemplateSym
) -> T.Type:
    """`args.x` or `args.x.field` for an optional or contract-typed parameter."""
    name = rest[0].text
    t = ptype
    if t.kind == "optional":
        if not narrowed(ck, template, name, ref.span):
            if len(rest) == 1:
                return t.tainted(_holds_secret(t))  # fine to compare with `none`, pass on...
            ck.diags.error(
                E_MAYBE_NONE,
                f"`args.{name}` may be `none`",
                ref.span,
                "used as if it were set",
                help=f"use it inside `if args.{name} != none {{ ... }}` (or `x if args.{name} "
                "!= none` in a list)",
            )
            return T.ANY
        t = t.args[0]
    if len(rest) == 1:
        return t.tainted(_holds_secret(t))
    if t.kind == "service":  # optional(service), narrowed: a service's fields
        return ck._any_service_field(ref, rest[1:])
    cname = contract_of(t)
    if cname is None:
        return ck._no_more(ref, 2, t)
    contract: ContractSym = ck.program.contracts[cname]
    f = rest[1]
    if f.text not in contract.fields:
        ck.diags.error(
            "E0210",
            f"contract `{cname}` has no field `{f.text}`",
            f.span,
            "unknown field",
            help=did_you_mean(f.text, contract.fields)
            or f"its fields: {', '.join(contract.fields) or 'none'}",
        )
        return T.ANY
    ftype = contract.fields[f.text][0]
    return ck._no_more(ref, 3, ftype.tainted(_holds_secret(ftype)))


def narrowed(ck: Checker, template: TemplateSym, name: str, span: Span) -> bool:
    """Whether `span` sits where `args.name != none` is known to hold (an `if` branch or a
    list item's condition), so the optional value may be used as its inner type."""
    cache: dict[int, dict[str, list[tuple[int, int]]]] = ck.__dict__.setdefault("_narrowing", {})
    key = id(template.decl)
    if key not in cache:
        cache[key] = _narrow_ranges(template.decl)
    return any(lo <= span.start and span.end <= hi for lo, hi in cache[key].get(name, ()))


def _narrow_ranges(root: ast.Node, head: str = "args") -> dict[str, list[tuple[int, int]]]:
    ranges: dict[str, list[tuple[int, int]]] = {}

    def add(names: set[str], node: ast.Node | None) -> None:
        if node is None:
            return
        span: Span = node.span  # type: ignore[attr-defined]
        for n in names:
            ranges.setdefault(n, []).append((span.start, span.end))

    for node in find(root, _NARROWING):
        if isinstance(node, ast.IfEntry):
            add(_set_when(node.condition, True, head), node.then)
            add(_set_when(node.condition, False, head), node.otherwise)
        elif isinstance(node, ast.ListItem):
            if node.condition is not None:
                add(_set_when(node.condition, True, head), node.value)
        elif node.key.text == "setup":  # a step runs when its `when` holds (mora/steps):
            for step in node.body.entries:  # narrowed inside it
                when = _step_when(step)
                if when is not None:
                    add(_set_when(when, True, head), step)
    return ranges


_NARROWING = (ast.IfEntry, ast.ListItem, ast.Block)


def _step_when(step: object) -> ast.Expr | None:
    if not isinstance(step, ast.Block):
        return None
    return next(
        (e.value for e in step.body.entries if isinstance(e, ast.Attr) and e.key.text == "when"),
        None,
    )


def _set_when(cond: ast.Expr, outcome: bool, head: str = "args") -> set[str]:
    """The `args.NAME` (`param.NAME`) known not to be `none` when `cond` evaluates to `outcome`."""
    if isinstance(cond, ast.Binary):
        if cond.op == ("&&" if outcome else "||"):
            return _set_when(cond.left, outcome, head) | _set_when(cond.right, outcome, head)
        if cond.op == ("!=" if outcome else "=="):
            for a, b in ((cond.left, cond.right), (cond.right, cond.left)):
                if (
                    isinstance(b, ast.NoneLit)
                    and isinstance(a, ast.Ref)
                    and len(a.parts) == 2
                    and a.parts[0].text == head
                ):
                    return {a.parts[1].text}
    if isinstance(cond, ast.Unary):
        return _set_when(cond.operand, not outcome, head)
    return set()


def _nodes(node: object) -> Iterator[ast.Node]:
    """Every node under `node` (itself first), depth first from its last field."""
    stack = [node]
    pop, extend, children = stack.pop, stack.extend, _CHILDREN
    while stack:
        item = pop()
        if isinstance(item, tuple):
            extend(item)
        elif isinstance(item, ast.Node):
            yield item
            get = children.get(type(item))
            if get is None:
                get = children[type(item)] = _children_getter(type(item))
            extend(get(item))


# A node class's non-span fields as one tuple, read by one C call per node: building the list
# with a generator per node was most of the walks' cost (a sixth of a warm `mora check` of
# projects/media with the narrowing walks; docs/performance.md, eighth round).
_CHILDREN: dict[type, Callable[[ast.Node], tuple[object, ...]]] = {}


def _children_getter(cls: type[ast.Node]) -> Callable[[ast.Node], tuple[object, ...]]:
    names = [f for f in cls._fields if f != "span"]
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda item: (one(item),)
    return lambda item: ()


# --- the graph -----------------------------------------------------------------------------------


def implied_deps(ck: Checker, svc: ServiceSym, args: dict[str, ast.Expr]) -> list[tuple[str, Span]]:
    """Providers passed to contract-typed arguments: the service waits for them (unless the
    contract is `unordered`)."""
    if svc.template is None:
        return []
    out: list[tuple[str, Span]] = []
    for pname, (ptype, _tp) in svc.template.params.items():
        cname = contract_of(ptype)
        contract = ck.program.contracts.get(cname) if cname else None
        if contract is None or not contract.ordered:
            continue
        expr = args.get(pname)
        if isinstance(expr, ast.Ref) and len(expr.parts) == 1:
            if expr.parts[0].text in ck.program.services:
                out.append((expr.parts[0].text, expr.span))
    return out


def _holds_secret(t: T.Type) -> bool:
    return t.secret or any(_holds_secret(a) for a in t.args)


def _entry_span(e: object) -> Span:
    if isinstance(e, ast.Block | ast.Attr):
        return e.key.span
    if isinstance(e, ast.InputDecl | ast.SecretDecl | ast.ServiceDecl):
        return e.name.span
    return e.span  # type: ignore[attr-defined]
