"""The graph rules: dependencies, cycles, and host names and ports claimed twice.

`service_deps` is what `depends_on`, references and `after` make of the services; cycles are
reported with their path. Clashes between literal values are found here, before any site is
known; the evaluator reports computed ones with the same `report_clashes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mora import ast
from mora.check.clashes import report_clashes
from mora.check.context import (
    CheckState,
)
from mora.check.program import (
    E_CYCLE,
    E_PORT_CLASH,
    E_SUBDOMAIN_CLASH,
    InputSym,
    ServiceSym,
    iter_entries,
)
from mora.diagnostics import Label
from mora.source import Span


def _static_port_entries(body: ast.Body) -> Iterator[tuple[str, ast.Expr]]:
    for entry in iter_entries(body):
        if isinstance(entry, ast.Block) and entry.key.text == "ports":
            for e in iter_entries(entry.body):
                if isinstance(e, ast.Attr):
                    yield e.key.text, e.value
        elif isinstance(entry, ast.Attr) and entry.key.text == "ports":
            if isinstance(entry.value, ast.MapExpr):
                for me in entry.value.entries:
                    yield me.key.text, me.value


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each elementary cycle once (by its strongly connected component), in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def connect(v: str) -> None:
        nonlocal counter
        work = [(v, iter(graph.get(v, [])))]
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            advanced = False
            for w in children:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(graph.get(w, []))))
                    advanced = True
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                components.append(comp)

    for v in graph:
        if v not in index:
            connect(v)
    cycles: list[list[str]] = []
    for comp in components:
        members = set(comp)
        if len(comp) == 1 and comp[0] not in graph.get(comp[0], []):
            continue
        # Walk one concrete cycle inside the component, starting from its first name in order.
        start = min(comp, key=list(graph).index)
        path = [start]
        seen = {start}
        node = start
        while True:
            nxt = next(w for w in graph[node] if w in members)
            if nxt == start or nxt in seen:
                if nxt != start:
                    path = path[path.index(nxt) :]
                break
            path.append(nxt)
            seen.add(nxt)
            node = nxt
        cycles.append(path)
    return cycles


class GraphPass(CheckState):
    """The dependency graph (cycles) and the literal host names and ports two services claim."""

    def service_deps(
        self, svc: ServiceSym, inputs: Iterable[InputSym] | None = None
    ) -> list[tuple[str, Span]]:
        """The services `svc` waits for: `depends_on` entries and the `after` of its inputs.

        `inputs`: the service's inputs when the caller indexed them (else every input is scanned).
        """
        deps: list[tuple[str, Span]] = []
        args = (
            {a.name.text: a.value for a in svc.decl.instance.args if a.name}
            if svc.decl.instance
            else {}
        )
        if svc.template and svc.decl.instance:
            for i, a in enumerate(svc.decl.instance.args):
                if a.name is None and i < len(svc.template.params):
                    args[list(svc.template.params)[i]] = a.value

        if self.program.defaults:  # arguments the file's `defaults` fill in
            from mora.contracts.defaults import with_defaults

            args = with_defaults(self.program, svc, args)
        if self.program.contracts:  # providers passed to contract-typed arguments
            from mora.contracts.check import implied_deps

            deps += implied_deps(self, svc, args)  # type: ignore[arg-type]

        def target(ref: ast.Ref) -> str | None:
            name = svc.name if ref.parts[0].text == "self" else ref.parts[0].text
            return name if len(ref.parts) == 1 and name in self.program.services else None

        for entry in iter_entries(svc.body):
            if isinstance(entry, ast.Attr) and entry.key.text == "depends_on":
                for ref in _refs_in(entry.value, args):
                    if (name := target(ref)) is not None:
                        deps.append((name, ref.span))
            elif isinstance(entry, ast.Attr) and entry.key.text == "network_mode":
                # `service:NAME` runs in NAME's network namespace: NAME starts first.
                value = entry.value
                if isinstance(value, ast.StringLit) and value.is_plain:
                    other = value.plain.removeprefix("service:")
                    known = other in self.program.services and other != svc.name
                    if value.plain.startswith("service:") and known:
                        deps.append((other, value.span))
        for inp in self.program.inputs.values() if inputs is None else inputs:
            if inp.service != svc.name:
                continue
            for entry in inp.decl.body.entries:
                if not (isinstance(entry, ast.Attr) and entry.key.text == "after"):
                    continue
                for ref in _refs_in(entry.value, args):
                    name = target(ref)
                    if name == svc.name:
                        self.diags.error(
                            E_CYCLE,
                            f"input `{inp.decl.name.text}` of `{svc.name}` waits for "
                            f"`{svc.name}` itself",
                            ref.span,
                            "its own service",
                            help="a service waiting for its own input could never start; "
                            "`after` names the service where the person gets the value",
                        )
                    elif name is not None:
                        deps.append((name, ref.span))
        return deps

    def _check_graph(self) -> None:
        by_service: dict[str | None, list[InputSym]] = {}  # one pass, not one per service
        for inp in self.program.inputs.values():
            by_service.setdefault(inp.service, []).append(inp)
        graph = {
            name: self.service_deps(svc, by_service.get(name, []))
            for name, svc in self.program.services.items()
        }
        for cycle in find_cycles({n: [d for d, _ in ds] for n, ds in graph.items()}):
            path = " -> ".join([*cycle, cycle[0]])
            labels = []
            for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
                span = next(s for d, s in graph[a] if d == b)
                labels.append(Label(span, f"`{a}` waits for `{b}`"))
            first = labels[0]
            self.diags.error(
                E_CYCLE,
                f"dependency cycle: {path}",
                first.span,
                first.message,
                labels=labels[1:],
                help="services start in dependency order; remove one of these dependencies",
            )

    def _check_static_clashes(self) -> None:
        hosts: list[tuple[str, str, Span]] = []
        published: list[tuple[str, str, Span]] = []
        for svc in self.program.services.values():
            if svc.decl.instance is not None:
                continue
            for entry in iter_entries(svc.body):
                if isinstance(entry, ast.Attr) and entry.key.text == "subdomain":
                    if isinstance(entry.value, ast.StringLit) and entry.value.is_plain:
                        hosts.append((entry.value.plain, svc.name, entry.value.span))
            for port_key, value in _static_port_entries(svc.body):
                if isinstance(value, ast.MapExpr):
                    fields = {e.key.text: e.value for e in value.entries}
                    pub = fields.get("published")
                    proto = fields.get("protocol")
                    proto_text = (
                        proto.plain
                        if isinstance(proto, ast.StringLit) and proto.is_plain
                        else "tcp"
                    )
                    if isinstance(pub, ast.IntLit):
                        published.append((f"{pub.value}/{proto_text}", svc.name, pub.span))
                del port_key
        report_clashes(self.diags, hosts, E_SUBDOMAIN_CLASH, "subdomain")
        report_clashes(self.diags, published, E_PORT_CLASH, "published host port")


def _refs_in(expr: ast.Expr, args: dict[str, ast.Expr]) -> list[ast.Ref]:
    """References in an expression; `args.x` is replaced by the template argument's expression."""
    out: list[ast.Ref] = []
    if isinstance(expr, ast.Ref):
        if expr.parts[0].text == "args" and len(expr.parts) == 2 and expr.parts[1].text in args:
            out += _refs_in(args[expr.parts[1].text], {})
        else:
            out.append(expr)
    elif isinstance(expr, ast.ListExpr):
        for item in expr.items:
            out += _refs_in(item.value, args)
    return out
