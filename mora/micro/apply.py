"""Apply with setup steps: the one loop `mora apply` and the manager both run.

The engine deploys a compile; the executor runs each service's steps once it is healthy (the
engine's `after_healthy` hook). A step may fill an input a held service waits for: then the
project is compiled again and applied once more, so the consumer starts in the same apply.
Written once here so the CLI and the manager cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from mora import model as M
from mora.micro.executor import Executor, Say, StepResult, Store, Transport
from mora.micro.hook import SetupHook


class Round(Protocol):
    """One compile, compared with what was deployed (`api.deploy_changes`' result, the
    manager's `View`)."""

    compiled: object  # mora.compiled.Compiled
    prepared: object  # mora.deploy.engine.Prepared
    before: object | None  # mora.deploy.state.Record


Hook = Callable[[str], str | None]


def transport_for(target: object) -> Transport:
    """The step transport of a deploy target (read duck-typed: micro sits below deploy)."""
    from mora.micro.transport import KubeTransport, PodmanTransport, SshTransport

    kind = getattr(target, "name", "")
    if kind == "kubernetes":
        services: dict[str, tuple[str, str]] = {}
        for name, objs in target.plan.services.items():  # type: ignore[attr-defined]
            for o in objs:
                if o["kind"] == "Service" and o["spec"].get("type") == "ClusterIP":
                    services[name] = (o["metadata"]["namespace"], o["metadata"]["name"])
        return KubeTransport(target.client, services)  # type: ignore[attr-defined]
    containers = {name: c.name for name, c in target.containers.items()}  # type: ignore[attr-defined]
    if kind in ("podman-ssh", "quadlet"):
        where = {name: hd.host.name for name, hd in target.where.items()}  # type: ignore[attr-defined]
        return SshTransport(
            target.ssh.hosts,  # type: ignore[attr-defined]
            where,
            containers,
            podman=target.podman,  # type: ignore[attr-defined]
        )
    return PodmanTransport(
        containers,
        podman=target.podman,  # type: ignore[attr-defined]
        env=target.env,  # type: ignore[attr-defined]
    )


def target_steps(
    manifest: M.Manifest,
    target: object,
    open_store: Callable[[], Store],
    say: Say,
    done: dict[str, M.Service] | None = None,
) -> SetupHook | None:
    """The executor for a deploy target (its transport reaches the target's containers); None
    when no service has steps (the store is then not opened). `done`: services set up earlier
    in the same apply (see SetupHook)."""
    if not any(s.setup for s in manifest.services.values()):
        return None
    return SetupHook(manifest, open_store(), transport_for(target), say, done)


def steps_on_deployed(
    manifest: M.Manifest,
    order: list[str],
    target: object,
    open_store: Callable[[], Store],
    say: Say,
) -> tuple[list[StepResult], list[str]]:
    """`mora setup`: the steps of services already deployed and running, in `order` (the
    plan's), without deploying anything. What the store records already ran is not run again.
    Returns the results and the services skipped (not running, or a dependency's step failed)."""
    hook = target_steps(manifest, target, open_store, say)
    if hook is None:
        return [], []
    bad: set[str] = set()
    skipped: list[str] = []
    for name in order:
        svc = manifest.services.get(name)
        if svc is None or not svc.setup:
            continue
        if any(d in bad for d in svc.depends_on) or not target.is_running(name):  # type: ignore[attr-defined]
            bad.add(name)
            skipped.append(name)
            continue
        if hook(name):
            bad.add(name)
    return hook.results, skipped


def share_redaction(manifest: M.Manifest, target: object, open_store: Callable[[], Store]) -> None:
    """Job logs are shown on failure: mask them as the setup executor masks its reports (every
    part of every secret in the site's store), not only the values delivered to containers."""
    from mora.micro.transport import HttpTransport

    if any(s.jobs for s in manifest.services.values()):
        target.redact = Executor(open_store(), HttpTransport()).redact  # type: ignore[attr-defined]


def forget_removed(
    before: M.Manifest | None, removed: list[str], open_store: Callable[[], Store], say: Say
) -> None:
    """After an apply removed services: their micromanagers hear `removed`, and what their
    steps recorded is forgotten (a service added again is set up again)."""
    from mora.micro.transport import HttpTransport

    gone = [before.services[n] for n in removed if before and n in before.services]
    gone = [s for s in gone if s.setup]
    if not gone or before is None:
        return
    executor = Executor(
        open_store(),
        HttpTransport(),
        services=set(before.services),
        project=before.project,
        say=say,
    )
    for svc in gone:
        executor.removed(svc)


def apply_with_steps(
    first: Round,
    *,
    recompile: Callable[[], Round],
    make_target: Callable[[Round], object],
    run: Callable[[Round, object, Hook | None], object],
    open_store: Callable[[], Store] | None,
    say: Say,
) -> tuple[object, Round]:
    """Apply `first`, running setup steps when `open_store` is given (every target).

    `make_target(round)` builds the deploy target (closed after its round); `run(round, target,
    hook)` calls the engine's `apply` and returns its `Applied`. While a step fills an input a
    held service waits for, compile again (`recompile`) and apply again; at most once per input.
    Returns the last `Applied`, its outcomes merged over the rounds (a later round's change
    wins; held services last), and the last round."""
    manifest: M.Manifest = first.compiled.manifest  # type: ignore[attr-defined]
    before = first.before.manifest if first.before is not None else None  # type: ignore[attr-defined]
    removed = list(first.prepared.changes.removed)  # type: ignore[attr-defined]
    outcomes: dict[str, object] = {}
    current = first
    done: object = None
    set_up: dict[str, M.Service] = {}  # shared by the rounds' hooks: steps run once per apply
    for _round in range(1 + len(manifest.inputs)):
        target = make_target(current)
        try:
            hook = None
            if open_store is not None:
                share_redaction(current.compiled.manifest, target, open_store)  # type: ignore[attr-defined]
                hook = target_steps(
                    current.compiled.manifest,  # type: ignore[attr-defined]
                    target,
                    open_store,
                    say,
                    set_up,
                )
            done = run(current, target, hook)
        finally:
            target.close()  # type: ignore[attr-defined]
        for o in done.outcomes:  # type: ignore[attr-defined]
            if o.status != "held" and (o.service not in outcomes or o.status != "unchanged"):
                outcomes[o.service] = o
        if hook is None or not hook.filled_pending() or not current.prepared.plan.held:  # type: ignore[attr-defined]
            break
        current = recompile()  # a step produced an input a held service waits for
    held = [o for o in done.outcomes if o.status == "held"]  # type: ignore[attr-defined]
    done.outcomes = [*outcomes.values(), *held]  # type: ignore[attr-defined]
    if open_store is not None:
        forget_removed(before, removed, open_store, say)
    return done, current
