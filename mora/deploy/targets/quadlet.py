"""The quadlet target: the quadlet backend's units placed on the site's hosts over SSH, started
by systemd in the plan's order.

Per host (one SSH connection each, `mora.deploy.ssh`): the `.network`, `.volume` and `.container`
units of `build/quadlet/<host>/` are written into the host's quadlet folder (root:
/etc/containers/systemd, rootless: ~/.config/containers/systemd, or the host's `quadlet_dir`),
each through standard input into a temporary name then renamed; podman secrets are created from
standard input as with the podman targets (the backend's secret files and `secrets.sh` are not
copied: no value is left in a file). Then `systemctl daemon-reload` (quadlet's generator turns
the units into services) and `systemctl start <container>.service` for the stage's services.
Health, logs and the container state are read with podman over the same connection.
"""

from __future__ import annotations

import shlex

from mora.backends._podman_common import Container, HostDeployment
from mora.backends._podman_jobs import JobRun
from mora.backends.quadlet import host_files
from mora.deploy.ssh import SshHosts
from mora.deploy.targets.base import TargetError
from mora.deploy.targets.podman import PROXY, SshPodmanTarget
from mora.diagnostics import Diagnostics

ROOT_DIR = "/etc/containers/systemd"
ROOTLESS_DIR = "~/.config/containers/systemd"
#: where the jobs' `.timer` files go: systemd's own unit folders (quadlet makes only services)
TIMER_DIR = "/etc/systemd/system"
ROOTLESS_TIMER_DIR = "~/.config/systemd/user"


def remote_path(path: str) -> str:
    """A path for the remote shell: `~/x` becomes `"$HOME"/'x'`, the rest is quoted."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


class QuadletTarget(SshPodmanTarget):
    name = "quadlet"

    def __init__(
        self,
        compiled: object,
        diags: Diagnostics,
        hosts: SshHosts,
        *,
        podman: str = "podman",
        systemctl: str = "systemctl",
        timer_dir: str | None = None,
    ) -> None:
        super().__init__(compiled, diags, hosts, podman=podman)
        self.rootless = self.deployment.settings.rootless
        self.systemctl = [systemctl, "--user"] if self.rootless else [systemctl]
        self.timer_dir = timer_dir or (ROOTLESS_TIMER_DIR if self.rootless else TIMER_DIR)
        # relative path -> (text, mode) per host: the backend's files, the same bytes it writes
        self.files = {
            name: host_files(self.deployment, hd, diags, no_secrets=True)
            for name, hd in self.by_host.items()
        }

    def unit_dir(self, host: str) -> str:
        access = self.ssh[host].access
        return access.quadlet_dir or (ROOTLESS_DIR if self.rootless else ROOT_DIR)

    def _shell(self, host: str, what: str, command: str, stdin: str | None = None) -> str:
        proc = self.ssh[host].run(command, stdin=stdin)
        if proc.returncode != 0:
            raise TargetError(f"{what} on host `{host}`: {self._mask(proc.stderr.strip())}")
        return proc.stdout

    def _place(self, host: str, name: str, folder_path: str | None = None) -> None:
        """Write one unit into the host's quadlet folder (stdin -> temporary name -> rename)."""
        text, mode = self.files[host][name]
        folder = remote_path(folder_path or self.unit_dir(host))
        final = f"{folder}/{shlex.quote(name)}"
        temp = f"{folder}/{shlex.quote('.' + name + '.mora-tmp')}"
        self._shell(
            host,
            f"writing {name}",
            f"mkdir -p {folder} && umask 077 && cat > {temp} && chmod {mode:o} {temp}"
            f" && mv -f {temp} {final}",
            stdin=text,
        )

    def _systemctl(self, host: str, *args: str) -> None:
        self._shell(host, f"systemctl {args[0]}", shlex.join([*self.systemctl, *args]))

    def prepare(self) -> None:
        for host in self.by_host:
            self._place(host, f"{self.project}.network")

    def _job_runs(self, service: str, hd: HostDeployment) -> list[JobRun]:
        return [r for r in hd.jobs if r.owner.service.name == service]

    def _write_service(self, service: str, c: Container, hd: HostDeployment) -> None:
        host = hd.host.name
        self._volumes_and_secrets(service, c, hd)
        self._pull(service, c.service.image, host)
        for vol, _ in c.volumes:
            self._place(host, f"{vol}.volume")
        # its jobs' units: the service's unit requires its `before` jobs' units by name
        for r in self._job_runs(service, hd):
            self._place(host, f"{r.container.name}.container")
            if r.job.schedule is not None:
                self._place(host, f"{r.container.name}.timer", self.timer_dir)
        self._place(host, f"{c.name}.container")

    def _enable_timers(self, service: str, hd: HostDeployment) -> list[str]:
        """`systemctl enable --now` each timer of the service's scheduled jobs."""
        timers = [f"{r.container.name}.timer" for r in self._job_runs(service, hd)
                  if r.job.schedule is not None]  # fmt: skip
        for timer in timers:
            self._systemctl(hd.host.name, "enable", "--now", timer)
        return timers

    def run_job(self, service: str, job: str, timeout: float) -> tuple[str | None, list[str]]:
        """Its unit placed, a daemon-reload, then `systemctl restart` of the oneshot job unit:
        it returns when the job ended; on failure, its exit status and journal."""
        r = self._job(service, job)
        hd = self.where.get(service, self.host)
        host = hd.host.name
        self._volumes_and_secrets(service, r.container, hd)
        self._pull(service, r.container.service.image, host)
        for vol, _ in r.container.volumes:
            self._place(host, f"{vol}.volume")
        self._place(host, f"{r.container.name}.container")
        self._systemctl(host, "daemon-reload")
        unit = f"{r.container.name}.service"
        proc = self.ssh[host].run(shlex.join([*self.systemctl, "restart", unit]), timeout=timeout)
        if proc.returncode == 0:
            return None, []
        status = (
            self.ssh[host]
            .run(
                shlex.join([*self.systemctl, "show", "--property=ExecMainStatus", "--value", unit])
            )
            .stdout.strip()
        )
        which = "--user-unit" if self.rootless else "--unit"
        journal = self.ssh[host].run(
            shlex.join(["journalctl", which, unit, "-n", "20", "--no-pager", "-o", "cat"])
        )
        lines = self._mask(journal.stdout if journal.returncode == 0 else "").splitlines()
        if not lines:
            lines = self._mask(proc.stderr).splitlines()
        code = f"exited with {status}" if status.isdigit() and status != "0" else "failed"
        return code, lines[-20:]

    def apply_stage(self, services: list[str]) -> dict[str, dict[str, list[str]] | str]:
        """Write every unit of the stage, one daemon-reload per host, then start each."""
        done: dict[str, dict[str, list[str]] | str] = {}
        written: dict[str, list[str]] = {}  # host -> services
        for name in services:
            try:
                c = self._container(name)
                hd = self.where.get(name, self.host)
                self._write_service(name, c, hd)
                written.setdefault(hd.host.name, []).append(name)
            except TargetError as err:
                done[name] = str(err)
        for host, names in sorted(written.items()):
            try:
                self._systemctl(host, "daemon-reload")
            except TargetError as err:
                done.update({n: str(err) for n in names})
                continue
            for name in names:
                c = self.containers[name]
                try:
                    # restart: a unit that runs already picks up its new definition
                    self._systemctl(host, "restart", f"{c.name}.service")
                    timers = self._enable_timers(name, self.by_host[host])
                    done[name] = {**self._objects(c, self.by_host[host]),
                                  "units": self._units(c, self.by_host[host])}  # fmt: skip
                    if timers:
                        done[name]["timers"] = timers
                except TargetError as err:
                    done[name] = str(err)
        return done

    def apply_service(self, service: str) -> dict[str, list[str]]:
        result = self.apply_stage([service])[service]
        if isinstance(result, str):
            raise TargetError(result)
        return result

    def _units(self, c: Container, hd: HostDeployment) -> list[str]:
        jobs = [f"{r.container.name}.container" for r in self._job_runs(c.service.name, hd)]
        return [f"{c.name}.container", *(f"{v}.volume" for v, _ in c.volumes), *jobs]

    def remove(self, service: str, objects: dict[str, list[str]], prune_volumes: bool) -> None:
        host = (objects.get("host") or [self.host.host.name])[0]
        names = objects.get("containers") or [f"{self.project}-{service}"]
        folder = remote_path(self.unit_dir(host))
        for timer in objects.get("timers", []):  # its scheduled jobs: no more runs
            self.ssh[host].run(shlex.join([*self.systemctl, "disable", "--now", timer]))
            self._shell(host, f"removing {timer}",
                        f"rm -f -- {remote_path(self.timer_dir)}/{shlex.quote(timer)}")  # fmt: skip
        jobs = [u.removesuffix(".container") for u in objects.get("units", [])
                if u.endswith(".container") and u.removesuffix(".container") not in names]  # fmt: skip
        for name in [*names, *jobs]:
            # stop through systemd first, or Restart= would bring the container back
            self.ssh[host].run(shlex.join([*self.systemctl, "stop", f"{name}.service"]))
            self._shell(host, f"removing {name}.container",
                        f"rm -f -- {folder}/{shlex.quote(name + '.container')}")  # fmt: skip
        if prune_volumes:
            used = {v for c in self.by_host.get(host, self.host).containers for v, _ in c.volumes}
            for vol in objects.get("volumes", []):
                if vol not in used:
                    self._shell(host, f"removing {vol}.volume",
                                f"rm -f -- {folder}/{shlex.quote(vol + '.volume')}")  # fmt: skip
        self._systemctl(host, "daemon-reload")
        super().remove(service, objects, prune_volumes)

    def finish(self, anything_applied: bool) -> None:
        for host, hd in sorted(self.by_host.items()):
            proxy = next((c for c in hd.containers if c.service.name == PROXY), None)
            if proxy is None or not (
                anything_applied or self._state(proxy.name, host)[0] != "running"
            ):
                continue
            self._write_service(PROXY, proxy, hd)
            self._systemctl(host, "daemon-reload")
            self._systemctl(host, "restart", f"{proxy.name}.service")
