"""GitOps (seed 003): Git holds everything but the secret values; the manager puts those in.

`mora compile --gitops` writes the Kubernetes output without its Secrets (each consumer still
references its Secret by name) and a copy of the site's encrypted store (`gitops/site.secrets`):
both are safe to commit, and Argo CD or Flux apply the manifests from Git. `mora materialise`
(run by the manager in the cluster, or by hand) compiles the project against the site, takes
only the Secret objects and creates or updates them by server-side apply (fieldManager `mora`)
through the kubernetes target's client. A workload whose Secret is not there yet waits in
`CreateContainerConfigError` and starts by itself once it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mora.deploy import kube
from mora.deploy.kubeclient import KubeClient, KubeError
from mora.diagnostics import Diagnostics, printable

STORE_COPY = "gitops/site.secrets"


class GitopsError(Exception):
    """A Secret the API server refused; the message never carries a value."""


@dataclass(frozen=True)
class Materialised:
    applied: list[str]  # Secret refs, `Secret/NS/NAME`


def secret_requests(compiled: object, force: bool, diags: Diagnostics) -> list[kube.Request]:
    """Server-side apply of each Secret of the project, and nothing else."""
    manifest = compiled.manifest  # type: ignore[attr-defined]
    plan = kube.build(compiled, manifest.domain or "", diags)
    return [
        kube.apply_request(body, force)
        for objects in plan.services.values()
        for body in objects
        if body["kind"] == "Secret"
    ]


def materialise(
    compiled: object,
    client: KubeClient,
    say: Callable[[str], None],
    *,
    force: bool = False,
    dry_run: bool = False,
) -> Materialised:
    """Create or update the project's Secrets in the cluster from the store's values."""
    diags = Diagnostics()
    requests = secret_requests(compiled, force, diags)
    if diags.has_errors:
        raise GitopsError("; ".join(printable(d.message) for d in diags if d.is_error))
    material = compiled.material  # type: ignore[attr-defined]
    secrets = sorted((v for v in material.values() if len(v) >= 4), key=len, reverse=True)
    applied = []
    for req in requests:
        ref = kube.Ref.of(req.body)  # type: ignore[arg-type]
        say(f"{'would apply' if dry_run else 'applying'} {ref}")
        if not dry_run:
            try:
                client.send(req)
            except KubeError as err:
                text = str(err)
                for value in secrets:
                    text = text.replace(value, "[secret]")
                hint = (
                    " (another field manager owns it: --force-conflicts)"
                    if err.status == 409
                    else ""
                )
                raise GitopsError(f"{ref}: {printable(text)}{hint}") from None
        applied.append(str(ref))
    return Materialised(applied)


def copy_store(store: Path, out: Path) -> list[Path]:
    """`out/gitops/site.secrets`: the encrypted store as it is (no key, no value in clear)."""
    from mora.output import finish_target, session, sync, write_file

    with session():
        written = [write_file(out, STORE_COPY, store.read_text(encoding="utf-8"), 0o600)]
        finish_target(out, "gitops", written)
    sync()
    return written


def store_path(program: object, site_file: Path | None, secrets_path: Path | None) -> Path:
    """The store `mora compile` opened for this project and site (the one to commit)."""
    from mora.secrets.commands import default_store_path

    return Path(
        default_store_path(
            project_dir=program.root,  # type: ignore[attr-defined]
            project_name=program.name,  # type: ignore[attr-defined]
            site_file=site_file,
            explicit=secrets_path,
            cwd=Path.cwd(),
        )
    )
