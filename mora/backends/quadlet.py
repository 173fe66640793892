"""The quadlet backend: per host, the unit files podman's quadlet generator turns into services.

    out/quadlet/<host>/<project>.network          the project network (services reach each other
                                                   by service name: NetworkAlias)
    out/quadlet/<host>/<project>-<volume>.volume  named volumes
    out/quadlet/<host>/<project>-<service>.container
    out/quadlet/<host>/<project>-mora-proxy.container   Caddy, serving the subdomains with TLS
    out/quadlet/<host>/secrets.sh                 creates the podman secrets from the files below
    out/quadlet/<host>/secrets/<name>             secret values (0600)
    out/quadlet/<host>/files/<name>               config files without secrets (also delivered as
                                                   podman secrets, mounted read-only)

Keys the site's podman version does not know are written as `PodmanArgs=` (see
`_podman_common.KEY_SINCE`). Every value is escaped by `mora.backends.systemd`. docs/podman.md
explains the layout, the choices and how to install the units.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from mora.backends import _podman_common
from mora.backends._podman_binds import bind_dirs, tmpfiles_conf
from mora.backends._podman_common import (
    E_SETTING,
    E_UNWRITABLE,
    N_NO_HEALTH_WAIT,
    QUADLET_FIRST,
    Container,
    Deployment,
    HostDeployment,
    Opt,
    Version,
    nfs_options,
    note,
    plan,
    read_settings,
    secrets_script,
    supports,
    volume_mounts,
    volume_owners,
)
from mora.backends._podman_jobs import JobRun
from mora.backends.systemd import (
    UnitFile,
    UnitValueError,
    escape_exec,
    exec_word,
    exec_words,
    mounts_for,
    plain_mount_path,
    raw_value,
)
from mora.compiled import Compiled
from mora.diagnostics import Diagnostics
from mora.model import Job, Mount
from mora.output import finish_target, write_file
from mora.vocabulary.cron import on_calendar

# Every `model.Service` field: the shared container options plus the restart policy
# (tests/unit/test_vocabulary.py).
HANDLES = _podman_common.HANDLES | {"restart"}
IGNORES = _podman_common.IGNORES
C = "Container"
JOB_TIMEOUT = 3600  # seconds a job may run (pulling its image included) before systemd stops it
_STRV_WORD = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def write(compiled: Compiled, out: Path, options: Any, diags: Diagnostics) -> list[Path]:
    """Write `out/quadlet/<host>/` for every host that runs a service."""
    settings = read_settings(compiled.manifest, diags)
    if settings.version < QUADLET_FIRST:
        diags.error(
            E_SETTING,
            f"podman {settings.version} has no quadlet (it came with podman 4.4)",
            None,
            help="use the `podman` target (a run.sh script) for older podman",
        )
        return []
    deployment = plan(compiled, settings, diags, one_host=False)
    written: list[Path] = []
    for hd in deployment.hosts:
        files = host_files(deployment, hd, diags, no_secrets=getattr(options, "no_secrets", False))
        for rel, (text, mode) in sorted(files.items()):
            written.append(write_file(out, f"quadlet/{hd.host.name}/{rel}", text, mode))
    finish_target(out, "quadlet", written)
    return written


def host_files(
    dep: Deployment, hd: HostDeployment, diags: Diagnostics, no_secrets: bool = False
) -> dict[str, tuple[str, int]]:
    """Relative path -> (text, mode) of everything one host gets."""
    files: dict[str, tuple[str, int]] = {}
    header = _header(dep, hd)
    files[f"{dep.project}.network"] = (_network_unit(dep, header), 0o644)
    owners = volume_owners(hd)
    mounts = volume_mounts(hd)
    for vol in hd.volumes:
        owner = owners.get(vol)
        files[f"{vol}.volume"] = (_volume_unit(dep, vol, header, owner, mounts[vol]), 0o644)
    for c in hd.containers:
        try:
            files[f"{c.name}.container"] = (_container_unit(dep, c, header, diags), 0o644)
        except UnitValueError as err:
            diags.error(E_UNWRITABLE, f"`{c.service.name}`: {err}", None)
    for run in hd.jobs:  # oneshot units, and a timer for a schedule (_podman_jobs)
        try:
            unit = _container_unit(dep, run.container, header, diags, run.job)
        except UnitValueError as err:
            diags.error(E_UNWRITABLE, f"`{run.owner.service.name}.{run.job.name}`: {err}", None)
            continue
        files[f"{run.container.name}.container"] = (unit, 0o644)
        if run.job.schedule is not None:
            files[f"{run.container.name}.timer"] = (_timer_unit(dep, run, header), 0o644)
    for d in hd.deliveries:
        if d.secret and no_secrets:
            continue
        files[d.path] = (d.text, 0o600 if d.secret else 0o644)
    tmpfiles = tmpfiles_conf(dep.project, hd.host.name, bind_dirs(hd), dep.settings.rootless)
    if tmpfiles is not None:  # podman does not create a missing bind source (_podman_binds)
        files[f"tmpfiles.d/{dep.project}.conf"] = (tmpfiles, 0o644)
    replace = supports(dep.settings.version, "secret create --replace")
    files["secrets.sh"] = (secrets_script(dep.project, hd.host.name, hd.deliveries, replace), 0o700)
    return files


def _header(dep: Deployment, hd: HostDeployment) -> list[str]:
    return [
        f"Generated by mora from project `{dep.project}` for host `{hd.host.name}`"
        f" (podman {dep.settings.version}); do not edit."
    ]


def _network_unit(dep: Deployment, header: list[str]) -> str:
    u = UnitFile(list(header))
    u.add("Unit", "Description", f"{dep.project}: project network")
    if supports(dep.settings.version, "NetworkName"):
        u.add("Network", "NetworkName", dep.project)
    u.add("Network", "Label", exec_word(f"mora.project={dep.project}"))
    return u.render()


def _volume_unit(
    dep: Deployment, volume: str, header: list[str], owner: tuple[int, int] | None, m: Mount
) -> str:
    u = UnitFile(list(header))
    u.add("Unit", "Description", f"{dep.project}: volume {volume}")
    if supports(dep.settings.version, "VolumeName"):
        u.add("Volume", "VolumeName", volume)
    u.add("Volume", "Label", exec_word(f"mora.project={dep.project}"))
    if m.kind == "nfs":
        # podman-systemd.unit(5), volume units: Type= (mount -t), Device=, Options= (mount -o)
        device, options = nfs_options(m)
        u.add("Volume", "Type", "nfs")
        u.add("Volume", "Device", _raw(device, "NFS share"))
        if options:
            u.add("Volume", "Options", _raw(options, "NFS options"))
    if owner is not None:
        # Created owned by the service's declared user, so a non-root app can write it.
        u.add("Volume", "User", str(owner[0]))
        u.add("Volume", "Group", str(owner[1]))
    return u.render()


def _raw(text: str, what: str) -> str:
    value = raw_value(text)
    if value is None:
        raise UnitValueError(f"{what} `{text}` cannot be written into a unit file")
    return value


def _container_unit(
    dep: Deployment, c: Container, header: list[str], diags: Diagnostics, job: Job | None = None
) -> str:
    svc = c.service
    version = dep.settings.version
    u = UnitFile(list(header))
    what = f"{svc.name}, job {job.name}" if job else svc.name
    u.add("Unit", "Description", f"{dep.project}: {what}")
    for name in c.requires:
        u.add("Unit", "Requires", f"{name}.service")
        u.add("Unit", "After", f"{name}.service")
    u.add(C, "Image", _raw(svc.image, "image"))
    u.add(C, "ContainerName", c.name)
    u.add(C, "Network", c.network or f"{dep.project}.network")
    for vol, m in c.volumes:
        ro = ":ro" if m.readonly or m.access == "ROX" else ""
        if m.external:  # not ours: it must exist (podman would create a missing one, empty)
            u.add("Service", "ExecStartPre", f"/usr/bin/podman volume exists {exec_word(vol)}")
            u.add(C, "Volume", _raw(f"{vol}:{m.path}{ro}", "mount"))
        else:
            u.add(C, "Volume", _raw(f"{vol}.volume:{m.path}{ro}", "mount"))
    for m in c.binds:
        spec = f"{m.host_path}:{m.path}" + (":ro" if m.readonly else "")
        if plain_mount_path(m.host_path or ""):
            u.add(C, "Volume", _raw(spec, "bind mount"))
        else:
            # quadlet would copy the host path verbatim into RequiresMountsFor=, where systemd
            # splits it at spaces (or joins the next line after a `\`): say it ourselves, quoted.
            u.add("Unit", "RequiresMountsFor", mounts_for(m.host_path or ""))
            u.add(C, "PodmanArgs", exec_word(f"--volume={spec}"))
    for opt in c.opts:
        _emit(u, opt, version)
    if c.notify_healthy:
        if supports(version, "Notify=healthy"):
            u.add(C, "Notify", "healthy")
        else:
            note(
                diags,
                N_NO_HEALTH_WAIT,
                f"podman {version} cannot hold back the services that depend on `{svc.name}`"
                " until its health check passes (`Notify=healthy` needs podman 5.0): they start"
                " when its container starts",
            )
    if svc.command:
        u.add(C, "Exec", exec_words(svc.command))
    if job is not None:
        _job_service(u, dep, job)
        return u.render()
    restart = {"always": "always", "unless-stopped": "always", "on-failure": "on-failure"}
    if svc.restart in restart:
        u.add("Service", "Restart", restart[svc.restart])
    u.add("Service", "TimeoutStartSec", "900")  # the first start pulls the image
    if svc.stop_grace_period_seconds is not None:
        # systemd must outwait podman's own stop timeout, or it kills the stop half-way.
        stop = math.ceil(svc.stop_grace_period_seconds) + 30
        u.add("Service", "TimeoutStopSec", str(stop))
    u.add("Install", "WantedBy", "default.target")
    if not dep.settings.rootless:
        u.add("Install", "WantedBy", "multi-user.target")
    return u.render()


def _job_service(u: UnitFile, dep: Deployment, job: Job) -> None:
    """A job runs to its end: a oneshot service (quadlet runs it in the foreground then).

    `run` jobs stay "active" once done (RemainAfterExit), so the service that requires a
    `before` job does not run it again on every restart; a new deploy (daemon-reload and a
    restart of the job's unit) does. A scheduled job is started by its timer, not at boot.
    """
    u.add("Service", "Type", "oneshot")
    if job.run is not None:
        u.add("Service", "RemainAfterExit", "yes")
    u.add("Service", "TimeoutStartSec", str(JOB_TIMEOUT))
    if job.run == "after":
        u.add("Install", "WantedBy", "default.target")
        if not dep.settings.rootless:
            u.add("Install", "WantedBy", "multi-user.target")


def _timer_unit(dep: Deployment, run: JobRun, header: list[str]) -> str:
    """The systemd timer of a scheduled job: OnCalendar= converted from its cron schedule.

    Installed beside the system's units (not quadlet's folder: quadlet makes only services),
    then `systemctl enable --now <name>.timer`; it starts `<name>.service`, which quadlet
    generates from the `.container` of the same name. Times are the host's local time, as
    cron's are.
    """
    job = run.job
    assert job.schedule is not None
    u = UnitFile(list(header))
    u.add(
        "Unit",
        "Description",
        f"{dep.project}: {run.owner.service.name}, job {job.name} ({job.schedule})",
    )
    for calendar in on_calendar(job.schedule):
        u.add("Timer", "OnCalendar", calendar)
    u.add("Timer", "Unit", f"{run.container.name}.service")
    u.add("Install", "WantedBy", "timers.target")
    return u.render()


def _emit(u: UnitFile, opt: Opt, version: Version) -> None:
    """The option as its quadlet key when this podman knows it, else as `PodmanArgs=`."""
    key = opt.key
    if key == "User" and not supports(version, "User=name"):
        # podman 4.x reads User= (and Group=) as numbers only.
        m = re.fullmatch(r"(\d+)(?::(\d+))?", opt.value)
        if m:
            u.add(C, "User", m.group(1))
            if m.group(2):
                u.add(C, "Group", m.group(2))
            return
        key = None
    if key is not None and supports(version, key):
        value: str | None
        if opt.kind == "words":
            value = exec_word(opt.value)
        elif opt.kind == "strv":
            value = escape_exec(opt.value) if _STRV_WORD.fullmatch(opt.value) else None
        else:
            value = raw_value(opt.value)
        if value is not None:
            u.add(C, key, value)
            return
    u.add(C, "PodmanArgs", exec_words(opt.args))
