"""What an apply would make besides the services: bind folders and jobs, for the dry run.

Computed from the same podman plan the targets deploy (no podman, no SSH, nothing touched), so
the folders and owners shown are the ones apply creates. Whether a folder exists already is
only known on its host: the dry run says "when missing".
"""

from __future__ import annotations

from typing import Any

from mora.deploy import jobs
from mora.deploy.prepare import folders


def preview(compiled: Any, prepared: Any, before: Any, kind: str) -> dict[str, list[str]]:
    """`folders` and `jobs` lines of an apply of `prepared` with target `kind`."""
    manifest = compiled.manifest
    held = set(prepared.plan.held)
    deploying = sorted(n for n in prepared.changes.to_deploy if n not in held)
    recorded = before.objects if before is not None and before.target == kind else {}
    out: dict[str, list[str]] = {"folders": [], "jobs": []}
    if kind == "kubernetes":
        for name in deploying:
            svc = manifest.services[name]
            for m in svc.volumes:
                if m.kind == "bind":
                    out["folders"].append(
                        f"{m.host_path} for {name}: a hostPath volume, not created by mora"
                        " (it must exist on the node, owned for the service's user)"
                    )
            for job in svc.jobs:
                what = f"a CronJob ({job.schedule})" if job.schedule else f"a Job ({job.run})"
                out["jobs"].append(f"{name}.{job.name}: {what}")
        return out
    from mora.backends._podman_common import plan, read_settings
    from mora.diagnostics import Diagnostics

    quiet = Diagnostics()
    deployment = plan(compiled, read_settings(manifest, quiet), quiet, one_host=kind == "podman")
    out["folders"] = [f.describe() for f in folders(deployment.hosts, deploying)]
    for hd in deployment.hosts:
        for r in hd.jobs:
            name = r.owner.service.name
            if name not in deploying:
                continue
            if r.job.schedule is not None:
                how = (
                    "a .timer, enabled"
                    if kind == "quadlet"
                    else "not scheduled: the podman targets cannot (use --target quadlet)"
                )
                out["jobs"].append(f"{name}.{r.job.name} ({r.job.schedule}): {how}")
                continue
            key = jobs.podman_key(deployment, r)
            ran = key in recorded.get(name, {}).get(jobs.RECORD_KEY, [])
            state = "ran already (unchanged): skipped" if ran else "runs"
            out["jobs"].append(f"{name}.{r.job.name} ({r.job.run} {name}): {state}")
    return out


def render(found: dict[str, list[str]], kind: str) -> str:
    """The lines under the change set; empty when there is nothing to show."""
    text = ""
    if found["folders"]:
        text += (
            "bind folders:\n"
            if kind == "kubernetes"
            else (
                "bind folders (created when missing, before their stage; existing ones are left"
                " as they are):\n"
            )
        )
        text += "".join(f"  {line}\n" for line in found["folders"])
    if found["jobs"]:
        text += "jobs:\n" + "".join(f"  {line}\n" for line in found["jobs"])
    return text
