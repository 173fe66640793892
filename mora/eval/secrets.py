"""Secrets and their requests: what the store must hold, and the values it hands back.

The store is reached only through the `Provider` protocol (filled by `mora.secrets`), so this
package imports no cryptography; diagnostics name secrets, never show their values.
"""

from __future__ import annotations

from collections.abc import Mapping

from mora import ast
from mora.eval.scope import (
    E_EVAL,
    E_SECRETS,
    INPUT_PREFIX,
    STATE_PREFIX,
    W_ORPHANED_SECRET,
    W_STALE_SECRET,
    EvalState,
    _Scope,
)
from mora.eval.values import (
    _Abort,
    _jsonable,
)

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object  # the structural types are for type checkers only


class Resolution(Protocol):
    values: Mapping[str, Mapping[str, str]]
    missing: list[str]
    orphaned: list[str]
    stale: list[str]


class Provider(Protocol):
    def resolve(self, requests: Any) -> Resolution: ...


class SecretsPass(EvalState):
    """The secret requests a program makes, and their values taken from the provider."""

    def secret_requests(self) -> list[Any] | None:
        """What the store is asked for: every declared secret (with its evaluated arguments)
        and every input (as `input.NAME`). None when an argument could not be evaluated."""
        from mora.moved import secret_moves
        from mora.secrets.provider import SecretRef, SecretRequest

        moves = secret_moves(self.program)  # `moved old -> new`: the store names carried over
        requests = []
        for name, sym in self.program.secrets.items():
            args: dict[str, object] = {}
            sources: dict[str, SecretRef] = {}
            call = sym.decl.value
            try:
                scope = (
                    self._scope_for(self.program.services[sym.instance])
                    if sym.instance
                    else _Scope()
                )
            except _Abort:
                return None
            if isinstance(call, ast.Call) and sym.generator is not None:
                from mora.secrets.generators import GENERATORS

                gen = GENERATORS[sym.generator]
                for i, arg in enumerate(call.args):
                    pname = arg.name.text if arg.name else gen.params[i].name
                    value = arg.value
                    if (
                        isinstance(value, ast.Ref)
                        and value.parts[0].text == "secret"
                        and len(value.parts) >= 2
                    ):
                        part = value.parts[2].text if len(value.parts) > 2 else None
                        source = self._own(scope, "secrets", value.parts[1].text)
                        sources[pname] = SecretRef(source, part)
                        continue
                    errors_before = self._errors()
                    try:
                        args[pname] = _jsonable(self._eval(value, scope))
                    except _Abort:
                        if self._errors() == errors_before:
                            self.diags.error(
                                E_EVAL,
                                f"cannot evaluate the arguments of secret `{name}`",
                                value.span,
                                "here",
                            )
                        return None
            requests.append(SecretRequest(name, sym.generator, args, sources, moves.get(name)))
        for name in self.program.inputs:
            key = INPUT_PREFIX + name
            requests.append(SecretRequest(key, None, {}, {}, moves.get(key)))
        from mora.steps.check import state_names  # what setup steps keep in the store

        requests += [
            SecretRequest(n, None, {}, {}, per_item=per_item)
            for n, per_item in state_names(self.program)
        ]
        return requests

    def _resolve_secrets(self) -> None:
        if not self.program.secrets and not self.program.inputs:
            return
        if self.provider is None:
            self.diags.error(E_SECRETS, "no secret store to take secret values from", None)
            return
        requests = self.secret_requests()
        if requests is None:
            return
        from mora.secrets.errors import SecretsError

        try:
            resolution = self.provider.resolve(requests)
        except SecretsError as err:
            sym = self.program.secrets.get(err.secret or "")
            self.diags.error(
                E_SECRETS,
                str(err),
                sym.decl.name.span if sym else None,
                "this secret" if sym else "",
                help=err.help,
            )
            return
        for gen_err in getattr(resolution, "errors", []):
            sym = self.program.secrets.get(gen_err.secret or "")
            self.diags.error(
                E_SECRETS,
                str(gen_err),
                sym.decl.value.span if sym and sym.decl.value else None,
                "cannot generate this secret",
                help=gen_err.help,
            )
        for name, parts in resolution.values.items():
            if name.startswith(INPUT_PREFIX):
                self.inputs[name[len(INPUT_PREFIX) :]] = parts.get("value", "")
            else:
                self.secret_values[name] = parts
        for name in resolution.missing:
            if name.startswith((INPUT_PREFIX, STATE_PREFIX)):
                continue  # unanswered inputs make their users pending; steps not run yet
            sym = self.program.secrets[name]
            self.diags.error(
                E_SECRETS,
                f"secret `{name}` has no value yet",
                sym.decl.name.span,
                "declared without a generator",
                help=f"set it with `mora secrets set {name}` (reads the value from stdin)",
            )
        from mora.moved import warn_renames

        explained = warn_renames(self.program, resolution.orphaned, self.diags)
        for name in resolution.orphaned:
            if name in explained:
                continue  # a likely rename: the help is `moved`, never `prune`
            self.diags.warning(
                W_ORPHANED_SECRET,
                f"the site store keeps `{name}`, which the project no longer declares",
                None,
                help="`mora secrets prune` removes it",
            )
        for name in resolution.stale:
            sym = self.program.secrets.get(name)
            self.diags.warning(
                W_STALE_SECRET,
                f"secret `{name}` was generated with other settings; the stored value is kept",
                sym.decl.name.span if sym else None,
                "declaration changed",
                help=f"`mora secrets rotate {name}` generates it anew with these settings",
            )

    def _own(self, scope: _Scope, table: str, local: str) -> str:
        """The global name of `secret.x` / `input.x` as written inside a template instance."""
        svc = scope.service
        if svc is not None and svc.template is not None and local in getattr(svc.template, table):
            return f"{svc.name}_{local}"
        return local
