"""Input declarations: their type, `after`, prompt and the service that needs them."""

from __future__ import annotations

from mora import ast
from mora import types as T
from mora.check.context import (
    CheckState,
    _Ctx,
)
from mora.check.program import (
    E_DUPLICATE,
    E_MISSING_ATTR,
    E_TYPE,
    INPUT_ATTRS,
    InputSym,
)
from mora.diagnostics import Label
from mora.source import Span


class InputsPass(CheckState):
    """Input declarations, checked once per service or template that declares them."""

    def _check_input(self, inp: InputSym, ctx: _Ctx) -> None:
        seen: dict[str, Span] = {}
        for entry in inp.decl.body.entries:
            if not isinstance(entry, ast.Attr):
                self.diags.error(
                    E_TYPE, "an input takes `after`, `prompt` and `description`", entry.span, "here"
                )
                continue
            k = entry.key.text
            if not self._known(k, entry.key.span, INPUT_ATTRS, "input setting"):
                continue
            if k in seen:
                self.diags.error(
                    E_DUPLICATE,
                    f"`{k}` is set more than once",
                    entry.key.span,
                    "set again here",
                    labels=[Label(seen[k], "first set here")],
                )
                continue
            seen[k] = entry.key.span
            if k == "after":
                value = entry.value
                if isinstance(value, ast.ListExpr):
                    self.expect(value, T.list_of(T.SERVICE), ctx, "`after`", secret_ok=False)
                elif isinstance(value, ast.StringLit) and value.is_plain:
                    self._expect_items(
                        ast.ListExpr((ast.ListItem(value, None, value.span),), value.span),
                        T.list_of(T.SERVICE),
                        ctx,
                        "`after`",
                        False,
                        None,
                    )
                else:
                    t = self.type_of(value, ctx)
                    if not (T.assignable(t, T.SERVICE) or T.assignable(t, T.list_of(T.SERVICE))):
                        self._mismatch(value, "a service or a list of services", t)
            elif k != "from":  # `from`: checked with the steps (mora/steps/check.py)
                self.expect(entry.value, T.STRING, ctx, f"`{k}`", secret_ok=False)
        if "prompt" not in seen and "from" not in seen:
            self.diags.error(
                E_MISSING_ATTR,
                f"input `{inp.decl.name.text}` has no `prompt`",
                inp.decl.name.span,
                "the person answering needs to know what to do",
                help='add `prompt = "Open ${svc.url}/settings, create an API key, paste it here"`',
            )
