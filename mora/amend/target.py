"""Which service an `amend TARGET` changes: the one place a target name is resolved.

Today a target is a service's plain name (`amend watch`), wherever in the project (an imported
file included) it is declared. Namespaced modules (`import "../media" as media`) extend this
function so that `amend media.watch` finds the module's `watch`; nothing else reads the dotted
name, so that is the only change they need.
"""

from __future__ import annotations

from mora import ast
from mora.check.program import Program, ServiceSym
from mora.diagnostics import did_you_mean


class Unresolved(Exception):
    """No service of that name: `what` says why and `help` how to fix it (for the diagnostic)."""

    def __init__(self, what: str, label: str, help: str | None) -> None:
        super().__init__(what)
        self.what = what
        self.label = label
        self.help = help


def resolve_target(program: Program, target: ast.Ref) -> ServiceSym:
    """The service `target` names, or `Unresolved` with a did-you-mean."""
    name = target.dotted
    if len(target.parts) == 1:
        svc = program.services.get(name)
        if svc is not None:
            return svc
        if name in program.templates:
            instances = sorted(
                n for n, s in program.services.items() if s.template is not None
                and s.template.decl.name.text == name
            )
            raise Unresolved(
                f"`{name}` is a template, not a service",
                "a template",
                f"amend the service made from it: `amend {instances[0]} {{ ... }}`"
                if instances
                else f"make a service from it (`service NAME = {name}(...)`) and amend that",
            )
        renamed = next((new for new, old in program.moved.items() if old == name), None)
        if renamed is not None:  # `moved name -> renamed`: the amend did not follow
            raise Unresolved(
                f"no service `{name}` to amend: it was renamed to `{renamed}`",
                "renamed by a `moved` line",
                f"amend the service by its new name: `amend {renamed} {{ ... }}`",
            )
        raise Unresolved(
            f"no service `{name}` to amend",
            "not a service of this project",
            did_you_mean(name, program.services)
            or "an amend changes a service declared elsewhere (in this project or a file it "
            "imports); check that the service still exists upstream",
        )
    head = target.parts[0].text
    raise Unresolved(
        f"no module `{head}` to amend a service of",
        "not a module",
        f"to amend a service of this project, write `amend {target.parts[-1].text}`",
    )
