"""Ingresses: one per route (host + path) of a service, with its options per ingress class.

A service's `subdomain` keeps its Ingress `ingress.yaml` named after the service; every other
route (`routes { ... }`) gets `ingress-<route>.yaml`. The options of a route are written the way
the site's ingress class reads them (docs/kubernetes.md, "Routes"):

- `traefik` (k3s's default): Middleware objects, API `traefik.io/v1alpha1` (Traefik v2.10 and
  v3; https://doc.traefik.io/traefik/reference/routing-configuration/kubernetes/crd/http/middleware/):
  `forwardAuth` for `auth`, `buffering.maxRequestBodyBytes` for `max_body`, named in the Ingress
  annotation `traefik.ingress.kubernetes.io/router.middlewares`; `timeout` is a ServersTransport's
  `forwardingTimeouts.responseHeaderTimeout`, named by the Service's annotation
  `traefik.ingress.kubernetes.io/service.serverstransport` (so per service, not per route).
- `nginx` (ingress-nginx, https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/):
  `auth-url`/`auth-method`/`auth-signin`/`auth-response-headers`, `proxy-body-size`,
  `proxy-read-timeout` and `proxy-send-timeout` annotations.
- any other class: the options cannot be written; W0622 says so, never a silent drop.

TLS: every Ingress lists its host; the route that owns a host (its shortest path, then the first
service by name) carries the cert-manager annotation and names the Secret, the others reuse it,
so cert-manager issues one certificate per host.
"""

from __future__ import annotations

import math

from mora.backends._routes import AUTH_HEADERS, AUTHELIA_AUTH_REQUEST, AUTHELIA_FORWARD_AUTH
from mora.diagnostics import Diagnostics
from mora.model import Route, Service, service_routes
from mora.record import Record

from .naming import dns_label, size_bytes, with_suffix
from .plan import ServicePlan
from .settings import Settings

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Any

E_ROUTE = "E0603"
W_ROUTE_OPTION = "W0622"  # a route option the site's ingress class cannot take
W_TRAEFIK_TIMEOUT = "W0621"  # Traefik's timeout is per Service: the longest of its routes

ANNOTATION_ISSUER = "cert-manager.io/cluster-issuer"
TRAEFIK_API = "traefik.io/v1alpha1"
TRAEFIK_MIDDLEWARES = "traefik.ingress.kubernetes.io/router.middlewares"
TRAEFIK_TRANSPORT = "traefik.ingress.kubernetes.io/service.serverstransport"
NGINX = "nginx.ingress.kubernetes.io/"


class Named(Record, frozen=True):
    """A route with the names of its Ingress and file."""

    route: Route
    name: str  # the Ingress's name
    file: str  # below the service's folder
    primary: bool


def _named(plan: ServicePlan) -> list[Named]:
    svc = plan.svc
    out: list[Named] = []
    taken = {plan.name}
    for route in service_routes(svc):
        if route.host == svc.host and route.path == "/":
            out.append(Named(route, plan.name, "ingress.yaml", True))
            continue
        slug = dns_label(f"{route.subdomain or 'apex'}{route.path}", fallback="route")
        name, n = with_suffix(plan.name, slug), 2
        while name in taken:
            name, n = with_suffix(plan.name, f"{slug}-{n}"), n + 1
        taken.add(name)
        out.append(Named(route, name, f"ingress-{name.removeprefix(plan.name + '-')}.yaml", False))
    return out


def tls_owners(plans: dict[str, ServicePlan]) -> dict[str, tuple[str, str]]:
    """Host -> (the Ingress that owns its certificate, the Secret's name)."""
    best: dict[str, tuple[tuple[int, str], str]] = {}
    for key in sorted(plans):
        for named in _named(plans[key]):
            rank = (len(named.route.path), plans[key].name)
            host = named.route.host
            if host not in best or rank < best[host][0]:
                best[host] = (rank, named.name)
    return {host: (name, with_suffix(name, "tls")) for host, (_, name) in best.items()}


def _port(svc: Service, name: str) -> int | None:
    port = next((p for p in svc.ports if p.name == name), None)
    return port.target if port is not None and port.protocol == "tcp" else None


def _seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def _nginx_size(quantity: str) -> str:
    """ingress-nginx's `proxy-body-size` is nginx's size: bytes, or k/m/g (powers of 1024)."""
    n = size_bytes(quantity) or 0
    for unit, scale in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if n and n % scale == 0:
            return f"{n // scale}{unit}"
    return str(n)


def ingress_documents(
    plan: ServicePlan,
    plans: dict[str, ServicePlan],
    owners: dict[str, tuple[str, str]],
    settings: Settings,
    diags: Diagnostics,
    by_name: dict[str, ServicePlan] | None = None,
) -> dict[str, dict[str, Any]]:
    """File (below the service's folder) -> document: Ingresses and Traefik objects.

    `by_name` (plans by service name) is made once by a caller that renders every service:
    made per call it was a quadratic 10,000 x 10,000 at 10,000 services."""
    svc = plan.svc
    docs: dict[str, dict[str, Any]] = {}
    if by_name is None:
        by_name = {p.svc.name: p for p in plans.values()}
    cls = settings.ingress_class
    timeouts: set[float] = set()
    for named in _named(plan):
        route = named.route
        target = _port(svc, route.port)
        if target is None:
            diags.error(
                E_ROUTE,
                f"route {route.host}{route.path} of `{svc.name}` needs an HTTP (TCP) port to"
                " route to",
                None,
                help="name the web port `http`",
            )
            continue
        annotations: dict[str, str] = {}
        owner, secret = owners[route.host]
        if settings.cluster_issuer and owner == named.name:
            annotations[ANNOTATION_ISSUER] = settings.cluster_issuer
        middlewares: list[str] = []
        options = _options(route, by_name, plan, diags)
        if options and cls == "nginx":
            annotations.update(_nginx(route, options))
        elif options and cls == "traefik":
            for suffix, spec in _traefik(route, options):
                mw = with_suffix(named.name, suffix)
                docs[f"middleware-{mw}.yaml"] = {
                    "apiVersion": TRAEFIK_API,
                    "kind": "Middleware",
                    "metadata": _meta(mw, plan),
                    "spec": spec,
                }
                middlewares.append(f"{plan.namespace}-{mw}@kubernetescrd")
            if route.timeout_seconds is not None:
                timeouts.add(route.timeout_seconds)
        elif options:
            diags.warning(
                W_ROUTE_OPTION,
                f"`{svc.name}`: route {route.host}{route.path} sets {', '.join(sorted(options))},"
                f" which the ingress class `{cls or '(the cluster default)'}` cannot be told"
                " through an Ingress: they are not applied",
                None,
                help="set `kubernetes: { ingress_class: traefik }` or `nginx` in the site file,"
                " or configure them in the ingress controller",
            )
        if middlewares:
            annotations[TRAEFIK_MIDDLEWARES] = ",".join(middlewares)
        backend = {"service": {"name": plan.name, "port": {"number": target}}}
        spec: dict[str, Any] = {
            "rules": [
                {
                    "host": route.host,
                    "http": {
                        "paths": [{"backend": backend, "path": route.path, "pathType": "Prefix"}]
                    },
                }
            ],
            "tls": [{"hosts": [route.host], "secretName": secret}],
        }
        if cls:
            spec["ingressClassName"] = cls
        docs[named.file] = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": _meta(named.name, plan, annotations),
            "spec": spec,
        }
    if timeouts:
        longest = max(timeouts)
        if len(timeouts) > 1:
            diags.warning(
                W_TRAEFIK_TIMEOUT,
                f"`{svc.name}`: Traefik waits for a service as long as its ServersTransport"
                f" says: every route of `{svc.name}` gets the longest timeout, {_seconds(longest)}s",
                None,
                help="give the routes one timeout, or use the nginx ingress class",
            )
        transport = with_suffix(plan.name, "transport")
        docs["serverstransport.yaml"] = {
            "apiVersion": TRAEFIK_API,
            "kind": "ServersTransport",
            "metadata": _meta(transport, plan),
            "spec": {"forwardingTimeouts": {"responseHeaderTimeout": f"{_seconds(longest)}s"}},
        }
    return docs


def service_annotations(plan: ServicePlan, settings: Settings) -> dict[str, str]:
    """What the service's Service carries for its routes (Traefik's timeout transport)."""
    if settings.ingress_class != "traefik":
        return {}
    if not any(r.timeout_seconds is not None for r in service_routes(plan.svc)):
        return {}
    transport = with_suffix(plan.name, "transport")
    return {TRAEFIK_TRANSPORT: f"{plan.namespace}-{transport}@kubernetescrd"}


def _meta(
    name: str, plan: ServicePlan, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": plan.namespace, "labels": dict(plan.labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


class _Auth(Record, frozen=True):
    address: str  # http://name.namespace.svc.cluster.local:port
    signin: str | None  # the portal's public URL


def _options(
    route: Route, by_name: dict[str, ServicePlan], plan: ServicePlan, diags: Diagnostics
) -> dict[str, object]:
    options: dict[str, object] = {}
    if route.auth is not None:
        idp = by_name.get(route.auth)
        port = _port(idp.svc, idp.svc.route_port or "") if idp else None
        if idp is None or port is None:
            diags.error(
                E_ROUTE,
                f"route {route.host}{route.path} of `{plan.svc.name}`: `{route.auth}` has no"
                " HTTP port in this deployment to ask",
                None,
                help="`auth` names the site's Authelia service",
            )
        else:
            address = f"http://{idp.name}.{idp.namespace}.svc.cluster.local:{port}"
            options["auth"] = _Auth(address, idp.svc.url)
    if route.max_body is not None:
        options["max_body"] = route.max_body
    if route.timeout_seconds is not None:
        options["timeout"] = route.timeout_seconds
    return options


def _nginx(route: Route, options: dict[str, object]) -> dict[str, str]:
    out: dict[str, str] = {}
    auth = options.get("auth")
    if isinstance(auth, _Auth):
        # Authelia's NGINX integration: the AuthRequest endpoint, sign-in at the portal.
        out[NGINX + "auth-url"] = auth.address + AUTHELIA_AUTH_REQUEST
        out[NGINX + "auth-method"] = "GET"
        out[NGINX + "auth-response-headers"] = ",".join(AUTH_HEADERS)
        if auth.signin:
            out[NGINX + "auth-signin"] = auth.signin + "?rm=$request_method"
    if route.max_body is not None:
        out[NGINX + "proxy-body-size"] = _nginx_size(route.max_body)
    if route.timeout_seconds is not None:
        seconds = str(_seconds(route.timeout_seconds))
        out[NGINX + "proxy-read-timeout"] = seconds
        out[NGINX + "proxy-send-timeout"] = seconds
    return out


def _traefik(route: Route, options: dict[str, object]) -> list[tuple[str, dict[str, Any]]]:
    """(name suffix, Middleware spec) for each option a Middleware carries."""
    out: list[tuple[str, dict[str, Any]]] = []
    auth = options.get("auth")
    if isinstance(auth, _Auth):
        out.append(
            (
                "auth",
                {
                    "forwardAuth": {
                        "address": auth.address + AUTHELIA_FORWARD_AUTH,
                        "authResponseHeaders": list(AUTH_HEADERS),
                        "trustForwardHeader": True,
                    }
                },
            )
        )
    if route.max_body is not None:
        limit = size_bytes(route.max_body) or 0
        out.append(("body", {"buffering": {"maxRequestBodyBytes": limit}}))
    return out
