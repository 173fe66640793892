"""Optional services: `enabled = <bool>` (issue 17).

A disabled service is checked like any other and its values (`x.url`, `x.ports.http`, a
contract's fields) still evaluate, so a project reads the same with the service on or off; what
changes is the output: the service, and the inputs it declares, are left out of the manifest and
so of every backend. A service that is deployed may not wait for one that is not (its
`depends_on`, the provider of a contract argument, an input's `after`): that is E0355 with the fix,
never a unit that waits for nothing.
"""

from __future__ import annotations

from mora import ast
from mora.diagnostics import Label

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from mora import model as M
    from mora.eval import Evaluator

E_DISABLED_DEPENDENCY = "E0355"


def disabled_services(ev: Evaluator) -> set[str]:
    """The services whose `enabled` evaluates to false for this site."""
    from mora.eval.values import _Abort

    out: set[str] = set()
    for name, svc in ev.program.services.items():
        scope = ev._scope_for(svc)
        try:
            for entry in ev._attrs(svc.body, scope):
                if isinstance(entry, ast.Attr) and entry.key.text == "enabled":
                    value = ev._eval(entry.value, scope)  # an input: E0505 with the rest
                    if value is False:
                        out.add(name)
        except _Abort:
            continue  # reported
    return out


def check_dependencies(
    ev: Evaluator, services: dict[str, M.Service], inputs: dict[str, M.Input], disabled: set[str]
) -> None:
    """A deployed service that waits for a disabled one is an error, with the way out."""
    if not disabled:
        return
    for name, svc in services.items():
        for dep in svc.depends_on:
            if dep in disabled:
                _report(ev, name, dep, f"`{name}` is deployed but `{dep}` is not", "waits for it")
    for inp in inputs.values():
        if inp.service in services:
            for dep in inp.after:
                if dep in disabled:
                    _report(
                        ev,
                        inp.service or "",
                        dep,
                        f"input `{inp.name}` of `{inp.service}` waits for `{dep}`, which is not "
                        "deployed",
                        "its service is deployed",
                    )


def _report(ev: Evaluator, name: str, dep: str, message: str, how: str) -> None:
    decl = ev.program.services[name].decl
    other = ev.program.services[dep].decl
    ev.diags.error(
        E_DISABLED_DEPENDENCY,
        message,
        decl.name.span,
        how,
        labels=[Label(other.name.span, f"`{dep}` is disabled for this site (`enabled`)")],
        help=f"give `{name}` the same `enabled` condition as `{dep}`, or stop waiting for it "
        "(for a contract argument: make it optional and pass `none`)",
    )
