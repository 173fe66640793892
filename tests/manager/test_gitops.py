"""GitOps: `mora compile --gitops` writes nothing secret (every value of the store is looked
for in every file), and `mora materialise` sends exactly the Secrets, by server-side apply, to
the kube client's in-process HTTPS stand-in (tests/deploy/test_kube_client.py)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from mora.secrets.store import SecretStore
from tests.cli import run_mora
from tests.deploy.test_kube_client import TOKEN, kubeconfig, server  # noqa: F401 (fixture)

KUBE_PROJECT = Path(__file__).resolve().parents[1] / "deploy" / "kube_project"


@pytest.fixture
def lab(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    project = tmp_path / "shop"
    shutil.copytree(KUBE_PROJECT, project)
    site = tmp_path / "site" / "site.yaml"
    site.parent.mkdir()
    site.write_text("domain: example.org\nmanager: {}\n")
    env = dict(os.environ, MORA_SECRETS_KEY=base64.b64encode(os.urandom(32)).decode())
    return project, site, env


def _values(site: Path, env: dict[str, str]) -> list[str]:
    """Every value in the store, as text and as the base64 a Secret carries."""
    os.environ["MORA_SECRETS_KEY"], old = (
        env["MORA_SECRETS_KEY"],
        os.environ.get("MORA_SECRETS_KEY"),
    )
    try:
        store = SecretStore.open(site.parent / "site.secrets", namespace="shop")
        raw = [v for n in store.names() for v in store.get(n).parts.values()]  # type: ignore[union-attr]
    finally:
        if old is None:
            del os.environ["MORA_SECRETS_KEY"]
        else:
            os.environ["MORA_SECRETS_KEY"] = old
    assert raw and all(len(v) >= 8 for v in raw)
    return raw + [base64.b64encode(v.encode()).decode() for v in raw]


def _containing(out: Path, values: list[str]) -> list[str]:
    return sorted(
        str(p.relative_to(out))
        for p in out.rglob("*")
        if p.is_file() and any(v.encode() in p.read_bytes() for v in values)
    )


def _compile(project: Path, site: Path, out: Path, env: dict[str, str], *extra: str) -> None:
    proc = run_mora(
        ["compile", str(project), "--site", str(site), "--out", str(out), *extra], env=env
    )
    assert proc.returncode == 0, proc.stderr


def test_gitops_output_holds_no_secret_value(lab: tuple[Path, Path, dict[str, str]]) -> None:
    project, site, env = lab
    plain = project.parent / "plain"
    _compile(project, site, plain, env)
    values = _values(site, env)
    # The check can fail: the ordinary output carries the values (in the Secret).
    assert "kubernetes/api/secret.yaml" in _containing(plain, values)
    gitops = project.parent / "gitops"
    _compile(project, site, gitops, env, "--gitops")
    assert _containing(gitops, values) == []
    assert not list(gitops.rglob("secret.yaml"))
    assert not list(gitops.rglob("secrets/*"))  # the podman secret files neither
    # The encrypted store is there to commit, byte for byte.
    copy = gitops / "gitops" / "site.secrets"
    assert copy.read_bytes() == (site.parent / "site.secrets").read_bytes()
    assert json.loads(copy.read_text())["cipher"] == "AES-256-GCM"
    # The consumer still references its Secret by name (created in the cluster later).
    deployment = (gitops / "kubernetes" / "api" / "deployment.yaml").read_text()
    assert "name: api-secrets" in deployment and "secretKeyRef" in deployment
    # The manager's own objects are there too, and no Secret for its key.
    assert (gitops / "kubernetes" / "mora-manager" / "deployment.yaml").is_file()


def test_materialise_applies_exactly_the_secrets(
    lab: tuple[Path, Path, dict[str, str]],
    server: Any,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    project, site, env = lab
    api, port, pems = server
    _compile(project, site, project.parent / "gitops", env, "--gitops")
    values = _values(site, env)
    kc = kubeconfig(tmp_path / "kc", port, pems["ca"], {"token": TOKEN})
    args = ["materialise", str(project), "--site", str(site), "--kubeconfig", str(kc)]
    proc = run_mora(args, env=env)
    assert proc.returncode == 0, proc.stderr
    assert [(m, p, t) for m, p, t, _a in api.seen] == [
        (
            "PATCH",
            "/api/v1/namespaces/shop/secrets/api-secrets?fieldManager=mora",
            "application/apply-patch+yaml",
        )
    ]
    body = api.objects["/api/v1/namespaces/shop/secrets/api-secrets"]
    assert body["kind"] == "Secret" and body["metadata"]["labels"]["mora.dev/service"] == "api"
    (stored,) = body["data"].values()
    assert base64.b64decode(stored).decode() in values  # the store's value reached the cluster
    assert not any(v in proc.stdout + proc.stderr for v in values)
    assert "1 Secret(s) applied" in proc.stderr
    # Again: the same single request (server-side apply is idempotent), nothing else.
    again = run_mora(args, env=env)
    assert again.returncode == 0 and len(api.seen) == 2 and api.seen[1] == api.seen[0]


def test_materialise_dry_run_sends_nothing(lab: tuple[Path, Path, dict[str, str]]) -> None:
    project, site, env = lab
    proc = run_mora(["materialise", str(project), "--site", str(site), "--dry-run"], env=env)
    assert proc.returncode == 0, proc.stderr
    assert "would apply v1:Secret:shop:api-secrets" in proc.stderr
    assert "1 Secret(s) to apply" in proc.stderr
