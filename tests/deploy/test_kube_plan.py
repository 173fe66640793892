"""The Kubernetes request plan at unit level (there is no API server here): which objects, in
which order, at which API paths, with which labels, what is pruned and what is waited for.

Paths are checked against the documented API conventions (kubernetes.io, "API Concepts"):
`/api/v1/...` for the core group, `/apis/GROUP/VERSION/...` for the others, namespaced kinds
under `namespaces/NS/`, the resource's lower-case plural, then the name. Server-side apply is a
PATCH with `Content-Type: application/apply-patch+yaml` and a `fieldManager` ("Server-Side
Apply"); `force=true` only when asked. Rollout rules are those of `kubectl rollout status`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mora.api import compile_project
from mora.deploy import kube
from mora.diagnostics import Diagnostics
from mora.secrets.provider import MemoryProvider

PROJECT = Path(__file__).parent / "kube_project"


@pytest.fixture(scope="module")
def built() -> tuple[kube.KubePlan, dict[str, str]]:
    result = compile_project(PROJECT, domain="example.org", provider=MemoryProvider(seed=b"k"))
    assert result.compiled is not None and not result.diagnostics.has_errors
    return kube.build(result.compiled, "example.org", Diagnostics()), result.compiled.material


def test_namespace_first_with_server_side_apply(built: tuple[kube.KubePlan, dict]) -> None:
    plan, _ = built
    (req,) = plan.prepare(force=False)
    assert (req.method, req.url()) == ("PATCH", "/api/v1/namespaces/shop?fieldManager=mora")
    assert req.content_type == "application/apply-patch+yaml"
    (forced,) = plan.prepare(force=True)
    assert forced.url() == "/api/v1/namespaces/shop?fieldManager=mora&force=true"


def test_service_objects_order_paths_and_waits(built: tuple[kube.KubePlan, dict]) -> None:
    plan, _ = built
    got = [(r.method, r.url(), r.wait) for r in plan.for_service("api", [], force=False)]
    q = "?fieldManager=mora"
    assert got == [
        ("PATCH", f"/api/v1/namespaces/shop/secrets/api-secrets{q}", None),
        ("PATCH", f"/api/v1/namespaces/shop/services/api{q}", None),
        ("PATCH", f"/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/api{q}", None),
        ("PATCH", f"/apis/apps/v1/namespaces/shop/deployments/api{q}", "rollout"),
        ("PATCH", f"/apis/networking.k8s.io/v1/namespaces/shop/ingresses/api{q}", None),
    ]
    db = [(r.url(), r.wait) for r in plan.for_service("db", [], force=False)]
    # the claim its pods mount comes before the StatefulSet, which is waited for
    assert db[0] == (
        f"/api/v1/namespaces/shop/persistentvolumeclaims/db-var-lib-postgresql-data{q}",
        None,
    )
    assert db[-1] == (f"/apis/apps/v1/namespaces/shop/statefulsets/db{q}", "rollout")


def test_every_object_is_labelled_for_pruning(built: tuple[kube.KubePlan, dict]) -> None:
    plan, _ = built
    bodies = [plan.namespace, *plan.claims.values()]
    bodies += [o for objs in plan.services.values() for o in objs]
    for body in bodies:
        labels = body["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "mora"
        assert labels["mora.dev/project"] == "shop"
        assert labels["mora.dev/site"] == "example.org"
    for service, objs in plan.services.items():
        assert {o["metadata"]["labels"]["mora.dev/service"] for o in objs} == {service}


def test_prune_set_from_the_record(built: tuple[kube.KubePlan, dict]) -> None:
    plan, _ = built
    gone_route = kube.Ref("networking.k8s.io/v1", "Ingress", "shop", "api-old")
    claim = kube.Ref("v1", "PersistentVolumeClaim", "shop", "api-data")
    recorded = [*plan.refs("api"), gone_route, claim]
    reqs = plan.for_service("api", recorded, force=False)
    deletes = [(r.method, r.path) for r in reqs if r.method == "DELETE"]
    # only what the service had and no longer has; never a claim (data) here
    assert deletes == [("DELETE", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/api-old")]
    assert reqs[-1].body == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Background",
    }


def test_removal_order_and_volumes(built: tuple[kube.KubePlan, dict]) -> None:
    plan, _ = built
    refs = [*plan.refs("db"), kube.Ref.of(plan.claims["db-var-lib-postgresql-data"])]
    kept = [r.path for r in kube.prune(refs, prune_volumes=False)]
    # the reverse of the apply order: routes, then the workload, then what it used
    assert kept == [
        "/apis/apps/v1/namespaces/shop/statefulsets/db",
        "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/db",
        "/api/v1/namespaces/shop/services/db",
    ]
    pruned = [r.path for r in kube.prune(refs, prune_volumes=True)]
    assert pruned[:-1] == kept
    assert pruned[-1] == "/api/v1/namespaces/shop/persistentvolumeclaims/db-var-lib-postgresql-data"


def test_refs_round_trip_and_no_secret_in_descriptions(built: tuple[kube.KubePlan, dict]) -> None:
    plan, material = built
    for ref in plan.refs("api"):
        assert kube.Ref.parse(str(ref)) == ref
    reqs = plan.for_service("api", [], force=False)
    secret = next(r for r in reqs if "/secrets/" in r.path)
    assert secret.body is not None and secret.body["kind"] == "Secret"
    for value in material.values():
        assert all(value not in r.describe() for r in reqs)


def _deployment(**status: object) -> dict[str, object]:
    return {"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, **status}}  # fmt: skip


def test_deployment_rollout_rules() -> None:
    ok = {"updatedReplicas": 2, "replicas": 2, "availableReplicas": 2}
    assert kube.rollout(_deployment(**ok)) == ("healthy", "")
    assert kube.rollout(_deployment(**{**ok, "observedGeneration": 1}))[0] == "starting"
    assert kube.rollout(_deployment(**{**ok, "updatedReplicas": 1}))[0] == "starting"
    assert kube.rollout(_deployment(**{**ok, "replicas": 3}))[0] == "starting"  # old pods
    assert kube.rollout(_deployment(**{**ok, "availableReplicas": 1}))[0] == "starting"
    deadline = {"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "slow"}
    assert kube.rollout(_deployment(**ok, conditions=[deadline]))[0] == "failed"


def test_statefulset_rollout_rules() -> None:
    def sts(**status: object) -> dict[str, object]:
        return {"kind": "StatefulSet", "metadata": {"generation": 1}, "spec": {"replicas": 1},
                "status": {"observedGeneration": 1, **status}}  # fmt: skip

    done = {"readyReplicas": 1, "currentRevision": "r2", "updateRevision": "r2"}
    assert kube.rollout(sts(**done)) == ("healthy", "")
    assert kube.rollout(sts(**{**done, "readyReplicas": 0}))[0] == "starting"
    assert kube.rollout(sts(**{**done, "currentRevision": "r1"}))[0] == "starting"


def test_stuck_pods_fail_early() -> None:
    pods = {"items": [{"metadata": {"name": "api-1"}, "status": {"containerStatuses": [
        {"name": "api", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}}]}  # fmt: skip
    assert kube.stuck_pod(pods) == "pod api-1: api ImagePullBackOff"
    pods["items"][0]["status"]["containerStatuses"][0]["state"] = {
        "waiting": {"reason": "ContainerCreating"}
    }
    assert kube.stuck_pod(pods) == ""


def test_label_values_are_valid() -> None:
    assert kube.label_value("example.org") == "example.org"
    long = kube.label_value("a" * 80 + ".example.org")
    assert len(long) <= 63 and long[0].isalnum() and long[-1].isalnum()
    assert kube.label_value("x y") != kube.label_value("x_y")


def test_job_state_reads_the_terminal_conditions() -> None:
    """A Job is done when its `Complete` condition is "True", failed on `Failed` "True"
    (batch/v1 JobStatus); anything else is still running. A pod that cannot be placed says why."""
    from mora.deploy.kube import job_state, unschedulable

    assert job_state({"status": {"active": 1}}) == ("running", "1 active, 0 failed pod(s)")
    assert job_state({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}) == (
        "complete", "",
    )  # fmt: skip
    failed = {"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "late"}
    assert job_state({"status": {"conditions": [failed]}}) == ("failed", "DeadlineExceeded: late")
    suspended = {"type": "Suspended", "status": "True"}
    not_yet = {"type": "Complete", "status": "False"}
    assert job_state({"status": {"conditions": [suspended, not_yet]}})[0] == "running"
    pending = {"metadata": {"name": "p1"}, "status": {"conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/3 nodes are available"}]}}  # fmt: skip
    assert (
        unschedulable({"items": [pending]}) == "pod p1 cannot be scheduled: 0/3 nodes are available"
    )
    assert unschedulable({"items": [{"status": {}}]}) == ""
