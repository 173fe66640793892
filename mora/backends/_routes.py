"""What the Kubernetes and podman backends agree on about routes: the identity provider's
endpoints and the order in which a proxy tries paths."""

from __future__ import annotations

# Authelia (the stdlib pins 4.39): the authz endpoints of "Proxy Authorization",
# https://www.authelia.com/reference/guides/proxy-authorization/ (since 4.38): Traefik and Caddy
# use ForwardAuth at /api/authz/forward-auth, NGINX's auth_request uses /api/authz/auth-request.
AUTHELIA_FORWARD_AUTH = "/api/authz/forward-auth"
AUTHELIA_AUTH_REQUEST = "/api/authz/auth-request"
# The headers Authelia answers with (who signed in), handed on to the app.
AUTH_HEADERS = ("Remote-User", "Remote-Groups", "Remote-Email", "Remote-Name")


def path_order(path: str) -> tuple[int, str]:
    """Longest path first: what every proxy must try first (an Ingress sorts the same way)."""
    return (-len(path), path)
