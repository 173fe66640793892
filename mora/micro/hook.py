"""The executor as the apply engine's `after_healthy` hook.

`mora apply` passes a `SetupHook` to the engine: once a service is healthy its steps run; a
failed step fails the service (its dependants are not started). A step output that fills an
input some held service waits for makes the CLI compile and apply once more, so the consumer
is deployed in the same `mora apply`, with the value delivered as a podman secret (the loop:
mora/micro/apply.py).
"""

from __future__ import annotations

from mora import model as M
from mora.micro.executor import Executor, Say, StepResult, Store, Transport


class SetupHook:
    def __init__(
        self,
        manifest: M.Manifest,
        store: Store,
        transport: Transport,
        say: Say,
        done: dict[str, M.Service] | None = None,
    ) -> None:
        self.manifest = manifest
        self.store = store
        # Services whose steps all succeeded earlier in this `mora apply` (an earlier round), as
        # they were then: a later round runs them again only if the service changed, so `always`
        # steps run once per apply, not once per round.
        self.done = done if done is not None else {}
        produced: dict[str, list[str]] = {}
        for name, inp in sorted(manifest.inputs.items()):
            if inp.producer:
                produced.setdefault(inp.producer, []).append(name)
        public = {
            f"setup.{svc.name}.{step.name}.{out}"
            for svc in manifest.services.values()
            for step in svc.setup
            for out, o in step.outputs.items()
            if o.public
        }
        self.executor = Executor(
            store,
            transport,
            produced=produced,
            public=public,
            services=set(manifest.services),
            project=manifest.project,
            say=say,
        )
        self.results: list[StepResult] = []

    def __call__(self, service: str) -> str | None:
        svc = self.manifest.services.get(service)
        if svc is None or not svc.setup or self.done.get(service) == svc:
            return None
        results = self.executor.run_service(svc)
        self.results += results
        failed = [r for r in results if r.status == "failed"]
        if failed:
            return f"setup step {failed[0].step} failed: {failed[0].detail}"
        self.done[service] = svc
        return None

    def filled_pending(self) -> list[str]:
        """Produced inputs that were unanswered at compile time and have a value now."""
        return sorted(
            name
            for name, inp in self.manifest.inputs.items()
            if inp.producer and not inp.answered and self.store.get(f"input.{name}") is not None
        )
