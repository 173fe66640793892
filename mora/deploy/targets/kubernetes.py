"""The Kubernetes target: the request plan (`mora.deploy.kube`) sent by `KubeClient`.

`prepare` applies the namespace; `apply_service` applies a service's claims and objects and
deletes the objects it had at the last apply and no longer has (the record's prune set); health
is the workload's rollout (`kube.rollout`), failed early when a pod is stuck (a crash loop, an
image that cannot be pulled); `remove` deletes a removed service's recorded objects (its claims
only with `--prune-volumes`, and never a claim another service still mounts).
"""

from __future__ import annotations

import time

from mora.deploy import kube
from mora.deploy.kubeclient import KubeClient, KubeError
from mora.deploy.targets.base import Health, Target, TargetError
from mora.diagnostics import Diagnostics, printable


class KubernetesTarget(Target):
    name = "kubernetes"

    def __init__(
        self,
        compiled: object,
        diags: Diagnostics,
        client: KubeClient,
        *,
        before: dict[str, dict[str, list[str]]] | None = None,
        force_conflicts: bool = False,
    ) -> None:
        manifest = compiled.manifest  # type: ignore[attr-defined]
        self.manifest = manifest
        self.plan = kube.build(compiled, manifest.domain or "", diags)
        self.poll = 1.0  # seconds between two looks at a running Job
        self.client = client
        self.before = before or {}
        self.force = force_conflicts
        material = compiled.material  # type: ignore[attr-defined]
        self._secrets = sorted((v for v in material.values() if len(v) >= 4), key=len, reverse=True)

    def _mask(self, text: str) -> str:
        for value in self._secrets:
            text = text.replace(value, "[secret]")
        if self.redact is not None:
            text = self.redact(text)
        return printable(text)

    def _send(self, req: kube.Request, what: str, missing_ok: bool = False) -> dict[str, object]:
        try:
            return self.client.send(req, missing_ok=missing_ok)
        except KubeError as err:
            hint = ""
            if err.status == 409 and not self.force:
                hint = " (another field manager owns these fields: --force-conflicts takes them)"
            raise TargetError(f"{what}: {self._mask(str(err))}{hint}") from None

    def prepare(self) -> None:
        for req in self.plan.prepare(self.force):
            self._send(req, "namespace")

    def _known(self, service: str) -> None:
        if service not in self.plan.services:
            raise TargetError(f"`{service}` has no Kubernetes objects (held or not deployable)")

    def apply_service(self, service: str) -> dict[str, list[str]]:
        self._known(service)
        recorded = [kube.Ref.parse(r) for r in self.before.get(service, {}).get("kube", [])]
        for req in self.plan.for_service(service, recorded, self.force):
            self._send(
                req, f"{service}: {req.method} {req.path}", missing_ok=req.method == "DELETE"
            )
        claims = [str(kube.Ref.of(self.plan.claims[c])) for c in self.plan.uses.get(service, [])]
        return {"kube": [str(r) for r in self.plan.refs(service)], "volumes": claims}

    def _workload(self, service: str) -> dict[str, object]:
        ref = kube.Ref.of(self.plan.workload(service))
        return self._send(kube.Request("GET", ref.path()), f"{service}: reading", missing_ok=True)

    def is_running(self, service: str) -> bool:
        if service not in self.plan.services:
            return False
        body = self._workload(service)
        return bool(body) and kube.rollout(body)[0] == "healthy"  # type: ignore[arg-type]

    def _pods(self, service: str) -> dict[str, object]:
        workload = self.plan.workload(service)
        selector = workload["spec"]["selector"]["matchLabels"]
        ns = workload["metadata"]["namespace"]
        query = {"labelSelector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))}
        req = kube.Request("GET", f"/api/v1/namespaces/{ns}/pods", query)
        return self._send(req, f"{service}: listing pods")

    def health(self, service: str) -> tuple[Health, str]:
        self._known(service)
        body = self._workload(service)
        if not body:
            return "failed", "its workload does not exist"
        state, why = kube.rollout(body)  # type: ignore[arg-type]
        if state == "starting":
            stuck = kube.stuck_pod(self._pods(service))  # type: ignore[arg-type]
            if stuck:
                return "failed", stuck
        return state, why  # type: ignore[return-value]

    def logs(self, service: str, lines: int) -> list[str]:
        if service not in self.plan.services:
            return []
        try:
            pods = self._pods(service).get("items") or []
            names = sorted(p["metadata"]["name"] for p in pods)  # type: ignore[index,union-attr]
            if not names:
                return []
            ns = self.plan.workload(service)["metadata"]["namespace"]
            req = kube.Request(
                "GET", f"/api/v1/namespaces/{ns}/pods/{names[0]}/log", {"tailLines": str(lines)}
            )
            status, data = self.client.raw(req)
        except (TargetError, KubeError):
            return []
        if status >= 400:
            return []
        return self._mask(data.decode(errors="replace")).splitlines()[-lines:]

    def remove(self, service: str, objects: dict[str, list[str]], prune_volumes: bool) -> None:
        still_used = {str(kube.Ref.of(c)) for s in self.plan.uses for c in
                      (self.plan.claims[n] for n in self.plan.uses[s])}  # fmt: skip
        refs = [kube.Ref.parse(r) for r in objects.get("kube", [])]
        refs += [kube.Ref.parse(r) for r in objects.get("volumes", []) if r not in still_used]
        for req in kube.prune(refs, prune_volumes):
            self._send(req, f"{service}: {req.method} {req.path}", missing_ok=True)

    def run_jobs(self, service: str, when: str) -> list[tuple[str, str]]:
        svc = self.manifest.services.get(service)
        bodies = self.plan.jobs.get(service, {})
        # the key: the job and its Job's name, which carries a hash of its pod template
        return [(j.name, f"{j.name}:{bodies[j.name]['metadata']['name']}")
                for j in (svc.jobs if svc else []) if j.run == when and j.name in bodies]  # fmt: skip

    def run_job(self, service: str, job: str, timeout: float) -> tuple[str | None, list[str]]:
        """Apply the Job and wait until it is Complete or Failed (or a pod of it is stuck)."""
        body = self.plan.jobs[service][job]
        for req in kube.for_job(self.plan, service, job, self.force):
            self._send(req, f"{service}: {req.method} {req.path}")
        deadline = time.monotonic() + timeout
        while True:
            got = self._send(kube.Request("GET", req.path), f"{service}: reading Job {job}")
            state, why = kube.job_state(got)  # type: ignore[arg-type]
            if state == "complete":
                return None, []
            pods = self._job_pods(body)
            stuck = kube.stuck_pod(pods) or kube.unschedulable(pods)  # type: ignore[arg-type]
            if state == "failed" or stuck:
                return f"failed: {stuck or why}", self._pod_logs(body, pods, 20)
            if time.monotonic() > deadline:
                return f"did not complete within {timeout:g}s ({why})", []
            time.sleep(self.poll)

    def _job_pods(self, body: dict[str, object]) -> dict[str, object]:
        meta = body["metadata"]
        query = {"labelSelector": f"job-name={meta['name']}"}  # type: ignore[index]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods"  # type: ignore[index]
        return self._send(kube.Request("GET", path, query), "listing the Job's pods")

    def _pod_logs(self, body: dict[str, object], pods: dict[str, object], lines: int) -> list[str]:
        """The last lines of the newest pod, masked."""
        items = pods.get("items") or []
        if not items:
            return []
        newest = max(items, key=lambda p: p["metadata"].get("creationTimestamp", ""))  # type: ignore[index,union-attr]
        ns = body["metadata"]["namespace"]  # type: ignore[index]
        name = newest["metadata"]["name"]  # type: ignore[index]
        req = kube.Request("GET", f"/api/v1/namespaces/{ns}/pods/{name}/log",
                           {"tailLines": str(lines)})  # fmt: skip
        try:
            status, data = self.client.raw(req)
        except KubeError:
            return []
        if status >= 400:
            return []
        return self._mask(data.decode(errors="replace")).splitlines()[-lines:]

    def finish(self, anything_applied: bool) -> None:
        pass

    def close(self) -> None:
        self.client.close()
