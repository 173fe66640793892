"""The check pass: declarations, names, types, taint and graph rules, with no site and no secrets.

Input: the parsed modules of one project. Output: a `Program` (symbol tables over the untouched
AST, `program.py`) that the evaluator walks, plus diagnostics. The checker never evaluates
site-dependent values, never touches secrets and never writes files; `mora check` is exactly this
pass. This module holds only the pass order; each concern is a module of its own:

    program.py       what the pass hands on: symbols, Program, body helpers, the codes
    context.py       CheckState (what the passes share) and _Ctx (where an expression sits)
    declarations.py  collect params, secrets, inputs, templates, services; types of declarations
    services.py      service bodies, attribute by attribute against the vocabulary
    blocks.py        block items, ports, settings, paths, devices, binds
    expressions.py   type_of, references, service fields, expect
    calls.py         calls and argument binding
    secrets.py       secret declarations, generators, leaks
    inputs.py        input declarations
    graph.py         dependencies, cycles, clashes
    unused.py        unused params, secrets, inputs
"""

from __future__ import annotations

from mora.check.blocks import BlocksPass
from mora.check.calls import CallsPass
from mora.check.context import _Ctx
from mora.check.declarations import DeclarationsPass
from mora.check.expressions import ExpressionsPass
from mora.check.graph import GraphPass
from mora.check.inputs import InputsPass
from mora.check.program import Program
from mora.check.secrets import SecretsPass
from mora.check.services import ServicesPass
from mora.check.unused import UnusedPass
from mora.diagnostics import Diagnostics
from mora.loader import LoadedProject


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
        for tmpl in p.templates.values():
            for ptype, tp in tmpl.params.values():
                if tp.default is not None:
                    self._expect_param(tp.default, ptype, tp, f"the default of `{tp.name.text}`")
            for sym in tmpl.secrets.values():
                self._check_secret(sym, _Ctx(template=tmpl))
            self._check_body(tmpl.decl.body, _Ctx(template=tmpl), service_name=None)
            for isym in tmpl.inputs.values():
                self._check_input(isym, _Ctx(template=tmpl))
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
        from mora.amend.check import apply_amends, has_amends  # instance bodies, `amend`

        if has_amends(self.loaded.modules):
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
        return p


def check(loaded: LoadedProject, diags: Diagnostics) -> Program:
    """Check a loaded project; problems go to `diags`."""
    return Checker(loaded, diags).run()
