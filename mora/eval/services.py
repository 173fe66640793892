"""Services to model: each attribute of a body evaluated and delivered (secrets to material).

At the leaves (environment values, files) secret text is moved into `material`, keyed by a stable
name, and the manifest keeps only that name; pending values keep only the input names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from mora import ast
from mora import model as M
from mora import types as T
from mora.check.program import (
    E_HOST_MOUNT,
    E_PATH,
    E_RESERVED_LABEL,
    ServiceSym,
)
from mora.eval.routes import evaluate_routes
from mora.eval.scope import (
    E_EVAL,
    EvalState,
    _Scope,
)
from mora.eval.values import (
    FileVal,
    MountVal,
    Pending,
    Secret,
    ServiceRef,
    Unit,
    _Abort,
    _collect_taint,
    _seconds,
    _slug,
    _text,
)
from mora.model import ValidationError
from mora.moved import volume_owner
from mora.reserved import normal_path, path_problem, reserved_label
from mora.source import Span
from mora.vocabulary import service as V

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Any

# What shapes a deployment cannot wait for an input; everything else holds the service instead.
# Read from the vocabulary (mora/vocabulary/service.py, `fixed_before_inputs`).
_SHAPE_ATTRS = V.SHAPE_ATTRS


_SHAPE_BLOCKS = V.SHAPE_BLOCKS


_PENDING_HELP = V.pending_help()


_TOP = _Scope()  # where an argument was written: outside any service (never changed)

_KEPT_SCOPES = 256  # scopes kept at a time (the services being evaluated and those they read)

_KEPT_BODIES = 1024  # bodies whose entries are kept at a time (a template's come back often)


def _is_attr(entry: ast.Entry) -> bool:
    return isinstance(entry, ast.Attr | ast.Block)


class ServicesPass(EvalState):
    """One service body into a `model.Service`, attribute by attribute."""

    def _scope_for(self, svc: ServiceSym) -> _Scope:
        """Where a service's body is evaluated. A template instance's arguments are kept as
        expressions and evaluated on first use, so an argument naming a secret does not need
        the secret before secrets are resolved, and two instances may refer to each other.
        Made once per service: the body, its steps and the contracts all ask for it."""
        scope = self._scopes.get(svc.name)
        if scope is None:
            if len(self._scopes) > _KEPT_SCOPES:  # a few at a time: the ones in use
                self._scopes.clear()
            scope = self._scopes[svc.name] = self._new_scope(svc)
        return scope

    def _done_with(self, svc: ServiceSym) -> None:
        """Let go of what only evaluating `svc` needed: its scope and its arguments' values
        (at 10,000 services ~20 MiB held to the end of the pass). A later service that reads
        them (a contract's field, say) evaluates them again: same value, no diagnostic, since
        a failed argument is never kept anyway."""
        scope = self._scopes.pop(svc.name, None)
        for name in scope.args if scope is not None else ():
            self._arg_values.pop((svc.name, name), None)

    def _new_scope(self, svc: ServiceSym) -> _Scope:
        if svc.template is None or svc.decl.instance is None:
            return _Scope(service=svc)
        if svc.name not in self._template_args:
            exprs: dict[str, ast.Expr] = {}
            names = list(svc.template.params)
            for i, arg in enumerate(svc.decl.instance.args):
                exprs[arg.name.text if arg.name else names[i]] = arg.value
            if self.program.defaults:  # the file's `defaults` (mora/contracts/defaults.py)
                from mora.contracts.defaults import with_defaults

                exprs = with_defaults(self.program, svc, exprs)
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
            value = self._eval(expr, _TOP)  # type: ignore[arg-type]
        finally:
            self._arg_busy.discard(key)
        self._arg_values[key] = value
        return value

    def _attrs(
        self, body: ast.Body, scope: _Scope, pending: set[str] | None = None
    ) -> Iterable[ast.Attr | ast.Block]:
        """The entries that apply for this site: `if` branches chosen by their conditions.
        A condition on an unanswered input applies no branch and adds to `pending`."""
        known = self._plain_bodies.get(id(body))
        if known is None:  # once per body of a template: most have no `if`
            if len(self._plain_bodies) > _KEPT_BODIES:  # an instance's own bodies come and go
                self._plain_bodies.clear()
            has_if = any(isinstance(e, ast.IfEntry) for e in body.entries)
            plain = None if has_if else tuple(e for e in body.entries if _is_attr(e))
            known = self._plain_bodies[id(body)] = (body, plain)  # `body` kept: its id stays its
        if known[1] is not None:
            return known[1]
        return self._chosen(body, scope, pending)

    def _chosen(
        self, body: ast.Body, scope: _Scope, pending: set[str] | None
    ) -> Iterator[ast.Attr | ast.Block]:
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

    def _service(self, svc: ServiceSym) -> M.Service:
        scope = self._scope_for(svc)
        subdomain, port_numbers, route = self._routing_of(svc.name)
        data: dict[str, Any] = {
            "name": svc.name,
            "template": svc.template.decl.name.text if svc.template else None,
        }
        if self.program.modules:  # from a module under an alias: `media.watch` (mora.modules)
            from mora.modules.resolve import dotted_name

            if (dotted := dotted_name(self.program, svc.name)) != svc.name:
                data["module_name"] = dotted
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
        build = BLOCKS.get(key)
        if build is not None:
            build(self, svc, entry, scope, data, pending)
            return
        assert isinstance(entry, ast.Attr)
        value = self._eval(entry.value, scope)
        waiting: set[str] = set()
        _collect_taint(value, set(), waiting)
        if waiting and key in _SHAPE_ATTRS:
            self._no_pending(value, entry.value.span, f"`{key}`")
        if waiting:  # known once a person answers: the service is held until then
            pending |= waiting
            return
        VALUES.get(key, _public)(self, key, value, entry.value.span, data)

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
        if self.program.contracts:  # a provider passed to a contract-typed argument starts first
            from mora.contracts.evaluate import implied_depends_on

            if extra := implied_depends_on(self, svc, self._scope_for(svc)):  # type: ignore[arg-type]
                data["depends_on"] = sorted({*data.get("depends_on", []), *extra})
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
        return self.compactor.plain_value(_text(value))  # one object per text (compact.py)

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


# --- one builder per attribute (the keys are the vocabulary's; tests/unit/test_check_rules.py) ----
# A block builder reads the block's items and sets its field of `model.Service` in `data`; a value
# builder gets the attribute's evaluated value, public and answered (the pending ones never get
# here), and sets its field.

if TYPE_CHECKING:  # (they name `Any`)
    BlockBuilder = Callable[
        [ServicesPass, ServiceSym, ast.Attr | ast.Block, _Scope, dict[str, Any], set[str]], None
    ]
    ValueBuilder = Callable[[ServicesPass, str, object, Span, dict[str, Any]], None]


def _environment(
    ev: ServicesPass,
    svc: ServiceSym,
    entry: ast.Attr | ast.Block,
    scope: _Scope,
    data: dict[str, Any],
    pending: set[str],
) -> None:
    env: dict[str, M.Value] = {}
    for var, value, span in ev._items(entry, scope, pending):
        env[var] = ev._deliver(value, f"{svc.name}/env/{var}", span, pending)
    data["environment"] = dict(sorted(env.items()))


def _files(
    ev: ServicesPass,
    svc: ServiceSym,
    entry: ast.Attr | ast.Block,
    scope: _Scope,
    data: dict[str, Any],
    pending: set[str],
) -> None:
    files = []
    for path, value, span in ev._items(entry, scope, pending):
        path = ev._container_path(path, span)
        fv = value if isinstance(value, FileVal) else FileVal("text", value)  # type: ignore[arg-type]
        delivered = ev._deliver(fv.content, f"{svc.name}/file{path}", span, pending)
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


def _ports(
    ev: ServicesPass,
    svc: ServiceSym,
    entry: ast.Attr | ast.Block,
    scope: _Scope,
    data: dict[str, Any],
    pending: set[str],
) -> None:
    ports = []
    for pname, value, _span in ev._items(entry, scope, pending):
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


def _volumes(
    ev: ServicesPass,
    svc: ServiceSym,
    entry: ast.Attr | ast.Block,
    scope: _Scope,
    data: dict[str, Any],
    pending: set[str],
) -> None:
    mounts = []
    for path, value, span in ev._items(entry, scope, pending):
        assert isinstance(value, MountVal)
        path = ev._container_path(path, span)
        name = value.name
        if value.kind in ("volume", "nfs") and name is None:
            name = f"{volume_owner(ev.program, svc.name)}-{_slug(path)}"
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


def _routes(
    ev: ServicesPass,
    svc: ServiceSym,
    entry: ast.Attr | ast.Block,
    scope: _Scope,
    data: dict[str, Any],
    pending: set[str],
) -> None:
    items = ev._items(entry, scope, pending)
    data["routes"] = evaluate_routes(ev, svc.name, items, _Abort)  # mora/eval/routes.py


def _healthcheck(
    ev: ServicesPass,
    svc: ServiceSym,
    entry: ast.Attr | ast.Block,
    scope: _Scope,
    data: dict[str, Any],
    pending: set[str],
) -> None:
    items = ev._items(entry, scope, pending)
    hc = {k: v for k, v, _ in items}
    span = next((sp for k, _, sp in items if k == "test"), entry.span)
    data["healthcheck"] = M.Healthcheck(
        test=ev._health_test(hc.get("test", []), span),
        interval_seconds=_seconds(hc.get("interval")),
        timeout_seconds=_seconds(hc.get("timeout")),
        start_period_seconds=_seconds(hc.get("start_period")),
        retries=hc.get("retries"),  # type: ignore[arg-type]
    )


def _settings(
    ev: ServicesPass,
    svc: ServiceSym,
    entry: ast.Attr | ast.Block,
    scope: _Scope,
    data: dict[str, Any],
    pending: set[str],
) -> None:
    """`resources` and `security`: closed blocks of public settings."""
    key = entry.key.text
    settings = {}
    for k, v, span in ev._items(entry, scope, pending):
        if isinstance(v, Unit):
            v = v.text
        elif isinstance(v, list):
            v = [ev._public_text(x, span, f"`{k}`") for x in v]
        elif isinstance(v, str):
            v = ev._public_text(v, span, f"`{k}`")
        settings[k] = v
    data[key] = (M.Resources if key == "resources" else M.Security)(**settings)


def _jobs(
    ev: ServicesPass,
    svc: ServiceSym,
    entry: ast.Attr | ast.Block,
    scope: _Scope,
    data: dict[str, Any],
    pending: set[str],
) -> None:
    from mora.jobs.evaluate import evaluate_jobs  # their rules live with the jobs (mora/jobs)

    data["jobs"] = evaluate_jobs(ev, entry, scope, pending)


def _init_only(
    ev: ServicesPass,
    svc: ServiceSym,
    entry: ast.Attr | ast.Block,
    scope: _Scope,
    data: dict[str, Any],
    pending: set[str],
) -> None:
    data["init_only"] = {
        k: ev._public_text(v, span, "an `init_only` note")
        for k, v, span in sorted(ev._items(entry, scope, pending), key=lambda i: i[0])
    }


def _text_map(
    ev: ServicesPass,
    svc: ServiceSym,
    entry: ast.Attr | ast.Block,
    scope: _Scope,
    data: dict[str, Any],
    pending: set[str],
) -> None:
    """`extra_hosts`, `sysctls`, `ulimits`: a map of public texts, sorted."""
    key = entry.key.text
    data[key] = {
        k: ev._public_text(v, span, f"`{key}` `{k}`")
        for k, v, span in sorted(ev._items(entry, scope, pending), key=lambda i: i[0])
    }


def _labels(
    ev: ServicesPass,
    svc: ServiceSym,
    entry: ast.Attr | ast.Block,
    scope: _Scope,
    data: dict[str, Any],
    pending: set[str],
) -> None:
    labels = {}
    for k, v, span in sorted(ev._items(entry, scope, pending), key=lambda i: i[0]):
        if isinstance(v, Pending):  # known once answered: the service is held
            pending |= v.inputs
            continue
        why = reserved_label(k)
        if why:  # a key computed at compile time: the checker saw only literal ones
            ev.diags.error(E_RESERVED_LABEL, f"label `{k}` is reserved", span, why)
            continue
        labels[k] = ev._public_text(v, span, "a label")
    data["labels"] = labels


def _words(ev: ServicesPass, key: str, value: object, span: Span, data: dict[str, Any]) -> None:
    """`command`, `entrypoint`: a string split like a shell, or a list of words."""
    data[key] = ev._words(value, span, f"`{key}`")


def _depends_on(
    ev: ServicesPass, key: str, value: object, span: Span, data: dict[str, Any]
) -> None:
    # A second `depends_on` only comes from an amend (mora/amend): the two are unioned.
    new = {v.name for v in value if isinstance(v, ServiceRef)}  # type: ignore[attr-defined]
    data[key] = sorted(new.union(data.get(key, ())))


def _texts(ev: ServicesPass, key: str, value: object, span: Span, data: dict[str, Any]) -> None:
    """`placement`, `dns`: lists of public texts."""
    texts = [ev._public_text(v, span, f"`{key}`") for v in value]  # type: ignore[attr-defined]
    if key == "placement" and key in data:  # a second one only comes from an amend: unioned
        texts = [*data[key], *(t for t in texts if t not in data[key])]
    data[key] = texts


def _devices(ev: ServicesPass, key: str, value: object, span: Span, data: dict[str, Any]) -> None:
    _texts(ev, key, value, span, data)
    data[key] = [ev._device(d, span) for d in data[key]]


def _flag(ev: ServicesPass, key: str, value: object, span: Span, data: dict[str, Any]) -> None:
    data[key] = value is True


def _stop_grace_period(
    ev: ServicesPass, key: str, value: object, span: Span, data: dict[str, Any]
) -> None:
    data["stop_grace_period_seconds"] = _seconds(value)


def _subdomain(ev: ServicesPass, key: str, value: object, span: Span, data: dict[str, Any]) -> None:
    return  # evaluated with the routing, see _routing_of


def _image(ev: ServicesPass, key: str, value: object, span: Span, data: dict[str, Any]) -> None:
    data[key] = ev._public_text(value, span, "`image`")
    problem = T.check_image(data[key])
    if problem:
        ev.diags.error("E0303", "invalid image reference", span, problem)


def _public(ev: ServicesPass, key: str, value: object, span: Span, data: dict[str, Any]) -> None:
    """Every other value attribute: its public text."""
    data[key] = ev._public_text(value, span, f"`{key}`")


BLOCKS: dict[str, BlockBuilder] = {
    "environment": _environment,
    "files": _files,
    "ports": _ports,
    "volumes": _volumes,
    "routes": _routes,
    "healthcheck": _healthcheck,
    "resources": _settings,
    "security": _settings,
    "jobs": _jobs,
    "init_only": _init_only,
    "extra_hosts": _text_map,
    "sysctls": _text_map,
    "ulimits": _text_map,
    "labels": _labels,
}

VALUES: dict[str, ValueBuilder] = {  # the others are public text (`_public`)
    "command": _words,
    "entrypoint": _words,
    "depends_on": _depends_on,
    "devices": _devices,
    "placement": _texts,
    "dns": _texts,
    "stateful": _flag,
    "auto_update": _flag,
    "init": _flag,
    "stop_grace_period": _stop_grace_period,
    "subdomain": _subdomain,
    "enabled": _subdomain,  # nothing to write: mora/contracts/enabled.py decides, before
    "image": _image,
}
