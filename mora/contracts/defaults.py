"""Defaults per module: `defaults { uid = param.uid  timezone = param.timezone }` (issue 17).

The arguments every instance of a file repeats (the user id, the time zone, the media root) are
written once. A default applies to a `service x = template(...)` of the same file whose template
has a parameter of that name and whose call leaves it out: an explicit argument always wins, a
template without the parameter is not affected, and other files (the ones this file imports,
and the ones that import it) never see it. A default is checked as the argument it stands for;
one that no instance of its file takes is W0006.
"""

from __future__ import annotations

from mora import ast
from mora.diagnostics import Label, closest

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from mora.check import Checker
    from mora.check.program import Program, ServiceSym

E_DEFAULTS = "E0356"
W_UNUSED_DEFAULT = "W0006"


def collect(ck: Checker) -> None:
    """Every `defaults` block, by the file it sits in (one table per file)."""
    tables: dict[str, dict[str, ast.Attr]] = ck.program.defaults
    for module in ck.loaded.modules:
        for decl in module.decls:
            if not isinstance(decl, ast.DefaultsDecl):
                continue
            table = tables.setdefault(module.file.path, {})
            for entry in decl.body.entries:
                if not isinstance(entry, ast.Attr):
                    span = entry.key.span if isinstance(entry, ast.Block) else entry.span
                    ck.diags.error(
                        E_DEFAULTS,
                        "`defaults` holds `name = value` entries only",
                        span,
                        "not an argument",
                        help="write each default as the argument it stands for: `uid = param.uid`",
                    )
                    continue
                first = table.get(entry.key.text)
                if first is not None:
                    ck.diags.error(
                        "E0201",
                        f"default `{entry.key.text}` is set twice in this file",
                        entry.key.span,
                        "set again here",
                        labels=[Label(first.key.span, "first set here")],
                    )
                    continue
                table[entry.key.text] = entry


def for_instance(program: Program, svc: ServiceSym) -> dict[str, ast.Attr]:
    """The defaults of the file that declares `svc` that its template has a parameter for."""
    if svc.template is None or svc.decl.instance is None:
        return {}
    table = program.defaults.get(svc.decl.span.file.path, {})
    return {k: v for k, v in table.items() if k in svc.template.params}


def with_defaults(
    program: Program, svc: ServiceSym, args: dict[str, ast.Expr]
) -> dict[str, ast.Expr]:
    """An instance's argument expressions with the file's defaults for the ones left out."""
    return {**{k: a.value for k, a in for_instance(program, svc).items()}, **args}


def check_instance(ck: Checker, svc: ServiceSym, bound: dict[str, object]) -> None:
    """Each default an instance takes, checked against the parameter it fills."""
    assert svc.template is not None
    used: set[tuple[str, str]] = ck.__dict__.setdefault("_defaults_used", set())
    for name, attr in for_instance(ck.program, svc).items():
        if name in bound:
            continue  # the explicit argument wins
        ptype, tp = svc.template.params[name]
        ck._expect_param(attr.value, ptype, tp, f"the default `{name}`")
        used.add((svc.decl.span.file.path, name))


def report_unused(ck: Checker) -> None:
    """W0006: a default no instance of its file takes (a typo, or a leftover)."""
    used: set[tuple[str, str]] = ck.__dict__.get("_defaults_used", set())
    for path, table in ck.program.defaults.items():
        params = {  # what the instances of this file could take
            p
            for svc in ck.program.services.values()
            if svc.template is not None and svc.decl.span.file.path == path
            for p in svc.template.params
        }
        for name, attr in table.items():
            if (path, name) not in used:
                guess = closest(name, sorted(params - set(table)))
                ck.diags.warning(
                    W_UNUSED_DEFAULT,
                    f"default `{name}` is taken by no service of this file",
                    attr.key.span,
                    "no instance here has a parameter of this name left out",
                    help=f"did you mean `{guess}`?"
                    if guess
                    else "defaults apply only to `service x = template(...)` in the same file, "
                    "to parameters the call leaves out; remove it or fix its name",
                )
