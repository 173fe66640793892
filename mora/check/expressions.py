"""Types of expressions: references, service fields, interpolation, operators, `expect`.

`type_of` is the one question every other pass asks; the pure helpers at the bottom (`_walk`,
`_unify`, `_literal_value`, ...) are shared by the sibling modules.
"""

from __future__ import annotations

import re

from mora import ast
from mora import types as T
from mora.check.context import (
    CheckState,
    _Ctx,
)
from mora.check.program import (
    E_BAD_REF,
    E_DUPLICATE,
    E_LITERAL,
    E_PORT,
    E_TYPE,
    E_UNKNOWN_INPUT,
    E_UNKNOWN_NAME,
    E_UNKNOWN_PARAM,
    E_UNKNOWN_SECRET,
    E_UNKNOWN_SERVICE,
    E_VALUE,
    SERVICE_FIELDS,
    Program,
    has_attr,
    static_keys,
)
from mora.diagnostics import Label, did_you_mean
from mora.source import Span

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any


def _interpolated_type(expr: ast.StringLit, first: T.Type | None) -> T.Type:
    """`"${param.root}/movies"` is a path and `"https://${x.host}/api"` a URL: an interpolated
    string keeps the kind its beginning gives it (a plain string is checked as a literal)."""
    if expr.is_plain:
        return T.STRING
    head = expr.parts[0]
    if isinstance(head, str):
        if head.startswith("/"):
            return T.PATH
        if re.match(r"[a-z][a-z0-9+.-]*://", head):
            return T.URL
        return T.STRING
    if first is not None and first.kind in ("path", "url"):
        return T.Type(first.kind)
    return T.STRING


def _holds_secret(t: T.Type) -> bool:
    """`secret`, `list(secret)`, `map(secret)`...: a parameter declared to carry secrets."""
    return t.secret or any(_holds_secret(a) for a in t.args)


def _kind_hint(name: str, p: Program) -> str | None:
    """`timezone` where `param.timezone` was meant: say which kind of thing it is."""
    for kind, table in (("param", p.params), ("secret", p.secrets), ("input", p.inputs)):
        if name in table:
            return f"`{name}` is a {kind}: write `{kind}.{name}`"
    return None


def _maybe_none_help(expr: ast.Expr, found: T.Type) -> str | None:
    """How to use an optional value (`param.x`, `args.x`) as the value it holds."""
    if found.kind != "optional" or not isinstance(expr, ast.Ref) or len(expr.parts) != 2:
        return None
    ref = ".".join(p.text for p in expr.parts)
    return f"it may be `none`: use it inside `if {ref} != none {{ ... }}`"


def _walk(expr: ast.Expr) -> Iterator[ast.Expr]:
    """The expression and every expression inside it (not into interpolated strings' text)."""
    yield expr
    if isinstance(expr, ast.ListExpr):
        for item in expr.items:
            yield from _walk(item.value)
    elif isinstance(expr, ast.MapExpr):
        for e in expr.entries:
            yield from _walk(e.value)
    elif isinstance(expr, ast.Call):
        for a in expr.args:
            yield from _walk(a.value)


def _literal_value(expr: ast.Expr) -> object | None:
    """The Python value of a literal expression, or None when it is not a plain literal."""
    if isinstance(expr, ast.IntLit | ast.BoolLit):
        return expr.value
    if isinstance(expr, ast.StringLit) and expr.is_plain:
        return expr.plain
    if isinstance(expr, ast.ListExpr) and all(i.condition is None for i in expr.items):
        items = [_literal_value(i.value) for i in expr.items]
        return None if any(i is None for i in items) else items
    return None


def _unify(types: list[T.Type]) -> T.Type:
    kinds = {t.public() for t in types if t.kind != "any"}
    if not kinds:
        return T.ANY
    if len(kinds) == 1:
        return next(iter(kinds))
    if all(T.assignable(k, T.STRING) for k in kinds):
        return T.STRING
    if all(T.assignable(k, T.INT) for k in kinds):
        return T.INT
    return T.ANY


class ExpressionsPass(CheckState):
    """The type of every expression, and `expect` (a value checked against a type)."""

    def expect(
        self,
        expr: ast.Expr,
        expected: T.Type,
        ctx: _Ctx,
        what: str,
        secret_ok: bool,
        declared: Span | None = None,
    ) -> T.Type | None:
        """Check `expr` against `expected`; returns its type, or None after reporting."""
        if isinstance(expr, ast.ListExpr) and expected.kind == "list" and expected.args:
            return self._expect_items(expr, expected, ctx, what, secret_ok, declared)
        t = self.type_of(expr, ctx, expected)
        if t.kind == "any":
            return t
        if not secret_ok and t.secret:
            self._leak(expr, what)
            return None
        if not T.assignable(t, expected) and not self._literal_fits(expr, expected):
            labels = [Label(declared, "expected because of this")] if declared else []
            self._mismatch(expr, f"`{expected.public()}`", t, labels=labels)
            return None
        self._check_literal_value(expr, expected)
        return t

    def _expect_items(
        self,
        expr: ast.ListExpr,
        expected: T.Type,
        ctx: _Ctx,
        what: str,
        secret_ok: bool,
        declared: Span | None,
    ) -> T.Type | None:
        """A list literal against `list(T)`: every item on its own, so one bad item is named."""
        elem = expected.args[0]
        ok = True
        secret = False
        found: list[T.Type] = []
        for item in expr.items:
            if item.condition is not None:
                self.expect(item.condition, T.BOOL, ctx, "a list condition", secret_ok=False)
            if (
                isinstance(item.value, ast.StringLit)
                and item.value.is_plain
                and elem.kind == "service"
            ):
                name = item.value.plain
                self.diags.error(
                    E_TYPE,
                    f'type mismatch: expected a service, found the string "{name}"',
                    item.value.span,
                    "this is `string`",
                    help=f"refer to the service by name, without quotes: `{name}`"
                    if name in self.program.services
                    else did_you_mean(name, self.program.services),
                )
                ok = False
                continue
            t = self.expect(item.value, elem, ctx, what, secret_ok, declared)
            ok = ok and t is not None
            secret = secret or bool(t and t.secret)
            if t is not None:
                found.append(t)
        if not ok:
            return None
        # What the items are (e.g. maps passed where any value is allowed), not just what fits.
        actual = _unify(found) if found and elem.kind == "any" else elem
        return T.list_of(actual).tainted(secret)

    def _literal_fits(self, expr: ast.Expr, expected: T.Type) -> bool:
        """String literals stand for paths, e-mails, enums...; their format is checked apart."""
        if expected.kind == "optional" and expected.args:  # optional(T): a T literal fits
            expected = expected.args[0]
        if isinstance(expr, ast.StringLit) and expr.is_plain:
            return expected.kind in ("path", "email", "hostname", "url", "enum", "size", "duration")
        if isinstance(expr, ast.IntLit):
            return expected.kind == "port"
        return False

    def _check_literal_value(self, expr: ast.Expr, expected: T.Type) -> None:
        if expected.kind == "optional" and expected.args:
            expected = expected.args[0]
        value: object
        if isinstance(expr, ast.StringLit) and expr.is_plain:
            value = expr.plain
        elif isinstance(expr, ast.IntLit):
            value = expr.value
        else:
            return
        if expected.kind == "enum":
            if value not in expected.values:
                self.diags.error(
                    E_VALUE,
                    f"`{value}` is not one of " + ", ".join(f"`{v}`" for v in expected.values),
                    expr.span,
                    "not an allowed value",
                    help=did_you_mean(str(value), expected.values),
                )
            return
        problem = T.check_literal(expected.kind, value)
        if problem:
            code = E_PORT if expected.kind == "port" else E_LITERAL
            self.diags.error(code, problem, expr.span, f"not a valid {expected.kind}")

    def type_of(self, expr: ast.Expr, ctx: _Ctx, hint: T.Type | None = None) -> T.Type:
        if isinstance(expr, ast.Ref):  # first: most are references (439 of media's 867)
            return self._type_of_ref(expr, ctx)
        if isinstance(expr, ast.StringLit):
            secret = False
            first: T.Type | None = None
            for i, part in enumerate(expr.parts):
                if isinstance(part, str):
                    continue
                t = self.type_of(part, ctx)
                if i == 0:
                    first = t
                secret = secret or t.secret
                if not T.is_stringy(t):
                    self._mismatch(part, "something that reads as text", t)
            return _interpolated_type(expr, first).tainted(secret)
        if isinstance(expr, ast.IntLit):
            return T.INT
        if isinstance(expr, ast.BoolLit):
            return T.BOOL
        if isinstance(expr, ast.NoneLit):
            return T.Type("none")
        if isinstance(expr, ast.UnitLit):
            seconds = T.parse_duration(expr.text)
            if seconds is not None:
                if seconds > T.MAX_DURATION_SECONDS:
                    self.diags.error(
                        E_LITERAL,
                        f"`{expr.text}` is too long a duration",
                        expr.span,
                        f"at most {T.MAX_DURATION_SECONDS // 86400} days",
                    )
                    return T.ANY
                return T.DURATION
            if T.parse_size(expr.text) is not None:
                return T.SIZE
            self.diags.error(
                E_LITERAL,
                f"`{expr.text}` is neither a size nor a duration",
                expr.span,
                "unknown unit",
                help="sizes: Ki Mi Gi Ti (or k M G T), like `10Gi`; durations: ms s m h d, like `30s`",
            )
            return T.ANY
        if isinstance(expr, ast.ListExpr):
            elem_hint = hint.args[0] if hint and hint.kind == "list" and hint.args else None
            types = []
            for item in expr.items:
                types.append(self.type_of(item.value, ctx, elem_hint))
                if item.condition is not None:
                    self.expect(item.condition, T.BOOL, ctx, "a list condition", secret_ok=False)
            elem = _unify(types)
            return T.list_of(elem).tainted(any(t.secret for t in types))
        if isinstance(expr, ast.MapExpr):
            types = []
            seen: dict[str, Span] = {}
            for e in expr.entries:
                if e.key.text in seen:
                    self.diags.error(
                        E_DUPLICATE,
                        f"key `{e.key.text}` appears twice",
                        e.key.span,
                        "again here",
                        labels=[Label(seen[e.key.text], "first here")],
                    )
                seen[e.key.text] = e.key.span
                types.append(self.type_of(e.value, ctx))
            return T.map_of(_unify(types)).tainted(any(t.secret for t in types))
        if isinstance(expr, ast.Call):
            return self._type_of_call(expr, ctx)
        if isinstance(expr, ast.Unary):
            self.expect(expr.operand, T.BOOL, ctx, "`!`", secret_ok=False)
            return T.BOOL
        if isinstance(expr, ast.Binary):
            if expr.op in ("&&", "||"):
                self.expect(expr.left, T.BOOL, ctx, f"`{expr.op}`", secret_ok=False)
                self.expect(expr.right, T.BOOL, ctx, f"`{expr.op}`", secret_ok=False)
                return T.BOOL
            left = self.type_of(expr.left, ctx)
            right = self.type_of(expr.right, ctx)
            if left.kind == "enum":
                self._check_literal_value(expr.right, left)
            if right.kind == "enum":
                self._check_literal_value(expr.left, right)
            # `args.password != none` says only whether a secret was given, never what it is
            against_none = ast.NoneLit in (type(expr.left), type(expr.right))
            if (left.secret or right.secret) and not against_none:
                self._leak(expr, "a comparison")
            elif not (T.assignable(left, right) or T.assignable(right, left)):
                if not (
                    self._literal_fits(expr.right, left) or self._literal_fits(expr.left, right)
                ):
                    self.diags.error(
                        E_TYPE,
                        f"cannot compare `{left}` with `{right}`",
                        expr.span,
                        "these never compare equal",
                    )
            return T.BOOL
        return T.ANY

    def _type_of_ref(self, ref: ast.Ref, ctx: _Ctx) -> T.Type:
        p = self.program
        head = ref.parts[0].text
        rest = ref.parts[1:]

        def need_member(kind: str) -> bool:
            if not rest:
                self.diags.error(
                    E_BAD_REF,
                    f"`{head}` needs a name after it",
                    ref.span,
                    f"like `{head}.NAME`",
                )
                return False
            return True

        if head == "param":
            if not need_member("param"):
                return T.ANY
            name = rest[0]
            sym = p.params.get(name.text)
            if sym is None:
                return self._unknown(E_UNKNOWN_PARAM, "param", name, p.params)
            self.used.add(("param", name.text))
            if sym.type.kind == "optional":  # `param.x` is a T where `!= none` holds
                from mora.contracts.params import param_ref_type

                return param_ref_type(self, ref, sym.type)  # type: ignore[arg-type]
            return self._no_more(ref, 2, sym.type)
        if head == "secret":
            if not need_member("secret"):
                return T.ANY
            name = rest[0]
            ssym = self._local(ctx, "secrets", name.text) or p.secrets.get(name.text)
            if ssym is None:
                return self._unknown(E_UNKNOWN_SECRET, "secret", name, p.secrets)
            self.used.add(("secret", name.text))
            if ssym.decl.value is not None and ssym.generator is None:
                self._check_secret_early(ssym)
            if len(rest) == 1:
                if len(ssym.parts) > 1:
                    self.diags.error(
                        E_BAD_REF,
                        f"secret `{name.text}` has several parts; pick one",
                        ref.span,
                        "which part?",
                        help="parts: " + ", ".join(f"`secret.{name.text}.{x}`" for x in ssym.parts),
                    )
                    return T.ANY
                return T.SECRET_STRING
            part = rest[1]
            if part.text not in ssym.parts:
                self.diags.error(
                    E_BAD_REF,
                    f"secret `{name.text}` has no part `{part.text}`",
                    part.span,
                    "unknown part",
                    help=did_you_mean(part.text, ssym.parts) or "parts: " + ", ".join(ssym.parts),
                )
                return T.ANY
            t = T.STRING if part.text in ssym.public_parts else T.SECRET_STRING
            return self._no_more(ref, 3, t)
        if head == "input":
            if not need_member("input"):
                return T.ANY
            name = rest[0]
            isym = self._local(ctx, "inputs", name.text) or p.inputs.get(name.text)
            if isym is None:
                return self._unknown(E_UNKNOWN_INPUT, "input", name, p.inputs)
            self.used.add(("input", name.text))
            return self._no_more(ref, 2, isym.type)
        if head == "site":
            if not need_member("site"):
                return T.ANY
            if rest[0].text != "domain":
                self.diags.error(
                    E_BAD_REF,
                    f"unknown site value `{rest[0].text}`",
                    rest[0].span,
                    "the site provides `site.domain`",
                    help="other site values are params: declare `param NAME: TYPE`",
                )
                return T.ANY
            return self._no_more(ref, 2, T.HOSTNAME)
        if head == "args":
            if ctx.template is None:
                self.diags.error(
                    E_BAD_REF, "`args` is only defined inside a template", ref.span, "not here"
                )
                return T.ANY
            if not need_member("args"):
                return T.ANY
            name = rest[0]
            entry = ctx.template.params.get(name.text)
            if entry is None:
                params = list(ctx.template.params)
                return self._unknown(
                    E_UNKNOWN_NAME,
                    "template parameter",
                    name,
                    params,
                    where="not a parameter of this template",
                    listing="its parameters: " + ", ".join(params) if params else "it has none",
                )
            if entry[0].kind == "service" and len(rest) > 1:
                return self._any_service_field(ref, rest[1:])
            if entry[0].kind in ("optional", "contract"):  # mora/contracts: fields, narrowing
                from mora.contracts.check import arg_type

                return arg_type(self, ref, rest, entry[0], ctx.template)  # type: ignore[arg-type]
            return self._no_more(ref, 2, entry[0].tainted(_holds_secret(entry[0])))
        if head == "self":
            body = (
                ctx.service.body
                if ctx.service
                else ctx.template.decl.body
                if ctx.template
                else None
            )
            if body is None:
                self.diags.error(
                    E_BAD_REF, "`self` is only defined inside a service", ref.span, "not here"
                )
                return T.ANY
            if not rest:
                return T.SERVICE
            return self._service_field(ref, rest, body, "self")
        svc = p.services.get(head)
        if svc is not None:
            if not rest:
                return T.SERVICE
            return self._service_field(ref, rest, svc.body, head)
        if ("service", head) in self.broken or ("template", head) in self.broken:
            return T.ANY
        candidates = [*p.services, "param", "secret", "input", "site"]
        if ctx.template is not None:
            candidates += ["args", "self"]
        self.diags.error(
            E_UNKNOWN_SERVICE if not rest or rest[0].text in SERVICE_FIELDS else E_UNKNOWN_NAME,
            f"unknown service `{head}`"
            if not rest or rest[0].text in SERVICE_FIELDS
            else f"unknown name `{head}`",
            ref.parts[0].span,
            "not defined in this project",
            help=_kind_hint(head, p) or did_you_mean(head, candidates),
        )
        return T.ANY

    def _local(self, ctx: _Ctx, table: str, name: str) -> Any:
        """A template's own secret or input, when checking inside that template."""
        if ctx.template is None:
            return None
        found = getattr(ctx.template, table).get(name)
        if found is not None:
            self.used.add((table[:-1], f"{ctx.template.decl.name.text}.{name}"))
        return found

    def _any_service_field(self, ref: ast.Ref, rest: tuple[ast.Name, ...]) -> T.Type:
        """A field of a service passed to a template: which service is known per instance only,
        so the field name is checked here and its presence when the instance is evaluated."""
        field_ = rest[0]
        if not self._known(field_.text, field_.span, SERVICE_FIELDS, "service field", E_BAD_REF):
            return T.ANY
        if field_.text == "ports":
            if len(rest) != 2:
                self.diags.error(E_BAD_REF, "name the port", ref.span, "like `.ports.http`")
                return T.ANY
            return T.PORT
        if len(rest) > 1:
            return self._no_more(ref, len(ref.parts) - len(rest) + 1, T.ANY)
        return {
            "name": T.STRING,
            "host": T.HOSTNAME,
            "url": T.URL,
            "internal_host": T.HOSTNAME,
            "internal_url": T.URL,
        }[field_.text]

    def _service_field(
        self, ref: ast.Ref, rest: tuple[ast.Name, ...], body: ast.Body, owner: str
    ) -> T.Type:
        field_ = rest[0]
        if not self._known(field_.text, field_.span, SERVICE_FIELDS, "service field", E_BAD_REF):
            return T.ANY
        if field_.text in ("url", "host") and not has_attr(body, "subdomain"):
            self.diags.error(
                E_BAD_REF,
                f"`{owner}` has no subdomain, so it has no `{field_.text}`",
                ref.span,
                "not reachable from outside",
                help=f"use `{owner}.internal_url` inside the project, or give it a `subdomain`",
            )
            return T.ANY
        if field_.text == "ports":
            names = self._port_names(body)
            if len(rest) != 2:
                self.diags.error(
                    E_BAD_REF,
                    "name the port",
                    ref.span,
                    f"like `{owner}.ports.{names[0] if names else 'http'}`",
                )
                return T.ANY
            if rest[1].text not in names:
                self.diags.error(
                    E_BAD_REF,
                    f"`{owner}` has no port `{rest[1].text}`",
                    rest[1].span,
                    "unknown port",
                    help=did_you_mean(rest[1].text, names)
                    or ("its ports: " + ", ".join(names) if names else "it declares no ports"),
                )
                return T.ANY
            return T.PORT
        if field_.text == "internal_url" and not self._port_names(body):
            self.diags.error(
                E_BAD_REF,
                f"`{owner}` has no ports, so it has no `internal_url`",
                ref.span,
                "nothing to connect to",
            )
            return T.ANY
        result = {
            "name": T.STRING,
            "host": T.HOSTNAME,
            "url": T.URL,
            "internal_host": T.HOSTNAME,
            "internal_url": T.URL,
        }
        return self._no_more(ref, 2, result[field_.text])

    def _port_names(self, body: ast.Body) -> list[str]:
        """`static_keys(body, "ports")`'s names, read once per body (nodes are immutable):
        every `self.internal_url` and `X.ports.NAME` of a template's steps asked again."""
        found = self._ports.get(id(body))
        if found is None:  # the body is held, so its id is not reused while this check runs
            found = self._ports[id(body)] = (body, [k.text for k in static_keys(body, "ports")])
        return found[1]

    def _no_more(self, ref: ast.Ref, length: int, t: T.Type) -> T.Type:
        if len(ref.parts) > length:
            extra = ref.parts[length]
            self.diags.error(
                E_BAD_REF,
                f"`{'.'.join(p.text for p in ref.parts[:length])}` has no field `{extra.text}`",
                extra.span,
                "nothing to look up here",
            )
            return T.ANY
        return t

    def _unknown(
        self,
        code: str,
        kind: str,
        name: ast.Name,
        known: Iterable[str],
        where: str = "not defined in this project",
        listing: str | None = None,
    ) -> T.Type:
        if (kind, name.text) in self.broken:
            return T.ANY  # its declaration has a syntax error, reported already
        self.diags.error(
            code,
            f"unknown {kind} `{name.text}`",
            name.span,
            where,
            help=did_you_mean(name.text, known) or listing,
        )
        return T.ANY

    def _mismatch(
        self, expr: ast.Expr, expected: str, found: T.Type, labels: Iterable[Label] = ()
    ) -> None:
        self.diags.error(
            E_TYPE,
            f"type mismatch: expected {expected}, found `{found.public()}`",
            expr.span,
            f"this is `{found.public()}`",
            labels=labels,
            help=_maybe_none_help(expr, found),
        )
