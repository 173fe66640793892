"""`setup` blocks -> `model.Step`s, called by the evaluator for each service that has one.

What is known at compile time (params, URLs of services, template arguments, literals) is
folded into plain text; what is known only when the step runs stays a reference: declared
secrets and inputs by name (the executor reads them from the site's store), earlier step
outputs as `output.SERVICE.STEP.NAME`, the step's own response as `response.*`. So the manifest
carries no secret value, and compiling twice gives the same bytes.
"""

from __future__ import annotations

from mora import ast
from mora import model as M
from mora import types as T
from mora.evaluator import _text as _eval_text
from mora.steps.check import E_EACH_LIST, RESPONSE

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from mora.checker import ServiceSym
    from mora.evaluator import Evaluator, _Scope

_DEFAULT_TIMEOUT = 60.0


def evaluate_setup(ev: Evaluator, svc: ServiceSym, entry: ast.Block, scope: _Scope) -> list[M.Step]:
    """The service's steps in the order written (the checker has refused malformed ones)."""
    steps: list[M.Step] = []
    static = _static_ids(ev, entry)
    for block in entry.body.entries:
        if not isinstance(block, ast.Block):
            continue
        source, when = _controls(ev, block)
        items = _items(ev, block, source, scope) if source is not None else None
        for each in items if items is not None else [None]:
            step_of = _Step(ev, svc.name, scope, each, static)
            condition = step_of.sx(when) if when is not None else None
            if condition is not None and _constant(condition) is False:
                continue  # not built: its body may read an optional argument that is none
            step = step_of.build(block, condition)
            # a `when` that is false already when compiling (a template's optional step whose
            # argument was not given) leaves the step out of the manifest and the plan
            if step.when is None or _constant(step.when) is not False:
                steps.append(step)
    return steps


def _static_ids(ev: Evaluator, entry: ast.Block) -> frozenset[int]:
    """The ids of the expressions in a `setup` block whose step value is the same for every
    instance and item (`_static`), found once per block of a template."""
    found = ev._step_static.get(id(entry))
    if found is None:
        ids: set[int] = set()
        for block in entry.body.entries:
            if isinstance(block, ast.Block):
                for item in block.body.entries:
                    inner = item.body.entries if isinstance(item, ast.Block) else (item,)
                    for attr in inner:
                        if isinstance(attr, ast.Attr):
                            _static(attr.value, ids)
        found = ev._step_static[id(entry)] = (entry, frozenset(ids))  # `entry` keeps the ids
    return found[1]


def _controls(ev: Evaluator, block: ast.Block) -> tuple[ast.Attr | None, ast.Expr | None]:
    """A step block's `for_each` entry and `when` expression, looked up once per block of a
    template rather than once per instance (the syntax is the same for every copy)."""
    found = ev._step_controls.get(id(block))
    if found is None:
        attrs = [e for e in block.body.entries if isinstance(e, ast.Attr)]
        source = next((e for e in attrs if e.key.text == "for_each"), None)
        when = next((e.value for e in attrs if e.key.text == "when"), None)
        found = ev._step_controls[id(block)] = (block, source, when)
    return found[1], found[2]


def _items(
    ev: Evaluator, block: ast.Block, source: ast.Attr, scope: _Scope
) -> list[tuple[str, object]]:
    """`for_each`'s items as (key, value), in the order given.

    One model step per item (`STEP[KEY]`), so the executor records each item by itself: a
    re-run does only the items not done yet, and a failure names its item's key."""
    from mora.evaluator import Pending, Secret, _Abort

    value = ev._eval(source.value, scope)
    if isinstance(value, Secret | Pending):  # refused by the checker; never folded here
        raise _Abort
    pairs: list[tuple[str, object]]
    if isinstance(source.value, ast.Call) and scope.service is not None:  # self.requests(C)
        from mora.contracts.requests import request_items

        pairs = request_items(ev, scope.service.name, source.value)
    elif isinstance(value, dict):
        pairs = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        pairs = [(_text(v), v) for v in value]
    else:  # a string of words (`groups = "admins media"`); a word `key=value` is a pair
        words = [w.partition("=") for w in _text(value).split()]
        pairs = [(k, v if sep else k) for k, sep, v in words]
    seen: set[str] = set()
    for key, _ in pairs:
        bad = not key or any(c in key for c in "[]:\n") or key in seen
        seen.add(key)
        if bad:
            ev.diags.error(
                E_EACH_LIST,
                f"`for_each` item `{_shown(key)}` cannot name a record of its step",
                source.value.span,
                "an empty or repeated key, or one holding `[`, `]`, `:` or a line break",
                help="each item's key names its record (`STEP[KEY]`): keep keys unique, "
                "non-empty, on one line and without brackets or colons",
            )
            raise _Abort
    return pairs


def _shown(key: str) -> str:
    return key.encode("unicode_escape").decode("ascii")[:60]


def _constant(e: M.StepExpr) -> object:
    """The value of a condition known when compiling, or None when it waits for a response."""
    if e.lit is not None:
        return e.lit
    if e.op is None or e.op == "pick":
        return None
    args = [_constant(a) for a in e.args or []]
    if e.op == "!":
        return None if args[0] is None else not _truthy(args[0])
    if e.op in ("&&", "||"):
        decisive = e.op == "||"  # the operand value that decides alone
        if any(a is not None and _truthy(a) is decisive for a in args):
            return decisive
        return None if None in args else not decisive
    if None in args:
        return None
    same = _text(args[0]) == _text(args[1])
    return same if e.op == "==" else not same


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value not in ("", "false", "0")
    return bool(value)


class _Step:
    def __init__(
        self,
        ev: Evaluator,
        service: str,
        scope: _Scope,
        each: tuple[str, object] | None = None,
        static: frozenset[int] = frozenset(),
    ) -> None:
        self.ev = ev
        self.static = static  # ids of this setup block's expressions shared by every copy
        self.service = service
        self.scope = scope
        self.each = each  # (key, value) of the item a `for_each` step runs for
        self.needs: set[str] = set()

    def build(self, block: ast.Block, when: M.StepExpr | None = None) -> M.Step:
        """The model step; `when` is the condition already computed for it (or None)."""
        data: dict[str, object] = {"name": block.key.text}
        if self.each is not None:
            data["name"] = f"{block.key.text}[{self.each[0]}]"
            data["each"] = self.each[0]
        for item in block.body.entries:
            if isinstance(item, ast.Block):
                pairs = {
                    a.key.text: self.sx(a.value)
                    for a in item.body.entries
                    if isinstance(a, ast.Attr)
                }
                if item.key.text == "headers":
                    data["headers"] = dict(sorted(pairs.items()))
                else:
                    public = item.key.text == "public"
                    outputs = dict(data.get("outputs") or {})  # type: ignore[call-overload]
                    outputs.update(
                        {
                            k: M.StepOutput(type=_output_type(v), value=v, public=public)
                            for k, v in pairs.items()
                        }
                    )
                    data["outputs"] = dict(sorted(outputs.items()))
                continue
            if not isinstance(item, ast.Attr):
                continue
            key, value = item.key.text, item.value
            if key == "for_each":
                continue
            if key in ("description", "run"):
                data[key] = _plain(self.sx(value))
            elif key == "method":
                data["method"] = _plain(self.sx(value)).upper()
            elif key == "when" and when is not None:
                data[key] = when
            elif key in ("url", "manager", "stdin", "until", "when", "base"):
                data[key] = self.sx(value)
            elif key == "exec":
                data["exec"] = list(self.sx(value).items or [])
            elif key in ("json", "form"):
                data["body"] = self.sx(value)
                data["body_format"] = key
            elif key == "auth" and isinstance(value, ast.Call):
                args = [self.sx(a.value) for a in value.args]
                if value.func.dotted == "bearer":
                    data["auth"] = M.StepAuth(kind="bearer", secret=args[0])
                else:
                    data["auth"] = M.StepAuth(kind="basic", user=args[0], secret=args[1])
            elif key == "expect":
                items = value.items if isinstance(value, ast.ListExpr) else None
                values = [i.value for i in items] if items is not None else [value]
                data["expect"] = sorted({v.value for v in values if isinstance(v, ast.IntLit)})
            elif key == "outside_hosts":
                hosts = self.sx(value).items or []
                data["outside_hosts"] = sorted({_plain(h).lower() for h in hosts})
            elif key == "timeout" and isinstance(value, ast.UnitLit):
                data["timeout_seconds"] = T.parse_duration(value.text) or _DEFAULT_TIMEOUT
        if "url" in data and "method" not in data:
            data["method"] = "GET"
        data["needs"] = sorted(self.needs)
        return M.Step(**data)  # type: ignore[arg-type]

    # --- expressions ---------------------------------------------------------------------------
    def sx(self, expr: ast.Expr, scope: _Scope | None = None) -> M.StepExpr:
        """The step value of `expr`. One that reads nothing of the instance (literals, the
        response) is built once per template and shared by every copy: model values are
        frozen and never changed in place (eval/compact.py shares equal ones anyway)."""
        if id(expr) not in self.static:
            return self._sx(expr, scope or self.scope)
        shared = self.ev._step_shared
        out = shared.get(id(expr))
        if out is None:
            out = self.ev.compactor.shared(self._sx(expr, scope or self.scope))
            shared[id(expr)] = out
        return out  # type: ignore[no-any-return]

    def _lit(self, value: str | int | bool) -> M.StepExpr:
        """A constant step value: one object for each equal constant (eval/compact.py), made
        here rather than built per step and replaced when the service is compacted."""
        return self.ev.compactor.leaf(value, None)

    def _ref_to(self, name: str) -> M.StepExpr:
        return self.ev.compactor.leaf(None, name)

    def _sx(self, expr: ast.Expr, scope: _Scope) -> M.StepExpr:
        kind = type(expr)  # compared by identity: cheaper than isinstance (no subclasses)
        if kind is ast.Ref:
            return self._ref(expr, scope)  # type: ignore[arg-type]
        if kind is ast.StringLit:
            parts: list[M.StepExpr] = []
            text: list[str] = []  # literal text since the last piece known only when it runs
            for part in expr.parts:
                if isinstance(part, str):
                    text.append(part)
                    continue
                piece = self.sx(part, scope)
                if piece.lit is not None:
                    text.append(_text(piece.lit))
                    continue
                if text:
                    parts.append(self._lit("".join(text)))
                    text = []
                parts.append(piece)
            if not parts:
                return self._lit("".join(text))
            if text:
                parts.append(self._lit("".join(text)))
            return M.StepExpr(concat=parts)
        if kind is ast.IntLit or kind is ast.BoolLit:
            return self._lit(expr.value)  # type: ignore[union-attr]
        if kind is ast.UnitLit:
            return self._lit(expr.text)  # type: ignore[union-attr]
        if kind is ast.ListExpr:
            items = []
            for item in expr.items:
                if item.condition is not None and self._fold(item.condition, scope) is not True:
                    continue
                items.append(self.sx(item.value, scope))
            return M.StepExpr(items=items)
        if kind is ast.MapExpr:
            entries = expr.entries  # type: ignore[union-attr]
            return M.StepExpr(entries={e.key.text: self.sx(e.value, scope) for e in entries})
        if kind is ast.Unary:
            operand = expr.operand  # type: ignore[union-attr]
            return M.StepExpr(op="!", args=[self.sx(operand, scope)])
        if kind is ast.Binary:
            return self._binary(expr, scope)  # type: ignore[arg-type]
        if isinstance(expr, ast.Call) and expr.func.dotted == "pick":
            args = [a.value for a in expr.args]
            cond = args[1]
            assert isinstance(cond, ast.Binary) and isinstance(cond.left, ast.Ref)
            path = args[2] if len(args) > 2 else None
            return M.StepExpr(
                op="pick",
                args=[
                    self.sx(args[0], scope),
                    self._lit(cond.left.dotted),
                    self.sx(cond.right, scope),
                    self._lit(path.plain if isinstance(path, ast.StringLit) else ""),
                ],
            )
        return self._lit(_text(self._fold(expr, scope)))

    def _binary(self, expr: ast.Binary, scope: _Scope) -> M.StepExpr:
        from mora.contracts.requests import is_emptiness_test

        if is_emptiness_test(expr):  # self.requests(C) != []
            return self._lit(bool(self._fold(expr, scope)))
        if ast.NoneLit in (type(expr.left), type(expr.right)):
            return self._lit(bool(self._fold(expr, scope)))  # `args.x != none`: known now
        left, right = self.sx(expr.left, scope), self.sx(expr.right, scope)
        # `x && true` is x (`x || false` likewise): an optional argument's `!= none` test,
        # known now, leaves the recorded condition as it reads without that test
        neutral = expr.op == "&&"
        if expr.op in ("&&", "||") and any(x is (not neutral) for x in (left.lit, right.lit)):
            return self._lit(not neutral)  # `x || true` is true, `x && false` false
        if expr.op in ("&&", "||") and right.lit is neutral:
            return left
        if expr.op in ("&&", "||") and left.lit is neutral:
            return right
        return M.StepExpr(op=expr.op, args=[left, right])  # type: ignore[arg-type]

    def _ref(self, ref: ast.Ref, scope: _Scope) -> M.StepExpr:
        names = [p.text for p in ref.parts]
        head = names[0]
        if head in RESPONSE:
            return self._ref_to(".".join(["response", *names]))
        if head == "each" and self.each is not None:
            key, value = self.each
            from mora.contracts.requests import RequestItem, each_field

            if isinstance(value, RequestItem):  # for_each = self.requests(C)
                return each_field(self, value, names)  # type: ignore[return-value]
            picked = key if names[1:] == ["key"] else value
            return self._lit(picked if isinstance(picked, bool | int) else _text(picked))
        if head == "self" and len(names) > 1 and names[1] == "setup":
            names = names[1:]
            head = "setup"
        if head == "setup":
            return self._ref_to(".".join(["output", self.service, *names[1:]]))
        if len(names) == 4 and names[1] == "setup" and head not in ("secret", "input", "param"):
            if head != self.service:
                self.needs.add(head)
            return self._ref_to(".".join(["output", head, names[2], names[3]]))
        if head == "secret":
            name = self.ev._own(scope, "secrets", names[1])
            sym = self.ev.program.secrets[name]
            part = names[2] if len(names) > 2 else None
            if part is not None and part in sym.public_parts:
                return self._lit(_text(self._fold(ref, scope)))
            return self._ref_to(".".join(["secret", name, *([part] if part else [])]))
        if head == "input":
            name = self.ev._own(scope, "inputs", names[1])
            return self._ref_to(f"input.{name}")
        if head == "args" and len(names) == 1 + 1 and names[1] in scope.args:
            from mora.evaluator import _Scope

            return self.sx(scope.args[names[1]], _Scope())  # the argument, where it was written
        if head == "args" and len(names) == 3 and names[1] in scope.args:
            field = self._contract_field(names[1], names[2], scope)
            if field is not None:
                return field
        value = self._fold(ref, scope)
        if isinstance(value, bool | int):
            return self._lit(value)
        return self._lit(_text(value))

    def _contract_field(self, arg: str, name: str, scope: _Scope) -> M.StepExpr | None:
        """`args.ARG.NAME` of a contract-typed argument, written where its value comes from: the
        provider's `provides` entry (in the provider's scope, so `secret.api_key` is its
        secret) or the record literal's entry. A secret field stays a reference to the store;
        one given as plain text is refused: folded, it would land in the manifest."""
        from mora.contracts.evaluate import field_source

        found = field_source(self.ev, scope, arg, name)
        if found is None:
            return None
        expr, where, secret = found
        out = self.sx(expr, where)
        if secret and out.lit is not None:  # a record's secret field written as text
            from mora.evaluator import E_EVAL, _Abort

            self.ev.diags.error(
                E_EVAL,
                f"`{arg}.{name}` is a secret written out as text: a setup step sends only "
                "secrets from the store",
                expr.span,
                "plain text in a secret field",
                help=f"give `{name}` a secret (`secret.NAME`, or `input.NAME` for one a person "
                "answers)",
            )
            raise _Abort
        return out

    def _fold(self, expr: ast.Expr, scope: _Scope) -> object:
        """A value known at compile time. One that is secret or waits for an input (through a
        condition, say) cannot be folded: reported, and the service is left out."""
        from mora.evaluator import E_EVAL, Pending, Secret, _Abort

        value = self.ev._eval(expr, scope)
        if isinstance(value, Secret | Pending):
            self.ev.diags.error(
                E_EVAL,
                "a setup step cannot use this value here: it is secret or waits for an input",
                expr.span,
                "not known when compiling",
                help="use secrets and inputs whole (`secret.x`, `input.y`) in headers, bodies "
                "and stdin",
            )
            raise _Abort
        return value


def _static(expr: ast.Expr, ids: set[int]) -> bool:
    """Whether `expr`'s step value is the same for every instance and item: it reads no
    argument, name, secret, input, `each` or earlier step, only literals and the response.
    Adds the ids of `expr` and of its parts for which that holds to `ids`."""
    if isinstance(expr, ast.StringLit):
        static = all([isinstance(p, str) or _static(p, ids) for p in expr.parts])
    elif isinstance(expr, ast.IntLit | ast.BoolLit | ast.UnitLit):
        static = True
    elif isinstance(expr, ast.ListExpr):
        static = all([_static(i.value, ids) and i.condition is None for i in expr.items])
    elif isinstance(expr, ast.MapExpr):
        static = all([_static(e.value, ids) for e in expr.entries])
    elif isinstance(expr, ast.Unary):
        static = _static(expr.operand, ids)
    elif isinstance(expr, ast.Binary):
        sides = [_static(x, ids) for x in (expr.left, expr.right)]
        static = all(sides) and ast.NoneLit not in (type(expr.left), type(expr.right))
    elif isinstance(expr, ast.Ref):
        static = expr.parts[0].text in RESPONSE
    else:
        for arg in expr.args if isinstance(expr, ast.Call) else ():
            _static(arg.value, ids)
        static = False
    if static:
        ids.add(id(expr))
    return static


def _output_type(value: M.StepExpr) -> str:
    if value.op is not None and value.op != "pick":
        return "bool"
    if value.ref in ("response.status",):
        return "int"
    if isinstance(value.lit, bool):
        return "bool"
    if isinstance(value.lit, int):
        return "int"
    return "string"


def _plain(value: M.StepExpr) -> str:
    return _text(value.lit) if value.lit is not None else ""


_text = _eval_text  # the evaluator's: booleans as true/false, a service by its name
