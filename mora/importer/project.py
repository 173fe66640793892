"""The layout of an imported project: header, imports, params, secrets, then services.

Each param and secret says in a comment where it came from (file:line:column), so a reviewer can
go back to the compose file; a secret's comment also says that its compose value was not copied.
"""

from __future__ import annotations

from pathlib import Path

from mora.importer.convert import Converter
from mora.importer.templates import TemplateUse
from mora.importer.yamlnodes import Node


def assemble(conv: Converter, paths: list[Path]) -> str:
    conv.collect()
    conv.top_level()
    services: list[list[str]] = []
    for cname, svc in conv.p.services.items():
        use = conv.templated.get(cname)
        if use is not None:
            services.append(template_text(conv, cname, svc, use))
        else:
            services.append(conv.service_text(cname, svc))
    names = ", ".join(_shown_path(str(p), conv.base) for p in paths)
    out = [
        f"# Imported by `mora import` from {names}.",
        "# Review what it reported: every compose key it could not express is listed there, with",
        "# its line. Secret values of the compose files are not copied: each site generates its own.",
        "",
        f"project {conv.name}",
    ]
    if conv.imports:
        out.append("")
        out.extend(f"import {m}" for m in sorted(conv.imports))
    if conv.params:
        out.append("")
        for param in conv.params.values():
            tail = [param.note] if param.note else []
            out.extend(_comment("from", param.origins, tail))
            default = f" = {param.default}" if param.default is not None else ""
            out.append(f"param {param.name}: {param.type}{default}")
    declared = [g for g in conv.groups if g.declared and g.origins]
    if declared:
        out.append("")
        for group in declared:
            out.extend(
                _comment(
                    "replaces the value at",
                    group.origins,
                    ["(that value is not copied here: each site generates its own)"],
                )
            )
            out.append(f"secret {group.name} = {group.gen}")
    for lines in services:
        out.append("")
        out.extend(lines)
    conv.mask_secrets()
    return "\n".join(out) + "\n"


def template_text(conv: Converter, cname: str, svc: Node, use: TemplateUse) -> list[str]:
    """`service NAME = template(args)`, with comments saying what the template does instead."""
    lines = [
        f"# {conv.at(svc.key_span)}: the stdlib template `{use.module}` (docs/stdlib/{use.module}.md)"
    ]
    for group in use.secrets.values():
        lines.extend(
            _comment(f"its secret `{group.name}` replaces the value at", group.origins, [])
        )
    if use.replaced:
        lines.append(
            f"# the template sets its own {', '.join(use.replaced)}, and names its data volume"
        )
    else:
        lines.append("# the template names its data volume itself")
    name = conv.names[cname]
    if len(", ".join(use.args)) + len(name) + len(use.module) < 80:
        lines.append(f"service {name} = {use.module}({', '.join(use.args)})")
    else:
        lines.append(f"service {name} = {use.module}(")
        lines.extend(f"  {a}," for a in use.args)
        lines.append(")")
    return lines


def _comment(head: str, items: list[str], tail: list[str], width: int = 100) -> list[str]:
    """`# head a, b, c` on one line when it fits, else one item per line; then `tail` lines."""
    one = f"# {head} {', '.join(items)}"
    lines = [one] if len(one) <= width else [f"# {head}", *(f"#   {item}" for item in items)]
    return lines + [f"# {t}" for t in tail]


def _shown_path(path: str, base: str) -> str:
    import os

    rel = os.path.relpath(path, base) if base else path
    return rel if not rel.startswith("..") else path
