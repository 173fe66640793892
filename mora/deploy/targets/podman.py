"""The podman targets: this host's podman, or podman on the site's hosts over SSH; no systemd.

They deploy exactly what `build/podman/run.sh` would: the containers, arguments, volumes and
podman secrets come from the podman backend's plan (`_podman_common.plan`, `podman.run_args`).
Secrets are created from standard input (`podman secret create NAME -`), so no value is ever
written to a file or put in a command line. Health is `podman healthcheck run` (podman without
systemd runs no timers), or the container running when it has no health check.

`PodmanTarget` runs every service here (like run.sh); `SshPodmanTarget` places each service on
the inventory host its `placement` tags pick (like the quadlet backend) and runs the same podman
commands there through one SSH connection per host (`mora.deploy.ssh`).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import TYPE_CHECKING

from mora.backends._podman_common import (
    LOCAL,
    Container,
    Deployment,
    HostDeployment,
    plan,
    read_settings,
    volume_owner,
)
from mora.backends._podman_jobs import JobRun
from mora.backends.podman import run_args
from mora.deploy import jobs, prepare
from mora.deploy.targets.base import Health, Target, TargetError
from mora.diagnostics import Diagnostics, printable

if TYPE_CHECKING:
    from mora.deploy.ssh import SshHosts

PROXY = "mora-proxy"


class PodmanTarget(Target):
    name = "podman"

    def __init__(
        self,
        compiled: object,
        diags: Diagnostics,
        *,
        podman: str | None = None,
        env: dict[str, str] | None = None,
        one_host: bool = True,
    ) -> None:
        manifest = compiled.manifest  # type: ignore[attr-defined]
        self.project: str = manifest.project
        self.deployment: Deployment = plan(
            compiled,  # type: ignore[arg-type]
            read_settings(manifest, diags),
            diags,
            one_host=one_host,
        )
        hosts = self.deployment.hosts or [HostDeployment(LOCAL)]
        self.host: HostDeployment = hosts[0]
        self.by_host: dict[str, HostDeployment] = {hd.host.name: hd for hd in hosts}
        self.containers: dict[str, Container] = {}
        self.where: dict[str, HostDeployment] = {}  # service -> the host it runs on
        for hd in hosts:
            for c in hd.containers:
                if c.service.name != PROXY:
                    self.containers[c.service.name] = c
                    self.where[c.service.name] = hd
        self.podman = podman or os.environ.get("PODMAN") or "podman"
        self.env = env
        material = compiled.material  # type: ignore[attr-defined]
        # masked in logs; very short values would mask ordinary words
        self._secrets = sorted((v for v in material.values() if len(v) >= 4), key=len, reverse=True)

    # --- running podman: here, or (SshPodmanTarget) on a host over SSH --------------------------

    def _run_on(
        self, host: str, args: list[str], stdin: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run `podman ARGS` for host `host` (this target: always here)."""
        try:
            return subprocess.run(
                [self.podman, *args],
                input=stdin,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise TargetError(f"podman {args[0]}: {err}") from None

    def _run(
        self, *args: str, stdin: str | None = None, timeout: float = 300, host: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self._run_on(host or self.host.host.name, list(args), stdin, timeout)

    def _must(
        self, what: str, *args: str, stdin: str | None = None, host: str | None = None
    ) -> str:
        proc = self._run(*args, stdin=stdin, host=host)
        if proc.returncode != 0:
            raise TargetError(f"{what}: {self._mask(proc.stderr.strip())}")
        return proc.stdout

    def _mask(self, text: str) -> str:
        for value in self._secrets:
            text = text.replace(value, "[secret]")
        if self.redact is not None:
            text = self.redact(text)
        return printable(text)

    def _shell_on(self, host: str, argv: list[str]) -> tuple[int, str, str]:
        """Run a command (not podman) for host `host`: here, for this target."""
        try:
            proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise TargetError(f"{argv[0]}: {err}") from None
        return proc.returncode, proc.stdout, proc.stderr

    def bind_folders(self, services: list[str]) -> list[prepare.Folder]:
        """The host folders `services` and their jobs bind, on their hosts."""
        return prepare.folders(self.by_host.values(), services)

    def ensure_folders(self, services: list[str]) -> None:
        found = self.bind_folders(services)
        if found:
            prepare.ensure(found, self.podman, self._shell_on, self.say)

    def _job(self, service: str, job: str) -> JobRun:
        hd = self.where.get(service, self.host)
        for r in hd.jobs:
            if r.owner.service.name == service and r.job.name == job:
                return r
        raise TargetError(f"`{service}` has no job `{job}` in the podman plan")

    def run_jobs(self, service: str, when: str) -> list[tuple[str, str]]:
        hd = self.where.get(service)
        if hd is None:
            return []
        runs = [r for r in hd.jobs if r.owner.service.name == service and r.job.run == when]
        return [(r.job.name, jobs.podman_key(self.deployment, r)) for r in runs]

    def run_job(self, service: str, job: str, timeout: float) -> tuple[str | None, list[str]]:
        """`podman run` of the job's container in the foreground (its exit code is the job's),
        after the volumes and secrets it shares with its service; removed once it ended."""
        r = self._job(service, job)
        hd = self.where.get(service, self.host)
        host = hd.host.name
        self._volumes_and_secrets(service, r.container, hd)
        self._pull(service, r.container.service.image, host)
        args = [a for a in run_args(self.deployment, r.container) if a != "-d"]
        name = r.container.name
        try:
            proc = self._run("run", *args, timeout=timeout, host=host)
        except TargetError:
            self._run("rm", "-f", "-i", "-t", "0", name, host=host)
            return f"did not end within {timeout:g}s (stopped)", []
        if proc.returncode == 0:
            self._run("rm", "-f", "-i", name, host=host)
            return None, []
        logs = self._run("logs", "--tail", "20", name, host=host)
        self._run("rm", "-f", "-i", name, host=host)
        lines = self._mask(logs.stdout + logs.stderr).splitlines()
        if logs.returncode != 0 or not lines:  # podman itself failed (125-127): its message
            lines = self._mask(proc.stderr).splitlines()
        return f"exited with {proc.returncode}", lines[-20:]

    def _host_of(self, service: str) -> str:
        hd = self.where.get(service)
        return (hd or self.host).host.name

    # --- the Target interface -------------------------------------------------------------------

    def prepare(self) -> None:
        self._schedule_warning()
        label = f"mora.project={self.project}"
        for host in self.by_host:
            if self._run("network", "exists", self.project, host=host).returncode != 0:
                self._must(
                    f"creating the network {self.project}",
                    "network", "create", "--label", label, self.project, host=host,
                )  # fmt: skip

    def _schedule_warning(self) -> None:
        """podman without systemd has no timers: say once which jobs are not scheduled."""
        runs = [r for hd in self.by_host.values() for r in hd.jobs if r.job.schedule]
        if not runs:
            return
        names = ", ".join(f"{r.owner.service.name}.{r.job.name} ({r.job.schedule})" for r in runs)
        self.say(
            "jobs",
            f"warning: the {self.name} target cannot schedule {names}: they do not run. Deploy"
            " with --target quadlet (a systemd timer each), or run the scripts of `mora compile"
            " --target podman` (podman/jobs/*.sh) from the host's crontab",
        )

    def _container(self, service: str) -> Container:
        c = self.containers.get(service)
        if c is None:
            raise TargetError(f"`{service}` is not in the podman plan (held or not deployable)")
        return c

    def _volumes_and_secrets(self, service: str, c: Container, hd: HostDeployment) -> None:
        """Create the container's missing volumes and (re)create its podman secrets from stdin."""
        host = hd.host.name
        label = f"mora.project={self.project}"
        for vol, _ in c.volumes:
            if self._run("volume", "exists", vol, host=host).returncode == 0:
                continue
            owner = volume_owner(hd, vol)
            opt = ["--opt", f"o=uid={owner[0]},gid={owner[1]}"] if owner else []
            self._must(f"creating volume {vol}", "volume", "create",
                       "--label", label, *opt, vol, host=host)  # fmt: skip
        for d in c.deliveries:
            self._run("secret", "rm", d.name, host=host)  # podman 4.x: no `create --replace`
            self._must(f"creating secret {d.name}", "secret", "create", d.name, "-",
                       stdin=d.text, host=host)  # fmt: skip

    def _pull(self, service: str, image: str, host: str) -> None:
        """Pull a missing image as its own step, so progress says `pulling` and a registry
        problem is reported as such rather than as a failed `podman run`."""
        if self._run("image", "exists", image, host=host).returncode == 0:
            return
        self.say(service, "pulling")
        proc = self._run("pull", "--quiet", image, host=host)
        if proc.returncode != 0:  # the engine prints the service: the message says the rest
            where = "this machine" if host == LOCAL.name else f"host `{host}`"
            raise TargetError(
                f"cannot pull {image}: {_last_error(self._mask(proc.stderr))}; check the image "
                f"name and tag, or put the image on {where} yourself (`podman load`, "
                "`podman build`) when no registry has it"
            )

    def _objects(self, c: Container, hd: HostDeployment) -> dict[str, list[str]]:
        objects = {
            "containers": [c.name],
            "volumes": [v for v, _ in c.volumes],
            "secrets": [d.name for d in c.deliveries],
        }
        if hd.host.name != LOCAL.name:
            objects["host"] = [hd.host.name]
        return objects

    def apply_service(self, service: str) -> dict[str, list[str]]:
        c = self._container(service)
        hd = self.where.get(service, self.host)
        self._volumes_and_secrets(service, c, hd)
        self._pull(service, c.service.image, hd.host.name)
        self._must("podman run", "run", *run_args(self.deployment, c),
                   host=hd.host.name)  # fmt: skip
        return self._objects(c, hd)

    def _state(self, name: str, host: str) -> tuple[str, str]:
        proc = self._run(
            "container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name,
            host=host,
        )  # fmt: skip
        if proc.returncode != 0:
            return "missing", ""
        status, _, code = proc.stdout.strip().partition(" ")
        return status, code

    def is_running(self, service: str) -> bool:
        c = self.containers.get(service)
        return c is not None and self._state(c.name, self._host_of(service))[0] == "running"

    def health(self, service: str) -> tuple[Health, str]:
        c = self._container(service)
        host = self._host_of(service)
        status, code = self._state(c.name, host)
        if status in ("exited", "stopped", "dead", "missing"):
            return "failed", f"the container is {status}" + (f" (exit {code})" if code else "")
        if status != "running":
            return "starting", ""
        if c.service.healthcheck is None:
            return "healthy", ""
        ok = self._run("healthcheck", "run", c.name, timeout=120, host=host).returncode == 0
        return ("healthy", "") if ok else ("starting", "")

    def logs(self, service: str, lines: int) -> list[str]:
        c = self.containers.get(service)
        if c is None:
            return []
        proc = self._run("logs", "--tail", str(lines), c.name, host=self._host_of(service))
        if proc.returncode != 0:  # no container (it was never created): no log to show
            return []
        return self._mask(proc.stdout + proc.stderr).splitlines()[-lines:]

    def remove(self, service: str, objects: dict[str, list[str]], prune_volumes: bool) -> None:
        host = (objects.get("host") or [self.host.host.name])[0]
        names = objects.get("containers") or [f"{self.project}-{service}"]
        for name in names:
            self._must(f"removing {name}", "rm", "-f", "-i", "-t", "10", name,
                       host=host)  # fmt: skip
        for secret in objects.get("secrets", []):
            self._run("secret", "rm", secret, host=host)
        if prune_volumes:
            hd = self.by_host.get(host)
            used = {v for c in (hd.containers if hd else []) for v, _ in c.volumes}
            for vol in objects.get("volumes", []):
                if vol not in used:
                    self._run("volume", "rm", "-f", vol, host=host)

    def finish(self, anything_applied: bool) -> None:
        for hd in self.by_host.values():
            proxy = next((c for c in hd.containers if c.service.name == PROXY), None)
            if proxy is None:
                continue
            host = hd.host.name
            if anything_applied or self._state(proxy.name, host)[0] != "running":
                self._volumes_and_secrets(PROXY, proxy, hd)
                self._must(f"{PROXY}: podman run", "run", *run_args(self.deployment, proxy),
                           host=host)  # fmt: skip


class SshPodmanTarget(PodmanTarget):
    """podman on the inventory's hosts, over SSH: services placed by their `placement` tags."""

    name = "podman-ssh"

    def __init__(
        self, compiled: object, diags: Diagnostics, hosts: SshHosts, *, podman: str = "podman"
    ) -> None:
        super().__init__(compiled, diags, podman=podman, one_host=False)
        self.ssh = hosts
        for name in self.by_host:
            self.ssh[name]  # every host with services must be reachable: say so before starting

    def _run_on(
        self, host: str, args: list[str], stdin: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        return self.ssh[host].run(shlex.join([self.podman, *args]), stdin=stdin, timeout=timeout)

    def _shell_on(self, host: str, argv: list[str]) -> tuple[int, str, str]:
        proc = self.ssh[host].words(argv, timeout=120)
        return proc.returncode, proc.stdout, proc.stderr

    def close(self) -> None:
        self.ssh.close()


def _last_error(stderr: str) -> str:
    """podman's own error from its stderr, without the retry warnings it prints before it."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln.removeprefix("Error: ") for ln in lines if ln.startswith("Error: ")]
    return (errors or lines or ["no message"])[-1]
