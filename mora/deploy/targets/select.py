"""Picking the target `mora apply --target KIND` names, with what it needs from the site."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mora.deploy.targets.base import Target, TargetError
from mora.diagnostics import Diagnostics

if TYPE_CHECKING:
    from mora.deploy.ssh import SshAccess

KINDS = ("podman", "podman-ssh", "quadlet", "kubernetes")


def make_target(
    kind: str,
    compiled: object,
    diags: Diagnostics,
    ssh_access: Mapping[str, SshAccess] | None = None,
    *,
    before: object | None = None,
    context: str | None = None,
    kubeconfig: Path | None = None,
    force_conflicts: bool = False,
) -> Target:
    """The target of that kind; TargetError when the site or the kubeconfig cannot support it.

    `ssh_access` is the site inventory's access per host (`mora.site.Site.ssh`, read by the
    caller: deploy does not read the site file); `before` is the record of the last apply (the
    Kubernetes target prunes from it)."""
    if kind == "kubernetes":
        from mora.deploy.kubeclient import KubeClient, KubeError, load_kubeconfig
        from mora.deploy.targets.kubernetes import KubernetesTarget

        try:
            client = KubeClient(load_kubeconfig(kubeconfig, context))
        except (KubeError, OSError, ValueError) as err:
            raise TargetError(f"kubeconfig: {err}") from None
        # another target's record says nothing about what is in the cluster
        objects = (
            getattr(before, "objects", None) if getattr(before, "target", "") == kind else None
        )
        return KubernetesTarget(
            compiled, diags, client, before=objects, force_conflicts=force_conflicts
        )
    if kind == "podman":
        from mora.deploy.targets.podman import PodmanTarget

        return PodmanTarget(compiled, diags)
    if kind in ("podman-ssh", "quadlet"):
        from mora.deploy.ssh import SshHosts

        access = dict(ssh_access or {})
        if not access:
            raise TargetError(
                f"--target {kind} deploys to the site's hosts over SSH, but the site file has no"
                " host with an `address` (add `hosts:` with `- name: box1`, `address: ...`)"
            )
        hosts = SshHosts(access)
        try:
            if kind == "quadlet":
                from mora.deploy.targets.quadlet import QuadletTarget

                return QuadletTarget(compiled, diags, hosts)
            from mora.deploy.targets.podman import SshPodmanTarget

            return SshPodmanTarget(compiled, diags, hosts)
        except TargetError:
            hosts.close()
            raise
    raise TargetError(f"unknown target `{kind}`")
