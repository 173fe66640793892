"""What every object of one service needs to agree on, decided once: names, labels, data keys.

The Deployment mounts ConfigMap and Secret keys that other files define, and init containers
of other services dial this service's Service name; computing those in one place keeps the
objects consistent with each other.
"""

from __future__ import annotations

from mora.diagnostics import Diagnostics
from mora.model import Manifest, Port, Service
from mora.record import Record, field

from .naming import data_keys, dns_label, is_label_value, with_suffix
from .settings import Settings

E_NAME_CLASH = "E0602"
W_RENAMED = "W0602"

LABEL = "app.kubernetes.io/"
MANAGED_BY = "mora"


class ServicePlan(Record):
    svc: Service
    name: str  # the Kubernetes name of the service (Service, Deployment, container)
    namespace: str
    labels: dict[str, str]
    selector: dict[str, str]
    secret_env: dict[str, str] = field(default_factory=dict)  # variable -> Secret key
    secret_files: dict[str, str] = field(default_factory=dict)  # path -> Secret key
    config_files: dict[str, str] = field(default_factory=dict)  # path -> ConfigMap key

    @property
    def secret_name(self) -> str:
        return with_suffix(self.name, "secrets")

    @property
    def config_name(self) -> str:
        return with_suffix(self.name, "files")

    @property
    def pending(self) -> bool:
        return bool(self.svc.pending_inputs)

    def wait_port(self) -> Port | None:
        """The TCP port that shows this service is up: its routed port, else the first one."""
        tcp = [p for p in self.svc.ports if p.protocol == "tcp"]
        for port in tcp:
            if port.name == self.svc.route_port:
                return port
        return tcp[0] if tcp else None

    def address(self, from_namespace: str) -> str:
        """How a pod in `from_namespace` reaches this service's Service."""
        if from_namespace == self.namespace:
            return self.name
        return f"{self.name}.{self.namespace}.svc"


def project_labels(manifest: Manifest) -> dict[str, str]:
    return {LABEL + "managed-by": MANAGED_BY, LABEL + "part-of": dns_label(manifest.project)}


def plan_services(
    manifest: Manifest, settings: Settings, diags: Diagnostics
) -> dict[str, ServicePlan]:
    """One plan per service, in name order; clashing Kubernetes names are errors."""
    plans: dict[str, ServicePlan] = {}
    taken: dict[str, str] = {}
    instance = dns_label(manifest.project)
    for key, svc in sorted(manifest.services.items()):
        name = dns_label(svc.name, fallback="svc")
        if name in taken:
            diags.error(
                E_NAME_CLASH,
                f"services `{taken[name]}` and `{svc.name}` are both `{name}` in Kubernetes",
                None,
                help="Kubernetes names are lower case with `-`: rename one of the services",
            )
            continue
        taken[name] = svc.name
        if name != svc.name:
            diags.warning(
                W_RENAMED,
                f"service `{svc.name}` is named `{name}` in Kubernetes",
                None,
                help=(
                    "Kubernetes names are lower-case DNS labels, so addresses that use "
                    f"`{svc.name}` as a host name will not resolve: name the service `{name}`"
                ),
            )
        selector = {LABEL + "name": name, LABEL + "instance": instance}
        labels = {**project_labels(manifest), **selector}
        component = dns_label(svc.template) if svc.template else name
        if is_label_value(component):
            labels[LABEL + "component"] = component
        plan = ServicePlan(svc, name, settings.namespace, labels, selector)
        secret_env = [var for var, v in svc.environment.items() if v.secret and not v.pending]
        secret_files = [f.path for f in svc.files if f.secret and not f.pending]
        keys = data_keys(secret_env + secret_files)
        plan.secret_env = {var: keys[var] for var in secret_env}
        plan.secret_files = {path: keys[path] for path in secret_files}
        plain_files = [f.path for f in svc.files if f.content is not None and not f.pending]
        plan.config_files = data_keys(plain_files)
        plans[key] = plan
    return plans
