"""Which service an `amend TARGET` changes: the one place a target name is resolved.

A target is a service's plain name (`amend watch`), wherever in the project (an imported file
included) it is declared, or a module's service by its dotted name (`amend media.watch` for the
`watch` of `import "../media" as media`, resolved by mora.modules.resolve).
"""

from __future__ import annotations

from mora import ast
from mora.check.program import Program, ServiceSym
from mora.diagnostics import did_you_mean


class Unresolved(Exception):
    """No service of that name: `what` says why and `help` how to fix it (for the diagnostic)."""

    def __init__(self, what: str, label: str, help: str | None, reported: bool = False) -> None:
        super().__init__(what)
        self.what = what
        self.label = label
        self.help = help
        self.reported = reported  # already said (E0106 by mora.modules): no second diagnostic


def resolve_target(program: Program, target: ast.Ref) -> ServiceSym:
    """The service `target` names, or `Unresolved` with a did-you-mean."""
    name = target.dotted
    if len(target.parts) == 1 and "." in name:  # mora.modules' placeholder for a reported name
        raise Unresolved(f"no service `{name}` to amend", "reported", None, reported=True)
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
    from mora.modules.resolve import resolve_service  # `media.watch`: a module's service

    svc, guesses = resolve_service(program, name)
    if svc is not None:
        return svc
    head = target.parts[0].text
    scopes = getattr(program, "modules", None) or {}
    if ".".join(p.text for p in target.parts[:-1]) not in scopes:
        raise Unresolved(
            f"no module `{head}` to amend a service of",
            "not a module",
            f"did you mean `{guesses[0]}`?"
            if guesses
            else f"to amend a service of this project, write `amend {target.parts[-1].text}`",
        )
    raise Unresolved(  # the module reported its unknown member (E0106, with did-you-mean)
        f"no service `{name}` to amend",
        "not a service of that module",
        None,
        reported=True,
    )
