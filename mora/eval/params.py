"""Site params: each declared param from the site, its default or an error, typed once."""

from __future__ import annotations

import contextlib

from mora.diagnostics import Label, did_you_mean
from mora.eval.scope import (
    E_EVAL,
    E_MISSING_PARAM,
    E_SITE_VALUE,
    W_UNKNOWN_SITE_PARAM,
    EvalState,
    _Scope,
)
from mora.eval.values import (
    _Abort,
    _example,
    _shell_quote,
    _show_value,
    _unit,
)
from mora.site import SiteValue, coerce

E_SITE_PROVIDER = "E0522"  # the site gives a module's provider param


class ParamsPass(EvalState):
    """Site params typed against their declarations, defaults evaluated once, cycles refused."""

    def _param(self, name: str) -> object:
        """A param's value for this site, resolved on first use (defaults may use other params,
        declared before or after). Raises _Abort when it has none (reported once)."""
        if name in self.params:
            return self.params[name]
        if name in self._params_failed:
            raise _Abort
        sym = self.program.params[name]
        if name in self._params_busy:
            self.diags.error(
                E_EVAL,
                f"the default of param `{name}` depends on itself",
                sym.decl.name.span,
                "here",
            )
            self._params_failed.add(name)
            raise _Abort
        self._params_busy.add(name)
        try:
            value = self._param_value(name)
        except _Abort:
            self._params_failed.add(name)
            raise
        finally:
            self._params_busy.discard(name)
        self.params[name] = value
        return value

    def _param_value(self, name: str) -> object:
        sym = self.program.params[name]
        given = self.site.params
        if name in given:
            sv = given[name]
            if sym.type.kind == "optional" and sym.type.args[0].kind == "contract":
                self._site_gives_provider(name, sv)  # E0522
            value, problem = coerce(sv.value, sym.type, from_text=sv.origin == "--set")
            if problem:
                shown = _show_value(sv.value)
                declared = Label(sym.decl.type.span, f"`{name}` is declared `{sym.type}` here")
                self.diags.error(
                    E_SITE_VALUE,
                    f"invalid value {shown} for param `{name}` from {sv.origin}: {problem}",
                    sv.span or sym.decl.name.span,
                    problem if sv.span else f"declared as `{sym.type}`",
                    labels=[declared] if sv.span else [],
                )
                raise _Abort
            if sym.type.kind in ("duration", "size") and isinstance(value, str):
                return _unit(value, sym.type.kind)
            return value
        if sym.decl.default is not None:
            return self._eval(sym.decl.default, _Scope())
        if sym.type.kind == "optional":  # left out by the site: `none`
            return None
        example = _example(sym.type)
        shown, nested = name, f"{name}: {example}"
        if self.program.modules:  # a module's param: `media.gpu`, under its alias in the file
            from mora.modules.site import shown as shown_name

            shown = shown_name(self.program, name)
            *outer, last = shown.split(".")
            nested = f"{last}: {example}"
            for part in reversed(outer):
                nested = f"{part}: {{{nested}}}"
        self.diags.error(
            E_MISSING_PARAM,
            f"missing required param `{shown}` (`{sym.type}`)",
            sym.decl.name.span,
            "the site must give a value",
            help=f"pass `--set {shown}={_shell_quote(example)}`, or in the site file: "
            f"`params: {{{nested}}}`",
        )
        raise _Abort

    def _site_gives_provider(self, name: str, sv: SiteValue) -> None:
        """E0522: a module's provider param (`optional(identity)`) comes from the importing
        file, never from the site: a site holds values, and a provider is a service."""
        sym = self.program.params[name]
        shown = name
        if self.program.modules:
            from mora.modules.site import shown as shown_name

            shown = shown_name(self.program, name)
        span = sv.span
        own = shown.rsplit(".", 1)[-1]  # as the module declares it (`name` is prefixed)
        declared = Label(sym.decl.type.span, f"`{own}` is declared `{sym.type}` here")
        self.diags.error(
            E_SITE_PROVIDER,
            f"{sv.origin} gives `{shown}`, a provider (`{sym.type}`)",
            span or sym.decl.name.span,
            "a site cannot give a provider" if span else f"declared as `{sym.type}`",
            labels=[declared] if span else [],
            help=f"a site cannot give a provider: the importing project passes `{own}` in its "
            f"import (`import \"DIR\" as ALIAS ({own}: SERVICE)`) or its `defaults` "
            f"(`{own} = SERVICE`); compiled on its own the module gets none: remove it from the "
            "site",
        )
        raise _Abort

    def resolve_params(self) -> None:
        if self.program.modules:  # `params: {media: {gpu: true}}`: a module's, under its alias
            from mora.modules.site import expand

            self.site.params = expand(self.program, self.site.params, self.diags)
        given = self.site.params
        for name in self.program.params:
            with contextlib.suppress(_Abort):
                self._param(name)
        for name, sv in given.items():
            if name not in self.program.params:
                self.diags.warning(
                    W_UNKNOWN_SITE_PARAM,
                    f"{sv.origin} sets `{name}`, which the project does not declare",
                    None,
                    help=did_you_mean(
                        name, [*self.program.params, *self.program.modules.get("", {}).aliases]
                    )
                    if self.program.modules
                    else did_you_mean(name, self.program.params),
                )
