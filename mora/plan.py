"""The deployment plan: ordered stages from dependencies and inputs.

Reads only the resolved manifest. Services and unanswered inputs form one graph: a service
waits for its `depends_on` and for the inputs it uses; an input waits for the services named in
its `after` (a person can only create a Jellyfin API key once Jellyfin runs). The graph is cut
into layers; each layer becomes a "deploy" stage (services), an "input" stage (questions
for a person) and/or a "produce" stage (inputs a setup step fills: they wait for the service
whose step produces them, and nobody is asked). Answered inputs are already done and wait for nothing, so adding a service that
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
    producer: str | None = None  # SERVICE.STEP.OUTPUT when a setup step fills it


@dataclass
class Stage:
    index: int
    kind: str  # "deploy" | "input" | "produce"
    services: list[str] = field(default_factory=list)
    inputs: list[Question] = field(default_factory=list)


@dataclass
class Plan:
    stages: list[Stage]
    answered: list[str]  # inputs already in the site store
    held: list[str]  # services that wait for an unanswered input: not deployed yet
    setup: dict[str, list[str]] = field(default_factory=dict)  # service -> its steps, in order
    # service -> hosts outside the project its steps declare (`outside_hosts`), sorted
    outside: dict[str, list[str]] = field(default_factory=dict)
    # service -> its name as the source writes it, for one from a module (`media.watch`)
    shown: dict[str, str] = field(default_factory=dict)

    @property
    def pending_inputs(self) -> list[Question]:
        """The questions for a person (produced inputs are not asked)."""
        return [q for s in self.stages if s.kind == "input" for q in s.inputs]

    @property
    def produced_inputs(self) -> list[Question]:
        return [q for s in self.stages if s.kind == "produce" for q in s.inputs]

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
                                    **({"producer": q.producer} if q.producer else {}),
                                }
                                for q in s.inputs
                            ]
                        }
                        if s.kind in ("input", "produce")
                        else {}
                    ),
                }
                for s in self.stages
            ],
            "answered_inputs": self.answered,
            "held_services": self.held,
            **({"setup_steps": self.setup} if self.setup else {}),
            **({"outside_hosts": self.outside} if self.outside else {}),
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
        if inp.producer and inp.producer.split(".")[0] in manifest.services:
            waits[f"in:{name}"].add(f"svc:{inp.producer.split('.')[0]}")
    for name, svc in manifest.services.items():  # a step reading another service's outputs
        for step in svc.setup:
            waits[f"svc:{name}"] |= {f"svc:{n}" for n in step.needs if n in manifest.services}
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
        asked = [q for q in questions if not manifest.inputs[q].producer]
        produced = [q for q in questions if manifest.inputs[q].producer]
        for kind, names in (("produce", produced), ("input", asked)):
            if names:
                stages.append(
                    Stage(
                        len(stages) + 1,
                        kind,
                        inputs=[_question(manifest.inputs[q]) for q in names],
                    )
                )
        done |= set(ready)
        remaining -= set(ready)
    answered = sorted(n for n, i in manifest.inputs.items() if i.answered)
    setup = {n: [st.name for st in s.setup] for n, s in manifest.services.items() if s.setup}
    outside = {
        n: sorted({h for st in s.setup for h in st.outside_hosts})
        for n, s in manifest.services.items()
        if any(st.outside_hosts for st in s.setup)
    }
    shown = {n: s.module_name for n, s in manifest.services.items() if s.module_name}
    return Plan(stages, answered, held, setup, outside, shown)


def _question(inp: M.Input) -> Question:
    return Question(
        inp.name, inp.service, list(inp.after), inp.prompt, inp.description, inp.type, inp.producer
    )


def render_plan(plan: Plan) -> str:
    """The plan for people: numbered stages, what to deploy, what to ask and why.

    Prompts may carry site values (`${param.x}`): control characters are shown escaped."""
    lines: list[str] = []
    for stage in plan.stages:
        if stage.kind == "deploy":
            held = [s for s in stage.services if s in plan.held]
            names = ", ".join(plan.shown.get(s, s) for s in stage.services)
            lines.append(f"{stage.index}. deploy {names}")
            if held:
                # a service that waits only for step outputs is not waiting for a person
                asked = {q.service for q in plan.pending_inputs}
                by_steps = [s for s in held if s not in asked]
                by_person = [s for s in held if s in asked]
                for group, how in ((by_person, "answered"), (by_steps, "produced by the steps")):
                    if group:
                        whose = "its inputs are" if len(group) == 1 else "their inputs are"
                        lines.append(f"   held until {whose} {how}: {', '.join(group)}")
            for name in stage.services:
                if plan.setup.get(name):
                    shown = plan.shown.get(name, name)
                    lines.append(f"   then set up {shown}: {', '.join(plan.setup[name])}")
                if plan.outside.get(name):
                    hosts = ", ".join(plan.outside[name])
                    lines.append(f"   its steps reach outside the project: {hosts}")
        elif stage.kind == "produce":
            lines.append(f"{stage.index}. filled by setup steps (nobody is asked):")
            for q in stage.inputs:
                who = f" for {q.service}" if q.service else ""
                lines.append(f"   - {q.name}{who} <- {q.producer}")
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
        produced = " or produced by a step" if plan.produced_inputs else ""
        lines.append(f"nothing to ask: every input is answered{produced}")
    else:
        lines.append("run `mora setup` to answer the questions in order")
    return "\n".join(lines) + "\n"
