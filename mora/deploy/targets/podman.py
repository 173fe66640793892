"""The local podman target: this host's podman, driven as a subprocess, without systemd.

It deploys exactly what `build/podman/run.sh` would: the containers, arguments, volumes and
podman secrets come from the podman backend's plan (`_podman_common.plan`, `podman.run_args`).
Secrets are created from standard input (`podman secret create NAME -`), so no value is ever
written to a file. Health is `podman healthcheck run` (podman without systemd runs no timers),
or the container running when it has no health check.
"""

from __future__ import annotations

import os
import subprocess

from mora.backends._podman_common import (
    LOCAL,
    Container,
    Deployment,
    HostDeployment,
    plan,
    read_settings,
    volume_owner,
)
from mora.backends.podman import run_args
from mora.deploy.targets.base import Health, Target, TargetError
from mora.diagnostics import Diagnostics, printable

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
    ) -> None:
        manifest = compiled.manifest  # type: ignore[attr-defined]
        self.project: str = manifest.project
        self.deployment: Deployment = plan(
            compiled,  # type: ignore[arg-type]
            read_settings(manifest, diags),
            diags,
            one_host=True,
        )
        self.host: HostDeployment = (
            self.deployment.hosts[0] if self.deployment.hosts else HostDeployment(LOCAL)
        )
        self.containers: dict[str, Container] = {c.service.name: c for c in self.host.containers}
        self.podman = podman or os.environ.get("PODMAN") or "podman"
        self.env = env
        material = compiled.material  # type: ignore[attr-defined]
        # masked in logs; very short values would mask ordinary words
        self._secrets = sorted((v for v in material.values() if len(v) >= 4), key=len, reverse=True)

    def _run(
        self, *args: str, stdin: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
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

    def _must(self, what: str, *args: str, stdin: str | None = None) -> str:
        proc = self._run(*args, stdin=stdin)
        if proc.returncode != 0:
            raise TargetError(f"{what}: {self._mask(proc.stderr.strip())}")
        return proc.stdout

    def _mask(self, text: str) -> str:
        for value in self._secrets:
            text = text.replace(value, "[secret]")
        return printable(text)

    def prepare(self) -> None:
        label = f"mora.project={self.project}"
        if self._run("network", "exists", self.project).returncode != 0:
            self._must(
                f"creating the network {self.project}",
                "network", "create", "--label", label, self.project,
            )  # fmt: skip

    def _container(self, service: str) -> Container:
        c = self.containers.get(service)
        if c is None:
            raise TargetError(f"`{service}` is not in the podman plan (held or not deployable)")
        return c

    def apply_service(self, service: str) -> dict[str, list[str]]:
        c = self._container(service)
        label = f"mora.project={self.project}"
        for vol, _ in c.volumes:
            if self._run("volume", "exists", vol).returncode == 0:
                continue
            owner = volume_owner(self.host, vol)
            opt = ["--opt", f"o=uid={owner[0]},gid={owner[1]}"] if owner else []
            self._must(f"{service}: creating volume {vol}", "volume", "create",
                       "--label", label, *opt, vol)  # fmt: skip
        for d in c.deliveries:
            self._run("secret", "rm", d.name)  # podman 4.x has no `secret create --replace`
            self._must(f"{service}: creating secret {d.name}", "secret", "create", d.name, "-",
                       stdin=d.text)  # fmt: skip
        self._must(f"{service}: podman run", "run", *run_args(self.deployment, c))
        return {
            "containers": [c.name],
            "volumes": [v for v, _ in c.volumes],
            "secrets": [d.name for d in c.deliveries],
        }

    def _state(self, name: str) -> tuple[str, str]:
        proc = self._run(
            "container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name
        )
        if proc.returncode != 0:
            return "missing", ""
        status, _, code = proc.stdout.strip().partition(" ")
        return status, code

    def is_running(self, service: str) -> bool:
        c = self.containers.get(service)
        return c is not None and self._state(c.name)[0] == "running"

    def health(self, service: str) -> tuple[Health, str]:
        c = self._container(service)
        status, code = self._state(c.name)
        if status in ("exited", "stopped", "dead", "missing"):
            return "failed", f"the container is {status}" + (f" (exit {code})" if code else "")
        if status != "running":
            return "starting", ""
        if c.service.healthcheck is None:
            return "healthy", ""
        ok = self._run("healthcheck", "run", c.name, timeout=120).returncode == 0
        return ("healthy", "") if ok else ("starting", "")

    def logs(self, service: str, lines: int) -> list[str]:
        c = self.containers.get(service)
        if c is None:
            return []
        proc = self._run("logs", "--tail", str(lines), c.name)
        return self._mask(proc.stdout + proc.stderr).splitlines()[-lines:]

    def remove(self, service: str, objects: dict[str, list[str]], prune_volumes: bool) -> None:
        names = objects.get("containers") or [f"{self.project}-{service}"]
        for name in names:
            self._must(f"{service}: removing {name}", "rm", "-f", "-i", "-t", "10", name)
        for secret in objects.get("secrets", []):
            self._run("secret", "rm", secret)
        if prune_volumes:
            used = {v for c in self.host.containers for v, _ in c.volumes}
            for vol in objects.get("volumes", []):
                if vol not in used:
                    self._run("volume", "rm", "-f", vol)

    def finish(self, anything_applied: bool) -> None:
        proxy = self.containers.get(PROXY)
        if proxy is not None and (anything_applied or not self.is_running(PROXY)):
            self.apply_service(PROXY)
