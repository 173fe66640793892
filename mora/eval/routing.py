"""Routing: ports, subdomains against the site's domain, and host names or ports claimed twice."""

from __future__ import annotations

from mora import ast
from mora import model as M
from mora import types as T
from mora.check.clashes import report_clashes
from mora.check.program import (
    E_PORT_CLASH,
    E_SUBDOMAIN_CLASH,
)
from mora.eval.routes import check_route_clashes
from mora.eval.scope import (
    E_EVAL,
    E_SUBDOMAIN_DOMAIN,
    EvalState,
)
from mora.eval.values import (
    _Abort,
)
from mora.source import Span


class RoutingPass(EvalState):
    """Ports and routes per service, subdomains under the domain, computed clashes."""

    def _ports_of(self, name: str) -> dict[str, int]:
        """Port numbers by name of a service, computed once (other services refer to them)."""
        if name in self._ports:
            return self._ports[name]
        svc = self.program.services[name]
        if name in self._ports_busy:
            self.diags.error(
                E_EVAL,
                f"the ports of `{name}` depend on themselves",
                svc.decl.name.span,
                "in this service",
            )
            raise _Abort
        self._ports_busy.add(name)
        try:
            scope = self._scope_for(svc)
            ports: dict[str, int] = {}
            for entry in self._attrs(svc.body, scope):
                if entry.key.text == "ports":
                    for pname, pval, _span in self._items(entry, scope):
                        target = pval.get("target") if isinstance(pval, dict) else pval
                        if isinstance(target, int) and not isinstance(target, bool):
                            ports[pname] = target
            self._ports[name] = ports
            return ports
        finally:
            self._ports_busy.discard(name)

    def _check_subdomain_domain(self, subdomain: str, span: Span, route: str | None = None) -> None:
        """A subdomain is relative to the site's domain: one that repeats it would be routed at
        `status.lab.example.net.lab.example.net`."""
        domain = (self.domain or "").lower()
        if not domain or not (subdomain == domain or subdomain.endswith("." + domain)):
            return
        relative = subdomain[: -len(domain)].rstrip(".")
        what = "already ends with" if relative else "is"
        self.diags.error(
            E_SUBDOMAIN_DOMAIN,
            f"subdomain `{subdomain}` {what} the site's domain `{domain}`",
            span,
            "the site's domain is appended to this",
            help=(
                (
                    f'write `subdomain = "{relative}"`'
                    if route is None
                    else f'write the route as `"{relative}{route}"`'
                )
                + f": the host is then `{subdomain}`"
                if relative
                else "a subdomain names a host below the site's domain, not the domain itself"
                + (f'; the route `"@{route}"` is the domain itself' if route is not None else "")
            ),
        )
        raise _Abort

    def _routing_of(self, name: str) -> tuple[str | None, dict[str, int], str | None]:
        """(subdomain, port numbers by name, routed port name) of a service, computed once."""
        if name in self._routing:
            return self._routing[name]
        svc = self.program.services[name]
        ports = self._ports_of(name)
        if name in self._routing_busy:
            self.diags.error(
                E_EVAL,
                f"the subdomain of `{name}` depends on itself",
                svc.decl.name.span,
                "in this service",
            )
            raise _Abort
        self._routing_busy.add(name)
        try:
            scope = self._scope_for(svc)
            subdomain: str | None = None
            for entry in self._attrs(svc.body, scope):
                if entry.key.text == "subdomain" and isinstance(entry, ast.Attr):
                    value = self._eval(entry.value, scope)
                    subdomain = self._public_text(value, entry.value.span, "`subdomain`")
                    if not T.is_dns_label_path(subdomain):
                        self.diags.error(
                            E_EVAL,
                            f"`{subdomain}` is not a valid subdomain",
                            entry.value.span,
                            "evaluates to this",
                        )
                        raise _Abort
                    self._check_subdomain_domain(subdomain, entry.value.span)
            route = "http" if "http" in ports else (next(iter(ports)) if len(ports) == 1 else None)
            self._routing[name] = (subdomain, ports, route)
            return self._routing[name]
        finally:
            self._routing_busy.discard(name)

    def _check_clashes(self, services: dict[str, M.Service]) -> None:
        hosts = []
        published = []
        for name, svc in services.items():
            decl_span = self.program.services[name].decl.name.span
            if svc.host:
                hosts.append((svc.host, name, decl_span))
            for port in svc.ports:
                if port.published:
                    published.append((f"{port.published}/{port.protocol}", name, decl_span))
        # The checker already saw clashes between literal values; here computed ones (from
        # params or template arguments) show up too.
        report_clashes(self.diags, hosts, E_SUBDOMAIN_CLASH, "host")
        report_clashes(self.diags, published, E_PORT_CLASH, "published host port")
        spans = {n: self.program.services[n].decl.name.span for n in services}
        check_route_clashes(self.diags, services, spans, self.route_spans)
