"""A service's jobs as Kubernetes Jobs and CronJobs: its pod template, with the job's command.

The pod is the service's own (same image, environment, Secret, ConfigMap files, volumes and the
same securityContext: one security contract), less what only a server needs (ports, probes),
restarted on failure. Its labels name the job, never the service's selector, so the Service and
its NetworkPolicy do not count it as a server. A job that mounts the service's storage (a PVC,
ReadWriteOnce by default, or a hostPath) is scheduled on the node of the service's pod
(podAffinity on its selector): an RWO volume attaches to one node only, and a hostPath is only
the same directory on the same node. A `before` job only prefers that node: it may run when no
pod of the service exists yet (a first deploy), and a required affinity would leave it Pending
for ever. On a cluster of several nodes such a job may therefore run elsewhere than the pod that
follows it: harmless for a PVC (the volume follows the claim), but a hostPath (`bind()`) is another
node's folder there, which is why binds on Kubernetes belong on one-node clusters (docs/apply.md).

A `run` job is named after a hash of its pod template: one Job per version of the job, so it runs
once per deploy that changes it (a Job's template cannot be changed in place). `after` jobs wait
for the service's own port first, as a dependent service does. `schedule` jobs are CronJobs with
`concurrencyPolicy: Forbid`: a nightly backup that overruns is not started twice.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from mora.backends._digest import sha256
from mora.diagnostics import Diagnostics
from mora.model import Job

from .naming import _fit, joined, pull_policy
from .plan import LABEL, ServicePlan
from .settings import Settings
from .workload import WAIT_SCRIPT, wait_security

N_BEFORE = "W0620"  # (a note) Kubernetes has no order between objects: `before` runs beside
MAX_CRONJOB_NAME = 52  # the controller appends 11 characters to name each Job (<= 63)
_SERVER_ONLY = ("ports", "livenessProbe", "readinessProbe", "startupProbe")


def job_documents(
    plan: ServicePlan, workload: dict[str, Any], settings: Settings, diags: Diagnostics
) -> list[tuple[str, dict[str, Any]]]:
    """(file name, body) of every job of the service, in job-name order (named `<service>--<job>`)."""
    from .placement import warn_unpinned_before_jobs

    warn_unpinned_before_jobs(plan.svc, diags)
    out = []
    for job in plan.svc.jobs:
        template = _pod(plan, workload, job, settings)
        policy = _network_policy(plan, job, dict(template["metadata"]["labels"]))
        out.append((f"networkpolicy-{job.name}.yaml", policy))
        suspended = plan.pending
        if job.schedule is not None:
            name = _fit(job_name(plan, job), MAX_CRONJOB_NAME, job_name(plan, job))
            spec: dict[str, Any] = {
                "concurrencyPolicy": "Forbid",
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {"backoffLimit": 2, "template": template}},
                "schedule": job.schedule,
                "successfulJobsHistoryLimit": 1,
            }
            if suspended:
                spec["suspend"] = True
            body = _object("CronJob", name, plan, template, spec)
            out.append((f"cronjob-{job.name}.yaml", body))
            continue
        digest = sha256(json.dumps(template, sort_keys=True).encode("utf-8")).hexdigest()[:8]
        spec = {"backoffLimit": 3, "template": template}
        if suspended:
            spec["suspend"] = True
        body = _object("Job", joined(job_name(plan, job), digest), plan, template, spec)
        out.append((f"job-{job.name}.yaml", body))
        if job.run == "before":
            diags.note(
                N_BEFORE,
                f'on Kubernetes, job `{plan.svc.name}.{job.name}` (run = "before") starts '
                "together with the service's new pods: nothing holds the rollout until it ends",
                None,
                help="the service must wait for the job's work itself (as most apps wait for "
                "their migrations); the podman targets do run it first",
            )
    return out


def job_name(plan: ServicePlan, job: Job) -> str:
    """`<service>--<job>`: no service's name has `--` (dns_label folds it), so a job's pods never
    carry another service's selector, nor its objects another service's name."""
    return joined(f"{plan.name}-", job.name)


def _object(
    kind: str, name: str, plan: ServicePlan, template: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "labels": dict(template["metadata"]["labels"]),
        "name": name,
        "namespace": plan.namespace,
    }
    if "annotations" in template["metadata"]:
        metadata["annotations"] = dict(template["metadata"]["annotations"])
    return {"apiVersion": "batch/v1", "kind": kind, "metadata": metadata, "spec": spec}


def _pod(
    plan: ServicePlan, workload: dict[str, Any], job: Job, settings: Settings
) -> dict[str, Any]:
    """The service's pod template with the job's command, labels and placement."""
    template = copy.deepcopy(workload["spec"]["template"])
    labels = {k: v for k, v in template["metadata"]["labels"].items() if k != LABEL + "component"}
    labels[LABEL + "name"] = job_name(plan, job)
    labels[LABEL + "component"] = "job"
    template["metadata"]["labels"] = labels
    spec = template["spec"]
    spec["restartPolicy"] = "OnFailure"
    container = spec["containers"][0]
    for key in _SERVER_ONLY:
        container.pop(key, None)
    container["args"] = list(job.command)
    if job.run == "after":
        port = plan.wait_port()
        if port is not None:
            spec.setdefault("initContainers", []).append(
                {
                    "name": joined("wait-for", plan.name),
                    "image": settings.init_image,
                    "imagePullPolicy": pull_policy(settings.init_image),
                    "command": ["sh", "-c", WAIT_SCRIPT, "wait-for", plan.name, str(port.target)],
                    "resources": {
                        "limits": {"memory": "32Mi"},
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                    },
                    "securityContext": wait_security(),
                }
            )
    if any(m.kind in ("volume", "bind") for m in plan.svc.volumes):
        beside = {
            "labelSelector": {"matchLabels": dict(plan.selector)},
            "topologyKey": "kubernetes.io/hostname",
        }
        if job.run == "before":
            # On a first deploy no pod of the service exists yet (and `mora apply` runs a `before`
            # job to its end before the service starts): a required affinity could never be met.
            spec["affinity"] = {
                "podAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 100, "podAffinityTerm": beside}
                    ]
                }
            }
        else:
            spec["affinity"] = {
                "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [beside]}
            }
    return template


def _network_policy(plan: ServicePlan, job: Job, labels: dict[str, str]) -> dict[str, Any]:
    """No connections into the job's pods: a job serves nothing."""
    selector = {
        LABEL + "name": job_name(plan, job),
        LABEL + "instance": plan.selector[LABEL + "instance"],
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"labels": labels, "name": job_name(plan, job), "namespace": plan.namespace},
        "spec": {
            "ingress": [],
            "podSelector": {"matchLabels": selector},
            "policyTypes": ["Ingress"],
        },
    }
