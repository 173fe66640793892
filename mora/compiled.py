"""What the backends, the plan and the apply engine receive: the resolved model plus the secret
material. It sits beside `mora.model` (and imports only it), so nothing below the evaluator has to
import the evaluator to name it."""

from __future__ import annotations

from mora import model as M
from mora.record import Record, field


class Compiled(Record):
    """The manifest plus what the secret-bearing backends need; `material` never leaves memory
    except into a Kubernetes Secret / podman secret file."""

    manifest: M.Manifest
    material: dict[str, str] = field(default_factory=dict)
    # What the backends of this one compile share, by name (the quadlet and podman backends'
    # plan: mora.backends._podman_common.shared_plan): it lives and dies with this compile's
    # model, never in a module-level memo (a plan refers back to this object: a cycle, freed
    # with the compile; the second backend takes it out). Not part of the value (==, repr).
    shared: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        return (
            f"Compiled(project={self.manifest.project!r}, material=<{len(self.material)} hidden>)"
        )
