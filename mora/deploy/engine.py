"""Applying a change set: removals, then the plan's stages in order, each gated on health.

The engine knows the order and the bookkeeping; a `Target` knows how to make a service run.
The record is rewritten after every service that reached its goal, so an interrupted apply
resumes where it stopped and the record never claims what was not done.
"""

from __future__ import annotations

from dataclasses import dataclass

from mora.deploy.changes import ChangeSet, compare, desired
from mora.deploy.state import Record, secret_digests
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
