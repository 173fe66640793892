"""Checks of `routes` entries and storage arguments, called from the checker in a few lines.

The keys of a `routes` block are literals (`"photos/api"`, `"@"`), so their shape, and the port a
`route(port: ...)` names, are checked here before any site exists; hosts and clashes need the
site's domain and are the evaluator's (`mora.eval.routes`).
"""

from __future__ import annotations

from mora import ast
from mora import types as T
from mora.routes import E_ROUTE_KEY, E_ROUTE_PORT, split_key

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from typing import Any

E_EXTERNAL_NAME = "E0342"  # volume(external: true) without a name to find it by
E_MISSING_ATTR = "E0307"


def _arg(call: ast.Call, name: str, position: int) -> ast.Expr | None:
    for i, arg in enumerate(call.args):
        if (arg.name is not None and arg.name.text == name) or (arg.name is None and i == position):
            return arg.value
    return None


def _static_ports(ck: Any, ctx: Any) -> list[str]:
    from mora.check.program import static_keys

    body = ctx.service.body if ctx.service else ctx.template.decl.body
    return sorted({k.text for k in static_keys(body, "ports")})


def check_route(ck: Any, key: ast.Key, value: ast.Expr, ctx: Any) -> None:
    """One `routes` entry: `"SUBDOMAIN[/PATH]" = route(...)`."""
    parsed = split_key(key.text)
    if isinstance(parsed, str):
        ck.diags.error(
            E_ROUTE_KEY,
            f"route `{key.text}`: {parsed}",
            key.span,
            "not SUBDOMAIN[/PATH]",
            help='write `"photos"`, `"photos/api"`, or `"@"` (`"@/api"`) for the site\'s domain',
        )
    ck.expect(value, T.ROUTE, ctx, f"route `{key.text}`", secret_ok=False)
    if not (isinstance(value, ast.Call) and value.func.dotted == "route"):
        return
    ports = _static_ports(ck, ctx)
    port = _arg(value, "port", 0)
    if isinstance(port, ast.StringLit) and port.is_plain:
        if ports and port.plain not in ports:
            ck.diags.error(
                E_ROUTE_PORT,
                f"route `{key.text}` names port `{port.plain}`, which this service does not have",
                port.span,
                "no such port",
                help="ports: " + ", ".join(ports),
            )
    elif port is None:
        if not ports:
            ck.diags.error(
                E_MISSING_ATTR,
                "a service with routes needs a port",
                key.span,
                "nothing to route to",
                help="add `ports { http = 8080 }` with the port the web UI listens on",
            )
        elif "http" not in ports and len(ports) > 1:
            ck.diags.error(
                E_MISSING_ATTR,
                f"which port does route `{key.text}` go to?",
                key.span,
                f"the service has ports {', '.join(ports)}",
                help='name it: `route(port: "...")`, or name the web port `http`',
            )


def check_volume_call(ck: Any, call: ast.Call) -> None:
    """`volume(external: true)` finds an existing volume by its name: one must be given."""
    external = _arg(call, "external", 4)
    if isinstance(external, ast.BoolLit) and external.value and _arg(call, "name", 1) is None:
        ck.diags.error(
            E_EXTERNAL_NAME,
            "an external volume needs the `name` it already has",
            call.span,
            "which volume?",
            help='write `volume(name: "media", external: true)`',
        )
