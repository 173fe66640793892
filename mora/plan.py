"""The deployment plan: ordered stages from dependencies and inputs.

Reads only the resolved manifest. Services and unanswered inputs form one graph: a service
waits for its `depends_on` and for the inputs it uses; an input waits for the services named in
its `after` (a person can only create a Jellyfin API key once Jellyfin runs). The graph is cut
into layers; each layer becomes a "deploy" stage (services) and/or an "input" stage (questions
for a person). Answered inputs are already done and wait for nothing, so adding a service that
needs a new input later shows just the new question and what depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mora import model as M
from mora.diagnostics import printable


@dataclass(frozen=True)
class Question:
    name: str
    service: str | None
    after: list[str]
    prompt: str | None
    description: str | None
    type: str


@dataclass
class Stage:
    index: int
    kind: str  # "deploy" | "input"
    services: list[str] = field(default_factory=list)
    inputs: list[Question] = field(default_factory=list)


@dataclass
class Plan:
    stages: list[Stage]
    answered: list[str]  # inputs already in the site store
    held: list[str]  # services that wait for an unanswered input: not deployed yet

    @property
    def pending_inputs(self) -> list[Question]:
        return [q for s in self.stages for q in s.inputs]

    def to_json(self) -> dict[str, object]:
        return {
            "stages": [
                {
                    "index": s.index,
                    "kind": s.kind,
                    **({"services": s.services} if s.kind == "deploy" else {}),
                    **(
                        {
                            "inputs": [
                                {
                                    "name": q.name,
                                    "service": q.service,
                                    "after": q.after,
                                    "prompt": q.prompt,
                                    "type": q.type,
                                }
                                for q in s.inputs
                            ]
                        }
                        if s.kind == "input"
                        else {}
                    ),
                }
                for s in self.stages
            ],
            "answered_inputs": self.answered,
            "held_services": self.held,
        }


def build_plan(manifest: M.Manifest) -> Plan:
    """Layer services and unanswered inputs into stages (deterministic: names sorted)."""
    pending = {n: i for n, i in manifest.inputs.items() if not i.answered}
    waits: dict[str, set[str]] = {}  # node -> nodes it waits for; nodes: "svc:x", "in:y"
    for name, svc in manifest.services.items():
        deps = {f"svc:{d}" for d in svc.depends_on if d in manifest.services}
        uses = set(svc.pending_inputs) | {i for i in svc.inputs if i in pending}
        deps |= {f"in:{i}" for i in uses if i in pending}
        waits[f"svc:{name}"] = deps
    for name, inp in pending.items():
        waits[f"in:{name}"] = {f"svc:{a}" for a in inp.after if a in manifest.services}
    held = sorted(
        name
        for name, svc in manifest.services.items()
        if any(i in pending for i in (*svc.pending_inputs, *svc.inputs))
    )
    done: set[str] = set()
    stages: list[Stage] = []
    remaining = set(waits)
    while remaining:
        ready = sorted(n for n in remaining if waits[n] <= done)
        if not ready:  # a cycle: the checker reports these; place the rest last, in order
            ready = sorted(remaining)
        services = [n[4:] for n in ready if n.startswith("svc:")]
        questions = [n[3:] for n in ready if n.startswith("in:")]
        if services:
            stages.append(Stage(len(stages) + 1, "deploy", services=services))
        if questions:
            stages.append(
                Stage(
                    len(stages) + 1,
                    "input",
                    inputs=[_question(manifest.inputs[q]) for q in questions],
                )
            )
        done |= set(ready)
        remaining -= set(ready)
    answered = sorted(n for n, i in manifest.inputs.items() if i.answered)
    return Plan(stages, answered, held)


def _question(inp: M.Input) -> Question:
    return Question(inp.name, inp.service, list(inp.after), inp.prompt, inp.description, inp.type)


def render_plan(plan: Plan) -> str:
    """The plan for people: numbered stages, what to deploy, what to ask and why.

    Prompts may carry site values (`${param.x}`): control characters are shown escaped."""
    lines: list[str] = []
    for stage in plan.stages:
        if stage.kind == "deploy":
            held = [s for s in stage.services if s in plan.held]
            names = ", ".join(stage.services)
            lines.append(f"{stage.index}. deploy {names}")
            if held:
                whose = "its inputs are" if len(held) == 1 else "their inputs are"
                lines.append(f"   held until {whose} answered: {', '.join(held)}")
        else:
            lines.append(f"{stage.index}. ask a person:")
            for q in stage.inputs:
                who = f" for {q.service}" if q.service else ""
                after = f" (once {', '.join(q.after)} runs)" if q.after else ""
                lines.append(f"   - {q.name}{who}{after}")
                if q.prompt:
                    lines.append(f"     {printable(q.prompt)}")
    if plan.answered:
        lines.append(f"answered already: {', '.join(plan.answered)}")
    if not plan.pending_inputs:
        lines.append("nothing to ask: every input is answered")
    else:
        lines.append("run `mora setup` to answer the questions in order")
    return "\n".join(lines) + "\n"
