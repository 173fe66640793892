"""Picking the target `mora apply --target KIND` names, with what it needs from the site."""

from __future__ import annotations

from pathlib import Path

from mora.deploy.targets.base import Target, TargetError
from mora.diagnostics import Diagnostics

KINDS = ("podman", "podman-ssh", "quadlet", "kubernetes")


def ssh_access(site_file: Path | None) -> dict[str, object]:
    """host name -> SshAccess of the site's inventory (the site file was checked by compile)."""
    from mora.site import load_site

    if site_file is None:
        return {}
    return dict(load_site(site_file, None, [], Diagnostics()).ssh)


def make_target(
    kind: str,
    compiled: object,
    diags: Diagnostics,
    site_file: Path | None,
    *,
    before: object | None = None,
    context: str | None = None,
    kubeconfig: Path | None = None,
    force_conflicts: bool = False,
) -> Target:
    """The target of that kind; TargetError when the site or the kubeconfig cannot support it.

    `before` is the record of the last apply (the Kubernetes target prunes from it)."""
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

        access = ssh_access(site_file)
        if not access:
            raise TargetError(
                f"--target {kind} deploys to the site's hosts over SSH, but the site file has no"
                " host with an `address` (add `hosts:` with `- name: box1`, `address: ...`)"
            )
        hosts = SshHosts(access)  # type: ignore[arg-type]
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
