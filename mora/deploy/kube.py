"""The Kubernetes request plan: what `mora apply --target kubernetes` sends, as data.

Objects are those `mora compile --target kubernetes` writes (`mora.backends.kubernetes.render`),
each labelled for pruning (`app.kubernetes.io/managed-by: mora`, `mora.dev/project`,
`mora.dev/site`, `mora.dev/service`), and sent with server-side apply: `PATCH` of the object's
own path with `Content-Type: application/apply-patch+yaml`, `fieldManager=mora` and `force=true`
only when asked (`--force-conflicts`). A plan is a list of `Request`s: method, API path, body
and what to wait for; `mora.deploy.kubeclient` executes it. Keeping the plan free of I/O lets
the unit tests check objects, order, paths, prune sets and waits without a cluster.

API paths follow the Kubernetes API conventions: `/api/v1` for the core group, `/apis/GROUP/
VERSION` for the others, then `namespaces/NS/` for namespaced kinds, the resource's plural and
the object's name (https://kubernetes.io/docs/reference/using-api/api-concepts/).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

FIELD_MANAGER = "mora"
APPLY_PATCH = "application/apply-patch+yaml"
LABEL_PROJECT = "mora.dev/project"
LABEL_SITE = "mora.dev/site"
LABEL_SERVICE = "mora.dev/service"
MANAGED_BY = "app.kubernetes.io/managed-by"

#: kind -> (resource plural, namespaced), for the kinds the Kubernetes backend writes
KINDS: dict[str, tuple[str, bool]] = {
    "Namespace": ("namespaces", False),
    "PersistentVolumeClaim": ("persistentvolumeclaims", True),
    "ConfigMap": ("configmaps", True),
    "Secret": ("secrets", True),
    "Service": ("services", True),
    "NetworkPolicy": ("networkpolicies", True),
    "Deployment": ("deployments", True),
    "StatefulSet": ("statefulsets", True),
    "Ingress": ("ingresses", True),
    "CronJob": ("cronjobs", True),
    "Job": ("jobs", True),
}
#: the order objects of one service are applied in: what the pods mount and reach first, then
#: the workload, then what routes to it
ORDER = ["ConfigMap", "Secret", "Service", "NetworkPolicy", "Deployment", "StatefulSet", "Ingress",
         "CronJob", "Job"]  # fmt: skip
WORKLOADS = ("Deployment", "StatefulSet")


@dataclass(frozen=True)
class Ref:
    """One object: apiVersion, kind, namespace ('' for cluster-scoped) and name."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> Ref:
        meta = body["metadata"]
        return cls(body["apiVersion"], body["kind"], meta.get("namespace", ""), meta["name"])

    @classmethod
    def parse(cls, text: str) -> Ref:
        """From the record's form, `apps/v1:Deployment:ns:name`."""
        api, kind, ns, name = text.rsplit(":", 3)
        return cls(api, kind, ns, name)

    def __str__(self) -> str:
        return f"{self.api_version}:{self.kind}:{self.namespace}:{self.name}"

    def path(self) -> str:
        """The object's API path."""
        plural, namespaced = KINDS[self.kind]
        base = (
            f"/api/{self.api_version}"
            if "/" not in self.api_version
            else f"/apis/{self.api_version}"
        )
        ns = f"/namespaces/{quote(self.namespace, safe='')}" if namespaced else ""
        return f"{base}{ns}/{plural}/{quote(self.name, safe='')}"


@dataclass(frozen=True)
class Request:
    """One API call. `wait` names what must hold before the service is healthy (`rollout`)."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    content_type: str | None = None
    wait: str | None = None

    def url(self) -> str:
        return self.path + ("?" + urlencode(sorted(self.query.items())) if self.query else "")

    def data(self) -> bytes | None:
        """The body as sent: JSON (valid YAML for apply patches), keys sorted."""
        if self.body is None:
            return None
        return json.dumps(self.body, sort_keys=True, separators=(",", ":")).encode()

    def describe(self) -> str:
        """For people and logs: the method, the path and the wait; never the body."""
        return f"{self.method} {self.url()}" + (f" (wait: {self.wait})" if self.wait else "")


def label_value(text: str) -> str:
    """A label value (63 characters of [A-Za-z0-9._-], alphanumeric at both ends) for `text`:
    itself when it is one, else a readable prefix and a short digest."""
    clean = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in text).strip("._-")
    if clean == text and 0 < len(text) <= 63:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return (clean[:54].strip("._-") + "-" + digest).strip("-")


def labelled(body: dict[str, Any], project: str, site: str, service: str | None) -> dict[str, Any]:
    """A copy of `body` with the prune labels on it (and on a workload's pod template)."""
    out = json.loads(json.dumps(body))
    labels = {
        MANAGED_BY: "mora",
        LABEL_PROJECT: label_value(project),
        LABEL_SITE: label_value(site),
    }
    if service is not None:
        labels[LABEL_SERVICE] = label_value(service)
    out["metadata"].setdefault("labels", {}).update(labels)
    return out


def apply_request(body: dict[str, Any], force: bool, wait: str | None = None) -> Request:
    """Server-side apply of one object."""
    query = {"fieldManager": FIELD_MANAGER}
    if force:
        query["force"] = "true"
    return Request("PATCH", Ref.of(body).path(), query, body, APPLY_PATCH, wait)


def delete_request(ref: Ref) -> Request:
    """Delete one object; its dependants (a Deployment's ReplicaSets and pods) in the background."""
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
    return Request("DELETE", ref.path(), {}, body, "application/json")


def _claims(body: dict[str, Any]) -> set[str]:
    spec = body.get("spec", {}).get("template", {}).get("spec", {})
    return {
        v["persistentVolumeClaim"]["claimName"]
        for v in spec.get("volumes", [])
        if "persistentVolumeClaim" in v
    }


@dataclass
class KubePlan:
    """Every object of a project, grouped: the namespace, each service's objects, the claims."""

    project: str
    site: str
    namespace: dict[str, Any]
    services: dict[str, list[dict[str, Any]]]  # service -> its objects, in apply order
    claims: dict[str, dict[str, Any]]  # claim name -> PersistentVolumeClaim
    uses: dict[str, list[str]]  # service -> the claims its pods mount
    #: service -> job name -> its Job (`run` jobs: applied and waited for by `run_job`, not
    #: with the service's other objects)
    jobs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def prepare(self, force: bool) -> list[Request]:
        """Before the first stage: the namespace."""
        return [apply_request(self.namespace, force)]

    def workload(self, service: str) -> dict[str, Any]:
        return next(o for o in self.services[service] if o["kind"] in WORKLOADS)

    def refs(self, service: str) -> list[Ref]:
        return [Ref.of(o) for o in self.services[service]]

    def for_service(self, service: str, before: list[Ref], force: bool) -> list[Request]:
        """One service: its claims, its objects in ORDER (the workload waited for), then the
        deletion of what it had before and no longer has (a route taken away)."""
        out = [apply_request(self.claims[c], force) for c in self.uses.get(service, [])]
        for body in self.services[service]:
            if body["kind"] == "Job":
                continue  # a one-off job: its own request, before or after (`job_request`)
            wait = "rollout" if body["kind"] in WORKLOADS else None
            out.append(apply_request(body, force, wait))
        now = set(self.refs(service))
        out += [
            delete_request(r) for r in before if r not in now and r.kind != "PersistentVolumeClaim"
        ]
        return out


def unschedulable(pods: dict[str, Any]) -> str:
    """Why a pod of a PodList cannot be placed on a node (`PodScheduled` False), or ''."""
    for pod in pods.get("items", []) or []:
        for cond in (pod.get("status", {}) or {}).get("conditions", []) or []:
            if cond.get("type") == "PodScheduled" and cond.get("reason") == "Unschedulable":
                name = pod.get("metadata", {}).get("name", "?")
                return f"pod {name} cannot be scheduled: {cond.get('message', '')}".strip()
    return ""


def job_request(body: dict[str, Any], force: bool) -> Request:
    """A one-off Job: applied, then waited for until it is Complete or Failed (`job_state`)."""
    return apply_request(body, force, "complete")


def job_state(body: dict[str, Any]) -> tuple[str, str]:
    """`complete`, `failed` (with the reason) or `running`, from a Job's conditions (the
    terminal ones: `Complete` and `Failed`, status "True")."""
    status = body.get("status", {}) or {}
    for cond in status.get("conditions", []) or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            return "complete", ""
        if cond.get("type") == "Failed":
            why = ": ".join(x for x in (cond.get("reason"), cond.get("message")) if x)
            return "failed", why or "the Job failed"
    return "running", f"{status.get('active', 0)} active, {status.get('failed', 0)} failed pod(s)"


def for_job(plan: KubePlan, service: str, job: str, force: bool) -> list[Request]:
    """A one-off Job of `service`: what its pod mounts and reads first (the claims, ConfigMap,
    Secret; a `before` job runs ahead of the service's own apply) and its NetworkPolicy, then
    the Job itself, waited for (`job_state`)."""
    out = [apply_request(plan.claims[c], force) for c in plan.uses.get(service, [])]
    out += [apply_request(b, force) for b in plan.services[service]
            if b["kind"] in ("ConfigMap", "Secret", "NetworkPolicy")]  # fmt: skip
    out.append(job_request(plan.jobs[service][job], force))
    return out


def prune(refs: list[Ref], prune_volumes: bool) -> list[Request]:
    """Delete a removed service's objects, routes first and workload before what it mounts;
    its claims (data) only with `prune_volumes`."""
    rank = {k: i for i, k in enumerate(reversed(ORDER))}
    keep = [r for r in refs if prune_volumes or r.kind != "PersistentVolumeClaim"]
    ordered = sorted(keep, key=lambda r: (rank.get(r.kind, len(rank)), str(r)))
    return [delete_request(r) for r in ordered]


def build(compiled: object, site: str, diags: object) -> KubePlan:
    """The plan of a compiled project on a site (`site`: its domain, for the label)."""
    from mora.backends.kubernetes import render
    from mora.backends.kubernetes.plan import plan_services
    from mora.backends.kubernetes.settings import read_settings
    from mora.diagnostics import Diagnostics

    manifest = compiled.manifest  # type: ignore[attr-defined]
    project = manifest.project
    docs = render(compiled, False, diags) or []  # type: ignore[arg-type]
    quiet = Diagnostics()
    plans = plan_services(manifest, read_settings(manifest, quiet), quiet)
    folder_of = {p.name: key for key, p in plans.items()}
    namespace: dict[str, Any] = {}
    services: dict[str, list[dict[str, Any]]] = {}
    claims: dict[str, dict[str, Any]] = {}
    jobs: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        body = doc.body
        kind = body.get("kind")
        if kind == "Namespace":
            namespace = labelled(body, project, site, None)
        elif kind == "PersistentVolumeClaim":
            claims[body["metadata"]["name"]] = labelled(body, project, site, None)
        elif kind in KINDS:
            service = folder_of.get(doc.path.split("/", 1)[0])
            if service is not None:
                services.setdefault(service, []).append(labelled(body, project, site, service))
                if kind == "Job":  # written as `<folder>/job-<job name>.yaml`
                    job = doc.path.rsplit("/", 1)[-1].removeprefix("job-").removesuffix(".yaml")
                    jobs.setdefault(service, {})[job] = services[service][-1]
    for objs in services.values():
        objs.sort(key=lambda o: (ORDER.index(o["kind"]), o["metadata"]["name"]))
    uses = {s: sorted(_claims(next(o for o in objs if o["kind"] in WORKLOADS)) & set(claims))
            for s, objs in services.items() if any(o["kind"] in WORKLOADS for o in objs)}  # fmt: skip
    return KubePlan(project, site, namespace, services, claims, uses, jobs)


# --- when a workload has rolled out (the rules `kubectl rollout status` applies) ------------------


def rollout(body: dict[str, Any]) -> tuple[str, str]:
    """`healthy`, `starting` or `failed` (with why) for a Deployment or StatefulSet as read."""
    meta = body.get("metadata", {})
    spec = body.get("spec", {})
    status = body.get("status", {}) or {}
    if status.get("observedGeneration", 0) < meta.get("generation", 1):
        return "starting", "the controller has not seen the new spec yet"
    want = spec.get("replicas", 1)
    if body.get("kind") == "Deployment":
        for cond in status.get("conditions", []) or []:
            if (
                cond.get("type") == "Progressing"
                and cond.get("reason") == "ProgressDeadlineExceeded"
            ):
                return (
                    "failed",
                    f"rollout exceeded its progress deadline: {cond.get('message', '')}",
                )
        updated = status.get("updatedReplicas", 0)
        if updated < want:
            return "starting", f"{updated} of {want} replicas updated"
        if status.get("replicas", 0) > updated:
            return "starting", "old replicas are still terminating"
        if status.get("availableReplicas", 0) < updated:
            return "starting", f"{status.get('availableReplicas', 0)} of {updated} available"
        return "healthy", ""
    ready = status.get("readyReplicas", 0)
    if ready < want:
        return "starting", f"{ready} of {want} replicas ready"
    strategy = spec.get("updateStrategy", {}) or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0) or 0
        if partition:
            if status.get("updatedReplicas", 0) < want - partition:
                return "starting", "partitioned rollout in progress"
            return "healthy", ""
    if status.get("updateRevision") != status.get("currentRevision"):
        return "starting", "pods are being updated to the new revision"
    return "healthy", ""


#: pod container states that will not resolve by waiting: the service has failed
STUCK = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
         "InvalidImageName", "CreateContainerError")  # fmt: skip


def stuck_pod(pods: dict[str, Any]) -> str:
    """Why a pod of a PodList cannot start (a crash loop, an image that cannot be pulled), or ''."""
    for pod in pods.get("items", []) or []:
        statuses = (pod.get("status", {}) or {}).get("containerStatuses", []) or []
        statuses += (pod.get("status", {}) or {}).get("initContainerStatuses", []) or []
        for st in statuses:
            waiting = (st.get("state", {}) or {}).get("waiting") or {}
            if waiting.get("reason") in STUCK:
                name = pod.get("metadata", {}).get("name", "?")
                return f"pod {name}: {st.get('name', '?')} {waiting['reason']}"
    return ""
