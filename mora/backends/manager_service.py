"""The manager as a service of the site: the files that deploy `mora manager` itself.

Opt-in from the site file's `manager:` section (passed through untouched as
`manifest.targets["manager"]`, read and checked here, as each backend reads its own section).
The Kubernetes, quadlet and podman backends call this module with a few lines each; the
manifest backend writes `manager/Containerfile`, the image they all run (mora has no published
image: the site names one with `manager.image`, else the local tag below, built from the
checkout's wheel). See docs/manager.md.
"""

from __future__ import annotations

import os
import re
from typing import Any

from mora.diagnostics import Diagnostics, did_you_mean
from mora.model import Manifest
from mora.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mora.output import Where  # text, or a `Path` (mora.backends)

E_MANAGER = "E0670"
W_MANAGER = "W0670"

NAME = "mora-manager"
PORT = 8470
UID = 10001  # the Containerfile's user: numeric, so runAsNonRoot can be checked
DEFAULT_IMAGE = "localhost/mora-manager:local"  # built here (Containerfile); never `latest`
DEFAULT_SUBDOMAIN = "mora"
KEY_SECRET = "mora-manager-key"  # holds MORA_SECRETS_KEY; created by the admin, never emitted
KEYS = ("image", "subdomain", "host", "storage")
# compiled on first use (re's cache): only a site that sets the manager's image or subdomain
_LABEL = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
_IMAGE = r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$"
STATE_DIR = "/var/lib/mora"  # in the container: site/ (site file, store) and state/


class ManagerSettings(Record, frozen=True):
    image: str = DEFAULT_IMAGE
    subdomain: str = DEFAULT_SUBDOMAIN
    host: str | None = None  # the control host (quadlet/podman); None: the first host
    storage: str = "1Gi"

    def route(self, domain: str) -> str:
        return f"{self.subdomain}.{domain}"


def read(manifest: Manifest, diags: Diagnostics) -> ManagerSettings | None:
    """The site's `manager:` settings, or None when the site does not deploy the manager."""
    if "manager" not in manifest.targets:
        return None
    raw = dict(manifest.targets["manager"])
    values: dict[str, str] = {}
    for key in sorted(raw):
        if key not in KEYS:
            diags.warning(
                W_MANAGER,
                f"unknown manager setting `{key}` in the site file",
                None,
                help=did_you_mean(key, KEYS) or "manager settings: " + ", ".join(KEYS),
            )
            continue
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            diags.error(
                E_MANAGER,
                f"manager setting `{key}` must be text",
                None,
                help=f"like `{key}: {getattr(ManagerSettings, key)}`",
            )
            continue
        values[key] = value.strip()
    if "image" in values and not re.match(_IMAGE, values["image"]):
        diags.error(
            E_MANAGER,
            f"manager image `{values.pop('image')}` is not an image name",
            None,
            help=f"like `image: {DEFAULT_IMAGE}`",
        )
    if "subdomain" in values and not re.match(_LABEL, values["subdomain"]):
        diags.error(
            E_MANAGER,
            f"manager subdomain `{values.pop('subdomain')}` is not a DNS label",
            None,
            help="lower-case letters, digits and `-`, like `subdomain: mora`",
        )
    return ManagerSettings(**values)


# --- Kubernetes ---------------------------------------------------------------------------------

#: What the kubernetes target of `mora apply` calls (mora/deploy/kube.py, targets/kubernetes.py):
#: server-side apply (PATCH; `create` when the object is new), GET of workloads, DELETE of
#: what a service no longer has, the pods' list and logs for health. Nothing else.
_APPLIED = ["create", "delete", "get", "patch"]
RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": ["configmaps", "persistentvolumeclaims", "secrets", "services"],
        "verbs": _APPLIED,
    },
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": _APPLIED},
    {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": _APPLIED},  # jobs
    {
        "apiGroups": ["networking.k8s.io"],
        "resources": ["ingresses", "networkpolicies"],
        "verbs": _APPLIED,
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
]


def kubernetes_documents(
    manifest: Manifest,
    settings: ManagerSettings,
    namespace: str,
    ingress_class: str | None,
    cluster_issuer: str | None,
    storage_class: str | None,
) -> list[tuple[str, dict[str, Any]]]:
    """(path below kubernetes/, object) of the manager in the project's namespace."""
    labels = {
        "app.kubernetes.io/component": "manager",
        "app.kubernetes.io/instance": manifest.project,
        "app.kubernetes.io/managed-by": "mora",
        "app.kubernetes.io/name": NAME,
        "app.kubernetes.io/part-of": manifest.project,
    }
    select = {k: labels[k] for k in ("app.kubernetes.io/instance", "app.kubernetes.io/name")}

    def meta(name: str = NAME, ns: str | None = namespace, **ann: str) -> dict[str, Any]:
        m: dict[str, Any] = {"name": name, "labels": dict(labels)}
        if ns is not None:
            m["namespace"] = ns
        if ann:
            m["annotations"] = ann
        return m

    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}]
    cluster_name = f"{NAME}-{namespace}"[:63]
    docs: list[tuple[str, dict[str, Any]]] = [
        (
            "serviceaccount.yaml",
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": meta(),
                "automountServiceAccountToken": False,
            },
        ),
        (
            "role.yaml",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": meta(),
                "rules": RULES,
            },
        ),
        (
            "rolebinding.yaml",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": meta(),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
                "subjects": subject,
            },
        ),
        # The target applies the project's Namespace first: that one object, by name, only.
        (
            "clusterrole.yaml",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": meta(cluster_name, None),
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["namespaces"],
                        "resourceNames": [namespace],
                        "verbs": ["get", "patch"],
                    }
                ],
            },
        ),
        (
            "clusterrolebinding.yaml",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": meta(cluster_name, None),
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": cluster_name,
                },
                "subjects": subject,
            },
        ),
        ("deployment.yaml", _deployment(settings, meta, labels, select)),
        (
            "configmap.yaml",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": meta(),
                "data": {"kubeconfig": in_cluster_kubeconfig(namespace)},
            },
        ),
        (
            "service.yaml",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(),
                "spec": {
                    "ports": [
                        {"name": "http", "port": PORT, "protocol": "TCP", "targetPort": PORT}
                    ],
                    "selector": select,
                },
            },
        ),
    ]
    docs.append(
        (
            "networkpolicy.yaml",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": meta(),
                "spec": {
                    "ingress": [{"ports": [{"port": PORT, "protocol": "TCP"}]}],
                    "podSelector": {"matchLabels": select},
                    "policyTypes": ["Ingress"],
                },
            },
        )
    )
    host = settings.route(manifest.domain)
    backend = {"service": {"name": NAME, "port": {"number": PORT}}}
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": host,
                "http": {"paths": [{"backend": backend, "path": "/", "pathType": "Prefix"}]},
            }
        ],
        "tls": [{"hosts": [host], "secretName": f"{NAME}-tls"}],
    }
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    ann = {"cert-manager.io/cluster-issuer": cluster_issuer} if cluster_issuer else {}
    docs.append(
        (
            "ingress.yaml",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": meta(**ann),
                "spec": spec,
            },
        )
    )
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": settings.storage}},
    }
    if storage_class:
        claim["storageClassName"] = storage_class
    docs.append(
        (
            "pvc.yaml",
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": meta(),
                "spec": claim,
            },
        )
    )
    return [(f"{NAME}/{path}", body) for path, body in docs]


SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def in_cluster_kubeconfig(namespace: str) -> str:
    """A kubeconfig for mora's client inside the pod: the API server's in-cluster name and the
    service account's CA and token files (read at each use, so token rotation is followed)."""
    import yaml

    cluster = {
        "server": "https://kubernetes.default.svc",
        "certificate-authority": f"{SA_DIR}/ca.crt",
    }
    context = {"cluster": "in-cluster", "user": NAME, "namespace": namespace}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "in-cluster",
        "clusters": [{"name": "in-cluster", "cluster": cluster}],
        "users": [{"name": NAME, "user": {"tokenFile": f"{SA_DIR}/token"}}],
        "contexts": [{"name": "in-cluster", "context": context}],
    }
    text: str = yaml.safe_dump(config, sort_keys=True, default_flow_style=False)
    return text


def _deployment(
    settings: ManagerSettings, meta: Any, labels: dict[str, str], select: dict[str, str]
) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/api/openapi.json", "port": PORT}, "periodSeconds": 10}
    container = {
        "name": "manager",
        "image": settings.image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "manager",
            "--site",
            f"{STATE_DIR}/site/site.yaml",
            "--state",
            f"{STATE_DIR}/state",
            "--host",
            "0.0.0.0",
            "--port",
            str(PORT),
        ],
        "env": [
            {
                "name": "MORA_SECRETS_KEY",
                "valueFrom": {"secretKeyRef": {"name": KEY_SECRET, "key": "MORA_SECRETS_KEY"}},
            },
            {"name": "HOME", "value": "/tmp"},
            {"name": "KUBECONFIG", "value": "/etc/mora-kube/kubeconfig"},
        ],
        "ports": [{"containerPort": PORT, "name": "http", "protocol": "TCP"}],
        "livenessProbe": {**probe, "initialDelaySeconds": 10},
        "readinessProbe": probe,
        "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "50m", "memory": "128Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsGroup": UID,
            "runAsNonRoot": True,
            "runAsUser": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"mountPath": STATE_DIR, "name": "state"},
            {"mountPath": "/tmp", "name": "tmp"},
            {"mountPath": "/etc/mora-kube", "name": "kubeconfig", "readOnly": True},
        ],
    }
    # The manager talks to the API server, so it (alone) gets the account's token.
    skip = "CKV_K8S_38=the manager applies the project through the API server with this token"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(**{"checkov.io/skip1": skip}),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "strategy": {"type": "Recreate"},  # one writer of the state volume at a time
            "selector": {"matchLabels": select},
            "template": {
                "metadata": {"labels": dict(labels), "annotations": {"checkov.io/skip1": skip}},
                "spec": {
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": True,
                    "enableServiceLinks": False,
                    "containers": [container],
                    "securityContext": {
                        "fsGroup": UID,
                        "fsGroupChangePolicy": "OnRootMismatch",
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "volumes": [
                        {"name": "state", "persistentVolumeClaim": {"claimName": NAME}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                        {"name": "kubeconfig", "configMap": {"name": NAME}},
                    ],
                },
            },
        },
    }


# --- podman hosts -------------------------------------------------------------------------------

#: The site folder on the control host: the site file and its store, writable (the manager
#: stores answers and its credentials there).
HOST_SITE_DIR = "/etc/mora"


def control_host(settings: ManagerSettings, hosts: list[str], known: list[str]) -> str | None:
    """The host that runs the manager: the one named (any host of the site's inventory), else
    the first host with services (`hosts`)."""
    if settings.host is not None:
        return settings.host if settings.host in known or settings.host in hosts else None
    return hosts[0] if hosts else None


def quadlet_files(settings: ManagerSettings, header: str) -> dict[str, tuple[str, int]]:
    """`mora-manager.container` and its state volume, for the control host's quadlet folder."""
    unit = f"""# {header}
# The store's key is the podman secret {KEY_SECRET}: create it once with
#   printf %s "$MORA_SECRETS_KEY" | podman secret create {KEY_SECRET} -
[Unit]
Description=mora manager (site folder {HOST_SITE_DIR})
After=network-online.target

[Container]
ContainerName={NAME}
Image={settings.image}
Exec=manager --site {STATE_DIR}/site/site.yaml --state {STATE_DIR}/state --host 0.0.0.0 \
--port {PORT}
User={UID}
Group={UID}
ReadOnly=true
NoNewPrivileges=true
DropCapability=all
Volume={HOST_SITE_DIR}:{STATE_DIR}/site:Z
Volume={NAME}.volume:{STATE_DIR}/state:Z
Volume=/run/podman/podman.sock:/run/podman/podman.sock
Environment=CONTAINER_HOST=unix:///run/podman/podman.sock HOME=/tmp
Secret={KEY_SECRET},type=env,target=MORA_SECRETS_KEY
PublishPort=127.0.0.1:{PORT}:{PORT}
Tmpfs=/tmp

[Service]
Restart=on-failure

[Install]
WantedBy=default.target
"""
    volume = f"# {header}\n[Volume]\nVolumeName={NAME}\n"
    return {f"{NAME}.container": (unit, 0o644), f"{NAME}.volume": (volume, 0o644)}


def podman_script(settings: ManagerSettings, header: str) -> str:
    """`podman/manager.sh`: run the manager container on this host (idempotent)."""
    return f"""#!/bin/sh
# {header}
# Runs the mora manager on this host, on 127.0.0.1:{PORT}; route {settings.subdomain}.<domain>
# to it in the site's proxy. The store's key comes from MORA_SECRETS_KEY in the environment.
set -eu
: "${{MORA_SECRETS_KEY:?set MORA_SECRETS_KEY to the site store's key}}"
site_dir="${{MORA_SITE_DIR:-{HOST_SITE_DIR}}}"
podman secret rm {KEY_SECRET} >/dev/null 2>&1 || true  # any podman: no --replace
printf %s "$MORA_SECRETS_KEY" | podman secret create {KEY_SECRET} - >/dev/null
podman volume exists {NAME} || podman volume create {NAME} >/dev/null
if podman container exists {NAME}; then podman rm -f {NAME} >/dev/null; fi
podman run -d --name {NAME} --user {UID}:{UID} --read-only --cap-drop all \\
  --security-opt no-new-privileges --tmpfs /tmp -e HOME=/tmp \\
  --secret {KEY_SECRET},type=env,target=MORA_SECRETS_KEY \\
  -v "$site_dir:{STATE_DIR}/site:Z" -v {NAME}:{STATE_DIR}/state:Z \\
  -p 127.0.0.1:{PORT}:{PORT} {settings.image} \\
  manager --site {STATE_DIR}/site/site.yaml --state {STATE_DIR}/state --host 0.0.0.0 \\
  --port {PORT}
"""


def containerfile(settings: ManagerSettings) -> str:
    """The manager's image, from the wheel of this checkout (mora is not published)."""
    return f"""# Generated by mora: the image of the mora manager ({settings.image}).
# mora is not published as an image; build it from a checkout of mora:
#   python -m pip wheel --no-deps -w build/manager/ .
#   podman build -t {settings.image} build/manager/
FROM docker.io/library/python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends podman \\
    && rm -rf /var/lib/apt/lists/*
COPY mora-*.whl /tmp/
RUN python -m pip install --no-cache-dir /tmp/mora-*.whl && rm /tmp/mora-*.whl \\
    && useradd --uid {UID} --user-group --no-create-home --home-dir /tmp mora \\
    && mkdir -p {STATE_DIR}/site {STATE_DIR}/state && chown -R {UID}:{UID} {STATE_DIR}
USER {UID}:{UID}
EXPOSE {PORT}
ENTRYPOINT ["mora"]
CMD ["manager", "--site", "{STATE_DIR}/site/site.yaml", "--state", "{STATE_DIR}/state", \\
     "--host", "0.0.0.0", "--port", "{PORT}"]
"""


def write_containerfile(manifest: Manifest, out: Where, diags: Diagnostics) -> list[Where]:
    """`out/manager/Containerfile` when the site deploys the manager (the manifest backend)."""
    from mora.output import finish_target, write_file

    settings = read(manifest, diags)
    if settings is None and not os.path.isdir(os.path.join(out, "manager")):
        return []  # never deployed it here: the output record stays as it was
    written = []
    if settings is not None:
        written.append(write_file(out, "manager/Containerfile", containerfile(settings)))
    finish_target(out, "manager", written)  # a manager taken out of the site: its file goes
    return written
