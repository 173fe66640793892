"""Namespaced modules: `import "../media" as media (uid: param.uid)` (issue 17).

A project, a file or a stdlib module imported under an alias is a copy of its own: everything it
declares is reached through the alias (`media.watch.url`, `media.secret.tv_api_key`,
`media.param.uid`), and inside it nothing changes (its references stay unqualified).

The rest of the compiler keeps one flat namespace, so the loader hands every aliased file to
`mora.modules.rewrite`, which gives each declaration the module's prefix (`watch` under `media`
becomes `media-watch`, `secret.token` `media-token`). `-` cannot appear in a name the source
declares, so a prefixed name never equals one of the project's own, and `a_b` + `c` never meets
`a` + `b_c`; it is valid where service names go (host names in `internal_url`, Kubernetes
objects, quadlet units, volume names, store keys), where `_` would not be a host name. Two
aliases of one module therefore produce disjoint names. The module's params are its arguments: one the
import passes (or the importing file's `defaults {}` fills) is substituted where the module reads
it; one nobody passes is a site param under the alias (`params: {media: {gpu: true}}`).

`Scope` is what the loader records per alias; `resolve` answers dotted questions afterwards.
"""

from __future__ import annotations

from mora import ast
from mora.record import Record, field

E_ALIAS = "E0103"  # an alias that cannot be used: taken by a name, reserved, or used twice
E_MEMBER = "E0106"  # `alias.name` where the module declares no such thing
E_ARGUMENT = "E0107"  # a module argument the module has no param for, positional, or repeated
E_ARGUMENT_TYPE = "E0108"  # a module argument of the wrong type
# the first names of references that are not declarations (mora.check.program.RESERVED)
RESERVED_WORDS = frozenset(("param", "secret", "input", "site", "args", "self"))


class Scope(Record):
    """One alias: the files loaded under it and how its names are prefixed."""

    path: str  # "media", or "media.sub" for a module the media module imports; "" for the project
    prefix: str  # "media-" (the path with `-` for `.`); "" for the project
    decl: ast.ImportDecl | None = None  # the import that made it (None for the project)
    parent: str = ""  # the scope of the importing file
    importer: str = ""  # the importing file's display path (its `defaults {}` fill params)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> child scope path
    # filled by the rewrite: declared name -> prefixed name, per kind
    services: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)  # only the ones left to the site
    secrets: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    bound: dict[str, ast.Expr] = field(default_factory=dict)  # params given by the import


def child_path(parent: str, alias: str) -> str:
    return f"{parent}.{alias}" if parent else alias


def prefix_of(path: str) -> str:
    return path.replace(".", "-") + "-" if path else ""
