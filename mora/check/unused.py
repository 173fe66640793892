"""Unused params, secrets and inputs: warnings once every other pass has marked what it used."""

from __future__ import annotations

from mora import ast
from mora.check.context import (
    CheckState,
)
from mora.check.graph import (
    _refs_in,
)
from mora.check.program import (
    W_UNUSED_INPUT,
    W_UNUSED_PARAM,
    W_UNUSED_SECRET,
)


class UnusedPass(CheckState):
    """Warnings for params, secrets and inputs nothing uses (after every other pass)."""

    def _report_unused(self) -> None:
        if self.broken or any(d.code.startswith("E000") for d in self.diags):
            return  # uses may sit in text a syntax error dropped: no false "never used"
        p = self.program
        for name, sym in p.params.items():
            if ("param", name) not in self.used:
                self.diags.warning(
                    W_UNUSED_PARAM,
                    f"param `{name}` is never used",
                    sym.decl.name.span,
                    "declared here",
                    help="remove it, or use it as `param." + name + "`",
                )
        derived_sources = {
            r.parts[1].text
            for s in p.secrets.values()
            if isinstance(s.decl.value, ast.Call)
            for a in s.decl.value.args
            for r in _refs_in(a.value, {})
            if r.parts[0].text == "secret" and len(r.parts) > 1
        }
        for name, ssym in p.secrets.items():
            if ssym.instance is not None:
                continue  # a template's secret: part of what the template sets up
            if ("secret", name) not in self.used and name not in derived_sources:
                self.diags.warning(
                    W_UNUSED_SECRET,
                    f"secret `{name}` is never used",
                    ssym.decl.name.span,
                    "declared here",
                    help="remove it, or use it as `secret." + name + "`",
                )
        for name, isym in p.inputs.items():
            if isym.instance:
                continue
            if ("input", name) not in self.used:
                self.diags.warning(
                    W_UNUSED_INPUT,
                    f"input `{name}` is never used",
                    isym.decl.name.span,
                    "declared here",
                    help="remove it, or use it as `input." + name + "`",
                )
