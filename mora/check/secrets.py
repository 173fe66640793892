"""Secret declarations, their generators and parts, and the rules that keep secrets from leaking."""

from __future__ import annotations

from mora import ast
from mora import types as T
from mora.check.context import (
    CheckState,
    _Ctx,
    _ParamView,
)
from mora.check.expressions import (
    _literal_value,
)
from mora.check.program import (
    _LEAK_HELP,
    E_CYCLE,
    E_SECRET_LEAK,
    E_TYPE,
    E_UNKNOWN_FUNCTION,
    E_UNKNOWN_SECRET,
    E_VALUE,
    SecretSym,
    secret_names_in,
)
from mora.diagnostics import did_you_mean


def _generator_param_type(text: str) -> T.Type:
    return {
        "int": T.INT,
        "string": T.STRING,
        "bool": T.BOOL,
        "list(string)": T.list_of(T.STRING),
        "secret": T.SECRET_STRING,
    }.get(text, T.ANY)


class SecretsPass(CheckState):
    """Secret declarations and generators, and the diagnostics for a secret that would leak."""

    def _check_secret(self, sym: SecretSym, ctx: _Ctx | None = None) -> None:
        ctx = ctx or _Ctx()
        value = sym.decl.value
        if value is None:
            return  # set by hand: `mora secrets set NAME`
        if not isinstance(value, ast.Call):
            self.diags.error(
                E_TYPE,
                "a secret's value is a generator call",
                value.span,
                "not a generator call",
                help="like `password(length: 32)`, `hex(16)` or `bcrypt(secret.admin)`; "
                "to set a value by hand, declare `secret NAME` and run `mora secrets set NAME`",
            )
            return
        gens = self.generators()
        gname = value.func.dotted
        gen = gens.get(gname)
        if gen is None:
            self.diags.error(
                E_UNKNOWN_FUNCTION,
                f"unknown secret generator `{gname}`",
                value.func.span,
                "not a generator",
                help=did_you_mean(gname, gens) or "generators: " + ", ".join(sorted(gens)),
            )
            return
        sym.generator = gname
        sym.parts = tuple(gen.parts)  # type: ignore[attr-defined]
        sym.public_parts = frozenset(gen.public_parts)  # type: ignore[attr-defined]
        params = [
            _ParamView(p.name, _generator_param_type(p.type), p.required)  # type: ignore[attr-defined]
            for p in gen.params  # type: ignore[attr-defined]
        ]
        bound = self._bind_args(value, params, f"`{gname}()`")
        literal: dict[str, object] = {}
        all_literal = True
        before = len(self.diags)
        for pname, arg in bound.items():
            ptype = next(p.type for p in params if p.name == pname)
            if ptype.secret:
                self._expect_secret_ref(arg.value, sym, ctx)
                continue
            self.expect(arg.value, ptype, ctx, f"argument `{pname}`", secret_ok=False)
            lit = _literal_value(arg.value)
            if lit is None:
                all_literal = False
            else:
                literal[pname] = lit
        if all_literal and len(self.diags) == before:
            # Literal arguments can be checked now, so `mora check` catches `password(length: 3)`.
            from mora.secrets.errors import GeneratorError

            try:
                gen.normalize_args(literal)  # type: ignore[attr-defined]
            except GeneratorError as err:
                self.diags.error(E_VALUE, str(err), value.span, "invalid arguments", help=err.help)

    def _expect_secret_ref(self, expr: ast.Expr, sym: SecretSym, ctx: _Ctx) -> None:
        if (
            isinstance(expr, ast.Ref)
            and len(expr.parts) in (2, 3)
            and expr.parts[0].text == "secret"
        ):
            if len(expr.parts) == 3:
                self.type_of(expr, ctx)
            else:  # the whole secret, all its parts (e.g. a CA for tls_cert)
                name = expr.parts[1]
                if self._local(ctx, "secrets", name.text) is None:
                    if name.text not in self.program.secrets:
                        self._unknown(E_UNKNOWN_SECRET, "secret", name, self.program.secrets)
                    else:
                        self.used.add(("secret", name.text))
            if expr.parts[1].text == sym.decl.name.text:
                self.diags.error(
                    E_CYCLE, "a secret cannot be derived from itself", expr.span, "this is itself"
                )
            return
        self.diags.error(
            E_TYPE,
            "expected a reference to another secret",
            expr.span,
            "not `secret.NAME`",
            help="derived secrets take their source as `secret.NAME` (or `secret.NAME.part`)",
        )

    def generators(self) -> dict[str, object]:
        if self._generators is None:
            try:
                from mora.secrets.generators import GENERATORS

                self._generators = dict(GENERATORS)
            except ImportError:  # the secrets package is optional for the core
                self._generators = {}
        return self._generators

    def _check_secret_early(self, sym: SecretSym) -> None:
        """A secret referenced before its own check ran: resolve its parts first."""
        value = sym.decl.value
        if isinstance(value, ast.Call):
            gen = self.generators().get(value.func.dotted)
            if gen is not None:
                if sym.instance is not None:
                    sym.generator = value.func.dotted
                sym.parts = tuple(gen.parts)  # type: ignore[attr-defined]
                sym.public_parts = frozenset(gen.public_parts)  # type: ignore[attr-defined]

    def _no_secret(self, t: T.Type, expr: ast.Expr, what: str) -> None:
        if t.secret:
            self._leak(expr, what)

    def _leak(self, expr: ast.Expr, what: str) -> None:
        names = secret_names_in(expr)
        self.diags.error(
            E_SECRET_LEAK,
            f"secret value in {what}",
            expr.span,
            "contains " + ", ".join(f"`{n}`" for n in names) if names else "this is secret",
            help=_LEAK_HELP,
        )
