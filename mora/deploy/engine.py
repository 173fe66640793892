"""Applying a change set: removals, then the plan's stages in order, each gated on health.

The engine knows the order and the bookkeeping; a `Target` knows how to make a service run.
The record is rewritten after every service that reached its goal, so an interrupted apply
resumes where it stopped and the record never claims what was not done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mora.deploy import jobs
from mora.deploy.changes import ChangeSet, compare, consumed, desired
from mora.deploy.state import Record, empty_record, secret_digests
from mora.deploy.targets.base import Target, TargetError
from mora.plan import Plan, build_plan


@dataclass
class Prepared:
    """What an apply (or a diff) works from: the plan, the wanted record and the change set."""

    plan: Plan
    wanted: Record
    changes: ChangeSet


def prepare(compiled: object, before: Record | None, key: bytes | None, target: str) -> Prepared:
    """Compare what compile made with the record (None: nothing deployed from this site)."""
    manifest = compiled.manifest  # type: ignore[attr-defined]
    plan = build_plan(manifest)
    digests = secret_digests(compiled.material, key)  # type: ignore[attr-defined]
    wanted = desired(manifest, plan.held, digests, target)
    if before is not None and before.target != target:
        before = None  # another target's record says nothing about this one
    return Prepared(plan, wanted, compare(before, wanted, plan.held))


@dataclass
class Outcome:
    """What happened to one service: `healthy`, `unchanged`, `failed`, `blocked`, `removed`,
    `held`; `elapsed` seconds from the start of the apply."""

    service: str
    status: str
    elapsed: float
    detail: str = ""
    logs: list[str] = field(default_factory=list)


@dataclass
class Applied:
    outcomes: list[Outcome]

    @property
    def ok(self) -> bool:
        return not [o for o in self.outcomes if o.status in ("failed", "blocked")]

    @property
    def changed(self) -> bool:
        return any(o.status in ("healthy", "removed") for o in self.outcomes)


Progress = Callable[[str, str, float, str], None]
#: called once per health poll: service -> seconds since it was started, and the total elapsed
Waiting = Callable[[dict[str, float], float], None]


def apply(
    prepared: Prepared,
    before: Record | None,
    target: Target,
    save: Callable[[Record], None],
    *,
    progress: Progress | None = None,
    prune_volumes: bool = False,
    timeout: float = 120.0,
    poll: float = 0.5,
    log_lines: int = 20,
    clock: Callable[[], float] = time.monotonic,
    waiting_progress: Waiting | None = None,
    after_healthy: Callable[[str], str | None] | None = None,
) -> Applied:
    """Remove what is gone, then deploy the stages in order; save the record after each step.

    A stage's services are created together, then waited for until each is healthy or failed
    (or `timeout` seconds pass); a service whose dependency failed is `blocked` and not touched.
    Unchanged services that are not running (an interrupted apply, a crash) are started again.
    `after_healthy(service)` runs once a service is healthy, before its dependants start (the
    setup steps, mora.micro); an error text it returns fails the service.
    """
    start = clock()
    say = progress or (lambda _s, _st, _t, _d: None)
    wanted = prepared.wanted
    changes = prepared.changes
    if before is None or before.target != target.name:
        before = empty_record(wanted.project, target.name, wanted.manifest.domain)
    services = dict(before.manifest.services)
    objects = dict(before.objects)
    digests = dict(before.secrets)
    outcomes: list[Outcome] = []
    bad: set[str] = set()  # failed or blocked: their dependants are not touched
    # service -> keys of its one-off jobs that ran to exit 0 (mora.deploy.jobs)
    ran = {n: list(o.get(jobs.RECORD_KEY, [])) for n, o in objects.items()}

    def record() -> Record:
        manifest = wanted.manifest.model_copy(update={"services": dict(sorted(services.items()))})
        used = {m for s in services.values() for m in consumed(s)}
        return Record(
            wanted.project,
            target.name,
            manifest,
            {m: d for m, d in digests.items() if m in used},
            # a service that failed keeps its objects: a later removal must find them
            {
                n: {**objects.get(n, {}), **({jobs.RECORD_KEY: ran[n]} if ran.get(n) else {})}
                for n in sorted(set(objects) | {n for n, keys in ran.items() if keys})
            },
        )

    def run_jobs(name: str, when: str, created: bool) -> bool:
        """The service's `when` jobs not run yet; False (and the service failed) when one
        fails."""

        def ok(keys: list[str]) -> None:
            ran[name] = keys
            save(record())

        def tell(service: str, step: str) -> None:
            if created or "already ran" not in step:
                say(service, step, clock() - start, "")

        try:
            problem, logs = jobs.run_pending(
                target, name, when, ran.get(name, []), tell, timeout, ok
            )
        except TargetError as err:
            problem, logs = str(err), []
        if problem:
            bad.add(name)
            done(name, "failed", problem, logs)
        return not problem

    def done(name: str, status: str, detail: str = "", logs: list[str] | None = None) -> None:
        elapsed = clock() - start
        outcomes.append(Outcome(name, status, elapsed, detail, logs or []))
        say(name, status, elapsed, detail)

    target.notify = lambda service, step: say(service, step, clock() - start, "")
    target.prepare()
    # every folder the new and changed services bind, before anything is removed or started
    target.ensure_folders(sorted(n for n in changes.to_deploy if n not in prepared.plan.held))
    for name in reversed(changes.removed):
        say(name, "removing", clock() - start, "")
        try:
            target.remove(name, objects.get(name, {}), prune_volumes)
        except TargetError as err:
            done(name, "failed", str(err))
            continue
        services.pop(name, None)
        objects.pop(name, None)
        ran.pop(name, None)
        save(record())
        done(name, "removed")
    for stage in prepared.plan.stages:
        if stage.kind != "deploy":
            continue
        waiting: dict[str, float] = {}  # service -> deadline
        since: dict[str, float] = {}  # service -> when the wait for it began
        created: set[str] = set()
        to_create: list[str] = []  # applied together: one stage, one call to the target
        for name in stage.services:
            if name in prepared.plan.held:
                done(name, "held", "waits for an input")
                continue
            svc = wanted.manifest.services[name]
            blockers = [d for d in svc.depends_on if d in bad]
            if blockers:
                bad.add(name)
                done(name, "blocked", f"{', '.join(blockers)} failed")
                continue
            if name not in changes.to_deploy and target.is_running(name):
                waiting[name] = clock() + timeout
                since[name] = clock()
                continue
            to_create.append(name)
        again = [n for n in to_create if n not in changes.to_deploy]  # restarted: folder gone?
        try:
            target.ensure_folders(again)
        except TargetError as err:
            for name in again:
                to_create.remove(name)
                bad.add(name)
                done(name, "failed", str(err))
        to_create = [n for n in to_create if run_jobs(n, "before", True)]
        for name in to_create:
            say(name, "creating", clock() - start, "")
        for name, result in (target.apply_stage(to_create) if to_create else {}).items():
            if isinstance(result, str):
                bad.add(name)
                done(name, "failed", result, target.logs(name, log_lines))
                continue
            objects[name] = result
            created.add(name)
            say(name, "starting", clock() - start, "")
            waiting[name] = clock() + timeout
            since[name] = clock()
        while waiting:
            for name in sorted(waiting):
                state, why = target.health(name)
                if state == "starting" and clock() < waiting[name]:
                    continue
                del waiting[name]
                unchanged = name not in created
                if state == "healthy":
                    services[name] = wanted.manifest.services[name]
                    digests.update(
                        {
                            m: wanted.secrets[m]
                            for m in consumed(services[name])
                            if m in wanted.secrets
                        }
                    )
                    if not unchanged:
                        save(record())
                    if not run_jobs(name, "after", not unchanged):
                        continue
                    problem = after_healthy(name) if after_healthy else None
                    if problem:
                        bad.add(name)
                        done(name, "failed", problem)
                        continue
                    done(name, "unchanged" if unchanged else "healthy")
                else:
                    bad.add(name)
                    if name in created:
                        save(record())  # its objects, for a later removal
                    why = why or f"not healthy after {timeout:g}s"
                    done(name, "failed", why, target.logs(name, log_lines))
            if waiting:
                if waiting_progress is not None:
                    now = clock()
                    waiting_progress({n: now - since[n] for n in waiting}, now - start)
                time.sleep(poll)
    applied = any(o.status in ("healthy", "removed") for o in outcomes)
    target.finish(applied)
    if applied or before.manifest != record().manifest:
        save(record())
    return Applied(outcomes)
