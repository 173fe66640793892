"""Evaluating `routes` against the site: hosts, ports, and the routes no two services may share.

Called from the evaluator in a few lines; `ev` is the `Evaluator` (its diagnostics, the site's
domain, each service's ports and its routed port).
"""

from __future__ import annotations

from mora import model as M
from mora.diagnostics import Diagnostics, Label
from mora.routes import (
    E_ROUTE_AUTH,
    E_ROUTE_CLASH,
    E_ROUTE_KEY,
    E_ROUTE_PORT,
    OWN,
    RouteVal,
    own_key,
    route_host,
    split_key,
)
from mora.source import Span

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Any

E_EVAL = "E0505"


def evaluate_routes(
    ev: Any, name: str, items: list[tuple[str, object, Span]], abort: type[Exception]
) -> list[M.Route]:
    """The `routes` of service `name`; every problem is reported before `abort` is raised."""
    _, ports, routed = ev._routing_of(name)
    spans: dict[tuple[str, str, str], Span] = ev.route_spans
    out: list[M.Route] = []
    failed = False
    seen: dict[tuple[str, str], tuple[str, Span]] = {}
    own = ev._routing_of(name)[0]
    for key, value, span in items:
        if key == OWN or key.startswith(OWN + "/"):  # the service's own subdomain
            if own is None:
                ev.diags.error(
                    E_ROUTE_KEY,
                    f"route `{key}` of `{name}` is on its own subdomain, and it has none here",
                    span,
                    "no subdomain",
                    help="give the service a `subdomain`, or name the host in the key",
                )
                failed = True
                continue
            key = own_key(key, own)
        parsed = split_key(key)
        if isinstance(parsed, str):
            ev.diags.error(E_ROUTE_KEY, f"route `{key}`: {parsed}", span, "evaluates to this")
            failed = True
            continue
        sub, path = parsed
        if sub is not None:
            try:
                # E0509, as for `subdomain`
                ev._check_subdomain_domain(sub, span, key[len(key.partition("/")[0]) :])
            except abort:
                failed = True
                continue
        if not isinstance(value, RouteVal):
            ev.diags.error(E_EVAL, f"route `{key}` must be `route(...)`", span, "not a route")
            failed = True
            continue
        port = value.port or routed
        if port is None or port not in ports:
            ev.diags.error(
                E_ROUTE_PORT,
                f"route `{key}` of `{name}` has no port to go to"
                + (f": `{port}` is not one of its ports" if port else ""),
                span,
                "no such port" if port else "which port?",
                help="ports: " + ", ".join(sorted(ports)) if ports else "add a `ports` block",
            )
            failed = True
            continue
        host = route_host(sub, ev.domain)
        if (host, path) in seen:  # "photos" and "photos/" are one route
            other, other_span = seen[(host, path)]
            ev.diags.error(
                E_ROUTE_CLASH,
                f"routes `{other}` and `{key}` of `{name}` are both {host}{path}",
                span,
                "the same host and path",
                labels=[Label(other_span, "first here")],
                help="keep one of them",
            )
            failed = True
            continue
        seen[(host, path)] = (key, span)
        spans[(name, host, path)] = span
        out.append(
            M.Route(
                host=host,
                subdomain=sub,
                path=path,
                port=port,
                auth=value.auth,
                max_body=value.max_body,
                timeout_seconds=value.timeout_seconds,
            )
        )
    if failed:
        raise abort
    return sorted(out, key=lambda r: (r.host, r.path))


def check_route_clashes(
    diags: Diagnostics,
    services: dict[str, M.Service],
    decl_spans: dict[str, Span],
    route_spans: dict[tuple[str, str, str], Span],
) -> None:
    """Two services claiming one host and path (E0520, naming both), and `auth` that names a
    service with nothing to ask. Two `subdomain`s on one host are E0402's, reported before."""
    first: dict[tuple[str, str], tuple[str, bool, Span]] = {}
    for name in sorted(services):
        svc = services[name]
        for route in M.service_routes(svc):
            primary = route.host == svc.host and route.path == "/"
            span = route_spans.get((name, route.host, route.path), decl_spans[name])
            key = (route.host, route.path)
            if key not in first:
                first[key] = (name, primary, span)
                continue
            other, other_primary, other_span = first[key]
            if other == name or (primary and other_primary):
                continue
            diags.error(
                E_ROUTE_CLASH,
                f"`{other}` and `{name}` both route {route.host}{route.path}",
                span,
                f"claimed by `{name}` here",
                labels=[Label(other_span, f"already claimed by `{other}`")],
                help="give one of them another host or path",
            )
        for route in svc.routes:
            if route.auth is None:
                continue
            idp = services.get(route.auth)
            if idp is None or idp.route_port is None or route.auth == name:
                diags.error(
                    E_ROUTE_AUTH,
                    f"route {route.host}{route.path} of `{name}` asks `{route.auth}` to let "
                    "requests in, but "
                    + (
                        "a service cannot guard itself"
                        if route.auth == name
                        else f"`{route.auth}` has no subdomain: no sign-in portal to send people to"
                    ),
                    route_spans.get((name, route.host, route.path), decl_spans[name]),
                    "auth here",
                    help="`auth` names the site's Authelia service, which has a `subdomain`",
                )
