"""The evaluation pass: a checked `Program` + a `Site` + secret values -> the resolved `Manifest`.

Values carry their taint: anything computed from a secret is a `Secret` (its text plus the names
it came from), anything computed from an unanswered input is `Pending`. At the leaves
(environment values, files) secret text is moved into `material`, keyed by a stable name, and the
manifest keeps only that name; pending values keep only the input names. Diagnostics name secrets,
never show their values. This module holds only the order of the work; each concern is a module:

    values.py       Secret, Pending, Unit, ServiceRef, MountVal, FileVal, taint helpers
    scope.py        EvalState (what the passes share), _Scope, the codes
    params.py       site params
    secrets.py      secret requests and the Provider protocol the store fills
    inputs.py       inputs, answered or pending
    routing.py      ports, subdomains, clashes of computed values
    services.py     service bodies, attribute by attribute, into the model
    compact.py      one copy of each repeated text and step constant in the model
    expressions.py  expressions to values
"""

from __future__ import annotations

from mora import model as M
from mora.check.program import Program
from mora.compiled import Compiled
from mora.diagnostics import Diagnostics
from mora.eval.expressions import ExpressionsPass
from mora.eval.inputs import InputsPass
from mora.eval.params import ParamsPass
from mora.eval.routing import RoutingPass
from mora.eval.scope import E_EVAL, E_NO_DOMAIN
from mora.eval.secrets import Provider, SecretsPass
from mora.eval.services import ServicesPass
from mora.eval.values import _Abort, _jsonable
from mora.site import Site


class Evaluator(
    ParamsPass,
    SecretsPass,
    InputsPass,
    ServicesPass,
    RoutingPass,
    ExpressionsPass,
):
    """The passes over one `EvalState`, in the order `run` gives them."""

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
        from mora.contracts.enabled import check_dependencies, disabled_services

        disabled = disabled_services(self)  # type: ignore[arg-type]  # `enabled = false`
        compactor = self.compactor  # repeated texts and step constants kept once (compact.py)
        for name, svc in self.program.services.items():
            if name in disabled:
                continue
            errors_before = self._errors()
            try:
                services[name] = service = self._service(svc)
                compactor.service(service)
                self._done_with(svc)
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
        inputs = {
            name: self._input(name)
            for name in sorted(self.program.inputs)
            if self.program.inputs[name].service not in disabled
        }
        check_dependencies(self, services, inputs, disabled)  # type: ignore[arg-type]
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
            inputs=inputs,
            hosts=[M.Host(**h) for h in self.site.hosts],  # type: ignore[arg-type]
            targets={k: v for k, v in sorted(self.site.targets.items())},
        )
        return Compiled(manifest, dict(sorted(self.material.items())))


def evaluate(
    program: Program, site: Site, provider: Provider | None, diags: Diagnostics
) -> Compiled | None:
    """Resolve a checked program against a site; None when errors were reported."""
    return Evaluator(program, site, provider, diags).run()
