"""Calls: function and template arguments bound to their parameters, renderable arguments."""

from __future__ import annotations

from mora import ast
from mora import types as T
from mora.builtins import FUNCTIONS
from mora.check import routes as check_routes
from mora.check.blocks import _mode_problem
from mora.check.context import (
    CheckState,
    _Ctx,
    _ParamView,
)
from mora.check.expressions import (
    _walk,
)
from mora.check.program import (
    E_ARGS,
    E_TYPE,
    E_UNKNOWN_FUNCTION,
)
from mora.diagnostics import Label, closest, did_you_mean

# A builtin function (by identity, held) -> its parameters as the argument binding sees them:
# made on the function's first call, not on every call (media: 27 calls, 111 records).
_VIEWS: dict[int, tuple[object, list[_ParamView]]] = {}


class CallsPass(CheckState):
    """Calls to functions and templates: arguments bound, checked and rendered."""

    def _type_of_call(self, call: ast.Call, ctx: _Ctx) -> T.Type:
        fname = call.func.dotted
        if fname == "self.requests":  # a provider reads its consumers' requests (mora/contracts)
            from mora.contracts.requests import type_of_requests

            return type_of_requests(self, call, ctx)  # type: ignore[arg-type]
        fn = FUNCTIONS.get(fname)
        if fn is None:
            if fname in self.generators():
                self.diags.error(
                    E_UNKNOWN_FUNCTION,
                    f"`{fname}()` generates a secret; declare it",
                    call.span,
                    "generators belong in a `secret` declaration",
                    help=f"write `secret NAME = {call.span.text()}` and use `secret.NAME` here",
                )
            elif fname in self.program.templates:
                self.diags.error(
                    E_UNKNOWN_FUNCTION,
                    f"`{fname}` is a template; instantiate it as a service",
                    call.span,
                    "not a value",
                    help=f"write `service NAME = {call.span.text()}`",
                )
            else:
                self.diags.error(
                    E_UNKNOWN_FUNCTION,
                    f"unknown function `{fname}`",
                    call.func.span,
                    "not a function",
                    help=did_you_mean(fname, FUNCTIONS)
                    or "functions: " + ", ".join(sorted(FUNCTIONS)),
                )
            for arg in call.args:
                self.type_of(arg.value, ctx)
            return T.ANY
        seen = _VIEWS.get(id(fn))
        if seen is None:  # a function's views, made once per process (they are frozen)
            views = [_ParamView(p.name, p.type, p.required, p.positional) for p in fn.params]
            seen = _VIEWS[id(fn)] = (fn, views)
        params = seen[1]
        bound = self._bind_args(call, params, f"`{fname}()`")
        if fn.returns.kind == "file":
            for arg in bound.values():
                self._check_renderable(arg.value, fname)
        if fname == "bind":
            self._check_bind(call, bound)
        if fname == "volume":
            check_routes.check_volume_call(self, call)
        if fname == "tmpfs" and "mode" in bound:
            self._check_literal_rule(bound["mode"].value, _mode_problem)
        secret = False
        for pname, arg in bound.items():
            param = next(p for p in fn.params if p.name == pname)
            if fname == "route" and pname == "auth" and self.program.contracts:
                at = self.type_of(arg.value, ctx)  # `auth: args.identity`, checked not none
                if at.kind == "contract":
                    continue  # a contract's provider: a service (a record is E0505)
            t = self.expect(arg.value, param.type, ctx, f"argument `{pname}`", param.secret_ok)
            secret = secret or bool(t and t.secret)
            if fname == "join" and pname == "items" and t is not None and t.args:
                if not T.is_stringy(t.args[0]):
                    self._mismatch(arg.value, "a list of strings, numbers or booleans", t)
        return fn.returns.tainted(secret and fn.taints)

    def _check_renderable(self, expr: ast.Expr, fname: str) -> None:
        """Config files hold data: a mount or another file inside yaml()/json()... is a mistake."""
        for node in _walk(expr):
            if isinstance(node, ast.Call) and node.func.dotted in FUNCTIONS:
                inner = FUNCTIONS[node.func.dotted].returns.kind
                if inner in ("mount", "file"):
                    what = "a volume" if inner == "mount" else "a file"
                    self.diags.error(
                        E_TYPE,
                        f"{what} cannot be written into a {fname} file",
                        node.span,
                        "not data",
                        help=f"`{fname}()` takes strings, numbers, booleans, lists and maps",
                    )

    def _bind_args(self, call: ast.Call, params: list[_ParamView], what: str) -> dict[str, ast.Arg]:
        """Match positional and named arguments to parameters, reporting every mismatch."""
        bound: dict[str, ast.Arg] = {}
        misspelled: set[str] = set()  # parameters an unknown name was probably meant for
        names = [p.name for p in params]
        positional = True
        for i, arg in enumerate(call.args):
            if arg.name is None:
                if not positional:
                    self.diags.error(
                        E_ARGS,
                        "positional argument after a named one",
                        arg.span,
                        "name this argument",
                        help=f"{what} takes: " + ", ".join(names),
                    )
                    continue
                if i >= (npos := sum(p.positional for p in params)):
                    self.diags.error(
                        E_ARGS,
                        f"{what} takes at most {npos} argument{'s' if npos != 1 else ''}",
                        arg.span,
                        "one too many",
                    )
                    self.type_of(arg.value, _Ctx())
                    continue
                bound[params[i].name] = arg
                continue
            positional = False
            pname = arg.name.text
            if pname not in names:
                guess = closest(pname, [n for n in names if n not in bound])
                if guess is not None:
                    misspelled.add(guess)
                hint = None
                if pname == "identity" and self.program.contracts:  # mora/contracts/requests.py
                    from mora.contracts.requests import no_identity_help

                    hint = no_identity_help(self, what, arg)  # type: ignore[arg-type]
                self.diags.error(
                    E_ARGS,
                    f"{what} has no parameter `{pname}`",
                    arg.name.span,
                    "unknown parameter",
                    help=hint
                    or (f"did you mean `{guess}`?" if guess else None)
                    or (f"{what} takes: " + ", ".join(names) if names else f"{what} takes none"),
                )
                self.type_of(arg.value, _Ctx())
                continue
            if pname in bound:
                self.diags.error(
                    E_ARGS,
                    f"`{pname}` is given twice",
                    arg.span,
                    "given again here",
                    labels=[Label(bound[pname].span, "first given here")],
                )
                continue
            bound[pname] = arg
        missing = [
            p.name
            for p in params
            if p.required and p.name not in bound and p.name not in misspelled
        ]
        if missing:
            self.diags.error(
                E_ARGS,
                f"{what} is missing " + ", ".join(f"`{m}`" for m in missing),
                call.span,
                "required argument" + ("s" if len(missing) > 1 else "") + " missing",
            )
        return bound
