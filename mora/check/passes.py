"""The check pass in order: the `Checker` class that runs every pass over one project.

Kept apart from `mora/check/__init__.py` so that importing `mora.check.program` (what a
checked program is made of: the evaluator and an unpickled program from the check cache need
it) does not import every pass (~9 ms of a compile whose check was replayed).
"""

from __future__ import annotations

from mora import ast
from mora.check.blocks import BlocksPass
from mora.check.calls import CallsPass
from mora.check.context import _Ctx
from mora.check.declarations import DeclarationsPass
from mora.check.expressions import ExpressionsPass
from mora.check.graph import GraphPass
from mora.check.inputs import InputsPass
from mora.check.program import Program, TemplateSym
from mora.check.reuse import Reuse, enabled
from mora.check.secrets import SecretsPass
from mora.check.services import ServicesPass
from mora.check.unused import UnusedPass


def has_amends(modules: list[ast.Module]) -> bool:
    """Whether any file amends a service (else the pass is skipped: nothing to do). Here, not
    in `mora.amend.check`: most projects have neither, and need not import it (~0.5 ms)."""
    return any(
        isinstance(d, ast.AmendDecl)
        or (isinstance(d, ast.ServiceDecl) and d.instance is not None and d.body is not None)
        for m in modules
        for d in m.decls
    )


class Checker(
    DeclarationsPass,
    ServicesPass,
    BlocksPass,
    ExpressionsPass,
    CallsPass,
    SecretsPass,
    InputsPass,
    GraphPass,
    UnusedPass,
):
    """The passes over one `CheckState`, in the order `run` gives them."""

    def run(self) -> Program:
        self._collect()
        from mora.moved import collect_moved

        self.program.moved = collect_moved(self.loaded, self.program, self.diags)
        p = self.program
        for sym in p.params.values():
            self._check_param(sym)
        if p.contracts:
            from mora.contracts.check import check_defaults

            check_defaults(self)  # type: ignore[arg-type]
        for sym in p.secrets.values():
            if sym.instance is None:
                self._check_secret(sym)
        if enabled():  # a template from outside the project: its check is kept (reuse.py)
            self.reuse = Reuse(self)
            for name, tmpl in p.templates.items():
                self.reuse.run("body", name, tmpl, lambda t=tmpl: self._check_template(t))
        else:
            for tmpl in p.templates.values():
                self._check_template(tmpl)
        for sym in p.secrets.values():
            if sym.instance is not None:  # a copy: same generator and parts as its template's
                self._check_secret_early(sym)
        for svc in p.services.values():
            if svc.decl.instance is not None:
                self._check_instance(svc)
            else:
                self._check_body(svc.body, _Ctx(service=svc), service_name=svc.name)
        for dup in self._shadowed:
            self._check_body(dup.body, _Ctx(service=dup), service_name=dup.name)
        if p.contracts:  # requests sent to a provider that never reads them (E0362)
            from mora.contracts.requests import check_unread

            check_unread(self)  # type: ignore[arg-type]
        if has_amends(self.loaded.modules):  # instance bodies, `amend`
            from mora.amend.check import apply_amends

            apply_amends(self)  # the services' merged bodies, for every pass after this one
        if p.defaults:
            from mora.contracts.defaults import report_unused

            report_unused(self)  # type: ignore[arg-type]
        for inp in p.inputs.values():
            if not inp.instance:
                self._check_input(inp, _Ctx())
        self._check_graph()
        from mora.steps.check import check_setup

        check_setup(self)
        self._check_static_clashes()
        self._report_unused()
        self._note_unknown_users()
        if self.reuse is not None:
            self.reuse.save()
        return p

    def _check_template(self, tmpl: TemplateSym) -> None:
        """A template's parameter defaults, secrets, body and inputs, once for all its
        instances (the steps: `mora.steps.check`)."""
        for ptype, tp in tmpl.params.values():
            if tp.default is not None:
                self._expect_param(tp.default, ptype, tp, f"the default of `{tp.name.text}`")
        for sym in tmpl.secrets.values():
            self._check_secret(sym, _Ctx(template=tmpl))
        self._check_body(tmpl.decl.body, _Ctx(template=tmpl), service_name=None)
        for isym in tmpl.inputs.values():
            self._check_input(isym, _Ctx(template=tmpl))
