"""Evaluation: a checked `Program` + a `Site` + secret values -> the resolved `Manifest`.

Values carry their taint: anything computed from a secret is a `Secret` (its text plus the names
it came from), anything computed from an unanswered input is `Pending`. At the leaves
(environment values, files) secret text is moved into `material`, keyed by a stable name, and the
manifest keeps only that name; pending values keep only the input names. Diagnostics name secrets,
never show their values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mora import ast
from mora import model as M
from mora import types as T
from mora.builtins import RENDERERS
from mora.checker import (
    E_HOST_MOUNT,
    E_PATH,
    E_PORT_CLASH,
    E_RESERVED_LABEL,
    E_SUBDOMAIN_CLASH,
    HOST_MOUNT_HELP,
    Program,
    ServiceSym,
    host_mount_message,
    report_clashes,
)
from mora.compiled import Compiled
from mora.diagnostics import Diagnostics, Label, did_you_mean
from mora.eval_routes import check_route_clashes, evaluate_routes
from mora.model import ValidationError
from mora.moved import volume_owner
from mora.reserved import normal_path, path_problem, reserved_label, system_dir
from mora.routes import RouteVal
from mora.site import Site, coerce
from mora.source import Span
from mora.vocabulary import service as V

E_MISSING_PARAM = "E0502"
E_NO_DOMAIN = "E0503"
E_SECRETS = "E0504"
E_EVAL = "E0505"
# What shapes a deployment cannot wait for an input; everything else holds the service instead.
# Read from the vocabulary (mora/vocabulary/service.py, `fixed_before_inputs`).
_SHAPE_ATTRS = V.SHAPE_ATTRS
_SHAPE_BLOCKS = V.SHAPE_BLOCKS
_PENDING_HELP = V.pending_help()
E_SITE_VALUE = "E0506"
E_SUBDOMAIN_DOMAIN = "E0509"
W_UNKNOWN_SITE_PARAM = "W0501"
W_ORPHANED_SECRET = "W0502"
W_STALE_SECRET = "W0503"

INPUT_PREFIX = "input."  # inputs live in the site store as `input.NAME`
STATE_PREFIX = "setup."  # setup steps keep `setup.SVC.STEP` (ran) and `setup.SVC.STEP.OUT`


# --- tainted values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    """Text that contains secret material. `repr` never shows the text."""

    value: str
    sources: frozenset[str]

    def __repr__(self) -> str:
        return f"Secret(<hidden>, sources={sorted(self.sources)})"


@dataclass(frozen=True)
class Pending:
    """A value that needs inputs a person has not answered yet."""

    inputs: frozenset[str]


@dataclass(frozen=True)
class Unit:
    text: str
    kind: str  # "size" | "duration"
    amount: float

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ServiceRef:
    name: str


@dataclass(frozen=True)
class MountVal:
    kind: str
    size: str | None = None
    name: str | None = None
    host_path: str | None = None
    readonly: bool = False
    reason: str | None = None  # why a bind may mount a system directory
    mode: str | None = None  # a tmpfs's file mode, octal
    storage_class: str | None = None
    access: str | None = None  # RWO / RWX / ROX
    external: bool = False  # an existing volume, by name
    server: str | None = None  # nfs: the server
    share: str | None = None  # nfs: the exported directory


@dataclass(frozen=True)
class FileVal:
    format: str
    content: str | Secret | Pending


# --- the secret provider interface (filled by mora.secrets) --------------------------------------


class Resolution(Protocol):
    values: Mapping[str, Mapping[str, str]]
    missing: list[str]
    orphaned: list[str]
    stale: list[str]


class Provider(Protocol):
    def resolve(self, requests: Any) -> Resolution: ...


class _Abort(Exception):
    """An evaluation problem already reported; skip the rest of the current item."""


@dataclass
class _Scope:
    service: ServiceSym | None = None
    args: Mapping[str, ast.Expr] = field(default_factory=dict)  # a template instance's arguments


class Evaluator:
    def __init__(
        self, program: Program, site: Site, provider: Provider | None, diags: Diagnostics
    ) -> None:
        self.program = program
        self.site = site
        self.provider = provider
        self.diags = diags
        self.params: dict[str, object] = {}
        self.secret_values: dict[str, Mapping[str, str]] = {}
        self.inputs: dict[str, str] = {}
        self.material: dict[str, str] = {}
        self._routing: dict[str, tuple[str | None, dict[str, int], str | None]] = {}
        self._routing_busy: set[str] = set()
        self._ports: dict[str, dict[str, int]] = {}
        self._ports_busy: set[str] = set()
        self._template_args: dict[str, dict[str, ast.Expr]] = {}
        self._params_busy: set[str] = set()
        self._params_failed: set[str] = set()
        self._arg_values: dict[tuple[str, str], object] = {}
        self._arg_busy: set[tuple[str, str]] = set()
        self.domain = site.domain or ""
        self._inputs_index: dict[str | None, list[str]] | None = None
        self.route_spans: dict[tuple[str, str, str], Span] = {}  # (service, host, path) -> key

    # --- entry point -----------------------------------------------------------------------------
    def run(self) -> Compiled | None:
        self.resolve_params()
        domain = self.site.domain
        self.domain = domain or ""
        if not domain and not self.site.domain_invalid:
            self.diags.error(
                E_NO_DOMAIN,
                "no domain for this site",
                None,
                help="pass `--domain example.org`, or set `domain:` in the site file",
            )
        if self.diags.has_errors:
            return None  # a mistyped site must not create a store or generate secrets
        self._resolve_secrets()
        if self.diags.has_errors:
            return None
        assert domain is not None
        services: dict[str, M.Service] = {}
        for name, svc in self.program.services.items():
            errors_before = self._errors()
            try:
                services[name] = self._service(svc)
            except _Abort:
                if self._errors() == errors_before:  # never drop a service without saying why
                    self.diags.error(
                        E_EVAL,
                        f"service `{name}` could not be evaluated",
                        svc.decl.name.span,
                        "left out of the output",
                        help="this is a bug in mora if no other error explains it; please report",
                    )
        self._check_clashes(services)
        if self.diags.has_errors:
            return None
        manifest = M.Manifest(
            project=self.program.name,
            domain=domain,
            params={k: _jsonable(v) for k, v in sorted(self.params.items())},
            services=dict(sorted(services.items())),
            secrets={
                name: M.SecretInfo(
                    name=name,
                    generator=s.generator,
                    parts=list(s.parts),
                    public_parts=sorted(s.public_parts),
                )
                for name, s in sorted(self.program.secrets.items())
            },
            inputs={name: self._input(name) for name in sorted(self.program.inputs)},
            hosts=[M.Host(**h) for h in self.site.hosts],  # type: ignore[arg-type]
            targets={k: v for k, v in sorted(self.site.targets.items())},
        )
        return Compiled(manifest, dict(sorted(self.material.items())))

    # --- params ----------------------------------------------------------------------------------
    def _param(self, name: str) -> object:
        """A param's value for this site, resolved on first use (defaults may use other params,
        declared before or after). Raises _Abort when it has none (reported once)."""
        if name in self.params:
            return self.params[name]
        if name in self._params_failed:
            raise _Abort
        sym = self.program.params[name]
        if name in self._params_busy:
            self.diags.error(
                E_EVAL,
                f"the default of param `{name}` depends on itself",
                sym.decl.name.span,
                "here",
            )
            self._params_failed.add(name)
            raise _Abort
        self._params_busy.add(name)
        try:
            value = self._param_value(name)
        except _Abort:
            self._params_failed.add(name)
            raise
        finally:
            self._params_busy.discard(name)
        self.params[name] = value
        return value

    def _param_value(self, name: str) -> object:
        sym = self.program.params[name]
        given = self.site.params
        if name in given:
            sv = given[name]
            value, problem = coerce(sv.value, sym.type, from_text=sv.origin == "--set")
            if problem:
                shown = _show_value(sv.value)
                declared = Label(sym.decl.type.span, f"`{name}` is declared `{sym.type}` here")
                self.diags.error(
                    E_SITE_VALUE,
                    f"invalid value {shown} for param `{name}` from {sv.origin}: {problem}",
                    sv.span or sym.decl.name.span,
                    problem if sv.span else f"declared as `{sym.type}`",
                    labels=[declared] if sv.span else [],
                )
                raise _Abort
            if sym.type.kind in ("duration", "size") and isinstance(value, str):
                return _unit(value, sym.type.kind)
            return value
        if sym.decl.default is not None:
            return self._eval(sym.decl.default, _Scope())
        example = _example(sym.type)
        self.diags.error(
            E_MISSING_PARAM,
            f"missing required param `{name}` (`{sym.type}`)",
            sym.decl.name.span,
            "the site must give a value",
            help=f"pass `--set {name}={_shell_quote(example)}`, or in the site file: "
            f"`params: {{{name}: {example}}}`",
        )
        raise _Abort

    def resolve_params(self) -> None:
        given = self.site.params
        for name in self.program.params:
            with contextlib.suppress(_Abort):
                self._param(name)
        for name, sv in given.items():
            if name not in self.program.params:
                self.diags.warning(
                    W_UNKNOWN_SITE_PARAM,
                    f"{sv.origin} sets `{name}`, which the project does not declare",
                    None,
                    help=did_you_mean(name, self.program.params),
                )

    # --- secrets and inputs ----------------------------------------------------------------------
    def secret_requests(self) -> list[Any] | None:
        """What the store is asked for: every declared secret (with its evaluated arguments)
        and every input (as `input.NAME`). None when an argument could not be evaluated."""
        from mora.moved import secret_moves
        from mora.secrets.provider import SecretRef, SecretRequest

        moves = secret_moves(self.program)  # `moved old -> new`: the store names carried over
        requests = []
        for name, sym in self.program.secrets.items():
            args: dict[str, object] = {}
            sources: dict[str, SecretRef] = {}
            call = sym.decl.value
            try:
                scope = (
                    self._scope_for(self.program.services[sym.instance])
                    if sym.instance
                    else _Scope()
                )
            except _Abort:
                return None
            if isinstance(call, ast.Call) and sym.generator is not None:
                from mora.secrets.generators import GENERATORS

                gen = GENERATORS[sym.generator]
                for i, arg in enumerate(call.args):
                    pname = arg.name.text if arg.name else gen.params[i].name
                    value = arg.value
                    if (
                        isinstance(value, ast.Ref)
                        and value.parts[0].text == "secret"
                        and len(value.parts) >= 2
                    ):
                        part = value.parts[2].text if len(value.parts) > 2 else None
                        source = self._own(scope, "secrets", value.parts[1].text)
                        sources[pname] = SecretRef(source, part)
                        continue
                    errors_before = self._errors()
                    try:
                        args[pname] = _jsonable(self._eval(value, scope))
                    except _Abort:
                        if self._errors() == errors_before:
                            self.diags.error(
                                E_EVAL,
                                f"cannot evaluate the arguments of secret `{name}`",
                                value.span,
                                "here",
                            )
                        return None
            requests.append(SecretRequest(name, sym.generator, args, sources, moves.get(name)))
        for name in self.program.inputs:
            key = INPUT_PREFIX + name
            requests.append(SecretRequest(key, None, {}, {}, moves.get(key)))
        from mora.steps.check import state_names  # what setup steps keep in the store

        requests += [SecretRequest(n, None, {}, {}) for n in state_names(self.program)]
        return requests

    def _resolve_secrets(self) -> None:
        if not self.program.secrets and not self.program.inputs:
            return
        if self.provider is None:
            self.diags.error(E_SECRETS, "no secret store to take secret values from", None)
            return
        requests = self.secret_requests()
        if requests is None:
            return
        from mora.secrets.errors import SecretsError

        try:
            resolution = self.provider.resolve(requests)
        except SecretsError as err:
            sym = self.program.secrets.get(err.secret or "")
            self.diags.error(
                E_SECRETS,
                str(err),
                sym.decl.name.span if sym else None,
                "this secret" if sym else "",
                help=err.help,
            )
            return
        for gen_err in getattr(resolution, "errors", []):
            sym = self.program.secrets.get(gen_err.secret or "")
            self.diags.error(
                E_SECRETS,
                str(gen_err),
                sym.decl.value.span if sym and sym.decl.value else None,
                "cannot generate this secret",
                help=gen_err.help,
            )
        for name, parts in resolution.values.items():
            if name.startswith(INPUT_PREFIX):
                self.inputs[name[len(INPUT_PREFIX) :]] = parts.get("value", "")
            else:
                self.secret_values[name] = parts
        for name in resolution.missing:
            if name.startswith((INPUT_PREFIX, STATE_PREFIX)):
                continue  # unanswered inputs make their users pending; steps not run yet
            sym = self.program.secrets[name]
            self.diags.error(
                E_SECRETS,
                f"secret `{name}` has no value yet",
                sym.decl.name.span,
                "declared without a generator",
                help=f"set it with `mora secrets set {name}` (reads the value from stdin)",
            )
        from mora.moved import warn_renames

        explained = warn_renames(self.program, resolution.orphaned, self.diags)
        for name in resolution.orphaned:
            if name in explained:
                continue  # a likely rename: the help is `moved`, never `prune`
            self.diags.warning(
                W_ORPHANED_SECRET,
                f"the site store keeps `{name}`, which the project no longer declares",
                None,
                help="`mora secrets prune` removes it",
            )
        for name in resolution.stale:
            sym = self.program.secrets.get(name)
            self.diags.warning(
                W_STALE_SECRET,
                f"secret `{name}` was generated with other settings; the stored value is kept",
                sym.decl.name.span if sym else None,
                "declaration changed",
                help=f"`mora secrets rotate {name}` generates it anew with these settings",
            )

    def _own(self, scope: _Scope, table: str, local: str) -> str:
        """The global name of `secret.x` / `input.x` as written inside a template instance."""
        svc = scope.service
        if svc is not None and svc.template is not None and local in getattr(svc.template, table):
            return f"{svc.name}_{local}"
        return local

    def _input(self, name: str) -> M.Input:
        sym = self.program.inputs[name]
        scope = _Scope()
        if sym.instance and sym.service:
            with contextlib.suppress(_Abort):
                scope = self._scope_for(self.program.services[sym.service])
        after: list[str] = []
        prompt: str | None = None
        description: str | None = None
        producer: str | None = None
        for entry in sym.decl.body.entries:
            if not isinstance(entry, ast.Attr):
                continue
            if entry.key.text == "from" and isinstance(entry.value, ast.Ref):
                producer = ".".join(p.text for p in entry.value.parts[:1] + entry.value.parts[2:])
                continue
            try:
                value = self._eval(entry.value, scope)
            except _Abort:
                continue
            if entry.key.text == "after":
                items = value if isinstance(value, list) else [value]
                after = [v.name for v in items if isinstance(v, ServiceRef)]
            elif entry.key.text == "prompt":
                prompt = _plain_text(value)
            elif entry.key.text == "description":
                description = _plain_text(value)
        return M.Input(
            name=name,
            type=str(sym.type.public())
            if sym.type.kind != "string" or not sym.type.secret
            else "secret",
            service=sym.service,
            after=after,
            prompt=prompt,
            description=description,
            producer=producer,
            answered=name in self.inputs,
        )

    # --- services --------------------------------------------------------------------------------
    def _scope_for(self, svc: ServiceSym) -> _Scope:
        """Where a service's body is evaluated. A template instance's arguments are kept as
        expressions and evaluated on first use, so an argument naming a secret does not need
        the secret before secrets are resolved, and two instances may refer to each other."""
        if svc.template is None or svc.decl.instance is None:
            return _Scope(service=svc)
        if svc.name not in self._template_args:
            exprs: dict[str, ast.Expr] = {}
            names = list(svc.template.params)
            for i, arg in enumerate(svc.decl.instance.args):
                exprs[arg.name.text if arg.name else names[i]] = arg.value
            for pname, (_t, tp) in svc.template.params.items():
                if pname not in exprs and tp.default is not None:
                    exprs[pname] = tp.default
            self._template_args[svc.name] = exprs
        return _Scope(service=svc, args=self._template_args[svc.name])

    def _arg(self, scope: _Scope, name: str) -> object:
        """A template argument's value, evaluated once per instance."""
        svc = scope.service
        key = (svc.name if svc else "", name)
        if key in self._arg_values:
            return self._arg_values[key]
        expr = scope.args.get(name)
        if expr is None:
            return None
        if key in self._arg_busy:
            self.diags.error(E_EVAL, f"argument `{name}` depends on itself", expr.span, "here")
            raise _Abort
        self._arg_busy.add(key)
        try:
            value = self._eval(expr, _Scope())  # type: ignore[arg-type]
        finally:
            self._arg_busy.discard(key)
        self._arg_values[key] = value
        return value

    def _attrs(
        self, body: ast.Body, scope: _Scope, pending: set[str] | None = None
    ) -> Iterator[ast.Attr | ast.Block]:
        """The entries that apply for this site: `if` branches chosen by their conditions.
        A condition on an unanswered input applies no branch and adds to `pending`."""
        for entry in body.entries:
            if isinstance(entry, ast.IfEntry):
                yield from self._attrs(self._branch(entry, scope, pending), scope, pending)
            elif isinstance(entry, ast.Attr | ast.Block):
                yield entry

    def _branch(
        self, entry: ast.IfEntry, scope: _Scope, pending: set[str] | None = None
    ) -> ast.Body:
        node: ast.IfEntry | ast.Body | None = entry
        while isinstance(node, ast.IfEntry):
            cond = self._eval(node.condition, scope)
            if isinstance(cond, Pending):
                if pending is not None:
                    pending |= cond.inputs
                return ast.Body((), entry.span)
            if cond is True:
                return node.then
            node = node.otherwise
        return node if isinstance(node, ast.Body) else ast.Body((), entry.span)

    def _items(
        self, entry: ast.Attr | ast.Block, scope: _Scope, pending: set[str] | None = None
    ) -> list[tuple[str, object, Span]]:
        """Key/value pairs of a block attribute, whether written as a block or as a map."""
        if isinstance(entry, ast.Block):
            out: list[tuple[str, object, Span]] = []
            failed = False
            for e in self._attrs(entry.body, scope, pending):
                try:
                    if isinstance(e, ast.Block):
                        inner = dict((k, v) for k, v, _ in self._items(e, scope, pending))
                        out.append((e.key.text, inner, e.span))
                    else:
                        out.append((e.key.text, self._eval(e.value, scope), e.value.span))
                except _Abort:
                    failed = True  # reported; evaluate the other entries so all problems show
            if failed:
                raise _Abort
            return out
        value = self._eval(entry.value, scope)
        if isinstance(value, dict):
            return [(k, v, entry.value.span) for k, v in value.items()]
        return []

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

    def _service(self, svc: ServiceSym) -> M.Service:
        scope = self._scope_for(svc)
        subdomain, port_numbers, route = self._routing_of(svc.name)
        data: dict[str, Any] = {
            "name": svc.name,
            "template": svc.template.decl.name.text if svc.template else None,
        }
        pending: set[str] = set()
        failed = False
        for entry in self._attrs(svc.body, scope, pending):
            try:
                self._attribute(svc, entry, scope, data, pending)
            except _Abort:
                failed = True  # reported; go on so every problem of the service shows
            except ValidationError as err:
                self._invalid(err, entry.span)
                failed = True
        if failed:
            raise _Abort
        self._finish_service(svc, data, pending, subdomain, port_numbers, route)
        try:
            return M.Service(**data)
        except ValidationError as err:
            self._invalid(err, svc.decl.name.span)
            raise _Abort from None

    def _errors(self) -> int:
        return sum(1 for d in self.diags if d.is_error)

    def _invalid(self, err: ValidationError, span: Span) -> None:
        """A value the model refuses (e.g. a port out of range from a template argument)."""
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        self.diags.error(
            E_EVAL,
            f"invalid value{f' for `{where}`' if where else ''}: {first.get('msg', 'rejected')}",
            span,
            "evaluates to an invalid value",
        )

    def _container_path(self, path: str, span: Span) -> str:
        """A volume or file path in its simplest form; `..` is refused (the checker saw literals)."""
        problem = path_problem(path)
        if problem:
            self.diags.error(E_PATH, f"container path `{path}`: {problem}", span, "here")
            raise _Abort
        return normal_path(path)

    def _device(self, path: str, span: Span) -> str:
        """A device node under /dev (Kubernetes mounts it as a hostPath: nothing else may pass)."""
        problem = path_problem(path)
        if problem is None and not normal_path(path).startswith("/dev/"):
            problem = "not a device under /dev"
        if problem:
            self.diags.error(E_HOST_MOUNT, f"device `{path}`: {problem}", span, "here")
            raise _Abort
        return normal_path(path)

    def _attribute(
        self,
        svc: ServiceSym,
        entry: ast.Attr | ast.Block,
        scope: _Scope,
        data: dict[str, Any],
        pending: set[str],
    ) -> None:
        """Evaluate one service attribute into `data` (the fields of `model.Service`)."""
        key = entry.key.text
        if key == "setup" and isinstance(entry, ast.Block):  # mora/steps/evaluate.py
            from mora.steps.evaluate import evaluate_setup

            data["setup"] = evaluate_setup(self, svc, entry, scope)
            return
        if key in _SHAPE_BLOCKS:
            for item_key, value, span in self._items(entry, scope, pending):
                self._no_pending(value, span, f"{_SHAPE_BLOCKS[key]} `{item_key}`")
        if key == "environment":
            env: dict[str, M.Value] = {}
            for var, value, span in self._items(entry, scope, pending):
                env[var] = self._deliver(value, f"{svc.name}/env/{var}", span, pending)
            data["environment"] = dict(sorted(env.items()))
        elif key == "files":
            files = []
            for path, value, span in self._items(entry, scope, pending):
                path = self._container_path(path, span)
                fv = value if isinstance(value, FileVal) else FileVal("text", value)  # type: ignore[arg-type]
                delivered = self._deliver(fv.content, f"{svc.name}/file{path}", span, pending)
                files.append(
                    M.File(
                        path=path,
                        format=fv.format,  # type: ignore[arg-type]
                        content=delivered.value,
                        secret=delivered.secret,
                        sources=delivered.sources,
                        pending=delivered.pending,
                    )
                )
            data["files"] = sorted(files, key=lambda f: f.path)
        elif key == "ports":
            ports = []
            for pname, value, _span in self._items(entry, scope, pending):
                if isinstance(value, dict):
                    ports.append(
                        M.Port(
                            name=pname,
                            target=value["target"],
                            published=value.get("published"),
                            protocol=value.get("protocol", "tcp"),
                        )
                    )
                else:
                    ports.append(M.Port(name=pname, target=int(value)))  # type: ignore[call-overload]
            data["ports"] = sorted(ports, key=lambda p: p.name)
        elif key == "volumes":
            mounts = []
            for path, value, span in self._items(entry, scope, pending):
                assert isinstance(value, MountVal)
                path = self._container_path(path, span)
                name = value.name
                if value.kind in ("volume", "nfs") and name is None:
                    name = f"{volume_owner(self.program, svc.name)}-{_slug(path)}"
                mounts.append(
                    M.Mount(
                        path=path,
                        kind=value.kind,  # type: ignore[arg-type]
                        name=name,
                        size=value.size,
                        host_path=value.host_path,
                        readonly=value.readonly,
                        reason=value.reason,
                        mode=value.mode,
                        storage_class=value.storage_class,
                        access=value.access,  # type: ignore[arg-type]
                        external=value.external,
                        server=value.server,
                        share=value.share,
                    )
                )
            data["volumes"] = sorted(mounts, key=lambda m: m.path)
        elif key == "routes":
            items = self._items(entry, scope, pending)
            data["routes"] = evaluate_routes(self, svc.name, items, _Abort)  # mora/eval_routes.py
        elif key == "healthcheck":
            items = self._items(entry, scope, pending)
            hc = {k: v for k, v, _ in items}
            span = next((sp for k, _, sp in items if k == "test"), entry.span)
            data["healthcheck"] = M.Healthcheck(
                test=self._health_test(hc.get("test", []), span),
                interval_seconds=_seconds(hc.get("interval")),
                timeout_seconds=_seconds(hc.get("timeout")),
                start_period_seconds=_seconds(hc.get("start_period")),
                retries=hc.get("retries"),  # type: ignore[arg-type]
            )
        elif key in ("resources", "security"):
            settings = {}
            for k, v, span in self._items(entry, scope, pending):
                if isinstance(v, Unit):
                    v = v.text
                elif isinstance(v, list):
                    v = [self._public_text(x, span, f"`{k}`") for x in v]
                elif isinstance(v, str):
                    v = self._public_text(v, span, f"`{k}`")
                settings[k] = v
            data[key] = (M.Resources if key == "resources" else M.Security)(**settings)
        elif key == "jobs":  # their rules live with the jobs (mora/jobs)
            from mora.jobs.evaluate import evaluate_jobs

            data["jobs"] = evaluate_jobs(self, entry, scope, pending)
        elif key == "init_only":
            data["init_only"] = {
                k: self._public_text(v, span, "an `init_only` note")
                for k, v, span in sorted(self._items(entry, scope, pending), key=lambda i: i[0])
            }
        elif key in ("extra_hosts", "sysctls", "ulimits"):
            data[key] = {
                k: self._public_text(v, span, f"`{key}` `{k}`")
                for k, v, span in sorted(self._items(entry, scope, pending), key=lambda i: i[0])
            }
        elif key == "labels":
            labels = {}
            for k, v, span in sorted(self._items(entry, scope, pending), key=lambda i: i[0]):
                if isinstance(v, Pending):  # known once answered: the service is held
                    pending |= v.inputs
                    continue
                why = reserved_label(k)
                if why:  # a key computed at compile time: the checker saw only literal ones
                    self.diags.error(E_RESERVED_LABEL, f"label `{k}` is reserved", span, why)
                    continue
                labels[k] = self._public_text(v, span, "a label")
            data["labels"] = labels
        else:
            assert isinstance(entry, ast.Attr)
            value = self._eval(entry.value, scope)
            waiting: set[str] = set()
            _collect_taint(value, set(), waiting)
            if waiting and key in _SHAPE_ATTRS:
                self._no_pending(value, entry.value.span, f"`{key}`")
            if waiting:  # known once a person answers: the service is held until then
                pending |= waiting
                return
            if key in ("command", "entrypoint"):
                data[key] = self._words(value, entry.value.span, f"`{key}`")
            elif key == "depends_on":
                data[key] = sorted({v.name for v in value if isinstance(v, ServiceRef)})  # type: ignore[attr-defined]
            elif key in ("devices", "placement", "dns"):
                data[key] = [
                    self._public_text(v, entry.value.span, f"`{key}`")
                    for v in value  # type: ignore[attr-defined]
                ]
                if key == "devices":
                    data[key] = [self._device(d, entry.value.span) for d in data[key]]
            elif key in ("stateful", "auto_update", "init"):
                data[key] = value is True
            elif key == "stop_grace_period":
                data["stop_grace_period_seconds"] = _seconds(value)
            elif key == "subdomain":
                return  # evaluated with the routing, see _routing_of
            elif key == "image":
                data[key] = self._public_text(value, entry.value.span, "`image`")
                problem = T.check_image(data[key])
                if problem:
                    self.diags.error("E0303", "invalid image reference", entry.value.span, problem)
            else:
                data[key] = self._public_text(value, entry.value.span, f"`{key}`")

    def _finish_service(
        self,
        svc: ServiceSym,
        data: dict[str, Any],
        pending: set[str],
        subdomain: str | None,
        port_numbers: dict[str, int],
        route: str | None,
    ) -> None:
        """The derived fields: public host and URLs, internal URL, inputs."""
        mode = str(data.get("network_mode") or "")
        if mode.startswith("service:"):  # in that service's network namespace: it starts first
            data["depends_on"] = sorted(
                {*data.get("depends_on", []), mode.removeprefix("service:")}
            )
        if subdomain is not None:
            host = f"{subdomain}.{self.domain}"
            data.update(subdomain=subdomain, host=host, url=f"https://{host}", route_port=route)
        if route is not None:
            data["internal_url"] = f"http://{svc.name}:{port_numbers[route]}"
        elif port_numbers:
            first = sorted(port_numbers)[0]
            data["internal_url"] = f"http://{svc.name}:{port_numbers[first]}"
        data["inputs"] = list(self._inputs_of().get(svc.name, []))
        data["pending_inputs"] = sorted(pending)
        if "init_only" in data:  # only variables this instance sets (an `if` may leave one out)
            env = data.get("environment", {})
            data["init_only"] = {k: v for k, v in data["init_only"].items() if k in env}
        if "image" not in data:
            raise _Abort

    def _inputs_of(self) -> dict[str | None, list[str]]:
        """Service -> its inputs' names, sorted; built once (not a scan of every input per service)."""
        if self._inputs_index is None:
            self._inputs_index = {}
            for name, inp in sorted(self.program.inputs.items()):
                self._inputs_index.setdefault(inp.service, []).append(name)
        return self._inputs_index

    def _deliver(self, value: object, key: str, span: Span, pending: set[str]) -> M.Value:
        """A leaf value for a container: plain text, secret material by name, or pending."""
        if isinstance(value, Pending):
            pending |= value.inputs
            return M.Value(pending=sorted(value.inputs))
        if isinstance(value, Secret):
            self.material[key] = value.value
            return M.Value(secret=key, sources=sorted(value.sources))
        if isinstance(value, FileVal):
            return self._deliver(value.content, key, span, pending)
        return M.Value(value=_text(value))

    def _no_pending(self, value: object, span: Span, what: str) -> None:
        """What shapes the deployment (image, ports, volumes...) cannot wait for a person."""
        waiting: set[str] = set()
        _collect_taint(value, set(), waiting)
        if isinstance(value, MountVal):
            for part in (value.size, value.name, value.host_path, value.readonly):
                _collect_taint(part, set(), waiting)
        if waiting:
            self.diags.error(
                E_EVAL,
                f"{what} needs an input that is not answered yet",
                span,
                "needs " + ", ".join(sorted(waiting)),
                help=_PENDING_HELP,
            )
            raise _Abort

    def _words(self, value: object, span: Span, what: str) -> list[str]:
        """A command line as words: a list as it is, a string split the way a shell would."""
        if isinstance(value, list):
            return [self._public_text(v, span, what) for v in value]
        import shlex

        text = self._public_text(value, span, what)
        try:
            return shlex.split(text)
        except ValueError as err:
            self.diags.error(E_EVAL, f"cannot split {what} into words: {err}", span, "here")
            raise _Abort from None

    def _health_test(self, value: object, span: Span) -> list[str]:
        """Compose's forms: a string runs in a shell (`CMD-SHELL`); a list is `CMD` words."""
        if isinstance(value, list):
            words = [self._public_text(v, span, "a healthcheck command") for v in value]
            if words and words[0] in ("CMD", "CMD-SHELL", "NONE"):
                return words
            return ["CMD", *words]
        return ["CMD-SHELL", self._public_text(value, span, "a healthcheck command")]

    def _public_text(self, value: object, span: Span, what: str) -> str:
        if isinstance(value, Secret):
            # The checker rejects this statically; values only get here through a template.
            self.diags.error("E0302", f"secret value in {what}", span, "this is secret")
            raise _Abort
        if isinstance(value, Pending):
            self.diags.error(
                E_EVAL,
                f"{what} needs an input that is not answered yet",
                span,
                "needs " + ", ".join(sorted(value.inputs)),
                help=_PENDING_HELP,
            )
            raise _Abort
        if isinstance(value, MountVal | FileVal | list | dict):
            self.diags.error(E_EVAL, f"{what} must be text here", span, "not text")
            raise _Abort
        return _text(value)

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

    # --- expressions -----------------------------------------------------------------------------
    def _eval(self, expr: ast.Expr, scope: _Scope) -> object:
        if isinstance(expr, ast.StringLit):
            return self._eval_string(expr, scope)
        if isinstance(expr, ast.IntLit | ast.BoolLit):
            return expr.value
        if isinstance(expr, ast.UnitLit):
            seconds = T.parse_duration(expr.text)
            if seconds is not None:
                return Unit(expr.text, "duration", seconds)
            return Unit(expr.text, "size", float(T.parse_size(expr.text) or 0))
        if isinstance(expr, ast.ListExpr):
            items = []
            for item in expr.items:
                if item.condition is not None:
                    cond = self._eval(item.condition, scope)
                    if isinstance(cond, Pending):
                        items.append(cond)  # unknown until the input is answered
                        continue
                    if cond is not True:
                        continue
                items.append(self._eval(item.value, scope))
            return items
        if isinstance(expr, ast.MapExpr):
            return {e.key.text: self._eval(e.value, scope) for e in expr.entries}
        if isinstance(expr, ast.Ref):
            return self._eval_ref(expr, scope)
        if isinstance(expr, ast.Call):
            return self._eval_call(expr, scope)
        if isinstance(expr, ast.Unary):
            operand = self._eval(expr.operand, scope)
            return operand if isinstance(operand, Pending) else not operand
        if isinstance(expr, ast.Binary):
            left_value = self._eval(expr.left, scope)
            right_value = self._eval(expr.right, scope)
            waiting = [v for v in (left_value, right_value) if isinstance(v, Pending)]
            if waiting:  # a condition on an unanswered input is itself unknown
                return Pending(frozenset().union(*(w.inputs for w in waiting)))
            if expr.op == "&&":
                return left_value is True and right_value is True
            if expr.op == "||":
                return left_value is True or right_value is True
            left, right = _plain(left_value), _plain(right_value)
            return (left == right) if expr.op == "==" else (left != right)
        raise _Abort

    def _eval_string(self, expr: ast.StringLit, scope: _Scope) -> object:
        pieces: list[str] = []
        sources: set[str] = set()
        pending: set[str] = set()
        for part in expr.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = self._eval(part, scope)
            if isinstance(value, Pending):
                pending |= value.inputs
            elif isinstance(value, Secret):
                sources |= value.sources
                pieces.append(value.value)
            else:
                pieces.append(_text(value))
        if pending:
            return Pending(frozenset(pending))
        text = "".join(pieces)
        return Secret(text, frozenset(sources)) if sources else text

    def _eval_ref(self, ref: ast.Ref, scope: _Scope) -> object:
        head = ref.parts[0].text
        names = [p.text for p in ref.parts[1:]]
        if head == "param":
            return self._param(names[0])
        if head == "secret":
            name = self._own(scope, "secrets", names[0])
            parts = self.secret_values.get(name)
            if parts is None:
                raise _Abort
            part = names[1] if len(names) > 1 else "value"
            sym = self.program.secrets[name]
            if part in sym.public_parts:
                return parts[part]
            return Secret(parts[part], frozenset({f"secret.{name}"}))
        if head == "input":
            name = self._own(scope, "inputs", names[0])
            isym = self.program.inputs[name]
            if name not in self.inputs:
                return Pending(frozenset({name}))
            raw = self.inputs[name]
            if isym.type.secret:
                return Secret(raw, frozenset({f"input.{name}"}))
            value, problem = coerce(raw, isym.type, from_text=True)
            if problem:
                self.diags.error(
                    E_EVAL,
                    f"the stored answer to input `{name}` is not valid: {problem}",
                    ref.span,
                    "used here",
                    help=f"answer it again with `mora secrets set {INPUT_PREFIX}{name}`",
                )
                raise _Abort
            return value
        if head == "site":
            return self.domain
        if head == "args":
            value = self._arg(scope, names[0])
            if len(names) == 1 or not isinstance(value, ServiceRef):
                return value
            target: str | None = value.name  # `args.db.internal_url`: a field of the service
            names = names[1:]
        else:
            target = (scope.service.name if scope.service else None) if head == "self" else head
        if target is None:
            raise _Abort
        if not names:
            return ServiceRef(target)
        field_ = names[0]
        if field_ in ("name", "internal_host"):
            return target
        if field_ == "ports":
            ports = self._ports_of(target)
            if names[1] not in ports:
                self.diags.error(
                    E_EVAL, f"`{target}` has no port `{names[1]}` for this site", ref.span, "here"
                )
                raise _Abort
            return ports[names[1]]
        subdomain, ports, route = self._routing_of(target)
        if field_ in ("host", "url"):
            if subdomain is None:
                self.diags.error(
                    E_EVAL,
                    f"`{target}` has no subdomain for this site, so it has no `{field_}`",
                    ref.span,
                    "used here",
                )
                raise _Abort
            host = f"{subdomain}.{self.domain}"
            return host if field_ == "host" else f"https://{host}"
        if field_ == "internal_url":
            port = ports.get(route or "") or (ports[sorted(ports)[0]] if ports else None)
            if port is None:
                raise _Abort
            return f"http://{target}:{port}"
        raise _Abort

    def _eval_call(self, call: ast.Call, scope: _Scope) -> object:
        fname = call.func.dotted
        from mora.builtins import FUNCTIONS

        fn = FUNCTIONS[fname]
        names = [p.name for p in fn.params]
        args: dict[str, object] = {}
        for i, arg in enumerate(call.args):
            args[arg.name.text if arg.name else names[i]] = self._eval(arg.value, scope)
        waiting = [v for v in args.values() if isinstance(v, Pending)]
        if waiting and fname in ("volume", "bind", "tmpfs", "join", "text", "nfs", "route"):
            return Pending(frozenset().union(*(w.inputs for w in waiting)))
        if fname == "volume":
            size = args.get("size")
            return MountVal(
                "volume",
                size=str(size) if size is not None else None,
                name=_opt_text(args.get("name")),
                readonly=args.get("readonly") is True,
                storage_class=_opt_text(args.get("storage_class")),
                access=_opt_text(args.get("access")),
                external=args.get("external") is True,
            )
        if fname == "nfs":
            return self._nfs(call, args)
        if fname == "route":
            auth, size = args.get("auth"), args.get("max_body")
            return RouteVal(
                port=_opt_text(args.get("port")),
                auth=auth.name if isinstance(auth, ServiceRef) else None,
                max_body=str(size) if size is not None else None,
                timeout_seconds=_seconds(args.get("timeout")),
            )
        if fname == "bind":
            return self._bind(call, args)
        if fname == "tmpfs":
            size = args.get("size")
            return MountVal(
                "tmpfs",
                size=str(size) if size is not None else None,
                mode=_opt_text(args.get("mode")),
            )
        if fname == "join":
            items = args["items"]
            sep = _text(args.get("separator", ","))
            return self._combine(items, lambda plain: sep.join(_text(v) for v in plain))
        if fname == "text":
            return FileVal("text", self._combine(args["value"], _text))  # type: ignore[arg-type]
        render = RENDERERS[fname]

        def rendered(plain: object) -> str:
            try:
                return render(plain)  # type: ignore[arg-type]
            except (TypeError, ValueError) as err:
                self.diags.error(E_EVAL, f"cannot render {fname}: {err}", call.span, "here")
                raise _Abort from None

        return FileVal(fname, self._combine(args["value"], rendered))  # type: ignore[arg-type]

    def _bind(self, call: ast.Call, args: dict[str, object]) -> MountVal:
        """A host directory as the site resolved it: no `..`, a system directory with a reason."""
        host_path = _text(args["path"])
        readonly = bool(args.get("readonly", False))
        problem = path_problem(host_path)
        if problem:
            self.diags.error(E_PATH, f"host path `{host_path}`: {problem}", call.span, "here")
            raise _Abort
        exposed = system_dir(host_path, readonly)
        if exposed is not None and not _text(args.get("reason", "")).strip():
            self.diags.error(
                E_HOST_MOUNT,
                host_mount_message(host_path, exposed),
                call.span,
                "a system path of the host",
                help=HOST_MOUNT_HELP,
            )
            raise _Abort
        reason = _text(args.get("reason", "")).strip() or None
        return MountVal("bind", host_path=normal_path(host_path), readonly=readonly, reason=reason)

    def _nfs(self, call: ast.Call, args: dict[str, object]) -> MountVal:
        """An NFS export: `server` a host name or address, `path` absolute, no `..`."""
        server, share = _text(args["server"]).strip(), _text(args["path"])
        problem = path_problem(share) or ("" if share.startswith("/") else "not absolute")
        if not server or any(c in server for c in ' ,:/="' + "'"):
            problem = f"`{server}` is not a server name or address"
        if problem:
            self.diags.error(E_PATH, f"nfs share `{server}:{share}`: {problem}", call.span, "here")
            raise _Abort
        size = args.get("size")
        return MountVal(
            "nfs",
            size=str(size) if size is not None else None,
            readonly=args.get("readonly") is True,
            server=server,
            share=normal_path(share),
        )

    def _combine(self, value: object, fn: Any) -> object:
        """Apply `fn` to the plain form of a structure, carrying taint and pendency over."""
        sources: set[str] = set()
        pending: set[str] = set()
        _collect_taint(value, sources, pending)
        if pending:
            return Pending(frozenset(pending))
        out = fn(_plain(value))
        return Secret(out, frozenset(sources)) if sources else out


# --- helpers -------------------------------------------------------------------------------------


def _collect_taint(value: object, sources: set[str], pending: set[str]) -> None:
    if isinstance(value, Secret):
        sources |= value.sources
    elif isinstance(value, Pending):
        pending |= value.inputs
    elif isinstance(value, list):
        for v in value:
            _collect_taint(v, sources, pending)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_taint(v, sources, pending)


def _plain(value: object) -> object:
    """The underlying data, secrets unwrapped (only for rendering into secret material)."""
    if isinstance(value, Secret):
        return value.value
    if isinstance(value, Unit):
        return value.text
    if isinstance(value, ServiceRef):
        return value.name
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Secret):
        raise TypeError("secret text must be delivered as a secret")
    if isinstance(value, ServiceRef):
        return value.name
    if value is None:
        return ""
    return str(value)


def _opt_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _plain_text(value: object) -> str | None:
    if isinstance(value, Secret | Pending):
        return None
    return _text(value)


def _seconds(value: object) -> float | None:
    if isinstance(value, Unit):
        return value.amount
    return None


def _jsonable(value: object) -> object:
    if isinstance(value, Unit | ServiceRef):
        return _plain(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _unit(text: str, kind: str) -> Unit:
    amount = T.parse_duration(text) if kind == "duration" else T.parse_size(text)
    return Unit(text, kind, float(amount or 0))


def _shell_quote(text: str) -> str:
    return f"'{text}'" if any(c in text for c in " []{}") else text


def _show_value(value: object) -> str:
    """A site value for a message (params are never secret), kept short."""
    text = repr(value) if not isinstance(value, str) else f"`{value}`"
    return text if len(text) <= 60 else text[:57] + "..."


def _slug(path: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in path.lower()).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug or "root"


def _example(t: T.Type) -> str:
    return {
        "email": "you@example.org",
        "bool": "true",
        "int": "1",
        "port": "8080",
        "path": "/srv/data",
        "hostname": "host.example.org",
        "url": "https://example.org",
        "duration": "30s",
        "size": "10Gi",
        "enum": t.values[0] if t.values else "VALUE",
        "list": "[a, b]",
        "map": "{a: b}",
    }.get(t.kind, "VALUE")


def evaluate(
    program: Program, site: Site, provider: Provider | None, diags: Diagnostics
) -> Compiled | None:
    """Resolve a checked program against a site; None when errors were reported."""
    return Evaluator(program, site, provider, diags).run()
