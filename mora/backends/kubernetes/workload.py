"""The Deployment or StatefulSet of a service: its pod template, with mora's secure defaults.

Secure by default, loosened only where the source says so (and then with its reason on the pod):
no privilege escalation, every capability dropped and then exactly those of the service's case of
the security contract (docs/security.md, the same on podman), the runtime's seccomp profile,
non-root wherever the user is declared, no service-account token, bounded resources. Containers
start after their dependencies answer.
"""

from __future__ import annotations

import json
import math
import shlex

from mora.backends._digest import sha256
from mora.diagnostics import Diagnostics
from mora.model import (
    DEFAULT_MEMORY_LIMIT,
    RUNTIME_DEFAULT_CAPABILITIES,
    Healthcheck,
    Service,
    run_as,
)
from mora.record import Record
from mora.reserved import reserved_label

from .naming import (
    claim_name,
    cpu_millis,
    dns_label,
    image_tag,
    is_annotation_key,
    is_label_value,
    joined,
    port_name,
    pull_policy,
    size_bytes,
    size_quantity,
    whole_seconds,
)
from .plan import LABEL, ServicePlan
from .settings import Settings

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Any

E_RESOURCES = "E0604"
E_ROOT_USER = "E0605"
E_SHARED_NETWORK = "E0606"  # network_mode service:NAME: only containers of one pod share it
W_HOST_PATH = "W0603"
W_DEVICE = "W0604"
W_PENDING = "W0605"
W_NO_WAIT = "W0606"
W_HELD_DEPENDENCY = "W0607"
W_USER = "W0610"
W_ANNOTATION = "W0608"
W_NOT_EXPRESSIBLE = "W0611"  # a compose key Kubernetes cannot express: said, never dropped

ANNOTATION = "mora.dev/"

# Routing of every `model.Service` field (tests/unit/test_vocabulary.py): a new field fails the
# test until it is handled here or ignored with the reason a reader is told.
HANDLES = frozenset(
    {
        "name", "template", "image", "command", "entrypoint", "environment", "ports",
        "volumes", "files", "depends_on", "healthcheck", "user", "labels", "devices",
        "subdomain", "host", "route_port", "resources", "security", "stateful",
        "pending_inputs", "jobs", "hostname", "extra_hosts", "dns", "working_dir",
        "stop_grace_period_seconds", "init", "shm_size", "sysctls", "network_mode", "routes",
        "placement",
    }
)  # fmt: skip
IGNORES = {
    "stop_signal": "diagnosed (W0611): a pod is stopped with the image's STOPSIGNAL or SIGTERM",
    "ulimits": "diagnosed (W0611): ulimits come from the nodes' container runtime",
    "restart": "a Deployment's pods always restart (restartPolicy Always is the only policy)",
    "auto_update": "podman auto-update; on Kubernetes a new image is a new rollout",
    "init_only": "read by `mora secrets rotate`, not by a backend",
    "module_name": "shown by `mora plan`; objects are named by `name`",
    "url": "the Ingress is written from `host`",
    "internal_url": "the in-cluster Service carries the name and port",
    "inputs": "`pending_inputs` is what holds a service back",
    "setup": "setup steps are run by `mora apply` after the service is healthy (mora/micro)",
}

DEFAULT_CPU = "50m"
DEFAULT_MEMORY = "64Mi"

# Docker's healthcheck defaults, so a check means the same thing on every backend.
HC_INTERVAL = 30
HC_TIMEOUT = 30
HC_RETRIES = 3

# The busybox loop that holds a pod until a dependency's Service answers. The Service only has
# endpoints for ready pods, so an open port means "ready", not just "started". $1 host, $2 port.
# `nc -z` exists only in busybox builds with the extra nc options; the minimal nc instead runs
# `-e true` once connected and exits 0 (tests/backends run this script with Debian's busybox).
WAIT_SECONDS = 300
WAIT_SCRIPT = (
    'i=0; until nc -z -w 2 "$1" "$2" 2>/dev/null || nc -w 2 "$1" "$2" -e true 2>/dev/null; '
    "do i=$((i+2)); "
    f'if [ "$i" -ge {WAIT_SECONDS} ]; then '
    'echo "timed out waiting for $1:$2" >&2; exit 1; fi; '
    'echo "waiting for $1:$2"; sleep 2; done'
)
WAIT_USER = 65534  # nobody: the wait loop needs no privileges at all

# Tokens that only mean something to a shell (a test written as one string and split into words).
_SHELL_TOKENS = {"|", "||", "&", "&&", ";", ">", ">>", "<", "2>", "2>&1", "1>&2", ">&2", "!"}


class Workload(Record):
    kind: str  # Deployment | StatefulSet
    doc: dict[str, Any]


def build_workload(
    plan: ServicePlan,
    plans: dict[str, ServicePlan],
    settings: Settings,
    config_data: dict[str, str],
    diags: Diagnostics,
) -> Workload:
    """The Deployment (StatefulSet when `stateful`) that runs one service."""
    svc = plan.svc
    kind = "StatefulSet" if svc.stateful else "Deployment"
    labels = dict(plan.labels)
    tag = image_tag(svc.image)
    if tag and is_label_value(tag):
        labels[LABEL + "version"] = tag  # never in the selector: it changes with every update
    pod_annotations: dict[str, str] = {}
    volumes: dict[str, dict[str, Any]] = {}
    mounts: list[dict[str, Any]] = []
    _storage(plan, volumes, mounts, pod_annotations, diags)
    _files(plan, volumes, mounts, config_data, pod_annotations)
    _devices(plan, volumes, mounts, pod_annotations, diags)
    security, pod_security = _security(plan, diags)
    if svc.security.reason:
        pod_annotations[ANNOTATION + "security-reason"] = svc.security.reason
    skips = relaxation_skips(svc)
    _user_labels(plan, pod_annotations, diags)

    container: dict[str, Any] = {
        "name": plan.name,
        "image": svc.image,
        "imagePullPolicy": pull_policy(svc.image),
        "resources": _resources(plan, diags),
        "securityContext": security,
    }
    if svc.entrypoint:
        container["command"] = list(svc.entrypoint)
    if svc.command:
        container["args"] = list(svc.command)
    env = _env(plan)
    if env:
        container["env"] = env
    ports = _container_ports(svc)
    if ports:
        container["ports"] = ports
    if mounts:
        container["volumeMounts"] = sorted(mounts, key=lambda m: (m["mountPath"], m["name"]))
    container.update(_probes(svc))
    pod_extra = _compose_keys(plan, container, pod_security, volumes, diags)

    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        # Docker-link style variables (DB_PORT=tcp://...) confuse apps that read *_PORT.
        "enableServiceLinks": False,
        "containers": [container],
        "securityContext": pod_security,
        **pod_extra,
    }
    init = _init_containers(plan, plans, settings, diags)
    if init:
        pod_spec["initContainers"] = init
    if volumes:
        pod_spec["volumes"] = [volumes[name] for name in sorted(volumes)]
    if svc.placement:  # `placement`: node labels (its jobs copy the pod); loaded when asked for
        from .placement import node_selector

        selector = node_selector(svc, diags)
        if selector:
            pod_spec["nodeSelector"] = selector
    template: dict[str, Any] = {"metadata": {"labels": labels}, "spec": pod_spec}
    if pod_annotations:
        template["metadata"]["annotations"] = pod_annotations

    metadata: dict[str, Any] = {"name": plan.name, "namespace": plan.namespace, "labels": labels}
    if skips:
        metadata["annotations"] = dict(skips)
        template["metadata"].setdefault("annotations", {}).update(skips)
    replicas = 1
    if plan.pending:
        replicas = 0
        pending = ", ".join(svc.pending_inputs)
        metadata.setdefault("annotations", {})[ANNOTATION + "pending-inputs"] = pending
        diags.warning(
            W_PENDING,
            f"service `{svc.name}` waits for inputs ({pending}): it is written with 0 replicas",
            None,
            help=(
                "`mora apply` fills the inputs a setup step produces; answer the others with "
                "`mora setup` (`mora plan` says which), then compile again to start it"
            ),
        )
    spec: dict[str, Any] = {
        "replicas": replicas,
        "revisionHistoryLimit": 3,
        "selector": {"matchLabels": dict(plan.selector)},
        "template": template,
    }
    if kind == "StatefulSet":
        spec["serviceName"] = plan.name
    elif any(m.kind in ("volume", "bind") for m in svc.volumes):
        # Two pods on one data directory (a database!) is worse than a short gap in service.
        spec["strategy"] = {"type": "Recreate"}
    doc = {"apiVersion": "apps/v1", "kind": kind, "metadata": metadata, "spec": spec}
    return Workload(kind, doc)


# --- compose keys --------------------------------------------------------------------------------

# Namespaced sysctls the kubelet allows without `--allowed-unsafe-sysctls` (Kubernetes 1.29+).
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)  # fmt: skip


def _compose_keys(
    plan: ServicePlan,
    container: dict[str, Any],
    pod_security: dict[str, Any],
    volumes: dict[str, dict[str, Any]],
    diags: Diagnostics,
) -> dict[str, Any]:
    """The pod spec fields of the compose keys (hostname, extra_hosts, dns, ...); what a pod
    cannot express is said with W0611 and the alternative, never dropped in silence."""
    svc = plan.svc
    pod: dict[str, Any] = {}

    def cannot(key: str, why: str, help: str) -> None:
        diags.warning(
            W_NOT_EXPRESSIBLE, f"`{svc.name}`: Kubernetes {why} (`{key}`)", None, help=help
        )

    if svc.network_mode == "host":
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"  # still resolves the project's services
    elif svc.network_mode:
        # Running it in a pod of its own would bypass the owner (a VPN): refuse, never drop.
        owner = svc.network_mode.removeprefix("service:")
        diags.error(
            E_SHARED_NETWORK,
            f"`{svc.name}`: Kubernetes cannot run it in `{owner}`'s network namespace"
            " (`network_mode`): only the containers of one pod share a network",
            None,
            help=f"deploy `{svc.name}` and `{owner}` with the quadlet or podman target, or make"
            f" `{svc.name}` use `{owner}` as a proxy on the project network",
        )
    if svc.hostname:
        label, _, rest = svc.hostname.partition(".")
        pod["hostname"] = label
        if rest:
            cannot(
                "hostname",
                f"takes one DNS label as a pod's host name: it is `{label}`",
                "the cluster's DNS names the pod; write a single label to silence this",
            )
    if svc.working_dir:
        container["workingDir"] = svc.working_dir
    if svc.extra_hosts:
        by_ip: dict[str, list[str]] = {}
        for name, ip in svc.extra_hosts.items():
            by_ip.setdefault(ip, []).append(name)
        pod["hostAliases"] = [
            {"ip": ip, "hostnames": sorted(names)} for ip, names in sorted(by_ip.items())
        ]
    if svc.dns:
        # Added to the cluster's resolver (dnsPolicy ClusterFirst), so service names resolve.
        pod["dnsConfig"] = {"nameservers": list(svc.dns)}
    if svc.stop_grace_period_seconds is not None:
        pod["terminationGracePeriodSeconds"] = math.ceil(svc.stop_grace_period_seconds)
    if svc.init:
        # The pod's pause process becomes PID 1: it reaps zombies, as compose's `init` does.
        pod["shareProcessNamespace"] = True
    if svc.shm_size:
        size = size_quantity(svc.shm_size)
        name = joined("tmp", "dev-shm")
        volumes[name] = {"name": name, "emptyDir": {"medium": "Memory", "sizeLimit": size}}
        container.setdefault("volumeMounts", []).append({"name": name, "mountPath": "/dev/shm"})
        container["volumeMounts"].sort(key=lambda m: (m["mountPath"], m["name"]))
    if svc.sysctls:
        pod_security["sysctls"] = [{"name": k, "value": v} for k, v in sorted(svc.sysctls.items())]
        unsafe = sorted(k for k in svc.sysctls if k not in SAFE_SYSCTLS)
        if unsafe:
            cannot(
                "sysctls",
                f"refuses the unsafe sysctls {', '.join(unsafe)} unless the node allows them",
                "start the kubelet with `--allowed-unsafe-sysctls=" + ",".join(unsafe) + "`",
            )
    if svc.stop_signal:
        cannot(
            "stop_signal",
            f"stops a container with its image's STOPSIGNAL or SIGTERM, not {svc.stop_signal}",
            "set STOPSIGNAL in the image, or a preStop hook that signals the process",
        )
    if svc.ulimits:
        cannot(
            "ulimits",
            "has no per-container ulimits: "
            + ", ".join(f"{k}={v}" for k, v in sorted(svc.ulimits.items()))
            + " are not applied",
            "raise them for the nodes' container runtime (containerd: LimitNOFILE in its unit)",
        )
    return pod


# --- container parts -----------------------------------------------------------------------------

# The checkov checks that a service's security contract fails on purpose, by what it loosens.
# The service's `security { reason = ... }` is required by the checker for each relaxation, and
# it goes into the skip annotation, so a reviewer reads why next to the object.
_RELAXED_CHECKS = {
    "run_as_root": ("CKV_K8S_23", "CKV_K8S_25"),  # root admission; the switch-user capabilities
    "capabilities_add": ("CKV_K8S_25",),  # added capabilities
    # privileged implies root, and Kubernetes requires allowPrivilegeEscalation beside it
    "privileged": ("CKV_K8S_16", "CKV_K8S_20", "CKV_K8S_23"),
    "network_mode": ("CKV_K8S_19",),  # the host's network namespace
}
# A service that declares no user gets settings that start any image (docs/security.md, case c).
_UNKNOWN_USER = "the image's user is not declared, so the runtime's defaults are kept"
_UNKNOWN_CHECKS = ("CKV_K8S_23", "CKV_K8S_25")


def relaxation_skips(svc: Service) -> dict[str, str]:
    """`checkov.io/skipN` annotations for what this service's security contract loosens."""
    sec = svc.security
    who = run_as(svc)
    reason = " ".join((sec.reason or "").split())
    skips: dict[str, str] = {}
    if reason:
        relaxed = {
            "run_as_root": sec.run_as_root,
            "capabilities_add": bool(sec.capabilities_add),
            "privileged": sec.privileged,
            "network_mode": svc.network_mode == "host",
        }
        for key, on in relaxed.items():
            for check in _RELAXED_CHECKS[key] if on else ():
                skips.setdefault(check, f"declared in the service: {reason}")
    if not who.numeric and who.mode in ("unknown", "user"):
        for check in _UNKNOWN_CHECKS:
            skips.setdefault(check, _UNKNOWN_USER)
    return {
        f"checkov.io/skip{i}": f"{check}={text}"
        for i, (check, text) in enumerate(sorted(skips.items()), 1)
    }


def _env(plan: ServicePlan) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = []
    for var, value in sorted(plan.svc.environment.items()):
        if value.pending:
            continue  # the service is not started until its inputs are answered
        if value.secret is not None:
            ref = {"name": plan.secret_name, "key": plan.secret_env[var]}
            env.append({"name": var, "valueFrom": {"secretKeyRef": ref}})
        else:
            env.append({"name": var, "value": value.value or ""})
    return env


def _container_ports(svc: Service) -> list[dict[str, Any]]:
    ports = []
    seen: set[tuple[int, str]] = set()
    for port in svc.ports:
        key = (port.target, port.protocol)
        if key in seen:
            continue
        seen.add(key)
        entry: dict[str, Any] = {"containerPort": port.target, "protocol": port.protocol.upper()}
        name = port_name(port.name)
        if name:
            entry["name"] = name
        ports.append(entry)
    return ports


def _resources(plan: ServicePlan, diags: Diagnostics) -> dict[str, Any]:
    """Requests and limits: the service's own, else small requests and a 1Gi memory ceiling.

    No CPU limit unless asked: throttling a transcoder hurts more than it protects a homelab.
    """
    res = plan.svc.resources
    cpu = (res.cpu if res else None) or DEFAULT_CPU
    cpu_limit = res.cpu_limit if res else None
    memory = size_quantity((res.memory if res else None) or DEFAULT_MEMORY) or DEFAULT_MEMORY
    limit_text = res.memory_limit if res else None
    memory_limit = size_quantity(limit_text) if limit_text else None
    if memory_limit is None:
        # The ceiling must not undercut a larger request.
        bigger = (size_bytes(memory) or 0) > (size_bytes(DEFAULT_MEMORY_LIMIT) or 0)
        memory_limit = memory if bigger else DEFAULT_MEMORY_LIMIT
    elif (size_bytes(memory) or 0) > (size_bytes(memory_limit) or 0):
        diags.error(
            E_RESOURCES,
            f"service `{plan.svc.name}` requests {memory} memory but is limited to {memory_limit}",
            None,
            help="raise `memory_limit` or lower `memory` in its resources block",
        )
    limits: dict[str, str] = {"memory": memory_limit}
    if cpu_limit:
        limits["cpu"] = cpu_limit
        if (cpu_millis(cpu) or 0) > (cpu_millis(cpu_limit) or 0):
            diags.error(
                E_RESOURCES,
                f"service `{plan.svc.name}` requests {cpu} CPU but is limited to {cpu_limit}",
                None,
                help="raise `cpu_limit` or lower `cpu` in its resources block",
            )
    return {"limits": limits, "requests": {"cpu": cpu, "memory": memory}}


def _security(plan: ServicePlan, diags: Diagnostics) -> tuple[dict[str, Any], dict[str, Any]]:
    """Container and pod securityContext: the contract of docs/security.md, for Kubernetes.

    `runAsNonRoot: true` only beside a numeric `runAsUser`: the kubelet refuses it for an image
    whose user is root or a name. Capabilities are the same set podman gets for the service.
    """
    svc = plan.svc
    sec = svc.security
    who = run_as(svc)
    if who.name is not None and who.mode == "user":
        diags.warning(
            W_USER,
            f"service `{svc.name}` runs as user `{svc.user}`, which Kubernetes cannot use",
            None,
            help='Kubernetes needs numbers: `user = "1000:1000"` (until then the image\'s user '
            "is kept and the pod gets the settings for an unknown user)",
        )
    if who.uid == 0 and who.mode == "user":
        diags.error(
            E_ROOT_USER,
            f"service `{svc.name}` runs as user 0 (root) without saying so",
            None,
            help='add `security { run_as_root = true reason = "..." }` if the image needs it',
        )
    capabilities: dict[str, Any] = {"drop": ["ALL"]}
    caps = list(who.capabilities)
    if who.mode == "user" and who.uid is None:
        caps = sorted(set(RUNTIME_DEFAULT_CAPABILITIES) | set(caps))  # a named user: unknown
    if caps:
        capabilities["add"] = caps
    # Kubernetes refuses allowPrivilegeEscalation=false next to privileged or CAP_SYS_ADMIN.
    escalation = sec.privileged or "SYS_ADMIN" in caps
    container: dict[str, Any] = {
        "allowPrivilegeEscalation": escalation,
        "capabilities": capabilities,
        "privileged": sec.privileged,
        "readOnlyRootFilesystem": sec.read_only_root,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    pod: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
    if who.numeric:
        container["runAsNonRoot"] = True
        container["runAsUser"] = who.uid
        container["runAsGroup"] = who.gid
        pod["runAsNonRoot"] = True
        # A fresh volume is root's on most storage classes: the group makes it writable.
        pod["fsGroup"] = who.gid
        pod["fsGroupChangePolicy"] = "OnRootMismatch"  # no chown walk over a big library
    elif who.uid is not None and who.mode != "unknown":
        container["runAsUser"] = who.uid  # root, or privileged with a declared user
        if who.gid is not None:
            container["runAsGroup"] = who.gid
    if who.groups:
        pod["supplementalGroups"] = list(who.groups)
    return container, pod


def _user_labels(plan: ServicePlan, annotations: dict[str, str], diags: Diagnostics) -> None:
    """Compose-style container labels become pod annotations (their values are free text)."""
    for key, value in sorted(plan.svc.labels.items()):
        if reserved_label(key) or key in annotations:
            continue  # refused by the checker; never replace what mora wrote (or checkov reads)
        if is_annotation_key(key):
            annotations[key] = value
        else:
            diags.warning(
                W_ANNOTATION,
                f"label `{key}` of service `{plan.svc.name}` is not a valid Kubernetes key",
                None,
                help="keys are `[prefix/]name`, the name of letters, digits, `-`, `_` and `.`",
            )


# --- probes --------------------------------------------------------------------------------------


def exec_command(test: list[str]) -> list[str] | None:
    """A compose healthcheck test as an exec argv; None for `NONE` (checks switched off)."""
    if not test:
        return None
    head, rest = test[0], test[1:]
    if head == "NONE":
        return None
    if head == "CMD":
        return rest or None
    if head == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(rest)] if rest else None
    if any(token in _SHELL_TOKENS for token in test):
        # A one-string test that was split into words: give the shell back its operators.
        line = " ".join(t if t in _SHELL_TOKENS else shlex.quote(t) for t in test)
        return ["/bin/sh", "-c", line]
    return list(test)


def _probes(svc: Service) -> dict[str, Any]:
    hc = svc.healthcheck
    if hc is not None:
        return _healthcheck_probes(hc)
    port = next((p for p in svc.ports if p.protocol == "tcp" and p.name == svc.route_port), None)
    port = port or next((p for p in svc.ports if p.protocol == "tcp"), None)
    if port is None:
        return {}
    # No declared check: an open port is the honest minimum. The startup probe gives a slow
    # first start (migrations) five minutes before liveness may restart the container.
    socket = {"tcpSocket": {"port": port.target}}
    return {
        "livenessProbe": {
            **socket,
            "periodSeconds": 20,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            **socket,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "startupProbe": {
            **socket,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 30,
        },
    }


def _healthcheck_probes(hc: Healthcheck) -> dict[str, Any]:
    command = exec_command(hc.test)
    if command is None:
        return {}
    period = whole_seconds(hc.interval_seconds, HC_INTERVAL)
    probe: dict[str, Any] = {
        "exec": {"command": command},
        "periodSeconds": period,
        "timeoutSeconds": whole_seconds(hc.timeout_seconds, min(HC_TIMEOUT, period)),
        "failureThreshold": max(1, hc.retries if hc.retries is not None else HC_RETRIES),
    }
    probes = {"livenessProbe": dict(probe), "readinessProbe": dict(probe)}
    start = whole_seconds(hc.start_period_seconds, 0, minimum=0) if hc.start_period_seconds else 0
    if start:
        # compose's start_period forgives failures while the app starts; it does not delay the
        # checks. A startupProbe means the same: readiness answers as soon as the app is up, and
        # liveness may restart it only after the period (plus the usual retries) has passed.
        startup = dict(probe)
        startup["failureThreshold"] = -(-start // period) + probe["failureThreshold"]
        probes["startupProbe"] = startup
    return probes


# --- start order ---------------------------------------------------------------------------------


def wait_security() -> dict[str, Any]:
    """The init containers' securityContext: the strict default, never a service's relaxation."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsGroup": WAIT_USER,
        "runAsNonRoot": True,
        "runAsUser": WAIT_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _init_containers(
    plan: ServicePlan, plans: dict[str, ServicePlan], settings: Settings, diags: Diagnostics
) -> list[dict[str, Any]]:
    """One init container per dependency, waiting until its Service accepts connections."""
    out = []
    for dep_name in plan.svc.depends_on:
        dep = plans.get(dep_name)
        if dep is None or dep_name == plan.svc.name:
            continue
        if dep.pending and not plan.pending:
            # Its dependency runs with 0 replicas until a person answers: waiting for it
            # would hold this pod in Init forever (the podman backends do the same).
            diags.warning(
                W_HELD_DEPENDENCY,
                f"`{plan.svc.name}` starts without waiting for `{dep_name}`, which waits for "
                f"inputs ({', '.join(dep.svc.pending_inputs)})",
                None,
                help=(
                    "once they are filled (`mora apply` for produced inputs, `mora setup` for "
                    "the others), compile again to restore the order"
                ),
            )
            continue
        port = dep.wait_port()
        if port is None:
            diags.warning(
                W_NO_WAIT,
                f"`{plan.svc.name}` depends on `{dep_name}`, which has no TCP port to wait for",
                None,
                help="Kubernetes starts both at once; give the dependency a port or a health check",
            )
            continue
        host = dep.address(plan.namespace)
        out.append(
            {
                "name": joined("wait-for", dep.name),
                "image": settings.init_image,
                "imagePullPolicy": pull_policy(settings.init_image),
                "command": ["sh", "-c", WAIT_SCRIPT, "wait-for", host, str(port.target)],
                "resources": {
                    "limits": {"memory": "32Mi"},
                    "requests": {"cpu": "10m", "memory": "16Mi"},
                },
                "securityContext": wait_security(),
            }
        )
    return out


# --- volumes -------------------------------------------------------------------------------------


def _slug(path: str) -> str:
    return dns_label(path.strip("/") or "root", fallback="p")


def _storage(
    plan: ServicePlan,
    volumes: dict[str, dict[str, Any]],
    mounts: list[dict[str, Any]],
    annotations: dict[str, str],
    diags: Diagnostics,
) -> None:
    host_paths = []
    for mount in plan.svc.volumes:
        if mount.kind in ("volume", "nfs"):
            # An NFS share is a PersistentVolume bound to this claim (objects.claims says why).
            claim = claim_name(mount.name or f"{plan.name}-{mount.path}")
            name = joined("data", claim)
            volumes[name] = {"name": name, "persistentVolumeClaim": {"claimName": claim}}
        elif mount.kind == "tmpfs":
            name = joined("tmp", _slug(mount.path))
            empty: dict[str, Any] = {"medium": "Memory"}
            size = size_quantity(mount.size) if mount.size else None
            if size:
                empty["sizeLimit"] = size
            volumes[name] = {"name": name, "emptyDir": empty}
            if mount.mode:
                diags.warning(
                    W_NOT_EXPRESSIBLE,
                    f"`{plan.svc.name}`: Kubernetes creates the emptyDir at {mount.path} with"
                    f" mode 0777, not {mount.mode} (`tmpfs(mode)`)",
                    None,
                    help="the pod's fsGroup owns it; set the mode in the entrypoint if it matters",
                )
        else:
            name = joined("host", _slug(mount.path))
            volumes[name] = {"name": name, "hostPath": {"path": mount.host_path or "/"}}
            host_paths.append(f"{mount.host_path}:{mount.path}")
        entry: dict[str, Any] = {"name": name, "mountPath": mount.path}
        if mount.readonly or mount.access == "ROX":
            entry["readOnly"] = True
        mounts.append(entry)
    if host_paths:
        annotations[ANNOTATION + "host-paths"] = ", ".join(host_paths)
        diags.note(  # declared on purpose with bind(): worth knowing, not a problem
            W_HOST_PATH,
            f"service `{plan.svc.name}` mounts host directories: {', '.join(host_paths)}",
            None,
            help=(
                "a hostPath ties the pod to nodes that have the directory; on a cluster of "
                "several nodes pin it (nodeSelector) or use a volume"
            ),
        )


def _files(
    plan: ServicePlan,
    volumes: dict[str, dict[str, Any]],
    mounts: list[dict[str, Any]],
    config_data: dict[str, str],
    annotations: dict[str, str],
) -> None:
    """Files as single keys of the ConfigMap / Secret, mounted read-only with subPath."""
    if plan.config_files:
        volumes["files"] = {
            "name": "files",
            "configMap": {"name": plan.config_name, "defaultMode": 0o444},
        }
        for path, key in sorted(plan.config_files.items()):
            mounts.append({"name": "files", "mountPath": path, "subPath": key, "readOnly": True})
        # subPath mounts never see updates: a new digest rolls the pods instead.
        digest = sha256(json.dumps(config_data, sort_keys=True).encode()).hexdigest()
        annotations[ANNOTATION + "files-sha256"] = digest
    if plan.secret_files:
        # 0444: without an fsGroup a non-root user could not read a 0400 root-owned file.
        volumes["secrets"] = {
            "name": "secrets",
            "secret": {"secretName": plan.secret_name, "defaultMode": 0o444},
        }
        for path, key in sorted(plan.secret_files.items()):
            mounts.append({"name": "secrets", "mountPath": path, "subPath": key, "readOnly": True})


def _devices(
    plan: ServicePlan,
    volumes: dict[str, dict[str, Any]],
    mounts: list[dict[str, Any]],
    annotations: dict[str, str],
    diags: Diagnostics,
) -> None:
    devices = sorted(set(plan.svc.devices))
    if not devices:
        return
    for device in devices:
        name = joined("dev", _slug(device))
        volumes[name] = {"name": name, "hostPath": {"path": device}}
        mounts.append({"name": name, "mountPath": device})
    annotations[ANNOTATION + "devices"] = ", ".join(devices)
    if not plan.svc.security.privileged:
        diags.warning(
            W_DEVICE,
            f"service `{plan.svc.name}` uses devices ({', '.join(devices)}) that an unprivileged "
            "pod cannot open",
            None,
            help=(
                "Kubernetes mounts them but the device cgroup denies access: install the "
                "device plugin for the hardware (e.g. Intel's GPU plugin) or set "
                '`security { privileged = true reason = "..." }`'
            ),
        )
