"""A service's jobs on podman (both targets): one more container each, made like the service's.

A job's container is the service's (image, environment, secrets, files, volumes, user and
capabilities: one security contract) with the job's command, no ports, no health check, no
restart and no network alias (it must not answer to the service's name). The quadlet backend
makes each a oneshot unit (`run`) or a oneshot unit plus a `.timer` (`schedule`); the podman
script runs `run` jobs in place (`before`: ahead of the service's `podman run`, and the script
stops if one fails; `after`: once the service is up) and cannot schedule (a note says so, and a
script per scheduled job is written for the host's cron).
"""

from __future__ import annotations

from mora.backends._podman_common import Container, Opt, Reach, Settings, _container
from mora.compiled import Compiled
from mora.diagnostics import Diagnostics
from mora.model import Host, Job, Service
from mora.record import Record

N_NO_SCHEDULE = "W0720"  # (a note) the podman script target cannot schedule a job


class JobRun(Record):
    """One job of a service on one host."""

    job: Job
    owner: Container  # the service's
    container: Container  # the job's own


def job_service(svc: Service, job: Job) -> Service:
    """The service as its job runs it: the job's command, nothing that serves."""
    return svc.model_copy(
        update={
            "command": list(job.command),
            "ports": [],
            "healthcheck": None,
            "restart": None,
            "auto_update": False,
            "jobs": [],
            "subdomain": None,
            "host": None,
            "route_port": None,
        }
    )


def job_runs(
    compiled: Compiled, owner: Container, settings: Settings, reach: Reach, host: Host
) -> list[JobRun]:
    """The job containers of the service in `owner`, named `<project>-<service>-<job>`."""
    runs = []
    for job in owner.service.jobs:
        # Problems of the service's settings were reported for the service itself.
        scratch = Diagnostics()
        c = _container(compiled, job_service(owner.service, job), settings, scratch, reach, host)
        if c is None:
            continue
        c.name = f"{owner.name}-{job.name}"
        c.opts = [o for o in c.opts if o.key != "NetworkAlias"]
        label = f"mora.job={job.name}"
        c.opts.append(Opt("Label", label, (f"--label={label}",), "words"))
        c.requires = list(owner.requires)
        c.wait_healthy = list(owner.wait_healthy)
        if job.run == "before":  # the service's unit requires it, and starts after it ends
            owner.requires.append(c.name)
        elif job.run == "after":  # after the service is up: healthy, when it has a check
            c.requires.append(owner.name)
            if owner.service.healthcheck is not None:
                owner.notify_healthy = True
                c.wait_healthy.append(owner.name)
        runs.append(JobRun(job, owner, c))
    return runs
