"""`placement` on Kubernetes: the tags a service asks for become a nodeSelector.

On the podman targets a tag names a site host; on a cluster it names a node label the person puts
on the nodes that qualify (`kubectl label node n1 mora.dev/gpu=true`). The Deployment and every
Job of the service carry the same nodeSelector, so a `before` job that writes a `bind()` folder
(a hostPath: one node's directory) runs on a node the service's pod may run on. Without
`placement` such a job only prefers the pod's node (there is no pod on a first deploy), which on
a cluster of several nodes may be another node's folder: said once per service (W0623).
"""

from __future__ import annotations

import re

from mora.diagnostics import Diagnostics
from mora.model import Service

NODE_LABEL = "mora.dev/"  # the prefix of the node label a placement tag stands for
E_PLACEMENT_TAG = "E0611"  # a placement tag that cannot be a node label's name
W_BEFORE_JOB_NODE = "W0623"  # a `before` job writes a hostPath, and nothing pins its node

_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"  # compiled on first use


def node_selector(svc: Service, diags: Diagnostics) -> dict[str, str]:
    """`mora.dev/<tag>: "true"` per tag of the service's placement (empty without one)."""
    selector = {}
    for tag in sorted(set(svc.placement)):
        if re.fullmatch(_LABEL_NAME, tag) is None:
            diags.error(
                E_PLACEMENT_TAG,
                f"placement tag `{tag}` of service `{svc.name}` cannot be a Kubernetes node "
                f"label (`{NODE_LABEL}{tag}`)",
                None,
                help="use at most 63 letters, digits, `-`, `_` or `.`, starting and ending with "
                "a letter or digit",
            )
            continue
        selector[NODE_LABEL + tag] = "true"
    return selector


def warn_unpinned_before_jobs(svc: Service, diags: Diagnostics) -> None:
    """Once per service: its `before` jobs bind host folders and nothing pins their node."""
    if svc.placement or not any(m.kind == "bind" for m in svc.volumes):
        return
    before = [job.name for job in svc.jobs if job.run == "before"]
    if not before:
        return
    names = ", ".join(f"`{svc.name}.{name}`" for name in before)
    diags.warning(
        W_BEFORE_JOB_NODE,
        f'on a cluster of several nodes, {names} (run = "before") may run on another node '
        f"than `{svc.name}`'s pod and write another node's host folder (bind)",
        None,
        help=f'give `{svc.name}` a `placement` (e.g. `placement = ["storage"]`, and label '
        f"that node `{NODE_LABEL}storage=true`): its pods and jobs then get the same "
        "nodeSelector; on a one-node cluster this is harmless",
    )
