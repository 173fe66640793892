"""The executor as the apply engine's `after_healthy` hook.

`mora apply` passes a `SetupHook` to the engine: once a service is healthy its steps run; a
failed step fails the service (its dependants are not started). A step output that fills an
input some held service waits for makes the CLI compile and apply once more, so the consumer
is deployed in the same `mora apply`, with the value delivered as a podman secret.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mora import model as M
from mora.micro.executor import Executor, Say, StepResult, Store, Transport


class SetupHook:
    def __init__(self, manifest: M.Manifest, store: Store, transport: Transport, say: Say) -> None:
        self.manifest = manifest
        self.store = store
        produced: dict[str, list[str]] = {}
        for name, inp in sorted(manifest.inputs.items()):
            if inp.producer:
                produced.setdefault(inp.producer, []).append(name)
        self.executor = Executor(
            store, transport, produced=produced, project=manifest.project, say=say
        )
        self.results: list[StepResult] = []

    def __call__(self, service: str) -> str | None:
        svc = self.manifest.services.get(service)
        if svc is None or not svc.setup:
            return None
        results = self.executor.run_service(svc)
        self.results += results
        failed = [r for r in results if r.status == "failed"]
        return f"setup step {failed[0].step} failed: {failed[0].detail}" if failed else None

    def filled_pending(self) -> list[str]:
        """Produced inputs that were unanswered at compile time and have a value now."""
        return sorted(
            name
            for name, inp in self.manifest.inputs.items()
            if inp.producer and not inp.answered and self.store.get(f"input.{name}") is not None
        )


def notify_removed(
    before: M.Manifest | None,
    removed: list[str],
    project: Path,
    site: dict[str, object],
    say: Callable[[str, str, str], None],
) -> None:
    """After an apply removed services: their micromanagers hear `removed`, and what their
    steps recorded is forgotten (a service added again is set up again)."""
    gone = [before.services[n] for n in removed if before and n in before.services]
    gone = [s for s in gone if s.setup]
    if not gone:
        return
    from mora.api import check_project, open_store
    from mora.micro.transport import HttpTransport

    program = check_project(project).program
    store = open_store(
        program,  # type: ignore[arg-type]
        site.get("site_file"),  # type: ignore[arg-type]
        site.get("secrets_path"),  # type: ignore[arg-type]
    )
    executor = Executor(store, HttpTransport(), project=before.project, say=say)  # type: ignore[union-attr,arg-type]
    for svc in gone:
        executor.removed(svc)


def podman_hook(
    compiled: object,
    target: object,
    project: Path,
    site: dict[str, object],
    say: Callable[[str, str, str], None],
) -> SetupHook | None:
    """The hook for the local podman target; None when no service has steps."""
    from mora.api import check_project, open_store
    from mora.micro.transport import PodmanTransport

    manifest: M.Manifest = compiled.manifest  # type: ignore[attr-defined]
    if not any(s.setup for s in manifest.services.values()):
        return None
    program = check_project(project).program
    store = open_store(
        program,  # type: ignore[arg-type]
        site.get("site_file"),  # type: ignore[arg-type]
        site.get("secrets_path"),  # type: ignore[arg-type]
    )
    containers = {name: c.name for name, c in target.containers.items()}  # type: ignore[attr-defined]
    transport = PodmanTransport(
        containers,
        podman=target.podman,  # type: ignore[attr-defined]
        env=target.env,  # type: ignore[attr-defined]
    )
    return SetupHook(manifest, store, transport, say)  # type: ignore[arg-type]
