"""The objects around a workload: Namespace, Services, Ingress, volumes, ConfigMap, Secret.

Each function returns one plain dict (one YAML document); names and keys come from the
service's plan so the workload that mounts or dials them agrees.
"""

from __future__ import annotations

import binascii  # not base64, which also loads struct: b64encode is this call

from mora.diagnostics import Diagnostics
from mora.model import File, Mount

from .naming import claim_name, dns_label, size_bytes, size_quantity, with_suffix
from .plan import ServicePlan
from .settings import Settings

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Any

W_DUPLICATE_PORT = "W0609"
E_VOLUME = "E0630"  # two mounts of one claim disagree on its storage class or access mode

DEFAULT_VOLUME_SIZE = "1Gi"


def metadata(
    name: str, namespace: str | None, labels: dict[str, str], **annotations: str
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """The project's namespace. Pod Security warns (never blocks) about pods that need more
    than `restricted`, so `kubectl apply` shows every relaxation."""
    meta = metadata(name, None, labels)
    meta["labels"].update(
        {
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        }
    )
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _service_ports(plan: ServicePlan, published: bool, diags: Diagnostics) -> list[dict[str, Any]]:
    ports = []
    seen: set[tuple[int, str]] = set()
    names: set[str] = set()
    for port in plan.svc.ports:
        number = port.published if published else port.target
        if number is None:
            continue
        key = (number, port.protocol)
        if key in seen:
            diags.warning(
                W_DUPLICATE_PORT,
                f"service `{plan.svc.name}`: port `{port.name}` repeats {number}/{port.protocol}",
                None,
                help="a Kubernetes Service lists each port and protocol once; it is left out",
            )
            continue
        seen.add(key)
        name = dns_label(port.name, fallback="port")
        if name in names:
            name = dns_label(f"{name}-{port.protocol}", fallback="port")
        names.add(name)
        ports.append(
            {
                "name": name,
                "port": number,
                "protocol": port.protocol.upper(),
                "targetPort": port.target,
            }
        )
    return ports


def cluster_service(plan: ServicePlan, diags: Diagnostics) -> dict[str, Any] | None:
    """The in-cluster Service: its name is the host name in `internal_url`.

    A StatefulSet needs a governing Service even without ports: then it is headless.
    """
    ports = _service_ports(plan, published=False, diags=diags)
    spec: dict[str, Any] = {"selector": dict(plan.selector), "type": "ClusterIP"}
    if ports:
        spec["ports"] = ports
    elif plan.svc.stateful:
        spec["clusterIP"] = "None"
    else:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(plan.name, plan.namespace, plan.labels),
        "spec": spec,
    }


def published_service(plan: ServicePlan) -> dict[str, Any] | None:
    """Published host ports as a LoadBalancer Service; k3s's ServiceLB opens them on the nodes."""
    ports = _service_ports(plan, published=True, diags=Diagnostics())
    if not ports:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(with_suffix(plan.name, "published"), plan.namespace, plan.labels),
        "spec": {"ports": ports, "selector": dict(plan.selector), "type": "LoadBalancer"},
    }


def network_policy(plan: ServicePlan) -> dict[str, Any]:
    """Let traffic in only on the ports the service declares (from anywhere: the ingress
    controller, ServiceLB and the other services all need them); everything else is dropped.

    Who may talk to whom is not in the model (references are not network edges), so the policy
    does not guess at sources. A service without ports accepts no connections at all.
    """
    ports = []
    for key in sorted({(p.target, p.protocol) for p in plan.svc.ports}):
        ports.append({"port": key[0], "protocol": key[1].upper()})
    rules = [{"ports": ports}] if ports else []
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(plan.name, plan.namespace, plan.labels),
        "spec": {
            "ingress": rules,
            "podSelector": {"matchLabels": dict(plan.selector)},
            "policyTypes": ["Ingress"],
        },
    }


_ACCESS = {"RWO": "ReadWriteOnce", "RWX": "ReadWriteMany", "ROX": "ReadOnlyMany"}


def claims(
    plans: dict[str, ServicePlan], settings: Settings, diags: Diagnostics
) -> dict[str, dict[str, Any]]:
    """File below `volumes/` -> document: a PersistentVolumeClaim per named volume and
    namespace, as large as its largest use; an NFS share also gets its PersistentVolume.

    An NFS share is a PV+PVC pair, not an inline `nfs:` volume of the pod: the namespace's Pod
    Security level `restricted` admits `persistentVolumeClaim` volumes and not `nfs` ones, and a
    PV bound to its claim (`claimRef`, no storage class) is never taken by another claim.
    An external volume is an existing claim: nothing is written for it.
    """
    sizes: dict[tuple[str, str], str] = {}
    first: dict[tuple[str, str], tuple[ServicePlan, Mount]] = {}
    chosen: dict[tuple[str, str, str], tuple[str, str]] = {}  # (ns, claim, field) -> (value, by)
    for plan in plans.values():
        for mount in plan.svc.volumes:
            if mount.kind not in ("volume", "nfs") or mount.external:
                continue
            key = (plan.namespace, claim_name(mount.name or f"{plan.name}-{mount.path}"))
            size = size_quantity(mount.size) if mount.size else None
            size = size or DEFAULT_VOLUME_SIZE
            old = sizes.get(key)
            if old is None or (size_bytes(size) or 0) > (size_bytes(old) or 0):
                sizes[key] = size
            first.setdefault(key, (plan, mount))
            for field in ("storage_class", "access"):
                value = getattr(mount, field)
                if value is None:
                    continue
                was = chosen.setdefault((*key, field), (value, plan.svc.name))
                if was[0] != value:
                    diags.error(
                        E_VOLUME,
                        f"volume `{key[1]}`: `{was[1]}` asks for {field} `{was[0]}`,"
                        f" `{plan.svc.name}` for `{value}`",
                        None,
                        help=f"one claim has one {field}: give it in one place only",
                    )
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(sizes):
        ns, name = key
        plan, mount = first[key]
        labels = dict(plan.labels)
        storage_class = chosen.get((*key, "storage_class"), (None, ""))[0]
        # local-path and most homelab storage only do RWO (several pods on one node still may);
        # an NFS share is for many readers and writers
        default = ("ROX" if mount.readonly else "RWX") if mount.kind == "nfs" else "RWO"
        access = _ACCESS[chosen.get((*key, "access"), (default, ""))[0]]
        spec: dict[str, Any] = {
            "accessModes": [access],
            "resources": {"requests": {"storage": sizes[key]}},
        }
        if mount.kind == "nfs":
            volume = dns_label(f"{ns}-{name}", fallback="nfs")  # PVs are cluster-wide
            spec["storageClassName"] = ""  # no provisioner: bind to the PV below only
            spec["volumeName"] = volume
            out[f"pv-{volume}.yaml"] = {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": metadata(volume, None, labels),
                "spec": {
                    "accessModes": [access],
                    "capacity": {"storage": sizes[key]},
                    "claimRef": {"name": name, "namespace": ns},
                    "nfs": {
                        "path": mount.share,
                        "readOnly": mount.readonly,
                        "server": mount.server,
                    },
                    "persistentVolumeReclaimPolicy": "Retain",  # the NAS's data is never deleted
                    "storageClassName": "",
                },
            }
        elif storage_class or settings.storage_class:
            spec["storageClassName"] = storage_class or settings.storage_class
        out[f"pvc-{name}.yaml"] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": metadata(name, ns, labels),
            "spec": spec,
        }
    return out


def config_data(plan: ServicePlan) -> dict[str, str]:
    files: dict[str, File] = {f.path: f for f in plan.svc.files}
    return {key: files[path].content or "" for path, key in sorted(plan.config_files.items())}


def config_map(plan: ServicePlan, data: dict[str, str]) -> dict[str, Any] | None:
    if not data:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(plan.config_name, plan.namespace, plan.labels),
        "data": data,
    }


class MissingMaterial(Exception):
    """A secret reference with no material: an evaluator bug, reported, never guessed."""


def secret(plan: ServicePlan, material: dict[str, str]) -> dict[str, Any] | None:
    """The service's Secret (base64 `data`, so any bytes and line endings survive)."""
    refs: dict[str, str] = {}
    for var, key in plan.secret_env.items():
        refs[key] = plan.svc.environment[var].secret or ""
    files = {f.path: f for f in plan.svc.files}
    for path, key in plan.secret_files.items():
        refs[key] = files[path].secret or ""
    if not refs:
        return None
    data = {}
    for key, ref in sorted(refs.items()):
        if ref not in material:
            raise MissingMaterial(ref)
        value = material[ref].encode("utf-8")
        data[key] = binascii.b2a_base64(value, newline=False).decode("ascii")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(plan.secret_name, plan.namespace, plan.labels),
        "type": "Opaque",
        "data": data,
    }
