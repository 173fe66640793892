"""The interface every target implements: apply a stage, wait for health, read logs, remove.

The engine decides what to do and in which order; a target only knows how. Targets are told
service names of the manifest they were built with and never see the change set.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Literal

Health = Literal["starting", "healthy", "failed"]


class TargetError(Exception):
    """A step the target could not take; the message names the service and the step."""


class Target(ABC):
    #: the name in the record and on the command line (`podman`, `podman-ssh`, `quadlet`, ...)
    name: str
    #: set by the engine: report a step of a service as it happens (`pulling`)
    notify: Callable[[str, str], None] | None = None
    #: set by the caller when it holds the site's store: the setup executor's redaction (every
    #: part of every stored secret), applied after the target's own masking of delivered values
    redact: Callable[[str], str] | None = None

    def say(self, service: str, step: str) -> None:
        """Report a step the engine cannot see (an image being pulled) to the progress output."""
        if self.notify is not None:
            self.notify(service, step)

    @abstractmethod
    def prepare(self) -> None:
        """Create what every service shares (a network, a namespace); idempotent."""

    def apply_stage(self, services: list[str]) -> dict[str, dict[str, list[str]] | str]:
        """Create or replace each service; service -> its objects, or the error text."""
        done: dict[str, dict[str, list[str]] | str] = {}
        for name in services:
            try:
                done[name] = self.apply_service(name)
            except TargetError as err:
                done[name] = str(err)
        return done

    @abstractmethod
    def apply_service(self, service: str) -> dict[str, list[str]]:
        """Create or replace one service; returns what was made (recorded for `remove`)."""

    @abstractmethod
    def is_running(self, service: str) -> bool:
        """True when the service runs as last applied (an unchanged service needs nothing)."""

    @abstractmethod
    def health(self, service: str) -> tuple[Health, str]:
        """One look at the service: its state and a short reason when it failed."""

    @abstractmethod
    def logs(self, service: str, lines: int) -> list[str]:
        """The last `lines` lines the service wrote, secret values masked."""

    @abstractmethod
    def remove(self, service: str, objects: dict[str, list[str]], prune_volumes: bool) -> None:
        """Stop and delete what `apply_service` made (volumes only with `prune_volumes`)."""

    def ensure_folders(self, services: list[str]) -> None:  # noqa: B027 - most have none
        """Create the missing host folders `services` bind (mora.deploy.prepare); TargetError
        when one cannot be, before anything of theirs starts. Kubernetes: none (hostPath)."""

    def run_jobs(self, service: str, when: str) -> list[tuple[str, str]]:
        """The service's one-off jobs that run `when` (`before`, `after`): (name, key), the key
        changing with the job's content (mora.deploy.jobs)."""
        return []

    def run_job(self, service: str, job: str, timeout: float) -> tuple[str | None, list[str]]:
        """Run one job to its end: None, or what went wrong and its last log lines (masked)."""
        return "cannot be run by this target", []

    @abstractmethod
    def finish(self, anything_applied: bool) -> None:
        """After the last stage: what serves every service (a reverse proxy); idempotent."""

    def close(self) -> None:  # noqa: B027 - optional: most targets hold nothing open
        """Release what the target holds open (SSH master connections); called once at the end."""
