"""Expressions to values: references, interpolated strings, calls, binds and NFS mounts."""

from __future__ import annotations

from mora import ast
from mora import types as T
from mora.builtins import RENDERERS
from mora.check.program import (
    E_HOST_MOUNT,
    E_PATH,
    HOST_MOUNT_HELP,
    host_mount_message,
)
from mora.eval.scope import (
    E_EVAL,
    INPUT_PREFIX,
    EvalState,
    _Scope,
)
from mora.eval.values import (
    FileVal,
    MountVal,
    Pending,
    Secret,
    ServiceRef,
    Unit,
    _Abort,
    _collect_taint,
    _opt_text,
    _plain,
    _seconds,
    _text,
)
from mora.reserved import normal_path, path_problem, system_dir
from mora.routes import RouteVal
from mora.site import coerce

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Any


class ExpressionsPass(EvalState):
    """Expressions evaluated in a scope; taint carried through strings, calls and operators."""

    def _eval(self, expr: ast.Expr, scope: _Scope) -> object:
        # one dictionary lookup by the node's class instead of a chain of isinstance tests: the
        # realistic 1,001 evaluates ~100,000 expressions (docs/performance.md, fourteenth round)
        handler = _HANDLERS.get(type(expr))
        if handler is None:
            raise _Abort
        return handler(self, expr, scope)

    def _eval_literal(self, expr: ast.IntLit | ast.BoolLit, scope: _Scope) -> object:
        return expr.value

    def _eval_none(self, expr: ast.NoneLit, scope: _Scope) -> object:
        return None

    def _eval_unit(self, expr: ast.UnitLit, scope: _Scope) -> object:
        unit = self._units.get(expr.text)  # one (frozen) Unit per text: a template's copies
        if unit is None:
            seconds = T.parse_duration(expr.text)
            if seconds is not None:
                unit = Unit(expr.text, "duration", seconds)
            else:
                unit = Unit(expr.text, "size", float(T.parse_size(expr.text) or 0))
            self._units[expr.text] = unit
        return unit

    def _eval_list(self, expr: ast.ListExpr, scope: _Scope) -> object:
        items = []
        for item in expr.items:
            if item.condition is not None:
                cond = self._eval(item.condition, scope)
                if isinstance(cond, Pending):
                    items.append(cond)  # unknown until the input is answered
                    continue
                if cond is not True:
                    continue
            items.append(self._eval(item.value, scope))
        return items

    def _eval_map(self, expr: ast.MapExpr, scope: _Scope) -> object:
        return {e.key.text: self._eval(e.value, scope) for e in expr.entries}

    def _eval_unary(self, expr: ast.Unary, scope: _Scope) -> object:
        operand = self._eval(expr.operand, scope)
        return operand if isinstance(operand, Pending) else not operand

    def _eval_binary(self, expr: ast.Binary, scope: _Scope) -> object:
        left_value = self._eval(expr.left, scope)
        right_value = self._eval(expr.right, scope)
        waiting = [v for v in (left_value, right_value) if isinstance(v, Pending)]
        if waiting:  # a condition on an unanswered input is itself unknown
            return Pending(frozenset().union(*(w.inputs for w in waiting)))
        if expr.op == "&&":
            return left_value is True and right_value is True
        if expr.op == "||":
            return left_value is True or right_value is True
        left, right = _plain(left_value), _plain(right_value)
        return (left == right) if expr.op == "==" else (left != right)

    def _eval_string(self, expr: ast.StringLit, scope: _Scope) -> object:
        pieces: list[str] = []
        sources: set[str] = set()
        pending: set[str] = set()
        for part in expr.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = self._eval(part, scope)
            if isinstance(value, Pending):
                pending |= value.inputs
            elif isinstance(value, Secret):
                sources |= value.sources
                pieces.append(value.value)
            else:
                pieces.append(_text(value))
        if pending:
            return Pending(frozenset(pending))
        text = "".join(pieces)
        return Secret(text, frozenset(sources)) if sources else text

    def _eval_ref(self, ref: ast.Ref, scope: _Scope) -> object:
        head = ref.parts[0].text
        names = [p.text for p in ref.parts[1:]]
        if head == "param":
            return self._param(names[0])
        if head == "secret":
            name = self._own(scope, "secrets", names[0])
            parts = self.secret_values.get(name)
            if parts is None:
                raise _Abort
            part = names[1] if len(names) > 1 else "value"
            sym = self.program.secrets[name]
            if part in sym.public_parts:
                return parts[part]
            return Secret(parts[part], frozenset({f"secret.{name}"}))
        if head == "input":
            name = self._own(scope, "inputs", names[0])
            isym = self.program.inputs[name]
            if name not in self.inputs:
                return Pending(frozenset({name}))
            raw = self.inputs[name]
            if isym.type.secret:
                return Secret(raw, frozenset({f"input.{name}"}))
            value, problem = coerce(raw, isym.type, from_text=True)
            if problem:
                self.diags.error(
                    E_EVAL,
                    f"the stored answer to input `{name}` is not valid: {problem}",
                    ref.span,
                    "used here",
                    help=f"answer it again with `mora secrets set {INPUT_PREFIX}{name}`",
                )
                raise _Abort
            return value
        if head == "site":
            return self.domain
        if head == "args":
            value = self._arg(scope, names[0])
            tmpl = scope.service.template if scope.service else None
            if len(names) > 1 and tmpl and names[0] in tmpl.params and self.program.contracts:
                from mora.contracts.evaluate import contract_of, field_value  # `args.db.password`

                # a contract's field; `optional(service)` keeps the service's own fields below
                if contract_of(tmpl.params[names[0]][0]) is not None:
                    return field_value(self, scope, value, names, ref)  # type: ignore[arg-type]
            if len(names) == 1 or not isinstance(value, ServiceRef):
                return value
            target: str | None = value.name  # `args.db.internal_url`: a field of the service
            names = names[1:]
        else:
            target = (scope.service.name if scope.service else None) if head == "self" else head
        if target is None:
            raise _Abort
        if not names:
            return ServiceRef(target)
        field_ = names[0]
        if field_ in ("name", "internal_host"):
            return target
        if field_ == "ports":
            ports = self._ports_of(target)
            if names[1] not in ports:
                self.diags.error(
                    E_EVAL, f"`{target}` has no port `{names[1]}` for this site", ref.span, "here"
                )
                raise _Abort
            return ports[names[1]]
        subdomain, ports, route = self._routing_of(target)
        if field_ in ("host", "url"):
            if subdomain is None:
                self.diags.error(
                    E_EVAL,
                    f"`{target}` has no subdomain for this site, so it has no `{field_}`",
                    ref.span,
                    "used here",
                )
                raise _Abort
            host = f"{subdomain}.{self.domain}"
            return host if field_ == "host" else f"https://{host}"
        if field_ == "internal_url":
            port = ports.get(route or "") or (ports[sorted(ports)[0]] if ports else None)
            if port is None:
                raise _Abort
            return f"http://{target}:{port}"
        raise _Abort

    def _eval_call(self, call: ast.Call, scope: _Scope) -> object:
        fname = call.func.dotted
        if fname == "self.requests" and scope.service is not None:  # mora/contracts/requests.py
            from mora.contracts.requests import requests_for

            cname = call.args[0].value.dotted  # type: ignore[union-attr]  # checked: a name
            return requests_for(self, scope.service.name, cname)  # type: ignore[arg-type]
        from mora.builtins import FUNCTIONS

        fn = FUNCTIONS[fname]
        names = [p.name for p in fn.params]
        args: dict[str, object] = {}
        for i, arg in enumerate(call.args):
            args[arg.name.text if arg.name else names[i]] = self._eval(arg.value, scope)
        waiting = [v for v in args.values() if isinstance(v, Pending)]
        if waiting and fname in ("volume", "bind", "tmpfs", "join", "text", "nfs", "route"):
            return Pending(frozenset().union(*(w.inputs for w in waiting)))
        if fname == "volume":
            size = args.get("size")
            return MountVal(
                "volume",
                size=str(size) if size is not None else None,
                name=_opt_text(args.get("name")),
                readonly=args.get("readonly") is True,
                storage_class=_opt_text(args.get("storage_class")),
                access=_opt_text(args.get("access")),
                external=args.get("external") is True,
            )
        if fname == "nfs":
            return self._nfs(call, args)
        if fname == "route":
            auth, size = args.get("auth"), args.get("max_body")
            if auth is not None and not isinstance(auth, ServiceRef):  # a record: no portal
                self.diags.error(
                    E_EVAL,
                    "forward auth needs an identity provider service of this project",
                    call.span,
                    "`auth` is a provider outside the project here",
                    help="pass a service that provides the contract (its route is what the proxy "
                    "asks), or leave `auth` out and sign in with the app's own login",
                )
                raise _Abort
            return RouteVal(
                port=_opt_text(args.get("port")),
                auth=auth.name if isinstance(auth, ServiceRef) else None,
                max_body=str(size) if size is not None else None,
                timeout_seconds=_seconds(args.get("timeout")),
            )
        if fname == "bind":
            return self._bind(call, args)
        if fname == "tmpfs":
            size = args.get("size")
            return MountVal(
                "tmpfs",
                size=str(size) if size is not None else None,
                mode=_opt_text(args.get("mode")),
            )
        if fname == "join":
            items = args["items"]
            sep = _text(args.get("separator", ","))
            return self._combine(items, lambda plain: sep.join(_text(v) for v in plain))
        if fname == "text":
            return FileVal("text", self._combine(args["value"], _text))  # type: ignore[arg-type]
        render = RENDERERS[fname]

        def rendered(plain: object) -> str:
            try:
                return render(plain)  # type: ignore[arg-type]
            except (TypeError, ValueError) as err:
                self.diags.error(E_EVAL, f"cannot render {fname}: {err}", call.span, "here")
                raise _Abort from None

        return FileVal(fname, self._combine(args["value"], rendered))  # type: ignore[arg-type]

    def _bind(self, call: ast.Call, args: dict[str, object]) -> MountVal:
        """A host directory as the site resolved it: no `..`, a system directory with a reason."""
        host_path = _text(args["path"])
        readonly = bool(args.get("readonly", False))
        problem = path_problem(host_path)
        if problem:
            self.diags.error(E_PATH, f"host path `{host_path}`: {problem}", call.span, "here")
            raise _Abort
        exposed = system_dir(host_path, readonly)
        if exposed is not None and not _text(args.get("reason", "")).strip():
            self.diags.error(
                E_HOST_MOUNT,
                host_mount_message(host_path, exposed),
                call.span,
                "a system path of the host",
                help=HOST_MOUNT_HELP,
            )
            raise _Abort
        reason = _text(args.get("reason", "")).strip() or None
        return MountVal("bind", host_path=normal_path(host_path), readonly=readonly, reason=reason)

    def _nfs(self, call: ast.Call, args: dict[str, object]) -> MountVal:
        """An NFS export: `server` a host name or address, `path` absolute, no `..`."""
        server, share = _text(args["server"]).strip(), _text(args["path"])
        problem = path_problem(share) or ("" if share.startswith("/") else "not absolute")
        if not server or any(c in server for c in ' ,:/="' + "'"):
            problem = f"`{server}` is not a server name or address"
        if problem:
            self.diags.error(E_PATH, f"nfs share `{server}:{share}`: {problem}", call.span, "here")
            raise _Abort
        size = args.get("size")
        return MountVal(
            "nfs",
            size=str(size) if size is not None else None,
            readonly=args.get("readonly") is True,
            server=server,
            share=normal_path(share),
        )

    def _combine(self, value: object, fn: Any) -> object:
        """Apply `fn` to the plain form of a structure, carrying taint and pendency over."""
        sources: set[str] = set()
        pending: set[str] = set()
        _collect_taint(value, sources, pending)
        if pending:
            return Pending(frozenset(pending))
        out = fn(_plain(value))
        return Secret(out, frozenset(sources)) if sources else out


_HANDLERS: dict[type, Any] = {
    ast.StringLit: ExpressionsPass._eval_string,
    ast.IntLit: ExpressionsPass._eval_literal,
    ast.BoolLit: ExpressionsPass._eval_literal,
    ast.NoneLit: ExpressionsPass._eval_none,
    ast.UnitLit: ExpressionsPass._eval_unit,
    ast.ListExpr: ExpressionsPass._eval_list,
    ast.MapExpr: ExpressionsPass._eval_map,
    ast.Ref: ExpressionsPass._eval_ref,
    ast.Call: ExpressionsPass._eval_call,
    ast.Unary: ExpressionsPass._eval_unary,
    ast.Binary: ExpressionsPass._eval_binary,
}
