"""The `require` declarations against `mora.lock`: what `check` says instead of fetching.

A requirement that the lock does not record at the same repository and version, or a locked copy
that is missing or changed, is an error whose help is `mora get`; `check` never fetches.
"""

from __future__ import annotations

from mora import ast
from mora.deps.lock import STDLIB
from mora.diagnostics import Diagnostics, Label

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from mora.loader import LoadedProject

E_NOT_FETCHED = "E0130"  # a locked copy is missing or does not hash to the locked value
E_NOT_LOCKED = "E0131"  # a requirement mora.lock does not record (or at another version)
E_REQUIRE = "E0133"  # a requirement written twice, or one a dependency adds


def own_requires(loaded: LoadedProject) -> list[ast.RequireDecl]:
    """The `require` declarations of the project's own files (not the stdlib's or a module's)."""
    out: list[ast.RequireDecl] = []
    for module in loaded.modules:
        path = module.file.path
        if path in loaded.stdlib_modules or path in loaded.dependency_modules:
            continue
        out += [d for d in module.decls if isinstance(d, ast.RequireDecl)]
    return out


def same(decl: ast.RequireDecl, repository: str, version: str) -> bool:
    """Whether a requirement asks for what was locked (`require stdlib` names no repository)."""
    if decl.version != version:
        return False
    return decl.repository is None or decl.repository == repository


def check_requirements(loaded: LoadedProject, diags: Diagnostics) -> None:
    """Every requirement locked, every locked import required, dependencies add none."""
    required: dict[str, ast.RequireDecl] = {}
    for decl in own_requires(loaded):
        name = decl.name.text
        first = required.get(name)
        if first is not None:
            diags.error(
                E_REQUIRE,
                f"`{name}` is required twice",
                decl.name.span,
                "required again here",
                labels=[Label(first.name.span, "first required here")],
            )
            continue
        required[name] = decl
        entry = loaded.lock.get(name)
        if entry is None:
            diags.error(
                E_NOT_LOCKED,
                f"`{name}` is not in mora.lock",
                decl.span,
                "not fetched yet",
                help="run `mora get` (the only command that fetches) and commit mora.lock",
            )
        elif not same(decl, entry.repository, entry.version):
            diags.error(
                E_NOT_LOCKED,
                f"`{name}` is locked at {entry.repository} {entry.version}, "
                f"the project requires {decl.repository or entry.repository} {decl.version}",
                decl.span,
                "changed since `mora get`",
                help="run `mora get` to fetch it and update mora.lock",
            )
        elif name == STDLIB and loaded.stdlib_problem is not None:
            diags.error(
                E_NOT_FETCHED,
                f"the required stdlib cannot be used: {loaded.stdlib_problem}",
                decl.span,
                "required here",
                help="run `mora get` to fetch the locked version again",
            )
    from mora.loader import unknown_module

    for imp in loaded.unknown_modules:
        if imp.target not in required:
            unknown_module(imp, diags)
    for imp in loaded.locked_imports:
        if imp.target not in required:
            diags.error(
                E_NOT_LOCKED,
                f"`{imp.target}` is in mora.lock but the project does not require it",
                imp.span,
                "imported here",
                help=f'declare it: `require {imp.target} = "REPOSITORY//DIR" version "..."`, '
                "then run `mora get`",
            )
    for module in loaded.modules:
        if module.file.path not in loaded.dependency_modules:
            continue
        for decl in module.decls:
            if not isinstance(decl, ast.RequireDecl):
                continue
            own = required.get(decl.name.text)
            entry = loaded.lock.get(decl.name.text)
            if (
                own is not None
                and entry is not None
                and same(decl, entry.repository, entry.version)
            ):
                continue
            diags.error(
                E_REQUIRE,
                f"this dependency requires `{decl.name.text}` {decl.version}, "
                "which the project does not require at that version",
                decl.span,
                "required by the dependency",
                help="dependencies of a dependency are not fetched for you: add the same "
                "`require` line to the project and run `mora get`",
            )
