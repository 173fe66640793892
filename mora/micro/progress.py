"""Where setup steps stand, read from what the executor recorded in the site's store.

`mora plan` shows it so a person sees where a previous apply stopped: per step `done` (with
when it was recorded), `failed` (with when), `changed` (it ran, but its definition changed
since, so it runs again) or `not yet`. Only times, step names and the values of public outputs
(declared not secret, checked so when they were stored) are shown, never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mora import model as M
from mora.micro.executor import FAILED, STATE, Store, digest


@dataclass(frozen=True)
class StepState:
    service: str
    step: str
    status: str  # done | failed | changed | not yet
    when: str = ""  # UTC, as the store recorded it
    public: dict[str, str] = field(default_factory=dict)  # its public outputs (no secrets)

    def to_json(self) -> dict[str, object]:
        return {
            "service": self.service,
            "step": self.step,
            "status": self.status,
            "when": self.when,
            **({"public": self.public} if self.public else {}),
        }


def step_states(manifest: M.Manifest, store: Store) -> list[StepState]:
    """Every step of every service, in service then step order."""
    states: list[StepState] = []
    for name in sorted(manifest.services):
        for step in manifest.services[name].setup:
            marker = f"{STATE}{name}.{step.name}"
            failed = store.get(marker + FAILED)
            done = store.get(marker)
            if failed is not None:
                when = getattr(failed, "parts", {}).get("value", "")
                states.append(StepState(name, step.name, "failed", when))
            elif done is not None:
                ran = getattr(done, "parts", {}).get("value", "")
                when = getattr(done, "rotated", None) or getattr(done, "created", "")
                status = "done" if ran.split("|")[0] == digest(step) else "changed"
                public = {}
                for out, o in sorted(step.outputs.items()):
                    kept = store.get(f"{marker}.{out}") if o.public else None
                    if kept is not None:
                        public[out] = getattr(kept, "parts", {}).get("value", "")
                states.append(StepState(name, step.name, status, when, public))
            else:
                states.append(StepState(name, step.name, "not yet"))
    return states


def has_history(states: list[StepState]) -> bool:
    """A previous run recorded something (otherwise the plan says nothing about it)."""
    return any(s.status != "not yet" for s in states)


def render_states(states: list[StepState]) -> str:
    """The steps as the plan's last section, one line each; the failed one is pointed out."""
    width = max(len(f"{s.service}.{s.step}") for s in states)
    lines = ["setup steps so far (recorded in the site store):"]
    for s in states:
        where = f"{s.service}.{s.step}".ljust(width)
        text = {
            "done": f"done {s.when}",
            "failed": f"failed {s.when}  <- the last apply stopped here",
            "changed": f"changed since it ran {s.when}; runs again",
            "not yet": "not yet",
        }[s.status]
        shown = "  ".join(f"{k}={v}" for k, v in s.public.items())
        lines.append(f"  {where}  {text}{'  ' + shown if shown else ''}".rstrip())
    return "\n".join(lines) + "\n"
