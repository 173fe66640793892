"""The change set: what differs between the recorded deployment and the one compile now makes.

A pure comparison of two records (manifest + secret digests): deterministic, JSON-serialisable,
and free of secret values by construction (it only ever sees digests). Services waiting for an
unanswered input are `held`: they are neither added nor changed until the input is answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mora import model as M
from mora.deploy.state import Record

# Service fields grouped the way a person reads a change; fields not listed keep their own name.
_GROUPS = {
    "subdomain": "routes",
    "host": "routes",
    "url": "routes",
    "route_port": "routes",
    "internal_url": "ports",
    "user": "security",
}
# Fields that say nothing about the running container.
_IGNORED = {"pending_inputs", "template", "inputs", "init_only"}
# Fields shown per key, so a change names the variable or file that moved.
_KEYED = {"environment", "labels"}


@dataclass
class ChangeSet:
    project: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: service -> the fields that differ (`image`, `environment.NAME`, `files./path`, ...)
    changed: dict[str, list[str]] = field(default_factory=dict)
    #: service -> why it restarts although its definition is the same (a secret it consumes)
    restart: dict[str, list[str]] = field(default_factory=dict)
    #: what the changed values are made from (`secret.NAME`, `input.NAME`; names only)
    secrets_changed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    new_inputs: list[str] = field(default_factory=list)
    answered_inputs: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.restart)

    @property
    def to_deploy(self) -> set[str]:
        """Services whose containers must be (re)created."""
        return set(self.added) | set(self.changed) | set(self.restart)

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "empty": self.empty,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "restart": self.restart,
            "secrets_changed": self.secrets_changed,
            "held": self.held,
            "new_inputs": self.new_inputs,
            "answered_inputs": self.answered_inputs,
        }


def desired(
    compiled_manifest: M.Manifest, held: list[str], digests: dict[str, str], target: str
) -> Record:
    """The record a full apply would leave: held services left out, digests of what is sent."""
    services = {n: s for n, s in compiled_manifest.services.items() if n not in held}
    manifest = compiled_manifest.model_copy(update={"services": services})
    used = {m for s in services.values() for m in consumed(s)}
    return Record(
        compiled_manifest.project,
        target,
        manifest,
        {k: v for k, v in digests.items() if k in used},
    )


def consumed(svc: M.Service) -> dict[str, str]:
    """secret material name -> where the service gets it (`environment.X`, `files./p`)."""
    out: dict[str, str] = {}
    for key, value in svc.environment.items():
        if value.secret:
            out[value.secret] = f"environment.{key}"
    for f in svc.files:
        if f.secret:
            out[f.secret] = f"files.{f.path}"
    return out


def _sources(svc: M.Service) -> dict[str, list[str]]:
    """secret material name -> the declared secrets it is made from."""
    out: dict[str, list[str]] = {}
    for value in svc.environment.values():
        if value.secret:
            out[value.secret] = value.sources
    for f in svc.files:
        if f.secret:
            out[f.secret] = f.sources
    return out


def service_fields(old: M.Service, new: M.Service) -> list[str]:
    """The names of what differs between two definitions of one service, sorted."""
    a = old.model_dump(mode="json")
    b = new.model_dump(mode="json")
    found: set[str] = set()
    for key in sorted(set(a) | set(b)):
        if key in _IGNORED or a.get(key) == b.get(key):
            continue
        if key in _KEYED:
            left, right = a.get(key) or {}, b.get(key) or {}
            found |= {f"{key}.{k}" for k in set(left) | set(right) if left.get(k) != right.get(k)}
        elif key == "files":
            left = {f["path"]: f for f in a.get(key) or []}
            right = {f["path"]: f for f in b.get(key) or []}
            found |= {f"files.{p}" for p in set(left) | set(right) if left.get(p) != right.get(p)}
        else:
            found.add(_GROUPS.get(key, key))
    return sorted(found)


def compare(before: Record | None, after: Record, held: list[str]) -> ChangeSet:
    """The change set from `before` (None: nothing deployed) to `after`."""
    old = before.manifest.services if before else {}
    new = after.manifest.services
    old_digests = before.secrets if before else {}
    cs = ChangeSet(after.project)
    cs.held = sorted(held)
    cs.added = sorted(n for n in new if n not in old)
    # objects without a recorded service: made by an apply where the service then failed
    made = set(before.objects) if before else set()
    cs.removed = sorted(n for n in set(old) | made if n not in new and n not in held)
    changed_secrets: set[str] = set()
    for name in sorted(set(new) & set(old)):
        fields = service_fields(old[name], new[name])
        if fields:
            cs.changed[name] = fields
        reasons = []
        old_used = consumed(old[name])
        sources = _sources(new[name])
        for material, where in sorted(consumed(new[name]).items(), key=lambda kv: kv[1]):
            if material not in old_used or where in fields:
                continue  # a new delivery: already a changed field
            if old_digests.get(material) != after.secrets.get(material):
                which = ", ".join(sources.get(material) or ["?"])
                reasons.append(f"{where} ({which} changed)")
                changed_secrets |= set(sources.get(material) or [])
        if reasons:
            cs.restart[name] = reasons
    cs.secrets_changed = sorted(changed_secrets)
    old_inputs = before.manifest.inputs if before else {}
    new_inputs = after.manifest.inputs
    # inputs a setup step produces are not for `mora setup` (docs/micromanagers.md)
    cs.new_inputs = sorted(
        n for n, i in new_inputs.items() if n not in old_inputs and not i.producer
    )
    cs.answered_inputs = sorted(
        n
        for n, i in new_inputs.items()
        if i.answered and n in old_inputs and not old_inputs[n].answered
    )
    return cs


def render(cs: ChangeSet) -> str:
    """The change set for people: one line per service, a summary first."""
    counts = [
        (len(cs.added), "to add"),
        (len(cs.changed), "to change"),
        (len(cs.restart), "to restart"),
        (len(cs.removed), "to remove"),
    ]
    lines: list[str] = []
    if cs.empty:
        lines.append(f"{cs.project}: no changes to deploy: what is deployed matches the project")
    else:
        lines.append(f"{cs.project}: " + ", ".join(f"{n} {what}" for n, what in counts if n))
    for name in cs.added:
        lines.append(f"  + {name}")
    for name, fields in cs.changed.items():
        lines.append(f"  ~ {name}: {', '.join(fields)}")
    for name, reasons in cs.restart.items():
        lines.append(f"  ! {name} restarts: {'; '.join(reasons)}")
    for name in cs.removed:
        lines.append(f"  - {name} (its volumes are kept unless --prune-volumes)")
    if cs.held:
        # an input is answered by a person (`mora setup`) or produced by a setup step during
        # the apply: the change set does not tell which, so it names both
        whose = "its inputs are" if len(cs.held) == 1 else "their inputs are"
        how = "answered or produced by a setup step"
        lines.append(f"held until {whose} {how}: {', '.join(cs.held)}")
    if cs.new_inputs:
        lines.append(f"new inputs: {', '.join(cs.new_inputs)} (run `mora setup`)")
    if cs.answered_inputs:
        lines.append(f"answered since the last apply: {', '.join(cs.answered_inputs)}")
    return "\n".join(lines) + "\n"
