"""The loader's hook: an aliased import opens a scope of its own (or is refused)."""

from __future__ import annotations

from typing import Any

from mora import ast
from mora.diagnostics import Diagnostics, Label
from mora.modules import E_ALIAS, RESERVED_WORDS, Scope, child_path, prefix_of


def enter(
    project: Any, parent: str, decl: ast.ImportDecl, importer: str, diags: Diagnostics
) -> str | None:
    """The scope path the files of `decl` load under, or None (reported) when the alias is
    unusable: a reserved word, or already the alias of another import of the same module."""
    assert decl.alias is not None
    scopes: dict[str, Scope] = project.scopes
    if not scopes:
        scopes[""] = Scope("", "")
    alias = decl.alias.text
    if alias in RESERVED_WORDS:
        diags.error(
            E_ALIAS,
            f"`{alias}` is a reserved word and cannot name a module",
            decl.alias.span,
            "reserved",
            help=f"`{alias}.x` already means something; pick another alias",
        )
        return None
    outer = scopes[parent]
    path = child_path(parent, alias)
    if alias in outer.aliases:
        first = scopes[outer.aliases[alias]].decl
        diags.error(
            E_ALIAS,
            f"`{alias}` names two imports",
            decl.alias.span,
            "used again here",
            labels=[Label(first.alias.span, "first used here")] if first and first.alias else [],
            help="give each import its own alias: two copies of one module need two names",
        )
        return None
    outer.aliases[alias] = path
    scopes[path] = Scope(path, prefix_of(path), decl, parent, importer)
    return path
