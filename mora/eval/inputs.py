"""Inputs in the manifest: answered from the store, or pending with what to ask and when."""

from __future__ import annotations

import contextlib

from mora import ast
from mora import model as M
from mora.eval.scope import (
    EvalState,
    _Scope,
)
from mora.eval.values import (
    ServiceRef,
    _Abort,
    _plain_text,
)


class InputsPass(EvalState):
    """Inputs for the manifest: their question, stage and the service waiting on them."""

    def _input(self, name: str) -> M.Input:
        sym = self.program.inputs[name]
        scope = _Scope()
        if sym.instance and sym.service:
            with contextlib.suppress(_Abort):
                scope = self._scope_for(self.program.services[sym.service])
        after: list[str] = []
        prompt: str | None = None
        description: str | None = None
        producer: str | None = None
        for entry in sym.decl.body.entries:
            if not isinstance(entry, ast.Attr):
                continue
            if entry.key.text == "from" and isinstance(entry.value, ast.Ref):
                producer = ".".join(p.text for p in entry.value.parts[:1] + entry.value.parts[2:])
                continue
            try:
                value = self._eval(entry.value, scope)
            except _Abort:
                continue
            if entry.key.text == "after":
                items = value if isinstance(value, list) else [value]
                after = [v.name for v in items if isinstance(v, ServiceRef)]
            elif entry.key.text == "prompt":
                prompt = _plain_text(value)
            elif entry.key.text == "description":
                description = _plain_text(value)
        return M.Input(
            name=name,
            type=str(sym.type.public())
            if sym.type.kind != "string" or not sym.type.secret
            else "secret",
            service=sym.service,
            after=after,
            prompt=prompt,
            description=description,
            producer=producer,
            answered=name in self.inputs,
        )

    def _inputs_of(self) -> dict[str | None, list[str]]:
        """Service -> its inputs' names, sorted; built once (not a scan of every input per service)."""
        if self._inputs_index is None:
            self._inputs_index = {}
            for name, inp in sorted(self.program.inputs.items()):
                self._inputs_index.setdefault(inp.service, []).append(name)
        return self._inputs_index
