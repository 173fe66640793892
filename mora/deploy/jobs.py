"""One-off jobs during an apply: `run = "before"` ahead of their service, `"after"` once it is up.

A job is known by its content: `NAME:HASH`, the hash of what the target runs (the podman
arguments of its container: image, command, environment, volumes, secrets by name; on
Kubernetes the Job's name, which carries a hash of its pod template). A job that ran to exit 0
is recorded under its service in the site's apply record (`objects.SERVICE.jobs`), so the next
apply skips it and a changed job (or a new image of its service) runs again. A job that fails
fails its service (`before`: the service is not started) and so blocks its dependants; the
report gives the exit code and the job's last log lines, secret values masked by the target.

The engine calls `run_pending` with the record's keys; the target knows how to run a job
(`Target.run_jobs`/`Target.run_job`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mora.backends._podman_common import Deployment
    from mora.backends._podman_jobs import JobRun
    from mora.deploy.targets.base import Target

RECORD_KEY = "jobs"  # objects.SERVICE.jobs: the keys of the jobs that ran to exit 0


def podman_key(deployment: Deployment, run: JobRun) -> str:
    """`NAME:HASH` of a job on the podman targets: what `podman run` is given, hashed."""
    from mora.backends.podman import run_args

    text = json.dumps([run.job.run, run_args(deployment, run.container)], sort_keys=True)
    return f"{run.job.name}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def remember(done: list[str], key: str) -> list[str]:
    """The record's keys with `key` in place of an older version of the same job."""
    name = key.partition(":")[0]
    return sorted({k for k in done if k.partition(":")[0] != name} | {key})


def run_pending(
    target: Target,
    service: str,
    when: str,
    done: list[str],
    say: Callable[[str, str], None],
    timeout: float,
    on_success: Callable[[list[str]], None],
) -> tuple[str | None, list[str]]:
    """Run the `when` jobs of `service` whose key is not in `done`, in name order, each to its
    end; `on_success(keys)` after each (the engine records it at once). Returns the first
    failure (its text and masked last log lines) or (None, [])."""
    keys = list(done)
    for name, key in target.run_jobs(service, when):
        if key in keys:
            say(service, f"job {name}: already ran (unchanged)")
            continue
        say(service, f"job {name}: running ({when})")
        problem, logs = target.run_job(service, name, timeout)
        if problem:
            return f"job `{name}` ({when}) {problem}", logs
        keys = remember(keys, key)
        on_success(keys)
        say(service, f"job {name}: done")
    return None, []
