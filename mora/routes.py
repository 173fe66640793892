"""Routes: the public hosts and paths a service answers on, beyond its `subdomain`.

    routes {
      "photos"     = route()                                  # photos.<domain>/
      "photos/api" = route(port: "api", max_body: 500Mi)      # photos.<domain>/api
      "@"          = route(auth: sso, timeout: 5m)            # the apex domain itself
    }

A key is `SUBDOMAIN[/PATH]`, `@` standing for the site's domain itself; the value is `route(...)`
with its options. The checker reads keys as literals, the evaluator resolves them against the
site's domain, and every backend reads `effective_routes(svc)`: the `subdomain` route first, then
the others. Pure functions and data only (the checker, the evaluator and the backends import it).
"""

from __future__ import annotations

import re

from mora import types as T
from mora.record import Record

APEX = "@"  # the site's domain itself, as in a DNS zone file
OWN = "."  # the service's own `subdomain` (a template's, whatever its argument): `"."`, `"./api"`

E_ROUTE_KEY = "E0340"  # a route key that is not SUBDOMAIN[/PATH]
E_ROUTE_PORT = "E0341"  # a route names a port the service does not have
E_ROUTE_CLASH = "E0520"  # two routes claim one host and path
E_ROUTE_AUTH = "E0521"  # `auth` names a service that cannot be the identity provider

_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


class RouteVal(Record, frozen=True):
    """What `route(...)` evaluates to, before the key gives it a host and a path."""

    port: str | None = None
    auth: str | None = None  # the identity provider's service name
    max_body: str | None = None  # a size quantity
    timeout_seconds: float | None = None


def own_key(text: str, subdomain: str) -> str:
    """`"."` / `"./PATH"` with the service's own subdomain put in (issue 15: a template's route)."""
    return subdomain + text[1:] if text == OWN or text.startswith(OWN + "/") else text


def split_key(text: str) -> tuple[str | None, str] | str:
    """`SUBDOMAIN[/PATH]` -> (subdomain or None for the apex, path); or what is wrong with it."""
    text = own_key(text, "own")  # checked as any subdomain; the evaluator puts the real one in
    host, slash, rest = text.partition("/")
    path = "/" + rest if slash else "/"
    if host != APEX and not T.is_dns_label_path(host):
        return (
            f"`{host}` is not a subdomain: lower-case labels separated by `.`, or `@` for the "
            "site's domain itself"
        )
    if not _PATH.fullmatch(path) or "//" in path or "/../" in path + "/" or "/./" in path + "/":
        return f"`{path}` is not a plain URL path (letters, digits, `-._~/`...)"
    if len(path) > 1:
        path = path.rstrip("/")
    return (None if host == APEX else host), path


def route_host(subdomain: str | None, domain: str) -> str:
    return domain if subdomain is None else f"{subdomain}.{domain}"
